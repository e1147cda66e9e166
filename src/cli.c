/*
 * cli — options, --help, the command line's account. See cli.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "cli.h"
#include "paths.h"
#include "version.h"

/* The --help text, in parts (C promises string literals of 4095 bytes, no
 * more): how to fetch, what it reports and where it delivers, the commands
 * that do something else. */
static const char *const usage_text[] = {
    "Usage: popfetch [options] [account...]\n"
    "Fetch mail from POP3 servers into Maildir, mbox or an MDA; with no account,\n"
    "every account.\n"
    "\n"
    "  -f, --config FILE|DIR|-\n"
    "                         config file, directory of *.conf files, or - for\n"
    "                         stdin (default $XDG_CONFIG_HOME/popfetch/config or\n"
    "                         ~/.popfetchrc, then config.d/*.conf beside the first)\n"
    "  -v, --verbose          a summary line per account; twice: protocol trace\n"
    "  -q, -s, --quiet        errors only\n"
    "  -k, --keep             leave messages on the server\n"
    "  -K, --no-keep          delete messages once they are safely delivered\n"
    "  -a, --all              also fetch messages seen before\n"
    "  -c, --check            count new messages, fetch nothing (exit 0 if any)\n"
    "  -l, --max-size SIZE    leave larger messages on the server (e.g. 10M)\n"
    "  -B, --max-messages N   fetch at most N messages per account and run\n"
    "  -t, --timeout SECONDS  for connecting, each read or write, each status line,\n"
    "                         each 64 KiB of a listing or message\n"
    "  -j, --jobs N           fetch up to N accounts at once (default 1)\n"
    "  -d, --daemon SECONDS   poll every SECONDS in the foreground (SIGUSR1: now,\n"
    "                         SIGHUP: re-read the config, SIGTERM: stop)\n",
    "      --json             one JSON object per account and run on stdout (JSON\n"
    "                         Lines); everything else goes to stderr\n"
    "      --metrics FILE     after the runs, write every account's metrics to FILE\n"
    "                         (Prometheus text format, for node_exporter's textfile\n"
    "                         collector)\n"
    "      --status [account...]\n"
    "                         each account's last run, last success, failures in a\n"
    "                         row and next poll; exit 0 if every last run succeeded\n"
    "      --syslog           log to syslog (facility mail) instead of the terminal\n"
    "      --logfile FILE     log to FILE, with timestamps\n"
    "  -m, --mda COMMAND      deliver by running COMMAND (e.g. \"procmail -d %T\")\n"
    "      --maildir DIR      deliver into the Maildir DIR\n"
    "      --mbox FILE        append to the mbox FILE\n"
    "      --state-dir DIR    where seen-state lives\n"
    "                         (default $XDG_STATE_HOME/popfetch)\n"
    "      --dump-config [account...]\n"
    "                         print each account's settings after defaults and\n"
    "                         inheritance, and where each came from; connects\n"
    "                         to nothing\n"
    "      --dump-state [account...]\n"
    "                         print what popfetch remembers of each account's\n"
    "                         mailbox, one \"STATUS TIME UIDL\" line a message;\n"
    "                         changes nothing\n",
    "      --serverinfo [account]\n"
    "                         show what the server offers: TLS, certificate,\n"
    "                         CAPA, SASL; logs in when a password is configured\n"
    "                         and the certificate is trusted\n"
    "      --authorize [--device] ACCOUNT\n"
    "                         sign in once for an account with `oauth2` set: open\n"
    "                         the printed address in a browser (--device: enter a\n"
    "                         code on another device); popfetch refreshes the token\n"
    "                         by itself afterwards\n"
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
};

static void usage(FILE *f)
{
    for (size_t i = 0; i < sizeof usage_text / sizeof usage_text[0]; i++) fputs(usage_text[i], f);
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
    OPT_DUMP_CONFIG,
    OPT_DUMP_STATE,
    OPT_IMPORT_FETCHMAILRC,
    OPT_AUTHORIZE,
    OPT_DEVICE,
    OPT_JSON,
    OPT_STATUS,
    OPT_METRICS,
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
    {"json", no_argument, NULL, OPT_JSON},
    {"status", no_argument, NULL, OPT_STATUS},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"logfile", required_argument, NULL, OPT_LOGFILE},
    {"serverinfo", no_argument, NULL, OPT_SERVERINFO},
    {"dump-config", no_argument, NULL, OPT_DUMP_CONFIG},
    {"dump-state", no_argument, NULL, OPT_DUMP_STATE},
    {"authorize", no_argument, NULL, OPT_AUTHORIZE},
    {"device", no_argument, NULL, OPT_DEVICE},
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

/* A plain decimal from min to max, else an error naming the option. */
static int number_opt(const char *name, const char *arg, unsigned long min, unsigned long max,
                      unsigned long *out, struct err *e)
{
    char *end;

    errno = 0;
    *out = strtoul(arg, &end, 10);
    if (*end || arg[0] < '0' || arg[0] > '9' || errno || *out < min || *out > max)
        return err_set(e, ERR_USAGE, "--%s needs a number from %lu to %lu", name, min, max);
    return 0;
}

/* --host, --port, ...: remembered, applied as config keys by cli_account. */
static int account_opt(struct cli_options *o, int c, struct err *e)
{
    size_t k = (size_t)(c - OPT_HOST);

    if (o->ncli == CLI_ACCOUNT_OPTS) return err_set(e, ERR_USAGE, "too many account options");
    o->cli[o->ncli].key = cli_keys[k];
    o->cli[o->ncli++].value = optarg;
    return 0;
}

/* Options that take a number or a size. */
static int numeric_opt(struct cli_options *o, int c, struct err *e)
{
    unsigned long n;

    switch (c) {
    case 'l':
        if (conf_parse_size(optarg, &o->max_size) == 0 && o->max_size) return 0;
        return err_set(e, ERR_USAGE, "--max-size needs a size like 10M, 512k or 20000");
    case 'B':
        return number_opt("max-messages", optarg, 1, 999999999, &o->max_messages, e);
    case 't':
        if (number_opt("timeout", optarg, 1, 86400, &n, e) < 0) return -1;
        o->timeout = (long)n;
        return 0;
    case 'd':
        return number_opt("daemon", optarg, 1, 86400 * 7, &o->daemon, e);
    default: /* 'j' */
        return number_opt("jobs", optarg, 1, CONF_MAX_JOBS, &o->jobs, e);
    }
}

/* An option getopt did not accept: unknown, or its value missing. */
static int bad_opt(int c, char **argv, struct err *e)
{
    const char *typed = argv[optind - 1];

    if (c == ':')
        err_set(e, ERR_USAGE, "option %s needs a value", typed);
    else if (optopt)
        err_set(e, ERR_USAGE, "unknown option -%c", optopt);
    else
        err_set(e, ERR_USAGE, "unknown option %s", typed);
    err_hint(e, "try `popfetch --help`");
    return -1;
}

/* Options that only switch something on (`path` 0), and options that
 * only name a file or directory, their argument kept as given (`path` 1):
 * where each goes in struct cli_options. */
struct table_opt {
    int c, path;
    size_t off;
};

#define OFF(field) offsetof(struct cli_options, field)

static const struct table_opt table_opts[] = {
    {'a', 0, OFF(fetch_all)},
    {'c', 0, OFF(check)},
    {'q', 0, OFF(quiet)},
    {'s', 0, OFF(quiet)},
    {OPT_JSON, 0, OFF(json)},
    {OPT_STATUS, 0, OFF(status)},
    {OPT_SYSLOG, 0, OFF(syslog)},
    {OPT_SERVERINFO, 0, OFF(serverinfo)},
    {OPT_DUMP_CONFIG, 0, OFF(dump_config)},
    {OPT_DUMP_STATE, 0, OFF(dump_state)},
    {OPT_AUTHORIZE, 0, OFF(authorize)},
    {OPT_DEVICE, 0, OFF(device)},
    {'f', 1, OFF(config)},
    {'S', 1, OFF(state_dir)},
    {'I', 1, OFF(import_seen)},
    {OPT_METRICS, 1, OFF(metrics)},
    {OPT_LOGFILE, 1, OFF(logfile)},
    {OPT_IMPORT_FETCHMAILRC, 1, OFF(import_fetchmailrc)},
};
#undef OFF

static int table_opt(struct cli_options *o, int c)
{
    for (size_t i = 0; i < sizeof table_opts / sizeof table_opts[0]; i++) {
        const struct table_opt *t = &table_opts[i];
        void *field = (char *)o + t->off;
        if (t->c != c) continue;
        if (t->path)
            *(const char **)field = optarg;
        else
            *(int *)field = 1;
        return 0;
    }
    return 1;
}

/* An option that needs no checking: 0 taken, 1 not one of these. */
static int flag_opt(struct cli_options *o, int c)
{
    switch (c) {
    case 'v':
        o->verbose++;
        return 0;
    case 'k':
    case 'K':
        o->keep = c == 'k';
        return 0;
    case 'm':
    case 'M':
    case 'X':
        o->delivery_kind = c == 'm' ? "mda" : c == 'M' ? "maildir" : "mbox";
        o->delivery_arg = optarg;
        return 0;
    default:
        return table_opt(o, c);
    }
}

/* One option: 0 go on, CLI_DONE after --help/--version, -1 a usage error. */
static int one_opt(struct cli_options *o, int c, char **argv, struct err *e)
{
    if (flag_opt(o, c) == 0) return 0;
    switch (c) {
    case 'l':
    case 'B':
    case 't':
    case 'd':
    case 'j':
        return numeric_opt(o, c, e);
    case OPT_PASSWORD:
        err_set(e, ERR_USAGE, "--password is not offered: every user could read it with ps");
        err_hint(e, "use --passwordeval CMD");
        return -1;
    case 'V':
        version();
        return CLI_DONE;
    case 'h':
        usage(stdout);
        return CLI_DONE;
    default:
        if (c >= OPT_HOST && c < OPT_HOST + (int)(sizeof cli_keys / sizeof cli_keys[0]))
            return account_opt(o, c, e);
        return bad_opt(c, argv, e);
    }
}

int cli_parse(int argc, char **argv, struct cli_options *o, struct err *e)
{
    int c, rc;

    memset(o, 0, sizeof *o);
    o->keep = -1;
    opterr = 0; /* our messages, through log.c */
    while ((c = getopt_long(argc, argv, ":f:vqskKacl:B:t:j:d:m:Vh", longopts, NULL)) != -1)
        if ((rc = one_opt(o, c, argv, e)) != 0) return rc;
    o->names = argv + optind;
    o->nnames = (size_t)(argc - optind);
    if (o->device && !o->authorize)
        return err_set(e, ERR_USAGE, "--device goes with --authorize (the device flow)");
    if (o->status &&
        (o->serverinfo || o->import_fetchmailrc || o->import_seen || o->check || o->daemon))
        return err_set(e, ERR_USAGE, "--status only reads the status files: use it alone");
    if (o->metrics && (o->serverinfo || o->import_fetchmailrc || o->import_seen))
        return err_set(e, ERR_USAGE, "--metrics goes with fetching");
    if (o->json && (o->serverinfo || o->import_fetchmailrc || o->import_seen))
        return err_set(e, ERR_USAGE, "--json goes with fetching, --check or --status, not with %s",
                       o->serverinfo           ? "--serverinfo"
                       : o->import_fetchmailrc ? "--import-fetchmailrc"
                                               : "--import-seen");
    /* none without a home: cli_check_state_dirs says so if it is needed */
    if (paths_default_state(o->default_state, sizeof o->default_state, &o->default_state_err) < 0)
        o->default_state[0] = '\0';
    return CLI_RUN;
}

const char *cli_state_dir(const struct cli_options *o, const struct account *a)
{
    if (o->state_dir) return o->state_dir;
    return a->state_dir ? a->state_dir : o->default_state;
}

const char *cli_status_dir(const struct cli_options *o, const struct account *a)
{
    return a->status_dir ? a->status_dir : cli_state_dir(o, a);
}

int cli_wants(const struct cli_options *o, const struct account *a)
{
    if (o->nnames == 0) return 1;
    for (size_t i = 0; i < o->nnames; i++)
        if (!strcmp(o->names[i], a->name)) return 1;
    return 0;
}

/* A setting the command line overrode: so --dump-config says. */
static void from_cli(struct account *a, const char *key)
{
    int i = conf_key_index(key);

    if (i >= 0) a->origin[i] = CONF_FROM_CLI;
}

void cli_apply(const struct cli_options *o, struct account *a)
{
    if (o->delivery_kind) {
        a->delivery = o->cli_delivery;
        from_cli(a, "delivery");
    }
    if (o->timeout) {
        a->timeout = (unsigned long)o->timeout;
        from_cli(a, "timeout");
    }
    if (o->keep >= 0) {
        a->keep.mode = o->keep ? KEEP_ON : KEEP_OFF;
        a->keep.seconds = 0;
        from_cli(a, "keep");
    }
    if (o->fetch_all) {
        a->fetch_all = 1;
        from_cli(a, "fetch");
    }
    if (o->max_size) {
        a->max_size = o->max_size;
        from_cli(a, "max_size");
    }
    if (o->max_messages) {
        a->max_messages = o->max_messages;
        from_cli(a, "max_messages");
    }
}

int cli_account(struct config *cfg, const struct cli_options *o, struct err *e)
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
    /* --serverinfo needs only what a connection needs: host (port, tls) */
    if (!o->delivery_kind && !o->serverinfo)
        return err_set(e, ERR_USAGE,
                       "an account on the command line needs --maildir, --mbox or --mda");
    a.name = conf_strdup(cfg, host);
    a.delivery.kind = DELIVERY_MAILDIR; /* replaced by cli_delivery */
    if (!a.name || !(cfg->path = conf_strdup(cfg, "the command line")))
        return err_set(e, ERR_INTERNAL, "out of memory");
    if (o->serverinfo)
        return conf_add_account(cfg, &a) ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
    if (!a.user) return err_set(e, ERR_USAGE, "an account on the command line needs --user");
    if (conf_check_account(&a, e) < 0) return -1;
    return conf_add_account(cfg, &a) ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
}

int cli_delivery(struct config *cfg, struct cli_options *o, struct err *e)
{
    struct account tmp;
    char src[32];

    if (!o->delivery_kind) return 0;
    snprintf(src, sizeof src, "--%s", o->delivery_kind);
    conf_account_defaults(&tmp);
    if (conf_set_delivery(cfg, &tmp, o->delivery_kind, o->delivery_arg, src, e) < 0) return -1;
    o->cli_delivery = tmp.delivery;
    return 0;
}

/* "its accounts: a, b, c" (as many as fit). */
static void account_list_hint(const struct config *cfg, struct err *e)
{
    char list[ERR_MSG_MAX / 2];
    size_t n = 0;

    for (size_t i = 0; i < cfg->naccounts && n < sizeof list; i++) {
        int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", cfg->accounts[i].name);
        if (w < 0 || (size_t)w >= sizeof list - n) {
            snprintf(list + n, sizeof list - n, ", ...");
            break;
        }
        n += (size_t)w;
    }
    err_hint(e, "the accounts there: %s", list);
}

int cli_check_names(const struct config *cfg, const struct cli_options *o, struct err *e)
{
    for (size_t i = 0; i < o->nnames; i++)
        if (!conf_find((struct config *)cfg, o->names[i])) {
            err_set(e, ERR_USAGE, "no account named `%s` in %s", o->names[i], cfg->path);
            if (cfg->naccounts) account_list_hint(cfg, e);
            return -1;
        }
    if (cfg->naccounts == 0) return err_set(e, ERR_USAGE, "%s defines no accounts", cfg->path);
    return 0;
}

int cli_check_state_dirs(const struct config *cfg, const struct cli_options *o, struct err *e)
{
    if (o->state_dir || o->default_state[0]) return 0;
    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct account *a = &cfg->accounts[i];
        if (!cli_wants(o, a) || a->state_dir) continue;
        *e = o->default_state_err;
        err_prefix(e, "account %s", a->name);
        return -1;
    }
    return 0;
}

struct account *cli_one_account(struct config *cfg, const struct cli_options *o)
{
    if (o->nnames == 1) return conf_find(cfg, o->names[0]);
    if (o->nnames == 0 && cfg->naccounts == 1) return &cfg->accounts[0];
    return NULL;
}
