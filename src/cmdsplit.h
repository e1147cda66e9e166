/*
 * cmdsplit — a command line split into argv the way a POSIX shell splits
 * words, with %F %T %U %H filled in, and no shell run: a pure function
 * (no I/O, no globals). The MDA (delivery mda), the config checker and the
 * fetchmailrc converter use it, so a command means the same everywhere.
 *
 * A value substituted for %x stays inside its word whatever it contains
 * (blanks, quotes, backslashes, shell operators), so a hostile sender
 * address cannot add words or run anything.
 */
#ifndef POPFETCH_CMDSPLIT_H
#define POPFETCH_CMDSPLIT_H

#include "err.h"

/* Values for %F (sender), %T (local user), %U (remote user), %H (server);
 * NULL counts as "". */
struct cmdsplit_vars {
    const char *sender, *local_user, *remote_user, *server;
};

/* Split `cmd` into a NULL-terminated argv (each word and the array from
 * malloc; free with cmdsplit_free), the way a POSIX shell splits words,
 * with no expansion but these:
 *   - blanks (space, tab, newline) separate words;
 *   - '...' keeps everything literally; "..." keeps everything but \" \\ \$
 *     \` (a backslash and the next byte become that byte) and \newline
 *     (removed); outside quotes a backslash takes the next byte literally;
 *   - %F %T %U %H are replaced by their values, in every quoting context, and
 *     a value never splits or ends a word; %% is a percent sign; \% outside
 *     quotes is a percent sign too. A word made only of an empty value is an
 *     empty argument, not dropped.
 * `v` NULL: every value is "". ERR_USAGE ("the MDA command ...", with a
 * hint) for no words, an unbalanced quote, a trailing backslash or %, an
 * unknown %x, or an unquoted | & ; < > ( ) $ ` (there is no shell: quote
 * them, or run sh -c '...' explicitly); *argv is then NULL. */
int cmdsplit_argv(const char *cmd, const struct cmdsplit_vars *v, char ***argv, struct err *e);

/* Free an argv from cmdsplit_argv (NULL is fine). */
void cmdsplit_free(char **argv);

#endif
