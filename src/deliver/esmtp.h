/*
 * esmtp — the client side of one LMTP (RFC 2033) or SMTP (RFC 5321)
 * connection, for the forwarding sink (forward.c): connect (a Unix socket
 * or TCP), the greeting, LHLO/EHLO and the extensions it lists, then one
 * mail transaction at a time (RSET between them on a reused connection),
 * RSET/XFORWARD/MAIL/RCPT/DATA pipelined (RFC 2920: one write, one round
 * trip) when the server offers PIPELINING,
 * the message dot-stuffed with CRLF line ends, and the replies: one after
 * DATA for SMTP, one per accepted recipient for LMTP.
 *
 * One client with two faces (lmtp set or not) rather than two: the two
 * protocols differ only in the hello command and in the replies after the
 * final dot, and every rule about replies, extensions and the message's
 * bytes must be the same in both.
 *
 * AUTH (RFC 4954) to a relay, when esmtp_set_auth gave a user and a
 * secret: right after the hello (and STARTTLS, if configured), with sasl.c's
 * mechanisms (the one named, else the strongest the EHLO's AUTH lists:
 * SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN, CRAM-MD5). Nothing derived from
 * the secret goes out unless the connection is TLS (whose certificate was
 * verified in the handshake) or stays on this machine (a Unix socket,
 * 127.0.0.1 or ::1): the same "may a secret be sent?" answer as POP3's
 * (connect_secret_ok), else ERR_AUTH before AUTH is sent. The secret is
 * traced as ****, and wiped (esmtp_free). A 5xx to the login is ERR_AUTH
 * and sticks: every later esmtp_open fails at once with it (a refused
 * password is not tried again in this run); a 4xx is ERR_SERVER.
 *
 * What it does not decide: what a reply means for the message (delivered,
 * retried, rejected: forward.c), the envelope (forward.c with header.c).
 *
 * Every byte from the server is untrusted: a reply line is at most
 * ESMTP_LINE_MAX bytes, a reply at most ESMTP_REPLY_LINES lines, every line
 * of a reply carries the same code 200..599, else ERR_PROTOCOL and the
 * connection is dropped. Texts kept for messages are quoted (err_quote).
 * Library module: errors through struct err, never prints.
 */
#ifndef POPFETCH_ESMTP_H
#define POPFETCH_ESMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "err.h"
#include "net.h"
#include "tls.h"

#define ESMTP_LINE_MAX    2048 /* one reply line (RFC 5321 says 512: be lenient) */
#define ESMTP_REPLY_LINES 100  /* lines of one reply */
#define ESMTP_TEXT_MAX    200  /* a reply's text kept for messages (quoted) */
#define ESMTP_RCPT_MAX    32   /* recipients of one message */
#define ESMTP_WBUF        (64 * 1024)

/* Extensions the hello reply listed (bits of esmtp.ext). */
enum {
    ESMTP_PIPELINING = 1,
    ESMTP_SIZE = 2,
    ESMTP_8BITMIME = 4,
    ESMTP_SMTPUTF8 = 8,
    ESMTP_STARTTLS = 16,
    ESMTP_XFORWARD = 32,
    ESMTP_AUTH = 64,
};

#define ESMTP_MECHS_MAX  256 /* AUTH's list of mechanisms kept */
#define ESMTP_AUTH_STEPS 16  /* challenges of one AUTH exchange */

/* TLS to the server (`smtp_tls`; order matches conf.c's names). */
enum esmtp_tls { ESMTP_TLS_OFF, ESMTP_TLS_STARTTLS, ESMTP_TLS_IMPLICIT };

struct esmtp_reply {
    int code;                  /* 200..599 */
    char text[ESMTP_TEXT_MAX]; /* the last line's text, quoted */
};

struct esmtp {
    struct net_conn c;
    int lmtp;            /* LHLO and a reply per recipient after DATA */
    int is_unix;         /* target is a socket path */
    char target[512];    /* the socket path or the host name */
    unsigned port;       /* TCP port */
    char helo[256];      /* the name given with LHLO/EHLO */
    int timeout_ms;      /* each wait for the server */
    int tls_mode;        /* enum esmtp_tls */
    struct tls_opts tls; /* how the server's certificate is checked */
    int up;              /* connected, greeted, hello done */
    int used;            /* a transaction ran on this connection: RSET first */
    unsigned ext;        /* ESMTP_* bits */
    uint64_t size_max;   /* SIZE's value; 0 = none announced */
    unsigned char *wbuf; /* the message on its way out */
    size_t wlen;
    char mechs[ESMTP_MECHS_MAX]; /* AUTH's mechanisms, space-separated */
    char *auth_user;             /* NULL: no AUTH (esmtp_set_auth) */
    char *auth_secret;           /* wiped by esmtp_free */
    int auth_mech;               /* enum sasl_mech; -1 = the strongest offered */
    int auth_refused;            /* the login was refused: auth_err, at once */
    struct err auth_err;
    int pending;                  /* esmtp_send_start sent a message: its replies are due */
    size_t pend_n;                /* ... its recipients */
    int pend_acc[ESMTP_RCPT_MAX]; /* ... which of them were accepted at RCPT */
    const char *rtext;            /* the last reply line's text (raw, until the next read) */
    size_t rtext_len;
    /* -vv: each command and reply line, prefixed "LMTP " or "SMTP " (the
     * message itself as one "(N bytes of message data)" line); NULL = off */
    void (*trace)(void *ctx, char dir, const char *line, size_t len);
    void *trace_ctx;
    unsigned trace_id; /* not 0: the prefix is "LMTP[trace_id] " (one of several) */
};

/* The envelope of one message. */
struct esmtp_envelope {
    const char *sender;      /* "" = the null reverse-path <> */
    const char *const *rcpt; /* at most ESMTP_RCPT_MAX */
    size_t nrcpt;
    uint64_t size;  /* the message's size with CRLF line ends (SIZE=) */
    int body8;      /* the message has 8-bit bytes: BODY=8BITMIME */
    int utf8;       /* the envelope has 8-bit bytes: SMTPUTF8 */
    const char *xf; /* XFORWARD attributes (NAME=... ADDR=...), NULL = none */
};

/* What the server said about one message. */
struct esmtp_result {
    struct esmtp_reply mail;
    struct esmtp_reply rcpt[ESMTP_RCPT_MAX]; /* the final word per recipient */
    int data_sent; /* the final dot went out: the outcome may be unknown */
};

/* Reads the message's next bytes (spool_read's shape): the count, 0 at
 * the end, -1 with e set. */
typedef ssize_t (*esmtp_read_fn)(void *ctx, void *buf, size_t len, struct err *e);

/* Check `target`: for LMTP an absolute socket path or HOST:PORT; for SMTP
 * HOST[:PORT] (25 by default). [IPv6]:PORT is allowed. No I/O and no
 * allocation (conf.c checks a `delivery` value with it); esmtp_free after
 * an esmtp_open. */
int esmtp_init(struct esmtp *s, int lmtp, const char *target, const char *helo, int timeout_ms,
               struct err *e);

/* Log in with AUTH as `user` (mech: enum sasl_mech, or -1 for the
 * strongest offered) on every connection esmtp_open makes. Copies both;
 * ERR_USAGE if either holds a line break. */
int esmtp_set_auth(struct esmtp *s, const char *user, const char *secret, int mech, struct err *e);

/* Is this peer this machine's loopback (AF_UNIX, 127.0.0.1, ::1,
 * ::ffff:127.0.0.1)? Other 127.x addresses count as elsewhere, as Dovecot
 * counts them. The second half of the "may a secret be sent?" rule; for
 * tests. */
int esmtp_loopback(const struct sockaddr *sa);

/* Connect, then esmtp_start. */
int esmtp_open(struct esmtp *s, struct err *e);

/* On a connected s->c: read the greeting, say LHLO/EHLO, read the
 * extensions (the connection is closed on failure). For esmtp_open and
 * the fuzz target. */
int esmtp_start(struct esmtp *s, struct err *e);

/* One mail transaction. 0: the server answered (res holds its word for
 * MAIL and for each recipient; a recipient refused at RCPT keeps that
 * reply, an accepted one the reply after the message). -1: the connection
 * failed or the server broke the protocol (e set, the connection is
 * closed; res->data_sent says whether the server may have the message). */
int esmtp_send(struct esmtp *s, const struct esmtp_envelope *env, esmtp_read_fn rd, void *rctx,
               struct esmtp_result *res, struct err *e);

/* esmtp_send in two halves, so that the server's work on the message
 * overlaps other work: esmtp_send_start does everything up to and with the
 * end line (0: res holds the replies so far, and s->pending says whether
 * the replies after the end line are still due; -1 as esmtp_send), then
 * esmtp_send_finish reads those replies into res (0; at once when none is
 * due; -1 as esmtp_send, res->data_sent being set). No other transaction
 * may start on s in between. */
int esmtp_send_start(struct esmtp *s, const struct esmtp_envelope *env, esmtp_read_fn rd,
                     void *rctx, struct esmtp_result *res, struct err *e);
int esmtp_send_finish(struct esmtp *s, struct esmtp_result *res, struct err *e);

/* QUIT (without waiting long) and close. */
void esmtp_close(struct esmtp *s);

/* Free the buffers and wipe the secret (after esmtp_close). */
void esmtp_free(struct esmtp *s);

/* The parsing rules, for tests and fuzzing: one reply line. Returns the
 * code (200..599) and sets *more (a '-' continuation) and *text, or -1. */
int esmtp_parse_line(const char *line, size_t len, int *more, const char **text);

#endif
