/*
 * conf — the configuration file: lexing (one `key value` per line, `#`
 * comments, double quotes with \" and \\ escapes, `~` for the home
 * directory in paths, as paths.h finds it), read from one file, a
 * directory of *.conf files, the default file and its config.d drop-ins,
 * or standard input,
 * `defaults` sections, `account NAME [: PARENT...]` with inheritance, value
 * checking, and the rules that the file must be ours and writable by us
 * alone (fileperm.h) and that a file holding a password must be private.
 *
 * Every problem is an error that names file:line and the key. The loaded
 * config owns all its strings; conf_free() wipes them (they may be secrets).
 */
#ifndef POPFETCH_CONF_H
#define POPFETCH_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum tls_mode { TLS_IMPLICIT, TLS_STARTTLS, TLS_OFF };
/* Order matches the names accepted by `auth` (conf.c). */
enum auth_choice {
    AUTH_AUTO,
    AUTH_USER,
    AUTH_APOP,
    AUTH_PLAIN,
    AUTH_LOGIN,
    AUTH_CRAM_MD5,
    AUTH_SCRAM_SHA_1,
    AUTH_SCRAM_SHA_256,
    AUTH_XOAUTH2,
    AUTH_OAUTHBEARER,
    AUTH_EXTERNAL,
};
/* Order matches the names accepted by `smtp_auth` (conf.c). */
enum smtp_auth_choice {
    SMTP_AUTH_AUTO,
    SMTP_AUTH_PLAIN,
    SMTP_AUTH_LOGIN,
    SMTP_AUTH_CRAM_MD5,
    SMTP_AUTH_SCRAM_SHA_1,
    SMTP_AUTH_SCRAM_SHA_256,
};
/* Order matches the names accepted by `oauth2` and `oauth2_flow` (conf.c). */
enum oauth2_provider { OAUTH2_NONE, OAUTH2_MICROSOFT, OAUTH2_GOOGLE, OAUTH2_CUSTOM };
enum oauth2_flow { OAUTH2_FLOW_CODE, OAUTH2_FLOW_DEVICE, OAUTH2_FLOW_CLIENT_CREDENTIALS };
enum delivery_kind {
    DELIVERY_NONE,
    DELIVERY_MAILDIR,
    DELIVERY_MBOX,
    DELIVERY_MDA,
    DELIVERY_LMTP,
    DELIVERY_SMTP,
};
/* Bits of `mbox_locking`. */
enum { MBOX_LOCK_DOTLOCK = 1, MBOX_LOCK_FCNTL = 2 };
enum keep_mode { KEEP_OFF, KEEP_ON, KEEP_FOR };
/* Order matches the names accepted by `pipelining` (conf.c). */
enum pipelining_mode { PIPELINING_AUTO, PIPELINING_ON, PIPELINING_OFF };

#define CONF_NKEYS 64 /* at least the keys of conf.c's table (one bit each in `set`) */

struct keep_setting {
    int mode;              /* enum keep_mode */
    unsigned long seconds; /* for KEEP_FOR */
};

/* `smtp_rejected`: what becomes of a message an LMTP/SMTP server refused
 * permanently. */
#define CONF_SMTP_CONNECTIONS_MAX 16 /* smtp_connections */
#define CONF_LMTP_CONNECTIONS     4  /* smtp_connections' default for LMTP (SMTP: 1) */

enum rejected_mode { REJECTED_KEEP, REJECTED_QUARANTINE, REJECTED_DELETE };
struct rejected_setting {
    int mode;        /* enum rejected_mode */
    const char *dir; /* the quarantine Maildir */
};

struct delivery_setting {
    int kind;        /* enum delivery_kind */
    const char *arg; /* directory, file, command, or LMTP/SMTP target */
};

struct account {
    const char *name;
    const char *host;
    unsigned long port; /* 0 = the default for the TLS mode */
    const char *user;
    const char *password;
    const char *passwordeval;
    unsigned long passwordeval_timeout;
    int tls; /* enum tls_mode */
    int tls_verify;
    const char *tls_trust_file;
    const char *tls_fingerprint;
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_host_override; /* name for SNI and the certificate; NULL = host */
    int tls_min_version;           /* 12 or 13 */
    int auth;                      /* enum auth_choice */
    int allow_plaintext;
    struct delivery_setting delivery;
    int mbox_locking;          /* MBOX_LOCK_* bits; 0 = none */
    unsigned long mda_timeout; /* seconds */
    int received_header;       /* prepend a Received: line */
    const char *recipients;    /* LMTP/SMTP: space-separated addresses; NULL = the local user */
    const char *smtp_helo;     /* LMTP/SMTP: LHLO/EHLO name; NULL = this host's name */
    const char *smtp_sender;   /* LMTP/SMTP: envelope sender; NULL = from the message */
    int smtp_tls;              /* LMTP/SMTP: enum esmtp_tls (off, starttls, implicit) */
    const char *smtp_tls_trust_file;       /* LMTP/SMTP: CAs (PEM); NULL = the system's */
    struct rejected_setting smtp_rejected; /* LMTP/SMTP: keep, quarantine DIR, delete */
    unsigned long smtp_connections; /* LMTP/SMTP: connections at once; 0 = 4 (LMTP), 1 (SMTP) */
    const char *smtp_user;          /* SMTP: AUTH as this user; NULL = no AUTH */
    const char *smtp_password;      /* SMTP: its password, or: */
    const char *smtp_passwordeval;  /* a command that prints it */
    int smtp_auth;                  /* SMTP: enum smtp_auth_choice */
    int pipelining;                 /* enum pipelining_mode */
    struct keep_setting keep;
    int fetch_all;               /* fetch new|all */
    uint64_t max_size;           /* 0 = no limit */
    uint64_t max_message_bytes;  /* the most one message may be, whatever LIST says */
    unsigned long max_messages;  /* 0 = no limit */
    unsigned long timeout;       /* seconds */
    const char *state_dir;       /* NULL = the default */
    const char *status_dir;      /* NULL = the state directory */
    unsigned long poll_interval; /* daemon: seconds between polls, 0 = -d's */
    const char *state_key;       /* what names the state; NULL = user@host */

    /* OAuth2 (oauth2.h): popfetch gets and refreshes the token itself */
    int oauth2;      /* enum oauth2_provider */
    int oauth2_flow; /* enum oauth2_flow */
    const char *oauth2_client_id;
    const char *oauth2_client_secret;      /* or: */
    const char *oauth2_client_secret_eval; /* a command that prints it */
    const char *oauth2_tenant;             /* microsoft; NULL = common */
    const char *oauth2_scope;              /* NULL = the provider's */
    const char *oauth2_authorize_url;      /* custom, or to override a preset's */
    const char *oauth2_token_url;
    const char *oauth2_device_url;
    const char *oauth2_trust_file;      /* CAs for the provider's HTTPS; NULL = system */
    unsigned long oauth2_redirect_port; /* the loopback listener's port; 0 = any */

    /* where the account was defined, for messages */
    const char *file;
    int line;
    uint64_t set; /* keys given by this account or its parents (bit per key) */
    /* where each key's value came from (index as conf_describe): a line of
     * `file` (its own, a parent's or a defaults section), 0 the built-in
     * default, CONF_FROM_CLI the command line */
    int origin[CONF_NKEYS];
};

#define CONF_MAX_JOBS 64
#define CONF_FROM_CLI (-1)

/* `max_message_bytes`' default: 1 GiB. */
#define CONF_MAX_MESSAGE_BYTES ((uint64_t)1 << 30)

struct config {
    const char *path;
    struct account *accounts;
    size_t naccounts;
    unsigned long jobs; /* `jobs` in defaults: accounts run at once; 0 = not set */
    struct arena_block *arena;
};

/* The drop-in directory: $XDG_CONFIG_HOME/popfetch/config.d, else
 * ~/.config/popfetch/config.d (the home as paths.h finds it). Written into
 * buf; -1 (ERR_USAGE) without a home directory. */
int conf_dropin_dir(char *buf, size_t len, struct err *e);

/* Load and check the config. path NULL: the default file
 * (paths_default_config), if it exists, and then every *.conf of the drop-in
 * directory (conf_dropin_dir), if that exists, in name order; "-": standard
 * input; a directory: every *.conf in it, in name order; else that file.
 * The files are read as one config: `defaults` and accounts carry over
 * from one file to the next, and an account defined twice is an error
 * naming both places. ERR_CONFIG_PERM (fileperm.h) if a file or directory
 * read is writable by group or others or belongs to another user than us
 * or root, or a file holds a password and group or others can read it
 * (standard input is exempt: nobody else wrote it). */
int conf_load(const char *path, struct config *cfg, struct err *e);

/* Parse config text (for tests and fuzzing) into cfg, which it fills from
 * scratch; `name` is used in messages. On failure everything is freed (conf_free may still be
 * called). `private_file` says whether the file is readable by its owner alone. */
int conf_parse(const char *name, const char *text, size_t len, int private_file, struct config *cfg,
               struct err *e);

struct account *conf_find(struct config *cfg, const char *name);

/* The port to use: the configured one or 995/110 by TLS mode. */
unsigned conf_port(const struct account *a);

/* The LMTP/SMTP connections to use: smtp_connections, or
 * CONF_LMTP_CONNECTIONS for `delivery lmtp` and 1 otherwise. */
unsigned conf_smtp_connections(const struct account *a);

/* Parse "14d", "12h", "1d12h", "90m", "3600" (seconds) into seconds. */
int conf_parse_duration(const char *s, unsigned long *out);

/* Parse "10M", "512k", "1G", "1000" into bytes. */
int conf_parse_size(const char *s, uint64_t *out);

/* Check a `delivery` kind and value as the config file would; `src` names
 * where it came from (e.g. "--mda") for messages. */
int conf_set_delivery(struct config *cfg, struct account *a, const char *kind, const char *value,
                      const char *src, struct err *e);

/* The effective value of key number i (0, 1, ... until it returns -1) of
 * account a, as a config line would write it: *name its key, val the value
 * (`password` masked as ****; "(none)" when unset), *origin where it came
 * from (struct account's origin). Returns 0, or -1 past the last key. */
int conf_describe(const struct account *a, size_t i, const char **name, char *val, size_t len,
                  int *origin);

/* The index of key `name` for origin[], or -1. */
int conf_key_index(const char *name);

/* Set one key of an account as a config line would (the command line's
 * account); `src` names the option in messages. */
int conf_set_key(struct config *cfg, struct account *a, const char *key, const char *value,
                 const char *src, struct err *e);

/* The account can be used: its required keys are there (host, user,
 * delivery, tls_cert_file for EXTERNAL) and its OAuth2 and SMTP AUTH keys
 * fit together; else ERR_USAGE naming the account and the problem. */
int conf_check_account(const struct account *a, struct err *e);

/* path with a leading ~ expanded (paths_expand_home: $HOME, else the
 * password database's home) as a fresh string in the config's arena; NULL
 * with e set (ERR_USAGE: no home, too long; ERR_INTERNAL: out of memory). */
const char *conf_expand_home(struct config *cfg, const char *path, struct err *e);

/* Copy a string into the config's arena (lives until conf_free). */
const char *conf_strdup(struct config *cfg, const char *s);

/* A fresh account carrying the built-in defaults (for the command line). */
void conf_account_defaults(struct account *a);

/* A SHA-256 digest of every setting of the account (and its name): equal
 * digests mean the same account, as a daemon's reload needs to know. */
#define CONF_DIGEST_LEN 32
void conf_account_digest(const struct account *a, unsigned char out[CONF_DIGEST_LEN]);

/* Append an account (copied); returns it or NULL on out of memory. */
struct account *conf_add_account(struct config *cfg, const struct account *a);

void conf_free(struct config *cfg);

#endif
