/*
 * pool — accounts run in child processes, up to a limit at once. Each
 * child runs one account (the caller's function) and hands the run's
 * outcome (result.h) back through a pipe, so the parent alone reports,
 * writes status files and schedules; one account's crash or hang touches
 * no other account. A child that ends without handing an outcome over
 * (killed, crashed) yields an ERR_INTERNAL outcome that says how it ended.
 *
 * A child keeps none of the parent's other pipes, and its own pipe is
 * closed on exec (an MDA or passwordeval never holds it). A child never
 * asks for a password on the terminal (secret_no_prompt): several run at
 * once and would race for the keyboard. A child that has
 * handed its outcome over frees its slot at once; it is reaped while it
 * exits, without the parent waiting for it. Nothing here
 * prints; pool_wait() waits with stop_poll() (stop.h), so a stop signal
 * ends the wait at once.
 */
#ifndef POPFETCH_POOL_H
#define POPFETCH_POOL_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "result.h"

#define POOL_MAX     64 /* children at once (CONF_MAX_JOBS) */
#define POOL_EXITING 4  /* times max: children left exiting before the parent waits */

/* Runs in the child: fill *out for the job `id`. */
typedef void (*pool_run_fn)(void *ctx, size_t id, struct run_outcome *out);

struct pool_slot {
    pid_t pid; /* 0 = free */
    int fd;    /* the read end of its pipe */
    size_t id;
    size_t got; /* bytes of out received */
    struct run_outcome out;
};

struct pool {
    struct pool_slot *slots;
    size_t max, running;
    pid_t *exiting; /* handed their outcome over, not yet reaped */
    size_t nexiting;
};

int pool_init(struct pool *p, size_t max, struct err *e);

/* Every child must have been waited for (pool_kill, then pool_wait until
 * nothing runs); those still exiting are reaped here. */
void pool_free(struct pool *p);

/* Start fn(ctx, id) in a child; the pool must not be full. */
int pool_start(struct pool *p, size_t id, pool_run_fn fn, void *ctx, struct err *e);

/* Wait at most timeout_ms (< 0: without limit) for a child to finish.
 * 1: one did, its job's id and outcome in *id and *out; 0: none did in
 * time, or a signal came, or nothing runs. */
int pool_wait(struct pool *p, int timeout_ms, size_t *id, struct run_outcome *out);

/* Reap the children that have exited since they handed their outcome
 * over (pool_wait does it too). */
void pool_reap(struct pool *p);

/* Send sig to every running child. */
void pool_kill(const struct pool *p, int sig);

#endif
