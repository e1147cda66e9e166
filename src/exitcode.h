/*
 * exitcode — what popfetch's exit status says (design.md §4, popfetch(1)
 * EXIT STATUS): the code for an error kind, for one account's result, and
 * for several accounts together. The only place that maps error kinds to
 * exit codes; fetchmail-compatible so existing cron wrappers keep working.
 */
#ifndef POPFETCH_EXITCODE_H
#define POPFETCH_EXITCODE_H

#include "err.h"
#include "session.h"

enum exit_code {
    EXIT_MAIL = 0,
    EXIT_NOMAIL = 1,
    EXIT_CONNECT = 2,
    EXIT_AUTH = 3,
    EXIT_PROTOCOL = 4,
    EXIT_USAGE = 5,
    EXIT_PERM = 6,
    EXIT_SERVER = 7,
    EXIT_LOCKED = 8,
    EXIT_BUSY = 9,
    EXIT_DELIVERY = 10,
    EXIT_DNS = 11,
    EXIT_LIMIT = 13,
    EXIT_INTERNAL = 23,
};

/* The code for a failure of this kind (ERR_NONE: EXIT_MAIL). */
int exitcode_for_err(enum err_kind k);

/* One account's run: its error, else delivery failures, the -B limit,
 * mail or no mail. */
int exitcode_for_result(const struct session_result *r);

/* Several accounts, in config order: the first failure, else 0 if any
 * retrieved mail, else 1. */
int exitcode_combine(int overall, int status);

#endif
