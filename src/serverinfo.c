/*
 * serverinfo — see serverinfo.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "connect.h"
#include "serverinfo.h"

struct report {
    serverinfo_out_fn out;
    void *ctx;
    const struct account *a;
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

/* ---- the connect sequence, as it happens -------------------------------- */

static void verdict(struct report *r, const struct tls_peer_info *pi)
{
    if (pi->trusted && pi->why.kind == ERR_NONE)
        say(r, "verification:   trusted (%s)", pi->basis);
    else if (pi->trusted)
        say(r, "verification:   accepted (%s), though %s", pi->basis, pi->why.msg);
    else
        say(r, "verification:   NOT trusted: %s", pi->why.msg);
}

static void seen_tls(void *ctx, const struct net_conn *c, const struct tls_peer_info *pi)
{
    struct report *r = ctx;

    (void)c;
    say(r, "TLS:            %s, %s", pi->version, pi->cipher);
    say(r, "certificate:    subject %s", pi->subject);
    say(r, "                issuer  %s", pi->issuer);
    say(r, "                names   %s", pi->names[0] ? pi->names : "(none)");
    say(r, "                valid   %s until %s", pi->not_before, pi->not_after);
    say(r, "                SHA-256 %s", pi->fingerprint);
    verdict(r, pi);
}

static void seen_connected(void *ctx, const struct net_conn *c, unsigned port)
{
    struct report *r = ctx;
    const struct account *a = r->a;

    say(r, "server:         %s [%s] port %u (%s)", a->host, c->peer, port,
        a->tls == TLS_IMPLICIT   ? "implicit TLS"
        : a->tls == TLS_STARTTLS ? "STLS"
                                 : "no TLS");
}

static void seen_note(void *ctx, const char *msg)
{
    say(ctx, "note:           %s", msg);
}

static void seen_greeting(void *ctx, const struct pop3 *p)
{
    struct report *r = ctx;

    say(r, "greeting:       %s", p->greeting);
    say(r, "APOP:           %s", p->apop_ts[0] ? "offered (timestamp in the greeting)" : "no");
}

/* CAPA, every line shown as sent (escaped). */
static void seen_capa(void *ctx, const char *when, const struct pop3_reply *rep, const char *line,
                      size_t len)
{
    struct report *r = ctx;
    char shown[600];

    if (rep->status != POP3_OK) {
        say(r, "CAPA %s: not supported (-ERR %s)", when, rep->text);
    } else if (!line) {
        say(r, "CAPA %s:", when);
    } else {
        err_quote(shown, sizeof shown, line, len);
        say(r, "  %s", shown);
    }
}

static void after_login(void *ctx, const struct pop3_reply *rep, const char *line, size_t len)
{
    seen_capa(ctx, "after login", rep, line, len);
}

static void seen_stls(void *ctx, int listed, const struct pop3_reply *rep)
{
    struct report *r = ctx;

    if (!rep && !listed) say(r, "STLS:           not listed in CAPA; trying anyway");
    if (rep) say(r, "STLS:           +OK %s", rep->text);
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

static int log_in(struct report *r, struct connection *cn, const char *secret, struct err *e)
{
    const struct account *a = r->a;
    struct auth_info ai = {.encrypted = cn->net->ssl != NULL, .untrusted = !connect_secret_ok(cn)};
    struct pop3_reply rep;
    unsigned long n;
    uint64_t size;

    if (auth_login(cn->pop, a, secret, &ai, e) < 0) return -1;
    say(r, "login:          ok as %s (%s)", a->user, ai.mechanism ? ai.mechanism : "?");
    if (pop3_capa_watched(cn->pop, after_login, r, e) < 0) return -1;
    if (pop3_simple(cn->pop, "STAT", "STAT", &rep, e) < 0) return -1;
    if (pop3_parse_stat(rep.text, strlen(rep.text), &n, &size) == 0)
        say(r, "STAT:           %lu messages, %llu bytes", n, (unsigned long long)size);
    else
        say(r, "STAT:           %s", rep.text);
    return 0;
}

/* Log in only where a fetch would: never with a secret to a server whose
 * certificate was not trusted (the error says why; exit status 2). */
static int login_step(struct report *r, struct connection *cn, const char *secret, struct err *e)
{
    if (!r->a->user) {
        say(r, "login:          skipped (no user given)");
        return 0;
    }
    if (!secret) {
        say(r, "login:          skipped (no password or passwordeval for this account)");
        return 0;
    }
    if (!connect_secret_ok(cn)) {
        say(r, "login:          skipped (certificate not trusted)");
        *e = cn->peer.why;
        return -1;
    }
    return log_in(r, cn, secret, e);
}

int serverinfo_run(const struct account *a, const char *secret, serverinfo_out_fn out, void *ctx,
                   struct err *e)
{
    struct report r = {out, ctx, a};
    struct connect_observer ob = {.ctx = &r,
                                  .connected = seen_connected,
                                  .tls = seen_tls,
                                  .greeting = seen_greeting,
                                  .capa = seen_capa,
                                  .stls = seen_stls,
                                  .note = seen_note};
    struct connect_params cp = {.use = CONNECT_REPORT, .ob = &ob};
    struct connection cn;
    struct net_conn c;
    struct pop3 p;
    struct pop3_reply rep;
    struct err ignored;
    int rc;

    rc = connect_open(&cn, &c, &p, a, &cp, e);
    if (rc == 0) {
        summary(&r, &p);
        rc = login_step(&r, &cn, secret, e);
        if (pop3_send(&p, "QUIT", NULL, &ignored) == 0) (void)pop3_reply(&p, &rep, &ignored);
    }
    connect_close(&cn);
    return rc;
}
