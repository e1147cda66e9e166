/*
 * fuzz_cmdsplit — splitting an MDA command into argv (src/cmdsplit.h:
 * cmdsplit_argv, cmdsplit_free) with %F %T %U %H substitution.
 *
 * Input: the command (up to the first NUL). It is split twice: with plain
 * values ("S", "T", "U", "H") and with hostile ones (blanks, quotes,
 * backslashes, '%', shell operators, an empty value).
 *
 * Invariants (abort on violation):
 *  - both splits succeed or both fail; a failure is ERR_USAGE with a
 *    message and leaves argv NULL;
 *  - values never add, remove or join words: both splits give the same
 *    number of words (an empty value still makes a word);
 *  - argv is NULL-terminated with at least one word;
 *  - requoting each word ('...' with ' written as '\'' and % as %%) and
 *    splitting the result again gives back exactly the same argv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "cmdsplit.h"

static size_t count(char **argv)
{
    size_t n = 0;

    while (argv[n]) n++;
    return n;
}

/* Single-quote every word so that cmdsplit_argv reads it back literally. */
static char *requote(char **argv)
{
    size_t cap = 16, len = 0;
    char *s;

    for (size_t i = 0; argv[i]; i++) cap += 4 * strlen(argv[i]) + 4;
    if (!(s = malloc(cap))) abort();
    for (size_t i = 0; argv[i]; i++) {
        if (i) s[len++] = ' ';
        s[len++] = '\'';
        for (const char *p = argv[i]; *p; p++) {
            if (*p == '\'') {
                memcpy(s + len, "'\\''", 4);
                len += 4;
            } else if (*p == '%') {
                memcpy(s + len, "%%", 2);
                len += 2;
            } else {
                s[len++] = *p;
            }
        }
        s[len++] = '\'';
    }
    s[len] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct cmdsplit_vars plain = {"S", "T", "U", "H"};
    static const struct cmdsplit_vars hostile = {"a b\t'c\"d\\", "", "%F %% $(rm -rf ~)", "x\ny;z|"};
    char *cmd = fuzz_strndup(data, size), *again;
    char **a1 = (char **)1, **a2 = (char **)1, **a3 = (char **)1;
    struct err e1, e2, e3;
    int r1, r2, r3;

    r1 = cmdsplit_argv(cmd, &plain, &a1, &e1);
    r2 = cmdsplit_argv(cmd, &hostile, &a2, &e2);
    FUZZ_CHECK(r1 == r2);
    if (r1 < 0) {
        FUZZ_CHECK(a1 == NULL && a2 == NULL);
        FUZZ_CHECK(e1.kind == ERR_USAGE && e1.msg[0]);
        FUZZ_CHECK(e2.kind == ERR_USAGE && !strcmp(e1.msg, e2.msg));
        free(cmd);
        return 0;
    }
    FUZZ_CHECK(a1 && a2 && a1[0] && a2[0]);
    FUZZ_CHECK(count(a1) == count(a2));

    /* Requote and split again: the same words. */
    again = requote(a2);
    r3 = cmdsplit_argv(again, NULL, &a3, &e3);
    FUZZ_CHECK(r3 == 0);
    FUZZ_CHECK(count(a3) == count(a2));
    for (size_t i = 0; a2[i]; i++) FUZZ_CHECK(strcmp(a2[i], a3[i]) == 0);

    cmdsplit_free(a1);
    cmdsplit_free(a2);
    cmdsplit_free(a3);
    free(again);
    free(cmd);
    return 0;
}
