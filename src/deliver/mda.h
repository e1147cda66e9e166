/*
 * mda — the MDA sink: hands each message to a delivery program (procmail,
 * maildrop, dovecot-lda, a script) on its standard input, without a shell.
 *
 * The command is split into words once, at open, by shell-like quoting rules
 * (see cmdsplit.h); %F %T %U %H are then filled in per message, each value
 * staying inside its word whatever it contains, so a hostile sender address
 * cannot add words or run anything. The message's bytes never pass through
 * argv: while the session writes, they go to a spool file; at end() the
 * program is started with stdin a pipe fed from the spool, stdout on
 * /dev/null, stderr a pipe read line by line into the stderr_line callback,
 * and POPFETCH_ACCOUNT, POPFETCH_UIDL (the server's, percent-encoded by
 * mda_env_uidl), POPFETCH_SIZE and POPFETCH_SERVER in its environment. The
 * message is delivered only if the program exits 0 having read all of it,
 * within timeout_s seconds (else the supervisor, child.h, sends SIGTERM to
 * its process group, SIGKILL 5 s later). Exit 75 (EX_TEMPFAIL) is a
 * temporary failure; other statuses, signals and timeouts are named in the
 * error. A stop signal (stop.h) while it runs stops it at once the same way
 * (ERR_INTERRUPTED). A failed end() leaves the message on the server
 * (ERR_DELIVERY); a successful one is final: the sink is one_at_a_time, and
 * sync, publish, publish_sync and recover are deliver.h's shared do-nothing
 * ones. %F is the sender by header.h's HEADER_SENDER_MDA rule.
 */
#ifndef POPFETCH_MDA_H
#define POPFETCH_MDA_H

#include <stddef.h>

#include "deliver.h"

#define MDA_TIMEOUT_S    300
#define MDA_KILL_AFTER_S 5    /* from SIGTERM to SIGKILL */
#define MDA_LINE_MAX     1024 /* longer stderr lines reach the callback in pieces */
#define MDA_LINES_MAX    1000 /* stderr lines passed on per message; the rest are counted */

struct mda_opts {
    const char *command;                                     /* e.g. "/usr/bin/procmail -d %T" */
    int timeout_s;                                           /* <= 0: 300 */
    const char *account, *local_user, *remote_user, *server; /* NULL: "" (local_user: login name) */
    const char *spool_dir;                                   /* NULL = $TMPDIR or /tmp */
    /* The MDA's stderr, line by line, without the newline: raw bytes from the
     * program (may hold control bytes; quote before showing). line[len] is
     * '\0'. NULL: discarded. */
    void (*stderr_line)(void *ctx, const char *line, size_t len);
    void *stderr_ctx;
};

/* Check the command (ERR_USAGE for an empty command, unbalanced quotes, an
 * unknown %x or an unquoted shell operator; ERR_DELIVERY when its program
 * is nowhere execvp would look or is not executable: a configuration
 * mistake that would fail every message alike, found before the first
 * one) and open the sink. */
int mda_open(struct sink *s, const struct mda_opts *o, struct err *e);

/* POPFETCH_UIDL's value: the UIDL with every byte outside A-Z a-z 0-9
 * . _ @ + = : - (and a leading '-' or '.') written as %XX, upper-case hex,
 * so that the value is one word for a shell, holds no shell syntax, no
 * glob, no '/', is no option and never "." or "..". Reversible: each %XX
 * stands for one byte. Writes at most max-1 bytes and a NUL (a UIDL is cut
 * only at a whole byte's encoding); returns the length written. A dst of
 * 3 * strlen(uidl) + 1 bytes takes any UIDL whole. */
size_t mda_env_uidl(char *dst, size_t max, const char *uidl);

/* What an exit status means by sysexits.h (64-78), 126 and 127; NULL for
 * others. */
const char *mda_exit_meaning(int status);

#endif
