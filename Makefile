# popfetch — build, test and install.
#
#   make            build ./popfetch
#   make check      install test dependencies if needed, run every test
#   make demo       fetch sample mail from a throwaway Dovecot into demo/Maildir
#   make bench      popfetch against mpop, fetchmail, getmail6 (bench/README.md)
#   make lint       cppcheck and clang-tidy; tests/lib/lint-bats (bats lines
#                   that cannot fail) and its self-test
#   make fuzz       libFuzzer targets (fuzz/fuzz.mk); make fuzz-smoke runs them
#   make install    PREFIX=/usr/local DESTDIR=
#   make format     clang-format the tree

CC         ?= cc
PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man

OPENSSL_CFLAGS := $(shell $(PKG_CONFIG) --cflags openssl 2>/dev/null)
OPENSSL_LIBS   := $(shell $(PKG_CONFIG) --libs openssl 2>/dev/null || echo -lssl -lcrypto)
# JSON (the one library for every JSON popfetch reads or writes): jansson
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JANSSON_LIBS   := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
DEP_CFLAGS      = $(OPENSSL_CFLAGS) $(JANSSON_CFLAGS)
DEP_LIBS        = $(OPENSSL_LIBS) $(JANSSON_LIBS)

CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wpedantic -Wshadow -Wconversion
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(SRC_INCLUDES) $(DEP_CFLAGS) $(CFLAGS) \
             $(EXTRA_CFLAGS)
LDLIBS    = $(DEP_LIBS)

# make check SANITIZE=1: everything built with AddressSanitizer and
# UndefinedBehaviorSanitizer (objects in build/asan), then the whole suite.
ifeq ($(SANITIZE),1)
EXTRA_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS      += -fsanitize=address,undefined
BUILD   ?= build/asan
MODE     = asan
else
MODE     = plain
endif

# src/ and the folders in it that show the architecture (one level deep). Every
# folder is on the include path, so `#include "foo.h"` works from anywhere;
# objects mirror the tree: src/migrate/import.c -> $(BUILD)/migrate/import.o.
SRC_DIRS = src src/deliver src/migrate src/oauth2
SRC_INCLUDES = $(SRC_DIRS:%=-I%)
SRC_UNLISTED = $(filter-out $(SRC_DIRS),$(sort $(patsubst %/,%,$(dir $(wildcard src/*/*.[ch])))))
ifneq ($(SRC_UNLISTED),)
$(error $(SRC_UNLISTED): a folder of src/ not in SRC_DIRS (Makefile); add it there)
endif

BUILD   ?= build
SRCS     = $(sort $(wildcard $(SRC_DIRS:%=%/*.c)))
LIB_SRCS = $(filter-out src/main.c,$(SRCS))
OBJS     = $(SRCS:src/%.c=$(BUILD)/%.o)
LIB_OBJS = $(LIB_SRCS:src/%.c=$(BUILD)/%.o)
FAULT_OBJS = $(SRCS:src/%.c=$(BUILD)/faults/%.o)
UNIT_SRCS = $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%.o)

.PHONY: all check unit bats deps demo install clean format lint bench

all: popfetch

# Relink when switching between plain and sanitized builds.
build/.mode: FORCE
	@mkdir -p build
	@echo $(MODE) | cmp -s - $@ || echo $(MODE) >$@

FORCE:

popfetch: $(OBJS) build/.mode
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The fault-injection build: crash points armed by POPFETCH_CRASH_AT (tests only).
$(BUILD)/popfetch-faults: $(FAULT_OBJS) build/.mode
	$(CC) $(LDFLAGS) -o $@ $(FAULT_OBJS) $(LDLIBS)

$(BUILD)/faults/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -DPOPFETCH_FAULTS -MMD -MP -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/runner: $(UNIT_OBJS) $(LIB_OBJS) build/.mode
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB_OBJS) $(LDLIBS)

deps:
	@tests/lib/ensure-deps procmail tmux valgrind

unit: tests/unit/runner
	tests/unit/runner

bats: popfetch
	bats tests

check: deps popfetch tests/unit/runner $(BUILD)/popfetch-faults
	@SANITIZE=$(SANITIZE) FAULTS_BIN=$(BUILD)/popfetch-faults tests/run-all

demo: deps popfetch
	@tests/lib/demo

# Side by side with mpop, fetchmail and getmail6 on a private Dovecot
# (bench/README.md); BENCH_ARGS=--quick for a short sanity run.
bench: deps popfetch
	bench/run $(BENCH_ARGS)

install: popfetch
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 popfetch $(DESTDIR)$(BINDIR)/popfetch
	install -m 644 man/popfetch.1 $(DESTDIR)$(MANDIR)/man1/popfetch.1
	install -m 644 man/popfetchrc.5 $(DESTDIR)$(MANDIR)/man5/popfetchrc.5

# Static analysis: cppcheck and a chosen set of clang-tidy checks, no findings;
# and no bats line that can never fail its test (tests/lib/lint-bats, which
# `make check` runs too).
LINT_CHECKS = -*,clang-analyzer-*,-clang-analyzer-valist.Uninitialized,$\
	-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,bugprone-*,$\
	-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,$\
	-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,$\
	-bugprone-implicit-widening-of-multiplication-result,-bugprone-branch-clone
lint:
	@tests/lib/ensure-deps cppcheck clang-tidy
	tests/lib/lint-bats tests/*.bats
	tests/lib/lint-bats --self-test
	cppcheck --quiet --enable=warning,performance,portability --std=c11 -D_GNU_SOURCE \
		--inline-suppr --error-exitcode=1 $(SRC_INCLUDES) src/
	clang-tidy --quiet --warnings-as-errors='*' -checks='$(LINT_CHECKS)' $(SRCS) -- \
		-std=c11 -D_GNU_SOURCE $(SRC_INCLUDES) $(DEP_CFLAGS) 2>/dev/null

format:
	clang-format -i $(wildcard $(SRC_DIRS:%=%/*.c) $(SRC_DIRS:%=%/*.h)) tests/unit/*.c \
		tests/unit/*.h

clean:
	rm -rf $(BUILD) popfetch tests/unit/runner

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(FAULT_OBJS:.o=.d)

# libFuzzer targets: make fuzz, make fuzz-smoke (see fuzz/fuzz.mk)
include fuzz/fuzz.mk
