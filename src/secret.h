/*
 * secret — where an account's password (or token) comes from, in this order:
 * `password` in the config; `passwordeval` (a command run with /bin/sh -c
 * whose first line of output is the secret; its failure is an error naming
 * the exit status; the files its words name must pass fileperm.h's rule
 * before it runs); ~/.netrc (refused if it fails fileperm.h's rule, or if
 * it holds our password and group or others can read it); a no-echo
 * prompt on the terminal. The secret lives in memory we own, is
 * never put in argv or an error message, and is wiped by secret_free().
 */
#ifndef POPFETCH_SECRET_H
#define POPFETCH_SECRET_H

#include "conf.h"
#include "err.h"

#define SECRET_MAX (64 * 1024)

/* Obtain the account's secret into a fresh buffer (NUL-terminated). */
int secret_get(const struct account *a, char **out, struct err *e);

/* Wipe and free a secret from secret_get() (NULL is fine). */
void secret_free(char *s);

#endif
