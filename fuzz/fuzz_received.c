/*
 * fuzz_received — the Received: trace field (src/deliver/received.h:
 * received_format) built from hostile values: the UIDL comes from the
 * server, the others from the config and the connection.
 *
 * Input: byte 0: bit 0 TLS, bit 1 no UIDL (NULL), bit 2 no local name
 * (NULL: gethostname), bits 3-7 pick the buffer size (RECEIVED_MAX, or a
 * short one); bytes 1-8 the time (int64, little-endian); the rest six
 * NUL-separated values: server, server_ip, local, account, user, uidl.
 *
 * Invariants (abort on violation):
 *  - the result is shorter than the buffer and is strlen(buf) (buffers
 *    sized exactly, so ASan catches writes past them);
 *  - with RECEIVED_MAX bytes the field is whole: it starts "Received: from
 *    ", ends with LF, is exactly four lines, each continuation line starts
 *    with a tab, and holds only printable ASCII besides those LFs and tabs;
 *  - comments are well formed: parentheses balance (a backslash quotes the
 *    next byte) and never close more than they opened;
 *  - a UIDL of under 200 plain printable bytes (no ( ) \) appears verbatim.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "received.h"

static void check_whole(const char *f, size_t n, const char *uidl)
{
    int depth = 0, lines = 0;

    FUZZ_CHECK(n >= 16 && !strncmp(f, "Received: from ", 15));
    FUZZ_CHECK(f[n - 1] == '\n');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)f[i];
        if (c == '\n') {
            lines++;
            if (i + 1 < n) FUZZ_CHECK(f[i + 1] == '\t');
            continue;
        }
        FUZZ_CHECK((c >= 0x20 && c < 0x7f) || (c == '\t' && i > 0 && f[i - 1] == '\n'));
        if (depth > 0 && c == '\\') {
            FUZZ_CHECK(i + 1 < n && f[i + 1] != '\n');
            i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            FUZZ_CHECK(depth > 0);
            depth--;
        }
    }
    FUZZ_CHECK(depth == 0);
    FUZZ_CHECK(lines == 4);
    if (uidl && strlen(uidl) < 200 && strlen(uidl) > 0 && !strpbrk(uidl, "()\\")) {
        int plain = 1;
        for (const char *p = uidl; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) plain = 0;
        if (plain) {
            char *want = malloc(strlen(uidl) + 16);
            if (!want) abort();
            strcpy(want, "uidl ");
            strcat(want, uidl);
            strcat(want, ");\n");
            FUZZ_CHECK(strstr(f, want) != NULL);
            free(want);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t sizes[] = {RECEIVED_MAX, 0, 1, 2, 15, 16, 64, 100, 256};
    struct fuzz_field v[6] = {{0}};
    struct received_info ri;
    char *s[6] = {0}, *buf;
    uint64_t when = 0;
    size_t len, n;
    unsigned flags;

    if (size < 9) return 0;
    flags = data[0];
    for (int i = 0; i < 8; i++) when |= (uint64_t)data[1 + i] << (8 * i);
    data += 9, size -= 9;
    for (size_t i = 0, k = 0, start = 0; i <= size && k < 6; i++) {
        if (i == size || data[i] == '\0') {
            v[k].p = data + start;
            v[k].len = i - start;
            k++;
            start = i + 1;
        }
    }
    for (int i = 0; i < 6; i++) s[i] = fuzz_strndup(v[i].p ? v[i].p : data, v[i].len);

    memset(&ri, 0, sizeof ri);
    ri.server = s[0];
    ri.server_ip = s[1];
    ri.local = (flags & 4) ? NULL : s[2];
    ri.account = s[3];
    ri.user = s[4];
    ri.uidl = (flags & 2) ? NULL : s[5];
    ri.tls = (int)(flags & 1);
    ri.when = (long long)when;
    len = sizes[(flags >> 3) % (sizeof sizes / sizeof sizes[0])];

    buf = malloc(len ? len : 1);
    if (!buf) abort();
    n = received_format(buf, len, &ri);
    if (len == 0) {
        FUZZ_CHECK(n == 0);
    } else {
        FUZZ_CHECK(n < len && strlen(buf) == n);
        if (len == RECEIVED_MAX) check_whole(buf, n, ri.uidl);
    }
    free(buf);
    for (int i = 0; i < 6; i++) free(s[i]);
    return 0;
}
