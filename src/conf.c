/*
 * conf — config file lexing, inheritance and checking. See conf.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "textfile.h"
#include "conf.h"
#include "cmdsplit.h"
#include "fileperm.h"
#include "httpmsg.h"
#include "paths.h"
#include "tls.h"
#include "esmtp.h"

#define CONF_MAX_BYTES   (4 * 1024 * 1024)
#define CONF_LINE_MAX    8192
#define CONF_MAX_TOKENS  16
#define CONF_MAX_DROPINS 10000

struct arena_block {
    struct arena_block *next;
    size_t len;
    char data[];
};

const char *conf_strdup(struct config *cfg, const char *s)
{
    size_t n = strlen(s) + 1;
    struct arena_block *b = malloc(sizeof *b + n);

    if (!b) return NULL;
    b->next = cfg->arena;
    b->len = n;
    memcpy(b->data, s, n);
    cfg->arena = b;
    return b->data;
}

void conf_free(struct config *cfg)
{
    struct arena_block *b = cfg->arena;

    while (b) {
        struct arena_block *next = b->next;
        OPENSSL_cleanse(b->data, b->len); /* passwords live in the arena */
        free(b);
        b = next;
    }
    free(cfg->accounts);
    memset(cfg, 0, sizeof *cfg);
}

const char *conf_expand_home(struct config *cfg, const char *path, struct err *e)
{
    char buf[4096];
    const char *s;

    if (paths_expand_home(path, buf, sizeof buf, e) < 0) return NULL;
    if (!(s = conf_strdup(cfg, buf))) err_set(e, ERR_INTERNAL, "out of memory");
    return s;
}

int conf_parse_duration(const char *s, unsigned long *out)
{
    unsigned long total = 0;
    int any = 0;

    while (*s) {
        unsigned long v = 0, mult;
        if (!isdigit((unsigned char)*s)) return -1;
        while (isdigit((unsigned char)*s)) {
            if (v > 100000000UL) return -1;
            v = v * 10 + (unsigned long)(*s++ - '0');
        }
        switch (*s) {
        case 'w':
            mult = 7 * 86400;
            s++;
            break;
        case 'd':
            mult = 86400;
            s++;
            break;
        case 'h':
            mult = 3600;
            s++;
            break;
        case 'm':
            mult = 60;
            s++;
            break;
        case 's':
            mult = 1;
            s++;
            break;
        case '\0':
            mult = 1;
            break;
        default:
            return -1;
        }
        if (v > (0xffffffffUL * 16UL - total) / mult) return -1;
        total += v * mult;
        any = 1;
    }
    *out = total;
    return any ? 0 : -1;
}

int conf_parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0, mult = 1;

    if (!isdigit((unsigned char)*s)) return -1;
    while (isdigit((unsigned char)*s)) {
        if (v > ((uint64_t)1 << 50)) return -1;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    switch (toupper((unsigned char)*s)) {
    case 'K':
        mult = 1024;
        s++;
        break;
    case 'M':
        mult = 1024 * 1024;
        s++;
        break;
    case 'G':
        mult = 1024 * 1024 * 1024;
        s++;
        break;
    case '\0':
        break;
    default:
        return -1;
    }
    if (toupper((unsigned char)*s) == 'B') s++;
    if (*s || v > UINT64_MAX / mult) return -1; /* never wrap around */
    *out = v * mult;
    return 0;
}

/* ---- keys ----------------------------------------------------------- */

enum vtype {
    V_STR,
    V_PATH,
    V_BOOL,
    V_ENUM,
    V_PORT,
    V_SECONDS,
    V_KEEP,
    V_DELIVERY,
    V_TLSVER,
    V_FINGERPRINT,
    V_LOCKING,
    V_SIZE,
    V_COUNT,
    V_WORD, /* printable, no space (client id, tenant) */
    V_TEXT, /* printable, spaces allowed (scope) */
    V_URL,  /* https://... */
    V_RECIPIENTS,
    V_ADDRESS,
    V_REJECTED,
};

static const char *const tls_names[] = {"implicit", "starttls", "off", NULL};
static const char *const auth_names[] = {"auto",    "user",        "apop",        "plain",
                                         "login",   "cram-md5",    "scram-sha-1", "scram-sha-256",
                                         "xoauth2", "oauthbearer", "external",    NULL};
static const char *const fetch_names[] = {"new", "all", NULL};
static const char *const pipelining_names[] = {"auto", "on", "off", NULL};
static const char *const oauth2_names[] = {"none", "microsoft", "google", "custom", NULL};
static const char *const oauth2_flow_names[] = {"authorization_code", "device",
                                                "client_credentials", NULL};
static const char *const smtp_tls_names[] = {"off", "starttls", "implicit", NULL};
static const char *const smtp_auth_names[] = {"auto",        "plain",         "login", "cram-md5",
                                              "scram-sha-1", "scram-sha-256", NULL};

struct keydef {
    const char *name;
    enum vtype type;
    size_t off, size; /* where the value lives in struct account */
    const char *const *names;
};

#define OFF(f) offsetof(struct account, f), sizeof(((struct account *)0)->f)
static const struct keydef keys[] = {
    {"host", V_STR, OFF(host), NULL},
    {"port", V_PORT, OFF(port), NULL},
    {"user", V_STR, OFF(user), NULL},
    {"password", V_STR, OFF(password), NULL},
    {"passwordeval", V_STR, OFF(passwordeval), NULL},
    {"passwordeval_timeout", V_SECONDS, OFF(passwordeval_timeout), NULL},
    {"tls", V_ENUM, OFF(tls), tls_names},
    {"tls_verify", V_BOOL, OFF(tls_verify), NULL},
    {"tls_trust_file", V_PATH, OFF(tls_trust_file), NULL},
    {"tls_fingerprint", V_FINGERPRINT, OFF(tls_fingerprint), NULL},
    {"tls_min_version", V_TLSVER, OFF(tls_min_version), NULL},
    {"tls_cert_file", V_PATH, OFF(tls_cert_file), NULL},
    {"tls_key_file", V_PATH, OFF(tls_key_file), NULL},
    {"tls_host_override", V_STR, OFF(tls_host_override), NULL},
    {"auth", V_ENUM, OFF(auth), auth_names},
    {"allow_plaintext", V_BOOL, OFF(allow_plaintext), NULL},
    {"delivery", V_DELIVERY, OFF(delivery), NULL},
    {"mbox_locking", V_LOCKING, OFF(mbox_locking), NULL},
    {"mda_timeout", V_SECONDS, OFF(mda_timeout), NULL},
    {"received_header", V_BOOL, OFF(received_header), NULL},
    {"recipient", V_RECIPIENTS, OFF(recipients), NULL},
    {"smtp_helo", V_ADDRESS, OFF(smtp_helo), NULL},
    {"smtp_sender", V_ADDRESS, OFF(smtp_sender), NULL},
    {"smtp_tls", V_ENUM, OFF(smtp_tls), smtp_tls_names},
    {"smtp_tls_trust_file", V_PATH, OFF(smtp_tls_trust_file), NULL},
    {"smtp_rejected", V_REJECTED, OFF(smtp_rejected), NULL},
    {"smtp_connections", V_COUNT, OFF(smtp_connections), NULL},
    {"smtp_user", V_STR, OFF(smtp_user), NULL},
    {"smtp_password", V_STR, OFF(smtp_password), NULL},
    {"smtp_passwordeval", V_STR, OFF(smtp_passwordeval), NULL},
    {"smtp_auth", V_ENUM, OFF(smtp_auth), smtp_auth_names},
    {"pipelining", V_ENUM, OFF(pipelining), pipelining_names},
    {"keep", V_KEEP, OFF(keep), NULL},
    {"fetch", V_ENUM, OFF(fetch_all), fetch_names},
    {"max_size", V_SIZE, OFF(max_size), NULL},
    {"max_message_bytes", V_SIZE, OFF(max_message_bytes), NULL},
    {"max_messages", V_COUNT, OFF(max_messages), NULL},
    {"timeout", V_SECONDS, OFF(timeout), NULL},
    {"state_dir", V_PATH, OFF(state_dir), NULL},
    {"state_key", V_STR, OFF(state_key), NULL},
    {"oauth2", V_ENUM, OFF(oauth2), oauth2_names},
    {"oauth2_flow", V_ENUM, OFF(oauth2_flow), oauth2_flow_names},
    {"oauth2_client_id", V_WORD, OFF(oauth2_client_id), NULL},
    {"oauth2_client_secret", V_WORD, OFF(oauth2_client_secret), NULL},
    {"oauth2_client_secret_eval", V_STR, OFF(oauth2_client_secret_eval), NULL},
    {"oauth2_tenant", V_WORD, OFF(oauth2_tenant), NULL},
    {"oauth2_scope", V_TEXT, OFF(oauth2_scope), NULL},
    {"oauth2_authorize_url", V_URL, OFF(oauth2_authorize_url), NULL},
    {"oauth2_token_url", V_URL, OFF(oauth2_token_url), NULL},
    {"oauth2_device_url", V_URL, OFF(oauth2_device_url), NULL},
    {"oauth2_trust_file", V_PATH, OFF(oauth2_trust_file), NULL},
    {"oauth2_redirect_port", V_PORT, OFF(oauth2_redirect_port), NULL},
    {"status_dir", V_PATH, OFF(status_dir), NULL},
    {"poll_interval", V_SECONDS, OFF(poll_interval), NULL},
};
/* one bit per key in struct account's `set` */
_Static_assert(sizeof keys / sizeof keys[0] <= 64, "too many keys for account.set");
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= CONF_NKEYS, "struct account's origin[] must have a slot per key");

void conf_account_defaults(struct account *a)
{
    memset(a, 0, sizeof *a);
    a->tls = TLS_IMPLICIT;
    a->tls_verify = 1;
    a->tls_min_version = 12;
    a->auth = AUTH_AUTO;
    a->keep.mode = KEEP_OFF;
    a->timeout = 60;
    a->mbox_locking = MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL;
    a->mda_timeout = 300;
    a->passwordeval_timeout = 300;
    a->received_header = 1;
    a->max_message_bytes = CONF_MAX_MESSAGE_BYTES;
}

unsigned conf_port(const struct account *a)
{
    if (a->port) return (unsigned)a->port;
    return a->tls == TLS_IMPLICIT ? 995 : 110;
}

unsigned conf_smtp_connections(const struct account *a)
{
    if (a->smtp_connections) return (unsigned)a->smtp_connections;
    return a->delivery.kind == DELIVERY_LMTP ? CONF_LMTP_CONNECTIONS : 1;
}

/* ---- the parser ----------------------------------------------------- */

struct parser {
    struct config *cfg;
    const char *file;
    int line;
    struct err *e;
    struct account defaults;
    struct account *cur; /* account being filled, or &defaults */
    int in_section;
    int saw_password;
};

static int perr(struct parser *ps, const char *fmt, const char *a, const char *b)
{
    char msg[ERR_MSG_MAX];

    // cppcheck-suppress wrongPrintfScanfArgNum ; fmt uses at most two %s
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    if (ps->line == 0) return err_set(ps->e, ERR_USAGE, "%s: %s", ps->file, msg);
    return err_set(ps->e, ERR_USAGE, "%s:%d: %s", ps->file, ps->line, msg);
}

/* Split one line into words; quotes group, \" and \\ escape inside them. */
static int tokenize(struct parser *ps, char *s, char **tok, int *ntok)
{
    *ntok = 0;
    for (;;) {
        char *o;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (*s == '\0' || *s == '#') return 0;
        if (*ntok == CONF_MAX_TOKENS) return perr(ps, "too many words on one line", 0, 0);
        o = tok[(*ntok)++] = s;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0') return perr(ps, "unterminated quoted value", 0, 0);
                if (*s == '"') break;
                if (*s == '\\') {
                    s++;
                    if (*s != '"' && *s != '\\')
                        return perr(ps, "unknown escape in quoted value (only \\\" and \\\\)", 0,
                                    0);
                }
                *o++ = *s++;
            }
            s++;
            if (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r')
                return perr(ps, "text right after a closing quote", 0, 0);
        } else {
            while (*s && *s != ' ' && *s != '\t' && *s != '\r') {
                if (*s == '"') return perr(ps, "quote in the middle of a word", 0, 0);
                *o++ = *s++;
            }
        }
        if (*s) s++;
        *o = '\0';
    }
}

static const struct keydef *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* Edit distance (insert, delete, replace, swap two neighbours), capped:
 * anything above 3 is 4. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[40][40];

    if (la >= 40 || lb >= 40) return 4;
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] > 3 ? 4 : d[la][lb];
}

/* The key a typo most likely meant: the closest within a third of its
 * length (at least 1, at most 3 edits; '-' for '_' costs nothing); NULL
 * when none is close. */
static const char *likely_key(const char *name)
{
    static const char *const words[] = {"account", "defaults", "jobs"};
    const char *best = NULL;
    size_t bestd = 4, allow = strlen(name) / 3;
    char fixed[40];

    snprintf(fixed, sizeof fixed, "%s", name);
    for (char *p = fixed; *p; p++)
        if (*p == '-') *p = '_';
    if (allow < 1) allow = 1;
    if (allow > 3) allow = 3;
    for (size_t i = 0; i < NKEYS + 3; i++) {
        const char *k = i < NKEYS ? keys[i].name : words[i - NKEYS];
        size_t d = strcmp(fixed, k) == 0 ? 0 : distance(name, k);
        if (d < bestd) {
            bestd = d;
            best = k;
        }
    }
    return bestd <= allow ? best : NULL;
}

static int unknown_key(struct parser *ps, const char *name)
{
    const char *k = likely_key(name);

    if (k) return perr(ps, "unknown key `%s`; did you mean `%s`?", name, k);
    return perr(ps, "unknown key `%s`", name, 0);
}

/* Plain decimal, at most 9 digits. */
static int parse_ulong(const char *v, unsigned long *out)
{
    size_t n = strspn(v, "0123456789");

    if (n == 0 || n > 9 || v[n] != '\0') return -1;
    *out = strtoul(v, NULL, 10);
    return 0;
}

static int parse_bool(const char *v)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) return 1;
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) return 0;
    return -1;
}

static int enum_index(const char *const *names, const char *v)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], v)) return i;
    return -1;
}

static void enum_list(const char *const *names, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; names[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " | " : "", names[i]);
}

static int set_string(struct parser *ps, const char **slot, const char *v, int path)
{
    const char *s;

    if (path) {
        if (!(s = conf_expand_home(ps->cfg, v, ps->e))) {
            if (ps->e->kind == ERR_USAGE) err_prefix(ps->e, "%s:%d", ps->file, ps->line);
            return -1;
        }
    } else if (!(s = conf_strdup(ps->cfg, v))) {
        return err_set(ps->e, ERR_INTERNAL, "out of memory");
    }
    *slot = s;
    return 0;
}

static const char *const delivery_names[] = {"", "maildir", "mbox", "mda", "lmtp", "smtp", NULL};

int conf_set_delivery(struct config *cfg, struct account *a, const char *kind, const char *value,
                      const char *src, struct err *e)
{
    int i = enum_index(delivery_names, kind);
    char **argv;
    const char *v;

    if (i <= 0)
        return err_set(e, ERR_USAGE,
                       "%s: `%s` is not a delivery kind; use maildir DIR, mbox FILE, mda "
                       "COMMAND, lmtp SOCKET|HOST:PORT or smtp HOST[:PORT]",
                       src, kind);
    if (!value[0]) return err_set(e, ERR_USAGE, "%s: `delivery %s` needs a value", src, kind);
    if (i == DELIVERY_MDA) {
        /* Syntax only: the values of %F and the like come per message. */
        if (cmdsplit_argv(value, &(struct cmdsplit_vars){0}, &argv, e) < 0) {
            err_prefix(e, "%s", src);
            return -1;
        }
        cmdsplit_free(argv);
    }
    if (i == DELIVERY_LMTP || i == DELIVERY_SMTP) {
        struct esmtp probe;
        if (esmtp_init(&probe, i == DELIVERY_LMTP, value, NULL, 1000, e) < 0) {
            err_prefix(e, "%s", src);
            return -1;
        }
    }
    if (i == DELIVERY_MDA || i == DELIVERY_LMTP || i == DELIVERY_SMTP) {
        if (!(v = conf_strdup(cfg, value))) return err_set(e, ERR_INTERNAL, "out of memory");
    } else if (!(v = conf_expand_home(cfg, value, e))) {
        if (e->kind == ERR_USAGE) err_prefix(e, "%s", src);
        return -1;
    }
    a->delivery.kind = i;
    a->delivery.arg = v;
    return 0;
}

static int set_delivery(struct parser *ps, char **args, int nargs)
{
    char where[64];

    if (nargs != 2)
        return perr(ps,
                    "`delivery` takes a kind and a value, e.g. `delivery maildir ~/Mail` or "
                    "`delivery mda \"/usr/bin/procmail -d %%T\"` (quote values with spaces)",
                    0, 0);
    snprintf(where, sizeof where, "%s:%d", ps->file, ps->line);
    return conf_set_delivery(ps->cfg, ps->cur, args[0], args[1], where, ps->e);
}

/* An address or name that goes on an LMTP/SMTP command line: no space or
 * control byte (the line cannot be split), no <> (except exactly "<>" for
 * the null sender when null_ok), not empty, at most 255 bytes; 8-bit bytes
 * are allowed (SMTPUTF8). */
static int address_ok(const char *v, int null_ok)
{
    size_t n = strlen(v);

    if (null_ok && !strcmp(v, "<>")) return 1;
    if (n == 0 || n > 255 || v[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>') return 0;
    }
    return 1;
}

/* `recipient ADDRESS...`: kept as one space-separated string. */
static int set_recipients(struct parser *ps, char **args, int nargs)
{
    char buf[32 * 256 + 32];
    size_t o = 0;

    if (nargs < 1 || nargs > 32) return perr(ps, "`recipient` takes one to 32 addresses", 0, 0);
    for (int i = 0; i < nargs; i++) {
        if (!address_ok(args[i], 0))
            return perr(ps,
                        "bad address `%s` for `recipient`: one word of printable characters "
                        "without <>, at most 255 bytes",
                        args[i], 0);
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? " " : "", args[i]);
    }
    return set_string(ps, &ps->cur->recipients, buf, 0);
}

/* `smtp_rejected keep | delete | quarantine DIR`. */
static int set_rejected(struct parser *ps, char **args, int nargs)
{
    struct rejected_setting *r = &ps->cur->smtp_rejected;

    if (nargs == 1 && !strcmp(args[0], "keep")) {
        *r = (struct rejected_setting){REJECTED_KEEP, NULL};
        return 0;
    }
    if (nargs == 1 && !strcmp(args[0], "delete")) {
        *r = (struct rejected_setting){REJECTED_DELETE, NULL};
        return 0;
    }
    if (nargs == 2 && !strcmp(args[0], "quarantine") && args[1][0]) {
        r->mode = REJECTED_QUARANTINE;
        return set_string(ps, &r->dir, args[1], 1);
    }
    return perr(ps, "`smtp_rejected` takes keep, delete or quarantine DIR", 0, 0);
}

/* "dotlock,fcntl", "fcntl", "dotlock" or "none". */
static int set_locking(struct parser *ps, const char *v, int *out)
{
    char buf[64], *save = NULL;
    int bits = 0;

    if (!strcmp(v, "none")) {
        *out = 0;
        return 0;
    }
    snprintf(buf, sizeof buf, "%s", strlen(v) < sizeof buf ? v : "?");
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "dotlock"))
            bits |= MBOX_LOCK_DOTLOCK;
        else if (!strcmp(w, "fcntl"))
            bits |= MBOX_LOCK_FCNTL;
        else
            bits = -1;
        if (bits < 0) break;
    }
    if (bits <= 0)
        return perr(ps,
                    "bad value `%s` for `mbox_locking`: use dotlock,fcntl, dotlock, fcntl or "
                    "none",
                    v, 0);
    *out = bits;
    return 0;
}

static int set_keep(struct parser *ps, const char *v)
{
    int b = parse_bool(v);
    unsigned long secs;

    if (b >= 0) {
        ps->cur->keep.mode = b ? KEEP_ON : KEEP_OFF;
        return 0;
    }
    if (conf_parse_duration(v, &secs) < 0 || secs == 0)
        return perr(ps, "bad value `%s` for `keep`: use on, off or a duration like 14d", v, 0);
    ps->cur->keep.mode = KEEP_FOR;
    ps->cur->keep.seconds = secs;
    return 0;
}

/* A number: a port, seconds, a size or a count. */
static int set_number(struct parser *ps, const struct keydef *k, const char *v, void *slot)
{
    unsigned long n;

    switch (k->type) {
    case V_PORT:
        if (parse_ulong(v, &n) < 0 || n == 0 || n > 65535)
            return perr(ps, "bad port `%s`: use a number from 1 to 65535", v, 0);
        break;
    case V_SECONDS:
        if (conf_parse_duration(v, &n) < 0 || n == 0 || n > 86400)
            return perr(ps, "bad value `%s` for `%s`: use seconds from 1 to 86400", v, k->name);
        break;
    case V_SIZE:
        if (conf_parse_size(v, (uint64_t *)slot) < 0 || *(uint64_t *)slot == 0)
            return perr(ps, "bad value `%s` for `%s`: use a size like 10M, 512k or 20000", v,
                        k->name);
        return 0;
    default: /* V_COUNT */
        if (parse_ulong(v, &n) < 0 || n == 0)
            return perr(ps, "bad value `%s` for `%s`: use a positive number", v, k->name);
        _Static_assert(CONF_SMTP_CONNECTIONS_MAX == 16, "the message below says 16");
        if (slot == (void *)&ps->cur->smtp_connections && n > CONF_SMTP_CONNECTIONS_MAX)
            return perr(ps, "bad value `%s` for `%s`: at most 16", v, k->name);
        break;
    }
    *(unsigned long *)slot = n;
    return 0;
}

/* One of a fixed set of words: on/off, an enum's names, a TLS version. */
static int set_choice(struct parser *ps, const struct keydef *k, const char *v, int *slot)
{
    char list[128], msg[256];
    int i;

    switch (k->type) {
    case V_BOOL:
        if ((i = parse_bool(v)) < 0)
            return perr(ps, "bad value `%s` for `%s`: use on or off", v, k->name);
        break;
    case V_TLSVER:
        if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
            return perr(ps, "bad value `%s` for `tls_min_version`: use 1.2 or 1.3", v, 0);
        i = v[2] == '3' ? 13 : 12;
        break;
    default: /* V_ENUM */
        if ((i = enum_index(k->names, v)) < 0) {
            enum_list(k->names, list, sizeof list);
            snprintf(msg, sizeof msg, "bad value `%s` for `%s`: use %s", v, k->name, list);
            return perr(ps, "%s", msg, 0);
        }
        break;
    }
    *slot = i;
    return 0;
}

/* Printable text, one word or with spaces, never empty. */
static int set_printable(struct parser *ps, const struct keydef *k, const char *v,
                         const char **slot)
{
    unsigned char lowest = k->type == V_WORD ? 0x21 : 0x20;

    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < lowest || (unsigned char)*c >= 0x7f)
            return perr(ps,
                        k->type == V_WORD ? "`%s` must be printable ASCII without spaces"
                                          : "`%s` must be printable ASCII",
                        k->name, 0);
    if (!v[0]) return perr(ps, "`%s` may not be empty", k->name, 0);
    return set_string(ps, slot, v, 0);
}

/* A string with a shape of its own: a fingerprint, an https URL, an address. */
static int set_shaped(struct parser *ps, const struct keydef *k, const char *v, const char **slot)
{
    char norm[65], msg[ERR_MSG_MAX];
    struct httpmsg_url u;

    switch (k->type) {
    case V_FINGERPRINT:
        if (strlen(v) > 200 || tls_parse_fingerprint(v, norm) < 0)
            return perr(ps,
                        "`tls_fingerprint` must be a SHA-256 fingerprint (64 hex digits, "
                        "colons optional)",
                        0, 0);
        return set_string(ps, slot, norm, 0);
    case V_URL:
        if (httpmsg_url_parse(v, k->name, &u, ps->e) < 0) {
            snprintf(msg, sizeof msg, "%s", ps->e->msg);
            return perr(ps, "%s (write it as https://HOST[:PORT]/PATH)", msg, 0);
        }
        return set_string(ps, slot, v, 0);
    default: /* V_ADDRESS */
        if (!address_ok(v, !strcmp(k->name, "smtp_sender")))
            return perr(ps,
                        "bad value `%s` for `%s`: one word of printable characters without "
                        "<>, at most 255 bytes",
                        v, k->name);
        return set_string(ps, slot, v, 0);
    }
}

/* One key's value(s) into the account being read, by the key's type. */
static int set_value(struct parser *ps, const struct keydef *k, char **args, int nargs)
{
    void *slot = (char *)ps->cur + k->off;
    const char *v = args[0];

    if (k->type == V_DELIVERY) return set_delivery(ps, args, nargs);
    if (k->type == V_RECIPIENTS) return set_recipients(ps, args, nargs);
    if (k->type == V_REJECTED) return set_rejected(ps, args, nargs);
    if (nargs != 1)
        return perr(ps, "`%s` takes one value (put values with spaces in double quotes)", k->name,
                    0);
    switch (k->type) {
    case V_STR:
    case V_PATH:
        if (!v[0]) return perr(ps, "`%s` may not be empty", k->name, 0);
        return set_string(ps, (const char **)slot, v, k->type == V_PATH);
    case V_BOOL:
    case V_ENUM:
    case V_TLSVER:
        return set_choice(ps, k, v, (int *)slot);
    case V_PORT:
    case V_SECONDS:
    case V_SIZE:
    case V_COUNT:
        return set_number(ps, k, v, slot);
    case V_KEEP:
        return set_keep(ps, v);
    case V_LOCKING:
        return set_locking(ps, v, (int *)slot);
    case V_WORD:
    case V_TEXT:
        return set_printable(ps, k, v, (const char **)slot);
    case V_FINGERPRINT:
    case V_URL:
    case V_ADDRESS:
        return set_shaped(ps, k, v, (const char **)slot);
    default: /* the multi-value types, handled above */
        return 0;
    }
}

/* Overlay the keys a parent set onto the new account. */
static void inherit(struct account *dst, const struct account *parent)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (parent->set & (1ULL << i)) {
            memcpy((char *)dst + keys[i].off, (const char *)parent + keys[i].off, keys[i].size);
            dst->origin[i] = parent->origin[i];
        }
    dst->set |= parent->set;
}

/* One value into the digest: strings by content (NULL apart from ""). */
/* Key types whose value is a string (a pointer in struct account). */
static int is_string_type(enum vtype type)
{
    return type == V_STR || type == V_PATH || type == V_FINGERPRINT || type == V_WORD ||
           type == V_TEXT || type == V_URL || type == V_ADDRESS || type == V_RECIPIENTS;
}

static void digest_str(EVP_MD_CTX *md, const char *v)
{
    static const unsigned char none = 0xff;

    if (v)
        EVP_DigestUpdate(md, v, strlen(v) + 1);
    else
        EVP_DigestUpdate(md, &none, 1);
}

/* The value's content, never a pointer's bytes (those differ at every
 * reading: the daemon's SIGHUP would take every account for changed). */
static void digest_value(EVP_MD_CTX *md, const struct account *a, const struct keydef *k)
{
    const char *slot = (const char *)a + k->off;

    if (is_string_type(k->type)) {
        digest_str(md, *(const char *const *)(const void *)slot);
    } else if (k->type == V_DELIVERY) {
        const struct delivery_setting *d = (const void *)slot;
        EVP_DigestUpdate(md, &d->kind, sizeof d->kind);
        digest_str(md, d->arg);
    } else if (k->type == V_REJECTED) {
        const struct rejected_setting *r = (const void *)slot;
        EVP_DigestUpdate(md, &r->mode, sizeof r->mode);
        digest_str(md, r->dir);
    } else if (k->type == V_KEEP) {
        const struct keep_setting *kp = (const void *)slot;
        EVP_DigestUpdate(md, &kp->mode, sizeof kp->mode);
        EVP_DigestUpdate(md, &kp->seconds, sizeof kp->seconds);
    } else {
        EVP_DigestUpdate(md, slot, k->size); /* numbers: no padding inside */
    }
}

void conf_account_digest(const struct account *a, unsigned char out[CONF_DIGEST_LEN])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;

    memset(out, 0, CONF_DIGEST_LEN);
    if (!md) return;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(md, a->name, strlen(a->name) + 1);
        for (size_t i = 0; i < NKEYS; i++) {
            EVP_DigestUpdate(md, keys[i].name, strlen(keys[i].name) + 1);
            digest_value(md, a, &keys[i]);
        }
        EVP_DigestFinal_ex(md, out, &n);
    }
    EVP_MD_CTX_free(md);
}

struct account *conf_find(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (!strcmp(cfg->accounts[i].name, name)) return &cfg->accounts[i];
    return NULL;
}

struct account *conf_add_account(struct config *cfg, const struct account *a)
{
    struct account *n = realloc(cfg->accounts, (cfg->naccounts + 1) * sizeof *n);

    if (!n) return NULL;
    cfg->accounts = n;
    n[cfg->naccounts] = *a;
    return &n[cfg->naccounts++];
}

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._@+-", *s)) return 0;
    return 1;
}

/* What is wrong with the account's OAuth2 settings, or NULL. */
static const char *oauth2_problem(const struct account *a)
{
    if (a->oauth2 == OAUTH2_NONE) {
        if (a->oauth2_client_id || a->oauth2_token_url)
            return "has oauth2_ settings but no `oauth2` (microsoft, google or custom)";
        return NULL;
    }
    if (!a->oauth2_client_id)
        return "has `oauth2` but no `oauth2_client_id` (the application's id at the provider)";
    if (a->oauth2 == OAUTH2_CUSTOM && !a->oauth2_token_url)
        return "has `oauth2 custom` but no `oauth2_token_url`";
    if (a->oauth2_tenant && a->oauth2 != OAUTH2_MICROSOFT)
        return "has `oauth2_tenant`, which only `oauth2 microsoft` uses";
    if (a->auth != AUTH_AUTO && a->auth != AUTH_XOAUTH2 && a->auth != AUTH_OAUTHBEARER)
        return "has `oauth2` and an `auth` that sends no token: use auth auto, xoauth2 or "
               "oauthbearer";
    if (a->password || a->passwordeval)
        return "has both `oauth2` (popfetch gets the token) and `password`/`passwordeval`: "
               "keep one";
    if (a->oauth2_client_secret && a->oauth2_client_secret_eval)
        return "has both `oauth2_client_secret` and `oauth2_client_secret_eval`: keep one";
    if (a->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS && !a->oauth2_client_secret &&
        !a->oauth2_client_secret_eval)
        return "has `oauth2_flow client_credentials` but no `oauth2_client_secret` (or "
               "`oauth2_client_secret_eval`)";
    return NULL;
}

/* Keys whose value is a secret: the config file must be private, and
 * --dump-config shows ****. */
static int is_secret_key(const char *name)
{
    return !strcmp(name, "password") || !strcmp(name, "oauth2_client_secret") ||
           !strcmp(name, "smtp_password");
}

/* The SMTP AUTH keys together: NULL if they fit. */
static const char *smtp_auth_problem(const struct account *a)
{
    int secret = a->smtp_password || a->smtp_passwordeval;

    if (!a->smtp_user && (secret || a->smtp_auth != SMTP_AUTH_AUTO))
        return "has `smtp_password`, `smtp_passwordeval` or `smtp_auth` but no `smtp_user`";
    if (!a->smtp_user) return NULL;
    if (a->delivery.kind != DELIVERY_SMTP)
        return "has `smtp_user`, which only `delivery smtp` uses (AUTH to a relay)";
    if (a->smtp_password && a->smtp_passwordeval)
        return "has both `smtp_password` and `smtp_passwordeval`: keep one";
    return NULL;
}

/* What keeps the account from being used, or NULL: a required key missing
 * or keys that do not fit together. The one list of these rules, for the
 * config file's accounts and the command line's. */
static const char *account_problem(const struct account *a)
{
    const char *problem;

    if (!a->host) return "has no `host`";
    if (!a->user) return "has no `user`";
    if (a->delivery.kind == DELIVERY_NONE) return "has no `delivery`";
    if (a->auth == AUTH_EXTERNAL && !a->tls_cert_file) return "has no `tls_cert_file`";
    if ((problem = oauth2_problem(a)) || (problem = smtp_auth_problem(a))) return problem;
    return NULL;
}

/* Check the account just finished, naming where it was defined. */
static int finish_account(struct parser *ps)
{
    const struct account *a = ps->cur;
    const char *problem;

    if (!ps->in_section || a == &ps->defaults) return 0;
    if (!(problem = account_problem(a))) return 0;
    return err_set(ps->e, ERR_USAGE, "%s:%d: account %s %s", a->file, a->line, a->name, problem);
}

/* "account NAME [: PARENT [PARENT...]]", words already split. */
static int start_account(struct parser *ps, char **tok, int ntok)
{
    char joined[CONF_LINE_MAX + CONF_MAX_TOKENS + 1], *colon, *name, *rest, *save = NULL;
    struct account a;
    size_t o = 0;

    if (finish_account(ps) < 0) return -1;
    joined[0] = '\0';
    for (int i = 1; i < ntok; i++)
        o += (size_t)snprintf(joined + o, sizeof joined - o, "%s ", tok[i]);
    colon = strchr(joined, ':');
    if (colon) *colon = '\0';
    name = strtok_r(joined, " ", &save);
    if (!name || !valid_name(name) || strtok_r(NULL, " ", &save))
        return perr(ps,
                    "`account` needs one name of letters, digits and ._@+- "
                    "(then optionally `: PARENT`)",
                    0, 0);
    const struct account *twice = conf_find(ps->cfg, name);
    if (twice) {
        char first[CONF_LINE_MAX];
        snprintf(first, sizeof first, "%s:%d", twice->file, twice->line);
        return perr(ps, "account %s is defined twice (first at %s)", name, first);
    }
    a = ps->defaults;
    a.set = 0;
    if (colon) {
        int nparents = 0;
        for (rest = strtok_r(colon + 1, " ,", &save); rest; rest = strtok_r(NULL, " ,", &save)) {
            const struct account *parent = conf_find(ps->cfg, rest);
            if (!parent)
                return perr(ps, "account %s inherits from `%s`, which is not defined above it",
                            name, rest);
            inherit(&a, parent);
            nparents++;
        }
        if (nparents == 0)
            return perr(ps, "`:` after the account name needs a parent account", 0, 0);
    }
    a.name = conf_strdup(ps->cfg, name);
    a.file = ps->file;
    a.line = ps->line;
    if (!a.name || !(ps->cur = conf_add_account(ps->cfg, &a)))
        return err_set(ps->e, ERR_INTERNAL, "out of memory");
    ps->in_section = 1;
    return 0;
}

/* `jobs N` (defaults only): how many accounts run at once. */
static int set_jobs(struct parser *ps, char **tok, int ntok)
{
    unsigned long n;

    if (!ps->in_section || ps->cur != &ps->defaults)
        return perr(ps, "`jobs` belongs in the `defaults` section", 0, 0);
    if (ntok != 2 || parse_ulong(tok[1], &n) < 0 || n == 0 || n > CONF_MAX_JOBS)
        return perr(ps, "`jobs` needs a number from 1 to 64", 0, 0);
    ps->cfg->jobs = n;
    return 0;
}

static int handle_line(struct parser *ps, char *s)
{
    char *tok[CONF_MAX_TOKENS];
    int ntok;
    const struct keydef *k;

    if (tokenize(ps, s, tok, &ntok) < 0) return -1;
    if (ntok == 0) return 0;
    if (!strcmp(tok[0], "defaults")) {
        if (ntok != 1) return perr(ps, "`defaults` takes no value", 0, 0);
        if (finish_account(ps) < 0) return -1;
        ps->cur = &ps->defaults;
        ps->in_section = 1;
        return 0;
    }
    if (!strcmp(tok[0], "account")) return start_account(ps, tok, ntok);
    if (!strcmp(tok[0], "jobs")) return set_jobs(ps, tok, ntok);
    if (!(k = find_key(tok[0]))) return unknown_key(ps, tok[0]);
    if (!ps->in_section)
        return perr(ps, "`%s` outside any section: start with `defaults` or `account NAME`", tok[0],
                    0);
    if (ntok < 2) return perr(ps, "`%s` needs a value", tok[0], 0);
    if (set_value(ps, k, tok + 1, ntok - 1) < 0) return -1;
    if (is_secret_key(k->name)) ps->saw_password = 1;
    ps->cur->set |= 1ULL << (k - keys);
    ps->cur->origin[k - keys] = ps->line;
    return 0;
}

/* One file (or stdin) of the config into the parser, which keeps the
 * `defaults` and the accounts of the files before it. Each file starts
 * outside any section and ends its last account. */
static int parse_file(struct parser *ps, const char *name, const char *text, size_t len,
                      int private_file)
{
    char line[CONF_LINE_MAX + 1];
    size_t pos = 0;

    if (!(ps->file = conf_strdup(ps->cfg, name)))
        return err_set(ps->e, ERR_INTERNAL, "out of memory");
    ps->line = 0;
    ps->cur = &ps->defaults;
    ps->in_section = 0;
    ps->saw_password = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

        ps->line++;
        if (n > CONF_LINE_MAX) return perr(ps, "line too long", 0, 0);
        if (memchr(text + pos, '\0', n)) return perr(ps, "NUL byte in the config file", 0, 0);
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (handle_line(ps, line) < 0) return -1;
    }
    if (finish_account(ps) < 0) return -1;
    if (ps->saw_password && !private_file) {
        err_set(ps->e, ERR_CONFIG_PERM, "%s holds a password but others can read it", name);
        err_hint(ps->e, "run `chmod 600 %s`, or use `passwordeval` instead of `password`", name);
        return -1;
    }
    return 0;
}

static void parser_init(struct parser *ps, struct config *cfg, struct err *e)
{
    memset(ps, 0, sizeof *ps);
    ps->cfg = cfg;
    ps->e = e;
    conf_account_defaults(&ps->defaults);
    ps->cur = &ps->defaults;
}

static int parse_text(const char *name, const char *text, size_t len, int private_file,
                      struct config *cfg, struct err *e)
{
    struct parser ps;

    parser_init(&ps, cfg, e);
    if (!(cfg->path = conf_strdup(cfg, name))) return err_set(e, ERR_INTERNAL, "out of memory");
    return parse_file(&ps, name, text, len, private_file);
}

int conf_set_key(struct config *cfg, struct account *a, const char *key, const char *value,
                 const char *src, struct err *e)
{
    struct parser ps = {.cfg = cfg, .file = src, .e = e, .cur = a, .in_section = 1};
    const struct keydef *k = find_key(key);
    char *args[1];
    int rc;

    if (!k) return err_set(e, ERR_USAGE, "%s: no such setting `%s`", src, key);
    if (!(args[0] = strdup(value))) return err_set(e, ERR_INTERNAL, "out of memory");
    rc = set_value(&ps, k, args, 1);
    free(args[0]);
    if (rc == 0) a->set |= 1ULL << (k - keys);
    if (rc == 0) a->origin[k - keys] = CONF_FROM_CLI;
    return rc;
}

int conf_key_index(const char *name)
{
    const struct keydef *k = find_key(name);

    return k ? (int)(k - keys) : -1;
}

static void describe_keep(const struct keep_setting *k, char *val, size_t len)
{
    if (k->mode != KEEP_FOR)
        snprintf(val, len, "%s", k->mode == KEEP_ON ? "on" : "off");
    else if (k->seconds % 86400 == 0)
        snprintf(val, len, "%lud", k->seconds / 86400);
    else
        snprintf(val, len, "%lus", k->seconds);
}

/* A string value as the config writes it: quoted when it holds a space. */
static void describe_str(const char *v, char *val, size_t len)
{
    if (!v)
        snprintf(val, len, "(none)");
    else
        snprintf(val, len, strpbrk(v, " \t\"#") ? "\"%s\"" : "%s", v);
}

/* A count, a time or a port; 0 is "(none)". */
static void describe_count(unsigned long v, char *val, size_t len)
{
    if (!v)
        snprintf(val, len, "(none)");
    else
        snprintf(val, len, "%lu", v);
}

static void describe_delivery(const struct delivery_setting *d, char *val, size_t len)
{
    char arg[CONF_LINE_MAX];

    describe_str(d->arg, arg, sizeof arg);
    snprintf(val, len, "%s %s",
             d->kind > DELIVERY_NONE && d->kind <= DELIVERY_SMTP ? delivery_names[d->kind]
                                                                 : "(none)",
             d->arg ? arg : "");
}

static void describe_rejected(const struct rejected_setting *r, char *val, size_t len)
{
    char dir[CONF_LINE_MAX];

    describe_str(r->dir, dir, sizeof dir);
    snprintf(val, len, "%s%s%s",
             r->mode == REJECTED_QUARANTINE ? "quarantine"
             : r->mode == REJECTED_DELETE   ? "delete"
                                            : "keep",
             r->dir ? " " : "", r->dir ? dir : "");
}

/* A port, seconds, a count or a size; the port and smtp_connections keys
 * show the value in use (their default depends on other keys). */
static void describe_number(const struct account *a, const struct keydef *k, const void *slot,
                            char *val, size_t len)
{
    if (k->type == V_PORT && !strcmp(k->name, "port"))
        snprintf(val, len, "%u", conf_port(a));
    else if (slot == (const void *)&a->smtp_connections)
        snprintf(val, len, "%u", conf_smtp_connections(a));
    else if (k->type != V_SIZE)
        describe_count(*(const unsigned long *)slot, val, len);
    else if (!*(const uint64_t *)slot)
        snprintf(val, len, "(none)");
    else
        snprintf(val, len, "%llu", (unsigned long long)*(const uint64_t *)slot);
}

static void describe_locking(int b, char *val, size_t len)
{
    snprintf(val, len, "%s",
             b == (MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL) ? "dotlock,fcntl"
             : b == MBOX_LOCK_DOTLOCK                   ? "dotlock"
             : b == MBOX_LOCK_FCNTL                     ? "fcntl"
                                                        : "none");
}

int conf_describe(const struct account *a, size_t i, const char **name, char *val, size_t len,
                  int *origin)
{
    const struct keydef *k = &keys[i];
    const void *slot = (const char *)a + (i < NKEYS ? k->off : 0);

    if (i >= NKEYS) return -1;
    *name = k->name;
    *origin = a->origin[i];
    switch (k->type) {
    case V_STR:
    case V_PATH:
    case V_FINGERPRINT:
    case V_WORD:
    case V_TEXT:
    case V_URL:
    case V_ADDRESS:
        if ((is_secret_key(k->name)) && *(const char *const *)slot)
            snprintf(val, len, "****");
        else
            describe_str(*(const char *const *)slot, val, len);
        break;
    case V_RECIPIENTS: /* words, as the key takes them */
        snprintf(val, len, "%s",
                 *(const char *const *)slot ? *(const char *const *)slot : "(none)");
        break;
    case V_BOOL:
        snprintf(val, len, "%s", *(const int *)slot ? "on" : "off");
        break;
    case V_ENUM:
        snprintf(val, len, "%s", k->names[*(const int *)slot]);
        break;
    case V_PORT:
    case V_SECONDS:
    case V_COUNT:
    case V_SIZE:
        describe_number(a, k, slot, val, len);
        break;
    case V_KEEP:
        describe_keep(slot, val, len);
        break;
    case V_LOCKING:
        describe_locking(*(const int *)slot, val, len);
        break;
    case V_TLSVER:
        snprintf(val, len, "%s", *(const int *)slot == 13 ? "1.3" : "1.2");
        break;
    case V_DELIVERY:
        describe_delivery(slot, val, len);
        break;
    case V_REJECTED:
        describe_rejected(slot, val, len);
        break;
    }
    return 0;
}

int conf_check_account(const struct account *a, struct err *e)
{
    const char *problem = account_problem(a);

    if (!problem) return 0;
    return err_set(e, ERR_USAGE, "account %s %s", a->name, problem);
}

int conf_parse(const char *name, const char *text, size_t len, int private_file, struct config *cfg,
               struct err *e)
{
    memset(cfg, 0, sizeof *cfg); /* as conf_load: whatever cfg held is not ours */
    if (parse_text(name, text, len, private_file, cfg, e) == 0) return 0;
    conf_free(cfg); /* a failed load leaves nothing behind */
    return -1;
}

/* Read a config file that must keep fileperm.h's rule: its text and
 * whether it is private (for the password rule). */
static int read_file(const char *path, char **text, size_t *len, int *private_file, struct err *e)
{
    struct stat st;

    if (textfile_read(path, CONF_MAX_BYTES, "config", text, len, &st, e) < 0) {
        if (errno == ENOENT && e->kind == ERR_USAGE)
            err_hint(e, "create it (see `man popfetchrc`) or name one with -f FILE");
        return -1;
    }
    /* Its passwordeval runs as us: only we (or root) may be able to write it. */
    if (fileperm_check_stat(&st, "config file", path, e) < 0) {
        textfile_free(*text, *len);
        return -1;
    }
    *private_file = (st.st_mode & 0044) == 0;
    return 0;
}

static int load_file(struct parser *ps, const char *path)
{
    char *text;
    size_t len;
    int private_file, rc;

    if (read_file(path, &text, &len, &private_file, ps->e) < 0) return -1;
    rc = parse_file(ps, path, text, len, private_file);
    textfile_free(text, len);
    return rc;
}

/* -f -: the config from standard input, which no other user can have
 * written (the file rules do not apply). */
static int load_stdin(struct parser *ps)
{
    size_t cap = 65536, len = 0;
    char *text = malloc(cap);
    int rc;

    if (!text) return err_set(ps->e, ERR_INTERNAL, "out of memory");
    for (;;) {
        ssize_t r;
        if (len == cap) {
            char *n = cap >= CONF_MAX_BYTES ? NULL : realloc(text, cap * 2);
            if (!n) {
                textfile_free(text, len);
                return err_set(ps->e, ERR_USAGE,
                               "the config on standard input is larger than %d bytes",
                               CONF_MAX_BYTES);
            }
            text = n;
            cap *= 2;
        }
        r = read(STDIN_FILENO, text + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int saved = errno;
            textfile_free(text, len);
            return err_set(ps->e, ERR_USAGE, "cannot read the config from standard input: %s",
                           strerror(saved));
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    rc = parse_file(ps, "stdin", text, len, 1);
    textfile_free(text, len);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the *.conf files in dir (not hidden), sorted as bytes;
 * the directory must keep fileperm.h's rule (a drop-in can run commands). */
static int conf_dir_names(const char *dir, char ***names, size_t *n, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    size_t cap = 0;

    *names = NULL;
    *n = 0;
    if (fd < 0)
        return err_set(e, ERR_USAGE, "cannot read the config directory %s: %s", dir,
                       strerror(errno));
    if (fileperm_check_fd(fd, "config directory", dir, e) < 0) {
        close(fd);
        return -1;
    }
    if (!(d = fdopendir(fd))) {
        err_set(e, ERR_USAGE, "cannot read the config directory %s: %s", dir, strerror(errno));
        close(fd);
        return -1;
    }
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0) continue;
        if (*n == CONF_MAX_DROPINS) {
            closedir(d);
            return err_set(e, ERR_USAGE, "%s holds more than %d *.conf files", dir,
                           CONF_MAX_DROPINS);
        }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(*names, ncap * sizeof *nn);
            if (!nn) {
                closedir(d);
                return err_set(e, ERR_INTERNAL, "out of memory");
            }
            *names = nn;
            cap = ncap;
        }
        if (!((*names)[*n] = strdup(de->d_name))) {
            closedir(d);
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, by_name);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Every *.conf in dir, in name order. */
static int load_dir(struct parser *ps, const char *dir)
{
    char **names, path[4096];
    size_t n;
    int rc = 0;

    if (conf_dir_names(dir, &names, &n, ps->e) < 0) {
        free_names(names, n);
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
            rc = err_set(ps->e, ERR_USAGE, "the path %s/%s is too long", dir, names[i]);
        else
            rc = load_file(ps, path);
    }
    free_names(names, n);
    return rc;
}

int conf_dropin_dir(char *buf, size_t len, struct err *e)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    char home[4096];

    if (xdg && *xdg) {
        if ((size_t)snprintf(buf, len, "%s/popfetch/config.d", xdg) < len) return 0;
        return err_set(e, ERR_USAGE, "$XDG_CONFIG_HOME is too long");
    }
    if (paths_home(home, sizeof home, e) < 0) return -1;
    if ((size_t)snprintf(buf, len, "%s/.config/popfetch/config.d", home) < len) return 0;
    return err_set(e, ERR_USAGE, "the home directory's path is too long");
}

/* No -f: the config file (if there is one) and then the drop-ins (if
 * their directory exists); at least one of them. Without a home directory
 * there are no drop-ins, and a config file only under $XDG_CONFIG_HOME. */
static int load_default(struct parser *ps)
{
    char main_path[4096], dir[4096];
    struct stat st;
    struct err ignored;
    int have_dir;

    if (paths_default_config(main_path, sizeof main_path, ps->e) < 0) return -1;
    have_dir = conf_dropin_dir(dir, sizeof dir, &ignored) == 0;
    have_dir = have_dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (!(ps->cfg->path =
              conf_strdup(ps->cfg, have_dir && access(main_path, F_OK) < 0 ? dir : main_path)))
        return err_set(ps->e, ERR_INTERNAL, "out of memory");
    /* neither file nor drop-ins: name both places a new user may have meant */
    if (!have_dir && access(main_path, F_OK) < 0 && errno == ENOENT) return paths_no_config(ps->e);
    if ((!have_dir || access(main_path, F_OK) == 0) && load_file(ps, main_path) < 0) return -1;
    return have_dir ? load_dir(ps, dir) : 0;
}

int conf_load(const char *path, struct config *cfg, struct err *e)
{
    struct parser ps;
    struct stat st;
    int rc;

    memset(cfg, 0, sizeof *cfg);
    parser_init(&ps, cfg, e);
    if (!path) {
        rc = load_default(&ps);
    } else if (!(cfg->path = conf_strdup(cfg, strcmp(path, "-") ? path : "stdin"))) {
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    } else if (!strcmp(path, "-")) {
        rc = load_stdin(&ps);
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = load_dir(&ps, path);
    } else {
        rc = load_file(&ps, path);
    }
    if (rc < 0) conf_free(cfg); /* a failed load leaves nothing behind */
    return rc;
}
