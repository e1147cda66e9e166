/*
 * fuzz_netrc — the ~/.netrc parser (src/netrc.h: netrc_lookup) on any
 * file contents.
 *
 * Input: the host, a NUL, the user, a NUL, then the file's bytes (which may
 * hold more NULs). The file is handed over in a heap buffer of exactly its
 * length, without a terminating NUL, so ASan catches any read past it.
 *
 * Invariants (abort on violation):
 *  - the result is -1, 0 or 1, and the same when asked again;
 *  - a password found is NUL-terminated, at most NETRC_TOKEN_MAX bytes, and
 *    found again into a buffer of exactly its size (+1); one byte less is
 *    -1, never a cut password;
 *  - the first entry wins: with `machine HOST login USER password P` and
 *    the start of another entry (`machine `) put in front, the answer is
 *    P, whatever follows (for a host and user that are plain tokens).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "netrc.h"

static char pw[NETRC_TOKEN_MAX + 1], pw2[NETRC_TOKEN_MAX + 1];

/* A token netrc reads back as itself: no separator, quote or NUL. */
static int plain(const uint8_t *p, size_t n)
{
    if (n == 0 || n > 200 || p[0] == '"') return 0;
    for (size_t i = 0; i < n; i++)
        if (!p[i] || strchr(" \t\r\n,", p[i])) return 0;
    return 1;
}

static void check_found(const char *text, size_t len, const char *host, const char *user)
{
    size_t n = strlen(pw);
    char *exact = malloc(n + 1);

    FUZZ_CHECK(n <= NETRC_TOKEN_MAX);
    FUZZ_CHECK(exact != NULL);
    FUZZ_CHECK(netrc_lookup(text, len, host, user, exact, n + 1) == 1);
    FUZZ_CHECK(memcmp(exact, pw, n + 1) == 0);
    FUZZ_CHECK(netrc_lookup(text, len, host, user, exact, n) == -1);
    free(exact);
}

static void check_first_wins(const uint8_t *file, size_t flen, const char *host, const char *user)
{
    static const char pass[] = "fuzz-first-wins", next[] = "\nmachine ";
    size_t hlen = strlen(host), ulen = strlen(user);
    size_t plen = 8 + hlen + 7 + ulen + 10 + sizeof pass - 1 + sizeof next - 1;
    char *t = malloc(plen + flen);
    int rc;

    FUZZ_CHECK(t != NULL);
    memcpy(t, "machine ", 8);
    memcpy(t + 8, host, hlen);
    memcpy(t + 8 + hlen, " login ", 7);
    memcpy(t + 15 + hlen, user, ulen);
    memcpy(t + 15 + hlen + ulen, " password ", 10);
    memcpy(t + 25 + hlen + ulen, pass, sizeof pass - 1);
    memcpy(t + plen - (sizeof next - 1), next, sizeof next - 1);
    if (flen) memcpy(t + plen, file, flen);
    rc = netrc_lookup(t, plen + flen, host, user, pw2, sizeof pw2);
    FUZZ_CHECK(rc == 1);
    FUZZ_CHECK(strcmp(pw2, pass) == 0);
    free(t);
}

/* host NUL user NUL file: 1 if the input has that shape. */
static int fields(const uint8_t *data, size_t size, struct fuzz_field f[3])
{
    for (int i = 0; i < 2; i++) {
        const uint8_t *nul = memchr(data, '\0', size);
        if (!nul) return 0;
        f[i].p = data;
        f[i].len = (size_t)(nul - data);
        size -= f[i].len + 1;
        data = nul + 1;
    }
    f[2].p = data;
    f[2].len = size;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_field f[3];
    char *host, *user, *text;
    int rc;

    if (!fields(data, size, f)) return 0;
    host = fuzz_strndup(f[0].p, f[0].len);
    user = fuzz_strndup(f[1].p, f[1].len);
    text = malloc(f[2].len ? f[2].len : 1);
    FUZZ_CHECK(host && user && text);
    if (f[2].len) memcpy(text, f[2].p, f[2].len);

    rc = netrc_lookup(text, f[2].len, host, user, pw, sizeof pw);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    FUZZ_CHECK(netrc_lookup(text, f[2].len, host, user, pw2, sizeof pw2) == rc);
    if (rc == 1) {
        FUZZ_CHECK(strcmp(pw, pw2) == 0);
        check_found(text, f[2].len, host, user);
    }
    if (plain(f[0].p, f[0].len) && plain(f[1].p, f[1].len))
        check_first_wins(f[2].p, f[2].len, host, user);

    free(host);
    free(user);
    free(text);
    return 0;
}
