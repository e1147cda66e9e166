/*
 * dotstream — the decoder for a POP3 multi-line body (RFC 1939 §3): strips
 * the stuffed leading '.', turns CR LF into LF, and stops at the "." line.
 *
 * A pure state machine over byte chunks of any size (down to one byte), so
 * it can be fed straight from the socket buffer. It decodes in place: the
 * output never exceeds the input, and it only ever holds back (leaves
 * unconsumed) up to two bytes that could begin a CR LF or the terminator,
 * which the caller hands in again followed by more data. Bare CRs and NULs
 * inside a line are message bytes and pass through untouched.
 */
#ifndef POPFETCH_DOTSTREAM_H
#define POPFETCH_DOTSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct dotstream {
    int at_line_start;
    int done;           /* the terminating "." line was seen */
    uint64_t out_bytes; /* decoded bytes produced so far */
};

void dotstream_init(struct dotstream *d);

/* Decode buf[0..len) in place into buf[0..*out). Returns how many input
 * bytes were consumed (including the terminator, once seen; d->done is then
 * set and nothing after it is touched). */
size_t dotstream_decode(struct dotstream *d, unsigned char *buf, size_t len, size_t *out);

#endif
