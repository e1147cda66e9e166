/*
 * paths — the user's home directory and the default places popfetch keeps
 * under it: one lookup and one fallback rule for every module that needs a
 * home (the default config file, `~` in config paths and in --import-seen,
 * the default state directory, ~/.netrc, `~/` words in a passwordeval
 * command).
 *
 * The rule: $HOME when it is set and not empty; else the home directory
 * the password database gives the real user id (cron, systemd units and
 * `env -i` may run popfetch without HOME); else there is no home. popfetch
 * then never guesses ("/", "" or the current directory would put mail,
 * state or a config lookup somewhere the user did not choose): what needs a
 * home is an ERR_USAGE error that says to set HOME or to name the place
 * (-f, --state-dir, a path without `~`), and ~/.netrc is not looked for.
 *
 * Library code: never prints, never exits.
 */
#ifndef POPFETCH_PATHS_H
#define POPFETCH_PATHS_H

#include <stddef.h>

#include "err.h"

/* The home directory into buf (NUL-terminated). 0, or -1: there is none
 * (ERR_USAGE) or it does not fit (ERR_USAGE). */
int paths_home(char *buf, size_t len, struct err *e);

/* The rule itself, given $HOME's value and the password database's home
 * (either NULL when there is none): for tests. */
int paths_pick_home(const char *env_home, const char *pw_dir, char *buf, size_t len, struct err *e);

/* path with a leading `~` or `~/` replaced by the home directory (any
 * other path is copied as it is; `~user` is not expanded). 0, or -1
 * (ERR_USAGE: no home, or the result does not fit). */
int paths_expand_home(const char *path, char *buf, size_t len, struct err *e);

/* The config file to read when -f is not given:
 * $XDG_CONFIG_HOME/popfetch/config (when XDG_CONFIG_HOME is set and not
 * empty), else ~/.config/popfetch/config; whichever of these exists, else
 * ~/.popfetchrc. Without a home only the first can be had. */
int paths_default_config(char *buf, size_t len, struct err *e);

/* The error when neither default config file exists (ERR_USAGE, naming
 * both places a new user may have meant). Returns -1. */
int paths_no_config(struct err *e);

/* The state directory when neither --state-dir nor `state_dir` names one:
 * $XDG_STATE_HOME/popfetch, else ~/.local/state/popfetch. */
int paths_default_state(char *buf, size_t len, struct err *e);

#endif
