/*
 * import — fetchmail, mpop and getmail seen-UIDL files. See import.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "import.h"
#include "session.h"
#include "state.h"
#include "textfile.h"

#define IMPORT_FILE_MAX ((size_t)256 * 1024 * 1024)
#define IMPORT_UIDL_MAX 255

int import_parse_spec(const char *spec, enum import_format *f, const char **path, struct err *e)
{
    static const struct {
        const char *name;
        enum import_format f;
    } names[] = {
        {"fetchmail:", IMPORT_FETCHMAIL}, {"mpop:", IMPORT_MPOP}, {"getmail:", IMPORT_GETMAIL}};

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i].name);
        if (strncmp(spec, names[i].name, n) == 0 && spec[n]) {
            *f = names[i].f;
            *path = spec + n;
            return 0;
        }
    }
    err_set(e, ERR_USAGE, "--import-seen wants FORMAT:FILE with FORMAT fetchmail, mpop or getmail");
    err_hint(e, "e.g. --import-seen fetchmail:~/.fetchids or --import-seen mpop:~/.mpop_uidls");
    return -1;
}

static int word_ok(const char *s, size_t n)
{
    if (n == 0 || n > IMPORT_UIDL_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

static int add(struct import_list *l, const char *user, const char *host, const char *uidl,
               int64_t when)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 256;
        struct import_entry *v = realloc(l->v, ncap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = ncap;
    }
    l->v[l->n++] = (struct import_entry){user, host, uidl, when};
    return 0;
}

/* Split text into NUL-terminated lines in place; calls fn for each. */
typedef int (*line_fn)(struct import_list *l, char *line, size_t len, void *st);

static int each_line(struct import_list *l, char *text, size_t len, line_fn fn, void *st)
{
    size_t pos = 0;

    while (pos < len) {
        char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;

        line[n] = '\0'; /* the byte after the text is ours (len + 1 allocated) */
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
        if (fn(l, line, n, st) < 0) return -1;
    }
    return 0;
}

/* fetchmail: "user@host UIDL" (the last '@' splits user and host). */
static int fetchmail_line(struct import_list *l, char *line, size_t n, void *st)
{
    char *sp = memchr(line, ' ', n), *at;

    (void)st;
    if (n == 0 || line[0] == '#') return 0;
    if (!sp || !(at = memrchr(line, '@', (size_t)(sp - line))) || at == line || at + 1 == sp ||
        !word_ok(sp + 1, n - (size_t)(sp + 1 - line))) {
        l->skipped++;
        return 0;
    }
    *at = *sp = '\0';
    return add(l, line, at + 1, sp + 1, 0);
}

struct mpop_state {
    const char *user, *host;
    unsigned long left; /* UIDLs still expected in the current list */
};

/* mpop: comments, " N host user" headers, then N UIDL lines. */
static int mpop_line(struct import_list *l, char *line, size_t n, void *stp)
{
    struct mpop_state *st = stp;
    char *end, *host, *user;
    unsigned long count;

    if (n == 0 || line[0] == '#') return 0;
    if (line[0] == ' ') {
        errno = 0;
        count = strtoul(line + 1, &end, 10);
        host = end + (*end == ' ');
        user = strchr(host, ' ');
        /* a count must be plain digits that fit: " -1" is not a count */
        if (!isdigit((unsigned char)line[1]) || errno == ERANGE || end == line + 1 || *end != ' ' ||
            !user || user == host || !user[1]) {
            st->left = 0;
            l->skipped++;
            return 0;
        }
        *user++ = '\0';
        st->host = host;
        st->user = user;
        st->left = count;
        return 0;
    }
    if (st->left == 0 || !word_ok(line, n)) {
        l->skipped++;
        return 0;
    }
    st->left--;
    return add(l, st->user, st->host, line, 0);
}

/* getmail: "UIDL\0TIME". */
static int getmail_line(struct import_list *l, char *line, size_t n, void *st)
{
    char *nul = memchr(line, '\0', n), *end;
    long long when;

    (void)st;
    if (n == 0) return 0;
    if (!nul || !word_ok(line, (size_t)(nul - line))) {
        l->skipped++;
        return 0;
    }
    when = strtoll(nul + 1, &end, 10);
    if (end == nul + 1 || *end || when < 0) when = 0;
    return add(l, NULL, NULL, line, when);
}

int import_parse(enum import_format f, char *text, size_t len, struct import_list *out,
                 struct err *e)
{
    struct mpop_state st = {0};
    line_fn fn = f == IMPORT_FETCHMAIL ? fetchmail_line
                 : f == IMPORT_MPOP    ? mpop_line
                                       : getmail_line;

    memset(out, 0, sizeof *out);
    out->text = text;
    /* NULs are field separators only in getmail's format. */
    if (f != IMPORT_GETMAIL && memchr(text, '\0', len))
        return err_set(e, ERR_USAGE, "this does not look like a %s file (it holds NUL bytes)",
                       f == IMPORT_FETCHMAIL ? "fetchmail" : "mpop");
    if (each_line(out, text, len, fn, &st) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    return 0;
}

int import_load(enum import_format f, const char *path, struct import_list *out, struct err *e)
{
    char *text;
    size_t len;

    memset(out, 0, sizeof *out);
    if (textfile_read(path, IMPORT_FILE_MAX, "seen-UIDL file", &text, &len, NULL, e) < 0) return -1;
    return import_parse(f, text, len, out, e);
}

int import_matches(const struct import_entry *ent, const char *user, const char *host)
{
    if (ent->user && strcmp(ent->user, user) != 0) return 0;
    return !ent->host || !host || strcasecmp(ent->host, host) == 0;
}

void import_free(struct import_list *l)
{
    free(l->v);
    free(l->text);
    memset(l, 0, sizeof *l);
}

/* Entries that belong to the account: by user, and by host too when the
 * file knows several hosts for that user. */
static int by_host(const struct import_list *l, const struct account *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (import_matches(&l->v[i], a->user, a->host) && l->v[i].host) return 1;
    return 0;
}

int import_record(const struct import_list *l, const struct account *a, const char *dir,
                  size_t *count, struct err *e)
{
    const char *host = by_host(l, a) ? a->host : NULL;
    int64_t now = time(NULL);
    struct state *st;
    int rc = 0;

    if (session_state_lock(a, dir, &st, e) < 0) return -1;
    if (state_load(st, e) < 0) {
        state_close(st);
        return -1;
    }
    *count = 0;
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        if (!import_matches(&l->v[i], a->user, host)) continue;
        rc = state_add(st, l->v[i].uidl, strlen(l->v[i].uidl), STATE_DELIVERED,
                       l->v[i].when ? l->v[i].when : now, NULL, e);
        (*count)++;
    }
    if (rc == 0) rc = state_compact(st, 0, e);
    state_close(st);
    return rc;
}
