/*
 * mbox — the mbox sink (mboxrd, locked, all or nothing). See mbox.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fdio.h"
#include "fileperm.h"
#include "monotime.h"
#include "mbox.h"
#include "header.h"
#include "received.h"
#include "spool.h"

#define MB_BUF         (64 * 1024)
#define MB_TOUCH_EVERY 60 /* seconds between refreshes of a held dot-lock */
#define MB_PATH_MAX    4096
#define MB_HOST_MAX    256
#define MB_NOTE_MAX    64
#define MB_HEAD_MAX    (64 * 1024) /* how much of a message recovery reads */

struct mbox {
    char path[MB_PATH_MAX];
    char lockpath[MB_PATH_MAX + 8];
    struct mbox_opts o;
    struct spool sp;
    unsigned char *rbuf; /* spool read chunk */
    unsigned char *obuf; /* output buffer */
    size_t olen;
    int fd;         /* the mbox, while delivering */
    int lockfd;     /* our FILE.lock, while held */
    time_t touched; /* when lockfd was last refreshed */
    off_t old_size;
    int created;       /* this delivery created the file */
    unsigned long num; /* message number on the server (crash points) */
    int flushed;       /* the message being appended has had a write */
};

/* ---- quoting ------------------------------------------------------------- */

static const unsigned char from_[] = "From ";
static const unsigned char gts_[] =
    ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

void mbox_quote_init(struct mbox_quote *q)
{
    memset(q, 0, sizeof *q);
    q->bol = 1;
}

static int q_emit(struct mbox_quote *q, const unsigned char *buf, size_t len, mbox_out_fn out,
                  void *ctx, struct err *e)
{
    if (len == 0) return 0;
    q->any = 1;
    q->last = buf[len - 1];
    return out(ctx, buf, len, e);
}

/* Output the held-back ^>*F?r?o?m? prefix, with one more '>' if `quote`. */
static int q_prefix(struct mbox_quote *q, int quote, mbox_out_fn out, void *ctx, struct err *e)
{
    size_t n = q->gts + (quote ? 1 : 0);

    while (n > 0) {
        size_t k = n < sizeof gts_ - 1 ? n : sizeof gts_ - 1;
        if (q_emit(q, gts_, k, out, ctx, e) < 0) return -1;
        n -= k;
    }
    if (q_emit(q, from_, q->matched, out, ctx, e) < 0) return -1;
    q->gts = q->matched = 0;
    q->bol = 0;
    return 0;
}

/* One byte of a line's prefix: 1 = consumed, 0 = the prefix is over and the
 * byte belongs to the line's rest, -1 = error. */
static int q_prefix_byte(struct mbox_quote *q, unsigned char c, mbox_out_fn out, void *ctx,
                         struct err *e)
{
    if (q->matched == 0 && c == '>') {
        q->gts++;
        return 1;
    }
    if (c == from_[q->matched]) {
        if (++q->matched == sizeof from_ - 1 && q_prefix(q, 1, out, ctx, e) < 0) return -1;
        return 1;
    }
    return q_prefix(q, 0, out, ctx, e) < 0 ? -1 : 0;
}

int mbox_quote_feed(struct mbox_quote *q, const unsigned char *buf, size_t len, mbox_out_fn out,
                    void *ctx, struct err *e)
{
    size_t i = 0;

    while (i < len) {
        const unsigned char *nl;
        size_t n;
        if (q->bol) {
            int rc = q_prefix_byte(q, buf[i], out, ctx, e);
            if (rc < 0) return -1;
            if (rc > 0) {
                i++;
                continue;
            }
        }
        nl = memchr(buf + i, '\n', len - i);
        n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
        if (q_emit(q, buf + i, n, out, ctx, e) < 0) return -1;
        i += n;
        q->bol = nl != NULL;
    }
    return 0;
}

int mbox_quote_end(struct mbox_quote *q, mbox_out_fn out, void *ctx, struct err *e)
{
    if ((q->gts || q->matched) && q_prefix(q, 0, out, ctx, e) < 0) return -1;
    if (q->any && q->last != '\n' && q_emit(q, (const unsigned char *)"\n", 1, out, ctx, e) < 0)
        return -1;
    mbox_quote_init(q);
    return 0;
}

void mbox_date(char *buf, size_t len, long long when)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)when;
    struct tm tm;

    if (!localtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11) {
        memset(&tm, 0, sizeof tm);
        tm.tm_wday = 4, tm.tm_mday = 1, tm.tm_year = 70;
    }
    snprintf(buf, len, "%s %s %2d %02d:%02d:%02d %d", days[tm.tm_wday], months[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* ---- time and waiting ---------------------------------------------------- */

/* Sleep 100-250 ms (varying, so that waiters do not move in step), never
 * past the deadline. */
static void lock_pause(unsigned tries, long long deadline)
{
    long long ms = 100 + (long long)((tries * 53u + (unsigned)getpid()) % 151u);
    long long left = deadline - monotime_ms();
    struct timespec ts;

    if (ms > left) ms = left > 0 ? left : 0;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* ---- errors ---------------------------------------------------------------- */

static int mb_io_fail(struct err *e, const struct mbox *mb, const char *what, int errnum)
{
    err_set(e, ERR_LOCAL, "cannot %s mbox %s: %s", what, mb->path, strerror(errnum));
    if (errnum == ENOSPC || errnum == EDQUOT)
        err_hint(e, "the disk is full or over quota; the mbox is unchanged and the message "
                    "stays on the server");
    else if (errnum == EFBIG)
        err_hint(e, "the mbox reached the largest file size allowed; the mbox is unchanged and "
                    "the message stays on the server");
    else if (errnum == EACCES || errnum == EPERM || errnum == EROFS)
        err_hint(e, "check the permissions of %s and its directory", mb->path);
    else
        err_hint(e, "the mbox is unchanged and the message stays on the server");
    return -1;
}

/* ---- dot-lock ---------------------------------------------------------------- */

/* The pid written in a lock file, for messages (0 if unreadable). */
static long lock_holder(const char *lockpath)
{
    char b[32];
    int fd = open(lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    ssize_t n;

    if (fd < 0) return 0;
    n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0) return 0;
    b[n] = '\0';
    return strtol(b, NULL, 10);
}

/* This host's name, as our lock files carry it ("" if unknown). */
static void host_name(char *buf, size_t len)
{
    if (gethostname(buf, len) < 0) buf[0] = '\0';
    buf[len - 1] = '\0';
}

/* The pid of a lock file that says "PID HOST\n" with HOST this host (as
 * ours do), else 0: a lock from another host, or in a form we do not
 * know, is never judged by its pid. */
static long local_holder(const char *text, size_t n)
{
    char host[MB_HOST_MAX];
    const char *sp;
    char *end;
    long pid;

    if (n == 0 || text[n - 1] != '\n' || !(sp = memchr(text, ' ', n))) return 0;
    errno = 0;
    pid = strtol(text, &end, 10);
    if (end != sp || errno || pid <= 0 || text[0] < '0' || text[0] > '9') return 0;
    host_name(host, sizeof host);
    if (!host[0] || (size_t)(text + n - 1 - (sp + 1)) != strlen(host) ||
        memcmp(sp + 1, host, strlen(host)) != 0)
        return 0;
    return pid;
}

static void mb_warn(const struct mbox *mb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mb_warn(const struct mbox *mb, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;

    if (!mb->o.warn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mb->o.warn(mb->o.warn_ctx, msg);
}

/* A lock left by a process of this host that no longer runs (a killed
 * popfetch): removed at once, if it is still the file we read. 1 = removed. */
static int break_dead(struct mbox *mb)
{
    char text[MB_HOST_MAX + 32];
    int fd = open(mb->lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat read_st, now_st;
    ssize_t n;
    long pid;

    if (fd < 0) return errno == ENOENT;
    n = read(fd, text, sizeof text);
    if (fstat(fd, &read_st) < 0) n = -1;
    close(fd);
    if (n <= 0 || (size_t)n >= sizeof text || !(pid = local_holder(text, (size_t)n))) return 0;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) return 0;
    if (lstat(mb->lockpath, &now_st) < 0) return errno == ENOENT;
    if (now_st.st_ino != read_st.st_ino || now_st.st_dev != read_st.st_dev) return 0;
    if (unlink(mb->lockpath) < 0 && errno != ENOENT) return 0;
    mb_warn(mb, "removed the lock file %s left by process %ld, which no longer runs", mb->lockpath,
            pid);
    return 1;
}

/* Remove the lock file if it is older than the stale limit, or if it was
 * left by a dead process of this host. 1 = removed. */
static int break_stale(struct mbox *mb)
{
    struct stat st;

    if (lstat(mb->lockpath, &st) < 0) return errno == ENOENT;
    if (time(NULL) - st.st_mtime <= mb->o.stale_lock_s) return break_dead(mb);
    return unlink(mb->lockpath) == 0 || errno == ENOENT;
}

static int dotlock_made(struct mbox *mb, int fd, struct err *e)
{
    char host[MB_HOST_MAX], pid[MB_HOST_MAX + 32];
    int n;

    host_name(host, sizeof host);
    n = snprintf(pid, sizeof pid, "%ld %s\n", (long)getpid(), host);
    if (fdio_write_full(fd, pid, (size_t)n) < 0) {
        int saved = errno;
        close(fd);
        unlink(mb->lockpath);
        return mb_io_fail(e, mb, "write the lock file of", saved ? saved : ENOSPC);
    }
    mb->lockfd = fd;
    mb->touched = time(NULL);
    return 0;
}

static int dotlock_busy(struct mbox *mb, struct err *e)
{
    long pid = lock_holder(mb->lockpath);

    if (pid > 0)
        err_set(e, ERR_DELIVERY, "mbox %s is locked: %s (pid %ld) was still there after %d s",
                mb->path, mb->lockpath, pid, mb->o.lock_timeout_s);
    else
        err_set(e, ERR_DELIVERY, "mbox %s is locked: %s was still there after %d s", mb->path,
                mb->lockpath, mb->o.lock_timeout_s);
    err_hint(e,
             "another program is writing to it; if none is, remove %s (it is removed by "
             "itself once older than %d s); the message stays on the server",
             mb->lockpath, mb->o.stale_lock_s);
    return -1;
}

/* The lock's content in a file of our own, FILE.lock.PID: fd, or -1. */
static int dotlock_prepare(struct mbox *mb, char *tmp, size_t len)
{
    char host[MB_HOST_MAX], pid[MB_HOST_MAX + 32];
    int fd, n;

    host_name(host, sizeof host);
    n = snprintf(pid, sizeof pid, "%ld %s\n", (long)getpid(), host);
    if ((size_t)snprintf(tmp, len, "%s.%ld", mb->lockpath, (long)getpid()) >= len) return -1;
    unlink(tmp); /* an earlier process of this pid left it: nobody else writes this name */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return -1;
    if (fdio_write_full(fd, pid, (size_t)n) < 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

/* The lock file appears whole: its content is written first, then linked
 * to FILE.lock (so a kill at any moment never leaves an empty lock that
 * nobody can tell is dead). Where hard links cannot be made, FILE.lock is
 * created and written in place. 1 = taken, 0 = held by another, -1 = error. */
static int dotlock_try(struct mbox *mb, struct err *e)
{
    char tmp[sizeof mb->lockpath + 24];
    int fd = dotlock_prepare(mb, tmp, sizeof tmp), saved;

    if (fd >= 0) {
        int rc = link(tmp, mb->lockpath);
        saved = errno;
        unlink(tmp);
        if (rc == 0) {
            mb->lockfd = fd;
            mb->touched = time(NULL);
            return 1;
        }
        close(fd);
        if (saved == EEXIST || saved == EINTR) return 0;
    }
    fd = open(mb->lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) return dotlock_made(mb, fd, e) == 0 ? 1 : -1;
    if (errno == EEXIST || errno == EINTR) return 0;
    mb_io_fail(e, mb, "create the lock file for", errno);
    err_hint(e,
             "dot-locking needs write access to the directory of %s; fix that, or "
             "set mbox_locking fcntl",
             mb->path);
    return -1;
}

static int dotlock_take(struct mbox *mb, long long deadline, struct err *e)
{
    for (unsigned tries = 0;; tries++) {
        int rc = dotlock_try(mb, e);
        if (rc != 0) return rc > 0 ? 0 : -1;
        if (break_stale(mb)) continue;
        if (monotime_ms() >= deadline) return dotlock_busy(mb, e);
        lock_pause(tries, deadline);
    }
}

/* Keep a long delivery's lock from looking stale to others. */
static void dotlock_touch(struct mbox *mb)
{
    time_t now;

    if (mb->lockfd < 0) return;
    now = time(NULL);
    if (now - mb->touched < MB_TOUCH_EVERY) return;
    futimens(mb->lockfd, NULL);
    mb->touched = now;
}

/* Remove our lock file, unless someone broke it and made their own. */
static void dotlock_release(struct mbox *mb)
{
    struct stat mine, there;

    if (mb->lockfd < 0) return;
    if (fstat(mb->lockfd, &mine) == 0 && lstat(mb->lockpath, &there) == 0 &&
        mine.st_ino == there.st_ino && mine.st_dev == there.st_dev)
        unlink(mb->lockpath);
    close(mb->lockfd);
    mb->lockfd = -1;
}

/* ---- the mbox file and its fcntl lock -------------------------------------- */

/* The mbox is opened with O_NOFOLLOW: a symbolic link there is refused,
 * so that nobody can redirect the server's text into another file. */
static int link_fail(struct mbox *mb, struct err *e)
{
    fileperm_open_error(e, ERR_DELIVERY, ERR_DELIVERY, "mbox", mb->path);
    err_hint(e, "point delivery mbox at the file itself; the message stays on the server");
    return -1;
}

static int open_mbox(struct mbox *mb, struct err *e)
{
    struct stat st;

    mb->created = 0;
    for (int tries = 0; tries < 3; tries++) {
        mb->fd = open(mb->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (mb->fd >= 0 || errno != ENOENT) break;
        mb->fd =
            open(mb->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
                 0600);
        if (mb->fd >= 0) mb->created = 1;
        if (mb->fd >= 0 || errno != EEXIST) break;
    }
    if (mb->fd < 0 && errno == ELOOP) return link_fail(mb, e);
    if (mb->fd < 0) return mb_io_fail(e, mb, "open", errno);
    if (fstat(mb->fd, &st) < 0) return mb_io_fail(e, mb, "inspect", errno);
    if (!S_ISREG(st.st_mode)) {
        err_set(e, ERR_DELIVERY, "mbox %s is not a regular file", mb->path);
        err_hint(e, "point delivery mbox at a file; the message stays on the server");
        return -1;
    }
    return 0;
}

static void close_mbox(struct mbox *mb)
{
    if (mb->fd >= 0) close(mb->fd); /* also drops our fcntl lock */
    mb->fd = -1;
}

/* Does mb->fd still refer to what mb->path names? (A mail reader may have
 * replaced the file while we waited for its lock.) */
static int still_same_file(const struct mbox *mb)
{
    struct stat a, b;

    return fstat(mb->fd, &a) == 0 && stat(mb->path, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

static int fcntl_busy(struct mbox *mb, struct err *e)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    if (fcntl(mb->fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
        err_set(e, ERR_DELIVERY, "mbox %s is locked by process %ld, still after %d s", mb->path,
                (long)fl.l_pid, mb->o.lock_timeout_s);
    else
        err_set(e, ERR_DELIVERY, "mbox %s is locked by another program, still after %d s", mb->path,
                mb->o.lock_timeout_s);
    err_hint(e, "a mail reader or another delivery holds it; the message stays on the server");
    return -1;
}

/* One try at a write lock on the whole file. An open-file-description lock
 * where the kernel has one: it conflicts with the classic fcntl locks other
 * programs take, and also with another sink in this same process (classic
 * locks do not exclude threads of one process). */
static int fcntl_try(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

#ifdef F_OFD_SETLK
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
    if (errno != EINVAL) return -1;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
#endif
    return fcntl(fd, F_SETLK, &fl);
}

static int fcntl_take(struct mbox *mb, long long deadline, struct err *e)
{
    for (unsigned tries = 0;; tries++) {
        if (fcntl_try(mb->fd) == 0) return 0;
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            mb_io_fail(e, mb, "lock", errno);
            err_hint(e, "the file system may not support fcntl locks; set mbox_locking dotlock");
            return -1;
        }
        if (monotime_ms() >= deadline) return fcntl_busy(mb, e);
        lock_pause(tries, deadline);
    }
}

static void unlock_all(struct mbox *mb)
{
    close_mbox(mb);
    dotlock_release(mb);
}

/* Dot-lock, open, fcntl-lock, in that order (as procmail and mutt do). */
static int lock_and_open(struct mbox *mb, struct err *e)
{
    long long deadline = monotime_ms() + (long long)mb->o.lock_timeout_s * 1000;

    if (mb->o.dotlock && dotlock_take(mb, deadline, e) < 0) return -1;
    for (;;) {
        if (open_mbox(mb, e) < 0) break;
        if (!mb->o.fcntl_lock) return 0;
        if (fcntl_take(mb, deadline, e) < 0) break;
        if (still_same_file(mb)) return 0;
        close_mbox(mb);
    }
    unlock_all(mb);
    return -1;
}

/* ---- appending ----------------------------------------------------------------- */

static int write_all(struct mbox *mb, const unsigned char *p, size_t n, struct err *e)
{
    return fdio_write_full(mb->fd, p, n) < 0 ? mb_io_fail(e, mb, "append to", errno) : 0;
}

static int out_flush(struct mbox *mb, struct err *e)
{
    int rc = write_all(mb, mb->obuf, mb->olen, e);

    if (!mb->flushed++) FAULT_POINT("mid-append", mb->num);
    mb->olen = 0;
    dotlock_touch(mb);
    return rc;
}

static int out_bytes(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct mbox *mb = ctx;

    if (mb->olen + len > MB_BUF && out_flush(mb, e) < 0) return -1;
    if (len >= MB_BUF) return write_all(mb, buf, len, e);
    memcpy(mb->obuf + mb->olen, buf, len);
    mb->olen += len;
    return 0;
}

static int out_str(struct mbox *mb, const char *s, struct err *e)
{
    return out_bytes(mb, (const unsigned char *)s, strlen(s), e);
}

/* Check the existing file, remember its size, and return in `sep` what must
 * come before our From_ line so that it starts a line after an empty one. */
static int check_mbox(struct mbox *mb, const char **sep, struct err *e)
{
    struct stat st;
    unsigned char head[5], tail[2];

    *sep = "";
    if (fstat(mb->fd, &st) < 0) return mb_io_fail(e, mb, "inspect", errno);
    mb->old_size = st.st_size;
    if (st.st_size == 0) return 0;
    if (st.st_size < 5 || pread(mb->fd, head, 5, 0) != 5 || memcmp(head, "From ", 5) != 0) {
        err_set(e, ERR_DELIVERY, "%s is not an mbox (it does not start with \"From \")", mb->path);
        err_hint(e, "point delivery mbox at an mbox file (or a new one), or use delivery maildir; "
                    "the message stays on the server");
        return -1;
    }
    if (pread(mb->fd, tail, 2, st.st_size - 2) != 2) return mb_io_fail(e, mb, "read", errno);
    if (tail[1] != '\n')
        *sep = "\n\n";
    else if (tail[0] != '\n')
        *sep = "\n";
    return 0;
}

static int copy_quoted(struct mbox *mb, struct err *e)
{
    struct mbox_quote q;
    ssize_t r;

    mbox_quote_init(&q);
    if (spool_rewind(&mb->sp, e) < 0) return -1;
    while ((r = spool_read(&mb->sp, mb->rbuf, MB_BUF, e)) > 0)
        if (mbox_quote_feed(&q, mb->rbuf, (size_t)r, out_bytes, mb, e) < 0) return -1;
    if (r < 0 || mbox_quote_end(&q, out_bytes, mb, e) < 0) return -1;
    return 0;
}

static int sync_dir_of(struct mbox *mb, struct err *e)
{
    char dir[MB_PATH_MAX];
    char *slash;
    int fd, rc;

    snprintf(dir, sizeof dir, "%s", mb->path);
    slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return mb_io_fail(e, mb, "open the directory of", errno);
    rc = fsync(fd);
    close(fd);
    return rc < 0 ? mb_io_fail(e, mb, "fsync the directory of", errno) : 0;
}

static int count_bytes(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    (void)buf, (void)e;
    *(uint64_t *)ctx += len;
    return 0;
}

/* How many bytes quoting the spooled message gives. */
static int quoted_length(struct mbox *mb, uint64_t *n, struct err *e)
{
    struct mbox_quote q;
    ssize_t r;

    *n = 0;
    mbox_quote_init(&q);
    if (spool_rewind(&mb->sp, e) < 0) return -1;
    while ((r = spool_read(&mb->sp, mb->rbuf, MB_BUF, e)) > 0)
        if (mbox_quote_feed(&q, mb->rbuf, (size_t)r, count_bytes, n, e) < 0) return -1;
    if (r < 0 || mbox_quote_end(&q, count_bytes, n, e) < 0) return -1;
    return 0;
}

/* Before a byte is appended: the intent (where the message goes, how long
 * it is), for the journal, so that a run killed from here on is answered
 * at the next start (mbox_recover_intent) instead of appending again. */
static int announce(struct sink *s, const char *sep, const char *line, struct err *e)
{
    struct mbox *mb = s->impl;
    char note[MB_NOTE_MAX];
    uint64_t n;

    if (!s->intend) return 0;
    if (quoted_length(mb, &n, e) < 0) return -1;
    n += strlen(sep) + strlen(line) + 1;
    snprintf(note, sizeof note, "mbox:%lld+%llu", (long long)mb->old_size, (unsigned long long)n);
    return deliver_intend(s, note, e);
}

static int write_message(struct sink *s, const char *sender, struct err *e)
{
    struct mbox *mb = s->impl;
    char date[32], line[HEADER_SENDER_MAX + 64];
    const char *sep;

    if (check_mbox(mb, &sep, e) < 0) return 1; /* 1: nothing written */
    mbox_date(date, sizeof date, (long long)time(NULL));
    snprintf(line, sizeof line, "From %s %s\n", sender, date);
    if (announce(s, sep, line, e) < 0) return 1;
    mb->olen = 0;
    mb->flushed = 0;
    if (out_str(mb, sep, e) < 0 || out_str(mb, line, e) < 0 || copy_quoted(mb, e) < 0 ||
        out_str(mb, "\n", e) < 0 || out_flush(mb, e) < 0)
        return -1;
    if (fsync(mb->fd) < 0) return mb_io_fail(e, mb, "fsync", errno);
    if (mb->created && sync_dir_of(mb, e) < 0) return -1;
    return 0;
}

/* Take back a partly written message: truncate to the old size. */
static void roll_back(struct mbox *mb, struct err *e)
{
    char was[ERR_MSG_MAX];

    if (ftruncate(mb->fd, mb->old_size) == 0 && fsync(mb->fd) == 0) return;
    snprintf(was, sizeof was, "%s", e->msg);
    err_set(e, ERR_LOCAL, "%s; then could not remove the partial message: %s", was,
            strerror(errno));
    err_hint(e, "%s may now end with part of a message after byte %lld; truncate it to that size",
             mb->path, (long long)mb->old_size);
}

static int deliver_locked(struct sink *s, const char *sender, struct err *e)
{
    struct mbox *mb = s->impl;
    int rc = write_message(s, sender, e);

    if (rc < 0) roll_back(mb, e);
    return rc != 0 ? -1 : 0;
}

/* ---- the sink ------------------------------------------------------------------ */

static int mb_begin(struct sink *s, const struct deliver_msg *m, struct err *e)
{
    struct mbox *mb = s->impl;

    mb->num = m->num;
    return spool_reset(&mb->sp, e);
}

static int mb_write(struct sink *s, const unsigned char *buf, size_t len, struct err *e)
{
    struct mbox *mb = s->impl;

    return spool_write(&mb->sp, buf, len, e);
}

static void mb_abort(struct sink *s)
{
    struct mbox *mb = s->impl;
    struct err ignored;

    spool_reset(&mb->sp, &ignored);
}

static int mb_end(struct sink *s, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct mbox *mb = s->impl;
    char sender[HEADER_SENDER_MAX + 1];
    int rc;

    name[0] = '\0';
    if (spool_flush(&mb->sp, e) < 0) {
        mb_abort(s);
        return -1;
    }
    header_sender(HEADER_SENDER_MBOX, spool_field, &mb->sp, sender, sizeof sender);
    if (lock_and_open(mb, e) < 0) {
        mb_abort(s);
        return -1;
    }
    rc = deliver_locked(s, sender, e);
    unlock_all(mb);
    mb_abort(s);
    return rc;
}

/* ---- recovery ------------------------------------------------------------ */

/* "mbox:OFFSET+LENGTH" */
static int parse_note(const char *note, off_t *off, uint64_t *len)
{
    unsigned long long o, n;
    int used = 0;

    if (sscanf(note, "mbox:%llu+%llu%n", &o, &n, &used) != 2 || note[used] != '\0' ||
        o > (unsigned long long)INT64_MAX / 2 || n == 0 || n > (unsigned long long)INT64_MAX / 2)
        return -1;
    *off = (off_t)o;
    *len = n;
    return 0;
}

/* Is the message at `off` (after up to two separating newlines and its
 * From_ line) one whose header names `uidl` in our Received: field? */
static int ours_at(struct mbox *mb, off_t off, const char *uidl, struct err *e)
{
    char mark[RECEIVED_UIDL_MAX];
    size_t mlen = received_uidl_mark(mark, sizeof mark, uidl);
    unsigned char *head = mb->rbuf; /* MB_BUF >= MB_HEAD_MAX */
    ssize_t n = pread(mb->fd, head, MB_HEAD_MAX, off);
    size_t i = 0, end;
    const unsigned char *blank;

    if (n < 0) return mb_io_fail(e, mb, "read", errno);
    while (i < 2 && i < (size_t)n && head[i] == '\n') i++;
    if ((size_t)n - i < 5 || memcmp(head + i, "From ", 5) != 0) return 0;
    blank = memmem(head + i, (size_t)n - i, "\n\n", 2);
    end = blank ? (size_t)(blank - head) : (size_t)n;
    return mlen && memmem(head + i, end - i, mark, mlen) != NULL;
}

/* Under the locks: 1 = the whole message is there, 0 = not (a part of
 * it at the end of the file is cut off again). */
static int settle_intent(struct mbox *mb, const char *uidl, off_t off, uint64_t len, struct err *e)
{
    struct stat st;
    int ours;

    if (fstat(mb->fd, &st) < 0) return mb_io_fail(e, mb, "inspect", errno);
    if (st.st_size <= off) return 0; /* nothing of it, or the file was rewritten */
    if ((ours = ours_at(mb, off, uidl, e)) <= 0) return ours;
    if ((uint64_t)(st.st_size - off) >= len) return 1;
    /* ours, cut short, and nothing after it: the run was killed while appending */
    if (ftruncate(mb->fd, off) < 0 || fsync(mb->fd) < 0)
        return mb_io_fail(e, mb, "remove a partial message from", errno);
    mb_warn(mb, "removed the incomplete message (uidl %s) a killed run left at byte %lld of %s",
            uidl, (long long)off, mb->path);
    return 0;
}

static int mb_recover_intent(struct sink *s, const char *uidl, const char *note, struct err *e)
{
    struct mbox *mb = s->impl;
    off_t off;
    uint64_t len;
    int rc;

    if (parse_note(note, &off, &len) < 0 || access(mb->path, F_OK) < 0) return 0;
    if (lock_and_open(mb, e) < 0) return -1;
    rc = settle_intent(mb, uidl, off, len, e);
    unlock_all(mb);
    return rc;
}

static void mb_close(struct sink *s)
{
    struct mbox *mb = s->impl;

    if (!mb) return;
    unlock_all(mb);
    spool_close(&mb->sp);
    free(mb->rbuf);
    free(mb->obuf);
    free(mb);
    s->impl = NULL;
}

static const struct sink_ops mbox_ops = {
    .begin = mb_begin,
    .write = mb_write,
    .end = mb_end,
    .abort = mb_abort,
    .sync = deliver_final_sync, /* end() is final: the rest has nothing to do */
    .publish = deliver_final_publish,
    .publish_sync = deliver_final_sync,
    .recover = deliver_final_recover,
    .recover_intent = mb_recover_intent,
    .close = mb_close,
};

void mbox_opts_init(struct mbox_opts *o)
{
    memset(o, 0, sizeof *o);
    o->dotlock = 1;
    o->fcntl_lock = 1;
    o->lock_timeout_s = MBOX_LOCK_TIMEOUT_S;
    o->stale_lock_s = MBOX_STALE_LOCK_S;
}

/* Early, friendly checks: the directory exists, an existing file is an mbox.
 * end() checks again under the lock. */
static int precheck(struct mbox *mb, struct err *e)
{
    struct stat st;
    int fd;
    const char *sep;
    int rc;

    if (stat(mb->path, &st) < 0) {
        if (errno != ENOENT) return mb_io_fail(e, mb, "inspect", errno);
        if (!strchr(mb->path, '/')) return 0;
        {
            char dir[MB_PATH_MAX];
            snprintf(dir, sizeof dir, "%s", mb->path);
            *strrchr(dir, '/') = '\0';
            if (dir[0] && stat(dir, &st) < 0) {
                err_set(e, ERR_LOCAL, "cannot create mbox %s: directory %s: %s", mb->path, dir,
                        strerror(errno));
                err_hint(e, "create the directory first");
                return -1;
            }
        }
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(e, ERR_DELIVERY, "mbox %s is not a regular file", mb->path);
        err_hint(e, "point delivery mbox at a file");
        return -1;
    }
    if ((fd = open(mb->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW)) < 0)
        return errno == ELOOP ? link_fail(mb, e) : mb_io_fail(e, mb, "open", errno);
    mb->fd = fd;
    rc = check_mbox(mb, &sep, e);
    close_mbox(mb);
    return rc;
}

int mbox_open(struct sink *s, const char *path, const struct mbox_opts *o, struct err *e)
{
    struct mbox *mb = calloc(1, sizeof *mb);

    s->ops = &mbox_ops;
    s->impl = mb;
    s->one_at_a_time = 1;
    s->intend = NULL;
    s->intend_ctx = NULL;
    if (!mb) return err_set(e, ERR_INTERNAL, "out of memory");
    mb->fd = mb->lockfd = -1;
    mb->sp.fd = -1;
    if (o)
        mb->o = *o;
    else
        mbox_opts_init(&mb->o);
    if (mb->o.lock_timeout_s <= 0) mb->o.lock_timeout_s = MBOX_LOCK_TIMEOUT_S;
    if (mb->o.stale_lock_s <= 0) mb->o.stale_lock_s = MBOX_STALE_LOCK_S;
    if (!path || !*path || strlen(path) >= sizeof mb->path) {
        mb_close(s);
        return err_set(e, ERR_USAGE, "the mbox path is empty or too long");
    }
    snprintf(mb->path, sizeof mb->path, "%s", path);
    snprintf(mb->lockpath, sizeof mb->lockpath, "%s.lock", path);
    if (!(mb->rbuf = malloc(MB_BUF)) || !(mb->obuf = malloc(MB_BUF))) {
        mb_close(s);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (spool_open(&mb->sp, mb->o.spool_dir, e) < 0 || precheck(mb, e) < 0) {
        mb_close(s);
        return -1;
    }
    return 0;
}
