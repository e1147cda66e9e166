/*
 * result — a run's outcome class and its JSON object. See result.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcode.h"
#include "fdio.h"
#include "result.h"

static const char *const outcome_names[RESULT_OUTCOMES] = {
    "mail",       "no-mail",  "limit",    "connect", "tls",         "dns",
    "auth",       "protocol", "server",   "timeout", "busy",        "usage",
    "permission", "locked",   "delivery", "local",   "interrupted", "internal",
};

const char *result_outcome_name(size_t i)
{
    return i < RESULT_OUTCOMES ? outcome_names[i] : NULL;
}

int result_outcome_index(const char *name)
{
    for (size_t i = 0; i < RESULT_OUTCOMES; i++)
        if (!strcmp(outcome_names[i], name)) return (int)i;
    return -1;
}

static const char *kind_name(enum err_kind k)
{
    switch (k) {
    case ERR_NONE:
        break;
    case ERR_CONNECT:
        return "connect";
    case ERR_TLS:
        return "tls";
    case ERR_DNS:
        return "dns";
    case ERR_AUTH:
        return "auth";
    case ERR_PROTOCOL:
        return "protocol";
    case ERR_SERVER:
        return "server";
    case ERR_TIMEOUT:
        return "timeout";
    case ERR_BUSY:
        return "busy";
    case ERR_USAGE:
        return "usage";
    case ERR_CONFIG_PERM:
        return "permission";
    case ERR_LOCKED:
        return "locked";
    case ERR_DELIVERY:
        return "delivery";
    case ERR_LOCAL:
        return "local";
    case ERR_LIMIT:
        return "limit";
    case ERR_INTERRUPTED:
        return "interrupted";
    case ERR_INTERNAL:
        return "internal";
    }
    return "internal";
}

const char *result_outcome(const struct run_outcome *o)
{
    if (o->r.err.kind != ERR_NONE) return kind_name(o->r.err.kind);
    switch (o->status) {
    case EXIT_MAIL:
        return "mail";
    case EXIT_NOMAIL:
        return "no-mail";
    case EXIT_DELIVERY:
        return "delivery";
    case EXIT_LIMIT:
        return "limit";
    default:
        return "internal";
    }
}

int result_failed(int status)
{
    return status != EXIT_MAIL && status != EXIT_NOMAIL && status != EXIT_LIMIT;
}

int64_t result_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void result_time(char *buf, size_t len, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char day[32];

    if (!gmtime_r(&t, &tm) || !strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm)) {
        snprintf(buf, len, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
}

int result_parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    const char *p;
    int frac = 0;
    time_t t;

    memset(&tm, 0, sizeof tm);
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' || p[3] < '0' || p[3] > '9')
            return -1;
        frac = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
        p += 4;
    }
    if (strcmp(p, "Z") != 0) return -1;
    t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

/* s with control bytes, 8-bit bytes and backslash as \xNN. */
static json_t *escaped_text(const char *s)
{
    size_t n = strlen(s), o = 0;
    char *buf = malloc(n * 4 + 1);
    json_t *j;

    if (!buf) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
    }
    buf[o] = '\0';
    j = json_string(buf);
    free(buf);
    return j;
}

json_t *result_text(const char *s)
{
    json_t *j = json_string(s); /* NULL when s is not UTF-8 */

    return j ? j : escaped_text(s);
}

static json_t *time_value(int64_t ms)
{
    char buf[48];

    if (ms <= 0) return json_null();
    result_time(buf, sizeof buf, ms);
    return json_string(buf);
}

static json_t *count(unsigned long n)
{
    return json_integer((json_int_t)n);
}

/* Set key to value (a new reference, taken); remembers a failure. */
static void put(json_t *obj, const char *key, json_t *value, int *bad)
{
    if (!value || json_object_set_new(obj, key, value) < 0) *bad = 1;
}

static json_t *messages(const struct run_outcome *o, int *bad)
{
    const struct session_result *r = &o->r;
    json_t *m = json_object();

    if (!m) return NULL;
    put(m, "on_server", r->have_listing ? count(r->listed) : json_null(), bad);
    put(m, "new", r->have_listing ? count(r->new_messages) : json_null(), bad);
    put(m, "fetched", count(r->fetched), bad);
    put(m, "deleted", count(r->quit_ok ? r->deleted : 0), bad);
    put(m, "kept", count(r->kept), bad);
    put(m, "failed", count(r->failed), bad);
    put(m, "skipped_size", count(r->too_big), bad);
    put(m, "waiting", count(r->waiting), bad);
    return m;
}

/* What the next run does again: the messages not delivered (failed, over
 * max_messages, or not reached), and the deletions not committed. */
static json_t *retry(const struct run_outcome *o, int *bad)
{
    const struct session_result *r = &o->r;
    json_t *m = json_object();

    if (!m) return NULL;
    put(m, "messages",
        r->have_listing && r->new_messages >= r->fetched ? count(r->new_messages - r->fetched)
                                                         : json_null(),
        bad);
    put(m, "deletions", count(r->quit_ok ? 0 : r->deleted), bad);
    return m;
}

static json_t *error(const struct run_outcome *o, int *bad)
{
    const struct err *e = &o->r.err;
    json_t *m;

    if (e->kind == ERR_NONE) return json_null();
    if (!(m = json_object())) return NULL;
    put(m, "message", result_text(e->msg), bad);
    put(m, "hint", e->hint[0] ? result_text(e->hint) : json_null(), bad);
    return m;
}

static const char *tls_mode(int t)
{
    return t == TLS_IMPLICIT ? "implicit" : t == TLS_STARTTLS ? "starttls" : "off";
}

json_t *result_json(const struct account *a, const struct run_outcome *o, int64_t next_poll_ms)
{
    const struct session_result *r = &o->r;
    json_t *j = json_object();
    int bad = 0;

    if (!j) return NULL;
    put(j, "version", json_integer(RESULT_SCHEMA_VERSION), &bad);
    put(j, "account", result_text(a->name), &bad);
    put(j, "server", result_text(a->host), &bad);
    put(j, "port", json_integer(conf_port(a)), &bad);
    put(j, "tls", json_string(tls_mode(a->tls)), &bad);
    put(j, "tls_version", r->tls_version[0] ? json_string(r->tls_version) : json_null(), &bad);
    put(j, "user", result_text(a->user), &bad);
    put(j, "started", time_value(o->started_ms), &bad);
    put(j, "duration", json_real((double)r->ms / 1000.0), &bad);
    put(j, "check", json_boolean(o->check), &bad);
    put(j, "outcome", json_string(result_outcome(o)), &bad);
    put(j, "exit_status", json_integer(o->status), &bad);
    put(j, "messages", messages(o, &bad), &bad);
    put(j, "bytes", json_integer((json_int_t)r->bytes), &bad);
    put(j, "error", error(o, &bad), &bad);
    put(j, "server_reply", r->server_reply[0] ? result_text(r->server_reply) : json_null(), &bad);
    put(j, "retry", retry(o, &bad), &bad);
    put(j, "next_poll", time_value(next_poll_ms), &bad);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int result_print(int fd, const json_t *obj, struct err *e)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10));
    size_t n;

    if (!text) return err_set(e, ERR_INTERNAL, "out of memory");
    n = strlen(text);
    text[n] = '\n'; /* json_dumps' NUL becomes the line end */
    if (fdio_write_full(fd, text, n + 1) < 0) {
        int saved = errno;
        free(text);
        return err_set(e, ERR_LOCAL, "cannot write the JSON result: %s", strerror(saved));
    }
    free(text);
    return 0;
}
