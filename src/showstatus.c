/*
 * showstatus — the --status table and its exit status. See showstatus.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "exitcode.h"
#include "log.h"
#include "result.h"
#include "showstatus.h"
#include "status.h"

struct row {
    char cells[6][40];
};

static void local_time(char *buf, size_t len, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, len, "-");
}

/* The row of one account; its verdict: 0 fine, 1 unknown, else the failed
 * run's exit status. */
static int fill_row(struct row *w, const struct account *a, const struct cli_options *o)
{
    struct status_record rec;
    struct err e;

    memset(w, 0, sizeof *w);
    snprintf(w->cells[0], sizeof w->cells[0], "%s", a->name);
    for (int i = 1; i < 6; i++) snprintf(w->cells[i], sizeof w->cells[i], "-");
    if (status_read(cli_status_dir(o, a), a->name, &rec, &e) < 0) {
        log_error(a->name, &e);
        snprintf(w->cells[1], sizeof w->cells[1], "unreadable");
        return 1;
    }
    if (!rec.have) {
        snprintf(w->cells[1], sizeof w->cells[1], rec.damaged ? "unreadable" : "never");
        return 1;
    }
    local_time(w->cells[1], sizeof w->cells[1], rec.last_run_ms);
    snprintf(w->cells[2], sizeof w->cells[2], "%s", rec.outcome);
    local_time(w->cells[3], sizeof w->cells[3], rec.last_success_ms);
    if (!rec.last_success_ms) snprintf(w->cells[3], sizeof w->cells[3], "never");
    snprintf(w->cells[4], sizeof w->cells[4], "%lu", rec.consecutive_failures);
    local_time(w->cells[5], sizeof w->cells[5], rec.next_poll_ms);
    return result_failed(rec.exit_status) ? rec.exit_status : 0;
}

static void print_table(const struct row *rows, size_t n)
{
    static const char *const head[6] = {"ACCOUNT",      "LAST RUN", "OUTCOME",
                                        "LAST SUCCESS", "FAILURES", "NEXT POLL"};
    size_t width[6];

    for (int c = 0; c < 6; c++) {
        width[c] = strlen(head[c]);
        for (size_t i = 0; i < n; i++)
            if (strlen(rows[i].cells[c]) > width[c]) width[c] = strlen(rows[i].cells[c]);
    }
    width[5] = 0; /* no trailing blanks */
    for (int c = 0; c < 6; c++) printf("%-*s%s", (int)width[c], head[c], c < 5 ? "  " : "\n");
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 6; c++)
            printf(c == 4 ? "%*s%s" : "%-*s%s", (int)width[c], rows[i].cells[c],
                   c < 5 ? "  " : "\n");
}

/* --json: the account's status object on a line of its own. */
static void print_json(const struct account *a, const struct cli_options *o)
{
    struct status_record rec;
    json_error_t jerr;
    json_t *j;
    char *text;
    size_t len;
    struct err e;

    if (status_read_text(cli_status_dir(o, a), a->name, &text, &len, &e) != 0) return;
    if (status_parse(text, len, &rec) == 0 && (j = json_loadb(text, len, 0, &jerr))) {
        if (result_print(STDOUT_FILENO, j, &e) < 0) log_error(a->name, &e);
        json_decref(j);
    }
    free(text);
}

/* Combine the verdicts: a failure (first in config order) wins over
 * unknown (1), which wins over fine (0). */
static int combine(int overall, int verdict)
{
    if (overall > 1) return overall;
    if (verdict > 1) return verdict;
    return overall || verdict;
}

int showstatus_run(struct config *cfg, const struct cli_options *o)
{
    struct row *rows = calloc(cfg->naccounts ? cfg->naccounts : 1, sizeof *rows);
    size_t n = 0;
    int status = 0;

    if (!rows) return EXIT_INTERNAL;
    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct account *a = &cfg->accounts[i];
        if (!cli_wants(o, a)) continue;
        status = combine(status, fill_row(&rows[n++], a, o));
        if (o->json) print_json(a, o);
    }
    if (!o->json) print_table(rows, n);
    fflush(stdout);
    free(rows);
    return status;
}
