/*
 * header — fields, addresses and senders from a message's header block;
 * 8-bit detection. See header.h.
 */
#include <stdio.h>
#include <string.h>

#include "header.h"

/* ---- finding a header field ------------------------------------------- */

enum hmode { H_NAME, H_SKIP, H_VALUE };

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static void value_byte(struct header_find *h, unsigned char c)
{
    if (h->len > 0 && h->vlen < h->len - 1) h->buf[h->vlen] = (char)c;
    h->vlen++;
}

/* The first byte of a line: the end of the header block, a continuation
 * line, or the start of another field. */
static void line_start(struct header_find *h, unsigned char c)
{
    h->bol = 0;
    if (c == '\n') {
        h->done = 1;
    } else if (c == ' ' || c == '\t') {
        h->mode = h->found ? H_VALUE : H_SKIP;
    } else if (h->found) {
        h->done = 1;
    } else {
        h->mode = H_NAME;
        h->nmatch = 0;
    }
}

static void name_byte(struct header_find *h, unsigned char c)
{
    if (h->nmatch < h->nlen && lower(c) == lower((unsigned char)h->name[h->nmatch]))
        h->nmatch++;
    else if (h->nmatch == h->nlen && c == ':')
        h->found = 1, h->mode = H_VALUE;
    else if (!(h->nmatch == h->nlen && (c == ' ' || c == '\t')))
        h->mode = H_SKIP;
}

static void scan_byte(struct header_find *h, unsigned char c)
{
    if (h->bol) {
        line_start(h, c);
        if (h->done || h->mode != H_NAME) {
            if (h->mode == H_VALUE && !h->done) value_byte(h, c);
            return;
        }
    }
    if (c == '\n') {
        h->bol = 1;
        if (h->mode == H_NAME) h->mode = H_SKIP;
        return;
    }
    if (h->mode == H_NAME)
        name_byte(h, c);
    else if (h->mode == H_VALUE)
        value_byte(h, c);
}

void header_find_init(struct header_find *h, const char *name, char *buf, size_t len)
{
    memset(h, 0, sizeof *h);
    h->name = name;
    h->nlen = strlen(name);
    h->mode = H_NAME;
    h->bol = 1;
    h->buf = buf;
    h->len = len;
    if (len > 0) buf[0] = '\0';
}

int header_find_feed(struct header_find *h, const unsigned char *p, size_t n)
{
    if (h->done) return 1;
    if (n > HEADER_SCAN_MAX - h->seen) n = HEADER_SCAN_MAX - h->seen;
    for (size_t i = 0; i < n && !h->done; i++) scan_byte(h, p[i]);
    h->seen += n;
    if (h->seen >= HEADER_SCAN_MAX) h->done = 1;
    return h->done;
}

ssize_t header_find_end(struct header_find *h)
{
    if (!h->found) return -1;
    if (h->len > 0) h->buf[h->vlen < h->len - 1 ? h->vlen : h->len - 1] = '\0';
    return (ssize_t)h->vlen;
}

/* ---- addresses ----------------------------------------------------------- */

/* Index just past a quoted string or comment starting at i (val[i] is '"' or
 * '('), or vlen if it never closes. Comments nest; backslash quotes a byte. */
static size_t skip_special(const char *val, size_t vlen, size_t i)
{
    size_t depth = 0;

    if (val[i] == '"') {
        for (i++; i < vlen; i++) {
            if (val[i] == '\\')
                i++;
            else if (val[i] == '"')
                return i + 1;
        }
        return vlen;
    }
    for (; i < vlen; i++) {
        if (val[i] == '\\')
            i++;
        else if (val[i] == '(')
            depth++;
        else if (val[i] == ')' && --depth == 0)
            return i + 1;
    }
    return vlen;
}

/* Index of the first of `stops` outside quotes and comments, or vlen. */
static size_t find_plain(const char *val, size_t from, size_t vlen, const char *stops)
{
    size_t i = from;

    while (i < vlen) {
        if (val[i] == '"' || val[i] == '(')
            i = skip_special(val, vlen, i);
        else if (val[i] && strchr(stops, val[i]))
            return i;
        else
            i++;
    }
    return vlen;
}

static int safe_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("@._+-=/%:,", c));
}

/* Copy val[from..to) without comments and unquoted white space. */
static size_t strip_copy(const char *val, size_t from, size_t to, char *out, size_t max)
{
    size_t o = 0, i = from;

    while (i < to && o < max) {
        char c = val[i];
        if (c == '(') {
            i = skip_special(val, to, i);
        } else if (c == '"') {
            size_t end = skip_special(val, to, i);
            while (i < end && o < max) out[o++] = val[i++];
        } else {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out[o++] = c;
            i++;
        }
    }
    return i < to ? max + 1 : o; /* max + 1: too long */
}

ssize_t header_parse_address(const char *val, size_t vlen, char *buf, size_t len)
{
    char tmp[HEADER_SENDER_MAX + 1] = {0};
    size_t from = 0, to, n, colon, o = 0;

    to = find_plain(val, 0, vlen, "<,");
    if (to < vlen && val[to] == '<') {
        from = to + 1;
        to = find_plain(val, from, vlen, ">");
        if (to == vlen) return -1; /* no closing '>' */
    }
    n = strip_copy(val, from, to, tmp, sizeof tmp - 1);
    if (n > sizeof tmp - 1) return -1;
    /* source route (@a,@b:user@x) or group name (name: user@x;) */
    colon = find_plain(tmp, 0, n, ":");
    if (colon < n) {
        memmove(tmp, tmp + colon + 1, n - colon - 1);
        n -= colon + 1;
    }
    while (n > 0 && tmp[n - 1] == ';') n--;
    if (n + 1 > len) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tmp[i];
        buf[o++] = safe_byte(c) && !(i == 0 && c == '-') ? (char)c : '_';
    }
    buf[o] = '\0';
    return (ssize_t)o;
}

/* ---- senders ------------------------------------------------------------- */

/* The address in field `name`: its length, 0 for <>, -1 if none usable. */
static ssize_t field_address(header_field_fn field, void *ctx, const char *name, char *buf,
                             size_t len)
{
    char val[4096];
    ssize_t vlen = field(ctx, name, val, sizeof val);

    if (vlen < 0 || (size_t)vlen >= sizeof val) return -1;
    return header_parse_address(val, (size_t)vlen, buf, len);
}

size_t header_sender(enum header_sender_use use, header_field_fn field, void *ctx, char *buf,
                     size_t len)
{
    ssize_t n;

    if (len == 0) return 0;
    buf[0] = '\0';
    n = field_address(field, ctx, "Return-Path", buf, len);
    if (use == HEADER_SENDER_MBOX) {
        if (n > 0) return (size_t)n;
        snprintf(buf, len, "%s", HEADER_NULL_SENDER);
        return strlen(buf);
    }
    if (n >= 0) return (size_t)n;
    n = field_address(field, ctx, "From", buf, len);
    if (n > 0) return (size_t)n;
    buf[0] = '\0';
    return 0;
}

ssize_t header_envelope_sender(header_field_fn field, void *ctx, char *buf, size_t len)
{
    static const struct {
        const char *name;
        int need_at;
    } order[] = {
        {"Resent-Sender", 1}, {"Sender", 1}, {"Resent-From", 0}, {"From", 0}, {"Reply-To", 0}};
    ssize_t n;

    if (len == 0) return -1;
    buf[0] = '\0';
    if ((n = field_address(field, ctx, "Return-Path", buf, len)) >= 0) return n;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        n = field_address(field, ctx, order[i].name, buf, len);
        if (n > 0 && (!order[i].need_at || memchr(buf, '@', (size_t)n))) return n;
    }
    buf[0] = '\0';
    return -1;
}

/* ---- 8-bit content ------------------------------------------------------- */

int header_8bit(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned char any = 0;

    for (size_t i = 0; i < n; i++) any |= b[i];
    return (any & 0x80) != 0;
}
