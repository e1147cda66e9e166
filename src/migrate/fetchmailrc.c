/*
 * fetchmailrc — ~/.fetchmailrc into popfetch config text. See fetchmailrc.h.
 *
 * Three stages. The lexer follows fetchmail's rcfile_l.l: the longest match
 * wins (so `"abc"def` is one bare word), a keyword is a whole word, and the
 * word after `user`, `pass[word]`, `is`, `to` or `=` is always a string
 * (flex state NAME), as is `password` after `auth` an auth type (state
 * AUTH). The parser follows rcfile_y.y and records what each entry and user
 * says, plus notes (comments) for what popfetch cannot carry. The writer
 * merges each user with the `defaults` entry before it and writes one
 * account per user.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "textfile.h"
#include "fetchmailrc.h"
#include "fmrc.h"
#include "mda.h"
#include "tls.h"

#define FM_VALUE_MAX 1000 /* bytes of one carried value (host, user, password, path) */
#define FM_MDA_MAX   1400 /* bytes of an mda command; quoted it stays under conf's line limit */
#define FM_NAME_MAX  64   /* bytes of a generated account name */
#define FM_LINE_MAX  8000 /* bytes of one written value; conf reads lines of 8192 */
#define FM_WRAP      76   /* comment lines are wrapped at this column */

static int is_kw(const struct fm_tok *t, int kw)
{
    return t->kind == T_KW && t->kw == kw;
}

/* ---- notes --------------------------------------------------------------- */

/* Record that the option `what` (line) is not carried, and why. */
static void note(struct fm *ps, struct fm_notes *ns, int line, const char *what, const char *why)
{
    const char *copy = ns->n < FM_NOTES_MAX ? fmrc_strndup(ps, what, strlen(what)) : NULL;

    if (!copy) {
        ns->dropped++;
        return;
    }
    ns->v[ns->n++] = (struct fm_note){line, copy, why};
}

/* ---- what cannot be carried, and why ------------------------------------ */

#define FM_WHY_MULTIDROP                                                                           \
    "multidrop address matching: popfetch delivers all of an account's mail to one place; sort "   \
    "it in your MDA (procmail or maildrop rules on Delivered-To or X-Original-To), or ask for "    \
    "one mailbox per user"
#define WHY_FORWARD                                                                                \
    "popfetch does not forward mail over SMTP or LMTP: it delivers into a Maildir, an mbox or "    \
    "an MDA (see the `delivery` line below)"
#define WHY_UNCHANGED                                                                              \
    "popfetch delivers each message as the server sent it, adding only a Received: field "         \
    "(received_header off drops that)"
#define WHY_UNCHANGED_NO "popfetch does not change messages either: same effect"
#define WHY_IMAP         "IMAP only; popfetch speaks POP3"
#define WHY_BOUNCE                                                                                 \
    "popfetch never bounces mail: a message it cannot deliver stays on the server and the run "    \
    "exits with status 10"
#define WHY_NOTHING "ignored by fetchmail too"

enum arg {
    ARG_NONE,
    ARG_STR,     /* one value */
    ARG_STRS,    /* one or more values */
    ARG_NUM,     /* a number */
    ARG_NUMS,    /* one or more numbers */
    ARG_SERVICE, /* a name or a number */
    ARG_ENVELOPE,
    ARG_PROTO,
    ARG_AUTHTYPE,
    ARG_BADHEADER,
    ARG_SETSTR, /* `set` options: optional `=`, then a value */
    ARG_SETNUM,
};

enum optclass { OC_SERVER, OC_USER, OC_SET };

struct optdef {
    short kw;
    unsigned char cls, arg;
    unsigned char can_no; /* `no KEYWORD` is valid */
    unsigned char secret; /* do not quote the value in comments */
    const char *why;      /* NULL: carried (see apply_server, apply_user) */
    const char *why_no;   /* for `no KEYWORD`; NULL: same as why */
    const char *forward;  /* a way fetchmail forwarded mail */
};

static const struct optdef opts[] = {
    /* server options */
    {K_VIA, OC_SERVER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_PROTOCOL, OC_SERVER, ARG_PROTO, 0, 0, NULL, NULL, NULL},
    {K_SERVICE, OC_SERVER, ARG_SERVICE, 0, 0, NULL, NULL, NULL},
    {K_PORT, OC_SERVER, ARG_NUM, 0, 0, NULL, NULL, NULL},
    {K_AUTH, OC_SERVER, ARG_AUTHTYPE, 0, 0, NULL, NULL, NULL},
    {K_TIMEOUT, OC_SERVER, ARG_NUM, 0, 0, NULL, NULL, NULL},
    {K_AKA, OC_SERVER, ARG_STRS, 0, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_LOCALDOMAINS, OC_SERVER, ARG_STRS, 0, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_ENVELOPE, OC_SERVER, ARG_ENVELOPE, 1, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_QVIRTUAL, OC_SERVER, ARG_STR, 0, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_DNS, OC_SERVER, ARG_NONE, 1, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_CHECKALIAS, OC_SERVER, ARG_NONE, 1, 0, FM_WHY_MULTIDROP, NULL, NULL},
    {K_PRINCIPAL, OC_SERVER, ARG_STR, 0, 0,
     "popfetch has no Kerberos; it logs in with a password, SASL or a TLS client certificate", NULL,
     NULL},
    {K_ESMTPNAME, OC_SERVER, ARG_STR, 0, 0, "SMTP AUTH for forwarding; " WHY_FORWARD, NULL, NULL},
    {K_ESMTPPASSWORD, OC_SERVER, ARG_STR, 0, 1, "SMTP AUTH for forwarding; " WHY_FORWARD, NULL,
     NULL},
    {K_UIDL, OC_SERVER, ARG_NONE, 1, 0, "popfetch always tracks messages by UIDL",
     "popfetch always uses UIDL; with a server that has none, only keep off works", NULL},
    {K_INTERVAL, OC_SERVER, ARG_NUM, 0, 0,
     "popfetch polls every account on each cycle; poll this one on its own schedule (e.g. a "
     "cron job running `popfetch ACCOUNT`)",
     NULL, NULL},
    {K_INTERFACE, OC_SERVER, ARG_STR, 0, 0,
     "popfetch does not watch network interfaces; start it from the network's up hook instead",
     NULL, NULL},
    {K_MONITOR, OC_SERVER, ARG_STR, 0, 0,
     "popfetch does not watch network interfaces; start it from the network's up hook instead",
     NULL, NULL},
    {K_PLUGIN, OC_SERVER, ARG_STR, 0, 0,
     "popfetch opens its own connections; for a tunnel, forward a local port (ssh -L "
     "1995:SERVER:995 ...) and point host and port at it",
     NULL, NULL},
    {K_PLUGOUT, OC_SERVER, ARG_STR, 0, 0, WHY_FORWARD, NULL, NULL},
    {K_TRACEPOLLS, OC_SERVER, ARG_NONE, 1, 0,
     "popfetch's Received: field already names the account, the user and the server", NULL, NULL},
    {K_BADHEADER, OC_SERVER, ARG_BADHEADER, 0, 0,
     "popfetch delivers every message as the server sent it", NULL, NULL},
    {K_IDLETIMEOUT, OC_SERVER, ARG_NUM, 0, 0, WHY_IMAP, NULL, NULL},
    /* user options */
    {K_PASSWORD, OC_USER, ARG_STR, 0, 1, NULL, NULL, NULL},
    {K_MDA, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_KEEP, OC_USER, ARG_NONE, 1, 0, NULL, NULL, NULL},
    {K_FETCHALL, OC_USER, ARG_NONE, 1, 0, NULL, NULL, NULL},
    {K_SSL, OC_USER, ARG_NONE, 1, 0, NULL, NULL, NULL},
    {K_SSLCERTCK, OC_USER, ARG_NONE, 1, 0, NULL, NULL, NULL},
    {K_SSLPROTO, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_SSLCERTFILE, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_SSLCERT, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_SSLKEY, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_SSLFINGERPRINT, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_LIMIT, OC_USER, ARG_NUM, 0, 0, NULL, NULL, NULL},
    {K_FETCHLIMIT, OC_USER, ARG_NUM, 0, 0, NULL, NULL, NULL},
    {K_FOLDER, OC_USER, ARG_STRS, 0, 0, "POP3 has only the inbox, which popfetch fetches", NULL,
     NULL},
    {K_SMTPHOST, OC_USER, ARG_STRS, 0, 0, WHY_FORWARD, NULL, "smtphost"},
    {K_SMTPADDRESS, OC_USER, ARG_STR, 0, 0, WHY_FORWARD, NULL, "SMTP"},
    {K_SMTPNAME, OC_USER, ARG_STR, 0, 0, WHY_FORWARD, NULL, "SMTP"},
    {K_ANTISPAM, OC_USER, ARG_NUMS, 0, 0, WHY_FORWARD, NULL, NULL},
    {K_BATCHLIMIT, OC_USER, ARG_NUM, 0, 0, WHY_FORWARD, NULL, NULL},
    {K_LMTP, OC_USER, ARG_NONE, 0, 0, WHY_FORWARD, NULL, "LMTP"},
    {K_BSMTP, OC_USER, ARG_STR, 0, 0,
     "popfetch writes no BSMTP batch files; use delivery mbox FILE or an MDA", NULL,
     "a BSMTP batch file"},
    {K_FETCHDOMAINS, OC_USER, ARG_STRS, 0, 0, "ETRN and ODMR only; popfetch speaks POP3", NULL,
     NULL},
    {K_PRECONNECT, OC_USER, ARG_STR, 0, 0,
     "popfetch runs no commands around a poll; run it from a script instead: `COMMAND && "
     "popfetch ACCOUNT`",
     NULL, NULL},
    {K_POSTCONNECT, OC_USER, ARG_STR, 0, 0,
     "popfetch runs no commands around a poll; run it from a script instead: `popfetch "
     "ACCOUNT; COMMAND`",
     NULL, NULL},
    {K_FLUSH, OC_USER, ARG_NONE, 1, 0,
     "popfetch never deletes a message it has not delivered; to clean up mail kept on the "
     "server use keep with a duration (e.g. keep 14d)",
     "popfetch never deletes unseen mail either: same effect", NULL},
    {K_LIMITFLUSH, OC_USER, ARG_NONE, 1, 0,
     "popfetch leaves messages over max_size on the server and reports each once",
     "popfetch leaves messages over max_size on the server: same effect", NULL},
    {K_REWRITE, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_FORCECR, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_STRIPCR, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_PASS8BITS, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_DROPSTATUS, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_DROPDELIVERED, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_MIMEDECODE, OC_USER, ARG_NONE, 1, 0, WHY_UNCHANGED, WHY_UNCHANGED_NO, NULL},
    {K_IDLE, OC_USER, ARG_NONE, 1, 0, WHY_IMAP, NULL, NULL},
    {K_FORCEIDLE, OC_USER, ARG_NONE, 1, 0, WHY_IMAP, NULL, NULL},
    {K_SSLCERTPATH, OC_USER, ARG_STR, 0, 0,
     "popfetch reads trusted certificates from one PEM file: concatenate them (cat DIR/*.pem > "
     "FILE) and use tls_trust_file FILE",
     NULL, NULL},
    {K_SSLCOMMONNAME, OC_USER, ARG_STR, 0, 0,
     "popfetch checks the certificate against `host`; pin this server's certificate with "
     "tls_fingerprint instead",
     NULL, NULL},
    {K_WARNINGS, OC_USER, ARG_NUM, 0, 0,
     "popfetch reports each oversized message once, not again on later polls", NULL, NULL},
    {K_FETCHSIZELIMIT, OC_USER, ARG_NUM, 0, 0,
     "popfetch reads all sizes and UIDLs in one pipelined exchange: nothing to tune", NULL, NULL},
    {K_FASTUIDL, OC_USER, ARG_NUM, 0, 0,
     "popfetch reads all sizes and UIDLs in one pipelined exchange: nothing to tune", NULL, NULL},
    {K_EXPUNGE, OC_USER, ARG_NUM, 0, 0,
     "POP3 deletes at QUIT; popfetch deletes only delivered messages, in one session", NULL, NULL},
    {K_PROPERTIES, OC_USER, ARG_STR, 0, 0, WHY_NOTHING, NULL, NULL},
    /* `set` statements */
    {K_DAEMON, OC_SET, ARG_SETNUM, 0, 0,
     "run popfetch --daemon SECONDS instead (or from cron or a systemd timer)", NULL, NULL},
    {K_LOGFILE, OC_SET, ARG_SETSTR, 0, 0, "run popfetch --logfile FILE instead", NULL, NULL},
    {K_SYSLOG, OC_SET, ARG_NONE, 1, 0, "run popfetch --syslog instead",
     "popfetch logs to the terminal unless run with --syslog: same effect", NULL},
    {K_IDFILE, OC_SET, ARG_SETSTR, 0, 0,
     "popfetch keeps its own seen-state; import this file once with popfetch --import-seen "
     "fetchmail:FILE",
     NULL, NULL},
    {K_PIDFILE, OC_SET, ARG_SETSTR, 0, 0,
     "popfetch locks each account while it runs; there is no pid file", NULL, NULL},
    {K_POSTMASTER, OC_SET, ARG_SETSTR, 0, 0, WHY_BOUNCE, NULL, NULL},
    {K_BOUNCEMAIL, OC_SET, ARG_NONE, 1, 0, WHY_BOUNCE, NULL, NULL},
    {K_SPAMBOUNCE, OC_SET, ARG_NONE, 1, 0, WHY_BOUNCE, NULL, NULL},
    {K_SOFTBOUNCE, OC_SET, ARG_NONE, 1, 0, WHY_BOUNCE, NULL, NULL},
    {K_INVISIBLE, OC_SET, ARG_NONE, 1, 0,
     "to leave out popfetch's Received: field, add received_header off to each account", NULL,
     NULL},
    {K_SHOWDOTS, OC_SET, ARG_NONE, 1, 0, "popfetch shows no progress; -v prints a summary", NULL,
     NULL},
    {K_PROPERTIES, OC_SET, ARG_SETSTR, 0, 0, WHY_NOTHING, NULL, NULL},
};

/* The server or user option kw, or with set != 0 the `set` option kw. */
static const struct optdef *find_opt(int kw, int set)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].kw == kw && (opts[i].cls == OC_SET) == (set != 0)) return &opts[i];
    return NULL;
}

/* ---- option arguments ---------------------------------------------------- */

struct args {
    struct fm_tok v;             /* the (first) value */
    char shown[FM_SHOW_MAX + 8]; /* the option as written, for comments */
};

static void shown_add(struct args *a, const char *s, int secret)
{
    size_t o = strlen(a->shown);
    char q[FM_SHOW_MAX];

    if (o + 2 >= sizeof a->shown) return;
    if (secret)
        snprintf(q, sizeof q, "...");
    else
        fmrc_show(q, sizeof q, s);
    snprintf(a->shown + o, sizeof a->shown - o, " %s", q);
}

static int read_list(struct fm *ps, const struct fm_tok *opt, struct args *a, int numbers)
{
    const struct fm_tok *p;
    struct fm_tok t;

    if ((numbers ? fmrc_expect_number(ps, opt, &a->v) : fmrc_expect_value(ps, opt, &a->v)) < 0)
        return -1;
    shown_add(a, a->v.text, 0);
    for (;;) {
        if (fmrc_peek(ps, &p) < 0) return -1;
        if (numbers ? p->kind != T_NUMBER : !fmrc_is_value(p)) return 0;
        if (fmrc_next(ps, &t) < 0) return -1;
        shown_add(a, t.text, 0);
    }
}

static int read_typed(struct fm *ps, struct args *a, int kw, const char *wanted)
{
    if (fmrc_next(ps, &a->v) < 0) return -1;
    if (!is_kw(&a->v, kw)) return fmrc_unexpected(ps, &a->v, wanted);
    shown_add(a, a->v.text, 0);
    return 0;
}

static int read_envelope(struct fm *ps, const struct fm_tok *opt, struct args *a)
{
    const struct fm_tok *p;

    if (fmrc_peek(ps, &p) < 0) return -1;
    if (p->kind == T_NUMBER) {
        if (fmrc_next(ps, &a->v) < 0) return -1;
        shown_add(a, a->v.text, 0);
    }
    if (fmrc_expect_value(ps, opt, &a->v) < 0) return -1;
    shown_add(a, a->v.text, 0);
    return 0;
}

static int read_set_value(struct fm *ps, const struct fm_tok *opt, struct args *a, int number)
{
    const struct fm_tok *p;
    struct fm_tok eq;

    if (fmrc_peek(ps, &p) < 0) return -1;
    if (p->kind == T_MAP && fmrc_next(ps, &eq) < 0) return -1;
    if ((number ? fmrc_expect_number(ps, opt, &a->v) : fmrc_expect_value(ps, opt, &a->v)) < 0)
        return -1;
    shown_add(a, a->v.text, 0);
    return 0;
}

/* Read the arguments of option `opt` (described by d) into a. */
static int read_args(struct fm *ps, const struct optdef *d, const struct fm_tok *opt, int no,
                     struct args *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->shown, sizeof a->shown, "%s%s", no ? "no " : "", opt->text);
    if (no) return 0;
    switch (d->arg) {
    case ARG_NONE:
        return 0;
    case ARG_STR:
    case ARG_SERVICE:
        if (fmrc_expect_value(ps, opt, &a->v) < 0) return -1;
        shown_add(a, a->v.text, d->secret);
        return 0;
    case ARG_NUM:
        if (fmrc_expect_number(ps, opt, &a->v) < 0) return -1;
        shown_add(a, a->v.text, 0);
        return 0;
    case ARG_STRS:
        return read_list(ps, opt, a, 0);
    case ARG_NUMS:
        return read_list(ps, opt, a, 1);
    case ARG_ENVELOPE:
        return read_envelope(ps, opt, a);
    case ARG_PROTO:
        return read_typed(ps, a, K_PROTO,
                          "a protocol (pop3, apop, imap, auto, kpop, sdps, etrn, odmr...)");
    case ARG_AUTHTYPE:
        return read_typed(ps, a, K_AUTHTYPE,
                          "an authentication type (any, password, cram-md5, gssapi, ...)");
    case ARG_BADHEADER:
        if (fmrc_next(ps, &a->v) < 0) return -1;
        if (!is_kw(&a->v, K_ACCEPT) && !is_kw(&a->v, K_REJECT))
            return fmrc_unexpected(ps, &a->v, "accept or reject after `bad-header`");
        shown_add(a, a->v.text, 0);
        return 0;
    case ARG_SETSTR:
        return read_set_value(ps, opt, a, 0);
    case ARG_SETNUM:
        return read_set_value(ps, opt, a, 1);
    }
    return 0;
}

/* ---- the parser ------------------------------------------------------------ */

static struct fm_entry *cur_entry(struct fm *ps)
{
    return &ps->entries[ps->nentries - 1];
}

static int add_user(struct fm *ps, int line)
{
    struct fm_user *u;

    if (ps->nusers == FETCHMAILRC_MAX_ACCOUNTS)
        return err_set(ps->e, ERR_USAGE, "%s:%d: more than %d users: convert the file in parts",
                       ps->name, line, FETCHMAILRC_MAX_ACCOUNTS);
    if (ps->nusers == ps->users_cap) {
        size_t cap = ps->users_cap ? ps->users_cap * 2 : 16;
        struct fm_user *v = realloc(ps->users, cap * sizeof *v);
        if (!v) return fmrc_oom(ps);
        ps->users = v;
        ps->users_cap = cap;
    }
    u = &ps->users[ps->nusers];
    memset(u, 0, sizeof *u);
    u->line = line;
    u->ssl = u->sslcertck = u->keep = u->fetchall = -1;
    if (!(u->notes = (struct fm_notes *)(void *)fmrc_arena_alloc(&ps->arena, sizeof *u->notes, 1)))
        return fmrc_oom(ps);
    memset(u->notes, 0, sizeof *u->notes);
    ps->nusers++;
    cur_entry(ps)->nusers++;
    return 0;
}

static struct fm_user *cur_user(struct fm *ps)
{
    return &ps->users[ps->nusers - 1];
}

static int add_entry(struct fm *ps, enum fm_entry_kind kind, int line)
{
    struct fm_entry *en;

    if (ps->nentries == ps->entries_cap) {
        size_t cap = ps->entries_cap ? ps->entries_cap * 2 : 16;
        struct fm_entry *v = realloc(ps->entries, cap * sizeof *v);
        if (!v) return fmrc_oom(ps);
        ps->entries = v;
        ps->entries_cap = cap;
    }
    en = &ps->entries[ps->nentries++];
    memset(en, 0, sizeof *en);
    en->line = line;
    en->kind = kind;
    en->first_user = ps->nusers;
    en->defaults = ps->defaults;
    if (!(en->notes =
              (struct fm_notes *)(void *)fmrc_arena_alloc(&ps->arena, sizeof *en->notes, 1)))
        return fmrc_oom(ps);
    memset(en->notes, 0, sizeof *en->notes);
    return 0;
}

static void apply_server(struct fm_entry *en, const struct fm_tok *opt, const struct args *a)
{
    switch (opt->kw) {
    case K_VIA:
        en->via = a->v.text;
        break;
    case K_PROTOCOL:
        en->proto = a->v.val;
        en->proto_text = a->v.text;
        break;
    case K_SERVICE:
    case K_PORT:
        en->service = a->v.text;
        break;
    case K_AUTH:
        en->auth = a->v.val;
        en->auth_text = a->v.text;
        break;
    case K_TIMEOUT:
        en->timeout = (struct fm_num){1, a->v.num};
        break;
    }
}

static void apply_user(struct fm_user *u, const struct fm_tok *opt, int no, const struct args *a)
{
    const char *s = a->v.text;

    switch (opt->kw) {
    case K_PASSWORD:
        u->password = s;
        break;
    case K_MDA:
        u->mda = s;
        break;
    case K_KEEP:
        u->keep = !no;
        break;
    case K_FETCHALL:
        u->fetchall = !no;
        break;
    case K_SSL:
        u->ssl = !no;
        break;
    case K_SSLCERTCK:
        u->sslcertck = !no;
        break;
    case K_SSLPROTO:
        u->sslproto = s;
        break;
    case K_SSLCERTFILE:
        u->sslcertfile = s;
        break;
    case K_SSLCERT:
        u->sslcert = s;
        break;
    case K_SSLKEY:
        u->sslkey = s;
        break;
    case K_SSLFINGERPRINT:
        u->sslfingerprint = s;
        break;
    case K_LIMIT:
        u->limit = (struct fm_num){1, a->v.num};
        break;
    case K_FETCHLIMIT:
        u->fetchlimit = (struct fm_num){1, a->v.num};
        break;
    }
}

/* A server or user option (or a `set` option): read it, then carry it or
 * note why not. */
static int option(struct fm *ps, const struct optdef *d, const struct fm_tok *opt, int no,
                  struct fm_notes *ns)
{
    struct args a;

    if (no && !d->can_no)
        return fmrc_perr(ps, opt->line, "`no %s` is not a fetchmail option", opt->text);
    if (read_args(ps, d, opt, no, &a) < 0) return -1;
    if (d->why) {
        note(ps, ns, opt->line, a.shown, no && d->why_no ? d->why_no : d->why);
        if (d->forward && !no && ps->nusers) cur_user(ps)->forward = d->forward;
        return 0;
    }
    if (d->cls == OC_SERVER)
        apply_server(cur_entry(ps), opt, &a);
    else
        apply_user(cur_user(ps), opt, no, &a);
    return 0;
}

/* One local name: `id` alone, or `id = local`; `*` passes unknown names
 * through (multidrop). */
static void add_local(struct fm_user *u, const char *id, const char *local)
{
    if (!local && !strcmp(id, "*")) {
        u->wildcard = 1;
        return;
    }
    if (u->nlocal++ == 0) {
        u->first_id = id;
        u->local = local ? local : id;
    }
    if (local) u->mapped = 1;
}

/* NAME [= NAME] ... [here], the first NAME already read; *here says
 * whether it ended with `here`. */
static int mapping_list(struct fm *ps, struct fm_user *u, const struct fm_tok *first, int *here)
{
    const struct fm_tok *p;
    struct fm_tok t = *first, eq, rhs;

    for (;;) {
        if (fmrc_peek(ps, &p) < 0) return -1;
        if (p->kind == T_MAP) {
            if (fmrc_next(ps, &eq) < 0 || fmrc_expect_value(ps, &eq, &rhs) < 0) return -1;
            add_local(u, t.text, rhs.text);
        } else {
            add_local(u, t.text, NULL);
        }
        if (fmrc_peek(ps, &p) < 0) return -1;
        if (!fmrc_is_value(p)) break;
        if (fmrc_next(ps, &t) < 0) return -1;
    }
    *here = is_kw(p, K_HERE);
    return *here ? fmrc_next(ps, &t) : 0;
}

/* `is`/`to`: NAME there (the remote name), or a list of local names. */
static int parse_is(struct fm *ps, const struct fm_tok *opt)
{
    struct fm_user *u = cur_user(ps);
    const struct fm_tok *p;
    struct fm_tok first, t;
    int here;

    if (fmrc_expect_value(ps, opt, &first) < 0 || fmrc_peek(ps, &p) < 0) return -1;
    if (is_kw(p, K_THERE)) {
        u->remote = first.text;
        return fmrc_next(ps, &t);
    }
    return mapping_list(ps, u, &first, &here);
}

/* `user NAME [there]`, `user NAME here` or `user NAME NAME... here`. */
static int parse_userdef(struct fm *ps, const struct fm_tok *opt)
{
    struct fm_user *u;
    const struct fm_tok *p;
    struct fm_tok first, second, t;
    int here;

    if (add_user(ps, opt->line) < 0) return -1;
    u = cur_user(ps);
    if (fmrc_expect_value(ps, opt, &first) < 0 || fmrc_peek(ps, &p) < 0) return -1;
    if (is_kw(p, K_THERE)) {
        u->remote = first.text;
        return fmrc_next(ps, &t);
    }
    if (!is_kw(p, K_HERE) && p->kind != T_MAP && !fmrc_is_value(p)) {
        u->remote = first.text;
        return 0;
    }
    second = *p;
    if (mapping_list(ps, u, &first, &here) < 0) return -1;
    if (!here)
        return fmrc_unexpected(ps, &second,
                               "a user option (several names after `user` must end with `here`)");
    return 0;
}

enum phase { PH_SERVER, PH_IMPLICIT, PH_USERS };

static int entry_ends(const struct fm_tok *t)
{
    return t->kind == T_EOF || is_kw(t, K_POLL) || is_kw(t, K_SKIP) || is_kw(t, K_DEFAULTS) ||
           is_kw(t, K_SET);
}

/* The first user option of an entry without `user` starts its one user. */
static int user_phase(struct fm *ps, enum phase *ph, int line)
{
    if (*ph != PH_SERVER) return 0;
    *ph = PH_IMPLICIT;
    return add_user(ps, line);
}

/* One word inside an entry: a server option, a user description or a user
 * option, in fetchmail's order. */
static int entry_item(struct fm *ps, enum phase *ph)
{
    const struct optdef *d;
    struct fm_tok t;
    int no = 0;

    if (fmrc_next(ps, &t) < 0) return -1;
    if (is_kw(&t, K_HERE) || is_kw(&t, K_THERE)) return 0; /* noise outside a name list */
    if (is_kw(&t, K_NO)) {
        no = 1;
        if (fmrc_next(ps, &t) < 0) return -1;
    }
    if (!no && is_kw(&t, K_USER)) {
        if (*ph == PH_IMPLICIT)
            return fmrc_perr(ps, t.line,
                             "`user` after user options: user options follow their `user`");
        *ph = PH_USERS;
        return parse_userdef(ps, &t);
    }
    if (!no && (is_kw(&t, K_IS) || is_kw(&t, K_TO))) {
        if (user_phase(ps, ph, t.line) < 0) return -1;
        return parse_is(ps, &t);
    }
    if (t.kind != T_KW || !(d = find_opt(t.kw, 0)))
        return fmrc_unexpected(ps, &t, no ? "an option after `no`" : "a server or user option");
    if (d->cls == OC_SERVER) {
        if (*ph != PH_SERVER)
            return fmrc_perr(
                ps, t.line, "server option `%s` after user options: put it before the first `user`",
                t.text);
        return option(ps, d, &t, no, cur_entry(ps)->notes);
    }
    if (user_phase(ps, ph, t.line) < 0) return -1;
    return option(ps, d, &t, no, cur_user(ps)->notes);
}

static int parse_entry(struct fm *ps, const struct fm_tok *start)
{
    enum phase ph = PH_SERVER;
    const struct fm_tok *p;
    struct fm_tok name;
    enum fm_entry_kind kind = is_kw(start, K_DEFAULTS) ? E_DEFAULTS
                              : is_kw(start, K_SKIP)   ? E_SKIP
                                                       : E_POLL;

    if (add_entry(ps, kind, start->line) < 0) return -1;
    if (kind != E_DEFAULTS) {
        if (fmrc_expect_value(ps, start, &name) < 0) return -1;
        cur_entry(ps)->name = name.text;
    }
    for (;;) {
        if (fmrc_peek(ps, &p) < 0) return -1;
        if (entry_ends(p)) break;
        if (entry_item(ps, &ph) < 0) return -1;
    }
    if (cur_entry(ps)->nusers == 0 && add_user(ps, start->line) < 0) return -1;
    if (kind == E_DEFAULTS) ps->defaults = ps->nentries - 1;
    return 0;
}

static int parse_set(struct fm *ps)
{
    const struct optdef *d;
    struct fm_tok t;
    int no = 0;

    if (fmrc_next(ps, &t) < 0) return -1;
    if (is_kw(&t, K_NO)) {
        no = 1;
        if (fmrc_next(ps, &t) < 0) return -1;
    }
    if (t.kind != T_KW || !(d = find_opt(t.kw, 1)))
        return fmrc_unexpected(ps, &t, "a global option after `set`");
    return option(ps, d, &t, no, &ps->global);
}

static int fmrc_parse_file(struct fm *ps)
{
    struct fm_tok t;

    for (;;) {
        if (fmrc_next(ps, &t) < 0) return -1;
        if (t.kind == T_EOF) return 0;
        if (is_kw(&t, K_SET)) {
            if (parse_set(ps) < 0) return -1;
        } else if (is_kw(&t, K_POLL) || is_kw(&t, K_SKIP) || is_kw(&t, K_DEFAULTS)) {
            if (parse_entry(ps, &t) < 0) return -1;
        } else {
            return fmrc_unexpected(ps, &t, "`poll`, `skip`, `defaults` or `set`");
        }
    }
}

/* ---- writing: helpers -------------------------------------------------------- */

/* Wrapped comment lines: "# " then the text; continuation lines indented. */
static void comment(struct fm_out *o, const char *text)
{
    const char *s = text;
    int first = 1;

    while (*s) {
        size_t room = FM_WRAP - (first ? 2 : 4), n = strlen(s), cut = n;
        if (n > room) {
            cut = room;
            while (cut > 0 && s[cut] != ' ') cut--;
            if (cut == 0) cut = strcspn(s, " ");
        }
        fmrc_out_str(o, first ? "# " : "#   ");
        fmrc_out_add(o, s, cut);
        fmrc_out_str(o, "\n");
        s += cut;
        while (*s == ' ') s++;
        first = 0;
    }
}

static void commentf(struct fm_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void commentf(struct fm_out *o, const char *fmt, ...)
{
    char buf[1536];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    comment(o, buf);
}

/* Each note once; a reason already given in this list is not repeated. */
static void put_notes(struct fm_out *o, const struct fm_notes *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        const struct fm_note *n = &ns->v[i];
        size_t j = 0;
        while (j < i && strcmp(ns->v[j].why, n->why) != 0) j++;
        if (j < i)
            commentf(o, "line %d: `%s`: not carried either (as for `%s`).", n->line, n->what,
                     ns->v[j].what);
        else
            commentf(o, "line %d: `%s`: not carried: %s.", n->line, n->what, n->why);
    }
    if (ns->dropped) commentf(o, "(%u more settings here were not carried either)", ns->dropped);
}

/* A value popfetch's config can hold: no control bytes, bounded. */
static int value_ok(const char *s, size_t max)
{
    size_t n = 0;

    if (!s || !*s) return 0;
    for (; s[n]; n++)
        if (n == max || ((unsigned char)s[n] < 0x20 && s[n] != '\t') || s[n] == 0x7f) return 0;
    return 1;
}

static int plain(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._@+-/:~%=,", *s)) return 0;
    return 1;
}

/* A value as popfetch's config reads it: bare when plain, else in double
 * quotes with \" and \\. Control bytes (only in values of accounts written
 * commented out) become '?', so a value never ends its line. */
static void put_value(struct fm_out *o, const char *value)
{
    if (*value && plain(value)) {
        fmrc_out_str(o, value);
        return;
    }
    fmrc_out_str(o, "\"");
    for (const char *s = value; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fmrc_out_str(o, "\\");
        fmrc_out_add(o, (c < 0x20 && c != '\t') || c == 0x7f ? "?" : s, 1);
    }
    fmrc_out_str(o, "\"");
}

/* Bytes put_value writes for s. */
static size_t value_len(const char *s)
{
    size_t n = 2;

    for (; *s; s++) n += *s == '"' || *s == '\\' ? 2 : 1;
    return n;
}

/* `key value`. A value that cannot be carried (only in accounts written
 * commented out) is written as a short printable excerpt. */
static void put_kv(struct fm_out *o, const char *key, const char *value)
{
    char q[FM_SHOW_MAX];

    fmrc_out_str(o, key);
    fmrc_out_str(o, " ");
    if (value_ok(value, FM_LINE_MAX)) {
        put_value(o, value);
    } else {
        fmrc_show(q, sizeof q, value);
        put_value(o, q);
    }
    fmrc_out_str(o, "\n");
}

static void put_kn(struct fm_out *o, const char *key, long long v)
{
    char buf[32];

    snprintf(buf, sizeof buf, "%lld", v);
    put_kv(o, key, buf);
}

/* ---- writing: merged view of one user ------------------------------------- */

struct acct {
    const struct fm_entry *en; /* as written, for its name and notes */
    struct fm_entry s;         /* server options, merged with defaults */
    struct fm_user u;          /* user options, merged with defaults */
    const char *name;
    const char *local; /* the single local name, or NULL */
    int multidrop;
};

#define MERGE_S(f)                                                                                 \
    if (!m->f) m->f = d->f
#define MERGE_I(f)                                                                                 \
    if (m->f < 0) m->f = d->f
#define MERGE_N(f)                                                                                 \
    if (!m->f.set) m->f = d->f

static void merge_user(struct fm_user *m, const struct fm_user *d)
{
    MERGE_S(remote);
    MERGE_S(password);
    MERGE_S(mda);
    MERGE_S(forward);
    MERGE_S(sslproto);
    MERGE_S(sslcertfile);
    MERGE_S(sslcert);
    MERGE_S(sslkey);
    MERGE_S(sslfingerprint);
    MERGE_I(ssl);
    MERGE_I(sslcertck);
    MERGE_I(keep);
    MERGE_I(fetchall);
    MERGE_N(limit);
    MERGE_N(fetchlimit);
    if (!m->nlocal && !m->wildcard) {
        m->nlocal = d->nlocal;
        m->local = d->local;
        m->first_id = d->first_id;
        m->wildcard = d->wildcard;
        m->mapped = d->mapped;
    }
}

static void merge_entry(struct fm_entry *m, const struct fm_entry *d)
{
    MERGE_S(via);
    MERGE_S(service);
    MERGE_N(timeout);
    if (!m->proto) {
        m->proto = d->proto;
        m->proto_text = d->proto_text;
    }
    if (!m->auth) {
        m->auth = d->auth;
        m->auth_text = d->auth_text;
    }
}

static void merged(const struct fm *ps, size_t ei, size_t ui, struct acct *a)
{
    memset(a, 0, sizeof *a);
    a->en = &ps->entries[ei];
    a->s = ps->entries[ei];
    a->u = ps->users[ui];
    if (a->en->defaults != FM_NONE) {
        const struct fm_entry *d = &ps->entries[a->en->defaults];
        merge_entry(&a->s, d);
        merge_user(&a->u, &ps->users[d->first_user]);
    }
    a->multidrop = a->u.nlocal > 1 || a->u.wildcard || a->u.mapped;
    if (!a->multidrop && a->u.nlocal == 1) a->local = a->u.local;
}

/* ---- writing: account names -------------------------------------------------- */

static void sanitize_name(char *dst, const char *src)
{
    size_t n = 0;

    for (; *src && n < FM_NAME_MAX; src++)
        dst[n++] = isalnum((unsigned char)*src) || strchr("._@+-", *src) ? *src : '-';
    if (n == 0) n = (size_t)snprintf(dst, FM_NAME_MAX + 1, "account");
    dst[n] = '\0';
}

static int name_taken(const struct fm *ps, const char *name)
{
    for (size_t i = 0; i < ps->nnames; i++)
        if (!strcmp(ps->names[i], name)) return 1;
    return 0;
}

/* How many users of poll/skip entries share this server name. */
static size_t users_of(const struct fm *ps, const char *server)
{
    size_t n = 0;

    for (size_t i = 0; i < ps->nentries; i++)
        if (ps->entries[i].kind != E_DEFAULTS && !strcmp(ps->entries[i].name, server))
            n += ps->entries[i].nusers;
    return n;
}

/* The server name; USER@SERVER when several users share it; -2, -3... to
 * make it unique. */
static int account_name(struct fm *ps, struct acct *a)
{
    char base[3 * FM_NAME_MAX + 8], user[FM_NAME_MAX + 1], server[FM_NAME_MAX + 1];
    char cand[sizeof base + 16], *copy;
    const char *remote = a->u.remote ? a->u.remote : a->u.first_id ? a->u.first_id : ps->login;
    size_t at = strcspn(remote, "@");

    sanitize_name(server, a->en->name);
    snprintf(base, sizeof base, "%s", server);
    if (users_of(ps, a->en->name) > 1) {
        char local[FM_NAME_MAX + 1];
        snprintf(local, sizeof local, "%.*s",
                 at ? (int)(at < FM_NAME_MAX ? at : FM_NAME_MAX) : FM_NAME_MAX, remote);
        sanitize_name(user, local);
        snprintf(base, sizeof base, "%s@%s", user, server);
    }
    snprintf(cand, sizeof cand, "%s", base);
    for (unsigned i = 2; name_taken(ps, cand); i++) snprintf(cand, sizeof cand, "%s-%u", base, i);
    if (!(copy = fmrc_strndup(ps, cand, strlen(cand)))) return fmrc_oom(ps);
    ps->names[ps->nnames++] = copy;
    a->name = copy;
    return 0;
}

/* ---- writing: one account ------------------------------------------------------ */

static void put_port(struct fm_out *o, const char *service)
{
    char q[FM_SHOW_MAX];
    size_t n = strspn(service, "0123456789");
    long v = n && n <= 5 && !service[n] ? strtol(service, NULL, 10) : 0;

    if (!strcasecmp(service, "pop3")) v = 110;
    if (!strcasecmp(service, "pop3s")) v = 995;
    if (v >= 1 && v <= 65535) {
        put_kn(o, "port", v);
        return;
    }
    fmrc_show(q, sizeof q, service);
    commentf(o,
             "`service %s`: not carried: popfetch takes a port number from 1 to 65535 (see "
             "/etc/services); without one it uses 995 for tls implicit, else 110.",
             q);
}

/* fetchmail's remote name: `user`, else the first local name, else the
 * login name. */
static void put_user(struct fm *ps, struct fm_out *o, const struct acct *a)
{
    char q[FM_SHOW_MAX];

    if (a->u.remote) {
        put_kv(o, "user", a->u.remote);
    } else if (a->u.first_id) {
        fmrc_show(q, sizeof q, a->u.first_id);
        commentf(o, "No remote user: fetchmail logs in with the local name %s, so this does too.",
                 q);
        put_kv(o, "user", a->u.first_id);
    } else {
        commentf(o,
                 "No `user`: fetchmail logs in with your login name, so this does too (%s when "
                 "converted).",
                 ps->login);
        put_kv(o, "user", ps->login);
    }
}

static void put_password(struct fm_out *o, const struct acct *a)
{
    const char *pw = a->u.password;

    if (!pw) return;
    if (!*pw) {
        comment(o, "An empty `password` is not carried: popfetch looks in ~/.netrc, then asks "
                   "on the terminal.");
        return;
    }
    if (!value_ok(pw, FM_VALUE_MAX)) {
        comment(o, "The `password` is too long or holds a line break or a control character, "
                   "which a popfetch config cannot hold: use passwordeval with a command that "
                   "prints it.");
        return;
    }
    commentf(o,
             "Safer than a password here: passwordeval \"pass show mail/%s\" (any command "
             "that prints it).",
             a->name);
    put_kv(o, "password", pw);
}

static int proto_is(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (!strcasecmp(v, *list)) return 1;
    return 0;
}

static void put_tls_version(struct fm_out *o, const char *proto)
{
    static const char *const v13[] = {"tls1.3", "tls1.3+", NULL};
    static const char *const old[] = {"ssl2", "ssl3", "tls1", "tls1.1", NULL};
    char q[FM_SHOW_MAX];

    if (!proto || !*proto) return;
    if (proto_is(proto, v13)) {
        put_kv(o, "tls_min_version", "1.3");
    } else if (proto_is(proto, old)) {
        fmrc_show(q, sizeof q, proto);
        commentf(o,
                 "`sslproto %s`: not carried: popfetch speaks TLS 1.2 or newer only; a server "
                 "that cannot is refused.",
                 q);
    }
}

static void put_tls_mode(struct fm_out *o, const struct acct *a)
{
    const char *proto = a->u.sslproto;

    if (a->u.ssl == 1) {
        put_kv(o, "tls", "implicit");
    } else if (proto && !*proto) {
        comment(o, "fetchmail's `sslproto ''` turned STARTTLS off, so this connection is not "
                   "encrypted. popfetch then sends no reusable password in clear: it needs auth "
                   "apop, cram-md5 or scram, or allow_plaintext on (only on a network you "
                   "trust).");
        put_kv(o, "tls", "off");
        comment(o, "allow_plaintext on");
    } else if (proto) {
        comment(o, "fetchmail's `sslproto` without `ssl` made STLS mandatory: so does tls "
                   "starttls.");
        put_kv(o, "tls", "starttls");
    } else {
        comment(o, "No `ssl`: fetchmail 6.4+ uses STLS when the server offers it, else goes on in "
                   "clear. popfetch's tls starttls insists on STLS rather than send a password "
                   "in clear; if the server speaks POP3S, tls implicit (port 995) is better.");
        put_kv(o, "tls", "starttls");
    }
    if (!(proto && !*proto)) put_tls_version(o, proto);
}

/* The port as a string, for commands in comments. */
static const char *port_of(const struct acct *a)
{
    const char *s = a->s.service;
    size_t n = s ? strspn(s, "0123456789") : 0;

    if (n && n <= 5 && !s[n]) return s;
    return a->u.ssl == 1 ? "995" : "110";
}

static int md5_like(const char *fp)
{
    size_t n = 0;

    for (; *fp; fp++) {
        if (*fp == ':') continue;
        if (!isxdigit((unsigned char)*fp)) return 0;
        n++;
    }
    return n == 32;
}

static void put_fingerprint(struct fm_out *o, const struct acct *a, const char *host)
{
    const char *fp = a->u.sslfingerprint;
    char norm[65], q[FM_SHOW_MAX], h[FM_SHOW_MAX];
    int pinned = 0;

    fmrc_show(h, sizeof h, host);
    if (fp && strlen(fp) <= 200 && tls_parse_fingerprint(fp, norm) == 0) {
        put_kv(o, "tls_fingerprint", norm);
        pinned = 1;
    } else if (fp) {
        fmrc_show(q, sizeof q, fp);
        commentf(o,
                 "`sslfingerprint %s`: not carried: %s; popfetch pins SHA-256 fingerprints. Get "
                 "this server's with: openssl s_client -connect %s:%s %s</dev/null | openssl x509 "
                 "-noout -fingerprint -sha256 and add tls_fingerprint with it.",
                 q,
                 md5_like(fp) ? "fetchmail's fingerprints are MD5 hashes, which popfetch cannot "
                                "check"
                              : "it is not a fingerprint popfetch understands",
                 h, port_of(a), a->u.ssl == 1 ? "" : "-starttls pop3 ");
    }
    if (a->u.sslcertck != 0) return;
    if (pinned) {
        comment(o, "`no sslcertck` with `sslfingerprint`: popfetch trusts the pinned "
                   "certificate without a certificate authority.");
    } else if (fp) {
        comment(o, "`no sslcertck`: not carried: without a pinned fingerprint it would leave the "
                   "connection open to impersonation; the certificate is checked until "
                   "tls_fingerprint is added.");
    } else {
        comment(o, "`no sslcertck`: popfetch warns on every run; better pin the certificate with "
                   "tls_fingerprint or name its CA with tls_trust_file.");
        put_kv(o, "tls_verify", "off");
    }
}

static void put_path(struct fm_out *o, const char *key, const char *fmkey, const char *path)
{
    char q[FM_SHOW_MAX];

    if (!path) return;
    fmrc_show(q, sizeof q, path);
    if (!value_ok(path, FM_VALUE_MAX)) {
        commentf(o, "`%s %s`: not carried: control characters in a file name.", fmkey, q);
        return;
    }
    if (path[0] != '/' && path[0] != '~')
        commentf(o,
                 "`%s %s`: fetchmail reads a relative file name from the rc file's directory, "
                 "popfetch from its working directory: better give the full path.",
                 fmkey, q);
    put_kv(o, key, path);
}

static void put_tls(struct fm_out *o, const struct acct *a, const char *host)
{
    put_tls_mode(o, a);
    put_fingerprint(o, a, host);
    put_path(o, "tls_trust_file", "sslcertfile", a->u.sslcertfile);
    put_path(o, "tls_cert_file", "sslcert", a->u.sslcert);
    put_path(o, "tls_key_file", "sslkey", a->u.sslkey);
}

static void put_auth(struct fm_out *o, const struct acct *a)
{
    int auth = a->s.auth;
    const char *t = a->s.auth_text;

    if (a->s.proto == P_APOP) {
        put_kv(o, "auth", "apop");
        if (auth > A_PASSWORD)
            commentf(o, "`auth %s`: not carried: `proto apop` asks for APOP.", t);
        return;
    }
    switch (auth) {
    case A_UNSET:
    case A_ANY:
    case A_PASSWORD:
        return; /* auth auto: the strongest password mechanism the server offers */
    case A_CRAM_MD5:
        put_kv(o, "auth", "cram-md5");
        return;
    case A_EXTERNAL:
        if (value_ok(a->u.sslcert, FM_VALUE_MAX)) {
            put_kv(o, "auth", "external");
            return;
        }
        comment(o, "`auth external`: not carried: it needs a TLS client certificate (sslcert).");
        return;
    case A_SSH:
        commentf(o,
                 "`auth %s`: not carried: fetchmail sent no password (a tunnel or plugin had "
                 "authenticated); popfetch always logs in, with the strongest mechanism offered.",
                 t);
        return;
    default:
        commentf(o,
                 "`auth %s`: not carried: popfetch has no %s; auth auto logs in with the password "
                 "(SCRAM, PLAIN, USER or LOGIN), or use a TLS client certificate with auth "
                 "external.",
                 t, t);
    }
}

static void put_limits(struct fm_out *o, const struct acct *a)
{
    if (a->u.keep == 1) put_kv(o, "keep", "on");
    if (a->u.fetchall == 1) put_kv(o, "fetch", "all");
    if (a->u.limit.set && a->u.limit.v > 0 && a->u.limit.v <= INT_MAX)
        put_kn(o, "max_size", a->u.limit.v);
    else if (a->u.limit.set && a->u.limit.v != 0)
        commentf(o, "`limit %lld`: not carried: not a size.", a->u.limit.v);
    if (a->u.fetchlimit.set && a->u.fetchlimit.v > 0 && a->u.fetchlimit.v <= 999999999)
        put_kn(o, "max_messages", a->u.fetchlimit.v);
    else if (a->u.fetchlimit.set && a->u.fetchlimit.v != 0)
        commentf(o, "`fetchlimit %lld`: not carried: not a count popfetch takes.",
                 a->u.fetchlimit.v);
    if (!a->s.timeout.set) return;
    if (a->s.timeout.v > 86400) {
        commentf(o, "`timeout %lld`: popfetch waits at most 86400 seconds.", a->s.timeout.v);
        put_kn(o, "timeout", 86400);
    } else if (a->s.timeout.v > 0) {
        put_kn(o, "timeout", a->s.timeout.v);
    } else {
        commentf(o, "`timeout %lld`: not carried: popfetch always has a timeout (default 60).",
                 a->s.timeout.v);
    }
}

/* ---- writing: delivery ------------------------------------------------------------ */

static int name_plain(const char *s)
{
    if (!s || !*s || strlen(s) > FM_NAME_MAX) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._@+-", *s)) return 0;
    return 1;
}

static void buf_add(char *dst, size_t max, size_t *o, const char *s, size_t n)
{
    if (*o + n < max) memcpy(dst + *o, s, n);
    *o += n;
}

/* fetchmail's %T (and its old spelling %s) and %F into popfetch's; any
 * other % becomes %% (fetchmail left it alone). %T becomes the local name
 * itself when there is one: popfetch's %T is the user running popfetch. */
static size_t convert_percents(const char *cmd, const char *local, char *dst, size_t max)
{
    size_t o = 0;

    for (const char *s = cmd; *s; s++) {
        if (*s != '%') {
            buf_add(dst, max, &o, s, 1);
        } else if (s[1] == 'T' || s[1] == 's') {
            if (local)
                buf_add(dst, max, &o, local, strlen(local));
            else
                buf_add(dst, max, &o, "%T", 2);
            s++;
        } else if (s[1] == 'F') {
            buf_add(dst, max, &o, "%F", 2);
            s++;
        } else {
            buf_add(dst, max, &o, "%%", 2);
        }
    }
    if (o < max) dst[o] = '\0';
    return o;
}

/* Can popfetch run it without a shell, meaning what /bin/sh meant? Only
 * words, quotes and backslashes: no globbing, tilde, variables, operators. */
static int shell_free(const char *cmd)
{
    char **argv;
    struct err e;

    for (const char *s = cmd; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(" \t-_./,:@+%'\"\\", *s)) return 0;
    if (mda_split(cmd, &(struct mda_vars){0}, &argv, &e) < 0) return 0;
    mda_argv_free(argv);
    return 1;
}

/* /bin/sh -c 'CMD', each ' in CMD written '\'' */
static size_t wrap_shell(const char *cmd, char *dst, size_t max)
{
    size_t o = 0;

    buf_add(dst, max, &o, "/bin/sh -c '", 12);
    for (const char *s = cmd; *s; s++)
        if (*s == '\'')
            buf_add(dst, max, &o, "'\\''", 4);
        else
            buf_add(dst, max, &o, s, 1);
    buf_add(dst, max, &o, "'", 1);
    if (o < max) dst[o] = '\0';
    return o;
}

static void put_mda_line(struct fm_out *o, const char *cmd)
{
    fmrc_out_str(o, "delivery mda ");
    put_value(o, cmd);
    fmrc_out_str(o, "\n");
}

/* fetchmail's mda as popfetch runs it, into dst: %-sequences converted,
 * wrapped in /bin/sh -c when it needs a shell (*shell set). -1 if it is
 * empty, too long or holds control characters. */
static int build_mda(const char *mda, const char *local, char *dst, size_t max, int *shell)
{
    char conv[4 * FM_MDA_MAX + 64];

    if (!value_ok(mda, FM_MDA_MAX)) return -1;
    if (convert_percents(mda, local, conv, sizeof conv) >= sizeof conv) return -1;
    *shell = !shell_free(conv);
    if (*shell ? wrap_shell(conv, dst, max) >= max : (size_t)snprintf(dst, max, "%s", conv) >= max)
        return -1;
    return value_len(dst) > FM_LINE_MAX ? -1 : 0;
}

/* Returns 1 if written, 0 if the mda could not be carried (a comment says
 * why). */
static int put_mda(struct fm_out *o, const struct acct *a)
{
    char cmd[5 * (4 * FM_MDA_MAX + 64)], q[FM_SHOW_MAX], m[FM_SHOW_MAX];
    const char *local = name_plain(a->local) ? a->local : NULL;
    char **argv;
    struct err e;
    int shell = 0;

    fmrc_show(q, sizeof q, a->u.mda);
    if (build_mda(a->u.mda, local, cmd, sizeof cmd, &shell) < 0) {
        commentf(o,
                 "`mda %s`: not carried: empty, too long, or holding control characters; put "
                 "the command in a script and name that.",
                 q);
        return 0;
    }
    if (mda_split(cmd, &(struct mda_vars){0}, &argv, &e) < 0) {
        fmrc_show(m, sizeof m, e.msg);
        commentf(o, "`mda %s`: not carried: %s", q, m);
        return 0;
    }
    mda_argv_free(argv);
    if (shell)
        comment(o, "fetchmail ran the mda with /bin/sh; popfetch runs it directly, so this one, "
                   "which needs a shell, is wrapped in /bin/sh -c.");
    if (local && (strstr(a->u.mda, "%T") || strstr(a->u.mda, "%s")))
        commentf(o,
                 "%%T is written out as %s, fetchmail's local name for this user: popfetch's "
                 "%%T is the user running popfetch.",
                 local);
    put_mda_line(o, cmd);
    return 1;
}

static void put_delivery(struct fm_out *o, const struct acct *a)
{
    char cmd[FM_NAME_MAX + 40];
    const char *local = name_plain(a->local) ? a->local : "%T";

    if (a->multidrop)
        commentf(o, "This is a multidrop mailbox (%s): not carried: %s.",
                 a->u.wildcard ? "`is *`"
                 : a->u.mapped ? "a name mapping with ="
                               : "several local names",
                 FM_WHY_MULTIDROP);
    if (a->u.mda && put_mda(o, a)) return;
    if (a->u.forward)
        commentf(o,
                 "fetchmail forwarded this account's mail with %s, which popfetch does not do: "
                 "it delivers itself.",
                 a->u.forward);
    else if (!a->u.mda)
        comment(o, "fetchmail's default delivery is SMTP to port 25 on localhost, which popfetch "
                   "does not do: it delivers itself.");
    comment(o, "Handing each message to the local MTA comes closest (below); or deliver "
               "straight into a Maildir with: delivery maildir ~/Maildir");
    snprintf(cmd, sizeof cmd, "/usr/sbin/sendmail -i -- %s", local);
    put_mda_line(o, cmd);
}

/* ---- writing: entries --------------------------------------------------------------- */

/* Why this account must be written commented out, or NULL. */
static const char *disabled(const struct acct *a, const char *host)
{
    if (!value_ok(host, FM_VALUE_MAX))
        return "The server name cannot be written in a popfetch config (empty or control "
               "characters).";
    if (!value_ok(a->u.remote ? a->u.remote : a->u.first_id ? a->u.first_id : "-", FM_VALUE_MAX))
        return "The user name cannot be written in a popfetch config (control characters).";
    switch (a->s.proto) {
    case P_IMAP:
        return "IMAP: popfetch speaks POP3 only. Use an IMAP tool (fetchmail, mbsync, getmail) "
               "for this account, or the server's POP3 service if it has one (then set host, "
               "port and tls and remove the leading \"# \").";
    case P_POP2:
        return "POP2 is obsolete and popfetch does not speak it.";
    case P_KPOP:
        return "KPOP needs Kerberos IV, which popfetch does not have.";
    case P_RPOP:
        return "RPOP (trusting a privileged client port) is not supported.";
    case P_ETRN:
    case P_ODMR:
        return "ETRN and ODMR ask the server to send mail to this host's SMTP server; popfetch "
               "retrieves mail with POP3 and has no such mode.";
    }
    if (a->en->kind == E_SKIP)
        return "A `skip` entry: fetchmail polls it only when it is named on the command line; "
               "popfetch polls every account unless told which, so this one is commented out: "
               "remove the leading \"# \" to use it.";
    return NULL;
}

static void put_proto_note(struct fm_out *o, const struct acct *a)
{
    if (!a->s.proto || a->s.proto == P_AUTO)
        comment(o, "No `proto` (or auto): fetchmail tried IMAP first, then POP3; popfetch speaks "
                   "POP3.");
    else if (a->s.proto == P_SDPS)
        comment(o, "`proto sdps`: Demon Internet's SDPS extensions are not carried; plain POP3.");
}

static void put_body(struct fm *ps, struct fm_out *o, const struct acct *a, const char *host)
{
    fmrc_out_str(o, "account ");
    fmrc_out_str(o, a->name);
    fmrc_out_str(o, "\n");
    put_kv(o, "host", host);
    if (a->s.service) put_port(o, a->s.service);
    put_user(ps, o, a);
    put_password(o, a);
    put_tls(o, a, host);
    put_auth(o, a);
    put_limits(o, a);
    put_delivery(o, a);
}

/* Copy `body` into o, with "# " before each line that is not a comment. */
static void put_commented_out(struct fm_out *o, const struct fm_out *body)
{
    const char *s = body->p ? body->p : "";

    while (*s) {
        size_t n = strcspn(s, "\n");
        if (*s != '#') fmrc_out_str(o, "# ");
        fmrc_out_add(o, s, n);
        fmrc_out_str(o, "\n");
        s += n + (s[n] == '\n');
    }
}

static int put_account(struct fm *ps, struct fm_out *o, size_t ei, size_t ui)
{
    struct acct a;
    struct fm_out body = {0};
    const char *host, *off;
    char q[FM_SHOW_MAX];

    merged(ps, ei, ui, &a);
    if (account_name(ps, &a) < 0) return -1;
    host = a.s.via ? a.s.via : a.en->name;
    off = disabled(&a, host);
    if (ps->users[ui].remote && a.en->nusers > 1) {
        fmrc_show(q, sizeof q, ps->users[ui].remote);
        commentf(o, "line %d: user %s", ps->users[ui].line, q);
    }
    put_notes(o, ps->users[ui].notes);
    put_proto_note(o, &a);
    put_body(ps, &body, &a, host);
    if (body.failed) o->failed = body.failed;
    if (off) {
        comment(o, off);
        put_commented_out(o, &body);
    } else if (body.p) {
        fmrc_out_str(o, body.p);
    }
    fmrc_out_release(&body);
    return 0;
}

static int put_entry(struct fm *ps, struct fm_out *o, size_t ei)
{
    const struct fm_entry *en = &ps->entries[ei];
    char q[FM_SHOW_MAX];

    fmrc_out_str(o, "\n");
    if (en->kind == E_DEFAULTS) {
        commentf(o,
                 "line %d: fetchmail `defaults`: merged into every account after it (each "
                 "account below is complete on its own).",
                 en->line);
        put_notes(o, en->notes);
        for (size_t i = 0; i < en->nusers; i++) put_notes(o, ps->users[en->first_user + i].notes);
        return 0;
    }
    fmrc_show(q, sizeof q, en->name);
    commentf(o, "line %d: %s %s", en->line, en->kind == E_SKIP ? "skip" : "poll", q);
    put_notes(o, en->notes);
    for (size_t i = 0; i < en->nusers; i++) {
        if (i) fmrc_out_str(o, "\n");
        if (put_account(ps, o, ei, en->first_user + i) < 0) return -1;
    }
    return 0;
}

static void put_header(const struct fm *ps, struct fm_out *o)
{
    char q[FM_SHOW_MAX];
    int passwords = 0, keep = 0;

    for (size_t i = 0; i < ps->nusers; i++) {
        passwords |= ps->users[i].password != NULL;
        keep |= ps->users[i].keep == 1;
    }
    fmrc_show(q, sizeof q, ps->name);
    commentf(o,
             "popfetch config converted from the fetchmail rc file %s by popfetch "
             "--import-fetchmailrc. See popfetchrc(5).",
             q);
    comment(o, "Comments say what fetchmail did that popfetch cannot do, or does differently, "
               "and what to use instead: read them before the first run.");
    if (passwords)
        comment(o, "This file holds passwords: keep it private (chmod 600); popfetch refuses to "
                   "read it otherwise.");
    if (keep)
        comment(o, "Messages fetchmail left on the server (keep) would be fetched again: mark "
                   "them as seen first with popfetch --import-seen fetchmail:~/.fetchids");
    if (ps->global.n || ps->global.dropped) {
        fmrc_out_str(o, "\n");
        put_notes(o, &ps->global);
    }
}

static int fmrc_write_config(struct fm *ps, struct fm_out *o)
{
    size_t accounts = 0;

    for (size_t i = 0; i < ps->nentries; i++)
        if (ps->entries[i].kind != E_DEFAULTS) accounts += ps->entries[i].nusers;
    if (accounts && !(ps->names = calloc(accounts, sizeof *ps->names))) return fmrc_oom(ps);
    put_header(ps, o);
    if (!accounts) {
        fmrc_out_str(o, "\n");
        comment(o, "No poll entries: there is nothing to fetch.");
    }
    for (size_t i = 0; i < ps->nentries; i++)
        if (put_entry(ps, o, i) < 0) return -1;
    if (o->failed == 1) return fmrc_oom(ps);
    if (o->failed == 2)
        return err_set(ps->e, ERR_USAGE,
                       "%s: the converted config would be larger than popfetch reads (%d MiB)",
                       ps->name, FETCHMAILRC_MAX_OUT >> 20);
    return 0;
}

/* ---- entry points ----------------------------------------------------------------- */

/* fetchmail's local user: $FETCHMAILUSER, $LOGNAME, $USER, else the
 * password database. */
static void login_name(char *buf, size_t len)
{
    static const char *const vars[] = {"FETCHMAILUSER", "LOGNAME", "USER"};
    struct passwd *pw;

    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && name_plain(v) && strlen(v) < len) {
            snprintf(buf, len, "%s", v);
            return;
        }
    }
    pw = getpwuid(getuid());
    snprintf(buf, len, "%s", pw && name_plain(pw->pw_name) ? pw->pw_name : "user");
}

int fetchmailrc_convert(const char *name, const char *text, size_t len, char **out, struct err *e)
{
    struct fm ps = {.name = name, .e = e, .line = 1, .pending = -1, .defaults = FM_NONE};
    struct fm_out o = {0};
    const char *nul;
    int rc = -1;

    *out = NULL;
    if (!text) text = "", len = 0;
    ps.p = text;
    ps.end = text + len;
    if (len > FETCHMAILRC_MAX_BYTES)
        return err_set(e, ERR_USAGE, "%s: larger than %d MiB: not a fetchmail rc file", name,
                       FETCHMAILRC_MAX_BYTES >> 20);
    if (len && (nul = memchr(text, '\0', len))) {
        int line = 1;
        for (const char *s = text; s < nul; s++) line += *s == '\n';
        return err_set(e, ERR_USAGE, "%s:%d: NUL byte: not a fetchmail rc file", name, line);
    }
    login_name(ps.login, sizeof ps.login);
    if (fmrc_parse_file(&ps) == 0 && fmrc_write_config(&ps, &o) == 0) {
        *out = o.p;
        o.p = NULL;
        rc = 0;
    }
    fmrc_out_release(&o);
    free(ps.names);
    free(ps.entries);
    free(ps.users);
    fmrc_arena_free(ps.arena);
    return rc;
}

int fetchmailrc_convert_file(const char *path, char **out, struct err *e)
{
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    if (textfile_read(path, FETCHMAILRC_MAX_BYTES, "fetchmailrc", &text, &len, NULL, e) < 0)
        return -1;
    rc = fetchmailrc_convert(path, text, len, out, e);
    textfile_free(text, len);
    return rc;
}

void fetchmailrc_free(char *out)
{
    if (!out) return;
    OPENSSL_cleanse(out, strlen(out));
    free(out);
}
