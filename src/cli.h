/*
 * cli — the command line: options and their checks, --help and --version,
 * the account given entirely by options (--host, --user, ...), what the
 * command line overrides in every account, and where seen-state lives
 * (--state-dir, else the account's `state_dir`, else $XDG_STATE_HOME).
 *
 * Parsing never exits: a bad option is an ERR_USAGE error for the caller to
 * show; --help and --version print and report that the run is done.
 */
#ifndef POPFETCH_CLI_H
#define POPFETCH_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"

#define CLI_ACCOUNT_OPTS 8
#define CLI_PATH_MAX     4096

struct cli_options {
    const char *config;
    const char *state_dir;
    int verbose;
    int quiet;
    int keep;                   /* -1 = as configured */
    int fetch_all;              /* -a */
    int check;                  /* -c */
    uint64_t max_size;          /* -l, 0 = as configured */
    unsigned long max_messages; /* -B, 0 = as configured */
    long timeout;
    unsigned long jobs;                       /* -j: accounts at once, 0 = as configured */
    unsigned long daemon;                     /* -d: seconds between polls, 0 = once */
    int syslog;                               /* --syslog */
    const char *logfile;                      /* --logfile */
    int serverinfo;                           /* --serverinfo */
    int dump_config;                          /* --dump-config */
    int dump_state;                           /* --dump-state */
    int authorize;                            /* --authorize: OAuth2 sign-in for an account */
    int device;                               /* --device: with --authorize, the device flow */
    int json;                                 /* --json: results on stdout, JSON Lines */
    int status;                               /* --status: the accounts' last runs */
    const char *metrics;                      /* --metrics FILE: Prometheus text */
    const char *import_fetchmailrc;           /* --import-fetchmailrc FILE */
    const char *import_seen;                  /* --import-seen FORMAT:FILE */
    const char *delivery_kind, *delivery_arg; /* -m/--mda, --maildir, --mbox */
    struct {
        const char *key, *value;
    } cli[CLI_ACCOUNT_OPTS]; /* an account on the command line: --host, --user, ... */
    int ncli;
    struct delivery_setting cli_delivery; /* checked form of the above */
    char *const *names;                   /* the accounts named (positional arguments) */
    size_t nnames;
    char default_state[CLI_PATH_MAX]; /* paths_default_state(); "" without a home, */
    struct err default_state_err;     /* and then why */
};

enum cli_outcome { CLI_RUN = 0, CLI_DONE = 1 };

/* Parse argv into o. CLI_RUN: go on; CLI_DONE: --help or --version was
 * printed (exit 0); -1: a usage error in e. */
int cli_parse(int argc, char **argv, struct cli_options *o, struct err *e);

/* The config made of --host, --user, ...: one account named after its host. */
int cli_account(struct config *cfg, const struct cli_options *o, struct err *e);

/* Check -m/--mda, --maildir or --mbox once, as the config file would, into
 * o->cli_delivery. */
int cli_delivery(struct config *cfg, struct cli_options *o, struct err *e);

/* The command line wins over the config file: apply its settings. */
void cli_apply(const struct cli_options *o, struct account *a);

/* Where the account's seen-state lives (once cli_check_state_dirs passed). */
const char *cli_state_dir(const struct cli_options *o, const struct account *a);

/* Where the account's status file lives: its `status_dir`, else where its
 * seen-state lives. */
const char *cli_status_dir(const struct cli_options *o, const struct account *a);
/* Every account the run wants has a state directory: --state-dir, its
 * `state_dir`, or the default (paths_default_state), which cannot be had
 * without a home directory. ERR_USAGE naming the account otherwise. */
int cli_check_state_dirs(const struct config *cfg, const struct cli_options *o, struct err *e);

/* The accounts named on the command line exist, and there is at least one. */
int cli_check_names(const struct config *cfg, const struct cli_options *o, struct err *e);

/* For commands about one account (--serverinfo, --import-seen): the one
 * named, or the only one there is; NULL otherwise. */
struct account *cli_one_account(struct config *cfg, const struct cli_options *o);

/* Is the account named on the command line (or were none named)? */
int cli_wants(const struct cli_options *o, const struct account *a);

#endif
