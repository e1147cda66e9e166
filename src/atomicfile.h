/*
 * atomicfile — small files that are replaced whole or not at all (status
 * files, the metrics file): written to NAME.tmp beside them and renamed
 * over NAME; and read back bounded. A reader sees the old file or the new
 * one, never a part.
 *
 * Nothing is flushed (no fsync of the file or the directory), on purpose:
 * these files only describe runs, and each is rewritten by the next run
 * (a status file) or within a second (the daemon's metrics file). What a
 * crash of the machine can do to them is harmless: the last update lost
 * (the status says the run before: its next run writes it again, a
 * Prometheus counter that steps back is read as a counter reset), or, on a
 * file system that does not order the data before the rename, a file
 * that is not a status (status.h reads it as damaged and starts afresh,
 * with a warning). Mail and seen-state never depend on them (their
 * durability is state.c's and the sinks', design.md §3). Flushing cost two
 * journal commits per run, under the status directory's lock: with many
 * accounts polled at once (-d -j 16, bench scenario G) every run's status
 * waited for the others' flushes.
 *
 * The rules of the state files hold (state.h): nothing is opened through
 * a symbolic link (O_NOFOLLOW: a link at NAME is refused, never read or
 * written through; rename replaces a link at NAME, never its target), and
 * the temporary file is always a new one (a stale NAME.tmp, link or not,
 * is removed first and O_EXCL refuses one planted in between). Nothing
 * here prints.
 */
#ifndef POPFETCH_ATOMICFILE_H
#define POPFETCH_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

enum {
    ATOMICFILE_CREATE = 1, /* create the directory (and its parents) with mode 0700 */
    ATOMICFILE_OURS = 2,   /* the directory must keep fileperm.h's rule */
};

/* Open directory `dir` (`what` names it in messages, e.g. "status
 * directory"): a descriptor, or -1 with ERR_LOCAL (cannot be created or
 * opened) or ERR_CONFIG_PERM (ATOMICFILE_OURS and it is not ours). */
int atomicfile_opendir(const char *dir, const char *what, int flags, struct err *e);

/* Replace dir/name (dirfd is dir) with len bytes of data, mode `mode`.
 * ERR_CONFIG_PERM for a symbolic link at name.tmp that cannot be removed,
 * ERR_LOCAL for any other failure (name is then as it was). */
int atomicfile_write(int dirfd, const char *dir, const char *name, const void *data, size_t len,
                     mode_t mode, struct err *e);

/* Read dir/name, a regular file of at most max bytes: 0 with *text (NUL
 * terminated, for free()) and *len; 1 when there is no such file; -1 with
 * ERR_CONFIG_PERM for a symbolic link, ERR_LOCAL otherwise. */
int atomicfile_read(int dirfd, const char *dir, const char *name, size_t max, char **text,
                    size_t *len, struct err *e);

#endif
