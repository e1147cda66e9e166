/*
 * fuzz_fetchmailrc — the fetchmail rc converter (src/migrate/fetchmailrc.h):
 * fetchmailrc_convert over the whole input, as `popfetch
 * --import-fetchmailrc FILE` runs it on a file it did not write; then the
 * config parser (conf_parse) over what it printed.
 *
 * Input: the rc file's bytes, given in a buffer of exactly that size (no NUL
 * after them: the converter is bounded by its length). The local login name
 * comes from $FETCHMAILUSER (fuzzuser), HOME is /home/fuzz.
 *
 * Invariants (abort on violation):
 *  - success: the output is a NUL-terminated string of at most
 *    FETCHMAILRC_MAX_OUT bytes holding no control byte but LF and TAB (a
 *    value may hold a tab; nothing from the input can end a line early or
 *    reach a terminal as an escape), ending in LF; and it loads with
 *    conf_parse as a private file (it may hold passwords) — the converter's
 *    first promise — with every account conf_find can find;
 *  - failure: ERR_USAGE whose message starts with the file's name (it
 *    names name:line), or ERR_INTERNAL (out of memory); no output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fetchmailrc.h"
#include "harness.h"

static void check_output(const char *out)
{
    size_t n = strlen(out);
    struct config cfg;
    struct err e;
    int rc;

    FUZZ_CHECK(n >= 1 && n <= FETCHMAILRC_MAX_OUT);
    FUZZ_CHECK(out[n - 1] == '\n');
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(out[i] == '\n' || out[i] == '\t' ||
                   ((unsigned char)out[i] >= 0x20 && out[i] != 0x7f));

    memset(&cfg, 0, sizeof cfg);
    err_clear(&e);
    rc = conf_parse("converted.conf", out, n, 1, &cfg, &e);
    if (rc != 0) {
        /* Show what did not load, so that the crash report says it. */
        fprintf(stderr, "conf_parse refused the converted config: %s\n%s\n", e.msg, out);
        fuzz_fail(__FILE__, __LINE__, "the converted config loads with conf_parse");
    }
    for (size_t i = 0; i < cfg.naccounts; i++)
        FUZZ_CHECK(conf_find(&cfg, cfg.accounts[i].name) == &cfg.accounts[i]);
    conf_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    char *text, *out = NULL;
    struct err e;
    int rc;

    if (!inited) {
        setenv("HOME", "/home/fuzz", 1);
        setenv("FETCHMAILUSER", "fuzzuser", 1);
        inited = 1;
    }
    /* Exactly the file's bytes, no NUL after them. */
    text = malloc(size ? size : 1);
    if (!text) abort();
    if (size) memcpy(text, data, size);
    err_clear(&e);
    rc = fetchmailrc_convert("fuzz.rc", text, size, &out, &e);
    if (rc == 0) {
        FUZZ_CHECK(out != NULL);
        check_output(out);
    } else {
        FUZZ_CHECK(rc == -1 && out == NULL);
        FUZZ_CHECK(e.kind == ERR_USAGE || e.kind == ERR_INTERNAL);
        FUZZ_CHECK(e.kind != ERR_USAGE || strncmp(e.msg, "fuzz.rc", 7) == 0);
    }
    fetchmailrc_free(out);
    free(text);
    return 0;
}
