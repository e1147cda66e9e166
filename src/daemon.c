/*
 * daemon — the scheduler of -d. See daemon.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "exitcode.h"
#include "log.h"
#include "monotime.h"
#include "pool.h"
#include "result.h"
#include "run.h"
#include "schedule.h"
#include "stop.h"

/* One reading of the config. A reload retires the one before; it is freed
 * once no running poll started from it is left. */
struct gen {
    struct config cfg;
    unsigned users; /* running polls of its accounts */
    struct gen *next_retired;
};

/* One account's schedule. */
struct entry {
    size_t id;  /* stable: the pool's job id */
    char *name; /* malloc'd */
    unsigned char digest[CONF_DIGEST_LEN];
    size_t index;        /* in the current config */
    struct gen *run_gen; /* while running: the config its poll started from */
    size_t run_index;
    unsigned long interval; /* seconds */
    int64_t due;            /* monotonic ms */
    int64_t not_before;     /* LOGIN-DELAY: no login before (monotonic ms) */
    int64_t run_started;    /* monotonic ms */
    struct run_next plan;   /* the next poll after this one (wall clock ms) */
    int running, removed, seen;
    int again;              /* SIGUSR1 came while it ran: poll once more at once */
    unsigned long failures; /* failed polls in a row */
    int fail_outcome;       /* result_outcome_index of that streak, -1 = none */
    int64_t failing_since;  /* wall clock ms */
};

struct daemon {
    struct cli_options *o;
    struct gen *cur, *retired;
    struct entry *e;
    size_t n, cap, next_id;
    struct pool pool;
    struct account *starting; /* the account the next child runs */
    struct run_next next;     /* and its plan for the poll after */
    int metrics_dirty;
    int64_t metrics_at;
};

/* ---- configs and entries ---------------------------------------------- */

static void gen_release(struct daemon *d, struct gen *g)
{
    struct gen **p;

    if (!g || --g->users > 0 || g == d->cur) return;
    for (p = &d->retired; *p; p = &(*p)->next_retired)
        if (*p == g) {
            *p = g->next_retired;
            conf_free(&g->cfg);
            free(g);
            return;
        }
}

static void retire(struct daemon *d, struct gen *g)
{
    if (g->users == 0) {
        conf_free(&g->cfg);
        free(g);
        return;
    }
    g->next_retired = d->retired;
    d->retired = g;
}

static struct entry *find_name(struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (!d->e[i].removed && !strcmp(d->e[i].name, name)) return &d->e[i];
    return NULL;
}

static struct entry *find_id(struct daemon *d, size_t id)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->e[i].id == id) return &d->e[i];
    return NULL;
}

static unsigned long interval_of(const struct daemon *d, const struct account *a)
{
    return a->poll_interval ? a->poll_interval : d->o->daemon;
}

/* A new entry for account i of the current config, due now. */
static struct entry *add_entry(struct daemon *d, size_t i, int64_t now)
{
    const struct account *a = &d->cur->cfg.accounts[i];
    struct entry *x;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct entry *n = realloc(d->e, cap * sizeof *n);
        if (!n) return NULL;
        d->e = n;
        d->cap = cap;
    }
    x = &d->e[d->n];
    memset(x, 0, sizeof *x);
    if (!(x->name = strdup(a->name))) return NULL;
    d->n++;
    x->id = d->next_id++;
    x->index = i;
    x->interval = interval_of(d, a);
    x->due = now;
    x->fail_outcome = -1;
    conf_account_digest(a, x->digest);
    return x;
}

static void drop_entry(struct daemon *d, struct entry *x)
{
    struct entry *last = &d->e[--d->n];

    free(x->name);
    if (x != last) *x = *last;
}

/* ---- reload (SIGHUP) ---------------------------------------------------- */

static int load_again(struct daemon *d, struct config *n)
{
    struct cli_options *o = d->o;
    struct delivery_setting keep = o->cli_delivery;
    struct err e;

    if (o->ncli) {
        log_warn(NULL, "SIGHUP: the account is on the command line; nothing to re-read");
        return -1;
    }
    if (o->config && !strcmp(o->config, "-")) {
        log_warn(NULL, "SIGHUP: the configuration came from standard input; nothing to re-read");
        return -1;
    }
    if (conf_load(o->config, n, &e) < 0 || cli_check_names(n, o, &e) < 0 ||
        cli_delivery(n, o, &e) < 0) {
        log_error(NULL, &e);
        log_warn(NULL, "SIGHUP: %s is broken; going on with the configuration read before",
                 d->cur->cfg.path);
        o->cli_delivery = keep;
        conf_free(n);
        return -1;
    }
    return 0;
}

/* Match the new config's accounts with the schedule: counts[] are
 * unchanged, changed, new. */
static int rematch(struct daemon *d, int64_t now, size_t counts[3])
{
    for (size_t i = 0; i < d->cur->cfg.naccounts; i++) {
        const struct account *a = &d->cur->cfg.accounts[i];
        unsigned char digest[CONF_DIGEST_LEN];
        struct entry *x;

        if (!cli_wants(d->o, a)) continue;
        if (!(x = find_name(d, a->name))) {
            if (!(x = add_entry(d, i, now))) return -1;
            x->seen = 1;
            counts[2]++;
            continue;
        }
        x->seen = 1;
        x->index = i;
        conf_account_digest(a, digest);
        if (!memcmp(digest, x->digest, sizeof digest) && x->interval == interval_of(d, a)) {
            counts[0]++;
            continue;
        }
        memcpy(x->digest, digest, sizeof digest);
        x->interval = interval_of(d, a);
        x->due = now; /* changed: polled at once, its failures remembered */
        counts[1]++;
    }
    return 0;
}

static void reload(struct daemon *d)
{
    struct config n;
    struct gen *g, *old = d->cur;
    size_t counts[3] = {0, 0, 0}, removed = 0;
    int64_t now = monotime_ms();
    struct err e;

    if (load_again(d, &n) < 0) return;
    if (!(g = calloc(1, sizeof *g))) {
        conf_free(&n);
        err_set(&e, ERR_INTERNAL, "out of memory");
        log_error(NULL, &e);
        return;
    }
    g->cfg = n;
    d->cur = g;
    for (size_t i = 0; i < d->n; i++) d->e[i].seen = 0;
    if (rematch(d, now, counts) < 0) {
        err_set(&e, ERR_INTERNAL, "out of memory");
        log_error(NULL, &e);
    }
    for (size_t i = d->n; i-- > 0;) {
        struct entry *x = &d->e[i];
        if (x->seen || x->removed) continue;
        removed++;
        if (x->running)
            x->removed = 1; /* reported when its poll ends, then dropped */
        else
            drop_entry(d, x);
    }
    retire(d, old);
    log_notice(NULL,
               "SIGHUP: re-read %s: %zu account%s (%zu unchanged, %zu changed, %zu new, "
               "%zu removed)",
               g->cfg.path, counts[0] + counts[1] + counts[2],
               counts[0] + counts[1] + counts[2] == 1 ? "" : "s", counts[0], counts[1], counts[2],
               removed);
}

/* ---- polls ---------------------------------------------------------------- */

/* In the account's process. */
static void child_run(void *ctx, size_t id, struct run_outcome *out)
{
    struct daemon *d = ctx;

    (void)id;
    stop_install(1);
    run_here(d->starting, d->o, &d->next, out);
}

static void start(struct daemon *d, struct entry *x, int64_t now)
{
    struct err e;

    int64_t wall = result_now_ms();
    double u = schedule_random();

    /* the next poll, planned now so that the run can write it into its
     * status file: the interval plus jitter after a success, the back-off
     * after one more failure */
    d->next.ok_ms = wall + schedule_next(0, x->interval, 0, u);
    d->next.failed_ms = wall + schedule_next(0, x->interval, x->failures + 1, u);
    x->plan = d->next;
    d->starting = &d->cur->cfg.accounts[x->index];
    if (pool_start(&d->pool, x->id, child_run, d, &e) < 0) {
        log_error(x->name, &e);
        x->due = now + (int64_t)x->interval * 1000;
        return;
    }
    x->running = 1;
    x->run_started = now;
    x->run_gen = d->cur;
    x->run_index = x->index;
    d->cur->users++;
}

/* The entry due first among those waiting (NULL: none). */
static struct entry *first_due(struct daemon *d)
{
    struct entry *best = NULL;

    for (size_t i = 0; i < d->n; i++) {
        struct entry *x = &d->e[i];
        if (x->running || x->removed) continue;
        if (!best || x->due < best->due) best = x;
    }
    return best;
}

/* Start what is due, as far as -j allows. An account the server asked to
 * wait (LOGIN-DELAY) is not polled: said with -v at each of its regular
 * times, polled as soon as the wait is over. */
static void start_due(struct daemon *d)
{
    int64_t now = monotime_ms();
    struct entry *x;

    while (d->pool.running < d->pool.max && (x = first_due(d)) && x->due <= now) {
        if (now < x->not_before) {
            int64_t next = x->due + (int64_t)x->interval * 1000;
            log_info(x->name,
                     "not polled: the server asks for %lld more seconds between logins "
                     "(LOGIN-DELAY)",
                     (long long)((x->not_before - now + 999) / 1000));
            x->due = next < x->not_before ? next : x->not_before;
            continue;
        }
        start(d, x, now);
    }
}

static void say_failing(const struct entry *x, const struct run_outcome *out, int same,
                        int64_t next)
{
    char wait[32];

    snprintf(wait, sizeof wait, "%.0f s", (double)(next - monotime_ms()) / 1000.0);
    if (same) {
        log_info(x->name, "still failing (%lu polls in a row, %s); next poll in %s", x->failures,
                 result_outcome(out), wait);
        return;
    }
    log_warn(x->name,
             "polled again in %s, then less and less often while it fails this way (at most "
             "every %.0f s); reported again when that changes",
             wait, (double)schedule_delay_ms(x->interval, 1000000) / 1000.0);
}

static void say_recovered(const struct entry *x, const struct run_outcome *out)
{
    char since[48];

    result_time(since, sizeof since, x->failing_since);
    log_notice(x->name, "recovered (%s) after %lu failed poll%s since %s", result_outcome(out),
               x->failures, x->failures == 1 ? "" : "s", since);
}

/* A poll ended: schedule the next, report this one. */
static void finished(struct daemon *d, size_t id, const struct run_outcome *out)
{
    struct entry *x = find_id(d, id);
    struct run_report_opts ro = {0};
    const struct account *a;
    int64_t now = monotime_ms();
    int failed = result_failed(out->status), oi = result_outcome_index(result_outcome(out));
    int same;

    if (!x) return;
    x->running = 0;
    a = &x->run_gen->cfg.accounts[x->run_index];
    same = failed && x->failures > 0 && x->fail_outcome == oi;
    if (failed) {
        if (!same) x->failing_since = out->started_ms;
        x->failures++;
        x->fail_outcome = oi;
    }
    if (out->r.login_delay > 0) x->not_before = schedule_not_before(now, out->r.login_delay);
    /* as planned when it started (the run wrote into its status file the
     * same time, or the end of LOGIN-DELAY if later: start_due says why
     * the polls before it are skipped) */
    x->due = now + ((failed ? x->plan.failed_ms : x->plan.ok_ms) - result_now_ms());
    if (x->again) {
        x->due = now;
        ro.next_poll_ms = result_now_ms();
    }
    x->again = 0;
    if (x->removed) ro.next_poll_ms = -1; /* there is none */
    ro.hide_error = same;
    run_report(a, d->o, out, &ro);
    if (failed && out->r.err.kind != ERR_INTERRUPTED && !x->removed)
        say_failing(x, out, same, x->due);
    if (!failed && x->failures) say_recovered(x, out);
    if (!failed) {
        x->failures = 0;
        x->fail_outcome = -1;
    }
    gen_release(d, x->run_gen);
    x->run_gen = NULL;
    if (x->removed) drop_entry(d, x);
    d->metrics_dirty = 1;
}

/* Wait for a poll to end or the next to be due (at most a second, so that
 * SIGHUP and SIGUSR1 are seen at once), and handle what ended. */
static void wait_some(struct daemon *d)
{
    struct entry *x = first_due(d);
    int64_t now = monotime_ms(), t = 1000;
    struct run_outcome out;
    size_t id;

    if (x && d->pool.running < d->pool.max && x->due - now < t) t = x->due - now;
    if (t < 0) t = 0;
    if (d->pool.running == 0) {
        pool_reap(&d->pool);
        if (t > 0) {
            struct pollfd none;
            stop_poll(&none, 0, (int)t);
        }
        return;
    }
    if (pool_wait(&d->pool, (int)t, &id, &out) == 1) finished(d, id, &out);
}

static void write_metrics(struct daemon *d, int force)
{
    int64_t now = monotime_ms();

    if (!d->o->metrics || !d->metrics_dirty || (!force && now - d->metrics_at < 1000)) return;
    run_write_metrics(&d->cur->cfg, d->o);
    d->metrics_dirty = 0;
    d->metrics_at = now;
}

/* SIGUSR1: every account now, backed-off ones too. */
static void poll_all_now(struct daemon *d)
{
    int64_t now = monotime_ms();

    log_info(NULL, "SIGUSR1: polling every account now");
    for (size_t i = 0; i < d->n; i++) {
        if (d->e[i].running)
            d->e[i].again = 1; /* what came during its poll is fetched right after */
        else
            d->e[i].due = now;
    }
}

static void finish_all(struct daemon *d)
{
    struct run_outcome out;
    size_t id;

    pool_kill(&d->pool, stop_requested());
    while (d->pool.running > 0)
        if (pool_wait(&d->pool, 1000, &id, &out) == 1) finished(d, id, &out);
    write_metrics(d, 1);
}

static void teardown(struct daemon *d, struct config *cfg);

static int setup(struct daemon *d, struct config *cfg, struct cli_options *o, struct err *e)
{
    unsigned long jobs = o->jobs ? o->jobs : cfg->jobs ? cfg->jobs : 1;
    int64_t now = monotime_ms();

    memset(d, 0, sizeof *d);
    d->o = o;
    if (!(d->cur = calloc(1, sizeof *d->cur))) return err_set(e, ERR_INTERNAL, "out of memory");
    if (pool_init(&d->pool, jobs, e) < 0) {
        free(d->cur);
        return -1;
    }
    d->cur->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < d->cur->cfg.naccounts; i++)
        if (cli_wants(o, &d->cur->cfg.accounts[i]) && !add_entry(d, i, now)) {
            teardown(d, cfg); /* the config goes back to the caller */
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
    return 0;
}

static void teardown(struct daemon *d, struct config *cfg)
{
    for (size_t i = 0; i < d->n; i++) free(d->e[i].name);
    free(d->e);
    d->e = NULL;
    d->n = 0;
    while (d->retired) {
        struct gen *g = d->retired;
        d->retired = g->next_retired;
        conf_free(&g->cfg);
        free(g);
    }
    *cfg = d->cur->cfg;
    free(d->cur);
    pool_free(&d->pool);
}

int daemon_run(struct config *cfg, struct cli_options *o)
{
    struct daemon d;
    struct err e;

    if (setup(&d, cfg, o, &e) < 0) {
        log_error(NULL, &e);
        return EXIT_INTERNAL;
    }
    log_info(NULL, "polling every %lu s (pid %ld), up to %zu account%s at once", o->daemon,
             (long)getpid(), d.pool.max, d.pool.max == 1 ? "" : "s");
    while (!stop_requested()) {
        if (stop_take_reload()) reload(&d);
        if (stop_take_poll()) poll_all_now(&d);
        start_due(&d);
        wait_some(&d);
        write_metrics(&d, 0);
    }
    finish_all(&d);
    log_info(NULL, "stopped by signal %d", stop_requested());
    teardown(&d, cfg);
    return EXIT_MAIL;
}
