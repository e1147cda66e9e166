/*
 * metrics — the Prometheus textfile. See metrics.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "metrics.h"

/* A growing text buffer. */
struct text {
    char *p;
    size_t len, cap;
    int bad;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->bad) return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->bad = 1;
            return;
        }
        if (t->p && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *np = realloc(t->p, cap);
        if (!np) {
            t->bad = 1;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
}

/* A label value: backslash, double quote and newline escaped. */
static void add_label(struct text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            add(t, "\\%c", *s);
        else if (*s == '\n')
            add(t, "\\n");
        else
            add(t, "%c", *s);
    }
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{account="..."} as the start of a sample line */
static void sample(struct text *t, const char *name, const char *account)
{
    add(t, "%s{account=\"", name);
    add_label(t, account);
    add(t, "\"");
}

static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

enum field { F_FETCHED, F_BYTES, F_LAST_RUN, F_DURATION, F_EXIT, F_SUCCESS, F_FAILS, F_NEXT };

static const struct {
    const char *name, *type, *help;
} fields[] = {
    {"popfetch_messages_fetched_total", "counter", "Messages delivered."},
    {"popfetch_bytes_fetched_total", "counter", "Bytes of the messages delivered, as received."},
    {"popfetch_last_run_timestamp_seconds", "gauge", "When the last run started (Unix time)."},
    {"popfetch_last_run_duration_seconds", "gauge", "How long the last run took."},
    {"popfetch_last_run_exit_status", "gauge", "The exit status of the last run."},
    {"popfetch_last_success_timestamp_seconds", "gauge",
     "When the last run that succeeded started (Unix time); absent if none has."},
    {"popfetch_consecutive_failures", "gauge", "Runs in a row that failed."},
    {"popfetch_next_poll_timestamp_seconds", "gauge",
     "When the daemon polls the account next (Unix time)."},
};

static void one_field(struct text *t, enum field f, const struct metrics_account *a)
{
    const struct status_record *r = &a->rec;

    switch (f) {
    case F_FETCHED:
        sample(t, fields[f].name, a->name);
        add(t, "} %llu\n", (unsigned long long)r->fetched_total);
        return;
    case F_BYTES:
        sample(t, fields[f].name, a->name);
        add(t, "} %llu\n", (unsigned long long)r->bytes_total);
        return;
    case F_LAST_RUN:
        sample(t, fields[f].name, a->name);
        add(t, "} %.3f\n", seconds(r->last_run_ms));
        return;
    case F_DURATION:
        sample(t, fields[f].name, a->name);
        add(t, "} %.3f\n", r->duration);
        return;
    case F_EXIT:
        sample(t, fields[f].name, a->name);
        add(t, "} %d\n", r->exit_status);
        return;
    case F_SUCCESS:
        if (!r->last_success_ms) return;
        sample(t, fields[f].name, a->name);
        add(t, "} %.3f\n", seconds(r->last_success_ms));
        return;
    case F_FAILS:
        sample(t, fields[f].name, a->name);
        add(t, "} %lu\n", r->consecutive_failures);
        return;
    case F_NEXT:
        if (!r->next_poll_ms) return;
        sample(t, fields[f].name, a->name);
        add(t, "} %.3f\n", seconds(r->next_poll_ms));
        return;
    }
}

char *metrics_render(const struct metrics_account *list, size_t n, int64_t now_ms)
{
    struct text t = {0};

    family(&t, "popfetch_runs_total", "counter", "Runs of the account, by outcome.");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; list[i].rec.have && k < RESULT_OUTCOMES; k++) {
            sample(&t, "popfetch_runs_total", list[i].name);
            add(&t, ",outcome=\"%s\"} %llu\n", result_outcome_name(k),
                (unsigned long long)list[i].rec.runs[k]);
        }
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        family(&t, fields[f].name, fields[f].type, fields[f].help);
        for (size_t i = 0; i < n; i++)
            if (list[i].rec.have) one_field(&t, (enum field)f, &list[i]);
    }
    family(&t, "popfetch_metrics_timestamp_seconds", "gauge",
           "When popfetch wrote this file (Unix time).");
    add(&t, "popfetch_metrics_timestamp_seconds %.3f\n", seconds(now_ms));
    if (t.bad) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

int metrics_write(const char *path, const struct metrics_account *list, size_t n, int64_t now_ms,
                  struct err *e)
{
    char dir[4096];
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    char *text;
    int fd, rc;

    if (!*name) return err_set(e, ERR_USAGE, "--metrics %s: name a file, not a directory", path);
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) >= sizeof dir)
        return err_set(e, ERR_LOCAL, "--metrics %s: the path is too long", path);
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (!(text = metrics_render(list, n, now_ms))) return err_set(e, ERR_INTERNAL, "out of memory");
    fd = atomicfile_opendir(dir, "metrics directory", 0, e);
    if (fd < 0) {
        free(text);
        return -1;
    }
    rc = atomicfile_write(fd, dir, name, text, strlen(text), 0644, e);
    close(fd);
    free(text);
    return rc;
}
