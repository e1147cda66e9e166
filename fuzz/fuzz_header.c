/*
 * fuzz_header — fields and sender addresses from hostile headers
 * (src/deliver/header.h): header_parse_address on the raw input, header_find
 * fed the input in pieces, and the whole path through a real spool file:
 * spool_write, spool_header, and header_sender / header_envelope_sender
 * through spool_field (an mbox From_ line, an MDA's %F, an LMTP/SMTP
 * envelope sender).
 *
 * Input: byte 0 gives the size of header_parse_address's output buffer
 * (0..255, plus HEADER_SENDER_MAX + 1 when the byte's value is 255) and,
 * + 1, the size of the pieces header_find is fed; the rest is used twice:
 * as a header value for header_parse_address, and as a whole message.
 *
 * Invariants (abort on violation):
 *  - header_parse_address returns -1 or a length below the buffer size,
 *    NUL-terminated there; the address is made safe: only [A-Za-z0-9] and
 *    "@._+-=/%:,", never a leading '-', at most HEADER_SENDER_MAX bytes;
 *  - header_find (in pieces) and spool_header (from the file) agree, and
 *    return -1 or the value's full length, with buf holding
 *    min(length, len - 1) bytes and a NUL (buffers sized exactly, so ASan
 *    catches any write past them);
 *  - every sender is safe in the same way, its length is what is returned,
 *    the mbox sender is never empty, and the envelope sender is -1 (none,
 *    with buf "") or, without a Return-Path field, never the null one;
 *  - header_8bit says whether a byte has its high bit set;
 *  - a field is never found past the header block: a message with a field
 *    after the first empty line does not yield it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "header.h"
#include "spool.h"

static int safe(const char *s, size_t n)
{
    if (n > HEADER_SENDER_MAX || strlen(s) != n) return 0;
    if (n > 0 && s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("@._+-=/%:,", c))))
            return 0;
    }
    return 1;
}

static ssize_t find_in_pieces(const uint8_t *data, size_t size, size_t piece, const char *name,
                              char *buf, size_t len)
{
    struct header_find h;

    header_find_init(&h, name, buf, len);
    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (header_find_feed(&h, data + off, n)) break;
    }
    return header_find_end(&h);
}

static void check_header(struct spool *sp, const uint8_t *data, size_t size, size_t piece,
                         const char *name, size_t len)
{
    char *buf = malloc(len ? len : 1), *mem = malloc(len ? len : 1);
    ssize_t n, m;

    if (!buf || !mem) abort();
    n = spool_header(sp, name, buf, len);
    m = find_in_pieces(data, size, piece, name, mem, len);
    FUZZ_CHECK(n == m);
    if (n >= 0 && len > 0) {
        size_t have = (size_t)n < len - 1 ? (size_t)n : len - 1;
        FUZZ_CHECK(buf[have] == '\0');
        FUZZ_CHECK(memcmp(buf, mem, have) == 0);
    }
    free(buf);
    free(mem);
}

static void check_address(const uint8_t *data, size_t size, size_t blen)
{
    char *buf = malloc(blen ? blen : 1), *val = malloc(size ? size : 1);
    ssize_t n;

    if (!buf || !val) abort();
    if (size) memcpy(val, data, size); /* the exact bytes, no NUL after them */
    n = header_parse_address(val, size, buf, blen);
    FUZZ_CHECK(n >= -1);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n < blen);
        FUZZ_CHECK(safe(buf, (size_t)n));
    }
    free(val);
    free(buf);
}

static void check_8bit(const uint8_t *data, size_t size)
{
    int high = 0;

    for (size_t i = 0; i < size; i++) high |= data[i] >= 0x80;
    FUZZ_CHECK(header_8bit(data, size) == high);
}

static void check_envelope(struct spool *sp)
{
    char sender[HEADER_SENDER_MAX + 1], rp[8];
    ssize_t n = header_envelope_sender(spool_field, sp, sender, sizeof sender);

    FUZZ_CHECK(n >= -1);
    if (n < 0) {
        FUZZ_CHECK(sender[0] == '\0');
        return;
    }
    FUZZ_CHECK(safe(sender, (size_t)n));
    /* without Return-Path, only a real address is taken, never the null one */
    if (spool_header(sp, "Return-Path", rp, sizeof rp) < 0) FUZZ_CHECK(n > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct spool sp;
    static int opened;
    struct err e;
    size_t blen, piece;
    char sender[HEADER_SENDER_MAX + 1];
    size_t sn;

    if (size < 1) return 0;
    blen = data[0] == 255 ? HEADER_SENDER_MAX + 1 : data[0];
    piece = (size_t)data[0] + 1;
    data++, size--;

    check_address(data, size, blen);
    check_8bit(data, size);

    /* The message through a spool file. */
    if (!opened) {
        if (spool_open(&sp, fuzz_tmpdir(), &e) < 0) {
            fprintf(stderr, "fuzz: spool_open: %s\n", e.msg);
            abort();
        }
        opened = 1;
    }
    FUZZ_CHECK(spool_reset(&sp, &e) == 0);
    FUZZ_CHECK(spool_write(&sp, data, size, &e) == 0);
    FUZZ_CHECK(spool_size(&sp) == size);

    sn = header_sender(HEADER_SENDER_MBOX, spool_field, &sp, sender, sizeof sender);
    FUZZ_CHECK(sn > 0 && safe(sender, sn));
    sn = header_sender(HEADER_SENDER_MDA, spool_field, &sp, sender, sizeof sender);
    FUZZ_CHECK(safe(sender, sn));
    check_envelope(&sp);
    check_header(&sp, data, size, piece, "From", 0);
    check_header(&sp, data, size, piece, "From", 1);
    check_header(&sp, data, size, piece, "Return-Path", 7);
    check_header(&sp, data, size, piece, "Subject", 64);

    /* Nothing is found past the header block. */
    FUZZ_CHECK(spool_reset(&sp, &e) == 0);
    FUZZ_CHECK(spool_write(&sp, "\n", 1, &e) == 0);
    FUZZ_CHECK(spool_write(&sp, data, size, &e) == 0);
    {
        char v[16];
        FUZZ_CHECK(spool_header(&sp, "X-Fuzz-Never", v, sizeof v) == -1);
        FUZZ_CHECK(spool_header(&sp, "From", v, sizeof v) == -1);
    }
    return 0;
}
