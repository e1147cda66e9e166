/*
 * fdio — writing a whole buffer to a file descriptor: the one write loop
 * every module uses (spool, state journal, mbox, Maildir, log lines, the
 * progress line).
 *
 * popfetch installs its signal handlers without SA_RESTART (stop.c), so a
 * write(2) that blocks (a full pipe, a slow terminal, a full disk being
 * waited on) can return EINTR, or a short count, when any signal arrives:
 * fdio_write_full goes on until every byte is written or a real error
 * happens. It never prints and never allocates.
 */
#ifndef POPFETCH_FDIO_H
#define POPFETCH_FDIO_H

#include <stddef.h>

/* Write all len bytes of buf to fd, retrying after EINTR and after short
 * writes. Returns 0, or -1 with errno set (never EINTR; EIO if write(2)
 * wrote nothing without saying why); some bytes may have been written. */
int fdio_write_full(int fd, const void *buf, size_t len);

#endif
