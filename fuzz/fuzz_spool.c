/*
 * fuzz_spool — sender addresses from hostile headers (src/deliver/spool.h):
 * spool_parse_address on the raw input, and the whole path through a real
 * spool file: spool_write, spool_header and spool_sender (for an mbox From_
 * line and for an MDA's %F).
 *
 * Input: byte 0 gives the size of spool_parse_address's output buffer
 * (0..255, plus SPOOL_SENDER_MAX + 1 when the byte's value is 255); the
 * rest is used twice: as a header value for spool_parse_address, and as a
 * whole message written to the spool.
 *
 * Invariants (abort on violation):
 *  - spool_parse_address returns -1 or a length below the buffer size,
 *    NUL-terminated there; the address is made safe: only [A-Za-z0-9] and
 *    "@._+-=/%:,", never a leading '-', at most SPOOL_SENDER_MAX bytes;
 *  - spool_header returns -1 or the value's full length, with buf holding
 *    min(length, len - 1) bytes and a NUL (buffers sized exactly, so ASan
 *    catches any write past them);
 *  - spool_sender's result is safe in the same way, its length is what it
 *    returns, and the mbox sender is never empty;
 *  - spool_header never looks past the header block: a message with a
 *    field after the first empty line does not yield it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "spool.h"

static int safe(const char *s, size_t n)
{
    if (n > SPOOL_SENDER_MAX || strlen(s) != n) return 0;
    if (n > 0 && s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c && strchr("@._+-=/%:,", c))))
            return 0;
    }
    return 1;
}

static void check_header(struct spool *sp, const char *name, size_t len)
{
    char *buf = malloc(len ? len : 1);
    ssize_t n;

    if (!buf) abort();
    n = spool_header(sp, name, buf, len);
    if (n >= 0 && len > 0) {
        size_t have = (size_t)n < len - 1 ? (size_t)n : len - 1;
        FUZZ_CHECK(buf[have] == '\0');
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct spool sp;
    static int opened;
    struct err e;
    size_t blen;
    char *buf, sender[SPOOL_SENDER_MAX + 1];
    ssize_t n;
    size_t sn;

    if (size < 1) return 0;
    blen = data[0] == 255 ? SPOOL_SENDER_MAX + 1 : data[0];
    data++, size--;

    /* The header value, as the exact bytes (no NUL after them). */
    buf = malloc(blen ? blen : 1);
    if (!buf) abort();
    {
        char *val = malloc(size ? size : 1);
        if (!val) abort();
        if (size) memcpy(val, data, size);
        n = spool_parse_address(val, size, buf, blen);
        free(val);
    }
    FUZZ_CHECK(n >= -1);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n < blen);
        FUZZ_CHECK(safe(buf, (size_t)n));
    }
    free(buf);

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

    sn = spool_sender(&sp, SPOOL_SENDER_MBOX, sender, sizeof sender);
    FUZZ_CHECK(sn > 0 && safe(sender, sn));
    sn = spool_sender(&sp, SPOOL_SENDER_MDA, sender, sizeof sender);
    FUZZ_CHECK(safe(sender, sn));
    check_header(&sp, "From", 0);
    check_header(&sp, "From", 1);
    check_header(&sp, "Return-Path", 7);
    check_header(&sp, "Subject", 64);

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
