/*
 * httpmsg — the pure half of popfetch's HTTP/1.1 client (http.h does the
 * I/O): https URLs, application/x-www-form-urlencoded bodies, and an
 * incremental parser of one response (status line, headers, a body sized by
 * Content-Length, sent chunked, or read to the end of the stream).
 *
 * Every byte of a response is untrusted and bounded: the status line and
 * each header line at most HTTPMSG_LINE_MAX bytes, at most
 * HTTPMSG_MAX_HEADERS header lines (and as many trailer lines), the body at
 * most the caller's body_max (decoded), chunk sizes and Content-Length
 * checked against it before anything is read. A malformed response is an
 * ERR_PROTOCOL error quoting (escaped, cut) what was wrong; the parser never
 * reads past what it was given and never crashes. What it does not support
 * is refused rather than misread: a Transfer-Encoding other than chunked,
 * conflicting Content-Length values, folded header lines, more than a few
 * interim (1xx) responses.
 *
 * The body may hold secrets (tokens): httpmsg_response_free() wipes it.
 * Nothing here prints, exits or touches the network.
 */
#ifndef POPFETCH_HTTPMSG_H
#define POPFETCH_HTTPMSG_H

#include <stddef.h>

#include "err.h"

#define HTTPMSG_LINE_MAX    8192 /* the status line, one header or chunk-size line */
#define HTTPMSG_MAX_HEADERS 100  /* header lines per response (and trailer lines) */
#define HTTPMSG_MAX_INTERIM 5    /* 1xx responses before the real one */
#define HTTPMSG_HOST_MAX    256
#define HTTPMSG_PATH_MAX    4096

/* ---- URLs ----------------------------------------------------------------- */

struct httpmsg_url {
    char host[HTTPMSG_HOST_MAX]; /* a name or an IP literal (IPv6 without brackets) */
    unsigned port;               /* 443 unless given */
    char path[HTTPMSG_PATH_MAX]; /* path and query, starting with '/' */
};

/* "https://HOST[:PORT][/PATH][?QUERY]". Only https; no user info, no
 * fragment, no spaces or control bytes. ERR_USAGE naming `what` (the
 * config key) when it is not such a URL. */
int httpmsg_url_parse(const char *url, const char *what, struct httpmsg_url *u, struct err *e);

/* Do two URLs name the same origin (host, case-insensitively, and port)? */
int httpmsg_same_origin(const struct httpmsg_url *a, const struct httpmsg_url *b);

/* ---- forms ---------------------------------------------------------------- */

struct httpmsg_field {
    const char *name, *value;
    int secret; /* shown as **** in a trace */
};

/* The form as application/x-www-form-urlencoded text in a fresh buffer
 * (unreserved bytes as they are, space as '+', the rest %XX); with `masked`
 * the values of secret fields are "****". NULL when out of memory. The
 * caller wipes and frees it (httpmsg_wipe_free). */
char *httpmsg_form_encode(const struct httpmsg_field *f, size_t n, int masked);

/* Percent-decode (and '+' to space, as in a form or a query) src[0..len)
 * into dst (room for len + 1 bytes), NUL-terminated. -1 on a bad %XX or
 * a NUL byte. */
int httpmsg_form_decode(const char *src, size_t len, char *dst, size_t *dlen);

/* The value of `name` in a query or form "a=1&b=2" (percent-decoded, into
 * dst of dmax bytes). 1 found, 0 not there, -1 malformed or too long. A
 * name given twice is malformed (-1): an injected second value must not
 * be taken for the first. */
int httpmsg_query_get(const char *query, size_t len, const char *name, char *dst, size_t dmax);

/* OPENSSL_cleanse the string, then free it (NULL is fine). */
void httpmsg_wipe_free(char *s);

/* ---- responses ------------------------------------------------------------ */

struct httpmsg_response {
    int status;             /* 200, 400, ... */
    char reason[128];       /* printable, cut */
    char location[2048];    /* Location (redirects), "" if none or too long */
    int location_too_long;  /* it was there but did not fit */
    char content_type[128]; /* media type, lower case, without parameters */
    unsigned char *body;    /* decoded body, NUL-terminated (body_len excludes it) */
    size_t body_len;
    size_t body_cap; /* bytes allocated (all wiped on free) */
};

/* Sees each line of the head as received (the status line, each header,
 * and the empty line that ends them is not shown), for a -vv trace. */
typedef void (*httpmsg_line_fn)(void *ctx, const char *line, size_t len);

enum httpmsg_state {
    HM_STATUS,
    HM_HEADERS,
    HM_BODY_LENGTH,
    HM_BODY_EOF,
    HM_CHUNK_SIZE,
    HM_CHUNK_DATA,
    HM_CHUNK_END,
    HM_TRAILERS,
    HM_DONE,
    HM_FAILED,
};

struct httpmsg_parser {
    enum httpmsg_state state;
    struct httpmsg_response *r;
    size_t body_max;
    char line[HTTPMSG_LINE_MAX + 1];
    size_t line_len;
    int line_cr;      /* the line's last byte so far was CR */
    unsigned headers; /* header (or trailer) lines so far */
    unsigned interim; /* 1xx responses skipped */
    int have_length, chunked;
    unsigned long long length; /* Content-Length, or the current chunk's size */
    httpmsg_line_fn on_line;
    void *on_line_ctx;
};

/* Start parsing into r (zeroed). The body is bounded by body_max bytes. */
void httpmsg_parser_init(struct httpmsg_parser *p, struct httpmsg_response *r, size_t body_max,
                         httpmsg_line_fn on_line, void *ctx);

/* Give the parser the next bytes of the stream. *used says how many it
 * took (all of them, unless the response ended before). 0, or -1 with
 * ERR_PROTOCOL (ERR_INTERNAL when out of memory); the parser then refuses
 * further input. */
int httpmsg_parser_feed(struct httpmsg_parser *p, const unsigned char *buf, size_t len,
                        size_t *used, struct err *e);

/* The stream ended: 0 if that completes the response (a body read to the
 * end of the stream), else -1 (ERR_PROTOCOL: cut short). */
int httpmsg_parser_eof(struct httpmsg_parser *p, struct err *e);

/* The whole response has been parsed. */
int httpmsg_parser_done(const struct httpmsg_parser *p);

/* Wipe and free the body; r is zeroed. */
void httpmsg_response_free(struct httpmsg_response *r);

#endif
