/*
 * status — per-account status files. See status.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "atomicfile.h"
#include "status.h"

#define COUNT_MAX ((json_int_t)1 << 53) /* exact in every JSON reader */

static int file_name(char *buf, size_t len, const char *account)
{
    return (size_t)snprintf(buf, len, "%s.status", account) < len ? 0 : -1;
}

/* A time field: RFC 3339 (result_time), or null when nullable (0). */
static int get_time(const json_t *obj, const char *key, int nullable, int64_t *ms)
{
    const json_t *v = json_object_get(obj, key);

    *ms = 0;
    if (nullable && json_is_null(v)) return 0;
    if (!json_is_string(v) || result_parse_time(json_string_value(v), ms) < 0 || *ms <= 0)
        return -1;
    return 0;
}

static int get_count(const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > COUNT_MAX)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_totals(const json_t *obj, struct status_record *rec)
{
    const json_t *t = json_object_get(obj, "totals"), *runs = json_object_get(t, "runs"), *v;
    const char *key;

    if (!json_is_object(t) || !json_is_object(runs)) return -1;
    if (get_count(t, "fetched", &rec->fetched_total) < 0 ||
        get_count(t, "bytes", &rec->bytes_total) < 0)
        return -1;
    json_object_foreach((json_t *)runs, key, v)
    {
        int i = result_outcome_index(key);
        if (i < 0 || !json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > COUNT_MAX)
            return -1;
        rec->runs[i] = (uint64_t)json_integer_value(v);
    }
    return 0;
}

static int from_json(const json_t *j, struct status_record *rec)
{
    const json_t *outcome = json_object_get(j, "outcome"),
                 *status = json_object_get(j, "exit_status"), *dur = json_object_get(j, "duration");
    uint64_t fails;

    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "version")) ||
        json_integer_value(json_object_get(j, "version")) != RESULT_SCHEMA_VERSION)
        return -1;
    if (!json_is_string(outcome) || result_outcome_index(json_string_value(outcome)) < 0) return -1;
    snprintf(rec->outcome, sizeof rec->outcome, "%s", json_string_value(outcome));
    if (!json_is_integer(status) || json_integer_value(status) < 0 ||
        json_integer_value(status) > 255)
        return -1;
    rec->exit_status = (int)json_integer_value(status);
    if (!json_is_number(dur) || json_number_value(dur) < 0 || json_number_value(dur) > 1e9)
        return -1;
    rec->duration = json_number_value(dur);
    if (get_time(j, "started", 0, &rec->last_run_ms) < 0 ||
        get_time(j, "last_success", 1, &rec->last_success_ms) < 0 ||
        get_time(j, "failing_since", 1, &rec->failing_since_ms) < 0 ||
        get_time(j, "next_poll", 1, &rec->next_poll_ms) < 0 ||
        get_count(j, "consecutive_failures", &fails) < 0 || get_totals(j, rec) < 0)
        return -1;
    rec->consecutive_failures = (unsigned long)fails;
    rec->have = 1;
    return 0;
}

int status_parse(const char *text, size_t len, struct status_record *rec)
{
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc;

    memset(rec, 0, sizeof *rec);
    if (!j) return -1;
    rc = from_json(j, rec);
    json_decref(j);
    if (rc < 0) memset(rec, 0, sizeof *rec);
    return rc;
}

/* Read the file in dirfd; a file that is not a status: rec->damaged. */
static int read_at(int dirfd, const char *dir, const char *name, struct status_record *rec,
                   struct err *e)
{
    char *text;
    size_t len;
    int rc = atomicfile_read(dirfd, dir, name, STATUS_FILE_MAX, &text, &len, e);

    memset(rec, 0, sizeof *rec);
    if (rc < 0 && e->kind != ERR_LOCAL) return -1; /* a link: never trusted, never replaced */
    if (rc != 0) {
        rec->damaged = rc < 0; /* too big, not a regular file */
        return 0;
    }
    if (status_parse(text, len, rec) < 0) rec->damaged = 1;
    free(text);
    return 0;
}

int status_read(const char *dir, const char *account, struct status_record *rec, struct err *e)
{
    char name[256];
    int fd, rc;

    memset(rec, 0, sizeof *rec);
    if (file_name(name, sizeof name, account) < 0)
        return err_set(e, ERR_LOCAL, "the account name %s is too long", account);
    if (access(dir, F_OK) < 0 && errno == ENOENT) return 0; /* nothing ran yet */
    fd = atomicfile_opendir(dir, "status directory", 0, e);
    if (fd < 0) return -1;
    rc = read_at(fd, dir, name, rec, e);
    close(fd);
    return rc;
}

int status_read_text(const char *dir, const char *account, char **text, size_t *len, struct err *e)
{
    char name[256];
    int fd, rc;

    *text = NULL;
    *len = 0;
    if (file_name(name, sizeof name, account) < 0)
        return err_set(e, ERR_LOCAL, "the account name %s is too long", account);
    if (access(dir, F_OK) < 0 && errno == ENOENT) return 1;
    fd = atomicfile_opendir(dir, "status directory", 0, e);
    if (fd < 0) return -1;
    rc = atomicfile_read(fd, dir, name, STATUS_FILE_MAX, text, len, e);
    close(fd);
    return rc;
}

/* The history carried from the old record into the new one. */
static void carry(struct status_record *rec, const struct status_record *old,
                  const struct run_outcome *o, int64_t next_poll_ms)
{
    int i = result_outcome_index(result_outcome(o));

    memset(rec, 0, sizeof *rec);
    if (old->have) {
        memcpy(rec->runs, old->runs, sizeof rec->runs);
        rec->fetched_total = old->fetched_total;
        rec->bytes_total = old->bytes_total;
        rec->last_success_ms = old->last_success_ms;
        rec->consecutive_failures = old->consecutive_failures;
        rec->failing_since_ms = old->failing_since_ms;
    }
    rec->have = 1;
    rec->damaged = old->damaged;
    snprintf(rec->outcome, sizeof rec->outcome, "%s", result_outcome(o));
    rec->exit_status = o->status;
    rec->last_run_ms = o->started_ms;
    rec->duration = (double)o->r.ms / 1000.0;
    rec->next_poll_ms = next_poll_ms;
    if (i >= 0) rec->runs[i]++;
    rec->fetched_total += o->r.fetched;
    rec->bytes_total += o->r.bytes;
    if (result_failed(o->status)) {
        rec->consecutive_failures++;
        if (!rec->failing_since_ms) rec->failing_since_ms = o->started_ms;
    } else {
        rec->last_success_ms = o->started_ms;
        rec->consecutive_failures = 0;
        rec->failing_since_ms = 0;
    }
}

static json_t *time_or_null(int64_t ms)
{
    char buf[48];

    if (ms <= 0) return json_null();
    result_time(buf, sizeof buf, ms);
    return json_string(buf);
}

/* The run's object and the history: the file's text (for free()). */
static char *render(const struct account *a, const struct run_outcome *o,
                    const struct status_record *rec)
{
    json_t *j = result_json(a, o, rec->next_poll_ms), *runs = json_object(), *t = json_object();
    char *text = NULL;
    int bad = !j || !runs || !t;

    for (size_t i = 0; !bad && i < RESULT_OUTCOMES; i++)
        if (rec->runs[i])
            bad = json_object_set_new(runs, result_outcome_name(i),
                                      json_integer((json_int_t)rec->runs[i])) < 0;
    if (!bad)
        bad = json_object_set(t, "runs", runs) < 0 ||
              json_object_set_new(t, "fetched", json_integer((json_int_t)rec->fetched_total)) < 0 ||
              json_object_set_new(t, "bytes", json_integer((json_int_t)rec->bytes_total)) < 0 ||
              json_object_set_new(j, "last_success", time_or_null(rec->last_success_ms)) < 0 ||
              json_object_set_new(j, "consecutive_failures",
                                  json_integer((json_int_t)rec->consecutive_failures)) < 0 ||
              json_object_set_new(j, "failing_since", time_or_null(rec->failing_since_ms)) < 0 ||
              json_object_set(j, "totals", t) < 0;
    if (!bad) text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(runs);
    json_decref(t);
    json_decref(j);
    return text;
}

static int update_at(int dirfd, const char *dir, const char *name, const struct account *a,
                     const struct run_outcome *o, int64_t next_poll_ms, struct status_record *rec,
                     struct err *e)
{
    struct status_record old;
    char *text;
    int rc;

    if (read_at(dirfd, dir, name, &old, e) < 0) return -1;
    carry(rec, &old, o, next_poll_ms);
    if (!(text = render(a, o, rec))) return err_set(e, ERR_INTERNAL, "out of memory");
    size_t n = strlen(text);
    text[n] = '\n'; /* the NUL becomes the last line's end */
    rc = atomicfile_write(dirfd, dir, name, text, n + 1, 0600, e);
    free(text);
    return rc;
}

int status_update(const char *dir, const struct account *a, const struct run_outcome *o,
                  int64_t next_poll_ms, struct status_record *rec, struct err *e)
{
    char name[256];
    int fd, rc;

    memset(rec, 0, sizeof *rec);
    if (file_name(name, sizeof name, a->name) < 0)
        return err_set(e, ERR_LOCAL, "the account name %s is too long", a->name);
    fd = atomicfile_opendir(dir, "status directory", ATOMICFILE_CREATE | ATOMICFILE_OURS, e);
    if (fd < 0) return -1;
    /* one update at a time: two runs of an account may end together */
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            rc = err_set(e, ERR_LOCAL, "cannot lock the status directory %s: %s", dir,
                         strerror(errno));
            close(fd);
            return rc;
        }
    rc = update_at(fd, dir, name, a, o, next_poll_ms, rec, e);
    close(fd);
    return rc;
}
