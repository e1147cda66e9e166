/*
 * connect — the one way popfetch reaches a POP3 server, for a fetch and for
 * --serverinfo alike: connect, implicit TLS or STLS, the greeting, CAPA
 * (before and after STLS), and the single answer to "may a secret be sent on
 * this connection?".
 *
 * Rules it keeps: with `tls starttls` nothing continues in clear (a server
 * that does not list STLS is refused in strict use, tried anyway in report
 * use; one that refuses it, or sends bytes between its +OK and the
 * handshake, is an error); CAPA is asked again after STLS and what was said
 * before it is forgotten. In strict use (a fetch) an untrusted certificate is
 * an ERR_TLS error before any application data is sent; in report use
 * (--serverinfo) the handshake completes so the certificate can be shown,
 * and connect_secret_ok() then answers no.
 *
 * A clear connection (tls starttls or off) to a server that says nothing is
 * most often a POP3S port: the observer hears so after a few seconds, and
 * the timeout's error says so in its hint.
 * In a fetch, the CAPA before login may come from connect_params.memo
 * instead of the server (capamemo.h says when); the CAPA the server sent is
 * handed back in connection.learnt for the caller to remember.
 *
 * It prints nothing: whoever wants to show the steps passes an observer,
 * whose callbacks see each one as it happens. Server and certificate text
 * handed to them is escaped, except CAPA lines, which are passed raw with
 * their length.
 */
#ifndef POPFETCH_CONNECT_H
#define POPFETCH_CONNECT_H

#include "capamemo.h"
#include "conf.h"
#include "err.h"
#include "net.h"
#include "pop3.h"
#include "tls.h"

enum connect_use {
    CONNECT_STRICT, /* a fetch: an untrusted certificate is an error */
    CONNECT_REPORT, /* --serverinfo: report it, send no secret */
};

/* Each callback may be NULL. `when` names a CAPA: "before STLS", "before
 * login", "after STLS". */
struct connect_observer {
    void *ctx;
    void (*connected)(void *ctx, const struct net_conn *c, unsigned port);
    void (*tls)(void *ctx, const struct net_conn *c, const struct tls_peer_info *pi);
    void (*greeting)(void *ctx, const struct pop3 *p);
    /* CAPA's status reply (line NULL), then each line as the server sent it */
    void (*capa)(void *ctx, const char *when, const struct pop3_reply *r, const char *line,
                 size_t len);
    /* STLS about to be sent (r NULL), then accepted (r its +OK); listed:
     * CAPA had announced it */
    void (*stls)(void *ctx, int listed, const struct pop3_reply *r);
    /* A likely mistake, said at once: `tls starttls` (or off) with port
     * 995, before connecting; no greeting after CONNECT_GREETING_NOTE_MS on
     * a clear connection (a POP3S server waits for the client's TLS). */
    void (*note)(void *ctx, const char *msg);
};

/* How long a clear connection waits for the greeting before the observer
 * hears that the server may be waiting for TLS (the wait goes on up to
 * `timeout`). */
#define CONNECT_GREETING_NOTE_MS 4000

/* One connection; its net_conn and pop3 are the caller's. */
struct connection {
    struct net_conn *net;
    struct pop3 *pop;
    struct tls_peer_info peer; /* after TLS: the certificate and its verdict */
    int capa_remembered;       /* the CAPA before login came from connect_params.memo */
    struct capamemo learnt;    /* else the one the server sent, to remember (have: usable) */
};

struct connect_params {
    enum connect_use use;
    pop3_trace_fn trace; /* -vv protocol trace, or NULL */
    void *trace_ctx;
    const struct connect_observer *ob; /* or NULL */
    /* In strict use, the capabilities remembered from the last poll, or
     * NULL: used instead of asking CAPA before login when capamemo.h's
     * rules allow (a trusted TLS connection to the same server, certificate
     * and greeting; with STLS only the CAPA after it) */
    const struct capamemo *memo;
};

/* Connect net to a's server, with pop on top of it, and run the sequence up
 * to the CAPA before login. Close with connect_close(), even on failure. */
int connect_open(struct connection *cn, struct net_conn *net, struct pop3 *pop,
                 const struct account *a, const struct connect_params *cp, struct err *e);

/* May a secret (or anything derived from one) be sent on this connection?
 * As far as TLS goes: yes without TLS (the plaintext rule is auth's), and
 * with TLS only when the certificate was trusted as a fetch trusts it. */
int connect_secret_ok(const struct connection *cn);

void connect_close(struct connection *cn);

#endif
