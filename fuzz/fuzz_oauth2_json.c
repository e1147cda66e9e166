/*
 * fuzz_oauth2_json — the OAuth2 provider's answers (src/oauth2/tokresp.h):
 * token responses, errors, device authorization responses and their masked
 * trace, on hostile JSON (huge, truncated, wrong types, NULs, escapes,
 * duplicate keys, deep nesting).
 *
 * Input: byte 0 picks the HTTP status (200, 400, 401 or 503, by its two low
 * bits) and, in bit 2, a small buffer for the masked trace; the rest is the
 * body.
 *
 * Invariants (abort on violation):
 *  - tokresp_parse gives -1 (with a message), 0 (an access token of 1 to
 *    TOKRESP_TOKEN_MAX bytes 0x21-0x7e, a refresh token likewise or none,
 *    expires_in -1 or 0..TOKRESP_EXPIRY_MAX) or 1 (a printable error code);
 *    tokresp_parse_device likewise (codes and URLs printable, interval
 *    1..300, expires_in 1..86400);
 *  - no error message holds the access token or the refresh token;
 *  - the masked trace is NUL-terminated within its buffer and, when the
 *    body has no escapes and the token appears in it once, never shows the
 *    access or refresh token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tokresp.h"

static void check_token(const char *t)
{
    size_t n = strlen(t);

    FUZZ_CHECK(n >= 1 && n <= TOKRESP_TOKEN_MAX);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(t[i] >= 0x21 && t[i] <= 0x7e);
}

static void check_printable(const char *s)
{
    for (; *s; s++) FUZZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static size_t occurrences(const uint8_t *body, size_t len, const char *needle)
{
    size_t n = strlen(needle), count = 0;

    for (size_t i = 0; n && i + n <= len; i++)
        if (memcmp(body + i, needle, n) == 0) count++;
    return count;
}

static void check_hidden(const uint8_t *body, size_t len, const char *masked, const char *secret)
{
    if (!secret || strlen(secret) < 8 || memchr(body, '\\', len)) return;
    if (occurrences(body, len, secret) != 1) return;
    FUZZ_CHECK(strstr(masked, secret) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 400, 401, 503};
    struct tokresp t, te;
    struct tokresp_device d;
    struct err e;
    char masked[2048];
    size_t mmax;
    int status, rc;

    if (size < 1) return 0;
    status = statuses[data[0] & 3];
    mmax = data[0] & 4 ? 24 : sizeof masked;
    data++;
    size--;

    rc = tokresp_parse(status, (const char *)data, size, &t, &e);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (rc < 0) FUZZ_CHECK(e.msg[0] != '\0');
    if (rc == 0) {
        check_token(t.access_token);
        if (t.refresh_token) check_token(t.refresh_token);
        FUZZ_CHECK(t.expires_in >= -1 && t.expires_in <= TOKRESP_EXPIRY_MAX);
        tokresp_masked((const char *)data, size, masked, mmax);
        FUZZ_CHECK(memchr(masked, '\0', mmax) != NULL);
        check_hidden(data, size, masked, t.access_token);
        check_hidden(data, size, masked, t.refresh_token);
        tokresp_free(&t);
    } else if (rc == 1) {
        FUZZ_CHECK(t.error[0] != '\0');
        check_printable(t.error);
        check_printable(t.error_description);
    }

    rc = tokresp_parse_device(status, (const char *)data, size, &d, &te, &e);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (rc == 0) {
        check_token(d.device_code);
        FUZZ_CHECK(d.user_code[0] && d.verification_uri[0]);
        check_printable(d.user_code);
        check_printable(d.verification_uri);
        check_printable(d.verification_uri_complete);
        check_printable(d.message);
        FUZZ_CHECK(d.interval >= 1 && d.interval <= 300);
        FUZZ_CHECK(d.expires_in >= 1 && d.expires_in <= 86400);
        tokresp_device_free(&d);
    }
    tokresp_masked((const char *)data, size, masked, mmax);
    FUZZ_CHECK(memchr(masked, '\0', mmax) != NULL);
    return 0;
}
