/*
 * fuzz_mbox_quote — mboxrd quoting (src/deliver/mbox.h: mbox_quote_init,
 * mbox_quote_feed, mbox_quote_end) of a hostile message fed in chunks of
 * pseudo-random size, with an output callback that may fail.
 *
 * Input: byte 0 picks the chunking; byte 1, if not 0, makes the output
 * callback fail once that many output calls have succeeded; the rest is
 * the message.
 *
 * Invariants (abort on violation):
 *  - the output is exactly that of an independent line-by-line quoter: one
 *    more '>' before every line matching ^>*From , a newline added at the
 *    end if the message has bytes and does not end with one, nothing for an
 *    empty message;
 *  - no output line starts with "From ";
 *  - unquoting (removing one '>' from each line matching ^>+From ) gives
 *    back the input, plus the added final newline;
 *  - a failing callback makes feed or end return -1 with its error, and
 *    the quoter calls no further output after it (in that call).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mbox.h"

struct outbuf {
    uint8_t *buf;
    size_t len, cap;
    unsigned calls, fail_at; /* fail_at: 0 = never */
    int failed;
};

static int out(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct outbuf *s = ctx;

    FUZZ_CHECK(!s->failed);
    FUZZ_CHECK(len > 0);
    if (s->fail_at && ++s->calls >= s->fail_at) {
        s->failed = 1;
        return err_set(e, ERR_DELIVERY, "fuzz: disk full");
    }
    FUZZ_CHECK(s->len + len <= s->cap);
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return 0;
}

/* Does the line at p (n bytes, no newline) match ^>*From ? */
static int from_line(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] == '>') i++;
    return n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

static size_t reference(const uint8_t *in, size_t len, uint8_t *o)
{
    size_t pos = 0, olen = 0;

    while (pos < len) {
        const uint8_t *nl = memchr(in + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (in + pos)) : len - pos;

        if (from_line(in + pos, n)) o[olen++] = '>';
        memcpy(o + olen, in + pos, n);
        olen += n;
        if (nl || n > 0) o[olen++] = '\n';
        pos += n + 1;
    }
    return olen;
}

static void check_unquote(const uint8_t *in, size_t len, const uint8_t *o, size_t olen)
{
    size_t pos = 0, ipos = 0;

    while (pos < olen) {
        const uint8_t *nl = memchr(o + pos, '\n', olen - pos);
        size_t n = nl ? (size_t)(nl - (o + pos)) : olen - pos, skip = 0;

        FUZZ_CHECK(!(n >= 5 && memcmp(o + pos, "From ", 5) == 0));
        if (n > 0 && o[pos] == '>' && from_line(o + pos, n)) skip = 1;
        FUZZ_CHECK(ipos + (n - skip) <= len);
        FUZZ_CHECK(memcmp(o + pos + skip, in + ipos, n - skip) == 0);
        ipos += n - skip;
        if (nl && ipos < len) {
            FUZZ_CHECK(in[ipos] == '\n');
            ipos++;
        } else if (nl) { /* the newline the quoter added: last, after a line */
            FUZZ_CHECK(pos + n + 1 == olen && n > 0);
        }
        pos += n + 1;
    }
    FUZZ_CHECK(ipos == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mbox_quote q;
    struct outbuf s = {0};
    struct err e;
    uint8_t *ref;
    size_t rlen, pos = 0;
    uint32_t rng;
    int rc = 0;

    if (size < 2) return 0;
    rng = data[0] * 2654435761u + 7;
    s.fail_at = data[1];
    data += 2, size -= 2;
    s.cap = 2 * size + 2;
    s.buf = malloc(s.cap);
    ref = malloc(s.cap);
    if (!s.buf || !ref) abort();
    rlen = reference(data, size, ref);

    mbox_quote_init(&q);
    while (pos < size && rc == 0) {
        size_t n = 1 + fuzz_rand(&rng) % 80;
        if (n > size - pos) n = size - pos;
        /* An exact-size copy of the chunk so ASan sees reads past it. */
        uint8_t *chunk = malloc(n);
        if (!chunk) abort();
        memcpy(chunk, data + pos, n);
        rc = mbox_quote_feed(&q, chunk, n, out, &s, &e);
        free(chunk);
        pos += n;
    }
    if (rc == 0) rc = mbox_quote_end(&q, out, &s, &e);

    if (s.failed) {
        FUZZ_CHECK(rc == -1 && e.kind == ERR_DELIVERY);
        FUZZ_CHECK(s.len <= rlen && memcmp(s.buf, ref, s.len) == 0);
    } else {
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(s.len == rlen && memcmp(s.buf, ref, rlen) == 0);
        check_unquote(data, size, s.buf, s.len);
    }
    free(s.buf);
    free(ref);
    return 0;
}
