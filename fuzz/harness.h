/*
 * harness — helpers shared by the libFuzzer targets in fuzz/ (not a target
 * itself: fuzz.mk links harness.c into every fuzz_*.c).
 *
 *  - FUZZ_CHECK(cond): an invariant; on violation print it and abort(), so
 *    libFuzzer records the input as a crash.
 *  - struct fake_server: a net_conn whose reads return the fuzz input in
 *    chunks picked by a seed byte (one AF_UNIX SOCK_SEQPACKET record per
 *    chunk, so every read() sees exactly one chunk), then end of stream.
 *    Commands the code under test writes go into the other end and are
 *    thrown away. This drives pop3.c and net.c's real line reader and
 *    body streamer, however the bytes are cut.
 *  - fuzz_split(): cut an input at a separator, for targets that take
 *    several fields.
 *  - fuzz_tmpdir(): a private directory under $TMPDIR (or /tmp), removed
 *    with everything in it when the process exits.
 */
#ifndef POPFETCH_FUZZ_HARNESS_H
#define POPFETCH_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "net.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond);                                         \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* Largest input the fake server takes (it must fit NET_RBUF_SIZE whole). */
#define FAKE_SERVER_MAX (64 * 1024)

struct fake_server {
    struct net_conn net;
    int peer; /* our end: the server side of the socket pair */
};

/* Load data as the server's whole output. chunk_seed 0 sends it in one
 * piece; others cut it into pseudo-random pieces of 1..N bytes. Returns -1
 * (input to be skipped) if the data does not fit. */
int fake_server_open(struct fake_server *f, const uint8_t *data, size_t len, uint8_t chunk_seed);

/* Bytes of the server's output the client has consumed so far. */
size_t fake_server_consumed(const struct fake_server *f);

void fake_server_close(struct fake_server *f);

/* Split [data, data+len) at each occurrence of sep; up to max fields.
 * The last field takes the rest. Returns the number of fields (>= 1). */
struct fuzz_field {
    const uint8_t *p;
    size_t len;
};
size_t fuzz_split(const uint8_t *data, size_t len, const char *sep, struct fuzz_field *f,
                  size_t max);

/* A NUL-terminated heap copy (free with free()). */
char *fuzz_strndup(const uint8_t *data, size_t len);

/* The reference decoder of a POP3 multi-line body (RFC 1939 3), written
 * independently of dotstream.c: split at LF, drop one CR before it, strip
 * one leading dot, stop at a line that is exactly ".". out needs len bytes.
 * Returns 1 if the terminator was seen, *end then being the offset after
 * it; *olen is the output of complete lines, *plen that plus the decoded
 * partial last line. */
int fuzz_dot_reference(const uint8_t *in, size_t len, uint8_t *out, size_t *olen, size_t *plen,
                       size_t *end);

/* A fresh directory for this process; removed (recursively, one level) at
 * exit. */
const char *fuzz_tmpdir(void);

/* A small deterministic PRNG (xorshift32) for chunk sizes. */
static inline uint32_t fuzz_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9e3779b9u;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

#endif
