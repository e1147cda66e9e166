/*
 * run — running the accounts the command line chose: one after another,
 * or up to -j at once, each in its own process (one account's failure or
 * hang touches no other's state or status); what each run reports (the
 * progress line's summary, -v's summary, --check's count); and the daemon
 * (-d): poll, wait, poll now on SIGUSR1, re-read the config on SIGHUP,
 * honour the server's LOGIN-DELAY, stop on SIGTERM/SIGINT. The process
 * that ran an account (or, for accounts run in child processes, their
 * parent, which gets the outcome through pool.h) reports it: with --json
 * one object per account and run on stdout (result.h).
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

/* How run_report() shows a run. */
struct run_report_opts {
    int64_t next_poll_ms; /* the daemon's next poll of the account, 0 = none */
    int hide_error;       /* the daemon reported this failure already */
};

/* Run account a in this process (the command line's settings applied):
 * its outcome. On a terminal the progress line becomes its summary. */
void run_here(struct account *a, const struct cli_options *o, struct run_outcome *out);

/* Report a run: its error, --check's count or -v's summary, and with
 * --json its object on stdout. Returns its exit status. */
int run_report(const struct account *a, const struct cli_options *o, const struct run_outcome *out,
               const struct run_report_opts *ro);

/* --metrics FILE: every account's metrics from its status file
 * (metrics.h); a failure is reported, never fatal. */
void run_write_metrics(const struct config *cfg, const struct cli_options *o);

/* Run every account the command line names (all when none), once. */
int run_accounts(struct config *cfg, const struct cli_options *o);

/* -d SECONDS: run them, wait, again, until a stop signal. The config (-f,
 * else the default file and drop-ins) is read again on SIGHUP (a broken
 * one keeps the config in use; one from standard input cannot be). */
int run_daemon(struct config *cfg, struct cli_options *o);

#endif
