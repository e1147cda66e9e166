/*
 * fmrc_write — the fetchmailrc converter's writer (see fmrc.h): what the
 * parser recorded, as popfetch config text.
 *
 * Each user of a `poll` or `skip` entry becomes one account, merged with
 * the `defaults` entry before it and written out in full. Owns the account
 * names (the server, USER@SERVER when users share it, made unique), the
 * mapping of each carried fetchmail setting onto popfetch keys (host, port,
 * user, password, TLS, auth, limits, delivery: fetchmail's mda with its
 * %-sequences and shell, smtphost/lmtp, or fetchmail's default: SMTP to
 * localhost:25), the comments that say what is
 * not carried and why, accounts written commented out (`skip`, other
 * protocols, values a config cannot hold), and fetchmail's login name as
 * the default remote user. Values are bounded and quoted as conf.c reads
 * them, so the output always loads with conf_parse().
 */
#include <ctype.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fmrc.h"
#include "cmdsplit.h"
#include "tls.h"
#include "esmtp.h"

#define FM_VALUE_MAX 1000 /* bytes of one carried value (host, user, password, path) */
#define FM_MDA_MAX   1400 /* bytes of an mda command; quoted it stays under conf's line limit */
#define FM_NAME_MAX  64   /* bytes of a generated account name */
#define FM_LINE_MAX  8000 /* bytes of one written value; conf reads lines of 8192 */
#define FM_WRAP      76   /* comment lines are wrapped at this column */

/* ---- writing: helpers --------------------------------------------------- */

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

/* ---- writing: merged view of one user ----------------------------------- */

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
    MERGE_S(passwordfile);
    MERGE_S(mda);
    MERGE_S(forward);
    MERGE_S(smtphost);
    MERGE_S(smtpaddress);
    MERGE_S(smtpname);
    if (!m->lmtp) m->lmtp = d->lmtp;
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
    MERGE_S(esmtpname);
    MERGE_S(esmtppassword);
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

/* ---- writing: account names --------------------------------------------- */

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

/* ---- writing: one account ----------------------------------------------- */

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

/* fetchmail 7's `passwordfile FILE`: the same file, read by a command
 * (the path quoted for /bin/sh -c). */
static void put_passwordfile(struct fm_out *o, const struct acct *a)
{
    const char *f = a->u.passwordfile;
    char cmd[FM_VALUE_MAX * 4 + 16], q[FM_SHOW_MAX];
    size_t n = 0;

    fmrc_show(q, sizeof q, f);
    if (a->u.password) {
        commentf(o, "`passwordfile %s`: not carried: the `password` given too is used.", q);
        return;
    }
    if (!value_ok(f, FM_VALUE_MAX) || f[0] != '/') {
        commentf(o,
                 "`passwordfile %s`: not carried: name the file by its full path in a "
                 "passwordeval such as \"cat /path/to/file\".",
                 q);
        return;
    }
    n += (size_t)snprintf(cmd, sizeof cmd, "cat '");
    for (; *f; f++) /* ' becomes '\'' */
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, *f == '\'' ? "'\\''" : "%c", *f);
    snprintf(cmd + n, sizeof cmd - n, "'");
    comment(o, "fetchmail read the secret from `passwordfile`; so does this:");
    put_kv(o, "passwordeval", cmd);
}

static void put_password(struct fm_out *o, const struct acct *a)
{
    const char *pw = a->u.password;

    if (a->u.passwordfile) put_passwordfile(o, a);
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

/* `service 995` (or pop3s) without `ssl`: a POP3S port spoken to in clear. */
static int pop3s_port(const struct acct *a)
{
    const char *s = a->s.service;

    return s && (!strcmp(s, "995") || !strcasecmp(s, "pop3s"));
}

static void put_starttls(struct fm_out *o, const struct acct *a)
{
    if (pop3s_port(a))
        comment(o, "WARNING: port 995 is POP3S, where the server waits for TLS first: with tls "
                   "starttls popfetch waits in vain for a greeting. fetchmail would have failed "
                   "the same way without `ssl`; if this server speaks POP3S, write tls implicit "
                   "here.");
    put_kv(o, "tls", "starttls");
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
        put_starttls(o, a);
    } else {
        comment(o, "No `ssl`: fetchmail 6.4+ uses STLS when the server offers it, else goes on in "
                   "clear. popfetch's tls starttls insists on STLS rather than send a password "
                   "in clear; if the server speaks POP3S, tls implicit (port 995) is better.");
        put_starttls(o, a);
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

/* The provider a host belongs to, for the OAuth2 comment. */
static const char *oauth_provider(const char *host)
{
    static const char *const ms[] = {"office365.com", "outlook.com", "hotmail.com", NULL};
    static const char *const google[] = {"gmail.com", "googlemail.com", "google.com", NULL};
    size_t n = strlen(host);

    for (int i = 0; ms[i]; i++)
        if (n >= strlen(ms[i]) && !strcasecmp(host + n - strlen(ms[i]), ms[i])) return "microsoft";
    for (int i = 0; google[i]; i++)
        if (n >= strlen(google[i]) && !strcasecmp(host + n - strlen(google[i]), google[i]))
            return "google";
    return NULL;
}

/* fetchmail 7's `auth oauthbearer` / `auth xoauth2`: the access token that
 * a helper keeps in the password (file) is carried as it is, and the
 * comment says how popfetch can get and refresh it by itself. */
static void put_oauth(struct fm_out *o, const struct acct *a, const char *mech)
{
    const char *host = a->s.via ? a->s.via : a->en->name, *prov = oauth_provider(host);

    put_kv(o, "auth", mech);
    commentf(o,
             "fetchmail logged in with an OAuth2 access token that something else had to "
             "refresh. popfetch can get and refresh it by itself: replace the password "
             "lines with `oauth2 %s` and `oauth2_client_id` (your app registration's id), "
             "then run `popfetch --authorize %s` once (man popfetchrc, OAUTH2 RECIPES).",
             prov ? prov : "microsoft|google|custom", a->name);
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
    case A_OAUTHBEARER:
    case A_XOAUTH2:
        put_oauth(o, a, auth == A_OAUTHBEARER ? "oauthbearer" : "xoauth2");
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

/* ---- writing: delivery -------------------------------------------------- */

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
    if (cmdsplit_argv(cmd, &(struct cmdsplit_vars){0}, &argv, &e) < 0) return 0;
    cmdsplit_free(argv);
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
    if (cmdsplit_argv(cmd, &(struct cmdsplit_vars){0}, &argv, &e) < 0) {
        fmrc_show(m, sizeof m, e.msg);
        commentf(o, "`mda %s`: not carried: %s", q, m);
        return 0;
    }
    cmdsplit_free(argv);
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

/* An address for `recipient`: one word, no <>, printable (conf.c's rule). */
static int rcpt_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255 || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '<' || s[i] == '>') return 0;
    return 1;
}

/* fetchmail's smtphost value (host, host/port, /socket) as a popfetch
 * delivery target; -1 if it cannot be one. */
static int forward_target(const struct acct *a, char *dst, size_t max)
{
    const char *h = a->u.smtphost ? a->u.smtphost : a->u.lmtp ? "localhost" : "localhost/25";
    const char *slash = strrchr(h, '/');
    struct esmtp probe;
    struct err e;
    int n;

    if (h[0] == '/')
        n = snprintf(dst, max, "%s", h);
    else if (slash)
        n = snprintf(dst, max, strchr(h, ':') ? "[%.*s]:%s" : "%.*s:%s", (int)(slash - h), h,
                     slash + 1);
    else
        n = snprintf(dst, max, strchr(h, ':') ? "[%s]%s" : "%s%s", h, a->u.lmtp ? ":24" : "");
    if (n < 0 || (size_t)n >= max || !value_ok(dst, FM_VALUE_MAX)) return -1;
    return esmtp_init(&probe, a->u.lmtp, dst, NULL, 1000, &e);
}

/* esmtpname and esmtppassword: SMTP AUTH to the relay, as smtp_user and
 * smtp_password. */
static void put_smtp_auth(struct fm_out *o, const struct acct *a)
{
    const char *n = a->s.esmtpname, *p = a->s.esmtppassword;

    if (!n && !p) return;
    if (a->u.lmtp) {
        comment(o, "`esmtpname`/`esmtppassword`: not carried: popfetch logs in to an SMTP relay "
                   "only, not over LMTP.");
        return;
    }
    if (!n || !p || !*n || !*p || !value_ok(n, FM_VALUE_MAX) || !value_ok(p, FM_VALUE_MAX)) {
        comment(o, "`esmtpname`/`esmtppassword`: not carried: popfetch needs both, each without "
                   "line breaks (or set smtp_user and smtp_passwordeval).");
        return;
    }
    comment(o, "fetchmail's esmtpname/esmtppassword: SMTP AUTH to the relay. popfetch sends the "
               "password only over TLS or to this machine (127.0.0.1, ::1): for a relay "
               "elsewhere, add smtp_tls starttls (or implicit).");
    put_kv(o, "smtp_user", n);
    put_kv(o, "smtp_password", p);
}

/* smtphost/lmtp as delivery lmtp|smtp and recipient. Returns 1 if
 * written, 0 if not carried (a comment says why). */
static int put_forward(struct fm_out *o, const struct acct *a)
{
    char target[FM_VALUE_MAX + 16], rcpt[2 * FM_VALUE_MAX + 2], q[FM_SHOW_MAX];
    const char *local = name_plain(a->local) ? a->local : NULL;

    fmrc_show(q, sizeof q, a->u.smtphost ? a->u.smtphost : "localhost");
    if (forward_target(a, target, sizeof target) < 0) {
        commentf(o,
                 "`%ssmtphost %s`: not carried: not a host, host/port or socket path popfetch "
                 "can reach.",
                 a->u.lmtp ? "lmtp " : "", q);
        return 0;
    }
    if (a->u.smtpname)
        snprintf(rcpt, sizeof rcpt, "%s", a->u.smtpname);
    else if (local && a->u.smtpaddress)
        snprintf(rcpt, sizeof rcpt, "%s@%s", local, a->u.smtpaddress);
    else
        snprintf(rcpt, sizeof rcpt, "%s", local ? local : "");
    if (rcpt[0] && !rcpt_ok(rcpt)) {
        fmrc_show(q, sizeof q, rcpt);
        commentf(o, "The recipient %s cannot be written as popfetch's recipient: not carried.", q);
        return 0;
    }
    if (!a->u.smtphost && !a->u.lmtp)
        comment(o, "No smtphost, lmtp or mda: fetchmail's default delivery, SMTP to port 25 on "
                   "localhost (the local MTA), and popfetch's here too; or deliver straight into "
                   "a Maildir with: delivery maildir ~/Maildir");
    else
        comment(o, "fetchmail forwarded this account's mail; popfetch does too (fetchmail tried "
                   "each smtphost in turn: popfetch uses the first).");
    if (a->u.lmtp && a->u.smtphost && a->u.smtphost[0] != '/' && !strchr(a->u.smtphost, '/'))
        comment(o, "fetchmail's LMTP needs a port: 24, the LMTP port, is assumed.");
    if (!a->u.smtpname && !a->u.smtpaddress && rcpt[0])
        comment(o, "fetchmail added @ and this host's name to the recipient unless it had "
                   "one; popfetch sends it as written (add @domain if the server needs it).");
    if (!rcpt[0])
        comment(o, "No local name: the recipient is the login name of the user running "
                   "popfetch (set recipient to change it).");
    fmrc_out_str(o, a->u.lmtp ? "delivery lmtp " : "delivery smtp ");
    put_value(o, target);
    fmrc_out_str(o, "\n");
    if (rcpt[0]) {
        fmrc_out_str(o, "recipient ");
        put_value(o, rcpt);
        fmrc_out_str(o, "\n");
    }
    put_smtp_auth(o, a);
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
    if (!a->u.mda && !a->multidrop && (a->u.smtphost || a->u.lmtp || !a->u.forward) &&
        put_forward(o, a))
        return;
    if (a->u.forward)
        commentf(o,
                 "fetchmail forwarded this account's mail with %s, which popfetch does not do: "
                 "it delivers itself.",
                 a->u.forward);
    else if (!a->u.mda && a->multidrop)
        comment(o, "fetchmail's default delivery is SMTP to port 25 on localhost; a multidrop "
                   "mailbox's recipients come from each message, which popfetch does not do.");
    comment(o, "Handing each message to the local MTA comes closest (below); or deliver "
               "straight into a Maildir with: delivery maildir ~/Maildir");
    if (a->s.esmtpname || a->s.esmtppassword)
        comment(o, "`esmtpname`/`esmtppassword`: not carried: this account's mail goes to the "
                   "local MTA's sendmail, not over SMTP.");
    snprintf(cmd, sizeof cmd, "/usr/sbin/sendmail -i -- %s", local);
    put_mda_line(o, cmd);
}

/* ---- writing: entries --------------------------------------------------- */

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

/* ---- writing: the config ------------------------------------------------ */

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

int fmrc_write_config(struct fm *ps, struct fm_out *o)
{
    size_t accounts = 0;

    login_name(ps->login, sizeof ps->login);
    ps->nnames = 0;
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
