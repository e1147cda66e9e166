/*
 * httpmsg — URLs, forms and the response parser. See httpmsg.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "httpmsg.h"

/* ---- URLs ----------------------------------------------------------------- */

static int bad_url(struct err *e, const char *what, const char *url, const char *why)
{
    char q[120];

    err_quote(q, sizeof q, url, strlen(url));
    err_set(e, ERR_USAGE, "`%s` is not a usable https URL (%s): %s", what, why, q);
    err_hint(e, "write it as https://HOST[:PORT]/PATH");
    return -1;
}

/* Host and port of an authority "host", "host:port", "[v6]" or "[v6]:port". */
static int parse_authority(const char *a, size_t n, struct httpmsg_url *u)
{
    const char *host = a, *colon = NULL;
    size_t hlen;

    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close) return -1;
        host = a + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < a + n) {
            if (close[1] != ':') return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
    }
    if (hlen == 0 || hlen >= sizeof u->host) return -1;
    for (size_t i = 0; i < hlen; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr(".-_:", host[i])) return -1;
    if (a[0] != '[' && memchr(host, ':', hlen)) return -1;
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    u->port = 443;
    if (colon) {
        unsigned long port = 0;
        const char *p = colon + 1, *end = a + n;
        if (p == end || end - p > 5) return -1;
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p)) return -1;
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535) return -1;
        u->port = (unsigned)port;
    }
    return 0;
}

int httpmsg_url_parse(const char *url, const char *what, struct httpmsg_url *u, struct err *e)
{
    static const char scheme[] = "https://";
    const char *a, *slash;
    size_t alen;

    memset(u, 0, sizeof *u);
    if (strncasecmp(url, scheme, sizeof scheme - 1) != 0)
        return bad_url(e, what, url, "it must start with https://");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return bad_url(e, what, url, "a space or control byte");
    if (strchr(url, '#')) return bad_url(e, what, url, "a #fragment");
    a = url + sizeof scheme - 1;
    slash = a + strcspn(a, "/?");
    alen = (size_t)(slash - a);
    if (memchr(a, '@', alen)) return bad_url(e, what, url, "a user name in it");
    if (parse_authority(a, alen, u) < 0) return bad_url(e, what, url, "a bad host or port");
    if (strlen(slash) + 2 > sizeof u->path) return bad_url(e, what, url, "too long");
    snprintf(u->path, sizeof u->path, "%s%s", *slash == '/' ? "" : "/", slash);
    return 0;
}

int httpmsg_same_origin(const struct httpmsg_url *a, const struct httpmsg_url *b)
{
    return a->port == b->port && strcasecmp(a->host, b->host) == 0;
}

/* ---- forms ---------------------------------------------------------------- */

static int unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t encoded_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++) n += unreserved((unsigned char)*s) || *s == ' ' ? 1 : 3;
    return n;
}

static char *put_encoded(char *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (unreserved(c)) {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    return o;
}

char *httpmsg_form_encode(const struct httpmsg_field *f, size_t n, int masked)
{
    size_t len = 1;
    char *out, *o;

    for (size_t i = 0; i < n; i++)
        len += encoded_len(f[i].name) + 2 + (masked && f[i].secret ? 4 : encoded_len(f[i].value));
    if (!(out = malloc(len))) return NULL;
    o = out;
    for (size_t i = 0; i < n; i++) {
        if (i) *o++ = '&';
        o = put_encoded(o, f[i].name);
        *o++ = '=';
        if (masked && f[i].secret) {
            memcpy(o, "****", 4);
            o += 4;
        } else {
            o = put_encoded(o, f[i].value);
        }
    }
    *o = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int httpmsg_form_decode(const char *src, size_t len, char *dst, size_t *dlen)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (i + 2 >= len) return -1;
            hi = hexval(src[i + 1]);
            lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    if (dlen) *dlen = o;
    return 0;
}

int httpmsg_query_get(const char *q, size_t len, const char *name, char *dst, size_t dmax)
{
    size_t nlen = strlen(name), pos = 0;
    int found = 0;

    while (pos < len) {
        const char *amp = memchr(q + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - q) : len, plen = end - pos;
        const char *eq = memchr(q + pos, '=', plen);

        if (eq && (size_t)(eq - (q + pos)) == nlen && memcmp(q + pos, name, nlen) == 0) {
            size_t vlen = end - (size_t)(eq + 1 - q);
            if (found || vlen + 1 > dmax) return -1;
            if (httpmsg_form_decode(eq + 1, vlen, dst, NULL) < 0) return -1;
            found = 1;
        }
        pos = end + 1;
    }
    return found;
}

void httpmsg_wipe_free(char *s)
{
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* ---- the response parser --------------------------------------------------- */

static int fail(struct httpmsg_parser *p, struct err *e, const char *why, const char *line,
                size_t len)
{
    char q[160];

    p->state = HM_FAILED;
    if (!line) return err_set(e, ERR_PROTOCOL, "bad HTTP response: %s", why);
    err_quote(q, sizeof q, line, len);
    return err_set(e, ERR_PROTOCOL, "bad HTTP response: %s: \"%s\"", why, q);
}

void httpmsg_parser_init(struct httpmsg_parser *p, struct httpmsg_response *r, size_t body_max,
                         httpmsg_line_fn on_line, void *ctx)
{
    memset(p, 0, sizeof *p);
    memset(r, 0, sizeof *r);
    p->r = r;
    p->body_max = body_max;
    p->on_line = on_line;
    p->on_line_ctx = ctx;
    p->state = HM_STATUS;
}

static int body_reserve(struct httpmsg_parser *p, size_t more, struct err *e)
{
    struct httpmsg_response *r = p->r;
    size_t need = r->body_len + more + 1, cap;
    unsigned char *nb;

    if (r->body_len + more > p->body_max)
        return fail(p, e, "the body is larger than popfetch accepts", NULL, 0);
    if (need <= r->body_cap) return 0;
    cap = r->body_cap ? r->body_cap : 1024;
    while (cap < need) cap *= 2;
    if (cap > p->body_max + 1) cap = p->body_max + 1;
    /* never realloc: the old buffer may hold a token and must be wiped */
    if (!(nb = malloc(cap))) {
        p->state = HM_FAILED;
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (r->body) {
        memcpy(nb, r->body, r->body_len);
        OPENSSL_cleanse(r->body, r->body_cap);
        free(r->body);
    }
    r->body = nb;
    r->body_cap = cap;
    return 0;
}

static int body_add(struct httpmsg_parser *p, const unsigned char *b, size_t n, struct err *e)
{
    if (body_reserve(p, n, e) < 0) return -1;
    memcpy(p->r->body + p->r->body_len, b, n);
    p->r->body_len += n;
    p->r->body[p->r->body_len] = '\0';
    return 0;
}

/* "HTTP/1.1 200 OK" */
static int status_line(struct httpmsg_parser *p, const char *l, size_t n, struct err *e)
{
    struct httpmsg_response *r = p->r;
    int st = 0;

    if (n < 12 || (memcmp(l, "HTTP/1.1 ", 9) != 0 && memcmp(l, "HTTP/1.0 ", 9) != 0))
        return fail(p, e, "not an HTTP/1.x status line", l, n);
    for (int i = 9; i < 12; i++) {
        if (!isdigit((unsigned char)l[i])) return fail(p, e, "bad status code", l, n);
        st = st * 10 + (l[i] - '0');
    }
    if (st < 100 || st > 599 || (n > 12 && l[12] != ' '))
        return fail(p, e, "bad status code", l, n);
    r->status = st;
    err_quote(r->reason, sizeof r->reason, n > 13 ? l + 13 : "", n > 13 ? n - 13 : 0);
    p->state = HM_HEADERS;
    p->headers = 0;
    p->have_length = p->chunked = 0;
    p->length = 0;
    return 0;
}

static int is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* A header value without the spaces around it. */
static void trim(const char **v, size_t *n)
{
    while (*n && (**v == ' ' || **v == '\t')) (*v)++, (*n)--;
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t')) (*n)--;
}

static int name_is(const char *l, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(l, name, n) == 0;
}

static int content_length(struct httpmsg_parser *p, const char *v, size_t n, struct err *e)
{
    unsigned long long len = 0;

    if (n == 0 || n > 19) return fail(p, e, "bad Content-Length", v, n);
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i])) return fail(p, e, "bad Content-Length", v, n);
        len = len * 10 + (unsigned long long)(v[i] - '0');
    }
    if (p->have_length && p->length != len)
        return fail(p, e, "two different Content-Length values", v, n);
    p->have_length = 1;
    p->length = len;
    return 0;
}

static void copy_value(char *dst, size_t max, const char *v, size_t n, int *too_long)
{
    if (n >= max) {
        dst[0] = '\0';
        if (too_long) *too_long = 1;
        return;
    }
    err_quote(dst, max, v, n);
}

static void media_type(char *dst, size_t max, const char *v, size_t n)
{
    size_t m = 0;

    while (m < n && v[m] != ';') m++;
    while (m && (v[m - 1] == ' ' || v[m - 1] == '\t')) m--;
    copy_value(dst, max, v, m, NULL);
    for (char *c = dst; *c; c++) *c = (char)tolower((unsigned char)*c);
}

static int header_line(struct httpmsg_parser *p, const char *l, size_t n, struct err *e)
{
    const char *colon = memchr(l, ':', n), *v;
    size_t nlen, vlen;

    if (++p->headers > HTTPMSG_MAX_HEADERS) return fail(p, e, "too many header lines", NULL, 0);
    if (l[0] == ' ' || l[0] == '\t') return fail(p, e, "a folded header line", l, n);
    if (!colon || colon == l) return fail(p, e, "a header line without a name", l, n);
    nlen = (size_t)(colon - l);
    for (size_t i = 0; i < nlen; i++)
        if (!is_token_char((unsigned char)l[i])) return fail(p, e, "a bad header name", l, n);
    v = colon + 1;
    vlen = n - nlen - 1;
    trim(&v, &vlen);
    if (p->state == HM_TRAILERS) return 0; /* trailers carry nothing we use */
    if (name_is(l, nlen, "Content-Length")) return content_length(p, v, vlen, e);
    if (name_is(l, nlen, "Transfer-Encoding")) {
        if (!(vlen == 7 && strncasecmp(v, "chunked", 7) == 0))
            return fail(p, e, "a Transfer-Encoding other than chunked", v, vlen);
        p->chunked = 1;
    } else if (name_is(l, nlen, "Location")) {
        copy_value(p->r->location, sizeof p->r->location, v, vlen, &p->r->location_too_long);
    } else if (name_is(l, nlen, "Content-Type")) {
        media_type(p->r->content_type, sizeof p->r->content_type, v, vlen);
    }
    return 0;
}

/* The empty line after the headers: what the body is. */
static int end_of_head(struct httpmsg_parser *p, struct err *e)
{
    int st = p->r->status;

    if (st >= 100 && st < 200) { /* interim: the real response follows */
        if (st == 101) return fail(p, e, "the server switched protocols", NULL, 0);
        if (++p->interim > HTTPMSG_MAX_INTERIM)
            return fail(p, e, "too many interim (1xx) responses", NULL, 0);
        p->state = HM_STATUS;
        return 0;
    }
    if (body_reserve(p, 0, e) < 0) return -1; /* a body of "" at least */
    p->r->body[0] = '\0';
    if (st == 204 || st == 304) {
        p->state = HM_DONE;
    } else if (p->chunked) {
        p->state = HM_CHUNK_SIZE;
    } else if (p->have_length) {
        if (p->length > p->body_max)
            return fail(p, e, "the body is larger than popfetch accepts", NULL, 0);
        p->state = p->length ? HM_BODY_LENGTH : HM_DONE;
    } else {
        p->state = HM_BODY_EOF;
    }
    return 0;
}

/* "1a2b[;extension]" */
static int chunk_size(struct httpmsg_parser *p, const char *l, size_t n, struct err *e)
{
    unsigned long long size = 0;
    size_t i = 0;

    for (; i < n && isxdigit((unsigned char)l[i]); i++) {
        int d =
            isdigit((unsigned char)l[i]) ? l[i] - '0' : (tolower((unsigned char)l[i]) - 'a' + 10);
        if (size > p->body_max) break;
        size = size * 16 + (unsigned long long)d;
    }
    if (i == 0) return fail(p, e, "a bad chunk size", l, n);
    if (size > p->body_max || size + p->r->body_len > p->body_max)
        return fail(p, e, "the body is larger than popfetch accepts", NULL, 0);
    while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
    if (i < n && l[i] != ';') return fail(p, e, "a bad chunk size", l, n);
    p->length = size;
    p->headers = 0;
    p->state = size ? HM_CHUNK_DATA : HM_TRAILERS;
    return 0;
}

/* A complete line (without its CR LF or LF) for the state that wants one. */
static int on_line(struct httpmsg_parser *p, const char *l, size_t n, struct err *e)
{
    if (p->on_line && n > 0 && (p->state == HM_STATUS || p->state == HM_HEADERS))
        p->on_line(p->on_line_ctx, l, n);
    switch (p->state) {
    case HM_STATUS:
        /* an empty line before the status line is ignored (RFC 9112 2.2) */
        if (n == 0 && ++p->headers <= HTTPMSG_MAX_HEADERS) return 0;
        return status_line(p, l, n, e);
    case HM_HEADERS:
        return n == 0 ? end_of_head(p, e) : header_line(p, l, n, e);
    case HM_CHUNK_SIZE:
        return chunk_size(p, l, n, e);
    case HM_CHUNK_END:
        if (n != 0) return fail(p, e, "no line end after a chunk", l, n);
        p->state = HM_CHUNK_SIZE;
        return 0;
    case HM_TRAILERS:
        if (n == 0) {
            p->state = HM_DONE;
            return 0;
        }
        return header_line(p, l, n, e);
    default:
        return fail(p, e, "internal parser state", NULL, 0);
    }
}

/* Gather a line; 1 when one is complete (in p->line, p->line_len). */
static int take_line(struct httpmsg_parser *p, const unsigned char *b, size_t len, size_t *used,
                     struct err *e)
{
    const unsigned char *nl = memchr(b, '\n', len);
    size_t n = nl ? (size_t)(nl - b) : len;

    if (p->line_len + n > HTTPMSG_LINE_MAX)
        return fail(p, e, "a line longer than popfetch accepts", p->line, p->line_len);
    memcpy(p->line + p->line_len, b, n);
    p->line_len += n;
    *used = nl ? n + 1 : n;
    if (!nl) return 0;
    if (p->line_len && p->line[p->line_len - 1] == '\r') p->line_len--;
    if (memchr(p->line, '\0', p->line_len))
        return fail(p, e, "a NUL byte in the head", p->line, p->line_len);
    p->line[p->line_len] = '\0';
    return 1;
}

/* Body bytes the current state wants from b[0..len). */
static int body_bytes(struct httpmsg_parser *p, const unsigned char *b, size_t len, size_t *used,
                      struct err *e)
{
    size_t n = len;

    if (p->state != HM_BODY_EOF && p->length < n) n = (size_t)p->length;
    if (body_add(p, b, n, e) < 0) return -1;
    *used = n;
    if (p->state == HM_BODY_EOF) return 0;
    p->length -= n;
    if (p->length == 0) p->state = p->state == HM_BODY_LENGTH ? HM_DONE : HM_CHUNK_END;
    return 0;
}

int httpmsg_parser_feed(struct httpmsg_parser *p, const unsigned char *buf, size_t len,
                        size_t *used, struct err *e)
{
    size_t pos = 0;

    *used = 0;
    if (p->state == HM_FAILED) return err_set(e, ERR_PROTOCOL, "bad HTTP response");
    while (pos < len && p->state != HM_DONE) {
        size_t u = 0;
        int rc;

        if (p->state == HM_BODY_LENGTH || p->state == HM_BODY_EOF || p->state == HM_CHUNK_DATA) {
            rc = body_bytes(p, buf + pos, len - pos, &u, e);
        } else {
            rc = take_line(p, buf + pos, len - pos, &u, e);
            if (rc == 1) {
                size_t n = p->line_len;
                p->line_len = 0;
                rc = on_line(p, p->line, n, e);
            }
        }
        pos += u;
        if (rc < 0) {
            *used = pos;
            return -1;
        }
    }
    *used = pos;
    return 0;
}

int httpmsg_parser_eof(struct httpmsg_parser *p, struct err *e)
{
    if (p->state == HM_DONE) return 0;
    if (p->state == HM_BODY_EOF) {
        p->state = HM_DONE;
        return 0;
    }
    if (p->state == HM_FAILED) return err_set(e, ERR_PROTOCOL, "bad HTTP response");
    return fail(p, e,
                p->state == HM_STATUS && p->r->status == 0
                    ? "the server closed the connection without an answer"
                    : "the server closed the connection in the middle of the response",
                NULL, 0);
}

int httpmsg_parser_done(const struct httpmsg_parser *p)
{
    return p->state == HM_DONE;
}

void httpmsg_response_free(struct httpmsg_response *r)
{
    if (r->body) {
        OPENSSL_cleanse(r->body, r->body_cap);
        free(r->body);
    }
    memset(r, 0, sizeof *r);
}
