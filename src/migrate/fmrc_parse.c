/*
 * fmrc_parse — the fetchmailrc converter's parser (see fmrc.h): fetchmail's
 * grammar as its rcfile_y.y reads it, from the token stream into struct fm.
 *
 * Owns `set` statements and `poll` / `skip` / `defaults` entries made of
 * server options, user descriptions (user ... [here|there], is/to ... with
 * NAME=LOCAL mappings and `*`) and user options, in fetchmail's order; the
 * table of every option with its arguments and, for each one popfetch does
 * not carry, the reason written as a note (comment). Records what each
 * entry and user says (an entry without `user` gets one implicit user),
 * bounded to FETCHMAILRC_MAX_ACCOUNTS users and FM_NOTES_MAX notes each;
 * merging with `defaults` is the writer's.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmrc.h"

/* ---- tokens ------------------------------------------------------------- */

static int is_kw(const struct fm_tok *t, int kw)
{
    return t->kind == T_KW && t->kw == kw;
}

/* ---- notes -------------------------------------------------------------- */

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

#define WHY_FORWARD                                                                                \
    "popfetch forwards over LMTP or SMTP (delivery lmtp, delivery smtp) or delivers into a "       \
    "Maildir, an mbox or an MDA (see the `delivery` line below), but not this way"
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
    {K_ESMTPNAME, OC_SERVER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_ESMTPPASSWORD, OC_SERVER, ARG_STR, 0, 1, NULL, NULL, NULL},
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
    {K_PASSWORDFILE, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_PASSWORDFD, OC_USER, ARG_NUM, 0, 0,
     "popfetch reads no password from a file descriptor; use passwordeval with a command that "
     "prints it",
     NULL, NULL},
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
    {K_SMTPHOST, OC_USER, ARG_STRS, 0, 0, NULL, NULL, NULL},
    {K_SMTPADDRESS, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_SMTPNAME, OC_USER, ARG_STR, 0, 0, NULL, NULL, NULL},
    {K_ANTISPAM, OC_USER, ARG_NUMS, 0, 0,
     "fetchmail deleted mail the SMTP server refused with these codes as spam; popfetch never "
     "deletes a refused message: it stays on the server and is reported",
     NULL, NULL},
    {K_BATCHLIMIT, OC_USER, ARG_NUM, 0, 0, WHY_FORWARD, NULL, NULL},
    {K_LMTP, OC_USER, ARG_NONE, 0, 0, NULL, NULL, NULL},
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
     "popfetch checks the certificate's DNS names (never its CN) against `host`; set "
     "tls_host_override NAME to check another name",
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

/* ---- option arguments --------------------------------------------------- */

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

/* ---- the parser --------------------------------------------------------- */

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
    case K_ESMTPNAME:
        en->esmtpname = a->v.text;
        break;
    case K_ESMTPPASSWORD:
        en->esmtppassword = a->v.text;
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

/* The user options that only store their value: where each goes in
 * struct fm_user, and whether it is text, a yes/no ("no keep" is 0) or a
 * number. */
enum user_field { UF_TEXT, UF_FLAG, UF_NUM };

static const struct {
    int kw;
    enum user_field kind;
    size_t off;
} user_fields[] = {
#define OFF(field) offsetof(struct fm_user, field)
    {K_PASSWORD, UF_TEXT, OFF(password)},
    {K_PASSWORDFILE, UF_TEXT, OFF(passwordfile)},
    {K_MDA, UF_TEXT, OFF(mda)},
    {K_SMTPADDRESS, UF_TEXT, OFF(smtpaddress)},
    {K_SMTPNAME, UF_TEXT, OFF(smtpname)},
    {K_SSLPROTO, UF_TEXT, OFF(sslproto)},
    {K_SSLCERTFILE, UF_TEXT, OFF(sslcertfile)},
    {K_SSLCERT, UF_TEXT, OFF(sslcert)},
    {K_SSLKEY, UF_TEXT, OFF(sslkey)},
    {K_SSLFINGERPRINT, UF_TEXT, OFF(sslfingerprint)},
    {K_KEEP, UF_FLAG, OFF(keep)},
    {K_FETCHALL, UF_FLAG, OFF(fetchall)},
    {K_SSL, UF_FLAG, OFF(ssl)},
    {K_SSLCERTCK, UF_FLAG, OFF(sslcertck)},
    {K_LIMIT, UF_NUM, OFF(limit)},
    {K_FETCHLIMIT, UF_NUM, OFF(fetchlimit)},
#undef OFF
};

static void store_user(struct fm_user *u, int kw, int no, const struct args *a)
{
    for (size_t i = 0; i < sizeof user_fields / sizeof user_fields[0]; i++) {
        void *field = (char *)u + user_fields[i].off;
        if (user_fields[i].kw != kw) continue;
        if (user_fields[i].kind == UF_TEXT)
            *(const char **)field = a->v.text;
        else if (user_fields[i].kind == UF_FLAG)
            *(int *)field = !no;
        else
            *(struct fm_num *)field = (struct fm_num){1, a->v.num};
        return;
    }
}

/* A user option: the two that also say how fetchmail forwarded, then the
 * ones that only store their value. */
static void apply_user(struct fm_user *u, const struct fm_tok *opt, int no, const struct args *a)
{
    switch (opt->kw) {
    case K_SMTPHOST:
        u->smtphost = a->v.text;
        u->forward = "smtphost";
        break;
    case K_LMTP:
        u->lmtp = 1;
        u->forward = "LMTP";
        break;
    default:
        store_user(u, opt->kw, no, a);
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

int fmrc_parse_file(struct fm *ps)
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
