/*
 * maildir — the Maildir sink. See maildir.h and deliver.h.
 *
 * Group commit: end() only writes the file out of our buffer; the
 * descriptor stays open until sync(). sync() makes every file ended since
 * the last sync durable with the directory entries in tmp/. Up to
 * MD_FSYNC_EACH files are fsynced one by one with tmp/, after their
 * writeback was started for all of them at once (so the first fsync's
 * journal commit covers the others and theirs cost little); more are
 * covered by one syncfs(2) of the file system (one journal commit and one
 * cache flush instead of one per file). syncfs also waits for every other
 * program's dirty data on that file system, so it is kept for the groups
 * where one flush per file would cost more than that (a bulk download).
 * So a batch of messages pays its durability barriers together, in the
 * order the contract needs: files and tmp/ before the journal, new/ after
 * the renames. A large message is handed to the disk as it is written
 * (sync_file_range, which waits for nothing), so the barrier need not
 * write it all at once after the last byte arrived.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "fdio.h"
#include "maildir.h"

#define MD_WBUF (64 * 1024)
/* Start the disk writing a message once this much of it is written, so
 * that the barrier at the end of the group waits for little. */
#define MD_WRITEBACK (1024 * 1024)
/* The most files one sync() fsyncs one by one; above, one syncfs. */
#define MD_FSYNC_EACH 16

struct maildir {
    char path[4096];
    char host[128]; /* this host's name, made safe for file names */
    char tag[32];
    int tmp_fd, new_fd; /* directory descriptors */
    int fd;             /* message being written, or -1 */
    char name[DELIVER_NAME_MAX];
    int *ended; /* descriptors of files ended but not yet fsynced */
    size_t nended, ended_cap;
    long pid;             /* for unique names; read once */
    unsigned char rnd[4]; /* random per sink, also in every name */
    int have_rnd;         /* drawn at the first name, not at open: by then
                           * TLS has set up OpenSSL's generator */
    unsigned long seq;
    unsigned char *buf;
    size_t blen;
    off_t written, kicked; /* bytes of this file written, and sent to disk */
};

static int io_fail(struct err *e, const struct maildir *md, const char *what)
{
    err_set(e, ERR_LOCAL, "cannot %s in Maildir %s: %s", what, md->path, strerror(errno));
    if (errno == ENOSPC) err_hint(e, "the disk is full; the message stays on the server");
    return -1;
}

static void safe_hostname(char *out, size_t len)
{
    char h[256] = "localhost";
    size_t o = 0;

    gethostname(h, sizeof h - 1);
    h[sizeof h - 1] = '\0';
    for (const char *p = h; *p && o + 5 < len; p++) {
        if (*p == '/')
            o += (size_t)snprintf(out + o, len - o, "\\057");
        else if (*p == ':')
            o += (size_t)snprintf(out + o, len - o, "\\072");
        else
            out[o++] = *p;
    }
    out[o] = '\0';
}

static int make_name(struct maildir *md, struct err *e)
{
    struct timeval tv;
    const unsigned char *rnd = md->rnd;

    if (!md->have_rnd && RAND_bytes(md->rnd, sizeof md->rnd) != 1)
        return err_set(e, ERR_INTERNAL, "no randomness for Maildir file names");
    md->have_rnd = 1;
    gettimeofday(&tv, NULL);
    snprintf(md->name, sizeof md->name, "%lld.M%06ldP%ldQ%luR%02x%02x%02x%02xX%s.%s",
             (long long)tv.tv_sec, (long)tv.tv_usec, md->pid, ++md->seq, rnd[0], rnd[1], rnd[2],
             rnd[3], md->tag, md->host);
    return 0;
}

static int mdir_begin(struct sink *s, const struct deliver_msg *m, struct err *e)
{
    struct maildir *md = s->impl;

    (void)m;
    for (int tries = 0; tries < 5; tries++) {
        if (make_name(md, e) < 0) return -1;
        md->fd = openat(md->tmp_fd, md->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (md->fd >= 0) {
            md->blen = 0;
            md->written = md->kicked = 0;
            return 0;
        }
        if (errno != EEXIST) break;
    }
    return io_fail(e, md, "create a file in tmp/");
}

/* Ask the kernel to start writing what is new in the file. Only a hint:
 * errors surface in the barrier (syncfs/fsync). */
static void kick_writeback(struct maildir *md)
{
    if (md->written - md->kicked < MD_WRITEBACK) return;
    (void)sync_file_range(md->fd, md->kicked, md->written - md->kicked, SYNC_FILE_RANGE_WRITE);
    md->kicked = md->written;
}

/* write(2) all of it */
static int write_out(struct maildir *md, const unsigned char *p, size_t n, struct err *e)
{
    if (fdio_write_full(md->fd, p, n) < 0) return io_fail(e, md, "write");
    md->written += (off_t)n;
    kick_writeback(md);
    return 0;
}

static int flush_buf(struct maildir *md, struct err *e)
{
    size_t n = md->blen;

    md->blen = 0;
    return write_out(md, md->buf, n, e);
}

static int mdir_write(struct sink *s, const unsigned char *buf, size_t len, struct err *e)
{
    struct maildir *md = s->impl;

    if (md->blen + len > MD_WBUF && flush_buf(md, e) < 0) return -1;
    if (len >= MD_WBUF) return write_out(md, buf, len, e);
    memcpy(md->buf + md->blen, buf, len);
    md->blen += len;
    return 0;
}

static void mdir_abort(struct sink *s)
{
    struct maildir *md = s->impl;

    if (md->fd < 0) return;
    close(md->fd);
    md->fd = -1;
    unlinkat(md->tmp_fd, md->name, 0);
}

static int mdir_end(struct sink *s, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct maildir *md = s->impl;

    if (flush_buf(md, e) < 0) {
        mdir_abort(s);
        return -1;
    }
    if (md->nended == md->ended_cap) {
        size_t ncap = md->ended_cap ? md->ended_cap * 2 : 64;
        int *n = realloc(md->ended, ncap * sizeof *n);
        if (!n) {
            mdir_abort(s);
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
        md->ended = n;
        md->ended_cap = ncap;
    }
    md->ended[md->nended++] = md->fd;
    md->fd = -1;
    memcpy(name, md->name, DELIVER_NAME_MAX);
    return 0;
}

static void close_ended(struct maildir *md, size_t from)
{
    for (size_t i = from; i < md->nended; i++) close(md->ended[i]);
    md->nended = 0;
}

static int mdir_sync(struct sink *s, struct err *e)
{
    struct maildir *md = s->impl;

    if (md->nended > MD_FSYNC_EACH) {
        int bad = syncfs(md->tmp_fd) < 0;
        if (bad) io_fail(e, md, "syncfs the Maildir's file system");
        close_ended(md, 0);
        return bad ? -1 : 0;
    }
    if (md->nended > 1)
        for (size_t i = 0; i < md->nended; i++)
            (void)sync_file_range(md->ended[i], 0, 0, SYNC_FILE_RANGE_WRITE);
    for (size_t i = 0; i < md->nended; i++) {
        int bad = fsync(md->ended[i]) < 0;
        if (bad) io_fail(e, md, "fsync a message in tmp/");
        if (close(md->ended[i]) < 0 && !bad) bad = io_fail(e, md, "close a message in tmp/");
        if (bad) {
            close_ended(md, i + 1);
            return -1;
        }
    }
    md->nended = 0;
    return fsync(md->tmp_fd) < 0 ? io_fail(e, md, "fsync tmp/") : 0;
}

static int mdir_publish(struct sink *s, const char *name, struct err *e)
{
    struct maildir *md = s->impl;

    if (renameat(md->tmp_fd, name, md->new_fd, name) < 0)
        return io_fail(e, md, "move a message from tmp/ into new/");
    return 0;
}

static int mdir_publish_sync(struct sink *s, struct err *e)
{
    struct maildir *md = s->impl;

    return fsync(md->new_fd) < 0 ? io_fail(e, md, "fsync new/") : 0;
}

static void mdir_discard(struct sink *s, const char *name)
{
    struct maildir *md = s->impl;

    unlinkat(md->tmp_fd, name, 0);
}

static int is_named(const char *name, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return 1;
    return 0;
}

/* Our own files in tmp/ that no journal record names: half-written or not
 * yet recorded when a run died. Their messages are still on the server.
 * Returns how many were removed, or -1. */
static int remove_orphans(struct maildir *md, char *const *names, size_t n, struct err *e)
{
    char mark[40];
    int dfd = dup(md->tmp_fd), removed = 0;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *de;

    if (!d) {
        if (dfd >= 0) close(dfd);
        return io_fail(e, md, "read tmp/");
    }
    snprintf(mark, sizeof mark, "X%s.", md->tag);
    rewinddir(d);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strstr(de->d_name, mark)) continue;
        if (is_named(de->d_name, names, n)) continue;
        removed += unlinkat(md->tmp_fd, de->d_name, 0) == 0;
    }
    closedir(d);
    return removed;
}

static int mdir_recover(struct sink *s, char *const *names, size_t n, struct err *e)
{
    struct maildir *md = s->impl;
    int moved = 0, removed;

    for (size_t i = 0; i < n; i++) {
        if (faccessat(md->tmp_fd, names[i], F_OK, 0) != 0) continue;
        if (mdir_publish(s, names[i], e) < 0) return -1;
        moved = 1;
    }
    if (moved && mdir_publish_sync(s, e) < 0) return -1;
    if ((removed = remove_orphans(md, names, n, e)) < 0) return -1;
    /* tmp/ changed: make that durable too (nothing to do otherwise) */
    return moved || removed ? mdir_sync(s, e) : 0;
}

static void mdir_close(struct sink *s)
{
    struct maildir *md = s->impl;

    if (!md) return;
    mdir_abort(s);
    close_ended(md, 0);
    free(md->ended);
    if (md->tmp_fd >= 0) close(md->tmp_fd);
    if (md->new_fd >= 0) close(md->new_fd);
    free(md->buf);
    free(md);
    s->impl = NULL;
}

static const struct sink_ops maildir_ops = {
    .begin = mdir_begin,
    .write = mdir_write,
    .end = mdir_end,
    .abort = mdir_abort,
    .sync = mdir_sync,
    .publish = mdir_publish,
    .publish_sync = mdir_publish_sync,
    .recover = mdir_recover,
    .discard = mdir_discard,
    .close = mdir_close,
};

static int ensure_dir(struct maildir *md, const char *path, struct err *e)
{
    struct stat st;

    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        err_set(e, ERR_LOCAL, "Maildir %s: %s exists but is not a directory", md->path, path);
        return -1;
    }
    err_set(e, ERR_LOCAL, "cannot create Maildir directory %s: %s", path, strerror(errno));
    if (errno == ENOENT) err_hint(e, "its parent directory does not exist; create it first");
    return -1;
}

static int open_dir(struct maildir *md, const char *sub, int *fd, struct err *e)
{
    char p[4200];

    snprintf(p, sizeof p, "%s/%s", md->path, sub);
    if (ensure_dir(md, p, e) < 0) return -1;
    if ((*fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) return io_fail(e, md, "open");
    return 0;
}

int maildir_open(struct sink *s, const char *dir, const char *tag, struct err *e)
{
    struct maildir *md = calloc(1, sizeof *md);
    char cur[4200];

    s->ops = &maildir_ops;
    s->impl = md;
    s->one_at_a_time = 0; /* a group of messages shares each barrier */
    if (!md || !(md->buf = malloc(MD_WBUF))) {
        free(md);
        s->impl = NULL;
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    md->tmp_fd = md->new_fd = md->fd = -1;
    snprintf(md->path, sizeof md->path, "%s", dir);
    snprintf(md->tag, sizeof md->tag, "%s", tag);
    safe_hostname(md->host, sizeof md->host);
    md->pid = (long)getpid();
    snprintf(cur, sizeof cur, "%s/cur", dir);
    if (ensure_dir(md, dir, e) < 0 || open_dir(md, "tmp", &md->tmp_fd, e) < 0 ||
        open_dir(md, "new", &md->new_fd, e) < 0 || ensure_dir(md, cur, e) < 0) {
        mdir_close(s);
        return -1;
    }
    if (faccessat(md->tmp_fd, ".", W_OK, AT_EACCESS) != 0 ||
        faccessat(md->new_fd, ".", W_OK, AT_EACCESS) != 0) {
        io_fail(e, md, "write");
        mdir_close(s);
        return -1;
    }
    return 0;
}
