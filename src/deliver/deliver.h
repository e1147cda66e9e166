/*
 * deliver — the interface every delivery sink implements, so the session can
 * stream a message into it without knowing where it goes.
 *
 * Per message: begin, write (any number of times), then either end (the
 * message is whole in the sink's staging area and has a name the state
 * journal records) or abort (nothing of it remains). Per batch of ended
 * messages: sync (one barrier making all of them durable) before their
 * journal records are committed, then publish each by name, then
 * publish_sync (one barrier).
 * At start, recover finishes journaled names still in staging and removes
 * the sink's own orphans.
 *
 * A sink where ending is already final (mbox, MDA: the message is delivered, or refused,
 * when end returns) takes the shared deliver_final_* functions for sync, publish, publish_sync and
 * recover (there is nothing to do), and sets one_at_a_time in its open
 * function so each message's record is written as soon as end returns.
 *
 * Such a sink may also close the gap between "final" and "recorded": in
 * end, just before it makes the message final, it calls deliver_intend()
 * with a note of its own (a printable word without '/'; mbox: where the
 * message will be and how long), which the fetch engine writes into the
 * journal as an intent for that message's UIDL and fsyncs before
 * deliver_intend returns (committing the open group first), so that even
 * a power cut right after the sink's own fsync leaves the intent on disk. At the next start, an
 * intent not followed by the message's record is handed to the sink's
 * recover_intent: 1 = the message is there (it is recorded as delivered,
 * never delivered again), 0 = it is not (whatever part of it was left has
 * been removed; it will be fetched again), -1 = error. A sink without
 * recover_intent (NULL) writes no intents.
 *
 * A sink that hands a message to several recipients (LMTP/SMTP) and may
 * see some accept it and others not calls deliver_got() in end() for each
 * recipient that has it, when the message as a whole is not delivered: the
 * fetch engine writes a recipient record for the message's UIDL at once
 * (state.h). At the next start each such record whose message is still
 * not delivered is handed to the sink's recover_recipient before anything
 * is fetched: 1 = every recipient the sink delivers to now has it (it is
 * recorded as delivered), 0 = not yet (the sink remembers and leaves those
 * recipients out when the message comes again), -1 = error. A sink without
 * recover_recipient (NULL) writes no recipient records.
 *
 * A sink may hand a message on without waiting for its outcome (LMTP/SMTP
 * over several connections): it sets `deferred` (beside one_at_a_time) in
 * its open function. Its end() returning 0 then means "handed on, outcome
 * due" under the name it gives (unique among the messages not yet settled;
 * an empty name: the message is final already, as with one_at_a_time);
 * the outcome of each such message comes through deliver_settled() (0:
 * delivered, the fetch engine writes its record at once; -1 or DELIVER_STOP
 * with the reason: not delivered, never recorded, never deleted), from a
 * later end() or at the latest from sync(), which settles every message
 * handed on before it returns. deliver_got() names the message then.
 *
 * An end() that fails with ERR_AUTH says the sink's own login was refused
 * (SMTP AUTH at a relay): nothing more can be delivered, and the fetch
 * engine ends the run with that error (the message stays on the server).
 * Any other failure of end() is that message's alone (DELIVER_STOP aside:
 * the sink asks for a pause, below).
 *
 * src/deliver/ holds the sinks: this file (the interface; deliver.c picks
 * the sink an account names and holds the shared defaults), maildir.c,
 * mbox.c, mda.c, forward.c (LMTP and SMTP, over esmtp.c), and their helpers
 * spool.c (the message in a temporary
 * file), header.c (fields, senders, 8-bit) and received.c (the trace
 * field). A new sink adds its file and a case in deliver_open, and touches
 * nothing else.
 */
#ifndef POPFETCH_DELIVER_H
#define POPFETCH_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DELIVER_NAME_MAX 256

/* end() may fail with DELIVER_STOP instead of -1: the message failed (e
 * says why) and the sink asks that no more messages be given to it in
 * this run (the server behind it is busy or rate-limiting: do not hammer
 * it). The fetch engine then sends no more RETRs, reads and drops the
 * answers to those already sent, keeps (and deletes) what is durable, and
 * the run ends with QUIT as usual; the messages not tried stay on the
 * server and count as not delivered. */
#define DELIVER_STOP (-2)

struct deliver_msg {
    unsigned long num; /* message number on the server */
    const char *uidl;  /* may be NULL when the server has no UIDL */
    uint64_t size;     /* size the server announced */
};

struct sink;

struct sink_ops {
    int (*begin)(struct sink *s, const struct deliver_msg *m, struct err *e);
    int (*write)(struct sink *s, const unsigned char *buf, size_t len, struct err *e);
    int (*end)(struct sink *s, char name[DELIVER_NAME_MAX], struct err *e);
    void (*abort)(struct sink *s);
    int (*sync)(struct sink *s, struct err *e);
    int (*publish)(struct sink *s, const char *name, struct err *e);
    int (*publish_sync)(struct sink *s, struct err *e);
    int (*recover)(struct sink *s, char *const *names, size_t n, struct err *e);
    int (*recover_intent)(struct sink *s, const char *uidl, const char *note, struct err *e);
    int (*recover_recipient)(struct sink *s, const char *uidl, const char *rcpt, struct err *e);
    /* Drop an ended message that will not be published (it could not be
     * recorded: the next run fetches it again). NULL: nothing to drop. */
    void (*discard)(struct sink *s, const char *name);
    void (*close)(struct sink *s);
};

struct sink {
    const struct sink_ops *ops;
    void *impl;
    int one_at_a_time; /* set by the sink's open: end() is final, record each message at once */
    int deferred;      /* set by the sink's open: end()'s outcome comes through deliver_settled */
    /* set by the fetch engine while it runs (NULL otherwise): records an
     * intent for the message being delivered */
    int (*intend)(void *ctx, const char *note, struct err *e);
    void *intend_ctx;
    /* set likewise: records that the message `name` (NULL: the one being
     * delivered) reached rcpt */
    int (*got)(void *ctx, const char *name, const char *rcpt, struct err *e);
    void *got_ctx;
    /* set likewise for a deferred sink: the outcome of the message `name` */
    int (*settled)(void *ctx, const char *name, int rc, const struct err *why);
    void *settled_ctx;
};

/* Record an intent for the message being delivered (see above); nothing
 * when no one listens. */
int deliver_intend(struct sink *s, const char *note, struct err *e);

/* Record that the message `name` (NULL: the one being delivered) reached
 * recipient rcpt (a printable word without '/'; see above); nothing when
 * no one listens. */
int deliver_got(struct sink *s, const char *name, const char *rcpt, struct err *e);

/* A deferred sink's word on the message it ended as `name`: rc 0
 * delivered, -1 or DELIVER_STOP not delivered (why says why). -1 when the
 * listener could not record it (e set; the run ends), else 0. */
int deliver_settled(struct sink *s, const char *name, int rc, const struct err *why, struct err *e);

/* sync, publish, publish_sync (deliver_final_sync too) and recover for a
 * sink whose end() is final: nothing to do, success. */
int deliver_final_sync(struct sink *s, struct err *e);
int deliver_final_publish(struct sink *s, const char *name, struct err *e);
int deliver_final_recover(struct sink *s, char *const *names, size_t n, struct err *e);

struct account;

/* What a sink may need to know beyond the account's config. */
struct deliver_ctx {
    const char *tag; /* short [0-9a-f] account tag (Maildir file names) */
    void (*mda_stderr)(void *ctx, const char *line, size_t len);
    void *mda_stderr_ctx;
    void (*warn)(void *ctx, const char *msg); /* what the user should know (a sink's warning) */
    void *warn_ctx;
    void (*trace)(void *ctx, char dir, const char *line, size_t len); /* -vv: LMTP/SMTP lines */
    void *trace_ctx;
};

/* Open the sink the account's `delivery` names (maildir, mbox, mda, lmtp
 * or smtp). */
int deliver_open(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                 struct err *e);

#endif
