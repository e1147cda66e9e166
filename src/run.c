/*
 * run — sequential, parallel and daemon runs of accounts. See run.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "pool.h"
#include "progress.h"
#include "result.h"
#include "run.h"
#include "session.h"
#include "status.h"
#include "stop.h"

/* On a terminal: the progress line becomes the run's summary (or goes
 * away before an error is shown). */
static void progress_summary(const struct session_result *r)
{
    char text[200];

    if (r->err.kind != ERR_NONE) {
        progress_end(NULL);
        return;
    }
    snprintf(text, sizeof text, "%lu message%s (%llu bytes) retrieved, %lu deleted%s in %.1f s",
             r->fetched, r->fetched == 1 ? "" : "s", (unsigned long long)r->bytes, r->deleted,
             r->failed ? ", some failed" : "", (double)r->ms / 1000.0);
    progress_end(text);
}

static void summary(const struct account *a, const struct session_result *r)
{
    log_info(a->name, "%lu message%s (%llu bytes) retrieved, %lu deleted, %lu failed, in %.2f s",
             r->fetched, r->fetched == 1 ? "" : "s", (unsigned long long)r->bytes, r->deleted,
             r->failed, (double)r->ms / 1000.0);
}

/* --check's line: on stdout, or stderr when stdout carries --json. */
static void check_line(const struct account *a, const struct session_result *r, int json)
{
    FILE *f = json ? stderr : stdout;

    fprintf(f, "%s: %lu new message%s (%lu on the server)\n", a->name, r->new_messages,
            r->new_messages == 1 ? "" : "s", r->listed);
    fflush(f);
}

static int check_code(const struct session_result *r)
{
    if (r->err.kind != ERR_NONE) return exitcode_for_err(r->err.kind);
    return r->new_messages ? EXIT_MAIL : EXIT_NOMAIL;
}

/* The account's status file (status.h), except after a run that changed
 * nothing to report: --check, the account locked by another run (which
 * writes it), a run stopped by a signal. */
static void record_status(const struct account *a, const struct cli_options *o,
                          const struct run_outcome *out)
{
    struct status_record rec;
    struct err e;
    const char *dir = cli_status_dir(o, a);

    if (o->check || out->r.err.kind == ERR_LOCKED || out->r.err.kind == ERR_INTERRUPTED) return;
    if (status_update(dir, a, out, out->next_poll_ms, &rec, &e) < 0) {
        err_prefix(&e, "the status file was not written");
        log_error(a->name, &e);
        return;
    }
    if (rec.damaged)
        log_warn(a->name, "%s/%s.status was not a status file; it starts afresh", dir, a->name);
}

/* The daemon's next poll after this run (wall clock ms; 0 = none): as
 * planned for a success or a failure, and not before the server's
 * LOGIN-DELAY has passed. */
static int64_t next_poll(const struct run_next *next, const struct run_outcome *out)
{
    int64_t t, later;

    if (!next || out->r.err.kind == ERR_INTERRUPTED) return 0;
    t = result_failed(out->status) ? next->failed_ms : next->ok_ms;
    later = out->r.login_delay > 0 ? result_now_ms() + (int64_t)out->r.login_delay * 1000 : 0;
    return t && later > t ? later : t;
}

void run_here(struct account *a, const struct cli_options *o, const struct run_next *next,
              struct run_outcome *out)
{
    struct session_opts so = {.check = o->check};

    memset(out, 0, sizeof *out);
    cli_apply(o, a);
    so.state_dir = cli_state_dir(o, a);
    out->check = o->check;
    out->started_ms = result_now_ms();
    session_run(a, &so, &out->r);
    progress_summary(&out->r);
    out->status = o->check ? check_code(&out->r) : exitcode_for_result(&out->r);
    out->next_poll_ms = next_poll(next, out);
    record_status(a, o, out); /* here: accounts run side by side write theirs side by side */
}

/* --json: the run's object on stdout. */
static void print_json(const struct account *a, const struct run_outcome *out, int64_t next_poll_ms)
{
    json_t *j = result_json(a, out, next_poll_ms);
    struct err e;

    if (!j) {
        err_set(&e, ERR_INTERNAL, "out of memory for the JSON result");
        log_error(a->name, &e);
        return;
    }
    if (result_print(STDOUT_FILENO, j, &e) < 0) log_error(a->name, &e);
    json_decref(j);
}

int run_report(const struct account *a, const struct cli_options *o, const struct run_outcome *out,
               const struct run_report_opts *ro)
{
    if (out->r.err.kind != ERR_NONE && !ro->hide_error) log_error(a->name, &out->r.err);
    if (o->check) {
        if (out->r.err.kind == ERR_NONE) check_line(a, &out->r, o->json);
    } else {
        summary(a, &out->r);
    }
    if (o->json)
        print_json(a, out,
                   ro->next_poll_ms > 0   ? ro->next_poll_ms
                   : ro->next_poll_ms < 0 ? 0
                                          : out->next_poll_ms);
    return out->status;
}

/* An account run in this process, reported. */
static int run_account(struct account *a, const struct cli_options *o)
{
    struct run_outcome out;
    struct run_report_opts ro = {0};

    run_here(a, o, NULL, &out);
    return run_report(a, o, &out, &ro);
}

/* ---- running several accounts ------------------------------------------ */

struct job_ctx {
    struct account **list;
    const struct cli_options *o;
};

/* In the account's process. */
static void job_run(void *ctx, size_t id, struct run_outcome *out)
{
    struct job_ctx *c = ctx;

    stop_install(c->o->daemon > 0);
    run_here(c->list[id], c->o, NULL, out);
}

/* Up to `jobs` accounts at once, each in its own process (pool.h): one
 * account's failure or hang touches no other's state or status. Each is
 * reported as it ends; the statuses are combined in config order, as a
 * sequential run would. A stop signal starts nothing more and is passed
 * on to the running accounts. */
static int run_parallel(struct account **list, size_t n, unsigned long jobs,
                        const struct cli_options *o)
{
    struct job_ctx ctx = {.list = list, .o = o};
    struct pool pool;
    int *st = calloc(n, sizeof *st), status = -1, forwarded = 0;
    size_t next = 0;
    struct err e;

    if (!st || pool_init(&pool, jobs < n ? jobs : n, &e) < 0) {
        free(st);
        err_set(&e, ERR_INTERNAL, "out of memory");
        log_error(NULL, &e);
        return EXIT_INTERNAL;
    }
    for (size_t i = 0; i < n; i++) st[i] = EXIT_INTERNAL;
    while (next < n || pool.running > 0) {
        while (next < n && pool.running < pool.max && !stop_requested()) {
            if (pool_start(&pool, next, job_run, &ctx, &e) < 0) log_error(list[next]->name, &e);
            next++;
        }
        if (stop_requested()) {
            next = n; /* start nothing more */
            if (!forwarded) pool_kill(&pool, stop_requested());
            forwarded = 1;
        }
        size_t id;
        struct run_outcome out;
        struct run_report_opts ro = {0};
        if (pool_wait(&pool, 1000, &id, &out) == 1) st[id] = run_report(list[id], o, &out, &ro);
    }
    for (size_t i = 0; i < n; i++) status = status < 0 ? st[i] : exitcode_combine(status, st[i]);
    pool_free(&pool);
    free(st);
    return status < 0 ? EXIT_NOMAIL : status;
}

void run_write_metrics(const struct config *cfg, const struct cli_options *o)
{
    struct metrics_account *list;
    struct err e;

    if (!o->metrics) return;
    if (!(list = calloc(cfg->naccounts ? cfg->naccounts : 1, sizeof *list))) {
        err_set(&e, ERR_INTERNAL, "out of memory");
        log_error(NULL, &e);
        return;
    }
    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct account *a = &cfg->accounts[i];
        list[i].name = a->name;
        if (status_read(cli_status_dir(o, a), a->name, &list[i].rec, &e) < 0)
            list[i].rec.have = 0; /* reported when its run writes it */
    }
    if (metrics_write(o->metrics, list, cfg->naccounts, result_now_ms(), &e) < 0) {
        err_prefix(&e, "--metrics");
        log_error(NULL, &e);
    }
    free(list);
}

/* The accounts named on the command line (all when none), in config order. */
int run_accounts(struct config *cfg, const struct cli_options *o)
{
    struct account **list = calloc(cfg->naccounts, sizeof(struct account *));
    unsigned long jobs = o->jobs ? o->jobs : cfg->jobs ? cfg->jobs : 1;
    size_t n = 0;
    int status = -1;

    if (!list) return EXIT_INTERNAL;
    progress_enable(jobs > 1 ? (int)jobs : 1);
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (cli_wants(o, &cfg->accounts[i])) list[n++] = &cfg->accounts[i];
    if (jobs > 1 && n > 1) {
        status = run_parallel(list, n, jobs, o);
    } else {
        for (size_t i = 0; i < n && !stop_requested(); i++) {
            int st = run_account(list[i], o);
            status = status < 0 ? st : exitcode_combine(status, st);
        }
        /* a run cut short by a signal never looks like success */
        if (stop_requested() && status <= EXIT_NOMAIL) status = EXIT_INTERNAL;
    }
    free(list);
    run_write_metrics(cfg, o);
    return status < 0 ? EXIT_NOMAIL : status;
}
