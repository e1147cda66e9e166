/*
 * run — running the accounts the command line chose once: one after
 * another, or up to -j at once, each in its own process (one account's
 * failure or hang touches no other's state or status); what each run
 * reports (the progress line's summary, -v's summary, --check's count, with
 * --json its object on stdout, its status file); --metrics after the runs.
 * The process that ran an account (or, for accounts run in child
 * processes, their parent, which gets the outcome through pool.h) reports
 * it. The daemon (daemon.h) uses the same pieces.
 *
 * Returns exit statuses (exitcode.h): several accounts combine in config
 * order as exitcode_combine() says.
 */
#ifndef POPFETCH_RUN_H
#define POPFETCH_RUN_H

#include <stdint.h>

#include "cli.h"
#include "conf.h"
#include "result.h"

/* The daemon's plan for the next poll, made before the run (wall clock
 * ms): after a success, after a failure. */
struct run_next {
    int64_t ok_ms, failed_ms;
};

/* How run_report() shows a run. */
struct run_report_opts {
    int64_t next_poll_ms; /* replaces the outcome's next poll: > 0 that, < 0 none */
    int hide_error;       /* the daemon reported this failure already */
};

/* Run account a in this process (the command line's settings applied):
 * its outcome, with out->next_poll_ms from `next` (NULL: none) and the
 * server's LOGIN-DELAY. Writes the account's status file (status.h), except
 * after --check, a run that found the account locked by another (which
 * writes it) or one stopped by a signal. On a terminal the progress line
 * becomes its summary. */
void run_here(struct account *a, const struct cli_options *o, const struct run_next *next,
              struct run_outcome *out);

/* Report a run: its error, --check's count or -v's summary, and with
 * --json its object on stdout. Returns its exit status. */
int run_report(const struct account *a, const struct cli_options *o, const struct run_outcome *out,
               const struct run_report_opts *ro);

/* --metrics FILE: every account's metrics from its status file
 * (metrics.h); a failure is reported, never fatal. */
void run_write_metrics(const struct config *cfg, const struct cli_options *o);

/* Run every account the command line names (all when none), once. */
int run_accounts(struct config *cfg, const struct cli_options *o);

#endif
