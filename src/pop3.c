/*
 * pop3 — replies, CAPA, listings and bodies on the wire. See pop3.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dotstream.h"
#include "pop3.h"

/* ---- pure parsers ---------------------------------------------------- */

static int word_is(const char *line, size_t len, const char *w)
{
    size_t n = strlen(w);

    return len >= n && strncasecmp(line, w, n) == 0 && (len == n || line[n] == ' ');
}

/* Pick "[CODE]" off the front of text; returns bytes used (0 = no code). */
static size_t take_code(const char *s, size_t len, char *code, size_t max)
{
    size_t i;

    if (len < 3 || s[0] != '[') return 0;
    for (i = 1; i < len && s[i] != ']'; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f || i >= max) return 0;
    if (i == len || i == 1) return 0;
    for (size_t k = 1; k < i; k++) code[k - 1] = (char)toupper((unsigned char)s[k]);
    code[i - 1] = '\0';
    i++;
    while (i < len && s[i] == ' ') i++;
    return i;
}

int pop3_parse_reply(const char *line, size_t len, struct pop3_reply *r)
{
    size_t skip;

    r->code[0] = r->text[0] = '\0';
    if (word_is(line, len, "+OK")) {
        r->status = POP3_OK;
        skip = 3;
    } else if (word_is(line, len, "-ERR")) {
        r->status = POP3_ERR;
        skip = 4;
    } else if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
        r->status = POP3_CONT;
        skip = len == 1 ? 1 : 2;
        err_quote(r->text, sizeof r->text, line + skip, len - skip);
        return 0;
    } else {
        return -1;
    }
    while (skip < len && line[skip] == ' ') skip++;
    skip += take_code(line + skip, len - skip, r->code, sizeof r->code);
    err_quote(r->text, sizeof r->text, line + skip, len - skip);
    return 0;
}

int pop3_code_is(const struct pop3_reply *r, const char *code)
{
    size_t n = strlen(code);

    return strncasecmp(r->code, code, n) == 0 && (r->code[n] == '\0' || r->code[n] == '/');
}

void pop3_capa_reset(struct pop3_capa *c)
{
    memset(c, 0, sizeof *c);
    c->expire = -1;
    c->login_delay = -1;
}

/* Number after a capability name: digits, or -2 for NEVER, -1 if malformed. */
static long capa_number(const char *s, size_t len)
{
    long v = 0;
    size_t i = 0;

    if (len >= 5 && strncasecmp(s, "NEVER", 5) == 0) return -2;
    if (len == 0 || !isdigit((unsigned char)s[0])) return -1;
    for (; i < len && isdigit((unsigned char)s[i]); i++) {
        if (v > 100000000L) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void capa_sasl(struct pop3_capa *c, const char *s, size_t len)
{
    size_t o = strlen(c->sasl);

    c->sasl_listed = 1;
    for (size_t i = 0; i < len && o + 2 < sizeof c->sasl; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t') {
            if (o > 0 && c->sasl[o - 1] != ' ') c->sasl[o++] = ' ';
        } else if (ch > 0x20 && ch < 0x7f) {
            c->sasl[o++] = (char)toupper(ch);
        }
    }
    while (o > 0 && c->sasl[o - 1] == ' ') o--;
    c->sasl[o] = '\0';
}

static int ends_with_user(const char *s, size_t len)
{
    return len >= 5 && strncasecmp(s + len - 5, " USER", 5) == 0;
}

void pop3_capa_line(struct pop3_capa *c, const char *line, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } flags[] = {
        {"TOP", offsetof(struct pop3_capa, top)},
        {"UIDL", offsetof(struct pop3_capa, uidl)},
        {"USER", offsetof(struct pop3_capa, user)},
        {"STLS", offsetof(struct pop3_capa, stls)},
        {"PIPELINING", offsetof(struct pop3_capa, pipelining)},
        {"RESP-CODES", offsetof(struct pop3_capa, resp_codes)},
        {"AUTH-RESP-CODE", offsetof(struct pop3_capa, auth_resp_code)},
    };

    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (word_is(line, len, flags[i].name)) {
            *(int *)(void *)((char *)c + flags[i].off) = 1;
            return;
        }
    }
    if (word_is(line, len, "SASL")) {
        capa_sasl(c, line + 4, len - 4);
    } else if (word_is(line, len, "EXPIRE") && len > 7) {
        c->expire = capa_number(line + 7, len - 7);
        if (ends_with_user(line, len)) c->marked_user = 1;
    } else if (word_is(line, len, "LOGIN-DELAY") && len > 12) {
        c->login_delay = capa_number(line + 12, len - 12);
        if (ends_with_user(line, len)) c->marked_user = 1;
    } else if (word_is(line, len, "IMPLEMENTATION") && len > 15) {
        err_quote(c->implementation, sizeof c->implementation, line + 15, len - 15);
    }
}

int pop3_capa_has_sasl(const struct pop3_capa *c, const char *mech)
{
    size_t n = strlen(mech);

    for (const char *s = c->sasl; *s;) {
        const char *sp = strchr(s, ' ');
        size_t l = sp ? (size_t)(sp - s) : strlen(s);
        if (l == n && strncasecmp(s, mech, n) == 0) return 1;
        s += l;
        while (*s == ' ') s++;
    }
    return 0;
}

/* Strict unsigned decimal; advances *i. */
static int parse_u64(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *i;

    while (*i < len && isdigit((unsigned char)s[*i])) {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
        (*i)++;
    }
    if (*i == start) return -1;
    *out = v;
    return 0;
}

static int parse_msgnum(const char *line, size_t len, size_t *i, unsigned long *num)
{
    uint64_t v;

    if (parse_u64(line, len, i, 0xffffffffu, &v) < 0 || v == 0) return -1;
    if (*i >= len || line[*i] != ' ') return -1;
    while (*i < len && line[*i] == ' ') (*i)++;
    *num = (unsigned long)v;
    return 0;
}

int pop3_parse_list_line(const char *line, size_t len, unsigned long *num, uint64_t *size)
{
    size_t i = 0;

    if (parse_msgnum(line, len, &i, num) < 0) return -1;
    if (parse_u64(line, len, &i, (uint64_t)1 << 62, size) < 0) return -1;
    return (i == len || line[i] == ' ') ? 0 : -1;
}

int pop3_parse_stat(const char *text, size_t len, unsigned long *count, uint64_t *size)
{
    size_t i = 0;
    uint64_t n;

    if (parse_u64(text, len, &i, 0xffffffffu, &n) < 0 || i >= len || text[i] != ' ') return -1;
    while (i < len && text[i] == ' ') i++;
    if (parse_u64(text, len, &i, (uint64_t)1 << 62, size) < 0) return -1;
    *count = (unsigned long)n;
    return (i == len || text[i] == ' ') ? 0 : -1;
}

int pop3_parse_uidl_line(const char *line, size_t len, unsigned long *num, const char **uid,
                         size_t *uidlen)
{
    size_t i = 0, start;

    if (parse_msgnum(line, len, &i, num) < 0) return -1;
    start = i;
    while (i < len && line[i] > 0x20 && line[i] < 0x7f) i++;
    *uid = line + start;
    *uidlen = i - start;
    while (i < len && line[i] == ' ') i++;
    if (i != len || *uidlen == 0 || *uidlen > 255) return -1;
    return 0;
}

/* ---- the connection ---------------------------------------------------- */

void pop3_init(struct pop3 *p, struct net_conn *net)
{
    memset(p, 0, sizeof *p);
    p->net = net;
    pop3_capa_reset(&p->capa);
}

static void trace(struct pop3 *p, char dir, const char *line, size_t len)
{
    if (p->trace) p->trace(p->trace_ctx, dir, line, len);
}

/* Keep a -ERR line for reports (pop3.h): escaped, bounded. */
static void note_err(struct pop3 *p, const char *line, size_t len)
{
    size_t o = 0, i;

    for (i = 0; i < len && o + 8 < sizeof p->last_err; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            p->last_err[o++] = (char)c;
        else
            o += (size_t)snprintf(p->last_err + o, sizeof p->last_err - o, "\\x%02x", c);
    }
    if (i < len) o += (size_t)snprintf(p->last_err + o, sizeof p->last_err - o, "...");
    p->last_err[o] = '\0';
}

/* The end of a multi-line reply: the pace rule stops. */
static void end_multi(struct pop3 *p)
{
    net_pace_end(p->net);
    p->multi = 0;
}

/* A status line, which must arrive whole within the timeout (not just
 * each read): a server trickling a byte at a time cannot hold us forever.
 * (A status line also ends a multi-line reply that was left unfinished.) */
static int read_line(struct pop3 *p, const char **line, size_t *len, size_t max, struct err *e)
{
    int rc;

    if (pop3_flush(p, e) < 0) return -1;
    end_multi(p);
    net_set_deadline(p->net, p->net->timeout_ms);
    rc = net_getline(p->net, line, len, max, e);
    net_clear_deadline(p->net);
    if (rc < 0) return -1;
    trace(p, 'S', *line, *len);
    return 0;
}

static void take_apop_timestamp(struct pop3 *p, const char *line, size_t len)
{
    const char *lt = memchr(line, '<', len), *gt;
    size_t n;

    if (!lt) return;
    gt = memchr(lt, '>', len - (size_t)(lt - line));
    if (!gt) return;
    n = (size_t)(gt - lt) + 1;
    if (n < 3 || n >= sizeof p->apop_ts || !memchr(lt, '@', n)) return;
    for (size_t i = 0; i < n; i++)
        if (lt[i] <= ' ' || lt[i] >= 0x7f) return;
    memcpy(p->apop_ts, lt, n);
    p->apop_ts[n] = '\0';
}

int pop3_greeting(struct pop3 *p, struct err *e)
{
    const char *line;
    size_t len;
    struct pop3_reply r = {0};

    if (read_line(p, &line, &len, POP3_LINE_MAX, e) < 0) {
        err_prefix(e, "reading the greeting");
        return -1;
    }
    err_quote(p->greeting, sizeof p->greeting, line, len);
    if (pop3_parse_reply(line, len, &r) < 0 || r.status == POP3_CONT) {
        err_set(e, ERR_PROTOCOL, "%s did not greet like a POP3 server: \"%s\"", p->net->host,
                p->greeting);
        err_hint(e, "check `host`, `port` and `tls`");
        return -1;
    }
    if (r.status == POP3_ERR) {
        note_err(p, line, len);
        return pop3_fail(p, &r, "the greeting", e);
    }
    take_apop_timestamp(p, line, len);
    return 0;
}

int pop3_send(struct pop3 *p, const char *cmd, const char *secret, struct err *e)
{
    size_t n = strlen(cmd), s = secret ? strlen(secret) + 1 : 0;

    if (n + s + 2 > POP3_CMD_MAX)
        return err_set(e, ERR_USAGE, "command too long for POP3 (%zu bytes)", n + s + 2);
    if (p->wlen + n + s + 2 > sizeof p->wbuf && pop3_flush(p, e) < 0) return -1;
    memcpy(p->wbuf + p->wlen, cmd, n);
    if (secret) {
        p->wbuf[p->wlen + n] = ' ';
        memcpy(p->wbuf + p->wlen + n + 1, secret, s - 1);
    }
    memcpy(p->wbuf + p->wlen + n + s, "\r\n", 2);
    p->wlen += n + s + 2;
    if (p->trace) {
        char shown[POP3_CMD_MAX];
        int l = snprintf(shown, sizeof shown, "%s%s", cmd, secret ? " ****" : "");
        trace(p, 'C', shown, (size_t)l);
    }
    return 0;
}

int pop3_send_long(struct pop3 *p, const char *prefix, const char *payload, size_t len,
                   struct err *e)
{
    size_t plen = strlen(prefix);
    int rc;

    if (pop3_flush(p, e) < 0) return -1;
    if (p->trace) {
        char shown[POP3_CMD_MAX];
        int l = snprintf(shown, sizeof shown, "%s%s", prefix, len ? "****" : "");
        trace(p, 'C', shown, (size_t)l);
    }
    rc = net_write(p->net, prefix, plen, e);
    if (rc == 0 && len) rc = net_write(p->net, payload, len, e);
    if (rc == 0) rc = net_write(p->net, "\r\n", 2, e);
    return rc;
}

int pop3_auth_reply(struct pop3 *p, struct pop3_reply *r, const char **chal, size_t *clen,
                    struct err *e)
{
    const char *line;
    size_t len;
    char shown[120];

    if (read_line(p, &line, &len, POP3_AUTH_LINE_MAX, e) < 0) return -1;
    *chal = NULL;
    *clen = 0;
    if (pop3_parse_reply(line, len, r) < 0) {
        err_quote(shown, sizeof shown, line, len);
        return err_set(e, ERR_PROTOCOL, "%s sent a malformed reply: \"%s\"", p->net->host, shown);
    }
    if (r->status == POP3_ERR) note_err(p, line, len);
    if (r->status == POP3_CONT) {
        *chal = len > 1 ? line + 2 : line + len;
        *clen = len > 1 ? len - 2 : 0;
    }
    return 0;
}

int pop3_flush(struct pop3 *p, struct err *e)
{
    int rc;

    if (p->wlen == 0) return 0;
    rc = net_write(p->net, p->wbuf, p->wlen, e);
    /* The buffer may have held a secret. */
    memset(p->wbuf, 0, p->wlen);
    p->wlen = 0;
    return rc;
}

int pop3_reply(struct pop3 *p, struct pop3_reply *r, struct err *e)
{
    const char *line;
    size_t len;
    char shown[120];

    if (read_line(p, &line, &len, POP3_LINE_MAX, e) < 0) return -1;
    if (pop3_parse_reply(line, len, r) == 0) {
        if (r->status == POP3_ERR) note_err(p, line, len);
        return 0;
    }
    err_quote(shown, sizeof shown, line, len);
    return err_set(e, ERR_PROTOCOL, "%s sent a malformed reply: \"%s\"", p->net->host, shown);
}

int pop3_fail(struct pop3 *p, const struct pop3_reply *r, const char *what, struct err *e)
{
    enum err_kind kind = ERR_SERVER;

    if (pop3_code_is(r, "IN-USE") || pop3_code_is(r, "LOGIN-DELAY"))
        kind = ERR_BUSY;
    else if (pop3_code_is(r, "AUTH"))
        kind = ERR_AUTH;
    err_set(e, kind, "%s failed: %s said: -ERR %s%s%s%s", what, p->net->host, r->code[0] ? "[" : "",
            r->code, r->code[0] ? "] " : "", r->text);
    if (kind == ERR_BUSY)
        err_hint(e, "the mailbox is in use or may not be polled this often; try again later");
    return -1;
}

int pop3_simple(struct pop3 *p, const char *cmd, const char *what, struct pop3_reply *r,
                struct err *e)
{
    if (pop3_send(p, cmd, NULL, e) < 0 || pop3_reply(p, r, e) < 0) return -1;
    if (r->status == POP3_OK) return 0;
    if (r->status == POP3_CONT)
        return err_set(e, ERR_PROTOCOL, "%s answered %s with a continuation", p->net->host, what);
    return pop3_fail(p, r, what, e);
}

/* A line of a multi-line listing: the pace rule (net.h) bounds the whole
 * listing, from its first line to the one that ends it. */
static int read_multi_line(struct pop3 *p, const char **line, size_t *len, size_t max,
                           struct err *e)
{
    if (pop3_flush(p, e) < 0) return -1;
    if (!p->multi) {
        net_pace_begin(p->net);
        p->multi = 1;
    }
    if (net_getline(p->net, line, len, max, e) < 0) {
        end_multi(p);
        return -1;
    }
    trace(p, 'S', *line, *len);
    return 0;
}

int pop3_list_line(struct pop3 *p, const char **line, size_t *len, struct err *e)
{
    if (read_multi_line(p, line, len, POP3_LIST_LINE_MAX, e) < 0) return -1;
    if (*len >= 1 && (*line)[0] == '.') {
        if (*len == 1) {
            end_multi(p);
            return 0;
        }
        (*line)++;
        (*len)--;
    }
    return 1;
}

int pop3_capa_watched(struct pop3 *p, pop3_capa_fn fn, void *ctx, struct err *e)
{
    struct pop3_reply r = {0};
    const char *line;
    size_t len;
    unsigned lines = 0;
    int rc;

    char kept[sizeof p->last_err];

    memcpy(kept, p->last_err, sizeof kept);
    pop3_capa_reset(&p->capa);
    if (pop3_send(p, "CAPA", NULL, e) < 0 || pop3_reply(p, &r, e) < 0) return -1;
    if (fn) fn(ctx, &r, NULL, 0);
    if (r.status != POP3_OK) {
        memcpy(p->last_err, kept, sizeof kept); /* no CAPA is no error */
        return 0;
    }
    while ((rc = pop3_list_line(p, &line, &len, e)) == 1) {
        if (++lines > POP3_CAPA_MAX_LINES)
            return err_set(e, ERR_PROTOCOL, "%s sent more than %d CAPA lines", p->net->host,
                           POP3_CAPA_MAX_LINES);
        pop3_capa_line(&p->capa, line, len);
        if (fn) fn(ctx, &r, line, len);
    }
    if (rc < 0) {
        if (e->kind == ERR_PROTOCOL || e->kind == ERR_TIMEOUT) err_prefix(e, "reading CAPA");
        return -1;
    }
    p->capa.known = 1;
    return 0;
}

int pop3_capa(struct pop3 *p, struct err *e)
{
    return pop3_capa_watched(p, NULL, NULL, e);
}

/* pop3_body's loop, under the pace rule. */
static int body_stream(struct pop3 *p, struct dotstream *d, pop3_write_fn w, void *ctx,
                       uint64_t max_bytes, struct err *werr, struct err *e)
{
    int writing = w != NULL;

    for (;;) {
        size_t avail, out, used;
        unsigned char *data = net_unread(p->net, &avail);
        ssize_t r;

        if (avail > 0) {
            used = dotstream_decode(d, data, avail, &out);
            /* the bound holds even when the terminator came in the same read */
            if (max_bytes && d->out_bytes > max_bytes)
                return err_set(e, ERR_PROTOCOL,
                               "%s sent more than %llu bytes for one message; giving up",
                               p->net->host, (unsigned long long)max_bytes);
            if (writing && out > 0 && w(ctx, data, out, werr) < 0) writing = 0;
            net_consume(p->net, used);
            if (d->done) break;
            if (used < avail && avail - used > 2)
                return err_set(e, ERR_INTERNAL, "multi-line decoder stalled");
        }
        r = net_fill(p->net, e);
        if (r < 0) return -1;
        if (r == 0)
            return err_set(e, ERR_PROTOCOL, "%s closed the connection in the middle of a message",
                           p->net->host);
    }
    return (w == NULL || writing) ? 0 : 1;
}

int pop3_body(struct pop3 *p, pop3_write_fn w, void *ctx, uint64_t max_bytes, struct err *werr,
              struct err *e)
{
    struct dotstream d;
    int rc;

    dotstream_init(&d);
    if (pop3_flush(p, e) < 0) return -1;
    end_multi(p);
    net_pace_begin(p->net);
    rc = body_stream(p, &d, w, ctx, max_bytes, werr, e);
    net_pace_end(p->net);
    p->body_bytes = d.out_bytes;
    if (rc < 0) return -1;
    if (p->trace) {
        char shown[80];
        int l = snprintf(shown, sizeof shown, "(%llu bytes of message data)",
                         (unsigned long long)d.out_bytes);
        trace(p, 'S', shown, (size_t)l);
    }
    return rc;
}
