# fuzz.mk — the libFuzzer layer; included by the top Makefile.
#
#   make fuzz          build every fuzz/fuzz_*.c into build/fuzz/ (clang, libFuzzer,
#                      ASan, UBSan), linked with every .c of src/ and its folders
#                      except main.c; every folder is on the include path, so a
#                      target includes "fetchmailrc.h" or "import.h" by name
#   make fuzz-smoke    build, then run each target over its seeds plus a short
#                      random run (fuzz/smoke)
#
# Run one target longer by hand, e.g.
#   mkdir -p build/fuzz/corpus/dotstream
#   build/fuzz/fuzz_dotstream -max_total_time=300 build/fuzz/corpus/dotstream fuzz/corpus/dotstream
# (the first corpus directory receives new inputs; fuzz/corpus/ holds the seeds;
# fuzz_state fsyncs under $TMPDIR: TMPDIR=/dev/shm makes it much faster).
# A target whose input is a language has a dictionary, fuzz/dict/NAME.dict:
#   build/fuzz/fuzz_fetchmailrc -dict=fuzz/dict/fetchmailrc.dict -max_total_time=300 \
#       build/fuzz/corpus/fetchmailrc fuzz/corpus/fetchmailrc
# Each fuzz/fuzz_NAME.c is built and smoke-run without being listed here; its
# seeds go in fuzz/corpus/NAME/, reproducers of fixed bugs in fuzz/crashes/NAME/.
#
# (Before the top Makefile included it: make -f Makefile -f fuzz/fuzz.mk fuzz;
# a second inclusion is ignored.)

ifndef FUZZ_MK_INCLUDED
FUZZ_MK_INCLUDED := 1

# Keep the top Makefile's default goal whatever the place of the include.
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

# Defaults when the top Makefile does not set these (it does).
PKG_CONFIG     ?= pkg-config
BUILD          ?= build
SRC_DIRS       ?= src src/deliver src/migrate src/oauth2
SRC_INCLUDES   ?= $(SRC_DIRS:%=-I%)
SRCS           ?= $(sort $(wildcard $(SRC_DIRS:%=%/*.c)))
LIB_SRCS       ?= $(filter-out src/main.c,$(SRCS))
WARN           ?= -Wall -Wextra -Wpedantic -Wshadow -Wconversion
OPENSSL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
OPENSSL_LIBS   ?= $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
DEP_CFLAGS     ?= $(OPENSSL_CFLAGS) $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
DEP_LIBS       ?= $(OPENSSL_LIBS) $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)

FUZZ_CC     ?= clang
FUZZ_CFLAGS ?= -O1 -g
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(DEP_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_SAN) \
                  $(SRC_INCLUDES)

FUZZ_DIR      = $(BUILD)/fuzz
FUZZ_OBJDIR   = $(FUZZ_DIR)/obj
FUZZ_SRCS     = $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS     = $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJS = $(LIB_SRCS:src/%.c=$(FUZZ_OBJDIR)/%.o)
FUZZ_HARNESS  = $(FUZZ_OBJDIR)/harness.o

.PHONY: fuzz fuzz-smoke

ifeq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
# No compiler: say how to get it; the smoke run reports it as a failure.
fuzz:
	@echo "fuzz: $(FUZZ_CC) not found; install it with: sudo apt-get install -y clang" >&2
	@exit 1

fuzz-smoke:
	@FUZZ_CC=$(FUZZ_CC) FUZZ_BIN_DIR=$(FUZZ_DIR) sh fuzz/smoke
else
fuzz: $(FUZZ_BINS)

fuzz-smoke: fuzz
	@FUZZ_CC=$(FUZZ_CC) FUZZ_BIN_DIR=$(FUZZ_DIR) sh fuzz/smoke
endif

# The code under test: instrumented for coverage, not linked with libFuzzer's main;
# objects mirror src/ (src/migrate/import.c -> $(FUZZ_OBJDIR)/migrate/import.o).
$(FUZZ_OBJDIR)/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_OBJDIR)/harness.o: fuzz/harness.c | $(FUZZ_OBJDIR)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_OBJDIR)/fuzz_%.o: fuzz/fuzz_%.c | $(FUZZ_OBJDIR)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -fsanitize=fuzzer -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: $(FUZZ_OBJDIR)/fuzz_%.o $(FUZZ_HARNESS) $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(DEP_LIBS)

$(FUZZ_OBJDIR):
	mkdir -p $@

# Objects made by chained pattern rules: keep them between builds.
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_HARNESS) $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_OBJDIR)/%.o)

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_HARNESS:.o=.d) $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_OBJDIR)/%.d)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)

endif # FUZZ_MK_INCLUDED
