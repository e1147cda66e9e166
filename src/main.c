/*
 * main — what this invocation of popfetch is for: set up the process and the
 * log, read the config (or the command line's account), then hand over to
 * the mode the options chose: convert a fetchmailrc, import another tool's
 * seen-state, print it (--dump-state), report a server (--serverinfo),
 * sign in for an account's OAuth2 token (--authorize), run the accounts
 * once or as a daemon. Exit codes come from exitcode.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "conf.h"
#include "daemon.h"
#include "dumpstate.h"
#include "exitcode.h"
#include "fetchmailrc.h"
#include "import.h"
#include "jsonmem.h"
#include "log.h"
#include "oauth2.h"
#include "paths.h"
#include "run.h"
#include "secret.h"
#include "serverinfo.h"
#include "session.h"
#include "showstatus.h"
#include "stop.h"

/* Show an error (of an account, or NULL) and return its exit code. */
static int failed(const char *account, const struct err *e)
{
    log_error(account, e);
    return exitcode_for_err(e->kind);
}

/* --import-fetchmailrc FILE: the equivalent config on stdout. */
static int import_fetchmailrc(const char *path)
{
    char *out = NULL;
    struct err e;

    if (fetchmailrc_convert_file(path, &out, &e) < 0) return failed(NULL, &e);
    fputs(out, stdout);
    fetchmailrc_free(out);
    return fflush(stdout) == 0 ? EXIT_MAIL : EXIT_INTERNAL;
}

/* A leading ~ in FORMAT:~/FILE, which no shell expands after the colon. */
static int expand_home(struct config *cfg, const char **path, struct err *e)
{
    const char *p = conf_expand_home(cfg, *path, e);

    if (!p) return -1;
    *path = p;
    return 0;
}

/* --import-seen: seed one account's state from another tool's file. */
static int run_import(struct config *cfg, const struct cli_options *o)
{
    struct account *a = cli_one_account(cfg, o);
    struct import_list l = {0};
    enum import_format f;
    const char *path;
    struct err e;
    size_t count = 0;

    if (!a) {
        err_set(&e, ERR_USAGE, "--import-seen needs one account name");
        return failed(NULL, &e);
    }
    if (import_parse_spec(o->import_seen, &f, &path, &e) < 0 || expand_home(cfg, &path, &e) < 0 ||
        import_load(f, path, &l, &e) < 0 || cli_check_state_dirs(cfg, o, &e) < 0 ||
        import_record(&l, a, cli_state_dir(o, a), &count, &e) < 0) {
        import_free(&l);
        return failed(a->name, &e);
    }
    if (count == 0) {
        import_free(&l);
        err_set(&e, ERR_USAGE, "%s holds no UIDLs for %s@%s", path, a->user, a->host);
        return failed(a->name, &e);
    }
    printf("%s: marked %zu UIDL%s from %s as seen", a->name, count, count == 1 ? "" : "s", path);
    if (l.skipped) printf(" (%u unreadable line%s skipped)", l.skipped, l.skipped == 1 ? "" : "s");
    printf("\n");
    import_free(&l);
    return EXIT_MAIL;
}

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
    fflush(stdout);
}

/* --serverinfo: one account, the one named or the only one (the command
 * line's too). */
static int run_serverinfo(struct config *cfg, const struct cli_options *o)
{
    struct account *a = cli_one_account(cfg, o);
    char *secret = NULL;
    struct err e;
    int rc;

    if (!a) {
        err_set(&e, ERR_USAGE, "--serverinfo needs one account name (or --host)");
        return failed(NULL, &e);
    }
    /* Log in only with a secret that needs no questions. */
    if (a->user && (a->password || a->passwordeval) && secret_get(a, &secret, &e) < 0)
        return failed(a->name, &e);
    rc = serverinfo_run(a, secret, print_line, NULL, &e);
    secret_free(secret);
    if (rc < 0) return failed(a->name, &e);
    return EXIT_MAIL;
}

/* --dump-config: each named account (or every one), its effective
 * settings and where each came from. Connects to nothing. */
static int run_dump(struct config *cfg, const struct cli_options *o)
{
    for (size_t n = 0; n < cfg->naccounts; n++) {
        struct account *a = &cfg->accounts[n];
        const char *name;
        char val[1200], from[600];
        int origin;

        if (!cli_wants(o, a)) continue;
        cli_apply(o, a);
        if (a->line > 0)
            printf("account %s  # %s:%d\n", a->name, cfg->path, a->line);
        else
            printf("account %s  # %s\n", a->name, cfg->path);
        for (size_t i = 0; conf_describe(a, i, &name, val, sizeof val, &origin) == 0; i++) {
            if (origin > 0)
                snprintf(from, sizeof from, "%s:%d", cfg->path, origin);
            else
                snprintf(from, sizeof from, "%s", origin ? "command line" : "default");
            printf("  %-22s %-34s # %s\n", name, val, from);
        }
        printf("\n");
    }
    return fflush(stdout) == 0 ? EXIT_MAIL : EXIT_INTERNAL;
}

/* --authorize [--device]: the OAuth2 sign-in of one account. */
static int run_authorize(struct config *cfg, const struct cli_options *o)
{
    struct account *a = cli_one_account(cfg, o);
    char key[1024];
    struct oauth2_ctx c = {.key = key};
    struct oauth2_ui ui = {.say = print_line};
    struct err e;

    if (!a) {
        err_set(&e, ERR_USAGE, "--authorize needs one account name");
        return failed(NULL, &e);
    }
    if (!a->oauth2) {
        err_set(&e, ERR_USAGE,
                "account %s has no `oauth2` setting, so there is nothing to "
                "authorize",
                a->name);
        err_hint(&e, "set `oauth2` (microsoft, google or custom) and `oauth2_client_id`; see "
                     "popfetchrc(5), OAUTH2");
        return failed(a->name, &e);
    }
    cli_apply(o, a);
    c.a = a;
    c.state_dir = cli_state_dir(o, a);
    session_state_key(a, key, sizeof key);
    if (log_get_level() >= LOG_TRACE) {
        c.trace = log_trace;
        c.trace_ctx = (void *)a->name;
    }
    if (oauth2_authorize(&c, o->device, &ui, &e) < 0) return failed(a->name, &e);
    return EXIT_MAIL;
}

/* The config file, or the account the command line describes. */
static int load_config(struct cli_options *o, struct config *cfg, struct err *e)
{
    if (o->ncli) {
        if (cli_account(cfg, o, e) < 0) {
            conf_free(cfg);
            e->kind = ERR_USAGE;
            return -1;
        }
    } else {
        if (conf_load(o->config, cfg, e) < 0) return -1;
    }
    if (cli_delivery(cfg, o, e) < 0) {
        conf_free(cfg);
        return -1;
    }
    return 0;
}

/* The mode the options chose, with the config loaded. */
static int run_mode(struct config *cfg, struct cli_options *o)
{
    struct err e;

    if (o->import_seen) return run_import(cfg, o);
    if (cli_check_names(cfg, o, &e) < 0) return failed(NULL, &e);
    if (o->dump_config) return run_dump(cfg, o);
    if (o->status) return showstatus_run(cfg, o);
    /* from here a stop signal ends what runs (passwordeval, a session) politely */
    stop_install(o->daemon > 0);
    if (o->serverinfo) return run_serverinfo(cfg, o);
    if (cli_check_state_dirs(cfg, o, &e) < 0) return failed(NULL, &e);
    if (o->dump_state) return dumpstate_run(cfg, o);
    if (o->authorize) return run_authorize(cfg, o);
    if (o->daemon) return daemon_run(cfg, o);
    return run_accounts(cfg, o);
}

/* Process-wide settings, before anything else runs. */
static void process_init(void)
{
    /* The kernel frees everything at exit; OpenSSL's own atexit cleanup
     * would only add time to every run. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    jsonmem_install(); /* before any JSON: what jansson frees is wiped */
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) makes a write fail with EFBIG, which
     * every sink handles (the message fails, the mbox is rolled back, the
     * others go on), instead of killing the run without a word. Children
     * get the default back (child.c). */
    signal(SIGXFSZ, SIG_IGN);
    /* A closed stdin, stdout or stderr becomes /dev/null: else the next
     * file or socket opened would take its number, and a warning meant for
     * stderr would land in it. */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
            open("/dev/null", fd ? O_WRONLY : O_RDONLY) < 0)
            _exit(EXIT_INTERNAL);
}

int main(int argc, char **argv)
{
    struct cli_options o;
    struct config cfg;
    struct err e;
    int status;

    process_init();
    if ((status = cli_parse(argc, argv, &o, &e)) != CLI_RUN)
        return status == CLI_DONE ? EXIT_MAIL : failed(NULL, &e);
    log_set_level(o.quiet ? LOG_QUIET : o.verbose >= 2 ? LOG_TRACE : o.verbose);
    if (o.json) log_spare_stdout();
    if (o.syslog) log_use_syslog();
    if (o.logfile && log_use_file(o.logfile, &e) < 0) return failed(NULL, &e);
    if (o.import_fetchmailrc) return import_fetchmailrc(o.import_fetchmailrc);
    if (load_config(&o, &cfg, &e) < 0) return failed(NULL, &e);
    status = run_mode(&cfg, &o);
    conf_free(&cfg);
    return status;
}
