/*
 * esmtp — one LMTP or SMTP client connection. See esmtp.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "esmtp.h"
#include "sasl.h"

#define SMTP_PORT 25

/* ---- the target ----------------------------------------------------------------------- */

static int bad_target(int lmtp, const char *target, struct err *e)
{
    char shown[96];

    err_quote(shown, sizeof shown, target, strlen(target));
    err_set(e, ERR_USAGE, "bad %s target `%s`", lmtp ? "LMTP" : "SMTP", shown);
    err_hint(e, lmtp ? "use an absolute socket path or HOST:PORT" : "use HOST or HOST:PORT");
    return -1;
}

static int parse_port(const char *p, unsigned *port)
{
    char *end;
    unsigned long n;

    if (!isdigit((unsigned char)*p)) return -1;
    errno = 0;
    n = strtoul(p, &end, 10);
    if (errno || *end || n == 0 || n > 65535) return -1;
    *port = (unsigned)n;
    return 0;
}

/* HOST, HOST:PORT, [ADDR] or [ADDR]:PORT into s->target and s->port. */
static int parse_hostport(struct esmtp *s, const char *t)
{
    const char *colon, *host = t;
    size_t hlen;

    s->port = s->lmtp ? 0 : SMTP_PORT;
    if (*t == '[') {
        const char *close = strchr(t, ']');
        if (!close) return -1;
        host = t + 1, hlen = (size_t)(close - host);
        if (close[1] == ':') {
            if (parse_port(close + 2, &s->port) < 0) return -1;
        } else if (close[1]) {
            return -1;
        }
    } else {
        colon = strrchr(t, ':');
        if (colon && strchr(t, ':') != colon) return -1; /* a bare IPv6 address: use [..] */
        hlen = colon ? (size_t)(colon - t) : strlen(t);
        if (colon && parse_port(colon + 1, &s->port) < 0) return -1;
    }
    if (hlen == 0 || hlen >= sizeof s->target || s->port == 0) return -1;
    for (size_t i = 0; i < hlen; i++)
        if (!isgraph((unsigned char)host[i])) return -1;
    memcpy(s->target, host, hlen);
    s->target[hlen] = '\0';
    return 0;
}

int esmtp_init(struct esmtp *s, int lmtp, const char *target, const char *helo, int timeout_ms,
               struct err *e)
{
    memset(s, 0, sizeof *s);
    net_init(&s->c);
    s->lmtp = lmtp;
    s->auth_mech = -1;
    s->timeout_ms = timeout_ms;
    snprintf(s->helo, sizeof s->helo, "%s", helo && helo[0] ? helo : "localhost");
    if (lmtp && target[0] == '/') {
        if (strlen(target) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return bad_target(lmtp, target, e);
        s->is_unix = 1;
        snprintf(s->target, sizeof s->target, "%s", target);
    } else if (parse_hostport(s, target) < 0) {
        return bad_target(lmtp, target, e);
    }
    return 0;
}

/* ---- connecting ------------------------------------------------------------------------ */

static const char *proto(const struct esmtp *s)
{
    return s->lmtp ? "LMTP" : "SMTP";
}

static int connect_unix(struct esmtp *s, struct err *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memcpy(sa.sun_path, s->target, strlen(s->target) + 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        err_set(e, ERR_CONNECT, "cannot connect to the LMTP socket %s: %s", s->target,
                strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    net_init(&s->c);
    s->c.fd = fd;
    s->c.timeout_ms = s->timeout_ms;
    snprintf(s->c.host, sizeof s->c.host, "%.255s", s->target);
    snprintf(s->c.peer, sizeof s->c.peer, "unix");
    if (!(s->c.rbuf = malloc(NET_RBUF_SIZE))) {
        net_close(&s->c);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    return 0;
}

int esmtp_parse_line(const char *line, size_t len, int *more, const char **text)
{
    int code;

    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
        !isdigit((unsigned char)line[2]))
        return -1;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599) return -1;
    if (len > 3 && line[3] != '-' && line[3] != ' ') return -1;
    *more = len > 3 && line[3] == '-';
    *text = len > 4 ? line + 4 : line + len;
    return code;
}

/* "LMTP line", or "LMTP[N] line" with a trace_id. */
static void trace(struct esmtp *s, char dir, const char *line, size_t len)
{
    char buf[ESMTP_LINE_MAX + 32];
    int k;

    if (!s->trace) return;
    if (len > ESMTP_LINE_MAX) len = ESMTP_LINE_MAX;
    k = s->trace_id ? snprintf(buf, 32, "%s[%u] ", proto(s), s->trace_id)
                    : snprintf(buf, 32, "%s ", proto(s));
    if (k < 0 || k >= 32) return;
    memcpy(buf + k, line, len);
    s->trace(s->trace_ctx, dir, buf, len + (size_t)k);
}

typedef void (*line_fn)(struct esmtp *s, const char *text, size_t len);

/* One reply, every line handed to `each` (if given). */
static int read_reply(struct esmtp *s, struct esmtp_reply *r, line_fn each, struct err *e)
{
    int more = 1;

    r->code = 0;
    r->text[0] = '\0';
    for (int n = 0; more; n++) {
        const char *line, *text;
        size_t len;
        int code;

        if (n == ESMTP_REPLY_LINES) {
            return err_set(e, ERR_PROTOCOL, "the %s server %s sent a reply of more than %d lines",
                           proto(s), s->c.host, ESMTP_REPLY_LINES);
        }
        if (net_getline(&s->c, &line, &len, ESMTP_LINE_MAX, e) < 0) {
            err_prefix(e, "%s server %s", proto(s), s->c.host);
            return -1;
        }
        trace(s, 'S', line, len);
        code = esmtp_parse_line(line, len, &more, &text);
        if (code < 0 || (r->code && code != r->code)) {
            char shown[96];
            err_quote(shown, sizeof shown, line, len);
            return err_set(e, ERR_PROTOCOL, "the %s server %s sent a malformed reply: %s", proto(s),
                           s->c.host, shown);
        }
        r->code = code;
        s->rtext = text;
        s->rtext_len = len - (size_t)(text - line);
        if (each && n > 0) each(s, text, len - (size_t)(text - line));
        err_quote(r->text, sizeof r->text, line, len);
    }
    return 0;
}

static int wr(struct esmtp *s, const char *p, size_t n, struct err *e)
{
    if (s->wlen + n > ESMTP_WBUF) {
        if (net_write(&s->c, s->wbuf, s->wlen, e) < 0) return -1;
        s->wlen = 0;
    }
    if (n > ESMTP_WBUF) return net_write(&s->c, p, n, e);
    memcpy(s->wbuf + s->wlen, p, n);
    s->wlen += n;
    return 0;
}

static int flush(struct esmtp *s, struct err *e)
{
    int rc = s->wlen ? net_write(&s->c, s->wbuf, s->wlen, e) : 0;

    s->wlen = 0;
    return rc;
}

/* A command line into the buffer (not sent until flush). */
static int cmd(struct esmtp *s, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cmd(struct esmtp *s, struct err *e, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line - 2)
        return err_set(e, ERR_INTERNAL, "an %s command line is too long", proto(s));
    trace(s, 'C', line, (size_t)n);
    line[n] = '\r';
    line[n + 1] = '\n';
    return wr(s, line, (size_t)n + 2, e);
}

static int word_is(const char *text, size_t len, const char *word, const char **rest)
{
    size_t w = strlen(word);

    if (len < w || strncasecmp(text, word, w) != 0 || (len > w && text[w] != ' ')) return 0;
    *rest = text + w;
    return 1;
}

/* AUTH's mechanisms ("AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN")
 * added to s->mechs, as far as they fit. */
static void auth_mechs(struct esmtp *s, const char *rest, const char *end)
{
    size_t have = strlen(s->mechs), n = (size_t)(end - rest);

    s->ext |= ESMTP_AUTH;
    if (have + 1 + n >= sizeof s->mechs) return;
    if (have) s->mechs[have++] = ' ';
    for (size_t i = 0; i < n; i++)
        s->mechs[have + i] = isgraph((unsigned char)rest[i]) ? rest[i] : ' ';
    s->mechs[have + n] = '\0';
}

static void extension(struct esmtp *s, const char *text, size_t len)
{
    const char *rest;

    if (word_is(text, len, "AUTH", &rest) ||
        (len > 5 && strncasecmp(text, "AUTH=", 5) == 0 && (rest = text + 5)))
        auth_mechs(s, rest, text + len);
    if (word_is(text, len, "PIPELINING", &rest)) s->ext |= ESMTP_PIPELINING;
    if (word_is(text, len, "8BITMIME", &rest)) s->ext |= ESMTP_8BITMIME;
    if (word_is(text, len, "SMTPUTF8", &rest)) s->ext |= ESMTP_SMTPUTF8;
    if (word_is(text, len, "STARTTLS", &rest)) s->ext |= ESMTP_STARTTLS;
    if (word_is(text, len, "XFORWARD", &rest)) s->ext |= ESMTP_XFORWARD;
    if (word_is(text, len, "SIZE", &rest)) {
        uint64_t n = 0;
        s->ext |= ESMTP_SIZE;
        for (rest += *rest == ' '; rest < text + len && isdigit((unsigned char)*rest); rest++)
            n = n > UINT64_MAX / 20 ? UINT64_MAX / 2 : n * 10 + (uint64_t)(*rest - '0');
        s->size_max = n;
    }
}

static int refused(struct esmtp *s, const char *what, const struct esmtp_reply *r, struct err *e)
{
    err_set(e, r->code >= 500 ? ERR_DELIVERY : ERR_SERVER, "the %s server %s refused %s: %s",
            proto(s), s->c.host, what, r->text);
    return -1;
}

static int start_tls(struct esmtp *s, struct err *e)
{
    struct tls_peer_info pi;

    snprintf(s->c.host, sizeof s->c.host, "%.255s", s->target);
    if (tls_start(&s->c, &s->tls, &pi, e) < 0) {
        err_prefix(e, "%s server %s", proto(s), s->target);
        net_close(&s->c);
        return -1;
    }
    return 0;
}

/* STARTTLS, then the hello again over TLS (its extensions replace the
 * clear ones). */
static int starttls(struct esmtp *s, struct err *e)
{
    struct esmtp_reply r;

    if (!(s->ext & ESMTP_STARTTLS)) {
        err_set(e, ERR_TLS, "the %s server %s does not offer STARTTLS (smtp_tls starttls)",
                proto(s), s->target);
        err_hint(e, "nothing was sent in the clear; use smtp_tls implicit or off if that is "
                    "what the server needs");
        return -1;
    }
    if (cmd(s, e, "STARTTLS") < 0 || flush(s, e) < 0 || read_reply(s, &r, NULL, e) < 0) return -1;
    if (r.code != 220) return refused(s, "STARTTLS", &r, e);
    if (start_tls(s, e) < 0) return -1;
    s->ext = 0;
    s->size_max = 0;
    s->mechs[0] = '\0';
    if (cmd(s, e, "%s %s", s->lmtp ? "LHLO" : "EHLO", s->helo) < 0 || flush(s, e) < 0 ||
        read_reply(s, &r, extension, e) < 0)
        return -1;
    return r.code == 250 ? 0 : refused(s, s->lmtp ? "LHLO" : "EHLO", &r, e);
}

/* ---- AUTH (RFC 4954) ------------------------------------------------------------------- */

int esmtp_set_auth(struct esmtp *s, const char *user, const char *secret, int mech, struct err *e)
{
    if (strpbrk(user, "\r\n") || strpbrk(secret, "\r\n"))
        return err_set(e, ERR_USAGE, "smtp_user or the SMTP password contains a line break");
    free(s->auth_user);
    if (s->auth_secret) OPENSSL_cleanse(s->auth_secret, strlen(s->auth_secret));
    free(s->auth_secret);
    s->auth_user = strdup(user);
    s->auth_secret = strdup(secret);
    s->auth_mech = mech;
    if (!s->auth_user || !s->auth_secret) return err_set(e, ERR_INTERNAL, "out of memory");
    return 0;
}

int esmtp_loopback(const struct sockaddr *sa)
{
    static const unsigned char mapped[16] = {0, 0, 0,    0,    0,   0, 0, 0,
                                             0, 0, 0xff, 0xff, 127, 0, 0, 1};

    if (sa->sa_family == AF_UNIX) return 1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
               memcmp(in6->sin6_addr.s6_addr, mapped, sizeof mapped) == 0;
    }
    return 0;
}

/* May anything derived from the secret go out on this connection? Over TLS
 * yes (the certificate was verified in the handshake, else there is no
 * connection), without it only to this machine. */
static int secret_ok(const struct esmtp *s)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof ss;

    if (s->c.ssl || s->is_unix) return 1;
    if (getpeername(s->c.fd, (struct sockaddr *)&ss, &len) < 0) return 0;
    return esmtp_loopback((const struct sockaddr *)&ss);
}

static int offers(const struct esmtp *s, enum sasl_mech m)
{
    char buf[sizeof s->mechs], *save = NULL;

    snprintf(buf, sizeof buf, "%s", s->mechs);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (strcasecmp(w, sasl_mech_name(m)) == 0) return 1;
    return 0;
}

static int choose_mech(const struct esmtp *s, enum sasl_mech *m, struct err *e)
{
    static const enum sasl_mech strongest_first[] = {SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_1,
                                                     SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5};

    if (s->auth_mech >= 0) {
        *m = (enum sasl_mech)s->auth_mech;
        if (offers(s, *m)) return 0;
        err_set(e, ERR_AUTH, "the %s server %s does not offer AUTH %s (smtp_auth)", proto(s),
                s->target, sasl_mech_name(*m));
        err_hint(e, "it offers: %s; set `smtp_auth` to one of them or to auto",
                 s->mechs[0] ? s->mechs : "(nothing)");
        return -1;
    }
    for (size_t i = 0; i < sizeof strongest_first / sizeof strongest_first[0]; i++) {
        if (offers(s, strongest_first[i])) {
            *m = strongest_first[i];
            return 0;
        }
    }
    if (!(s->ext & ESMTP_AUTH)) {
        err_set(e, ERR_AUTH, "the %s server %s does not offer AUTH, and smtp_user is set", proto(s),
                s->target);
        err_hint(e, "nothing was sent; many servers offer AUTH only after STARTTLS "
                    "(smtp_tls starttls)");
    } else {
        err_set(e, ERR_AUTH, "the %s server %s offers no AUTH mechanism popfetch speaks (%s)",
                proto(s), s->target, s->mechs);
    }
    return -1;
}

/* A line of secret material: prefix, then buf in base64 ("=" for an empty
 * initial response after "AUTH MECH "); traced as prefix + "****". */
static int send_secret(struct esmtp *s, const char *prefix, const unsigned char *buf, size_t len,
                       struct err *e)
{
    size_t plen = strlen(prefix), cap = plen + sasl_b64_encoded_size(len) + 3, n;
    char *line = malloc(cap), shown[80];
    int rc;

    if (!line) return err_set(e, ERR_INTERNAL, "out of memory");
    if (flush(s, e) < 0) {
        free(line);
        return -1;
    }
    memcpy(line, prefix, plen);
    n = plen + sasl_b64_encode(buf, len, line + plen);
    if (len == 0 && plen) line[n++] = '=';
    snprintf(shown, sizeof shown, "%s****", prefix);
    trace(s, 'C', shown, strlen(shown));
    line[n++] = '\r';
    line[n++] = '\n';
    rc = wr(s, line, n, e) < 0 || flush(s, e) < 0 ? -1 : 0;
    OPENSSL_cleanse(s->wbuf, n < ESMTP_WBUF ? n : ESMTP_WBUF);
    OPENSSL_cleanse(line, cap);
    free(line);
    return rc;
}

/* Give up the exchange: "*" (RFC 4954); the server answers 501. */
static void cancel_auth(struct esmtp *s)
{
    struct esmtp_reply r;
    struct err ignored;

    if (cmd(s, &ignored, "*") == 0 && flush(s, &ignored) == 0) read_reply(s, &r, NULL, &ignored);
}

/* Answer the 334 challenge in s->rtext. */
static int answer(struct esmtp *s, struct sasl *x, struct err *e)
{
    unsigned char raw[ESMTP_LINE_MAX];
    const unsigned char *out;
    size_t dlen, olen;
    int rc;

    if (sasl_b64_decode(s->rtext, s->rtext_len, raw, &dlen) < 0) {
        cancel_auth(s);
        return err_set(e, ERR_PROTOCOL,
                       "the %s server %s sent an AUTH challenge that is not "
                       "base64",
                       proto(s), s->target);
    }
    if (sasl_step(x, raw, dlen, &out, &olen, e) < 0) {
        OPENSSL_cleanse(raw, sizeof raw);
        cancel_auth(s);
        return -1;
    }
    rc = send_secret(s, "", out, olen, e);
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

static int login_refused(struct esmtp *s, const struct esmtp_reply *r, const struct sasl *x,
                         struct err *e)
{
    const char *detail = sasl_server_error(x);

    if (r->code / 100 == 4)
        return err_set(e, ERR_SERVER, "the %s server %s refused the login for now: %s", proto(s),
                       s->target, r->text);
    err_set(e, ERR_AUTH, "the %s server %s refused the login of smtp_user %s: %s%s%s", proto(s),
            s->target, s->auth_user, r->text, detail ? "; " : "", detail ? detail : "");
    err_hint(e, "check smtp_user and smtp_password (or smtp_passwordeval); the mail stays on the "
                "POP3 server");
    return -1;
}

static int exchange(struct esmtp *s, struct sasl *x, enum sasl_mech m, struct err *e)
{
    const unsigned char *init;
    size_t len;
    int has;
    char prefix[64];
    struct esmtp_reply r;

    if (sasl_initial(x, &init, &len, &has, e) < 0) return -1;
    snprintf(prefix, sizeof prefix, "AUTH %s ", sasl_mech_name(m));
    if (has && strlen(prefix) + sasl_b64_encoded_size(len) + 2 <= 512) {
        if (send_secret(s, prefix, init, len, e) < 0) return -1;
    } else if (cmd(s, e, "AUTH %s", sasl_mech_name(m)) < 0 || flush(s, e) < 0) {
        return -1;
    }
    for (int step = 0; step < ESMTP_AUTH_STEPS; step++) {
        if (read_reply(s, &r, NULL, e) < 0) return -1;
        if (r.code == 235) return sasl_finish(x, e);
        if (r.code != 334) return login_refused(s, &r, x, e);
        if (answer(s, x, e) < 0) return -1;
    }
    cancel_auth(s);
    return err_set(e, ERR_PROTOCOL, "the %s server %s kept sending AUTH challenges", proto(s),
                   s->target);
}

static int esmtp_login(struct esmtp *s, struct err *e)
{
    struct sasl_params sp = {.user = s->auth_user, .secret = s->auth_secret, .host = s->target};
    struct sasl *x = NULL;
    enum sasl_mech m = SASL_PLAIN;
    int rc;

    if (!secret_ok(s)) {
        err_set(e, ERR_AUTH,
                "refusing to send the password of smtp_user %s unencrypted to the %s server %s",
                s->auth_user, proto(s), s->target);
        err_hint(e, "use `smtp_tls starttls` or `smtp_tls implicit`: without TLS a password "
                    "goes only to this machine (a loopback address)");
        return -1;
    }
    if (choose_mech(s, &m, e) < 0 || sasl_new(&x, m, &sp, e) < 0) return -1;
    rc = exchange(s, x, m, e);
    sasl_free(x);
    return rc;
}

int esmtp_open(struct esmtp *s, struct err *e)
{
    int rc;

    s->up = 0;
    if (s->auth_refused) {
        *e = s->auth_err;
        return -1;
    }
    if (s->is_unix)
        rc = connect_unix(s, e);
    else
        rc = net_connect(&s->c, s->target, s->port, s->timeout_ms, e);
    if (rc < 0) return -1;
    if (s->tls_mode == ESMTP_TLS_IMPLICIT && start_tls(s, e) < 0) return -1;
    return esmtp_start(s, e);
}

int esmtp_start(struct esmtp *s, struct err *e)
{
    struct esmtp_reply r;

    s->up = s->used = 0;
    s->ext = 0;
    s->size_max = 0;
    s->mechs[0] = '\0';
    s->wlen = 0;
    if (!s->wbuf && !(s->wbuf = malloc(ESMTP_WBUF))) {
        net_close(&s->c);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    s->c.timeout_ms = s->timeout_ms;
    if (read_reply(s, &r, NULL, e) < 0) goto fail;
    if (r.code != 220) {
        refused(s, "the connection", &r, e);
        goto fail;
    }
    if (cmd(s, e, "%s %s", s->lmtp ? "LHLO" : "EHLO", s->helo) < 0 || flush(s, e) < 0 ||
        read_reply(s, &r, extension, e) < 0)
        goto fail;
    if (r.code != 250) {
        refused(s, s->lmtp ? "LHLO" : "EHLO", &r, e);
        goto fail;
    }
    if (s->tls_mode == ESMTP_TLS_STARTTLS && !s->c.ssl && starttls(s, e) < 0) goto fail;
    if (s->auth_user && esmtp_login(s, e) < 0) {
        if (e->kind == ERR_AUTH) {
            s->auth_refused = 1;
            s->auth_err = *e;
        }
        goto fail;
    }
    s->up = 1;
    return 0;
fail:
    net_close(&s->c);
    return -1;
}

/* ---- one transaction ------------------------------------------------------------------- */

static int mail_cmd(struct esmtp *s, const struct esmtp_envelope *env, struct err *e)
{
    char size[40] = "";

    if ((s->ext & ESMTP_SIZE) && env->size)
        snprintf(size, sizeof size, " SIZE=%llu", (unsigned long long)env->size);
    return cmd(s, e, "MAIL FROM:<%s>%s%s%s", env->sender, size,
               env->body8 && (s->ext & ESMTP_8BITMIME) ? " BODY=8BITMIME" : "",
               env->utf8 && (s->ext & ESMTP_SMTPUTF8) ? " SMTPUTF8" : "");
}

/* The message from rd, dot-stuffed, LF made CRLF, then the end line.
 * -2: reading the message failed (e says why): the server is in the middle
 * of DATA and must not see an end line, the caller drops the connection. */
static int send_body(struct esmtp *s, esmtp_read_fn rd, void *rctx, struct err *e)
{
    unsigned char in[16384];
    uint64_t out0 = s->c.bytes_out + s->wlen;
    int bol = 1;
    ssize_t n;

    while ((n = rd(rctx, in, sizeof in, e)) > 0) {
        size_t start = 0;
        for (size_t i = 0; i < (size_t)n; i++) {
            if (bol && in[i] == '.') {
                if (wr(s, (const char *)in + start, i - start, e) < 0 || wr(s, ".", 1, e) < 0)
                    return -1;
                start = i;
            }
            bol = in[i] == '\n';
            if (bol) {
                if (wr(s, (const char *)in + start, i - start, e) < 0 || wr(s, "\r\n", 2, e) < 0)
                    return -1;
                start = i + 1;
            }
        }
        if (wr(s, (const char *)in + start, (size_t)n - start, e) < 0) return -1;
    }
    if (n < 0) return -2;
    if (!bol && wr(s, "\r\n", 2, e) < 0) return -1;
    if (s->trace) {
        char note[64];
        int k = snprintf(note, sizeof note, "(%llu bytes of message data)",
                         (unsigned long long)s->c.bytes_out + s->wlen - out0);
        trace(s, 'C', note, (size_t)k);
    }
    return wr(s, ".\r\n", 3, e) < 0 || flush(s, e) < 0 ? -1 : 0;
}

/* RSET (on a used connection), XFORWARD (when offered and there is an
 * origin to name), MAIL, and with PIPELINING the RCPTs and DATA too, all
 * in one write (RFC 2920 lets XFORWARD and RSET go in a group, as
 * Postfix's own client sends them); without it each waits for its reply.
 * Then the replies to RSET, XFORWARD and MAIL. */
static int start(struct esmtp *s, const struct esmtp_envelope *env, struct esmtp_result *res,
                 int pipe, struct err *e)
{
    int rset = s->used, xf = env->xf && (s->ext & ESMTP_XFORWARD);
    struct esmtp_reply r = {0};

    s->used = 1;
    if (rset &&
        (cmd(s, e, "RSET") < 0 || (!pipe && (flush(s, e) < 0 || read_reply(s, &r, NULL, e) < 0))))
        return -1;
    if (rset && !pipe && r.code != 250) return refused(s, "RSET", &r, e);
    if (xf && (cmd(s, e, "XFORWARD %s", env->xf) < 0 ||
               (!pipe && (flush(s, e) < 0 || read_reply(s, &r, NULL, e) < 0))))
        return -1;
    if (xf && !pipe && r.code != 250) return refused(s, "XFORWARD", &r, e);
    if (mail_cmd(s, env, e) < 0) return -1;
    for (size_t i = 0; i < env->nrcpt && pipe; i++)
        if (cmd(s, e, "RCPT TO:<%s>", env->rcpt[i]) < 0) return -1;
    if ((pipe && cmd(s, e, "DATA") < 0) || flush(s, e) < 0) return -1;
    if (rset && pipe &&
        (read_reply(s, &r, NULL, e) < 0 || (r.code != 250 && refused(s, "RSET", &r, e) < 0)))
        return -1;
    if (xf && pipe &&
        (read_reply(s, &r, NULL, e) < 0 || (r.code != 250 && refused(s, "XFORWARD", &r, e) < 0)))
        return -1;
    return read_reply(s, &res->mail, NULL, e);
}

/* The RCPTs (sent now unless pipelined) and their replies; the number of
 * recipients accepted, or -1. */
static int recipients(struct esmtp *s, const struct esmtp_envelope *env, struct esmtp_result *res,
                      int pipe, int acc[], struct err *e)
{
    int mail_ok = res->mail.code / 100 == 2, ok = 0;
    struct esmtp_reply r;

    for (size_t i = 0; i < env->nrcpt; i++) {
        acc[i] = 0;
        if (!pipe && !mail_ok) {
            res->rcpt[i] = res->mail;
            continue;
        }
        if (!pipe && (cmd(s, e, "RCPT TO:<%s>", env->rcpt[i]) < 0 || flush(s, e) < 0)) return -1;
        if (read_reply(s, &r, NULL, e) < 0) return -1;
        res->rcpt[i] = mail_ok ? r : res->mail;
        acc[i] = mail_ok && r.code / 100 == 2;
        ok += acc[i];
    }
    return ok;
}

/* After the end line: one reply (SMTP) or one per accepted recipient (LMTP). */
static int final_replies(struct esmtp *s, size_t n, const int acc[], struct esmtp_result *res,
                         struct err *e)
{
    struct esmtp_reply r;

    if (!s->lmtp && read_reply(s, &r, NULL, e) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!acc[i]) continue;
        if (s->lmtp && read_reply(s, &r, NULL, e) < 0) return -1;
        res->rcpt[i] = r;
    }
    return 0;
}

static int transact(struct esmtp *s, const struct esmtp_envelope *env, esmtp_read_fn rd, void *rctx,
                    struct esmtp_result *res, struct err *e)
{
    int pipe = (s->ext & ESMTP_PIPELINING) != 0;
    int acc[ESMTP_RCPT_MAX], ok, rc;
    struct esmtp_reply r;

    if (start(s, env, res, pipe, e) < 0 || (ok = recipients(s, env, res, pipe, acc, e)) < 0)
        return -1;
    if (!pipe && ok == 0) return 0; /* nobody to send it to: no DATA */
    if ((!pipe && (cmd(s, e, "DATA") < 0 || flush(s, e) < 0)) || read_reply(s, &r, NULL, e) < 0)
        return -1;
    if (r.code != 354) {
        for (size_t i = 0; i < env->nrcpt && ok; i++)
            if (acc[i]) res->rcpt[i] = r;
        return 0;
    }
    if (ok == 0)
        return err_set(e, ERR_PROTOCOL,
                       "the %s server %s accepted DATA without a recipient; the connection is "
                       "dropped so that it receives no message",
                       proto(s), s->c.host);
    if ((rc = send_body(s, rd, rctx, e)) < 0) {
        if (rc == -2) err_prefix(e, "the message was not sent (the connection is dropped)");
        return -1;
    }
    res->data_sent = 1;
    s->pending = 1; /* the replies after the end line are read by esmtp_send_finish */
    s->pend_n = env->nrcpt;
    memcpy(s->pend_acc, acc, sizeof acc);
    return 0;
}

int esmtp_send_start(struct esmtp *s, const struct esmtp_envelope *env, esmtp_read_fn rd,
                     void *rctx, struct esmtp_result *res, struct err *e)
{
    memset(res, 0, sizeof *res);
    if (env->nrcpt == 0 || env->nrcpt > ESMTP_RCPT_MAX)
        return err_set(e, ERR_INTERNAL, "%zu recipients", env->nrcpt);
    if (s->pending) return err_set(e, ERR_INTERNAL, "a transaction's replies are still due");
    s->wlen = 0;
    if (transact(s, env, rd, rctx, res, e) == 0) return 0;
    net_close(&s->c);
    s->up = 0;
    return -1;
}

int esmtp_send_finish(struct esmtp *s, struct esmtp_result *res, struct err *e)
{
    if (!s->pending) return 0;
    s->pending = 0;
    if (final_replies(s, s->pend_n, s->pend_acc, res, e) == 0) return 0;
    net_close(&s->c);
    s->up = 0;
    return -1;
}

int esmtp_send(struct esmtp *s, const struct esmtp_envelope *env, esmtp_read_fn rd, void *rctx,
               struct esmtp_result *res, struct err *e)
{
    if (esmtp_send_start(s, env, rd, rctx, res, e) < 0) return -1;
    return esmtp_send_finish(s, res, e);
}

void esmtp_close(struct esmtp *s)
{
    struct esmtp_reply r;
    struct err ignored;

    s->pending = 0;

    if (s->up) {
        s->c.timeout_ms = s->timeout_ms < 2000 ? s->timeout_ms : 2000;
        s->wlen = 0;
        if (cmd(s, &ignored, "QUIT") == 0 && flush(s, &ignored) == 0)
            read_reply(s, &r, NULL, &ignored);
    }
    net_close(&s->c);
    s->up = 0;
}

void esmtp_free(struct esmtp *s)
{
    free(s->wbuf);
    s->wbuf = NULL;
    free(s->auth_user);
    s->auth_user = NULL;
    if (s->auth_secret) {
        OPENSSL_cleanse(s->auth_secret, strlen(s->auth_secret));
        free(s->auth_secret);
        s->auth_secret = NULL;
    }
}
