/*
 * maildir — the Maildir sink: write tmp/NAME and fsync it, later rename into
 * new/ and fsync new/. Never holds a whole message in memory. Names are
 * unique (time, microseconds, pid, counter, random) and carry the account's
 * tag, so that recovery only ever touches this account's own files.
 */
#ifndef POPFETCH_MAILDIR_H
#define POPFETCH_MAILDIR_H

#include "deliver.h"

/* Open (creating DIR and tmp/ new/ cur/ if missing) a Maildir sink. `tag`
 * is a short [0-9a-f] string identifying the account. */
int maildir_open(struct sink *s, const char *dir, const char *tag, struct err *e);

#endif
