/*
 * secret — where an account's password (or token) comes from, in this order:
 * `password` in the config; `passwordeval` (a command run with /bin/sh -c
 * whose first line of output is the secret; its failure is an error naming
 * the exit status; the files its words name must pass fileperm.h's rule
 * before it runs); ~/.netrc (refused if it fails fileperm.h's rule, or if
 * it holds our password and group or others can read it); a no-echo
 * prompt on the terminal (one line, ended by Enter; echo is off before the
 * prompt shows and back after; a stop signal there is ERR_INTERRUPTED).
 * The secret lives in memory we own, is
 * never put in argv or an error message, and is wiped by secret_free().
 *
 * passwordeval — and every other `..._eval` key that names a command
 * printing a secret (oauth2_client_secret_eval) — runs through
 * secret_eval(): the files its words name must pass fileperm.h's rule
 * first; it runs under the child supervisor (child.h): in a process group
 * of its own, killed with it after its timeout (ERR_AUTH) or at once on a
 * stop signal (ERR_INTERRUPTED). Its output after the first line is read
 * (at most 1 MiB, else ERR_AUTH) and wiped, like every buffer that held its
 * output. Messages name the key (`what`), never the output.
 */
#ifndef POPFETCH_SECRET_H
#define POPFETCH_SECRET_H

#include "conf.h"
#include "err.h"

#define SECRET_MAX (64 * 1024)

/* Obtain the account's secret into a fresh buffer (NUL-terminated). */
int secret_get(const struct account *a, char **out, struct err *e);

/* Whose password ~/.netrc and the terminal are asked for. */
struct secret_who {
    const char *host;   /* ~/.netrc's `machine` */
    const char *user;   /* ~/.netrc's `login` */
    const char *prompt; /* what the terminal shows, ": " added: "Password for alice@pop.example" */
};

/* secret_get's last two sources, with the same rules, for any login (the
 * POP3 account's, an SMTP relay's): ~/.netrc, then the prompt on the
 * terminal (only when standard input is one and /dev/tty opens, and not
 * after secret_no_prompt: never in the daemon, under cron or with -j). 0 with *out set; 1 when
 * neither gave one (*out NULL, e untouched); -1 on an error (a ~/.netrc refused: ERR_CONFIG_PERM;
 * a stop signal at the prompt: ERR_INTERRUPTED). */
int secret_ask(const struct secret_who *w, char **out, struct err *e);

/* From now on this process never asks on the terminal (secret_ask finds
 * nothing there): for an account's process when several run at once (-j,
 * the daemon; pool.c), where prompts would race for the same keyboard. */
void secret_no_prompt(void);

/* A command whose first line of output is a secret. */
struct secret_cmd {
    const char *what;        /* the config key, for messages: "passwordeval" */
    const char *cmd;         /* run with /bin/sh -c */
    unsigned long timeout_s; /* then it is killed */
    const char *timeout_key; /* the key that sets the timeout, for the hint */
};

/* Run it as above; *out gets a fresh NUL-terminated secret (secret_free). */
int secret_eval(const struct secret_cmd *sc, char **out, struct err *e);

/* Wipe and free a secret from secret_get() (NULL is fine). */
void secret_free(char *s);

#endif
