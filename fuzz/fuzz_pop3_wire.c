/*
 * fuzz_pop3_wire — POP3 over the wire (src/pop3.h on src/net.h): the
 * greeting and its APOP timestamp (pop3_greeting), CAPA (pop3_capa), status
 * replies (pop3_simple, pop3_reply), multi-line listings (pop3_list_line with
 * pop3_parse_stat / _list_line / _uidl_line, as session.c uses them),
 * message bodies (pop3_body, through dotstream) and AUTH continuation lines
 * (pop3_auth_reply), all read through net.c's buffered reader from a fake
 * server whose output arrives in pieces of pseudo-random size.
 *
 * Input: byte 0 picks the chunking; byte 1: bits 0-2 the stage to start at
 * (greeting, CAPA, STAT, LIST, UIDL, RETR body, TOP body with a NULL
 * writer, AUTH replies; each stage then runs the ones after it), bits 3-4
 * when the body writer fails (never, at once, after 64 bytes), bits 5-6
 * max_bytes for pop3_body (none, 16, 1000). The rest is the server's output.
 *
 * Invariants (abort on violation):
 *  - every line the trace hook sees is exactly the next server line without
 *    its LF and one CR (checked against the input offsets), within its
 *    limit; commands are single lines;
 *  - a listing line is the raw line with one leading dot removed, and the
 *    lone "." ends the listing;
 *  - pop3_body: whole body and terminator iff the reference decoder finds
 *    the terminator; it consumes exactly up to the terminator; the writer
 *    sees exactly the reference output (a prefix if it failed, and then
 *    pop3_body returns 1 and still consumes the body); never
 *    ERR_INTERNAL; at most one read buffer beyond max_bytes is accepted;
 *  - a continuation's challenge points inside its line; the APOP timestamp
 *    is a printable "<...@...>" under 256 bytes; CAPA's fields stay within
 *    their buffers.
 */
#include <string.h>

#include "harness.h"
#include "pop3.h"
#include "sasl.h"

enum stage { ST_GREETING, ST_CAPA, ST_STAT, ST_LIST, ST_UIDL, ST_RETR, ST_TOP, ST_AUTH };

struct ctx {
    struct fake_server *f;
    const uint8_t *data;
    size_t size;
    size_t prev;               /* input offset where the next line starts */
    size_t last_off, last_len; /* the last server line the trace saw */
    int fail_mode;
    uint8_t *got; /* what the body writer received */
    size_t glen;
    int failed;
};

static void trace(void *vctx, char dir, const char *line, size_t len)
{
    struct ctx *c = vctx;
    size_t now, rawlen;

    FUZZ_CHECK(!memchr(line, '\n', len));
    if (dir == 'C') {
        FUZZ_CHECK(!memchr(line, '\r', len));
        return;
    }
    FUZZ_CHECK(dir == 'S');
    now = fake_server_consumed(c->f);
    FUZZ_CHECK(now > c->prev && now <= c->size && c->data[now - 1] == '\n');
    rawlen = now - 1 - c->prev;
    if (rawlen > 0 && c->data[c->prev + rawlen - 1] == '\r') rawlen--;
    FUZZ_CHECK(len == rawlen && memcmp(line, c->data + c->prev, len) == 0);
    FUZZ_CHECK(len <= POP3_AUTH_LINE_MAX);
    c->last_off = c->prev;
    c->last_len = len;
    c->prev = now;
}

static int writer(void *vctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct ctx *c = vctx;

    FUZZ_CHECK(!c->failed); /* not called again after a failure */
    if (c->fail_mode == 1 || (c->fail_mode == 2 && c->glen + len > 64)) {
        c->failed = 1;
        return err_set(e, ERR_DELIVERY, "fuzz: writer refuses");
    }
    memcpy(c->got + c->glen, buf, len);
    c->glen += len;
    return 0;
}

static int listing(struct pop3 *p, struct ctx *c, int uidl)
{
    const char *line, *uid;
    size_t len, uidlen;
    struct err e;
    int rc;

    while ((rc = pop3_list_line(p, &line, &len, &e)) == 1) {
        const uint8_t *raw = c->data + c->last_off;
        size_t stuffed = c->last_len > 0 && raw[0] == '.';
        unsigned long n;
        uint64_t size;

        FUZZ_CHECK(len <= POP3_LIST_LINE_MAX);
        FUZZ_CHECK(len + stuffed == c->last_len && memcmp(line, raw + stuffed, len) == 0);
        FUZZ_CHECK(!(stuffed && len == 0)); /* "." ends the listing */
        if (uidl)
            pop3_parse_uidl_line(line, len, &n, &uid, &uidlen);
        else
            pop3_parse_list_line(line, len, &n, &size);
    }
    if (rc == 0) FUZZ_CHECK(c->last_len == 1 && c->data[c->last_off] == '.');
    FUZZ_CHECK(rc == 0 || e.kind != ERR_INTERNAL);
    return rc;
}

static int body(struct pop3 *p, struct ctx *c, int with_writer, uint64_t max_bytes)
{
    size_t start = fake_server_consumed(c->f), rlen, rplen, rend;
    struct err werr, e;
    uint8_t *ref = malloc(c->size - start + 1);
    int rdone, rc;

    if (!ref) abort();
    rdone = fuzz_dot_reference(c->data + start, c->size - start, ref, &rlen, &rplen, &rend);
    c->glen = 0;
    c->failed = 0;
    werr.kind = ERR_NONE;
    p->trace = NULL; /* its body line is not a server line */
    rc = pop3_body(p, with_writer ? writer : NULL, c, max_bytes, &werr, &e);
    p->trace = trace;
    if (rc < 0) {
        FUZZ_CHECK(e.kind != ERR_INTERNAL);
        FUZZ_CHECK(!rdone || (max_bytes && rlen > max_bytes));
    } else {
        FUZZ_CHECK(rdone);
        FUZZ_CHECK(fake_server_consumed(c->f) == start + rend);
        FUZZ_CHECK(rc == (c->failed ? 1 : 0));
        if (rc == 1) FUZZ_CHECK(werr.kind == ERR_DELIVERY);
        if (with_writer) {
            FUZZ_CHECK(c->glen <= rlen && memcmp(c->got, ref, c->glen) == 0);
            if (!c->failed) FUZZ_CHECK(c->glen == rlen);
        }
        if (max_bytes) FUZZ_CHECK(rlen <= max_bytes);
        c->prev = start + rend;
    }
    free(ref);
    return rc < 0 ? -1 : 0;
}

static void check_capa(const struct pop3_capa *capa)
{
    FUZZ_CHECK(memchr(capa->sasl, '\0', sizeof capa->sasl));
    FUZZ_CHECK(memchr(capa->implementation, '\0', sizeof capa->implementation));
}

static int auth_replies(struct pop3 *p)
{
    for (int step = 0; step < 16; step++) {
        struct pop3_reply r;
        const char *chal;
        size_t clen, dlen;
        struct err e;
        unsigned char *raw;

        if (pop3_auth_reply(p, &r, &chal, &clen, &e) < 0) return -1;
        if (r.status != POP3_CONT) {
            FUZZ_CHECK(chal == NULL && clen == 0);
            return 0;
        }
        FUZZ_CHECK(chal != NULL && clen <= POP3_AUTH_LINE_MAX);
        /* Decode the challenge where it lies, as auth.c does. */
        raw = malloc(sasl_b64_decoded_size(clen) + 1);
        if (!raw) abort();
        if (sasl_b64_decode(chal, clen, raw, &dlen) == 0)
            FUZZ_CHECK(dlen <= sasl_b64_decoded_size(clen));
        free(raw);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t maxes[] = {0, 16, 1000, 0};
    struct fake_server f;
    struct pop3 p;
    struct pop3_reply r;
    struct ctx c;
    struct err e;
    int stage, fail_mode;
    uint64_t max_bytes;
    uint8_t seed;

    if (size < 2) return 0;
    seed = data[0];
    stage = data[1] & 7;
    fail_mode = (data[1] >> 3) & 3;
    max_bytes = maxes[(data[1] >> 5) & 3];
    data += 2;
    size -= 2;
    if (fake_server_open(&f, data, size, seed) < 0) return 0;
    memset(&c, 0, sizeof c);
    c.f = &f;
    c.data = data;
    c.size = size;
    c.fail_mode = fail_mode == 3 ? 0 : fail_mode;
    if (!(c.got = malloc(size + 1))) abort();
    pop3_init(&p, &f.net);
    p.trace = trace;
    p.trace_ctx = &c;

    switch (stage) {
    case ST_GREETING:
        if (pop3_greeting(&p, &e) < 0) break;
        if (p.apop_ts[0]) {
            size_t n = strlen(p.apop_ts);
            char hex[33];
            FUZZ_CHECK(n >= 3 && n < sizeof p.apop_ts);
            FUZZ_CHECK(p.apop_ts[0] == '<' && p.apop_ts[n - 1] == '>' && strchr(p.apop_ts, '@'));
            for (size_t i = 0; i < n; i++) FUZZ_CHECK(p.apop_ts[i] > ' ' && p.apop_ts[i] < 0x7f);
            if (sasl_apop_digest(p.apop_ts, "secret", hex, &e) == 0) FUZZ_CHECK(strlen(hex) == 32);
        }
        /* fall through */
    case ST_CAPA:
        if (pop3_capa(&p, &e) < 0) break;
        check_capa(&p.capa);
        /* fall through */
    case ST_STAT: {
        unsigned long n;
        uint64_t total;
        if (pop3_simple(&p, "STAT", "STAT", &r, &e) < 0) break;
        pop3_parse_stat(r.text, strlen(r.text), &n, &total);
    }
        /* fall through */
    case ST_LIST:
        if (pop3_simple(&p, "LIST", "LIST", &r, &e) < 0 || listing(&p, &c, 0) < 0) break;
        /* fall through */
    case ST_UIDL:
        if (pop3_send(&p, "UIDL", NULL, &e) < 0 || pop3_reply(&p, &r, &e) < 0) break;
        if (r.status == POP3_OK && listing(&p, &c, 1) < 0) break;
        /* fall through */
    case ST_RETR:
        if (pop3_simple(&p, "RETR 1", "RETR", &r, &e) < 0 || body(&p, &c, 1, max_bytes) < 0) break;
        /* fall through */
    case ST_TOP:
        if (pop3_simple(&p, "TOP 1 0", "TOP", &r, &e) < 0 || body(&p, &c, 0, 0) < 0) break;
        /* fall through */
    case ST_AUTH:
        if (pop3_send(&p, "AUTH SCRAM-SHA-256", NULL, &e) < 0 || auth_replies(&p) < 0) break;
        pop3_simple(&p, "QUIT", "QUIT", &r, &e);
        break;
    }
    free(c.got);
    fake_server_close(&f);
    return 0;
}
