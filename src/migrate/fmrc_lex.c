/*
 * fmrc_lex — the fetchmailrc converter's lexer (see fmrc.h): fetchmail's
 * tokens as its rcfile_l.l makes them, and the token stream the parser
 * reads, with one token of lookahead.
 *
 * The longest match wins (so `"abc"def` is one bare word), a keyword is a
 * whole word matched case-sensitively, and the word after `user`,
 * `pass[word]`, `is`, `to` or `=` is always a string (flex state NAME), as
 * is `password` after `auth` an auth type (state AUTH). "..." and '...'
 * strings may span lines; fetchmail's backslash escapes apply to quoted and
 * bare strings alike; `#` comments, the noise words and , ; : are skipped.
 * Owns the syntax error messages (name:line) for the parser too.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmrc.h"

/* ---- the keywords ------------------------------------------------------- */

struct word {
    const char *text;
    short kw, val;
};

/* Every keyword of rcfile_l.l, spelled out (flex's `user(name)?` is two). */
static const struct word words[] = {
    {"set", K_SET, 0},
    {"logfile", K_LOGFILE, 0},
    {"idfile", K_IDFILE, 0},
    {"pidfile", K_PIDFILE, 0},
    {"daemon", K_DAEMON, 0},
    {"syslog", K_SYSLOG, 0},
    {"invisible", K_INVISIBLE, 0},
    {"showdots", K_SHOWDOTS, 0},
    {"postmaster", K_POSTMASTER, 0},
    {"bouncemail", K_BOUNCEMAIL, 0},
    {"spambounce", K_SPAMBOUNCE, 0},
    {"softbounce", K_SOFTBOUNCE, 0},
    {"warnings", K_WARNINGS, 0},
    {"tracepolls", K_TRACEPOLLS, 0},
    {"defaults", K_DEFAULTS, 0},
    {"server", K_POLL, 0},
    {"poll", K_POLL, 0},
    {"skip", K_SKIP, 0},
    {"via", K_VIA, 0},
    {"aka", K_AKA, 0},
    {"local", K_LOCALDOMAINS, 0},
    {"localdomains", K_LOCALDOMAINS, 0},
    {"proto", K_PROTOCOL, 0},
    {"protocol", K_PROTOCOL, 0},
    {"service", K_SERVICE, 0},
    {"port", K_PORT, 0},
    {"interval", K_INTERVAL, 0},
    {"preauth", K_AUTH, 0},
    {"preauthenticate", K_AUTH, 0},
    {"auth", K_AUTH, 0},
    {"authenticate", K_AUTH, 0},
    {"any", K_AUTHTYPE, A_ANY},
    {"gssapi", K_AUTHTYPE, A_GSSAPI},
    {"kerberos4", K_AUTHTYPE, A_KERBEROS},
    {"kerberos_v4", K_AUTHTYPE, A_KERBEROS},
    {"kerberos5", K_AUTHTYPE, A_KERBEROS},
    {"kerberos_v5", K_AUTHTYPE, A_KERBEROS},
    {"kerberos", K_AUTHTYPE, A_KERBEROS},
    {"ssh", K_AUTHTYPE, A_SSH},
    {"implicit", K_AUTHTYPE, A_SSH},
    {"external", K_AUTHTYPE, A_EXTERNAL},
    {"otp", K_AUTHTYPE, A_OTP},
    {"opie", K_AUTHTYPE, A_OTP},
    {"cram", K_AUTHTYPE, A_CRAM_MD5},
    {"cram-md5", K_AUTHTYPE, A_CRAM_MD5},
    {"msn", K_AUTHTYPE, A_MSN},
    {"ntlm", K_AUTHTYPE, A_NTLM},
    {"oauthbearer", K_AUTHTYPE, A_OAUTHBEARER}, /* fetchmail 7 */
    {"xoauth2", K_AUTHTYPE, A_XOAUTH2},
    {"timeout", K_TIMEOUT, 0},
    {"idletimeout", K_IDLETIMEOUT, 0},
    {"envelope", K_ENVELOPE, 0},
    {"qvirtual", K_QVIRTUAL, 0},
    {"principal", K_PRINCIPAL, 0},
    {"esmtpname", K_ESMTPNAME, 0},
    {"esmtppassword", K_ESMTPPASSWORD, 0},
    {"bad-header", K_BADHEADER, 0},
    {"accept", K_ACCEPT, 0},
    {"reject", K_REJECT, 0},
    {"user", K_USER, 0},
    {"username", K_USER, 0},
    {"pass", K_PASSWORD, 0},
    {"password", K_PASSWORD, 0},
    {"passwordfile", K_PASSWORDFILE, 0}, /* fetchmail 7 */
    {"passwordfd", K_PASSWORDFD, 0},
    {"folder", K_FOLDER, 0},
    {"folders", K_FOLDER, 0},
    {"smtp", K_SMTPHOST, 0},
    {"smtphost", K_SMTPHOST, 0},
    {"fetchdomains", K_FETCHDOMAINS, 0},
    {"smtpaddress", K_SMTPADDRESS, 0},
    {"smtpname", K_SMTPNAME, 0},
    {"antispam", K_ANTISPAM, 0},
    {"mda", K_MDA, 0},
    {"bsmtp", K_BSMTP, 0},
    {"lmtp", K_LMTP, 0},
    {"pre", K_PRECONNECT, 0},
    {"preconnect", K_PRECONNECT, 0},
    {"post", K_POSTCONNECT, 0},
    {"postconnect", K_POSTCONNECT, 0},
    {"interface", K_INTERFACE, 0},
    {"monitor", K_MONITOR, 0},
    {"plugin", K_PLUGIN, 0},
    {"plugout", K_PLUGOUT, 0},
    {"batchlimit", K_BATCHLIMIT, 0},
    {"fetchlimit", K_FETCHLIMIT, 0},
    {"fetchsizelimit", K_FETCHSIZELIMIT, 0},
    {"fastuidl", K_FASTUIDL, 0},
    {"expunge", K_EXPUNGE, 0},
    {"properties", K_PROPERTIES, 0},
    {"is", K_IS, 0},
    {"here", K_HERE, 0},
    {"there", K_THERE, 0},
    {"to", K_TO, 0},
    {"no", K_NO, 0},
    {"keep", K_KEEP, 0},
    {"flush", K_FLUSH, 0},
    {"limitflush", K_LIMITFLUSH, 0},
    {"fetchall", K_FETCHALL, 0},
    {"rewrite", K_REWRITE, 0},
    {"forcecr", K_FORCECR, 0},
    {"stripcr", K_STRIPCR, 0},
    {"pass8", K_PASS8BITS, 0},
    {"pass8bits", K_PASS8BITS, 0},
    {"dropstatus", K_DROPSTATUS, 0},
    {"dropdelivered", K_DROPDELIVERED, 0},
    {"mimedec", K_MIMEDECODE, 0},
    {"mimedecode", K_MIMEDECODE, 0},
    {"idle", K_IDLE, 0},
    {"forceidle", K_FORCEIDLE, 0},
    {"dns", K_DNS, 0},
    {"uidl", K_UIDL, 0},
    {"ssl", K_SSL, 0},
    {"sslkey", K_SSLKEY, 0},
    {"sslcert", K_SSLCERT, 0},
    {"sslproto", K_SSLPROTO, 0},
    {"sslcertck", K_SSLCERTCK, 0},
    {"sslcertfile", K_SSLCERTFILE, 0},
    {"sslcertpath", K_SSLCERTPATH, 0},
    {"sslcommonname", K_SSLCOMMONNAME, 0},
    {"sslfingerprint", K_SSLFINGERPRINT, 0},
    {"checkalias", K_CHECKALIAS, 0},
    {"limit", K_LIMIT, 0},
    {"with", K_NOISE, 0},
    {"and", K_NOISE, 0},
    {"has", K_NOISE, 0},
    {"wants", K_NOISE, 0},
    {"options", K_NOISE, 0},
    {"auto", K_PROTO, P_AUTO},
    {"AUTO", K_PROTO, P_AUTO},
    {"pop2", K_PROTO, P_POP2},
    {"POP2", K_PROTO, P_POP2},
    {"sdps", K_PROTO, P_SDPS},
    {"SDPS", K_PROTO, P_SDPS},
    {"pop3", K_PROTO, P_POP3},
    {"POP3", K_PROTO, P_POP3},
    {"imap", K_PROTO, P_IMAP},
    {"IMAP", K_PROTO, P_IMAP},
    {"apop", K_PROTO, P_APOP},
    {"APOP", K_PROTO, P_APOP},
    {"rpop", K_PROTO, P_RPOP},
    {"RPOP", K_PROTO, P_RPOP},
    {"etrn", K_PROTO, P_ETRN},
    {"ETRN", K_PROTO, P_ETRN},
    {"odmr", K_PROTO, P_ODMR},
    {"ODMR", K_PROTO, P_ODMR},
    {"kpop", K_PROTO, P_KPOP},
    {"KPOP", K_PROTO, P_KPOP},
};
#define NWORDS (sizeof words / sizeof words[0])

/* Words that are `no` and a keyword in one (flex's yyless(2) rule). */
static const char *const no_words[] = {
    "nobouncemail", "nouidl",       "nocheckalias", "nodns",           "noenvelope", "nokeep",
    "noflush",      "nolimitflush", "nofetchall",   "norewrite",       "noforcecr",  "nostripcr",
    "nopass8",      "nopass8bits",  "nodropstatus", "nodropdelivered", "nomimedec",  "nomimedecode",
    "nospambounce", "noidle",       "noforceidle",
};

/* ---- syntax errors ------------------------------------------------------ */

int fmrc_perr(struct fm *ps, int line, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(ps->e, ERR_USAGE, "%s:%d: %s", ps->name, line, msg);
    err_hint(ps->e, "the syntax is in fetchmail(1), section THE RUN CONTROL FILE");
    return -1;
}

static void describe(const struct fm_tok *t, char *buf, size_t len)
{
    char q[48];

    switch (t->kind) {
    case T_EOF:
        snprintf(buf, len, "the end of the file");
        return;
    case T_MAP:
        snprintf(buf, len, "`=`");
        return;
    case T_KW:
        snprintf(buf, len, "the keyword `%s`", t->text);
        return;
    default:
        fmrc_show(q, sizeof q, t->text);
        snprintf(buf, len, "`%s`", q);
    }
}

/* ---- tokens ------------------------------------------------------------- */

static int hexval(char c)
{
    static const char hex[] = "0123456789abcdef";
    const char *p = c ? strchr(hex, tolower((unsigned char)c)) : NULL;

    return p ? (int)(p - hex) : -1;
}

/* fetchmail's escapes(), byte for byte: \n \t \b \r, \xHH (at most two
 * digits), \0oo (the 0 counts as one of three octal digits), \DDD decimal,
 * backslash-newline removed, a final backslash dropped, any other \c is c.
 * A NUL it produces ends the string, as in fetchmail. */
static size_t unescape(const char *s, size_t n, char *o)
{
    size_t i = 0, k = 0;

    while (i < n) {
        int c = 0, d = 0;
        if (s[i] == '\\' && i + 1 < n && strchr("0123456789xX", s[i + 1])) {
            i++;
            if (s[i] == 'x' || s[i] == 'X')
                for (i++; i < n && hexval(s[i]) >= 0 && d++ < 2; i++) c = c * 16 + hexval(s[i]);
            else if (s[i] == '0')
                while (i < n && s[i] >= '0' && s[i] <= '7' && d++ < 3) c = c * 8 + (s[i++] - '0');
            else
                while (i < n && isdigit((unsigned char)s[i]) && d++ < 3)
                    c = c * 10 + (s[i++] - '0');
        } else if (s[i] == '\\') {
            if (++i == n) break;
            if (s[i] == '\n') {
                i++;
                continue;
            }
            c = s[i] == 'n'   ? '\n'
                : s[i] == 't' ? '\t'
                : s[i] == 'b' ? '\b'
                : s[i] == 'r' ? '\r'
                              : (unsigned char)s[i];
            i++;
        } else {
            c = (unsigned char)s[i++];
        }
        if ((c & 0xff) == 0) break;
        o[k++] = (char)(unsigned char)(c & 0xff);
    }
    o[k] = '\0';
    return k;
}

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=' || c == ';' || c == ':' ||
           c == ',';
}

/* Blanks, newlines, backslash-newline, `#` comments and the ignored , ; : */
static void skip_blank(struct fm *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == ';' || c == ':' || c == ',') {
            ps->p++;
        } else if (c == '\n') {
            ps->line++;
            ps->p++;
        } else if (c == '\\' && ps->end - ps->p > 1 && ps->p[1] == '\n') {
            ps->line++;
            ps->p += 2;
        } else if (c == '#') {
            const char *nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
            ps->p = nl ? nl : ps->end;
        } else {
            break;
        }
    }
}

static int lex_string(struct fm *ps, struct fm_tok *t, const char *s, size_t n)
{
    char *v = fmrc_arena_alloc(&ps->arena, n + 1, 0);

    if (!v) {
        fmrc_oom(ps);
        return -1;
    }
    unescape(s, n, v);
    t->kind = T_STRING;
    t->text = v;
    return 0;
}

/* A quoted string from ps->p to the closing quote q (fetchmail: no escape
 * ends a string early; it runs to the next quote of its kind). */
static int lex_quoted(struct fm *ps, struct fm_tok *t, const char *q)
{
    for (const char *c = ps->p; c < q; c++)
        if (*c == '\n') ps->line++;
    if (lex_string(ps, t, ps->p + 1, (size_t)(q - ps->p - 1)) < 0) return -1;
    ps->p = q + 1;
    ps->state = LX_INITIAL;
    return 0;
}

static int find_word(const char *s, size_t n)
{
    for (size_t i = 0; i < NWORDS; i++)
        if (words[i].text[0] == s[0] && strlen(words[i].text) == n && !memcmp(words[i].text, s, n))
            return (int)i;
    return -1;
}

static int is_no_word(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof no_words / sizeof no_words[0]; i++)
        if (strlen(no_words[i]) == n && !memcmp(no_words[i], s, n)) return 1;
    return 0;
}

static void keyword(struct fm *ps, struct fm_tok *t, int i)
{
    t->kind = T_KW;
    t->kw = words[i].kw;
    t->val = words[i].val;
    t->text = words[i].text;
    if (t->kw == K_USER || t->kw == K_PASSWORD || t->kw == K_PASSWORDFILE || t->kw == K_IS ||
        t->kw == K_TO)
        ps->state = LX_NAME;
    else if (t->kw == K_AUTH)
        ps->state = LX_AUTH;
    else if (t->kw == K_AUTHTYPE)
        ps->state = LX_INITIAL;
}

static int is_number(const char *s, size_t n)
{
    size_t i = s[0] == '-';

    if (i == n) return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int lex_number(struct fm *ps, struct fm_tok *t, const char *s, size_t n)
{
    long long v = 0;

    for (size_t i = s[0] == '-'; i < n; i++)
        if (v < 10000000000LL) v = v * 10 + (s[i] - '0');
    t->kind = T_NUMBER;
    t->num = s[0] == '-' ? -v : v;
    if (!(t->text = fmrc_strndup(ps, s, n > 24 ? 24 : n))) {
        fmrc_oom(ps);
        return -1;
    }
    return 0;
}

/* One bare word of n bytes at ps->p. */
static int lex_word(struct fm *ps, struct fm_tok *t, size_t n)
{
    const char *s = ps->p;
    int i;

    ps->p += n;
    if (ps->state == LX_NAME) {
        ps->state = LX_INITIAL;
        return lex_string(ps, t, s, n);
    }
    if (ps->state == LX_AUTH && n == 8 && !memcmp(s, "password", 8)) {
        ps->state = LX_INITIAL;
        *t = (struct fm_tok){
            .kind = T_KW, .kw = K_AUTHTYPE, .val = A_PASSWORD, .text = "password", .line = t->line};
        return 0;
    }
    if ((i = find_word(s, n)) >= 0) {
        keyword(ps, t, i);
        return 0;
    }
    if (n > 2 && is_no_word(s, n)) {
        ps->pending = find_word(s + 2, n - 2);
        keyword(ps, t, find_word("no", 2));
        return 0;
    }
    if (is_number(s, n)) return lex_number(ps, t, s, n);
    return lex_string(ps, t, s, n);
}

static int lex(struct fm *ps, struct fm_tok *t)
{
    for (;;) {
        size_t n;
        memset(t, 0, sizeof *t);
        if (ps->pending >= 0) {
            t->line = ps->line;
            keyword(ps, t, ps->pending);
            ps->pending = -1;
            return 0;
        }
        skip_blank(ps);
        t->line = ps->line;
        if (ps->p >= ps->end) return 0; /* T_EOF */
        if (*ps->p == '=') {
            ps->p++;
            ps->state = LX_NAME;
            t->kind = T_MAP;
            return 0;
        }
        for (n = 0; ps->p + n < ps->end && !is_sep(ps->p[n]);) n++;
        if (*ps->p == '"' || *ps->p == '\'') {
            const char *q = memchr(ps->p + 1, *ps->p, (size_t)(ps->end - ps->p - 1));
            if (!q) return fmrc_perr(ps, t->line, "a quoted string that never ends");
            if ((size_t)(q - ps->p) + 1 >= n) return lex_quoted(ps, t, q);
        }
        if (lex_word(ps, t, n) < 0) return -1;
        if (t->kind != T_KW || t->kw != K_NOISE) return 0;
    }
}

/* ---- token stream with one token of lookahead --------------------------- */

int fmrc_peek(struct fm *ps, const struct fm_tok **t)
{
    if (!ps->has_ahead) {
        if (lex(ps, &ps->ahead) < 0) return -1;
        ps->has_ahead = 1;
    }
    *t = &ps->ahead;
    return 0;
}

int fmrc_next(struct fm *ps, struct fm_tok *t)
{
    const struct fm_tok *p;

    if (fmrc_peek(ps, &p) < 0) return -1;
    *t = *p;
    ps->has_ahead = 0;
    if (t->kind != T_EOF) ps->last_line = t->line;
    return 0;
}

int fmrc_is_value(const struct fm_tok *t)
{
    return t->kind == T_STRING || t->kind == T_NUMBER;
}

int fmrc_unexpected(struct fm *ps, const struct fm_tok *t, const char *wanted)
{
    char d[80];

    describe(t, d, sizeof d);
    return fmrc_perr(ps, t->kind == T_EOF ? ps->last_line : t->line, "expected %s, found %s",
                     wanted, d);
}

/* A string (a bare number is taken as one too). */
int fmrc_expect_value(struct fm *ps, const struct fm_tok *opt, struct fm_tok *t)
{
    char w[64];

    if (fmrc_next(ps, t) < 0) return -1;
    if (fmrc_is_value(t)) return 0;
    snprintf(w, sizeof w, "a value after `%s`", opt->text);
    return fmrc_unexpected(ps, t, w);
}

int fmrc_expect_number(struct fm *ps, const struct fm_tok *opt, struct fm_tok *t)
{
    char w[64];

    if (fmrc_next(ps, t) < 0) return -1;
    if (t->kind == T_NUMBER) return 0;
    if (t->kind == T_STRING && t->text[0] && is_number(t->text, strlen(t->text))) {
        struct fm_tok n = *t;
        if (lex_number(ps, &n, t->text, strlen(t->text)) < 0) return -1;
        *t = n;
        return 0;
    }
    snprintf(w, sizeof w, "a number after `%s`", opt->text);
    return fmrc_unexpected(ps, t, w);
}
