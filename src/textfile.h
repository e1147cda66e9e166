/*
 * textfile — read a whole small file (config, fetchmailrc, another tool's
 * seen-UIDL file) into memory, bounded and checked: it must be a regular
 * file of at most `max` bytes. The buffer is NUL-terminated (the text may
 * hold NULs of its own: use the length) and may hold secrets, so
 * textfile_free() wipes it. Every "read a whole small file" in popfetch
 * (config, status files, the OAuth2 token store, ~/.netrc) goes through
 * textfile_read_fd. The seen-state and its journal are not small (9 MiB
 * for 300,000 messages): state.c reads them a chunk at a time.
 */
#ifndef POPFETCH_TEXTFILE_H
#define POPFETCH_TEXTFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/* ERR_USAGE naming `what` and path when the file cannot be read or is not a
 * small regular file (errno is left as open/read set it); ERR_INTERNAL when
 * out of memory. *st, when not NULL, gets the status of the file that was
 * read (fstat of the open descriptor: its owner and mode, for a check that
 * no rename can race). */
int textfile_read(const char *path, size_t max, const char *what, char **text, size_t *len,
                  struct stat *st, struct err *e);

/* The same for a file the caller opened (with O_NOFOLLOW, at a directory,
 * or wherever its own rules say): read from fd to its end, retrying after
 * EINTR; the error is of `kind`, naming `what` and path. fd stays open. */
int textfile_read_fd(int fd, const char *path, size_t max, const char *what, enum err_kind kind,
                     char **text, size_t *len, struct stat *st, struct err *e);

void textfile_free(char *text, size_t len);

#endif
