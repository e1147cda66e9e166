/*
 * connect — the connect sequence and the "may a secret be sent" rule. See
 * connect.h.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "connect.h"

struct run {
    struct connection *cn;
    const struct account *a;
    const struct connect_params *cp;
    const struct connect_observer *ob;
    const char *when; /* the CAPA being read */
};

static void tls_options(const struct run *r, struct tls_opts *t)
{
    const struct account *a = r->a;

    memset(t, 0, sizeof *t);
    t->verify = a->tls_verify;
    t->trust_file = a->tls_trust_file;
    t->fingerprint = a->tls_fingerprint;
    t->min_version = a->tls_min_version;
    t->cert_file = a->tls_cert_file;
    t->key_file = a->tls_key_file;
    t->peer_name = a->tls_host_override;
    t->report = r->cp->use == CONNECT_REPORT;
}

static int start_tls(struct run *r, struct err *e)
{
    struct tls_opts t;

    tls_options(r, &t);
    if (tls_start(r->cn->net, &t, &r->cn->peer, e) < 0) return -1;
    if (r->ob && r->ob->tls) r->ob->tls(r->ob->ctx, r->cn->net, &r->cn->peer);
    return 0;
}

static void capa_seen(void *ctx, const struct pop3_reply *rep, const char *line, size_t len)
{
    struct run *r = ctx;

    if (line) capamemo_add(&r->cn->learnt, line, len);
    if (r->ob && r->ob->capa) r->ob->capa(r->ob->ctx, r->when, rep, line, len);
}

/* "HOST PORT MODE": what a memo is learnt from. */
static void server_id(const struct run *r, char *buf, size_t len)
{
    static const char *const mode[] = {"implicit", "starttls", "off"};

    snprintf(buf, len, "%s %u %s", r->a->host, conf_port(r->a), mode[r->a->tls % 3]);
}

/* Only a CAPA read over TLS from a trusted certificate, in a fetch, is
 * remembered or replaced by a memory (capamemo.h). */
static int memo_allowed(const struct run *r)
{
    return r->cp->use == CONNECT_STRICT && r->cn->net->ssl && r->cn->peer.trusted;
}

static int capa(struct run *r, const char *when, struct err *e)
{
    char id[sizeof r->cn->learnt.server];
    int rc;

    r->when = when;
    server_id(r, id, sizeof id);
    capamemo_begin(&r->cn->learnt, id, r->cn->peer.fingerprint, r->cn->pop->greeting);
    if (!memo_allowed(r)) r->cn->learnt.have = 0;
    rc = pop3_capa_watched(r->cn->pop, capa_seen, r, e);
    if (!r->cn->pop->capa.known) r->cn->learnt.have = 0; /* -ERR: nothing to remember */
    return rc;
}

/* The CAPA before login: remembered from the last poll when the server,
 * its certificate and its greeting are the same, else asked. */
static int capa_before_login(struct run *r, const char *when, struct err *e)
{
    const struct capamemo *m = r->cp->memo;
    char id[sizeof r->cn->learnt.server];

    server_id(r, id, sizeof id);
    if (m && memo_allowed(r) &&
        capamemo_matches(m, id, r->cn->peer.fingerprint, r->cn->pop->greeting)) {
        capamemo_apply(m, &r->cn->pop->capa);
        r->cn->capa_remembered = 1;
        r->cn->learnt.have = 0;
        return 0;
    }
    return capa(r, when, e);
}

/* STLS, then TLS and a fresh CAPA. Nothing continues in clear. */
static int stls(struct run *r, struct err *e)
{
    struct connection *cn = r->cn;
    int listed = cn->pop->capa.stls;
    struct pop3_reply rep;

    if (!listed && r->cp->use == CONNECT_STRICT) {
        err_set(e, ERR_TLS, "%s does not offer STLS; refusing to continue without TLS", r->a->host);
        err_hint(e, "someone may be stripping STLS; or use `tls implicit` (port 995)");
        return -1;
    }
    if (r->ob && r->ob->stls) r->ob->stls(r->ob->ctx, listed, NULL);
    if (pop3_simple(cn->pop, "STLS", "STLS", &rep, e) < 0) {
        if (e->kind == ERR_SERVER) e->kind = ERR_TLS;
        return -1;
    }
    /* Anything already sent after the +OK did not come through TLS. */
    if (net_has_pending_input(cn->net))
        return err_set(e, ERR_TLS,
                       "%s sent data right after agreeing to STLS (possible "
                       "injection attack); refusing to continue",
                       r->a->host);
    if (r->ob && r->ob->stls) r->ob->stls(r->ob->ctx, listed, &rep);
    if (start_tls(r, e) < 0) return -1;
    return capa_before_login(r, "after STLS", e);
}

static void note(const struct run *r, const char *msg)
{
    if (r->ob && r->ob->note) r->ob->note(r->ob->ctx, msg);
}

#define WAITS_FOR_TLS                                                                              \
    "the server may be waiting for TLS (a POP3S port, such as 995): use `tls implicit` there, "    \
    "or port 110 with `tls starttls`"

/* On a clear connection: a greeting, or after a few seconds of silence the
 * likely reason; then the greeting, within `timeout`. */
static int greeting(struct run *r, struct err *e)
{
    struct net_conn *net = r->cn->net;

    if (r->a->tls != TLS_IMPLICIT && net_buffered(net) == 0 &&
        net->timeout_ms > CONNECT_GREETING_NOTE_MS) {
        struct err quiet;
        int silent;

        net_set_deadline(net, CONNECT_GREETING_NOTE_MS);
        silent = net_wait(net, POLLIN, &quiet) < 0 && quiet.kind == ERR_TIMEOUT;
        net_clear_deadline(net);
        if (silent) note(r, "no greeting yet: " WAITS_FOR_TLS);
    }
    if (pop3_greeting(r->cn->pop, e) == 0) return 0;
    if (e->kind == ERR_TIMEOUT && r->a->tls != TLS_IMPLICIT) err_hint(e, WAITS_FOR_TLS);
    return -1;
}

static int sequence(struct run *r, struct err *e)
{
    struct connection *cn = r->cn;
    const struct account *a = r->a;
    unsigned port = conf_port(a);

    if (a->tls != TLS_IMPLICIT && port == 995)
        note(r, a->tls == TLS_STARTTLS
                    ? "`tls starttls` with port 995: port 995 is POP3S, where the server "
                      "waits for TLS first; use `tls implicit` (or port 110)"
                    : "`tls off` with port 995: port 995 is POP3S, where the server waits "
                      "for TLS first; use `tls implicit`");
    if (net_connect(cn->net, a->host, port, (int)a->timeout * 1000, e) < 0) return -1;
    if (r->ob && r->ob->connected) r->ob->connected(r->ob->ctx, cn->net, port);
    pop3_init(cn->pop, cn->net);
    cn->pop->trace = r->cp->trace;
    cn->pop->trace_ctx = r->cp->trace_ctx;
    if (a->tls == TLS_IMPLICIT && start_tls(r, e) < 0) return -1;
    if (greeting(r, e) < 0) return -1;
    if (r->ob && r->ob->greeting) r->ob->greeting(r->ob->ctx, cn->pop);
    if (a->tls == TLS_STARTTLS) return capa(r, "before STLS", e) < 0 ? -1 : stls(r, e);
    return capa_before_login(r, "before login", e);
}

int connect_open(struct connection *cn, struct net_conn *net, struct pop3 *pop,
                 const struct account *a, const struct connect_params *cp, struct err *e)
{
    struct run r = {.cn = cn, .a = a, .cp = cp, .ob = cp->ob};

    memset(cn, 0, sizeof *cn);
    cn->net = net;
    cn->pop = pop;
    net_init(net);
    pop3_init(pop, net);
    return sequence(&r, e);
}

int connect_secret_ok(const struct connection *cn)
{
    return cn->net->ssl == NULL || cn->peer.trusted;
}

void connect_close(struct connection *cn)
{
    if (cn->net) net_close(cn->net);
}
