/* Unit tests for status files (status.c) and the JSON of a run (result.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "exitcode.h"
#include "result.h"
#include "status.h"
#include "unit.h"

static const char *good =
    "{\"version\": 1, \"outcome\": \"auth\", \"exit_status\": 3, "
    "\"started\": \"2026-12-06T11:15:00.123Z\", \"duration\": 0.5, "
    "\"next_poll\": null, \"last_success\": \"2026-12-05T10:00:00.000Z\", "
    "\"consecutive_failures\": 4, \"failing_since\": \"2026-12-06T09:00:00.500Z\", "
    "\"totals\": {\"runs\": {\"auth\": 4, \"mail\": 2}, \"fetched\": 7, \"bytes\": 900}}";

TEST(status_parse_reads_what_a_status_file_says)
{
    struct status_record r;

    CHECK(status_parse(good, strlen(good), &r) == 0);
    CHECK(r.have);
    CHECK_STR(r.outcome, "auth");
    CHECK(r.exit_status == 3);
    CHECK(r.last_run_ms == 1796555700123LL);
    CHECK(r.last_success_ms == 1796464800000LL);
    CHECK(r.failing_since_ms == 1796547600500LL);
    CHECK(r.next_poll_ms == 0);
    CHECK(r.consecutive_failures == 4);
    CHECK(r.runs[result_outcome_index("auth")] == 4);
    CHECK(r.runs[result_outcome_index("mail")] == 2);
    CHECK(r.fetched_total == 7 && r.bytes_total == 900);
}

/* good with `from` replaced by `to` must not parse */
static int refused(const char *from, const char *to)
{
    char buf[1024];
    const char *p = strstr(good, from);
    struct status_record r;

    if (!p) return 0;
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - good), good, to, p + strlen(from));
    return status_parse(buf, strlen(buf), &r) < 0 && !r.have;
}

TEST(status_parse_refuses_what_is_not_a_status)
{
    CHECK(refused("\"version\": 1", "\"version\": 2"));
    CHECK(refused("\"outcome\": \"auth\"", "\"outcome\": \"great\""));
    CHECK(refused("\"exit_status\": 3", "\"exit_status\": -1"));
    CHECK(refused("\"exit_status\": 3", "\"exit_status\": \"3\""));
    CHECK(refused("2026-12-06T11:15:00.123Z", "yesterday"));
    CHECK(refused("2026-12-06T11:15:00.123Z", "2026-12-06T11:15:00.123+01:00"));
    CHECK(refused("\"consecutive_failures\": 4", "\"consecutive_failures\": -4"));
    CHECK(refused("\"consecutive_failures\": 4", "\"consecutive_failures\": 1e3"));
    CHECK(refused("\"fetched\": 7", "\"fetched\": 99999999999999999999"));
    CHECK(refused("\"auth\": 4,", "\"bogus\": 4,"));
    CHECK(refused("\"duration\": 0.5", "\"duration\": -1"));
    /* a key given twice */
    CHECK(refused("\"duration\": 0.5", "\"duration\": 0.5, \"duration\": 1"));
    /* a field missing */
    CHECK(refused("\"consecutive_failures\": 4, ", ""));
    CHECK(refused("{", "["));
    struct status_record r;
    CHECK(status_parse("", 0, &r) < 0);
    CHECK(status_parse("{}", 2, &r) < 0);
}

static void account(struct account *a)
{
    conf_account_defaults(a);
    a->name = "acct";
    a->host = "pop.example.org";
    a->user = "alice";
}

static void outcome(struct run_outcome *o, int status, enum err_kind kind, int64_t started)
{
    memset(o, 0, sizeof *o);
    o->status = status;
    o->started_ms = started;
    o->r.login_delay = -1;
    o->r.ms = 250;
    if (kind != ERR_NONE) err_set(&o->r.err, kind, "it went wrong");
}

TEST(status_update_keeps_the_history)
{
    const char *dir = unit_tmpdir();
    char sub[512];
    struct account a;
    struct run_outcome o;
    struct status_record r, back;
    struct err e;
    struct stat st;

    snprintf(sub, sizeof sub, "%s/new/dir", dir);
    account(&a);
    outcome(&o, EXIT_MAIL, ERR_NONE, 1000000);
    o.r.fetched = 3;
    o.r.bytes = 300;
    CHECK(status_update(sub, &a, &o, 0, &r, &e) == 0);
    CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(r.last_success_ms == 1000000 && r.consecutive_failures == 0);
    outcome(&o, EXIT_AUTH, ERR_AUTH, 2000000);
    CHECK(status_update(sub, &a, &o, 0, &r, &e) == 0);
    outcome(&o, EXIT_CONNECT, ERR_CONNECT, 3000000);
    CHECK(status_update(sub, &a, &o, 4000000, &r, &e) == 0);
    CHECK(status_read(sub, "acct", &back, &e) == 0);
    CHECK(back.have && !back.damaged);
    CHECK_STR(back.outcome, "connect");
    CHECK(back.exit_status == EXIT_CONNECT);
    CHECK(back.consecutive_failures == 2);
    CHECK(back.failing_since_ms == 2000000);
    CHECK(back.last_success_ms == 1000000);
    CHECK(back.next_poll_ms == 4000000);
    CHECK(back.fetched_total == 3 && back.bytes_total == 300);
    CHECK(back.runs[result_outcome_index("mail")] == 1);
    CHECK(back.runs[result_outcome_index("auth")] == 1);
    CHECK(back.runs[result_outcome_index("connect")] == 1);
    /* more mail waiting (13) is no failure */
    outcome(&o, EXIT_LIMIT, ERR_NONE, 5000000);
    CHECK(status_update(sub, &a, &o, 0, &r, &e) == 0);
    CHECK(r.consecutive_failures == 0 && r.failing_since_ms == 0);
    CHECK(r.last_success_ms == 5000000);
}

TEST(status_read_of_nothing_is_no_status)
{
    const char *dir = unit_tmpdir();
    char sub[512];
    struct status_record r;
    struct err e;

    snprintf(sub, sizeof sub, "%s/none", dir);
    CHECK(status_read(sub, "acct", &r, &e) == 0 && !r.have && !r.damaged);
    CHECK(status_read(dir, "acct", &r, &e) == 0 && !r.have && !r.damaged);
}

TEST(result_json_of_a_failed_run)
{
    struct account a;
    struct run_outcome o;
    json_t *j;

    account(&a);
    a.host = "h\xff\x01st"; /* not UTF-8: escaped */
    outcome(&o, EXIT_AUTH, ERR_AUTH, 1796555700123LL);
    snprintf(o.r.server_reply, sizeof o.r.server_reply, "-ERR [AUTH] no");
    j = result_json(&a, &o, 0);
    CHECK(j != NULL);
    CHECK_STR(json_string_value(json_object_get(j, "outcome")), "auth");
    CHECK(json_integer_value(json_object_get(j, "exit_status")) == 3);
    CHECK_STR(json_string_value(json_object_get(j, "server")), "h\\xff\\x01st");
    CHECK_STR(json_string_value(json_object_get(j, "started")), "2026-12-06T11:15:00.123Z");
    CHECK(json_integer_value(json_object_get(j, "port")) == 995);
    CHECK(json_is_null(json_object_get(json_object_get(j, "messages"), "on_server")));
    CHECK(json_is_null(json_object_get(json_object_get(j, "retry"), "messages")));
    CHECK_STR(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
              "it went wrong");
    CHECK_STR(json_string_value(json_object_get(j, "server_reply")), "-ERR [AUTH] no");
    CHECK(json_is_null(json_object_get(j, "next_poll")));
    json_decref(j);
}

TEST(result_outcome_names_and_failures)
{
    struct run_outcome o;

    outcome(&o, EXIT_NOMAIL, ERR_NONE, 1);
    CHECK_STR(result_outcome(&o), "no-mail");
    outcome(&o, EXIT_DELIVERY, ERR_NONE, 1);
    CHECK_STR(result_outcome(&o), "delivery");
    outcome(&o, EXIT_CONNECT, ERR_TLS, 1);
    CHECK_STR(result_outcome(&o), "tls");
    outcome(&o, EXIT_INTERNAL, ERR_INTERRUPTED, 1);
    CHECK_STR(result_outcome(&o), "interrupted");
    CHECK(!result_failed(0) && !result_failed(1) && !result_failed(13));
    CHECK(result_failed(2) && result_failed(10) && result_failed(23));
    for (size_t i = 0; i < RESULT_OUTCOMES; i++)
        CHECK(result_outcome_index(result_outcome_name(i)) == (int)i);
    CHECK(result_outcome_name(RESULT_OUTCOMES) == NULL);
    CHECK(result_outcome_index("nope") == -1);
}
