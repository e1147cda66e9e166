/*
 * serverinfo — see serverinfo.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "net.h"
#include "pop3.h"
#include "serverinfo.h"
#include "tls.h"

struct report {
    serverinfo_out_fn out;
    void *ctx;
};

static void say(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct report *r, const char *fmt, ...)
{
    char line[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->out(r->ctx, line);
}

static void report_tls(struct report *r, struct net_conn *c)
{
    struct tls_peer_info pi;

    tls_peer_info(c, &pi);
    say(r, "TLS:            %s, %s", pi.version, pi.cipher);
    say(r, "certificate:    subject %s", pi.subject);
    say(r, "                issuer  %s", pi.issuer);
    say(r, "                names   %s", pi.names[0] ? pi.names : "(none)");
    say(r, "                valid   %s until %s", pi.not_before, pi.not_after);
    say(r, "                SHA-256 %s", pi.fingerprint);
    say(r, "verification:   %s", pi.verdict);
}

static int start_tls(struct report *r, struct net_conn *c, const struct account *a, struct err *e)
{
    /* Report, never refuse: the verdict is shown instead. */
    struct tls_opts t = {.verify = 0,
                         .trust_file = a->tls_trust_file,
                         .min_version = a->tls_min_version,
                         .cert_file = a->tls_cert_file,
                         .key_file = a->tls_key_file};

    if (tls_start(c, &t, e) < 0) return -1;
    report_tls(r, c);
    return 0;
}

/* CAPA, every line shown as sent (escaped) and parsed into p->capa. */
static int capa(struct report *r, struct pop3 *p, const char *when, struct err *e)
{
    struct pop3_reply rep;
    const char *line;
    size_t len;
    int rc, n = 0;

    pop3_capa_reset(&p->capa);
    if (pop3_send(p, "CAPA", NULL, e) < 0 || pop3_reply(p, &rep, e) < 0) return -1;
    if (rep.status != POP3_OK) {
        say(r, "CAPA %s: not supported (-ERR %s)", when, rep.text);
        return 0;
    }
    p->capa.known = 1;
    say(r, "CAPA %s:", when);
    while ((rc = pop3_list_line(p, &line, &len, e)) == 1) {
        char shown[600];
        if (++n > POP3_CAPA_MAX_LINES)
            return err_set(e, ERR_PROTOCOL, "CAPA has more than %d lines", POP3_CAPA_MAX_LINES);
        pop3_capa_line(&p->capa, line, len);
        err_quote(shown, sizeof shown, line, len);
        say(r, "  %s", shown);
    }
    return rc;
}

static void summary(struct report *r, const struct pop3 *p)
{
    const struct pop3_capa *c = &p->capa;

    say(r, "SASL:           %s", c->sasl[0] ? c->sasl : "(none listed)");
    say(r, "USER/PASS:      %s", c->user ? "yes" : c->known ? "not listed" : "unknown");
    say(r, "PIPELINING:     %s", c->pipelining ? "yes" : "no");
    say(r, "UIDL:           %s", c->uidl ? "yes" : c->known ? "not listed" : "unknown");
    if (c->expire == -2)
        say(r, "EXPIRE:         NEVER");
    else if (c->expire >= 0)
        say(r, "EXPIRE:         %ld days", c->expire);
    else
        say(r, "EXPIRE:         not announced");
    if (c->login_delay >= 0)
        say(r, "LOGIN-DELAY:    %ld seconds", c->login_delay);
    else
        say(r, "LOGIN-DELAY:    not announced");
    say(r, "IMPLEMENTATION: %s", c->implementation[0] ? c->implementation : "not announced");
}

static int stls(struct report *r, struct net_conn *c, struct pop3 *p, const struct account *a,
                struct err *e)
{
    struct pop3_reply rep;

    if (!p->capa.stls) say(r, "STLS:           not listed in CAPA; trying anyway");
    if (pop3_simple(p, "STLS", "STLS", &rep, e) < 0) return -1;
    say(r, "STLS:           +OK %s", rep.text);
    return start_tls(r, c, a, e);
}

static int log_in(struct report *r, struct net_conn *c, struct pop3 *p, const struct account *a,
                  const char *secret, struct err *e)
{
    struct auth_info ai = {.encrypted = c->ssl != NULL};
    struct pop3_reply rep;
    unsigned long n;
    uint64_t size;

    if (auth_login(p, a, secret, &ai, e) < 0) return -1;
    say(r, "login:          ok as %s (%s)", a->user, ai.mechanism ? ai.mechanism : "?");
    if (capa(r, p, "after login", e) < 0) return -1;
    if (pop3_simple(p, "STAT", "STAT", &rep, e) < 0) return -1;
    if (pop3_parse_stat(rep.text, strlen(rep.text), &n, &size) == 0)
        say(r, "STAT:           %lu messages, %llu bytes", n, (unsigned long long)size);
    else
        say(r, "STAT:           %s", rep.text);
    return 0;
}

static int run(struct report *r, struct net_conn *c, struct pop3 *p, const struct account *a,
               const char *secret, struct err *e)
{
    unsigned port = conf_port(a);

    if (net_connect(c, a->host, port, (int)a->timeout * 1000, e) < 0) return -1;
    say(r, "server:         %s [%s] port %u (%s)", a->host, c->peer, port,
        a->tls == TLS_IMPLICIT   ? "implicit TLS"
        : a->tls == TLS_STARTTLS ? "STLS"
                                 : "no TLS");
    pop3_init(p, c);
    if (a->tls == TLS_IMPLICIT && start_tls(r, c, a, e) < 0) return -1;
    if (pop3_greeting(p, e) < 0) return -1;
    say(r, "greeting:       %s", p->greeting);
    say(r, "APOP:           %s", p->apop_ts[0] ? "offered (timestamp in the greeting)" : "no");
    if (capa(r, p, a->tls == TLS_STARTTLS ? "before STLS" : "before login", e) < 0) return -1;
    if (a->tls == TLS_STARTTLS) {
        if (stls(r, c, p, a, e) < 0) return -1;
        if (capa(r, p, "after STLS", e) < 0) return -1;
    }
    summary(r, p);
    if (!secret) {
        say(r, "login:          skipped (no password or passwordeval for this account)");
        return 0;
    }
    return log_in(r, c, p, a, secret, e);
}

int serverinfo_run(const struct account *a, const char *secret, serverinfo_out_fn out, void *ctx,
                   struct err *e)
{
    struct report r = {out, ctx};
    struct net_conn c;
    struct pop3 p;
    struct pop3_reply rep;
    int rc;

    net_init(&c);
    rc = run(&r, &c, &p, a, secret, e);
    if (rc == 0 && pop3_send(&p, "QUIT", NULL, e) == 0) (void)pop3_reply(&p, &rep, e);
    net_close(&c);
    return rc;
}
