/*
 * fetch — the pipelined fetch engine: the part of a run from the planned
 * listing to the last DELE. It RETRs the messages the plan fetches into the
 * sink, makes them durable in groups, records them in the seen-state,
 * publishes them, DELEs what the plan deletes, and puts QUIT on the wire as
 * early as that is safe. session.c decides when this runs and what it is
 * given; this file decides how the commands flow.
 *
 * Given (struct fetch_job):
 *  - the connection (pop3), logged in, its listing read and planned
 *    (listing.c: table, sizes, UIDLs; plan_make() set each action);
 *  - the sink, open and recovered, and the seen-state, locked and loaded;
 *  - the account, for the bounds the user set (max_message_bytes), the
 *    Received: field (received_header, host, user, name) and messages;
 *  - the rules: whether to pipeline, whether sizes come per message (a
 *    LIST n in front of each RETR n), the window and the group bounds
 *    (0 = the defaults below; tests set small ones);
 *  - the RETRs fetch_guess() already sent ahead of the listing.
 *
 * Guarantees:
 *  - Answers are matched to commands strictly in the order the commands
 *    went out (one FIFO for RETR, LIST n and DELE). A -ERR to RETR n fails
 *    message n alone: it stays on the server, is neither recorded nor
 *    deleted, and the run goes on.
 *  - With pipelining at most `window` RETRs are in flight (each with its
 *    LIST n when sizes come per message); without it one command at a
 *    time (RFC 2449 §6.6).
 *  - Durability before DELE (design.md §3): ended messages are made
 *    durable in groups (sink sync, one state commit, publish, one
 *    publish_sync); a DELE goes out only for a message of a group that got
 *    that far. A group ends at group_max messages, at group_bytes (each
 *    message counted at most group_bytes), FETCH_GROUP_MS after its first
 *    message ended (also while a long body is still arriving), or when
 *    nothing more is to come. A sink whose end() is final (one_at_a_time)
 *    has each message's record written into the journal as soon as end()
 *    returns (not yet fsynced: that is the group's one commit, before any
 *    DELE), so a kill -9 after the sink accepted it cannot lose the record.
 *    A deferred sink (deliver.h: LMTP/SMTP over several connections) has
 *    it written when the sink settles the message (deliver_settled), at
 *    the latest in the group's sync; a message settled as not delivered
 *    is neither recorded nor deleted.
 *  - QUIT (pipelining only) goes out once every command is queued: behind
 *    the last DELEs, or behind the last RETR when nothing is deleted, neither by
 *    DELE nor by the server (EXPIRE 0 deletes what was RETRed, so there
 *    QUIT waits for durability). Without pipelining, or when the run ends
 *    early, the caller sends QUIT (fetch_result.quit_sent says which).
 *  - An intent (deliver_intend, a sink whose end() is final and writes
 *    them: mbox) is durable before deliver_intend returns: the open group
 *    is committed first, then the intent is written and fsynced.
 *  - A sink's end() failing with DELIVER_STOP (deliver.h) pauses the
 *    run: no RETR goes out after it, the answers to RETRs already sent
 *    are read and dropped, what is durable is deleted as the plan says,
 *    QUIT follows; every message not tried counts as failed, with one
 *    warning.
 *  - When the run fails midway (connection, sink, signal), what was whole
 *    is still made durable and recorded, and nothing more is deleted.
 *  - A body is bounded by what the listing promised (twice LIST's size and
 *    1 MiB, or STAT's total without a size) and by max_message_bytes.
 *
 * Reports: counters in struct fetch_result (filled even when the run
 * fails), the error that ended the run in *e, and through the observer:
 * each message not delivered, warnings (a refused DELE, a failed last
 * commit), progress after each message received whole. Nothing here
 * prints.
 */
#ifndef POPFETCH_FETCH_H
#define POPFETCH_FETCH_H

#include <stdint.h>

#include "conf.h"
#include "deliver.h"
#include "err.h"
#include "listing.h"
#include "pop3.h"
#include "state.h"

#define FETCH_WINDOW      1024        /* RETRs in flight with pipelining, at most */
#define FETCH_GROUP       64          /* messages per durability group, at most */
#define FETCH_GROUP_BYTES (4UL << 20) /* a group ends once it holds this much */
#define FETCH_GROUP_MS    1000        /* ... or once it has been open this long */
#define FETCH_GUESS_MAX   64          /* RETRs sent ahead of the listing, at most */

struct fetch_rules {
    int pipelining;       /* commands go out while others are in flight; QUIT early */
    int sizes_each;       /* no LIST: a LIST n goes out before each RETR n */
    unsigned window;      /* RETRs in flight when pipelining: 0 = FETCH_WINDOW, at most that */
    unsigned group_max;   /* messages per group: 0 = FETCH_GROUP, at most that */
    uint64_t group_bytes; /* a group's bytes: 0 = FETCH_GROUP_BYTES */
};

/* The RETRs fetch_guess() sent: message indexes [lo, hi). */
struct fetch_ahead {
    unsigned long lo, hi;
};

/* What the engine tells its caller while it runs (each may be NULL). */
struct fetch_observer {
    void *ctx;
    /* message `num` was not delivered and stays on the server; `why` says so */
    void (*not_delivered)(void *ctx, unsigned long num, const struct err *why);
    /* the server refused a DELE, or a last commit after a failure failed */
    void (*warn)(void *ctx, const char *msg);
    /* one more message received whole: this run's totals so far */
    void (*progress)(void *ctx, unsigned long msgs, uint64_t bytes);
};

struct fetch_job {
    struct pop3 *pop;
    struct listing *ls; /* planned: ls->plan[i].action for every i < ls->count */
    struct sink *sink;
    struct state *st;
    const struct account *a;
    const char *local_host; /* for Received: */
    struct fetch_rules rules;
    struct fetch_ahead ahead; /* from fetch_guess(), or {0, 0} */
    const struct fetch_observer *ob;
};

struct fetch_result {
    unsigned long fetched; /* durable, recorded and published */
    unsigned long kept;    /* of those, the ones left on the server (keep) */
    unsigned long deleted; /* DELE accepted */
    unsigned long failed;  /* not delivered (left on the server) */
    uint64_t bytes;        /* bytes of the fetched messages */
    int quit_sent;         /* QUIT went out behind the last commands */
};

/* While LIST and UIDL are on their way (pipelining): the state remembers
 * `remembered` messages and STAT says there are `count`; mail is appended,
 * so the new ones most likely start at number remembered + 1. RETR up to
 * FETCH_GUESS_MAX of them at once, in order (each behind its LIST n when
 * sizes come per message), and flush. fetch_messages() then reads and
 * drops a guessed message the plan does not fetch. A right guess saves the
 * round trip from UIDL to the first RETR. Whether guessing is allowed at
 * all is the caller's policy. Sets *ahead ({0, 0}: nothing sent). */
int fetch_guess(struct pop3 *pop, const struct fetch_rules *r, unsigned long remembered,
                unsigned long count, struct fetch_ahead *ahead, struct err *e);

/* Run the engine (above) to the end of the plan. 0, or -1 with *e set;
 * *res is filled either way. */
int fetch_messages(const struct fetch_job *job, struct fetch_result *res, struct err *e);

#endif
