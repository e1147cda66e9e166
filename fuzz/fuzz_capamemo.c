/*
 * fuzz_capamemo — a remembered-capabilities file's text (src/capamemo.h:
 * capamemo_parse), read from the state directory before a poll.
 *
 * Input: the file's bytes, in a heap buffer of exactly their length (no
 * terminating NUL), so ASan catches any read past it.
 *
 * Invariants (abort on violation):
 *  - the result is 0 or -1; -1 leaves the memo empty (have 0);
 *  - an accepted memo formats to text that parses to the same memo, and
 *    applying it to a CAPA record gives a known one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capamemo.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1), *out;
    struct capamemo m, again;
    struct pop3_capa c;
    size_t n;
    int rc;

    FUZZ_CHECK(text != NULL);
    if (size) memcpy(text, data, size);
    rc = capamemo_parse(&m, text, size);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc < 0) FUZZ_CHECK(!m.have);
    if (rc == 0) {
        out = malloc(CAPAMEMO_FILE_MAX + 1);
        FUZZ_CHECK(out != NULL);
        n = capamemo_format(&m, out, CAPAMEMO_FILE_MAX + 1);
        FUZZ_CHECK(n > 0);
        FUZZ_CHECK(capamemo_parse(&again, out, n) == 0);
        FUZZ_CHECK(strcmp(again.server, m.server) == 0 && strcmp(again.cert, m.cert) == 0 &&
                   strcmp(again.greeting, m.greeting) == 0 && again.len == m.len &&
                   memcmp(again.lines, m.lines, m.len) == 0);
        capamemo_apply(&m, &c);
        FUZZ_CHECK(c.known);
        free(out);
    }
    free(text);
    return 0;
}
