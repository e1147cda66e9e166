/*
 * cmdsplit — see cmdsplit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdsplit.h"

struct words {
    char **v;
    size_t n, cap;
    char *w;
    size_t wlen, wcap;
    int in_word;
};

static int w_put(struct words *ws, const char *p, size_t n)
{
    ws->in_word = 1;
    if (ws->wlen + n + 1 > ws->wcap) {
        size_t cap = (ws->wlen + n + 1) * 2;
        char *w = realloc(ws->w, cap);
        if (!w) return -1;
        ws->w = w;
        ws->wcap = cap;
    }
    memcpy(ws->w + ws->wlen, p, n);
    ws->wlen += n;
    return 0;
}

static int w_end(struct words *ws)
{
    char *word;

    if (!ws->in_word) return 0;
    if (ws->n + 2 > ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 8;
        char **v = realloc(ws->v, cap * sizeof *v);
        if (!v) return -1;
        ws->v = v;
        ws->cap = cap;
    }
    if (!(word = malloc(ws->wlen + 1))) return -1;
    if (ws->wlen) memcpy(word, ws->w, ws->wlen);
    word[ws->wlen] = '\0';
    ws->v[ws->n++] = word;
    ws->v[ws->n] = NULL;
    ws->wlen = 0;
    ws->in_word = 0;
    return 0;
}

static void w_free(struct words *ws)
{
    for (size_t i = 0; i < ws->n; i++) free(ws->v[i]);
    free(ws->v);
    free(ws->w);
}

void cmdsplit_free(char **argv)
{
    if (!argv) return;
    /* cmdsplit_argv always ends the array with NULL; the analyzer cannot follow
     * the growth of the word list. */
    for (char **p = argv; *p; p++) free(*p); // NOLINT(clang-analyzer-core.uninitialized.Branch)
    free(argv);
}

static int split_fail(struct err *e, const char *what)
{
    err_set(e, ERR_USAGE, "the MDA command %s", what);
    err_hint(e, "popfetch splits the command into words like a shell would but runs no shell: "
                "quote special characters, or write sh -c '...' yourself");
    return -1;
}

/* %x at cmd[*i]: append its value and step past the x. */
static int subst(struct words *ws, const char *cmd, size_t *i, const struct cmdsplit_vars *v,
                 struct err *e)
{
    char c = cmd[*i + 1], shown[8], what[64];
    const char *val;

    switch (c) {
    case 'F':
        val = v->sender;
        break;
    case 'T':
        val = v->local_user;
        break;
    case 'U':
        val = v->remote_user;
        break;
    case 'H':
        val = v->server;
        break;
    case '%':
        val = "%";
        break;
    case '\0':
        return split_fail(e, "ends with a lone %");
    default:
        err_quote(shown, sizeof shown, &cmd[*i + 1], 1);
        snprintf(what, sizeof what, "has an unknown %%%s (known: %%F %%T %%U %%H %%%%)", shown);
        return split_fail(e, what);
    }
    (*i)++;
    if (!val) val = "";
    return w_put(ws, val, strlen(val)) < 0 ? err_set(e, ERR_INTERNAL, "out of memory") : 0;
}

enum quoting { Q_NONE, Q_SINGLE, Q_DOUBLE };

/* One byte (or escape pair) of the command outside quotes. */
static int plain_byte(struct words *ws, const char *cmd, size_t *i, enum quoting *q, struct err *e)
{
    char c = cmd[*i], what[64];

    if (c == ' ' || c == '\t' || c == '\n') return w_end(ws);
    if (c == '\'' || c == '"') {
        *q = c == '\'' ? Q_SINGLE : Q_DOUBLE;
        ws->in_word = 1;
        return 0;
    }
    if (c == '\\') {
        if (!cmd[*i + 1]) return split_fail(e, "ends with a backslash");
        (*i)++;
        return cmd[*i] == '\n' ? 0 : w_put(ws, &cmd[*i], 1);
    }
    if (strchr("|&;<>()$`", c)) {
        snprintf(what, sizeof what, "has an unquoted '%c', which only a shell would understand", c);
        return split_fail(e, what);
    }
    return w_put(ws, &c, 1);
}

static int double_byte(struct words *ws, const char *cmd, size_t *i, enum quoting *q)
{
    char c = cmd[*i], next = cmd[*i + 1];

    if (c == '"') {
        *q = Q_NONE;
        return 0;
    }
    if (c == '\\' && next && strchr("\"\\$`\n", next)) {
        (*i)++;
        return next == '\n' ? 0 : w_put(ws, &cmd[*i], 1);
    }
    return w_put(ws, &c, 1);
}

static int split_words(struct words *ws, const char *cmd, const struct cmdsplit_vars *v,
                       struct err *e)
{
    enum quoting q = Q_NONE;

    for (size_t i = 0; cmd[i]; i++) {
        int rc;
        if (cmd[i] == '%')
            rc = subst(ws, cmd, &i, v, e);
        else if (q == Q_SINGLE)
            rc = cmd[i] == '\'' ? (q = Q_NONE, 0) : w_put(ws, &cmd[i], 1);
        else if (q == Q_DOUBLE)
            rc = double_byte(ws, cmd, &i, &q);
        else
            rc = plain_byte(ws, cmd, &i, &q, e);
        if (rc < 0) return e->kind == ERR_NONE ? err_set(e, ERR_INTERNAL, "out of memory") : -1;
    }
    if (q != Q_NONE)
        return split_fail(e, q == Q_SINGLE ? "has an unbalanced ' quote"
                                           : "has an unbalanced \" quote");
    if (w_end(ws) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    if (ws->n == 0) return split_fail(e, "is empty");
    return 0;
}

int cmdsplit_argv(const char *cmd, const struct cmdsplit_vars *v, char ***argv, struct err *e)
{
    static const struct cmdsplit_vars none;
    struct words ws = {0};

    *argv = NULL;
    err_clear(e);
    if (split_words(&ws, cmd ? cmd : "", v ? v : &none, e) < 0) {
        w_free(&ws);
        return -1;
    }
    free(ws.w);
    *argv = ws.v;
    return 0;
}
