/*
 * fuzz_pop3_listing — the listing parsers exposed by src/pop3.h:
 * pop3_parse_list_line ("N SIZE", LIST), pop3_parse_uidl_line ("N UID",
 * UIDL) and pop3_parse_stat ("COUNT SIZE", the text of a STAT reply).
 * listing.c, which glues these to the message table, is fuzz_listing's;
 * fuzz_pop3_wire runs the same parsers over real multi-line listings.
 *
 * Input: lines separated by LF; each line goes through all three parsers,
 * as an exact-size buffer without a NUL.
 *
 * Invariants (abort on violation), against an independent reference parser
 * with 128-bit arithmetic:
 *  - acceptance agrees with the reference grammar (decimal numbers without
 *    sign, message number 1..2^32-1, count 0..2^32-1, size <= 2^62, one or
 *    more spaces between fields, a size followed by the end or a space; a
 *    UID is 1..255 bytes of %x21-7E followed only by spaces);
 *  - the numbers are the reference's; the UID points inside the line at the
 *    reference's offset and length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pop3.h"

__extension__ typedef unsigned __int128 u128;

/* Digits at *i (at least one); saturates well past any limit we check. */
static int ref_number(const char *s, size_t len, size_t *i, u128 *v)
{
    size_t start = *i;

    *v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (*v < ((u128)1 << 100)) *v = *v * 10 + (u128)(s[*i] - '0');
        (*i)++;
    }
    return *i > start ? 0 : -1;
}

static int ref_spaces(const char *s, size_t len, size_t *i)
{
    size_t start = *i;

    while (*i < len && s[*i] == ' ') (*i)++;
    return *i > start ? 0 : -1;
}

static int ref_list(const char *s, size_t len, unsigned long *num, uint64_t *size)
{
    size_t i = 0;
    u128 n, z;

    if (ref_number(s, len, &i, &n) < 0 || n == 0 || n > 0xffffffffu) return -1;
    if (ref_spaces(s, len, &i) < 0 || ref_number(s, len, &i, &z) < 0) return -1;
    if (z > ((u128)1 << 62)) return -1;
    if (i != len && s[i] != ' ') return -1;
    *num = (unsigned long)n;
    *size = (uint64_t)z;
    return 0;
}

static int ref_stat(const char *s, size_t len, unsigned long *count, uint64_t *size)
{
    size_t i = 0;
    u128 n, z;

    if (ref_number(s, len, &i, &n) < 0 || n > 0xffffffffu) return -1;
    if (ref_spaces(s, len, &i) < 0 || ref_number(s, len, &i, &z) < 0) return -1;
    if (z > ((u128)1 << 62)) return -1;
    if (i != len && s[i] != ' ') return -1;
    *count = (unsigned long)n;
    *size = (uint64_t)z;
    return 0;
}

static int ref_uidl(const char *s, size_t len, unsigned long *num, size_t *uoff, size_t *ulen)
{
    size_t i = 0, start;
    u128 n;

    if (ref_number(s, len, &i, &n) < 0 || n == 0 || n > 0xffffffffu) return -1;
    if (ref_spaces(s, len, &i) < 0) return -1;
    start = i;
    while (i < len && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f) i++;
    if (i == start || i - start > 255) return -1;
    *uoff = start;
    *ulen = i - start;
    while (i < len && s[i] == ' ') i++;
    if (i != len) return -1;
    *num = (unsigned long)n;
    return 0;
}

static void check_line(const char *line, size_t len)
{
    unsigned long n1 = 0, n2 = 0;
    uint64_t z1 = 0, z2 = 0;
    const char *uid = NULL;
    size_t uidlen = 0, roff = 0, rlen = 0;
    int rc, ref;

    rc = pop3_parse_list_line(line, len, &n1, &z1);
    ref = ref_list(line, len, &n2, &z2);
    FUZZ_CHECK(rc == ref);
    if (rc == 0) FUZZ_CHECK(n1 == n2 && z1 == z2);

    rc = pop3_parse_stat(line, len, &n1, &z1);
    ref = ref_stat(line, len, &n2, &z2);
    FUZZ_CHECK(rc == ref);
    if (rc == 0) FUZZ_CHECK(n1 == n2 && z1 == z2);

    rc = pop3_parse_uidl_line(line, len, &n1, &uid, &uidlen);
    ref = ref_uidl(line, len, &n2, &roff, &rlen);
    FUZZ_CHECK(rc == ref);
    if (rc == 0) {
        FUZZ_CHECK(n1 == n2);
        FUZZ_CHECK(uid == line + roff && uidlen == rlen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    while (pos <= size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos;
        char *line = malloc(n ? n : 1);

        if (!line) abort();
        if (n) memcpy(line, data + pos, n);
        check_line(line, n);
        free(line);
        pos += n + 1;
    }
    return 0;
}
