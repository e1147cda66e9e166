/*
 * run — running the accounts the command line chose: one after another,
 * or up to -j at once, each in its own process (one account's failure or
 * hang touches no other's state or status); what each run reports (the
 * progress line's summary, -v's summary, --check's count); and the daemon
 * (-d): poll, wait, poll now on SIGUSR1, re-read the config on SIGHUP,
 * honour the server's LOGIN-DELAY, stop on SIGTERM/SIGINT.
 *
 * Returns exit statuses (exitcode.h): several accounts combine in config
 * order as exitcode_combine() says.
 */
#ifndef POPFETCH_RUN_H
#define POPFETCH_RUN_H

#include "cli.h"
#include "conf.h"

/* Run every account the command line names (all when none), once. */
int run_accounts(struct config *cfg, const struct cli_options *o);

/* -d SECONDS: run them, wait, again, until a stop signal. `config_path`
 * is re-read on SIGHUP (a broken file keeps the config in use). */
int run_daemon(struct config *cfg, struct cli_options *o, const char *config_path);

#endif
