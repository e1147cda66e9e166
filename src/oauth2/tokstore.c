/*
 * tokstore — the token file, saved so that no crash loses the newest
 * refresh token. See tokstore.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "dirs.h"
#include "textfile.h"
#include "fault.h"
#include "fdio.h"
#include "fileperm.h"
#include "tokresp.h"
#include "tokstore.h"

#define FORMAT_KEY     "popfetch_oauth2"
#define FORMAT_VERSION 1
#define PATH_MAX_LEN   4200

struct paths {
    char dir[PATH_MAX_LEN], main[PATH_MAX_LEN], next[PATH_MAX_LEN];
};

static int make_paths(const char *dir, const char *key, struct paths *p, struct err *e)
{
    memset(p, 0, sizeof *p);
    if ((size_t)snprintf(p->dir, sizeof p->dir, "%s", dir) >= sizeof p->dir ||
        (size_t)snprintf(p->main, sizeof p->main, "%s/%s.oauth2", dir, key) >= sizeof p->main ||
        (size_t)snprintf(p->next, sizeof p->next, "%s/%s.oauth2.new", dir, key) >= sizeof p->next)
        return err_set(e, ERR_LOCAL, "token store path too long");
    return 0;
}

/* ---- fields ---------------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int tokstore_set(char **field, const char *value)
{
    char *copy = NULL;

    if (value && !(copy = strdup(value))) return -1;
    wipe_free(*field);
    *field = copy;
    return 0;
}

void tokstore_free(struct tokstore *t)
{
    wipe_free(t->client_id);
    wipe_free(t->token_url);
    wipe_free(t->access_token);
    wipe_free(t->refresh_token);
    wipe_free(t->refused);
    memset(t, 0, sizeof *t);
}

/* ---- reading --------------------------------------------------------------- */

/* The whole file (wiped by the caller); 0 with *text NULL if it is not
 * there. */
static int read_file(const char *path, char **text, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc;

    *text = NULL;
    *len = 0;
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "token store", path);
    }
    rc =
        textfile_read_fd(fd, path, TOKSTORE_FILE_MAX, "token store", ERR_LOCAL, text, len, NULL, e);
    close(fd);
    return rc;
}

/* A token read back: printable ASCII without spaces, bounded. */
static int token_ok(const char *s, size_t n)
{
    if (n == 0 || n > TOKRESP_TOKEN_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

/* An optional string member into *out: 0 fine (absent or copied), -1 bad. */
static int get_string(json_t *o, const char *name, int token, char **out)
{
    json_t *v = json_object_get(o, name);

    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    if (token && !token_ok(json_string_value(v), json_string_length(v))) return -1;
    if (!token &&
        (json_string_length(v) > 4096 || strlen(json_string_value(v)) != json_string_length(v)))
        return -1;
    return tokstore_set(out, json_string_value(v));
}

static int get_int(json_t *o, const char *name, long long *out)
{
    json_t *v = json_object_get(o, name);

    *out = 0;
    if (!v) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = json_integer_value(v);
    return 0;
}

/* 1 parsed into t, 0 not a whole store (torn, garbled), -1 from a newer
 * popfetch (ERR_LOCAL). */
static int parse(const char *path, const char *text, size_t len, struct tokstore *t, struct err *e)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    long long version = 0, gen = 0;
    int ok;

    memset(t, 0, sizeof *t);
    if (!o || !json_is_object(o) || get_int(o, FORMAT_KEY, &version) < 0 || version == 0) {
        json_decref(o);
        return 0;
    }
    if (version > FORMAT_VERSION) {
        json_decref(o);
        err_set(e, ERR_LOCAL, "%s was written by a newer popfetch (format %lld)", path, version);
        err_hint(e, "use that popfetch version, or run `popfetch --authorize` to start afresh");
        return -1;
    }
    ok = get_int(o, "generation", &gen) == 0 && get_string(o, "client_id", 0, &t->client_id) == 0 &&
         get_string(o, "token_url", 0, &t->token_url) == 0 &&
         get_string(o, "access_token", 1, &t->access_token) == 0 &&
         get_int(o, "expires_at", &t->expires_at) == 0 &&
         get_string(o, "refresh_token", 1, &t->refresh_token) == 0 &&
         get_string(o, "refused", 0, &t->refused) == 0 &&
         get_int(o, "refused_at", &t->refused_at) == 0;
    json_decref(o);
    t->generation = (unsigned long long)gen;
    if (!ok) tokstore_free(t);
    return ok;
}

/* Read and parse one file: 1 a store, 0 none or not whole, -1 error. */
static int load_one(const char *path, struct tokstore *t, int *present, struct err *e)
{
    char *text;
    size_t len;
    int rc;

    memset(t, 0, sizeof *t);
    if (read_file(path, &text, &len, e) < 0) return -1;
    *present = text != NULL;
    if (!text) return 0;
    rc = parse(path, text, len, t, e);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

/* KEY.oauth2.new is whole and newer: it becomes KEY.oauth2 (the rename
 * the crashed save did not do). */
static int adopt_next(const struct paths *p, struct tokstore *t, struct tokstore *n, struct err *e)
{
    if (rename(p->next, p->main) < 0 || dirs_fsync(p->dir) < 0)
        return err_set(e, ERR_LOCAL, "cannot replace %s: %s", p->main, strerror(errno));
    tokstore_free(t);
    *t = *n;
    memset(n, 0, sizeof *n);
    return 0;
}

int tokstore_load(const char *dir, const char *key, struct tokstore *t, int *found, struct err *e)
{
    struct paths p;
    struct tokstore n;
    int main_rc, next_rc, main_present = 0, next_present = 0, rc = 0;

    *found = 0;
    memset(t, 0, sizeof *t);
    if (make_paths(dir, key, &p, e) < 0) return -1;
    if ((main_rc = load_one(p.main, t, &main_present, e)) < 0) return -1;
    if ((next_rc = load_one(p.next, &n, &next_present, e)) < 0) {
        tokstore_free(t);
        return -1;
    }
    if (next_rc == 1 && (main_rc == 0 || n.generation > t->generation)) {
        rc = adopt_next(&p, t, &n, e);
        main_rc = 1;
    } else if (next_present && unlink(p.next) < 0 && errno != ENOENT) {
        rc = err_set(e, ERR_LOCAL, "cannot remove the stale %s: %s", p.next, strerror(errno));
    }
    tokstore_free(&n);
    if (rc == 0 && main_present && main_rc == 0) {
        rc = err_set(e, ERR_LOCAL, "the token store %s is damaged", p.main);
        err_hint(e, "remove it and run `popfetch --authorize` again");
    }
    if (rc < 0) {
        tokstore_free(t);
        return -1;
    }
    *found = main_rc == 1;
    return 0;
}

/* ---- writing --------------------------------------------------------------- */

static int put_string(json_t *o, const char *name, const char *value)
{
    return !value || json_object_set_new(o, name, json_string(value)) == 0 ? 0 : -1;
}

static char *render(const struct tokstore *t)
{
    json_t *o = json_object();
    char *text = NULL;

    if (o && json_object_set_new(o, FORMAT_KEY, json_integer(FORMAT_VERSION)) == 0 &&
        json_object_set_new(o, "generation", json_integer((json_int_t)t->generation)) == 0 &&
        put_string(o, "client_id", t->client_id) == 0 &&
        put_string(o, "token_url", t->token_url) == 0 &&
        put_string(o, "access_token", t->access_token) == 0 &&
        json_object_set_new(o, "expires_at", json_integer(t->expires_at)) == 0 &&
        put_string(o, "refresh_token", t->refresh_token) == 0 &&
        put_string(o, "refused", t->refused) == 0 &&
        (!t->refused || json_object_set_new(o, "refused_at", json_integer(t->refused_at)) == 0))
        text = json_dumps(o, JSON_INDENT(1));
    json_decref(o);
    return text;
}

/* Step 1: KEY.oauth2.new written whole and durable, its name too. */
static int write_next(const struct paths *p, const char *text, struct err *e)
{
    size_t len = strlen(text);
    int fd, ok;

    if (unlink(p->next) < 0 && errno != ENOENT)
        return err_set(e, ERR_LOCAL, "cannot remove the stale %s: %s", p->next, strerror(errno));
    fd = open(p->next, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "token store", p->next);
    /* a crash here leaves a torn file, which loading discards */
    ok = fdio_write_full(fd, text, len / 2) == 0;
    FAULT_POINT("token-half-written", 1);
    ok = ok && fdio_write_full(fd, text + len / 2, len - len / 2) == 0 &&
         fdio_write_full(fd, "\n", 1) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || dirs_fsync(p->dir) < 0) {
        err_set(e, ERR_LOCAL, "cannot write %s: %s", p->next, strerror(errno));
        unlink(p->next);
        return -1;
    }
    return 0;
}

int tokstore_save(const char *dir, const char *key, struct tokstore *t, struct err *e)
{
    struct paths p;
    char *text;
    int rc;

    if (make_paths(dir, key, &p, e) < 0) return -1;
    t->generation++;
    if (!(text = render(t))) {
        t->generation--;
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    rc = write_next(&p, text, e);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (rc < 0) {
        t->generation--;
        return -1;
    }
    FAULT_POINT("token-written", 1);
    /* Step 2. From here on, a crash leaves the new generation in one file
     * or the other, and loading takes it. */
    if (rename(p.next, p.main) < 0)
        return err_set(e, ERR_LOCAL, "cannot replace %s: %s", p.main, strerror(errno));
    FAULT_POINT("token-renamed", 1);
    if (dirs_fsync(p.dir) < 0)
        return err_set(e, ERR_LOCAL, "cannot sync %s: %s", p.dir, strerror(errno));
    return 0;
}
