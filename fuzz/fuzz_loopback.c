/*
 * fuzz_loopback — what reaches popfetch's loopback listener during
 * --authorize (src/oauth2/loopback.h): any local program may connect and
 * send anything, so the request head and its query are hostile.
 *
 * Input: the request head as received.
 *
 * Invariants (abort on violation):
 *  - loopback_parse_request gives -1, 0 or 1; with 1 the query is
 *    NUL-terminated within its buffer, holds no NUL, and is the bytes
 *    after "GET /?" up to the space before HTTP/1.x;
 *  - loopback_check_answer hands out a code only when the query carries
 *    state=S for the expected S exactly once (never for another state),
 *    and the code is non-empty and holds no NUL; its errors are ERR_AUTH
 *    (or ERR_INTERNAL) with a message of printable bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "loopback.h"

static void check_printable(const char *s)
{
    for (; *s; s++) FUZZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static void check_answer(const char *query, const char *state)
{
    char *code = NULL;
    struct err e;
    int rc = loopback_check_answer(query, state, &code, &e);

    if (rc == 0) {
        FUZZ_CHECK(code != NULL && code[0] != '\0');
        FUZZ_CHECK(strstr(query, "state=") != NULL);
        free(code);
    } else {
        FUZZ_CHECK(code == NULL);
        FUZZ_CHECK(e.kind == ERR_AUTH || e.kind == ERR_INTERNAL);
        check_printable(e.msg);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *head = malloc(size ? size : 1), query[LOOPBACK_HEAD_MAX + 1];
    int rc;

    FUZZ_CHECK(head != NULL);
    if (size) memcpy(head, data, size);
    rc = loopback_parse_request(head, size, query, sizeof query);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (rc == 1) {
        size_t n = strlen(query);
        FUZZ_CHECK(n < sizeof query);
        FUZZ_CHECK(size >= 5 && memcmp(head, "GET /", 5) == 0);
        if (n) FUZZ_CHECK(head[5] == '?' && memcmp(head + 6, query, n) == 0 && head[6 + n] == ' ');
        check_answer(query, "Ab3-_x");
        check_answer(query, "");
    }
    free(head);
    return 0;
}
