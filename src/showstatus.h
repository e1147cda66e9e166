/*
 * showstatus — `popfetch --status [ACCOUNT...]`: what the status files
 * (status.h) say of the accounts chosen (all when none), as a table on
 * stdout (ACCOUNT, LAST RUN, OUTCOME, LAST SUCCESS, FAILURES, NEXT POLL;
 * local time), or with --json each status file's object on a line. It
 * connects to nothing and changes nothing.
 *
 * Its exit status is made for health checks (popfetch(1), --status): 0
 * when every account's last run succeeded (mail, no mail, or more mail
 * waiting); else the exit status of the first account in config order
 * whose last run failed; else, when some account has no status yet (never
 * run, or its status file cannot be read), 1.
 */
#ifndef POPFETCH_SHOWSTATUS_H
#define POPFETCH_SHOWSTATUS_H

#include "cli.h"
#include "conf.h"

int showstatus_run(struct config *cfg, const struct cli_options *o);

#endif
