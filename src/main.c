/*
 * main — the command line: options, choosing accounts, running each one,
 * and turning results into the exit status (design.md §4). The only place
 * that maps error kinds to exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "conf.h"
#include "fetchmailrc.h"
#include "import.h"
#include "log.h"
#include "net.h"
#include "progress.h"
#include "secret.h"
#include "serverinfo.h"
#include "session.h"
#include "state.h"
#include "stop.h"
#include "version.h"

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

struct options {
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
    const char *import_fetchmailrc;           /* --import-fetchmailrc FILE */
    const char *import_seen;                  /* --import-seen FORMAT:FILE */
    const char *delivery_kind, *delivery_arg; /* -m/--mda, --maildir, --mbox */
    struct {
        const char *key, *value;
    } cli[8]; /* an account on the command line: --host, --user, ... */
    int ncli;
    struct delivery_setting cli_delivery; /* checked form of the above */
};

static int exit_for(enum err_kind k)
{
    switch (k) {
    case ERR_NONE:
        return EXIT_MAIL;
    case ERR_CONNECT:
    case ERR_TLS:
        return EXIT_CONNECT;
    case ERR_DNS:
        return EXIT_DNS;
    case ERR_AUTH:
        return EXIT_AUTH;
    case ERR_PROTOCOL:
        return EXIT_PROTOCOL;
    case ERR_SERVER:
    case ERR_TIMEOUT:
        return EXIT_SERVER;
    case ERR_BUSY:
        return EXIT_BUSY;
    case ERR_USAGE:
        return EXIT_USAGE;
    case ERR_CONFIG_PERM:
        return EXIT_PERM;
    case ERR_LOCKED:
        return EXIT_LOCKED;
    case ERR_DELIVERY:
    case ERR_LOCAL:
        return EXIT_DELIVERY;
    case ERR_LIMIT:
        return EXIT_LIMIT;
    case ERR_INTERRUPTED:
    case ERR_INTERNAL:
        return EXIT_INTERNAL;
    }
    return EXIT_INTERNAL;
}

static void usage(FILE *f)
{
    fputs("Usage: popfetch [options] [account...]\n"
          "Fetch mail from POP3 servers into Maildir, mbox or an MDA; with no account,\n"
          "every account.\n"
          "\n"
          "  -f, --config FILE      config file (default $XDG_CONFIG_HOME/popfetch/config\n"
          "                         or ~/.popfetchrc)\n"
          "  -v, --verbose          a summary line per account; twice: protocol trace\n"
          "  -q, -s, --quiet        errors only\n"
          "  -k, --keep             leave messages on the server\n"
          "  -K, --no-keep          delete messages once they are safely delivered\n"
          "  -a, --all              also fetch messages seen before\n"
          "  -c, --check            count new messages, fetch nothing (exit 0 if any)\n"
          "  -l, --max-size SIZE    leave larger messages on the server (e.g. 10M)\n"
          "  -B, --max-messages N   fetch at most N messages per account and run\n"
          "  -t, --timeout SECONDS  for connecting, each read or write, each reply line\n"
          "  -j, --jobs N           fetch up to N accounts at once (default 1)\n"
          "  -d, --daemon SECONDS   poll every SECONDS in the foreground (SIGUSR1: now,\n"
          "                         SIGHUP: re-read the config, SIGTERM: stop)\n"
          "      --syslog           log to syslog (facility mail) instead of the terminal\n"
          "      --logfile FILE     log to FILE, with timestamps\n"
          "  -m, --mda COMMAND      deliver by running COMMAND (e.g. \"procmail -d %T\")\n"
          "      --maildir DIR      deliver into the Maildir DIR\n"
          "      --mbox FILE        append to the mbox FILE\n"
          "      --state-dir DIR    where seen-state lives\n"
          "                         (default $XDG_STATE_HOME/popfetch)\n"
          "      --serverinfo [account]\n"
          "                         show what the server offers: TLS, certificate,\n"
          "                         CAPA, SASL; logs in when a password is configured\n"
          "                         and the certificate is trusted\n"
          "      --import-fetchmailrc FILE\n"
          "                         print the popfetch config equivalent to a\n"
          "                         fetchmailrc (what cannot be carried is a comment)\n"
          "      --import-seen FORMAT:FILE [account]\n"
          "                         mark as seen what fetchmail (.fetchids), mpop or\n"
          "                         getmail (oldmail-*) already fetched\n"
          "      --host HOST [--port N] --user NAME [--tls MODE] [--auth MECH]\n"
          "      [--passwordeval CMD] [--tls-trust-file FILE]\n"
          "                         an account given here instead of a config file\n"
          "                         (needs --maildir, --mbox or --mda too)\n"
          "  -V, --version          version and build details\n"
          "  -h, --help             this help\n"
          "\n"
          "Exit status: 0 mail retrieved, 1 no new mail, 2 connect/TLS failure,\n"
          "3 authentication, 4 protocol error, 5 usage/config error, 6 config readable\n"
          "by others, 7 server error, 8 account locked, 9 mailbox busy, 10 delivery\n"
          "failed, 11 DNS, 13 more mail waits (-B), 23 internal error.\n"
          "See popfetch(1) and popfetchrc(5).\n",
          f);
}

static void version(void)
{
    printf("popfetch %s\n%s\n"
           "authentication: USER/PASS APOP PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 "
           "XOAUTH2 OAUTHBEARER EXTERNAL\n"
           "delivery: maildir mbox mda\n",
           POPFETCH_VERSION, OpenSSL_version(OPENSSL_VERSION));
}

/* Long-only options. */
enum {
    OPT_HOST = 1000, /* ... OPT_HOST + 6: the command line's account, see cli_keys */
    OPT_PASSWORD = 1099,
    OPT_SYSLOG,
    OPT_LOGFILE,
    OPT_SERVERINFO,
    OPT_IMPORT_FETCHMAILRC,
};

/* Config keys set by --host, --port, ... in the order of their codes. */
static const char *const cli_keys[] = {"host", "port",         "user",          "tls",
                                       "auth", "passwordeval", "tls_trust_file"};

static const struct option longopts[] = {
    {"config", required_argument, NULL, 'f'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"silent", no_argument, NULL, 's'},
    {"keep", no_argument, NULL, 'k'},
    {"no-keep", no_argument, NULL, 'K'},
    {"all", no_argument, NULL, 'a'},
    {"check", no_argument, NULL, 'c'},
    {"max-size", required_argument, NULL, 'l'},
    {"max-messages", required_argument, NULL, 'B'},
    {"timeout", required_argument, NULL, 't'},
    {"jobs", required_argument, NULL, 'j'},
    {"daemon", required_argument, NULL, 'd'},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"logfile", required_argument, NULL, OPT_LOGFILE},
    {"serverinfo", no_argument, NULL, OPT_SERVERINFO},
    {"import-fetchmailrc", required_argument, NULL, OPT_IMPORT_FETCHMAILRC},
    {"import-seen", required_argument, NULL, 'I'},
    {"state-dir", required_argument, NULL, 'S'},
    {"mda", required_argument, NULL, 'm'},
    {"maildir", required_argument, NULL, 'M'},
    {"mbox", required_argument, NULL, 'X'},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_HOST + 1},
    {"user", required_argument, NULL, OPT_HOST + 2},
    {"tls", required_argument, NULL, OPT_HOST + 3},
    {"auth", required_argument, NULL, OPT_HOST + 4},
    {"passwordeval", required_argument, NULL, OPT_HOST + 5},
    {"tls-trust-file", required_argument, NULL, OPT_HOST + 6},
    /* refused with the reason; without it getopt would take --password as
     * an abbreviation of --passwordeval */
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A plain decimal from min to max, else a message naming the option. */
static int number_opt(const char *name, const char *arg, unsigned long min, unsigned long max,
                      unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(arg, &end, 10);
    if (*end || arg[0] < '0' || arg[0] > '9' || errno || *out < min || *out > max) {
        fprintf(stderr, "popfetch: --%s needs a number from %lu to %lu\n", name, min, max);
        return -1;
    }
    return 0;
}

/* --host, --port, ...: remembered, applied as config keys by cli_account. */
static int account_opt(struct options *o, int c)
{
    size_t k = (size_t)(c - OPT_HOST);

    if (o->ncli == (int)(sizeof o->cli / sizeof o->cli[0])) {
        fprintf(stderr, "popfetch: too many account options\n");
        return -1;
    }
    o->cli[o->ncli].key = cli_keys[k];
    o->cli[o->ncli++].value = optarg;
    return 0;
}

/* Options that take a number or a size. */
static int numeric_opt(struct options *o, int c)
{
    unsigned long n;

    switch (c) {
    case 'l':
        if (conf_parse_size(optarg, &o->max_size) == 0 && o->max_size) return 0;
        fprintf(stderr, "popfetch: --max-size needs a size like 10M, 512k or 20000\n");
        return -1;
    case 'B':
        return number_opt("max-messages", optarg, 1, 999999999, &o->max_messages);
    case 't':
        if (number_opt("timeout", optarg, 1, 86400, &n) < 0) return -1;
        o->timeout = (long)n;
        return 0;
    case 'd':
        return number_opt("daemon", optarg, 1, 86400 * 7, &o->daemon);
    default: /* 'j' */
        return number_opt("jobs", optarg, 1, CONF_MAX_JOBS, &o->jobs);
    }
}

/* One option; -1 ends parsing with exit status 5. */
static int one_opt(struct options *o, int c)
{
    switch (c) {
    case 'f':
        o->config = optarg;
        break;
    case 'v':
        o->verbose++;
        break;
    case 'q':
    case 's':
        o->quiet = 1;
        break;
    case 'k':
        o->keep = 1;
        break;
    case 'K':
        o->keep = 0;
        break;
    case 'a':
        o->fetch_all = 1;
        break;
    case 'c':
        o->check = 1;
        break;
    case 'S':
        o->state_dir = optarg;
        break;
    case 'I':
        o->import_seen = optarg;
        break;
    case OPT_SYSLOG:
        o->syslog = 1;
        break;
    case OPT_LOGFILE:
        o->logfile = optarg;
        break;
    case OPT_SERVERINFO:
        o->serverinfo = 1;
        break;
    case OPT_IMPORT_FETCHMAILRC:
        o->import_fetchmailrc = optarg;
        break;
    case 'm':
    case 'M':
    case 'X':
        o->delivery_kind = c == 'm' ? "mda" : c == 'M' ? "maildir" : "mbox";
        o->delivery_arg = optarg;
        break;
    case 'l':
    case 'B':
    case 't':
    case 'd':
    case 'j':
        return numeric_opt(o, c);
    case OPT_PASSWORD:
        fprintf(stderr, "popfetch: --password is not offered: every user could read it "
                        "with ps; use --passwordeval CMD\n");
        return -1;
    case 'V':
        version();
        exit(0);
    case 'h':
        usage(stdout);
        exit(0);
    default:
        if (c >= OPT_HOST && c < OPT_HOST + (int)(sizeof cli_keys / sizeof cli_keys[0]))
            return account_opt(o, c);
        fprintf(stderr, "Try `popfetch --help'.\n");
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    int c;

    while ((c = getopt_long(argc, argv, "f:vqskKacl:B:t:j:d:m:Vh", longopts, NULL)) != -1)
        if (one_opt(o, c) < 0) return -1;
    return 0;
}

static void default_state_dir(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

    if (xdg && *xdg)
        snprintf(buf, len, "%s/popfetch", xdg);
    else
        snprintf(buf, len, "%s/.local/state/popfetch", home && *home ? home : ".");
}

/* Exit status for one account's result. */
static int account_status(const struct session_result *r)
{
    if (r->err.kind != ERR_NONE) return exit_for(r->err.kind);
    if (r->failed) return EXIT_DELIVERY;
    if (r->waiting) return EXIT_LIMIT;
    return r->fetched ? EXIT_MAIL : EXIT_NOMAIL;
}

/* On a terminal: the progress line becomes the run's summary (or goes
 * away before an error is shown). */
static void progress_summary(const struct session_result *r)
{
    char text[200];

    if (r->err.kind != ERR_NONE) {
        progress_end(NULL);
        return;
    }
    snprintf(text, sizeof text, "%lu message%s (%llu bytes) retrieved, %lu deleted%s in %.1f s",
             r->fetched, r->fetched == 1 ? "" : "s", (unsigned long long)r->bytes, r->deleted,
             r->failed ? ", some failed" : "", (double)r->ms / 1000.0);
    progress_end(text);
}

static void summary(const struct account *a, const struct session_result *r)
{
    log_info(a->name, "%lu message%s (%llu bytes) retrieved, %lu deleted, %lu failed, in %.2f s",
             r->fetched, r->fetched == 1 ? "" : "s", (unsigned long long)r->bytes, r->deleted,
             r->failed, (double)r->ms / 1000.0);
}

/* The command line wins over the config file. */
static void apply_overrides(struct account *a, const struct options *o)
{
    if (o->delivery_kind) a->delivery = o->cli_delivery;
    if (o->timeout) a->timeout = (unsigned long)o->timeout;
    if (o->keep >= 0) {
        a->keep.mode = o->keep ? KEEP_ON : KEEP_OFF;
        a->keep.seconds = 0;
    }
    if (o->fetch_all) a->fetch_all = 1;
    if (o->max_size) a->max_size = o->max_size;
    if (o->max_messages) a->max_messages = o->max_messages;
}

static int check_status(const struct account *a, const struct session_result *r)
{
    if (r->err.kind != ERR_NONE) return exit_for(r->err.kind);
    printf("%s: %lu new message%s (%lu on the server)\n", a->name, r->new_messages,
           r->new_messages == 1 ? "" : "s", r->listed);
    fflush(stdout);
    return r->new_messages ? EXIT_MAIL : EXIT_NOMAIL;
}

/* CAPA LOGIN-DELAY, per account, for the daemon's next polls. */
#define DELAY_SLOTS 256
static struct {
    char name[64];
    time_t not_before;
} delays[DELAY_SLOTS];

static time_t *delay_slot(const char *name)
{
    for (size_t i = 0; i < DELAY_SLOTS; i++) {
        if (!strcmp(delays[i].name, name)) return &delays[i].not_before;
        if (!delays[i].name[0]) {
            snprintf(delays[i].name, sizeof delays[i].name, "%s", name);
            return &delays[i].not_before;
        }
    }
    return NULL;
}

static void note_login_delay(const struct account *a, const struct session_result *r)
{
    time_t *t = r->login_delay > 0 ? delay_slot(a->name) : NULL;

    if (t) *t = time(NULL) + r->login_delay;
}

/* The server asked for more time between logins than has passed. */
static int login_delayed(const struct account *a)
{
    time_t *t = delay_slot(a->name);

    if (!t || time(NULL) >= *t) return 0;
    log_info(a->name,
             "not polled: the server asks for %lld more seconds between logins "
             "(LOGIN-DELAY)",
             (long long)(*t - time(NULL)));
    return 1;
}

static int run_account(struct account *a, const struct options *o, const char *default_state)
{
    struct session_opts so = {.check = o->check};
    struct session_result r;

    apply_overrides(a, o);
    so.state_dir = o->state_dir ? o->state_dir : a->state_dir ? a->state_dir : default_state;
    session_run(a, &so, &r);
    note_login_delay(a, &r);
    progress_summary(&r);
    if (r.err.kind != ERR_NONE) log_error(a->name, &r.err);
    if (o->check) return check_status(a, &r);
    summary(a, &r);
    return account_status(&r);
}

/* Entries of the import file that belong to the account: by user, and by
 * host too when the file knows several hosts for that user. */
static int import_wanted(const struct import_list *l, size_t i, const struct account *a,
                         int by_host)
{
    return import_matches(&l->v[i], a->user, by_host ? a->host : NULL);
}

static int record_imported(const struct import_list *l, const struct account *a, const char *dir,
                           size_t *count, struct err *e)
{
    struct state st;
    char key[1024];
    int by_host = 0, rc = 0;
    int64_t now = time(NULL);

    for (size_t i = 0; i < l->n && !by_host; i++)
        by_host = import_matches(&l->v[i], a->user, a->host) && l->v[i].host;
    state_key(key, sizeof key, a->user, a->host, conf_port(a));
    if (state_open(&st, dir, key, e) < 0) {
        state_close(&st);
        return -1;
    }
    *count = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        if (!import_wanted(l, i, a, by_host)) continue;
        rc = state_add(&st, l->v[i].uidl, strlen(l->v[i].uidl), STATE_DELIVERED,
                       l->v[i].when ? l->v[i].when : now, NULL, e);
        (*count)++;
    }
    if (rc == 0) rc = state_compact(&st, 0, e);
    state_close(&st);
    return rc;
}

/* A leading ~ in FORMAT:~/FILE, which no shell expands after the colon. */
static int expand_home(struct config *cfg, const char **path, struct err *e)
{
    const char *p = conf_expand_home(cfg, *path);

    if (!p) return err_set(e, ERR_USAGE, "the path %s is too long", *path);
    *path = p;
    return 0;
}

/* --import-seen: seed one account's state from another tool's file. */
static int run_import(struct config *cfg, const struct options *o, int argc, char **argv,
                      const char *default_state)
{
    struct account *a = NULL;
    struct import_list l = {0};
    enum import_format f;
    const char *path;
    struct err e;
    size_t count = 0;

    if (argc - optind == 1)
        a = conf_find(cfg, argv[optind]);
    else if (argc == optind && cfg->naccounts == 1)
        a = &cfg->accounts[0];
    if (!a) {
        fprintf(stderr, "popfetch: --import-seen needs one account name\n");
        return EXIT_USAGE;
    }
    if (import_parse_spec(o->import_seen, &f, &path, &e) < 0 || expand_home(cfg, &path, &e) < 0 ||
        import_load(f, path, &l, &e) < 0 ||
        record_imported(&l, a,
                        o->state_dir   ? o->state_dir
                        : a->state_dir ? a->state_dir
                                       : default_state,
                        &count, &e) < 0) {
        log_error(a->name, &e);
        import_free(&l);
        return exit_for(e.kind);
    }
    if (count == 0) {
        fprintf(stderr, "popfetch: %s: %s holds no UIDLs for %s@%s\n", a->name, path, a->user,
                a->host);
        import_free(&l);
        return EXIT_USAGE;
    }
    printf("%s: marked %zu UIDL%s from %s as seen", a->name, count, count == 1 ? "" : "s", path);
    if (l.skipped) printf(" (%u unreadable line%s skipped)", l.skipped, l.skipped == 1 ? "" : "s");
    printf("\n");
    import_free(&l);
    return EXIT_MAIL;
}

/* --host, --user, ...: one account named after its host, no config file. */
static int cli_account(struct config *cfg, const struct options *o, struct err *e)
{
    struct account a;
    const char *host = NULL;

    memset(cfg, 0, sizeof *cfg);
    conf_account_defaults(&a);
    for (int i = 0; i < o->ncli; i++) {
        char opt[40]; /* the option as typed: --tls-trust-file for tls_trust_file */
        snprintf(opt, sizeof opt, "--%s", o->cli[i].key);
        for (char *p = opt; *p; p++)
            if (*p == '_') *p = '-';
        if (conf_set_key(cfg, &a, o->cli[i].key, o->cli[i].value, opt, e) < 0) return -1;
        if (!strcmp(o->cli[i].key, "host")) host = o->cli[i].value;
    }
    if (!host) return err_set(e, ERR_USAGE, "an account on the command line needs --host");
    if (!o->delivery_kind)
        return err_set(e, ERR_USAGE,
                       "an account on the command line needs --maildir, --mbox or --mda");
    a.name = conf_strdup(cfg, host);
    a.delivery.kind = DELIVERY_MAILDIR; /* replaced by cli_delivery */
    if (!a.name || !(cfg->path = conf_strdup(cfg, "the command line")))
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (!a.user) return err_set(e, ERR_USAGE, "an account on the command line needs --user");
    if (conf_check_account(&a, e) < 0) return -1;
    return conf_add_account(cfg, &a) ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
}

/* Check -m/--mda, --maildir or --mbox once, as the config file would. */
static int cli_delivery(struct config *cfg, struct options *o)
{
    struct account tmp;
    char src[32];
    struct err e;

    if (!o->delivery_kind) return 0;
    snprintf(src, sizeof src, "--%s", o->delivery_kind);
    conf_account_defaults(&tmp);
    if (conf_set_delivery(cfg, &tmp, o->delivery_kind, o->delivery_arg, src, &e) < 0) {
        log_error(NULL, &e);
        return -1;
    }
    o->cli_delivery = tmp.delivery;
    return 0;
}

/* Overall status: the first failure, else 0 if any mail, else 1. */
static int combine(int overall, int status)
{
    if (overall > EXIT_NOMAIL) return overall;
    if (status > EXIT_NOMAIL) return status;
    return (overall == EXIT_MAIL || status == EXIT_MAIL) ? EXIT_MAIL : EXIT_NOMAIL;
}

/* ---- running several accounts ------------------------------------------ */

/* Start account a in a child process; its exit status is the account's. */
static pid_t start_child(struct account *a, const struct options *o, const char *sdir)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        stop_install(o->daemon > 0);
        int st = run_account(a, o, sdir);
        fflush(stdout);
        _exit(st);
    }
    return pid;
}

static int child_status(int ws)
{
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    return EXIT_INTERNAL; /* killed: never report success */
}

/* Up to `jobs` accounts at once, each in its own process: one account's
 * failure or hang touches no other's state or status. The statuses are
 * combined in config order, as a sequential run would. A stop signal
 * starts nothing more and is passed on to the running accounts. */
static int run_parallel(struct account **list, size_t n, unsigned long jobs,
                        const struct options *o, const char *sdir)
{
    pid_t *pids = calloc(n, sizeof *pids);
    int *st = calloc(n, sizeof *st), status = -1;
    size_t next = 0, running = 0;

    if (!pids || !st) {
        free(pids);
        free(st);
        fprintf(stderr, "popfetch: out of memory\n");
        return EXIT_INTERNAL;
    }
    while (next < n || running > 0) {
        while (next < n && running < jobs && !stop_requested()) {
            st[next] = EXIT_INTERNAL;
            if ((pids[next] = start_child(list[next], o, sdir)) < 0) {
                fprintf(stderr, "popfetch: %s: cannot start: %s\n", list[next]->name,
                        strerror(errno));
                pids[next] = 0;
            } else
                running++;
            next++;
        }
        if (stop_requested() && next < n) next = n; /* start nothing more */
        if (running == 0) break;
        int ws;
        pid_t done = waitpid(-1, &ws, 0);
        if (done < 0) {
            if (errno != EINTR) break;
            for (size_t i = 0; i < n; i++)
                if (pids[i] > 0 && stop_requested()) kill(pids[i], stop_requested());
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (pids[i] == done) {
                st[i] = child_status(ws);
                pids[i] = 0;
                running--;
            }
    }
    for (size_t i = 0; i < n; i++) status = status < 0 ? st[i] : combine(status, st[i]);
    free(pids);
    free(st);
    return status < 0 ? EXIT_NOMAIL : status;
}

/* The accounts named on the command line (all when none), in config order. */
static int run_accounts(struct config *cfg, const struct options *o, int argc, char **argv,
                        const char *sdir)
{
    struct account **list = calloc(cfg->naccounts, sizeof(struct account *));
    unsigned long jobs = o->jobs ? o->jobs : cfg->jobs ? cfg->jobs : 1;
    size_t n = 0;
    int status = -1;

    if (!list) return EXIT_INTERNAL;
    progress_enable(jobs > 1 ? (int)jobs : 1);
    for (size_t i = 0; i < cfg->naccounts; i++) {
        int wanted = optind == argc;
        for (int k = optind; k < argc && !wanted; k++)
            wanted = !strcmp(argv[k], cfg->accounts[i].name);
        if (wanted) list[n++] = &cfg->accounts[i];
    }
    if (jobs > 1 && n > 1) {
        status = run_parallel(list, n, jobs, o, sdir);
    } else {
        for (size_t i = 0; i < n && !stop_requested(); i++) {
            if (o->daemon && login_delayed(list[i])) continue;
            int st = run_account(list[i], o, sdir);
            status = status < 0 ? st : combine(status, st);
        }
        /* a run cut short by a signal never looks like success */
        if (stop_requested() && status <= EXIT_NOMAIL) status = EXIT_INTERNAL;
    }
    free(list);
    return status < 0 ? EXIT_NOMAIL : status;
}

/* The accounts named on the command line exist, and there is at least one. */
static int check_accounts(const struct config *cfg, int argc, char **argv, struct err *e)
{
    for (int i = optind; i < argc; i++)
        if (!conf_find((struct config *)cfg, argv[i]))
            return err_set(e, ERR_USAGE, "no account named `%s` in %s", argv[i], cfg->path);
    if (cfg->naccounts == 0) return err_set(e, ERR_USAGE, "%s defines no accounts", cfg->path);
    return 0;
}

/* --import-fetchmailrc FILE: the equivalent config on stdout. */
static int import_fetchmailrc(const char *path)
{
    char *out = NULL;
    struct err e;

    if (fetchmailrc_convert_file(path, &out, &e) < 0) {
        log_error(NULL, &e);
        return exit_for(e.kind);
    }
    fputs(out, stdout);
    fetchmailrc_free(out);
    return fflush(stdout) == 0 ? EXIT_MAIL : EXIT_INTERNAL;
}

/* ---- --serverinfo ------------------------------------------------------ */

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
    fflush(stdout);
}

/* One account: the one named, or the only one (the command line's too). */
static int run_serverinfo(struct config *cfg, int argc, char **argv)
{
    struct account *a = NULL;
    char *secret = NULL;
    struct err e;
    int rc;

    if (argc - optind == 1)
        a = conf_find(cfg, argv[optind]);
    else if (argc == optind && cfg->naccounts == 1)
        a = &cfg->accounts[0];
    if (!a) {
        fprintf(stderr, "popfetch: --serverinfo needs one account name (or --host)\n");
        return EXIT_USAGE;
    }
    /* Log in only with a secret that needs no questions. */
    if ((a->password || a->passwordeval) && secret_get(a, &secret, &e) < 0) {
        log_error(a->name, &e);
        return exit_for(e.kind);
    }
    rc = serverinfo_run(a, secret, print_line, NULL, &e);
    secret_free(secret);
    if (rc < 0) {
        log_error(a->name, &e);
        return exit_for(e.kind);
    }
    return EXIT_MAIL;
}

/* ---- daemon mode --------------------------------------------------------- */

/* SIGHUP: read the config again; a broken one keeps the one in use. */
static void reload(struct config *cfg, struct options *o, const char *path, int argc, char **argv)
{
    struct config n;
    struct delivery_setting keep = o->cli_delivery;
    struct err e;

    if (o->ncli) {
        log_warn(NULL, "SIGHUP: the account is on the command line; nothing to re-read");
        return;
    }
    if (conf_load(path, &n, &e) < 0 || check_accounts(&n, argc, argv, &e) < 0) {
        log_error(NULL, &e);
        log_warn(NULL, "SIGHUP: %s is broken; going on with the configuration read before", path);
        conf_free(&n);
        return;
    }
    if (cli_delivery(&n, o) < 0) {
        o->cli_delivery = keep;
        conf_free(&n);
        return;
    }
    conf_free(cfg);
    *cfg = n;
    log_info(NULL, "SIGHUP: re-read %s (%zu account%s)", path, cfg->naccounts,
             cfg->naccounts == 1 ? "" : "s");
}

/* Wait `secs` between polls, in steps of at most one second, so SIGUSR1
 * (poll now), SIGHUP (re-read) and SIGTERM (stop) are acted on at once. */
static void daemon_wait(unsigned long secs, struct config *cfg, struct options *o, const char *path,
                        int argc, char **argv)
{
    int64_t end = net_now_ms() + (int64_t)secs * 1000;

    while (!stop_requested()) {
        int64_t left = end - net_now_ms();
        struct timespec ts;

        if (stop_take_reload()) reload(cfg, o, path, argc, argv);
        if (stop_take_poll() || left <= 0) return;
        if (left > 1000) left = 1000;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* -d SECONDS: poll every account, wait, again, until SIGTERM or SIGINT.
 * Failures are logged and never end the daemon. */
static int run_daemon(struct config *cfg, struct options *o, const char *path, int argc,
                      char **argv, const char *sdir)
{
    log_info(NULL, "polling every %lu s (pid %ld)", o->daemon, (long)getpid());
    while (!stop_requested()) {
        run_accounts(cfg, o, argc, argv, sdir);
        daemon_wait(o->daemon, cfg, o, path, argc, argv);
    }
    log_info(NULL, "stopped by signal %d", stop_requested());
    return EXIT_MAIL;
}

/* Process-wide settings, before anything else runs. */
static void process_init(void)
{
    /* The kernel frees everything at exit; OpenSSL's own atexit cleanup
     * would only add time to every run. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct options o = {.keep = -1};
    struct config cfg;
    struct err e;
    char path[4096], sdir[4096];
    int status = -1;

    process_init();
    if (parse_args(argc, argv, &o) < 0) return EXIT_USAGE;
    log_set_level(o.quiet ? LOG_QUIET : o.verbose >= 2 ? LOG_TRACE : o.verbose);
    if (o.syslog) log_use_syslog();
    if (o.logfile && log_use_file(o.logfile, &e) < 0) {
        log_error(NULL, &e);
        return EXIT_USAGE;
    }
    if (o.import_fetchmailrc) return import_fetchmailrc(o.import_fetchmailrc);
    if (o.ncli) {
        if (cli_account(&cfg, &o, &e) < 0) {
            log_error(NULL, &e);
            conf_free(&cfg);
            return EXIT_USAGE;
        }
    } else {
        if (!o.config) conf_default_path(path, sizeof path);
        if (conf_load(o.config ? o.config : path, &cfg, &e) < 0) {
            log_error(NULL, &e);
            return exit_for(e.kind);
        }
    }
    if (cli_delivery(&cfg, &o) < 0) {
        conf_free(&cfg);
        return EXIT_USAGE;
    }
    default_state_dir(sdir, sizeof sdir);
    if (o.import_seen) {
        status = run_import(&cfg, &o, argc, argv, sdir);
        conf_free(&cfg);
        return status;
    }
    if (check_accounts(&cfg, argc, argv, &e) < 0) {
        log_error(NULL, &e);
        conf_free(&cfg);
        return EXIT_USAGE;
    }
    if (o.serverinfo) {
        status = run_serverinfo(&cfg, argc, argv);
        conf_free(&cfg);
        return status;
    }
    stop_install(o.daemon > 0);
    if (o.daemon)
        status = run_daemon(&cfg, &o, o.config ? o.config : path, argc, argv, sdir);
    else
        status = run_accounts(&cfg, &o, argc, argv, sdir);
    conf_free(&cfg);
    return status;
}
