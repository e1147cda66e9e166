/*
 * fileperm — the ownership and write-permission rule. See fileperm.h.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileperm.h"

#define FP_PATH_MAX 4096

int fileperm_verdict(uid_t owner, mode_t mode, uid_t me)
{
    int v = FILEPERM_OK;

    if (owner != me && owner != 0) v |= FILEPERM_OWNER;
    if (mode & S_IWGRP) v |= FILEPERM_GROUP_W;
    if (mode & S_IWOTH) v |= FILEPERM_OTHERS_W;
    return v;
}

/* A user's name for messages ("uid N" when it has none). */
static void user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];

    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res && res->pw_name[0])
        snprintf(buf, len, "%s", res->pw_name);
    else
        snprintf(buf, len, "%lu", (unsigned long)uid);
}

static const char *writers(int v)
{
    if ((v & FILEPERM_GROUP_W) && (v & FILEPERM_OTHERS_W)) return "its group and others";
    return (v & FILEPERM_GROUP_W) ? "its group" : "others";
}

int fileperm_check_stat(const struct stat *st, const char *what, const char *path, struct err *e)
{
    uid_t me = geteuid();
    int v = fileperm_verdict(st->st_uid, st->st_mode, me);
    int writable = v & (FILEPERM_GROUP_W | FILEPERM_OTHERS_W);
    char owner[64], self[64];

    if (v == FILEPERM_OK) return 0;
    user_name(me, self, sizeof self);
    if (!(v & FILEPERM_OWNER)) {
        err_set(e, ERR_CONFIG_PERM, "%s %s is writable by %s: popfetch does not trust it", what,
                path, writers(v));
        err_hint(e, "run `chmod go-w %s`", path);
        return -1;
    }
    user_name(st->st_uid, owner, sizeof owner);
    if (!writable) {
        err_set(e, ERR_CONFIG_PERM,
                "%s %s belongs to %s, not to %s who runs popfetch: popfetch does not trust it",
                what, path, owner, self);
        err_hint(e, "run `chown %s %s` (as root)", self, path);
        return -1;
    }
    err_set(e, ERR_CONFIG_PERM,
            "%s %s belongs to %s, not to %s who runs popfetch, and is writable by %s: popfetch "
            "does not trust it",
            what, path, owner, self, writers(v));
    err_hint(e, "run `chown %s %s` (as root) and `chmod go-w %s`", self, path, path);
    return -1;
}

int fileperm_check_fd(int fd, const char *what, const char *path, struct err *e)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return err_set(e, ERR_LOCAL, "cannot inspect %s %s: %s", what, path, strerror(errno));
    return fileperm_check_stat(&st, what, path, e);
}

int fileperm_check_path(const char *path, const char *what, struct err *e)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return 0;
        return err_set(e, ERR_LOCAL, "cannot inspect %s %s: %s", what, path, strerror(errno));
    }
    return fileperm_check_stat(&st, what, path, e);
}

int fileperm_open_error(struct err *e, enum err_kind kind, enum err_kind other, const char *what,
                        const char *path)
{
    int saved = errno;

    if (saved != ELOOP)
        return err_set(e, other, "cannot open %s %s: %s", what, path, strerror(saved));
    err_set(e, kind, "%s %s is a symbolic link: popfetch does not follow one there", what, path);
    err_hint(e,
             "if you did not put it there, someone else may have: find out, then remove it "
             "(`rm %s`)",
             path);
    return -1;
}

/* ---- words of a shell command ------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where an unquoted word ends (besides a blank). */
static int is_operator(char c)
{
    return c != '\0' && strchr(";&|<>()`", c) != NULL;
}

struct word {
    char *buf;
    size_t max, n;
    int cut;
};

static void put(struct word *w, char c)
{
    if (w->n + 1 < w->max)
        w->buf[w->n++] = c;
    else
        w->cut = 1;
}

/* One quoted part starting at cmd[i] (a quote); returns the index after it. */
static size_t quoted(const char *cmd, size_t i, struct word *w)
{
    char q = cmd[i++];

    for (; cmd[i] && cmd[i] != q; i++) {
        if (q == '"' && cmd[i] == '\\' && cmd[i + 1] && strchr("\\\"$`\n", cmd[i + 1])) i++;
        put(w, cmd[i]);
    }
    return cmd[i] ? i + 1 : i;
}

int fileperm_next_word(const char *cmd, size_t *pos, char *buf, size_t max, int *cut)
{
    struct word w = {buf, max, 0, 0};
    size_t i = *pos;

    for (;;) {
        while (is_blank(cmd[i]) || is_operator(cmd[i])) i++;
        if (cmd[i] != '#') break;
        while (cmd[i] && cmd[i] != '\n') i++; /* a comment */
    }
    if (!cmd[i]) {
        *pos = i;
        return 0;
    }
    while (cmd[i] && !is_blank(cmd[i]) && !is_operator(cmd[i])) {
        if (cmd[i] == '\'' || cmd[i] == '"') {
            i = quoted(cmd, i, &w);
        } else if (cmd[i] == '\\' && cmd[i + 1]) {
            put(&w, cmd[i + 1]);
            i += 2;
        } else {
            put(&w, cmd[i++]);
        }
    }
    if (max) buf[w.n] = '\0';
    *cut = w.cut;
    *pos = i;
    return 1;
}

/* The file a word names, or 0 if it names none (no '/', too long). */
static int word_path(const char *word, const char *home, char *path, size_t len)
{
    int n;

    if (word[0] == '~' && word[1] == '/') {
        if (!home || !*home) return 0;
        n = snprintf(path, len, "%s%s", home, word + 1);
    } else if (strchr(word, '/')) {
        n = snprintf(path, len, "%s", word);
    } else {
        return 0;
    }
    return n > 0 && (size_t)n < len;
}

int fileperm_check_command(const char *cmd, const char *home, struct err *e)
{
    char word[FP_PATH_MAX], path[FP_PATH_MAX];
    size_t pos = 0;
    int cut;
    struct stat st;

    while (fileperm_next_word(cmd, &pos, word, sizeof word, &cut)) {
        if (cut || !word_path(word, home, path, sizeof path)) continue;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        if (fileperm_check_stat(&st, "passwordeval file", path, e) < 0) return -1;
    }
    return 0;
}
