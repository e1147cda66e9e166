/*
 * session — one account's run from start to QUIT, and the only place that
 * knows the order of things: lock and load state, recover the sink, get the
 * secret, connect, TLS/STLS, log in, list, plan, fetch each message into the
 * sink, make it durable, record it, publish it, delete it, QUIT, compact.
 * How the fetch itself flows (the pipeline, the groups, DELE and QUIT
 * placement) is fetch.c's: the session gives it the connection, the plan,
 * the sink and the state, and reports what it observes.
 *
 * It reports through log.c and returns a result; main.c turns results into
 * the exit status.
 */
#ifndef POPFETCH_SESSION_H
#define POPFETCH_SESSION_H

#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "pop3.h"

struct session_opts {
    int check;             /* --check: count new messages, change nothing */
    const char *state_dir; /* where seen-state lives */
};

/* What a run did. Plain data (no pointers): a run in a child process hands
 * it to its parent as bytes. The counts before have_listing is set are 0
 * and mean "not known". */
struct session_result {
    int have_listing;                  /* STAT was answered: listed and new_messages are known */
    unsigned long listed;              /* messages on the server */
    unsigned long fetched;             /* delivered this run */
    unsigned long deleted;             /* DELE accepted */
    int quit_ok;                       /* QUIT answered +OK: the deletions are committed */
    int quit_unanswered;               /* no answer to QUIT: the deletions may not be committed */
    unsigned long kept;                /* delivered this run and left on the server (keep) */
    unsigned long failed;              /* could not be delivered (left on the server) */
    unsigned long too_big;             /* left on the server by max_size */
    unsigned long waiting;             /* left for a later run by max_messages */
    unsigned long new_messages;        /* not seen before (what --check counts) */
    uint64_t bytes;                    /* bytes delivered */
    long login_delay;                  /* CAPA LOGIN-DELAY seconds, -1 if not announced */
    int64_t ms;                        /* wall time */
    char tls_version[32];              /* "TLSv1.3"; "" without TLS or before it */
    char server_reply[POP3_ERR_SHOWN]; /* the server's last -ERR line (pop3.h), or "" */
    struct err err;                    /* the failure that ended the run, or ERR_NONE */
};

/* The name of the account's seen-state in the state directory: what
 * identifies its mailbox, user@host (not the port: the same mailbox is
 * reached over 995 and 110), or the account's `state_key`. Computed here
 * alone. */
void session_state_key(const struct account *a, char *buf, size_t len);

/* The name an older popfetch gave it: user@host:port (state_adopt takes
 * its files over; --check and --dump-state read them where they are). */
void session_old_state_key(const struct account *a, char *buf, size_t len);

struct state;

/* Lock the account's state in dir (state_lock), first taking over the
 * state an older popfetch kept under user@host:port (state_adopt). */
int session_state_lock(const struct account *a, const char *dir, struct state **st, struct err *e);

int session_run(const struct account *a, const struct session_opts *o, struct session_result *r);

#endif
