/*
 * daemon — -d SECONDS: polls every account chosen, on a schedule of its
 * own, until SIGTERM or SIGINT (then exit status 0).
 *
 * Each poll runs in a child process (pool.h), up to -j (or `jobs`) at
 * once, the earliest due first; the parent alone reports each run
 * (run_report: the error or summary, --json's object with next_poll, the
 * status file) and keeps the schedule (schedule.h): every account at once
 * at start, then after its `poll_interval` (default -d's) plus a random
 * jitter, later and later while it keeps failing (back-off, reset by a
 * success), never before the server's LOGIN-DELAY has passed.
 *
 * An account that keeps failing the same way (the same outcome: wrong
 * password, refused connection...) is reported when it starts failing and
 * when it recovers, not at every poll (-v says each time). SIGUSR1 polls
 * every account at once, backed-off ones too. SIGHUP reads the config
 * again (-f FILE or DIR, else the default file and drop-ins; standard
 * input cannot be) and says so: an account whose settings are unchanged
 * keeps its schedule, a changed or new one is polled at once, a removed
 * one is dropped once its running poll (if any) has ended; a broken config
 * keeps the one in use. --metrics is rewritten at most once a second after
 * runs end, and once more at the stop if the last runs changed it
 * (tests/metrics.bats watches it).
 *
 * The daemon's own memory and open descriptors stay flat from cycle to
 * cycle: nothing of a run outlives its report but the schedule entry.
 */
#ifndef POPFETCH_DAEMON_H
#define POPFETCH_DAEMON_H

#include "cli.h"
#include "conf.h"

/* Runs until a stop signal; cfg is the daemon's from here on (a reload
 * replaces it; on return it holds the config in use, for the caller to
 * free). */
int daemon_run(struct config *cfg, struct cli_options *o);

#endif
