/*
 * dirs — the directories popfetch keeps its own files in (state, status,
 * OAuth2 tokens): made with their parents, mode 0700, and fsynced after a
 * file in them was created, renamed or removed, so the change survives a
 * crash. One copy of each for every module that owns such files.
 *
 * Library code: never prints, never exits.
 */
#ifndef POPFETCH_DIRS_H
#define POPFETCH_DIRS_H

#include "err.h"

/* Create dir and any missing parent, each mode 0700 (existing ones are
 * left as they are: their owner and mode are the caller's to check).
 * ERR_LOCAL naming `what` and the directory that could not be made. */
int dirs_make(const char *dir, const char *what, struct err *e);

/* fsync(2) the directory itself. 0, or -1 with errno set. */
int dirs_fsync(const char *dir);

#endif
