/*
 * forward — the LMTP and SMTP sinks (`delivery lmtp TARGET`, `delivery smtp
 * HOST[:PORT]`): each message is spooled whole (spool.c), then handed to
 * the server over one connection kept for the account's run (esmtp.c), so
 * the server never receives a cut-off message as complete.
 *
 * The envelope: the sender is `smtp_sender` if set, else fetchmail's rule
 * (header_envelope_sender: Return-Path, "" for <>, then the sender fields);
 * an address without '@' gets "@" and the POP3 server's name; a message
 * naming no sender at all gets the remote user at the POP3 server. The
 * recipients are `recipient`'s addresses (default: the local user's login
 * name). BODY=8BITMIME when the message holds 8-bit bytes and the server
 * offers it (else it is sent as it is, as fetchmail and most relays do);
 * SMTPUTF8 when a recipient is not ASCII (a server without it refuses such
 * a message permanently); SIZE when offered (a message over the server's
 * limit is refused permanently without being sent).
 *
 * Several connections (`smtp_connections`; default FORWARD_LMTP_CONNS for
 * LMTP, 1 for SMTP): end() hands the spooled message to the next connection
 * in turn, pipelined up to its end line, and returns without waiting for
 * the replies after it (the sink is deferred, deliver.h): they are read
 * as soon as they have arrived (checked, without waiting, as the next
 * message is spooled and ended), when that connection is needed again, or
 * at the group's sync(), and each
 * message's outcome goes to the fetch engine on its own (deliver_settled).
 * The server (Dovecot's LMTP serves each connection in its own process)
 * works on up to N messages at once while popfetch fetches the next ones.
 *
 * The outcome, per message:
 *  - every recipient accepted: delivered.
 *  - some accepted, others refused: each recipient that has it is recorded
 *    at once (deliver_got: a recipient record in the journal, state.h), and
 *    the outcome is that of the refused ones below (the first named in the
 *    error, the others through opts.warn); the next run, told who has it by
 *    recover_recipient at its start, sends the message only to the others
 *    (and one that every recipient has counts as delivered). Without a
 *    UIDL there is nothing to remember: delivered, each refusal warned.
 *  - none accepted, a temporary refusal (4xx) or a lost connection among
 *    the reasons: not delivered, it stays on the server for the next run.
 *    The FORWARD_TEMP_MAX-th such failure in a row ends with DELIVER_STOP
 *    (deliver.h): the fetch engine gives the sink no more messages in this
 *    run, they stay on the server untried (do not hammer a busy or
 *    rate-limiting server, nor download what cannot be handed over).
 *  - every recipient refused permanently (5xx), or too big for SIZE, or a
 *    non-ASCII recipient without SMTPUTF8: by `smtp_rejected`: keep (not
 *    delivered, it stays on the server), quarantine (filed into a local
 *    Maildir, fsynced, then counted as delivered, with a warning; if that
 *    fails it stays on the server), delete (counted as delivered, with a
 *    warning). A local failure (the spool) always keeps it.
 * A connection that dropped while idle (between messages) is opened again,
 * once per message; one that dropped after the message's end line was sent
 * is not retried: the server may have it, and the next run delivers it
 * again (a duplicate rather than a loss). Only the message on that
 * connection is concerned; the others go on.
 *
 * Durability: the fetch engine writes a message's record as soon as its
 * replies are read and say delivered. A kill -9 or power cut before that
 * makes the next run deliver again every message the server had accepted
 * and popfetch had not yet recorded: at most one per connection, so at
 * most smtp_connections duplicates per interruption, never a loss (fault
 * point "after-forward", tested in tests/forward.bats and
 * tests/crash.bats).
 */
#ifndef POPFETCH_FORWARD_H
#define POPFETCH_FORWARD_H

#include <sys/types.h>

#include "conf.h"
#include "deliver.h"
#include "err.h"

#define FORWARD_TEMP_MAX   3 /* temporary failures in a row before the server is left alone */
#define FORWARD_LMTP_CONNS CONF_LMTP_CONNECTIONS /* LMTP's by default (bench/RESULTS.md, L) */
#define FORWARD_CONNS_MAX  CONF_SMTP_CONNECTIONS_MAX

struct forward_opts {
    int lmtp;               /* LMTP, else SMTP */
    const char *target;     /* socket path, HOST:PORT or HOST */
    const char *helo;       /* NULL = this host's name */
    const char *sender;     /* smtp_sender: NULL = from the message; "<>" = null */
    const char *recipients; /* space-separated; NULL = the local user */
    const char *server;     /* the POP3 server (completes local-only senders) */
    const char *remote_user;
    int timeout_s;
    unsigned connections;   /* smtp_connections; 0 = the default (above) */
    int tls;                /* enum esmtp_tls */
    const char *trust_file; /* for the server's certificate; NULL = the system's */
    const char *auth_user;  /* SMTP AUTH (esmtp_set_auth); NULL = none */
    const char *auth_secret;
    int auth_mech;          /* enum sasl_mech; -1 = the strongest offered */
    const char *spool_dir;  /* NULL = $TMPDIR or /tmp */
    int rejected;           /* enum rejected_mode (conf.h): keep, quarantine, delete */
    const char *quarantine; /* the Maildir for REJECTED_QUARANTINE */
    const char *tag;        /* the account's tag (Maildir file names) */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    /* -vv, NULL = off; with several connections each line names its own
     * ("LMTP[2] MAIL FROM:<...>", esmtp.h's trace_id, from 1) */
    void (*trace)(void *ctx, char dir, const char *line, size_t len);
    void *trace_ctx;
};

int forward_open(struct sink *s, const struct forward_opts *o, struct err *e);

/* The envelope sender for a message whose header gave `found` (its length,
 * -1 if none): completed as described above into buf (len bytes). For
 * tests. Returns the length, or -1 if it does not fit. */
ssize_t forward_complete_sender(const char *found, ssize_t flen, const char *server,
                                const char *remote_user, char *buf, size_t len);

#endif
