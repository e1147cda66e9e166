/*
 * stop — what signals ask of a run: stop politely (SIGTERM, SIGINT, and
 * SIGHUP in a one-shot run), re-read the config (SIGHUP in daemon mode),
 * poll now (SIGUSR1 in daemon mode).
 *
 * stop_install() catches them without SA_RESTART: the handler only records
 * what came, and blocking waits (poll in net.c, waitpid, the daemon's
 * sleep) return EINTR. The session checks stop_requested() at every wait
 * and between messages; it then abandons the message in progress (its
 * partial file is removed), records what was delivered whole, sends no
 * QUIT (so nothing not yet delivered is deleted) and ends with
 * ERR_INTERRUPTED.
 */
#ifndef POPFETCH_STOP_H
#define POPFETCH_STOP_H

#include <poll.h>

void stop_install(int daemon);

/* The signal that asked us to stop, or 0. */
int stop_requested(void);

/* poll(2) that a stop cannot slip past: the stop signals are blocked from
 * the check of stop_requested() until ppoll(2) sleeps, so one that comes
 * just before the sleep still ends it. Returns -1 with errno EINTR when a
 * stop was requested before the wait, else as poll(2) (EINTR for any signal
 * caught meanwhile); timeout_ms < 0 waits without limit. */
int stop_poll(struct pollfd *p, nfds_t n, int timeout_ms);

/* Daemon mode: was a re-read (SIGHUP) or a poll (SIGUSR1) asked for since
 * the last call? Clears the request. */
int stop_take_reload(void);
int stop_take_poll(void);

#endif
