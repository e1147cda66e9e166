/*
 * netrc — the ~/.netrc parser. See netrc.h.
 */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "netrc.h"

struct cursor {
    const char *p, *end;
};

struct token {
    char buf[NETRC_TOKEN_MAX + 1];
    size_t n;
    int bad; /* longer than NETRC_TOKEN_MAX, or holds a NUL: matches nothing */
};

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

static void add(struct token *t, char c)
{
    if (c == '\0') t->bad = 1;
    if (t->n < NETRC_TOKEN_MAX)
        t->buf[t->n++] = c;
    else
        t->bad = 1;
}

/* The next token into t; 0 at the end of the text (t left as it was: a
 * `password` with nothing after it keeps the entry's earlier one). */
static int next_token(struct cursor *c, struct token *t)
{
    const char *s = c->p;

    while (s < c->end && is_sep(*s)) s++;
    if (s == c->end) {
        c->p = s;
        return 0;
    }
    t->n = 0;
    t->bad = 0;
    if (*s == '"') {
        for (s++; s < c->end && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < c->end) s++;
            add(t, *s);
        }
        if (s < c->end) s++; /* the closing quote */
    } else {
        for (; s < c->end && !is_sep(*s); s++) add(t, *s);
    }
    t->buf[t->n] = '\0';
    c->p = s;
    return 1;
}

static int is(const struct token *t, const char *word)
{
    return !t->bad && t->n == strlen(word) && memcmp(t->buf, word, t->n) == 0;
}

static int is_host(const struct token *t, const char *host)
{
    return !t->bad && t->n == strlen(host) && strncasecmp(t->buf, host, t->n) == 0;
}

/* A macro runs from the line after `macdef NAME` to the next empty line. */
static void skip_macro(struct cursor *c)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));

    while (nl) {
        const char *line = nl + 1;
        nl = memchr(line, '\n', (size_t)(c->end - line));
        if (nl && (nl == line || (nl == line + 1 && *line == '\r'))) {
            c->p = nl + 1;
            return;
        }
    }
    c->p = c->end;
}

struct entry {
    int in, matched, have_login, login_ok, have_pass, pass_bad;
    struct token pass;
};

static int entry_gives(const struct entry *en)
{
    return en->in && en->matched && en->have_pass && (!en->have_login || en->login_ok);
}

/* Starts a new entry at `machine` or `default`. */
static void start_entry(struct entry *en, struct cursor *c, struct token *t, const char *host)
{
    int dflt = is(t, "default");

    en->in = 1;
    en->have_login = en->login_ok = en->have_pass = en->pass_bad = 0;
    en->matched = dflt || (next_token(c, t) && is_host(t, host));
}

/* One keyword (before the first entry, it fills nothing that is used). */
static void keyword(struct entry *en, struct cursor *c, struct token *t, const char *user)
{
    if (is(t, "login")) {
        if (!next_token(c, t)) return;
        en->have_login = 1;
        en->login_ok = is(t, user);
    } else if (is(t, "password")) {
        if (!next_token(c, &en->pass)) return;
        en->have_pass = 1;
        en->pass_bad = en->pass.bad;
    } else if (is(t, "account")) {
        next_token(c, t); /* its value is no keyword */
    } else if (is(t, "macdef")) {
        skip_macro(c);
    }
}

static int lookup(struct cursor *c, struct entry *en, struct token *t, const char *host,
                  const char *user, char *pw, size_t max)
{
    for (;;) {
        int more = next_token(c, t);
        int boundary = !more || is(t, "machine") || is(t, "default");

        if (boundary && entry_gives(en)) {
            if (en->pass_bad || en->pass.n >= max) return -1;
            memcpy(pw, en->pass.buf, en->pass.n + 1);
            return 1;
        }
        if (!more) return 0;
        if (boundary)
            start_entry(en, c, t, host);
        else
            keyword(en, c, t, user);
    }
}

int netrc_lookup(const char *text, size_t len, const char *host, const char *user, char *pw,
                 size_t max)
{
    struct cursor c = {text, text + len};
    struct entry en;
    struct token t;
    int rc;

    memset(&en, 0, sizeof en);
    rc = lookup(&c, &en, &t, host, user, pw, max);
    OPENSSL_cleanse(&t, sizeof t);
    OPENSSL_cleanse(&en, sizeof en);
    return rc;
}
