/*
 * fileperm — may popfetch trust a file or directory it takes commands,
 * secrets or its own state from? The rule is ssh's: the file must belong
 * to the user popfetch runs as (its effective uid) or to root, and must
 * not be writable by its group or by others. Anyone else who could change
 * such a file could make popfetch run a command of their choice (the
 * config's passwordeval), hand it a password, or redirect what it writes.
 *
 * A refusal is ERR_CONFIG_PERM (exit status 6) whose message names the
 * file and the rule it breaks, and whose hint gives the exact `chmod go-w
 * FILE` and/or `chown USER FILE` to run. Nothing here prints, exits or
 * changes a file.
 */
#ifndef POPFETCH_FILEPERM_H
#define POPFETCH_FILEPERM_H

#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

/* Bits of fileperm_verdict(). */
enum {
    FILEPERM_OK = 0,
    FILEPERM_OWNER = 1,    /* owned by neither `me` nor root */
    FILEPERM_GROUP_W = 2,  /* writable by its group */
    FILEPERM_OTHERS_W = 4, /* writable by others */
};

/* Pure: which parts of the rule a file with this owner and mode breaks
 * for the user `me` (0: none). */
int fileperm_verdict(uid_t owner, mode_t mode, uid_t me);

/* 0 if st (of `path`, which `what` describes, e.g. "config file") keeps
 * the rule for the effective user; else ERR_CONFIG_PERM as above. */
int fileperm_check_stat(const struct stat *st, const char *what, const char *path, struct err *e);

/* The same for an open descriptor (fstat: no race with a rename). */
int fileperm_check_fd(int fd, const char *what, const char *path, struct err *e);

/* The same for a path (stat: a symbolic link is judged by what it leads
 * to). A path that does not exist is no error (0); another stat failure
 * is ERR_LOCAL. */
int fileperm_check_path(const char *path, const char *what, struct err *e);

/* Fill e for an open(O_NOFOLLOW) of `path` that failed: ELOOP (a symbolic
 * link stands there) becomes `kind` with a message that says so and a hint
 * to remove it; any other errno the usual "cannot open WHAT PATH: ..." of
 * kind `other`. Returns -1. */
int fileperm_open_error(struct err *e, enum err_kind kind, enum err_kind other, const char *what,
                        const char *path);

/* A shell command line (passwordeval): every word that names a file — it
 * holds a '/' or starts with "~/" (home: $HOME) — and exists as a regular
 * file must keep the rule. Words are split as sh would at blanks and at
 * ; & | < > ( ) and backquote, with '...', "..." and backslash quoting
 * undone; a word that names nothing that exists is left alone. */
int fileperm_check_command(const char *cmd, const char *home, struct err *e);

/* Pure: the next word of cmd from *pos (as above) into buf (NUL-terminated,
 * cut at max-1 bytes: *cut set). 1 a word, 0 no more words. */
int fileperm_next_word(const char *cmd, size_t *pos, char *buf, size_t max, int *cut);

#endif
