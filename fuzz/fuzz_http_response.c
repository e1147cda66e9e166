/*
 * fuzz_http_response — the HTTP/1.1 response parser (src/httpmsg.h) on
 * hostile bytes from a token endpoint: huge, truncated, chunked wrongly,
 * lying lengths, binary heads.
 *
 * Input: byte 0 picks the feeding (0: all at once; else pieces of 1..N
 * bytes from a PRNG seeded by it) and, in bit 7, whether the stream ends
 * (EOF) after the data; bytes 1-2 the body bound (little-endian, 0..65535);
 * the rest is what the server sent.
 *
 * Invariants (abort on violation):
 *  - the parser never takes more bytes than it was given, and takes all of
 *    them unless the response is complete;
 *  - once complete: a status from 200 to 599 (1xx are skipped), a body
 *    that is NUL-terminated, at most the bound, with body_len its length
 *    if it holds no NUL, and printable reason and content type;
 *  - the outcome (failed or not, complete or not, status, body) is the same
 *    however the bytes were cut: fed at once and fed in pieces;
 *  - an error is ERR_PROTOCOL (or ERR_INTERNAL), with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "httpmsg.h"

struct outcome {
    int rc, done, status;
    struct httpmsg_response r;
};

static void run(const uint8_t *d, size_t n, uint8_t seed, int eof, size_t body_max,
                struct outcome *o)
{
    static struct httpmsg_parser p;
    uint32_t rng = seed;
    size_t pos = 0;
    struct err e;

    httpmsg_parser_init(&p, &o->r, body_max, NULL, NULL);
    o->rc = 0;
    while (pos < n && o->rc == 0 && !httpmsg_parser_done(&p)) {
        size_t piece = seed ? 1 + fuzz_rand(&rng) % (seed & 0x7f ? (seed & 0x7f) * 3u : 1u)
                            : n - pos,
               used = 0;
        if (piece > n - pos) piece = n - pos;
        o->rc = httpmsg_parser_feed(&p, d + pos, piece, &used, &e);
        FUZZ_CHECK(used <= piece);
        if (o->rc == 0) FUZZ_CHECK(used == piece || httpmsg_parser_done(&p));
        pos += used;
    }
    if (o->rc == 0 && eof && !httpmsg_parser_done(&p)) o->rc = httpmsg_parser_eof(&p, &e);
    if (o->rc < 0) {
        FUZZ_CHECK(e.kind == ERR_PROTOCOL || e.kind == ERR_INTERNAL);
        FUZZ_CHECK(e.msg[0] != '\0');
    }
    o->done = httpmsg_parser_done(&p);
    o->status = o->r.status;
}

static void check_printable(const char *s)
{
    for (; *s; s++) FUZZ_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static void check_complete(const struct outcome *o, size_t body_max)
{
    FUZZ_CHECK(o->status >= 200 && o->status <= 599);
    FUZZ_CHECK(o->r.body != NULL);
    FUZZ_CHECK(o->r.body_len <= body_max);
    FUZZ_CHECK(o->r.body[o->r.body_len] == '\0');
    if (!memchr(o->r.body, '\0', o->r.body_len))
        FUZZ_CHECK(strlen((const char *)o->r.body) == o->r.body_len);
    check_printable(o->r.reason);
    check_printable(o->r.content_type);
    check_printable(o->r.location);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome a, b;
    uint8_t seed;
    size_t body_max;
    int eof;

    if (size < 3) return 0;
    seed = data[0] & 0x7f;
    eof = data[0] >> 7;
    body_max = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    run(data, size, 0, eof, body_max, &a);
    run(data, size, seed ? seed : 1, eof, body_max, &b);
    FUZZ_CHECK((a.rc < 0) == (b.rc < 0));
    FUZZ_CHECK(a.done == b.done);
    if (a.rc == 0 && a.done) {
        check_complete(&a, body_max);
        check_complete(&b, body_max);
        FUZZ_CHECK(a.status == b.status);
        FUZZ_CHECK(a.r.body_len == b.r.body_len);
        FUZZ_CHECK(memcmp(a.r.body, b.r.body, a.r.body_len) == 0);
        FUZZ_CHECK(strcmp(a.r.location, b.r.location) == 0);
    }
    httpmsg_response_free(&a.r);
    httpmsg_response_free(&b.r);
    return 0;
}
