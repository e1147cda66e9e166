/*
 * dumpstate — `--dump-state [ACCOUNT...]`: what popfetch remembers about
 * each account, printed one line an entry whatever the format on disk
 * (state.h): "STATUS TIME UIDL" (D delivered, S left on the server by
 * policy; TIME when first seen, unix seconds) for every UIDL of the state
 * file and the journal, then the journal's records that mark nothing seen:
 * "I TIME UIDL NOTE" (a delivery about to happen) and "R TIME UIDL RCPT"
 * (handed to one recipient). Each account's lines follow a comment line
 * "# account NAME: STATE-FILE", and end with a comment that counts them.
 *
 * Read through state_peek(): creates nothing (no directory, no lock file);
 * the lock, when its file exists, is taken without waiting (a run in
 * progress: ERR_LOCKED, exit 8) and let go as soon as the files are read,
 * before anything is printed, so no reader keeps a run from starting.
 */
#ifndef POPFETCH_DUMPSTATE_H
#define POPFETCH_DUMPSTATE_H

#include "cli.h"
#include "conf.h"

/* Print each account the command line wants; the exit status (the first
 * failure's, else EXIT_MAIL). */
int dumpstate_run(struct config *cfg, const struct cli_options *o);

#endif
