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
#include "monotime.h"
#include "progress.h"
#include "run.h"
#include "session.h"
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

static int check_status(const struct account *a, const struct session_result *r)
{
    if (r->err.kind != ERR_NONE) return exitcode_for_err(r->err.kind);
    printf("%s: %lu new message%s (%lu on the server)\n", a->name, r->new_messages,
           r->new_messages == 1 ? "" : "s", r->listed);
    fflush(stdout);
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

static int run_account(struct account *a, const struct cli_options *o)
{
    struct session_opts so = {.check = o->check};
    struct session_result r;

    cli_apply(o, a);
    so.state_dir = cli_state_dir(o, a);
    session_run(a, &so, &r);
    note_login_delay(a, &r);
    progress_summary(&r);
    /* a daemon says a failure recorded by an earlier run once: at its first
     * poll, or at the poll that found it */
    if (r.err.kind != ERR_NONE && o->quiet_repeats && r.err_repeated)
        log_info(a->name, "still: %s", r.err.msg);
    else if (r.err.kind != ERR_NONE)
        log_error(a->name, &r.err);
    if (o->check) return check_status(a, &r);
    summary(a, &r);
    return exitcode_for_result(&r);
}

/* ---- running several accounts ------------------------------------------ */

/* Start account a in a child process; its exit status is the account's. */
static pid_t start_child(struct account *a, const struct cli_options *o)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        stop_install(o->daemon > 0);
        int st = run_account(a, o);
        fflush(stdout);
        _exit(st);
    }
    return pid;
}

static int child_status(int ws)
{
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    return EXIT_INTERNAL; /* killed: never report success */
}

/* Up to `jobs` accounts at once, each in its own process: one account's
 * failure or hang touches no other's state or status. The statuses are
 * combined in config order, as a sequential run would. A stop signal
 * starts nothing more and is passed on to the running accounts. */
static int run_parallel(struct account **list, size_t n, unsigned long jobs,
                        const struct cli_options *o)
{
    pid_t *pids = calloc(n, sizeof *pids);
    int *st = calloc(n, sizeof *st), status = -1;
    size_t next = 0, running = 0;

    if (!pids || !st) {
        struct err e;
        free(pids);
        free(st);
        err_set(&e, ERR_INTERNAL, "out of memory");
        log_error(NULL, &e);
        return EXIT_INTERNAL;
    }
    while (next < n || running > 0) {
        while (next < n && running < jobs && !stop_requested()) {
            st[next] = EXIT_INTERNAL;
            if ((pids[next] = start_child(list[next], o)) < 0) {
                struct err e;
                err_set(&e, ERR_INTERNAL, "cannot start: %s", strerror(errno));
                log_error(list[next]->name, &e);
                pids[next] = 0;
            } else
                running++;
            next++;
        }
        if (stop_requested() && next < n) next = n; /* start nothing more */
        if (running == 0) break;
        int ws;
        pid_t done = waitpid(-1, &ws, 0);
        if (done < 0) {
            if (errno != EINTR) break;
            for (size_t i = 0; i < n; i++)
                if (pids[i] > 0 && stop_requested()) kill(pids[i], stop_requested());
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (pids[i] == done) {
                st[i] = child_status(ws);
                pids[i] = 0;
                running--;
            }
    }
    for (size_t i = 0; i < n; i++) status = status < 0 ? st[i] : exitcode_combine(status, st[i]);
    free(pids);
    free(st);
    return status < 0 ? EXIT_NOMAIL : status;
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
    return status < 0 ? EXIT_NOMAIL : status;
}

/* ---- daemon mode --------------------------------------------------------- */

/* SIGHUP: read the config again; a broken one keeps the one in use. */
static void reload(struct config *cfg, struct cli_options *o, const char *path)
{
    struct config n;
    struct delivery_setting keep = o->cli_delivery;
    struct err e;

    if (o->ncli) {
        log_warn(NULL, "SIGHUP: the account is on the command line; nothing to re-read");
        return;
    }
    if (conf_load(path, &n, &e) < 0 || cli_check_names(&n, o, &e) < 0) {
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
    log_info(NULL, "SIGHUP: re-read %s (%zu account%s)", path, cfg->naccounts,
             cfg->naccounts == 1 ? "" : "s");
}

/* Wait `secs` between polls, in steps of at most one second, so SIGUSR1
 * (poll now), SIGHUP (re-read) and SIGTERM (stop) are acted on at once. */
static void daemon_wait(unsigned long secs, struct config *cfg, struct cli_options *o,
                        const char *path)
{
    int64_t end = monotime_ms() + (int64_t)secs * 1000;

    while (!stop_requested()) {
        int64_t left = end - monotime_ms();
        struct timespec ts;

        if (stop_take_reload()) reload(cfg, o, path);
        if (stop_take_poll() || left <= 0) return;
        if (left > 1000) left = 1000;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* -d SECONDS: poll every account, wait, again, until SIGTERM or SIGINT.
 * Failures are logged and never end the daemon. */
int run_daemon(struct config *cfg, struct cli_options *o, const char *path)
{
    log_info(NULL, "polling every %lu s (pid %ld)", o->daemon, (long)getpid());
    while (!stop_requested()) {
        run_accounts(cfg, o);
        o->quiet_repeats = 1;
        daemon_wait(o->daemon, cfg, o, path);
    }
    log_info(NULL, "stopped by signal %d", stop_requested());
    return EXIT_MAIL;
}
