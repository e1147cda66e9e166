/*
 * state — seen-UIDL store, journal, compaction and lock. See state.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "textfile.h"
#include "fault.h"
#include "fdio.h"
#include "fileperm.h"
#include "state.h"

#define STATE_MAGIC    "popfetch-state "
#define JOURNAL_MAGIC  "popfetch-journal "
#define FORMAT_VERSION "1"
#define STATE_HEADER   STATE_MAGIC FORMAT_VERSION
#define JOURNAL_HEADER JOURNAL_MAGIC FORMAT_VERSION
#define STATE_FILE_MAX ((size_t)512 * 1024 * 1024)
#define NAME_MAX_LEN   255
/* state_settle(): compact once the journal or the prunable entries exceed
 * 1/STATE_SLACK_DIV of all entries, and at least STATE_SLACK_MIN */
#define STATE_SLACK_DIV 16
#define STATE_SLACK_MIN 256

struct state {
    char path[4096];  /* main file */
    char jpath[4096]; /* journal */
    char lpath[4096]; /* lock file */
    char dir[4096];
    int lock_fd, journal_fd;
    int jhead_due, jdir_due; /* a new journal: header not yet written, its
                              * directory entry not yet fsynced */
    char *pool;              /* UIDL strings */
    size_t pool_len, pool_cap;
    struct state_entry *ents;
    size_t nents, cap;
    uint32_t *table; /* open addressing: entry index + 1, 0 = empty */
    size_t tsize;
    char *jbuf; /* journal records not yet written */
    size_t jlen, jcap;
    char **names; /* journal records' file names (pending Maildir renames) */
    size_t nnames;
    size_t jrecords;  /* records in the journal file */
    size_t nlisted;   /* entries marked listed */
    int have_main;    /* the main file exists (known once locked) */
    unsigned dropped; /* invalid lines skipped while loading */
};

void state_key(char *buf, size_t len, const char *user, const char *host, unsigned port)
{
    char raw[1024];
    size_t o = 0;

    snprintf(raw, sizeof raw, "%s@%s:%u", user, host, port);
    for (const char *p = raw; *p && o + 4 < len; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == ':' || c == '+')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, len - o, "%%%02X", c);
    }
    buf[o] = '\0';
}

/* ---- the hash set --------------------------------------------------- */

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

const char *state_uidl(const struct state *s, const struct state_entry *ent)
{
    return s->pool + ent->off;
}

static size_t slot_of(const struct state *s, const char *uidl, size_t len)
{
    size_t mask = s->tsize - 1, i = (size_t)hash(uidl, len) & mask;

    for (;; i = (i + 1) & mask) {
        uint32_t v = s->table[i];
        if (v == 0) return i;
        const struct state_entry *ent = &s->ents[v - 1];
        if (ent->len == len && memcmp(s->pool + ent->off, uidl, len) == 0) return i;
    }
}

static int grow_table(struct state *s)
{
    size_t nsize = s->tsize ? s->tsize * 2 : 1024;
    uint32_t *old = s->table;
    size_t osize = s->tsize;

    if (!(s->table = calloc(nsize, sizeof *s->table))) {
        s->table = old;
        return -1;
    }
    s->tsize = nsize;
    for (size_t i = 0; i < osize; i++) {
        if (!old[i]) continue;
        const struct state_entry *ent = &s->ents[old[i] - 1];
        s->table[slot_of(s, s->pool + ent->off, ent->len)] = old[i];
    }
    free(old);
    return 0;
}

const struct state_entry *state_lookup(const struct state *s, const char *uidl, size_t len)
{
    uint32_t v;

    if (s->tsize == 0) return NULL;
    v = s->table[slot_of(s, uidl, len)];
    return v ? &s->ents[v - 1] : NULL;
}

void state_mark_listed(struct state *s, const struct state_entry *ent)
{
    struct state_entry *x = &s->ents[ent - s->ents];

    s->nlisted += !x->listed;
    x->listed = 1;
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 64;
    void *n;

    if (need <= *cap) return 0;
    while (ncap < need) ncap *= 2;
    if (!(n = realloc(*p, ncap * elem))) return -1;
    *p = n;
    *cap = ncap;
    return 0;
}

/* Insert or merge one record into memory. */
static int remember(struct state *s, const char *uidl, size_t len, char status, int64_t when)
{
    size_t slot;
    struct state_entry *ent;

    if ((s->nents + 1) * 2 > s->tsize && grow_table(s) < 0) return -1;
    slot = slot_of(s, uidl, len);
    if (s->table[slot]) {
        ent = &s->ents[s->table[slot] - 1];
        if (status == STATE_DELIVERED) ent->status = STATE_DELIVERED;
        if (when < ent->first_seen) ent->first_seen = when;
        return 0;
    }
    if (reserve((void **)&s->ents, &s->cap, s->nents + 1, sizeof *s->ents) < 0 ||
        reserve((void **)&s->pool, &s->pool_cap, s->pool_len + len + 1, 1) < 0)
        return -1;
    ent = &s->ents[s->nents++];
    ent->off = (uint32_t)s->pool_len;
    ent->len = (uint16_t)len;
    ent->status = status;
    ent->listed = 0;
    ent->first_seen = when;
    memcpy(s->pool + s->pool_len, uidl, len);
    s->pool[s->pool_len + len] = '\0';
    s->pool_len += len + 1;
    s->table[slot] = (uint32_t)s->nents;
    return 0;
}

/* ---- files ---------------------------------------------------------- */

static int make_dir(const char *dir, struct err *e)
{
    if (dirs_make(dir, "state directory", e) == 0) return 0;
    err_hint(e, "set `state_dir` to a writable place");
    return -1;
}

/* The directory must be ours (or root's) and writable by us alone:
 * anyone else who could write there could plant a link at one of our
 * names or replace our files. */
static int check_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return err_set(e, ERR_LOCAL, "cannot open state directory %s: %s", dir, strerror(errno));
    rc = fileperm_check_fd(fd, "state directory", dir, e);
    close(fd);
    return rc;
}

/* Every file of ours in the state directory is opened with O_NOFOLLOW: a
 * symbolic link there is refused, never written through. */
static int open_fail(struct err *e, const char *what, const char *path)
{
    return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, what, path);
}

static int take_lock(struct state *s, const char *what, struct err *e)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    s->lock_fd = open(s->lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0) return open_fail(e, "lock file", s->lpath);
    if (fcntl(s->lock_fd, F_SETLK, &fl) == 0) return 0;
    if (errno != EACCES && errno != EAGAIN)
        return err_set(e, ERR_LOCAL, "cannot lock %s: %s", s->lpath, strerror(errno));
    fl.l_type = F_WRLCK;
    if (fcntl(s->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        err_set(e, ERR_LOCKED, "another popfetch (pid %ld) is already fetching %s", (long)fl.l_pid,
                what);
    else
        err_set(e, ERR_LOCKED, "another popfetch is already fetching %s", what);
    err_hint(e, "wait for it to finish; runs of the same account never overlap");
    return -1;
}

/* Read a whole file; *text = NULL with 0 if it does not exist. */
static int slurp(const char *path, const char *what, char **text, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc;

    *text = NULL;
    *len = 0;
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return open_fail(e, what, path);
    }
    rc = textfile_read_fd(fd, path, STATE_FILE_MAX, what, ERR_LOCAL, text, len, NULL, e);
    close(fd);
    return rc;
}

struct record {
    char status;
    int64_t when;
    const char *uidl, *name;
    size_t uidl_len, name_len;
};

static int printable_word(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* "S TIME UIDL" or, in the journal, "S TIME UIDL NAME". */
static int parse_record(const char *l, size_t n, int journal, struct record *r)
{
    const char *end = l + n, *p, *sp;
    int64_t t = 0;

    if (n < 5 || (l[0] != STATE_DELIVERED && l[0] != STATE_SKIPPED) || l[1] != ' ') return -1;
    r->status = l[0];
    for (p = l + 2; p < end && isdigit((unsigned char)*p); p++) {
        if (t > 100000000000LL) return -1;
        t = t * 10 + (*p - '0');
    }
    if (p == l + 2 || p == end || *p != ' ') return -1;
    r->when = t;
    p++;
    sp = journal ? memchr(p, ' ', (size_t)(end - p)) : end;
    if (!sp) return -1;
    r->uidl = p;
    r->uidl_len = (size_t)(sp - p);
    if (!printable_word(r->uidl, r->uidl_len, STATE_UIDL_MAX)) return -1;
    r->name = NULL;
    r->name_len = 0;
    if (!journal) return 0;
    r->name = sp + 1;
    r->name_len = (size_t)(end - r->name);
    if (!printable_word(r->name, r->name_len, NAME_MAX_LEN) || memchr(r->name, '/', r->name_len))
        return -1;
    if (r->name_len == 1 && r->name[0] == '-') r->name_len = 0;
    return 0;
}

static int add_name(struct state *s, const struct record *r)
{
    char **n = realloc(s->names, (s->nnames + 1) * sizeof *n);

    if (!n) return -1;
    s->names = n;
    if (!(n[s->nnames] = strndup(r->name, r->name_len))) return -1;
    s->nnames++;
    return 0;
}

/* A header line "MAGIC VERSION": 1 if ours, 0 if not a header, -1 if it
 * names another version. */
static int check_header(const char *l, size_t n, const char *magic)
{
    size_t ml = strlen(magic);

    if (n < ml || memcmp(l, magic, ml) != 0) return 0;
    return (n == ml + 1 && l[ml] == FORMAT_VERSION[0]) ? 1 : -1;
}

/* Load one file's records; lines that do not parse are counted, not used. */
static int load_file(struct state *s, const char *path, const char *magic, int journal,
                     struct err *e)
{
    char *text;
    size_t len, pos = 0;

    if (slurp(path, journal ? "journal" : "state file", &text, &len, e) < 0) return -1;
    while (text && pos < len) {
        const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
        size_t n;
        struct record r;

        if (!nl) { /* torn last line: never trusted */
            s->dropped++;
            break;
        }
        n = (size_t)(nl - l);
        if (pos == 0 && check_header(l, n, magic) != 0) {
            if (check_header(l, n, magic) < 0) {
                err_set(e, ERR_LOCAL, "%s was written by another popfetch version (%.*s)", path,
                        (int)(n > 40 ? 40 : n), l);
                free(text);
                err_hint(e, "use that popfetch version, or move the file away to start afresh");
                return -1;
            }
            pos += n + 1;
            continue;
        }
        pos += n + 1;
        if (parse_record(l, n, journal, &r) < 0) {
            s->dropped++;
            continue;
        }
        if (remember(s, r.uidl, r.uidl_len, r.status, r.when) < 0 ||
            (r.name_len && add_name(s, &r) < 0)) {
            free(text);
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
        s->jrecords += (size_t)journal;
    }
    free(text);
    return 0;
}

static int lock_paths(struct state *s, const char *dir, const char *key, struct err *e)
{
    if ((size_t)snprintf(s->dir, sizeof s->dir, "%s", dir) >= sizeof s->dir ||
        (size_t)snprintf(s->path, sizeof s->path, "%s/%s.state", dir, key) >= sizeof s->path ||
        (size_t)snprintf(s->jpath, sizeof s->jpath, "%s/%s.journal", dir, key) >= sizeof s->jpath ||
        (size_t)snprintf(s->lpath, sizeof s->lpath, "%s/%s.lock", dir, key) >= sizeof s->lpath)
        return err_set(e, ERR_LOCAL, "state path too long");
    if (make_dir(dir, e) < 0 || check_dir(dir, e) < 0 || take_lock(s, key, e) < 0) return -1;
    s->have_main = access(s->path, F_OK) == 0;
    return 0;
}

int state_lock(struct state **out, const char *dir, const char *key, struct err *e)
{
    struct state *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return -1;
    }
    s->lock_fd = s->journal_fd = -1;
    if (lock_paths(s, dir, key, e) < 0) {
        state_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

int state_load(struct state *s, struct err *e)
{
    if (load_file(s, s->path, STATE_MAGIC, 0, e) < 0 ||
        load_file(s, s->jpath, JOURNAL_MAGIC, 1, e) < 0)
        return -1;
    return 0;
}

int state_open(struct state **out, const char *dir, const char *key, struct err *e)
{
    if (state_lock(out, dir, key, e) < 0) return -1;
    if (state_load(*out, e) == 0) return 0;
    state_close(*out);
    *out = NULL;
    return -1;
}

size_t state_count(const struct state *s)
{
    return s->nents;
}

const struct state_entry *state_entry_at(const struct state *s, size_t i)
{
    return i < s->nents ? &s->ents[i] : NULL;
}

unsigned state_dropped(const struct state *s)
{
    return s->dropped;
}

const char *state_path(const struct state *s)
{
    return s->path;
}

int state_has_file(const struct state *s)
{
    return s->have_main;
}

char *const *state_pending_names(const struct state *s, size_t *n)
{
    *n = s->nnames;
    return s->names;
}

int state_add(struct state *s, const char *uidl, size_t len, char status, int64_t when,
              const char *name, struct err *e)
{
    size_t need = len + (name ? strlen(name) : 1) + 40;

    if (!printable_word(uidl, len, STATE_UIDL_MAX))
        return err_set(e, ERR_INTERNAL, "refusing to record a malformed UIDL");
    if (reserve((void **)&s->jbuf, &s->jcap, s->jlen + need, 1) < 0 ||
        remember(s, uidl, len, status, when) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    /* It came from this run's listing: a prune must not drop it. */
    state_mark_listed(s, &s->ents[s->table[slot_of(s, uidl, len)] - 1]);
    s->jrecords++;
    s->jlen += (size_t)snprintf(s->jbuf + s->jlen, s->jcap - s->jlen, "%c %lld %.*s %s\n", status,
                                (long long)when, (int)len, uidl, name ? name : "-");
    return 0;
}

/* Open the journal for appending; a new (or empty) one is due its header
 * and a directory fsync, which stay due until they have succeeded. */
static int open_journal(struct state *s, struct err *e)
{
    struct stat st;

    if (s->journal_fd >= 0) return 0;
    s->journal_fd = open(s->jpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->journal_fd < 0) return open_fail(e, "journal", s->jpath);
    if (fstat(s->journal_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(s->journal_fd);
        s->journal_fd = -1;
        return err_set(e, ERR_LOCAL, "journal %s is not a regular file", s->jpath);
    }
    s->jhead_due = s->jdir_due = st.st_size == 0;
    return 0;
}

static int write_journal(struct state *s)
{
    if (s->jhead_due) {
        if (fdio_write_full(s->journal_fd, JOURNAL_HEADER "\n", sizeof JOURNAL_HEADER) < 0)
            return -1;
        s->jhead_due = 0;
    }
    if (fdio_write_full(s->journal_fd, s->jbuf, s->jlen) < 0 || fsync(s->journal_fd) < 0) return -1;
    if (s->jdir_due) {
        if (dirs_fsync(s->dir) < 0) return -1;
        s->jdir_due = 0;
    }
    return 0;
}

/* A new journal gets its header, the records and its directory entry
 * made durable by one fsync of the file and one of the directory. */
int state_commit(struct state *s, struct err *e)
{
    if (s->jlen == 0) return 0;
    if (open_journal(s, e) < 0) return -1;
    if (write_journal(s) < 0) {
        err_set(e, ERR_LOCAL, "cannot write journal %s: %s", s->jpath, strerror(errno));
        /* A partial record is torn and will be dropped on load. */
        return -1;
    }
    s->jlen = 0;
    return 0;
}

/* A new temporary file, never one that was there: a stale one (a run that
 * died while compacting, or a link someone planted) is removed first. The
 * directory is ours alone (check_dir), so nobody can plant one again in
 * between; O_EXCL and O_NOFOLLOW refuse it if they could. */
static int create_tmp(const char *tmp, struct err *e)
{
    int fd;

    if (unlink(tmp) < 0 && errno != ENOENT)
        return err_set(e, ERR_LOCAL, "cannot remove the stale %s: %s", tmp, strerror(errno));
    /* 0600 whatever the umask: the UIDLs say what mail this user has */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "temporary file", tmp);
    return fd;
}

static int write_main(struct state *s, const char *tmp, int prune, struct err *e)
{
    int fd = create_tmp(tmp, e);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok;

    if (fd < 0) return -1;
    if (!f) {
        close(fd);
        unlink(tmp);
        return err_set(e, ERR_LOCAL, "cannot write %s: %s", tmp, strerror(errno));
    }
    fputs(STATE_HEADER "\n", f);
    for (size_t i = 0; i < s->nents; i++) {
        const struct state_entry *ent = &s->ents[i];
        if (prune && !ent->listed) continue;
        fprintf(f, "%c %lld %s\n", ent->status, (long long)ent->first_seen, s->pool + ent->off);
    }
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        err_set(e, ERR_LOCAL, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int state_compact(struct state *s, int prune, struct err *e)
{
    char tmp[4200];

    if (state_commit(s, e) < 0) return -1;
    /* nothing journaled, nothing to prune, nothing damaged: the file is current */
    if (!prune && !s->jrecords && !s->dropped) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    if (write_main(s, tmp, prune, e) < 0) return -1;
    if (rename(tmp, s->path) < 0 || dirs_fsync(s->dir) < 0) {
        err_set(e, ERR_LOCAL, "cannot replace %s: %s", s->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    FAULT_POINT("after-compact", 0);
    if (s->journal_fd >= 0) close(s->journal_fd);
    s->journal_fd = -1;
    if ((unlink(s->jpath) < 0 && errno != ENOENT) || dirs_fsync(s->dir) < 0)
        return err_set(e, ERR_LOCAL, "cannot remove journal %s: %s", s->jpath, strerror(errno));
    s->jrecords = 0;
    s->have_main = 1;
    return 0;
}

/* A rewrite costs a pass over every entry and three fsyncs; the journal
 * and the entries a prune would drop cost a little at every load. Rewrite
 * once either is a sizeable fraction of the whole, when there is no main
 * file yet (the first run), or when a line was dropped (so that its warning
 * is not repeated at every run). */
static int worth_compacting(const struct state *s, int prune)
{
    size_t slack = s->nents / STATE_SLACK_DIV;

    if (slack < STATE_SLACK_MIN) slack = STATE_SLACK_MIN;
    if (!s->have_main || s->dropped || s->jrecords > slack) return 1;
    return prune && s->nents - s->nlisted > slack;
}

int state_settle(struct state *s, int prune, struct err *e)
{
    if (state_commit(s, e) < 0) return -1;
    return worth_compacting(s, prune) ? state_compact(s, prune, e) : 0;
}

void state_close(struct state *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nnames; i++) free(s->names[i]);
    free(s->names);
    if (s->journal_fd >= 0) close(s->journal_fd);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
    free(s->pool);
    free(s->ents);
    free(s->table);
    free(s->jbuf);
    free(s);
}
