/*
 * stop — a polite stop on SIGTERM, SIGINT or SIGHUP.
 *
 * stop_install() catches the three signals without SA_RESTART: the handler
 * only records which signal came, and the blocking waits of net.c return
 * EINTR. The session checks stop_requested() at every wait and between
 * messages; it then abandons the message in progress (its partial file is
 * removed), records what was delivered whole, sends no QUIT (so nothing
 * not yet delivered is deleted) and ends with ERR_INTERRUPTED.
 */
#ifndef POPFETCH_STOP_H
#define POPFETCH_STOP_H

void stop_install(void);

/* The signal that asked us to stop, or 0. */
int stop_requested(void);

#endif
