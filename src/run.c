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
#include "net.h"
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

/* CAPA LOGIN-DELAY, per account, for the daemon's next polls. */
#define DELAY_SLOTS 256
static struct {
    char name[64];
    time_t not_before;
} delays[DELAY_SLOTS];

static time_t *delay_slot(const char *name)
{
    for (size_t i = 0; i < DELAY_SLOTS; i++) {
        if (!strcmp(delays[i].name, name)) return &delays[i].not_before;
        if (!delays[i].name[0]) {
            snprintf(delays[i].name, sizeof delays[i].name, "%s", name);
            return &delays[i].not_before;
        }
    }
    return NULL;
}

static void note_login_delay(const struct account *a, const struct session_result *r)
{
    time_t *t = r->login_delay > 0 ? delay_slot(a->name) : NULL;

    if (t) *t = time(NULL) + r->login_delay;
}

/* The server asked for more time between logins than has passed. */
static int login_delayed(const struct account *a)
{
    time_t *t = delay_slot(a->name);

    if (!t || time(NULL) >= *t) return 0;
    log_info(a->name,
             "not polled: the server asks for %lld more seconds between logins "
             "(LOGIN-DELAY)",
             (long long)(*t - time(NULL)));
    return 1;
}

void run_here(struct account *a, const struct cli_options *o, struct run_outcome *out)
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

/* The account's status file (status.h), except after a run that changed
 * nothing to report: --check, the account locked by another run (which
 * writes it), a run stopped by a signal. */
static void record_status(const struct account *a, const struct cli_options *o,
                          const struct run_outcome *out, const struct run_report_opts *ro)
{
    struct status_record rec;
    struct err e;
    const char *dir = cli_status_dir(o, a);

    if (o->check || out->r.err.kind == ERR_LOCKED || out->r.err.kind == ERR_INTERRUPTED) return;
    if (status_update(dir, a, out, ro->next_poll_ms, &rec, &e) < 0) {
        err_prefix(&e, "the status file was not written");
        log_error(a->name, &e);
        return;
    }
    if (rec.damaged)
        log_warn(a->name, "%s/%s.status was not a status file; it starts afresh", dir, a->name);
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
    record_status(a, o, out, ro);
    if (o->json) print_json(a, out, ro->next_poll_ms);
    return out->status;
}

/* An account run in this process, reported. */
static int run_account(struct account *a, const struct cli_options *o)
{
    struct run_outcome out;
    struct run_report_opts ro = {0};

    run_here(a, o, &out);
    note_login_delay(a, &out.r);
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
    run_here(c->list[id], c->o, out);
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
            if (o->daemon && login_delayed(list[i])) continue;
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

/* ---- daemon mode --------------------------------------------------------- */

/* SIGHUP: read the config again; a broken one keeps the one in use. */
static void reload(struct config *cfg, struct cli_options *o)
{
    struct config n;
    struct delivery_setting keep = o->cli_delivery;
    struct err e;
    const char *path = cfg->path;

    if (o->ncli) {
        log_warn(NULL, "SIGHUP: the account is on the command line; nothing to re-read");
        return;
    }
    if (o->config && !strcmp(o->config, "-")) {
        log_warn(NULL, "SIGHUP: the configuration came from standard input; nothing to re-read");
        return;
    }
    if (conf_load(o->config, &n, &e) < 0 || cli_check_names(&n, o, &e) < 0) {
        log_error(NULL, &e);
        log_warn(NULL, "SIGHUP: %s is broken; going on with the configuration read before", path);
        conf_free(&n);
        return;
    }
    if (cli_delivery(&n, o, &e) < 0) {
        log_error(NULL, &e);
        o->cli_delivery = keep;
        conf_free(&n);
        return;
    }
    conf_free(cfg);
    *cfg = n;
    log_info(NULL, "SIGHUP: re-read %s (%zu account%s)", cfg->path, cfg->naccounts,
             cfg->naccounts == 1 ? "" : "s");
}

/* Wait `secs` between polls, in steps of at most one second, so SIGUSR1
 * (poll now), SIGHUP (re-read) and SIGTERM (stop) are acted on at once. */
static void daemon_wait(unsigned long secs, struct config *cfg, struct cli_options *o)
{
    int64_t end = net_now_ms() + (int64_t)secs * 1000;

    while (!stop_requested()) {
        int64_t left = end - net_now_ms();
        struct timespec ts;

        if (stop_take_reload()) reload(cfg, o);
        if (stop_take_poll() || left <= 0) return;
        if (left > 1000) left = 1000;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* -d SECONDS: poll every account, wait, again, until SIGTERM or SIGINT.
 * Failures are logged and never end the daemon. */
int run_daemon(struct config *cfg, struct cli_options *o)
{
    log_info(NULL, "polling every %lu s (pid %ld)", o->daemon, (long)getpid());
    while (!stop_requested()) {
        run_accounts(cfg, o);
        daemon_wait(o->daemon, cfg, o);
    }
    log_info(NULL, "stopped by signal %d", stop_requested());
    return EXIT_MAIL;
}
