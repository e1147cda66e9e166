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

struct session_opts {
    int check;             /* --check: count new messages, change nothing */
    const char *state_dir; /* where seen-state lives */
};

struct session_result {
    unsigned long listed;       /* messages on the server */
    unsigned long fetched;      /* delivered this run */
    unsigned long deleted;      /* DELE accepted */
    unsigned long failed;       /* could not be delivered (left on the server) */
    unsigned long waiting;      /* left for a later run by max_messages */
    unsigned long new_messages; /* not seen before (what --check counts) */
    uint64_t bytes;             /* bytes delivered */
    long login_delay;           /* CAPA LOGIN-DELAY seconds, -1 if not announced */
    int64_t ms;                 /* wall time */
    struct err err;             /* the failure that ended the run, or ERR_NONE */
    int err_repeated;           /* the same failure as the last run's, recorded then (an
                                   OAuth2 refresh token the provider refused): a daemon
                                   reports it once */
};

/* The name of the account's seen-state in the state directory. */
void session_state_key(const struct account *a, char *buf, size_t len);

int session_run(const struct account *a, const struct session_opts *o, struct session_result *r);

#endif
