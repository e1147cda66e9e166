/*
 * mda — the MDA sink: a delivery program run without a shell, fed the
 * message on a pipe, watched with a deadline. See mda.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mda.h"
#include "spool.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define MDA_BUF       (64 * 1024)
#define MDA_UIDL_MAX  256
#define MDA_DRAIN_MAX (1024 * 1024) /* stderr read after the MDA exited */

extern char **environ;

struct mda {
    char *command, *account, *local_user, *remote_user, *server;
    int timeout_s;
    void (*stderr_line)(void *ctx, const char *line, size_t len);
    void *stderr_ctx;
    struct spool sp;
    unsigned char *buf; /* a chunk on its way from the spool to the MDA */
    char uidl[MDA_UIDL_MAX];
};

/* One run of the MDA for one message. */
struct run {
    pid_t pid;
    int in_w, in_r;  /* stdin pipe: we write in_w and keep in_r to see what was left unread */
    int err_r;       /* the MDA's stderr */
    int pidfd;       /* readable when the MDA exits, or -1 */
    size_t off, len; /* unsent part of md->buf */
    uint64_t sent;
    int feed_failed;     /* writing to the MDA or reading the spool failed: */
    struct err feed_err; /* why */
    int reaped, status, timed_out, killed;
    int lost; /* someone else reaped it (SIGCHLD ignored?): status unknown */
    char line[MDA_LINE_MAX + 1];
    size_t llen;
    unsigned long nlines, dropped;
    char last[MDA_LINE_MAX + 1]; /* the last non-empty stderr line, for the error */
    size_t lastlen;
};

/* ---- splitting the command --------------------------------------------------- */

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

void mda_argv_free(char **argv)
{
    if (!argv) return;
    /* mda_split always ends the array with NULL; the analyzer cannot follow
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
static int subst(struct words *ws, const char *cmd, size_t *i, const struct mda_vars *v,
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

static int split_words(struct words *ws, const char *cmd, const struct mda_vars *v, struct err *e)
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

int mda_split(const char *cmd, const struct mda_vars *v, char ***argv, struct err *e)
{
    static const struct mda_vars none;
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

const char *mda_exit_meaning(int status)
{
    static const char *const sysexits[] = {
        "usage error",
        "data format error",
        "cannot open input",
        "addressee unknown",
        "host name unknown",
        "service unavailable",
        "internal software error",
        "system error",
        "critical OS file missing",
        "can't create output file",
        "input/output error",
        "temporary failure",
        "remote error in protocol",
        "permission denied",
        "configuration error",
    };

    if (status >= 64 && status <= 78) return sysexits[status - 64];
    if (status == 126) return "cannot execute";
    if (status == 127) return "command not found";
    return NULL;
}

/* ---- time ------------------------------------------------------------------------ */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the child ------------------------------------------------------------------- */

/* Everything from fd 3 up closes on exec, whoever opened it. */
static void cloexec_from_3(void)
{
    long max;

#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
#endif
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) max = 65536;
    for (int fd = 3; fd < (int)max; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void default_signals(void)
{
    static const int sigs[] = {SIGPIPE, SIGCHLD, SIGXFSZ, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    struct sigaction dfl;
    sigset_t none;

    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the forked child: only async-signal-safe calls, then exec or _exit.
 * On failure the errno goes to the parent through status_fd. */
static void child_exec(const int fds[3], int status_fd, char **argv, char **envp)
{
    int hi[3], saved;

    setpgid(0, 0);
    default_signals();
    for (int i = 0; i < 3; i++)
        if ((hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) goto fail;
    for (int i = 0; i < 3; i++)
        if (dup2(hi[i], i) < 0) goto fail;
    cloexec_from_3();
    execvpe(argv[0], argv, envp);
fail:
    saved = errno;
    if (write(status_fd, &saved, sizeof saved) < 0) _exit(127);
    _exit(127);
}

/* ---- the parent: starting ---------------------------------------------------------- */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Keep our descriptors off 0, 1 and 2 (which may be closed in this process),
 * so that the child's dup2 onto them cannot clobber one. */
static int lift_fd(int *fd)
{
    int hi;

    if (*fd < 0 || *fd > 2) return 0;
    if ((hi = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0) return -1;
    close(*fd);
    *fd = hi;
    return 0;
}

/* A descriptor that polls readable when the child exits (Linux 5.3+), or
 * -1: then the child is looked at every few milliseconds instead. */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    static int unsupported; /* remembered, not to ask the kernel every message */
    int fd;

    if (unsupported) return -1;
    fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0 && errno == ENOSYS) unsupported = 1;
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

static int exec_failed(const struct mda *md, char **argv, int errnum, struct err *e)
{
    char shown[128];

    err_quote(shown, sizeof shown, argv[0], strlen(argv[0]));
    err_set(e, ERR_DELIVERY, "cannot run the MDA %s: %s", shown, strerror(errnum));
    if (errnum == ENOENT)
        err_hint(e,
                 "check the command in delivery mda (%s) and PATH; the message stays on the "
                 "server",
                 md->command);
    else
        err_hint(e, "check that %s is an executable program; the message stays on the server",
                 shown);
    return -1;
}

/* Wait for the status pipe: EOF means exec succeeded, an int is its errno. */
static int exec_status(int fd)
{
    int errnum = 0;
    ssize_t n;

    do n = read(fd, &errnum, sizeof errnum);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof errnum ? errnum : 0;
}

static int make_pipes(int in[2], int errp[2], int st[2], int *devnull)
{
    in[0] = in[1] = errp[0] = errp[1] = st[0] = st[1] = -1;
    *devnull = -1;
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 ||
        (*devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
        return -1;
    if (lift_fd(&in[0]) || lift_fd(&in[1]) || lift_fd(&errp[0]) || lift_fd(&errp[1]) ||
        lift_fd(&st[0]) || lift_fd(&st[1]) || lift_fd(devnull))
        return -1;
    return 0;
}

static void close_all(int in[2], int errp[2], int st[2], int *devnull)
{
    close_fd(&in[0]), close_fd(&in[1]), close_fd(&errp[0]), close_fd(&errp[1]);
    close_fd(&st[0]), close_fd(&st[1]), close_fd(devnull);
}

static int spawn(struct mda *md, struct run *r, char **argv, char **envp, struct err *e)
{
    int in[2], errp[2], st[2], devnull, errnum;

    if (make_pipes(in, errp, st, &devnull) < 0 || set_nonblock(in[1]) < 0 ||
        set_nonblock(errp[0]) < 0 || (r->pid = fork()) < 0) {
        err_set(e, ERR_LOCAL, "cannot start the MDA: %s", strerror(errno));
        close_all(in, errp, st, &devnull);
        return -1;
    }
    if (r->pid == 0) {
        int fds[3] = {in[0], devnull, errp[1]};
        child_exec(fds, st[1], argv, envp);
    }
    setpgid(r->pid, r->pid); /* also here, so that a kill of the group cannot miss */
    close_fd(&errp[1]), close_fd(&st[1]), close_fd(&devnull);
    r->in_w = in[1], r->in_r = in[0], r->err_r = errp[0];
    errnum = exec_status(st[0]);
    close_fd(&st[0]);
    if (errnum) {
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        r->reaped = 1;
        return exec_failed(md, argv, errnum, e);
    }
    r->pidfd = open_pidfd(r->pid);
    return 0;
}

/* ---- the parent: stderr ------------------------------------------------------------ */

static void line_out(struct mda *md, struct run *r)
{
    r->line[r->llen] = '\0';
    if (r->llen > 0) {
        memcpy(r->last, r->line, r->llen + 1);
        r->lastlen = r->llen;
    }
    if (r->nlines++ < MDA_LINES_MAX) {
        if (md->stderr_line) md->stderr_line(md->stderr_ctx, r->line, r->llen);
    } else {
        r->dropped++;
    }
    r->llen = 0;
}

static void stderr_bytes(struct mda *md, struct run *r, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            line_out(md, r);
            continue;
        }
        r->line[r->llen++] = p[i];
        if (r->llen == MDA_LINE_MAX) line_out(md, r);
    }
}

/* Read what the MDA wrote to stderr (up to `max` bytes); close at EOF. */
static void stderr_read(struct mda *md, struct run *r, size_t max)
{
    char b[4096];
    size_t got = 0;

    while (r->err_r >= 0 && got < max) {
        ssize_t n = read(r->err_r, b, sizeof b);
        if (n > 0) {
            stderr_bytes(md, r, b, (size_t)n);
            got += (size_t)n;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close_fd(&r->err_r);
        } else if (errno == EAGAIN) {
            break;
        }
    }
}

static void stderr_finish(struct mda *md, struct run *r)
{
    char note[96];

    stderr_read(md, r, MDA_DRAIN_MAX);
    close_fd(&r->err_r);
    if (r->llen > 0) line_out(md, r);
    if (r->dropped && md->stderr_line) {
        int n = snprintf(note, sizeof note, "(%lu more lines of MDA output not shown)", r->dropped);
        md->stderr_line(md->stderr_ctx, note, (size_t)n);
    }
}

/* ---- the parent: feeding and waiting ------------------------------------------------ */

/* Send the next piece of the message; close stdin after the last byte. */
static void feed(struct mda *md, struct run *r)
{
    if (r->off == r->len) {
        ssize_t n = spool_read(&md->sp, md->buf, MDA_BUF, &r->feed_err);
        if (n < 0) {
            r->feed_failed = 1;
            return;
        }
        if (n == 0) {
            close_fd(&r->in_w);
            return;
        }
        r->off = 0, r->len = (size_t)n;
    }
    for (;;) {
        ssize_t w = write(r->in_w, md->buf + r->off, r->len - r->off);
        if (w > 0) {
            r->off += (size_t)w, r->sent += (uint64_t)w;
            return;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN) {
            err_set(&r->feed_err, ERR_LOCAL, "cannot pass the message to the MDA: %s",
                    strerror(errno));
            r->feed_failed = 1;
        }
        return;
    }
}

static void try_reap(struct run *r)
{
    pid_t p;

    if (r->reaped) return;
    do p = waitpid(r->pid, &r->status, WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p == r->pid) r->reaped = 1;
    if (p < 0 && errno == ECHILD) r->reaped = r->lost = 1;
}

static void signal_group(const struct run *r, int sig)
{
    kill(-r->pid, sig);
    kill(r->pid, sig);
}

/* SIGTERM, up to MDA_KILL_AFTER_S for it to go, then SIGKILL; reaped.
 * Its stdin stays open meanwhile: it never sees an end of a message that
 * did not end, so it cannot deliver a truncated one. */
static void stop_child(struct mda *md, struct run *r)
{
    long long until = now_ms() + MDA_KILL_AFTER_S * 1000LL;

    signal_group(r, SIGTERM);
    while (!r->reaped && now_ms() < until) {
        struct pollfd p = {.fd = r->err_r, .events = POLLIN};
        poll(&p, r->err_r >= 0 ? 1 : 0, 50);
        stderr_read(md, r, MDA_BUF);
        try_reap(r);
    }
    if (r->reaped) return;
    r->killed = 1;
    signal_group(r, SIGKILL);
    while (waitpid(r->pid, &r->status, 0) < 0)
        if (errno != EINTR) {
            r->lost = !r->timed_out;
            break;
        }
    r->reaped = 1;
}

/* How long poll may sleep: to the deadline, but without a pidfd we must
 * look at the child now and then. */
static int poll_wait(const struct run *r, long long left, int *idle)
{
    long long ms = left;

    if (r->pidfd < 0) {
        long long cap = r->err_r >= 0 ? 100 : (*idle < 50 ? (*idle = *idle * 2 + 1) : 50);
        if (ms > cap) ms = cap;
    }
    return (int)(ms > 0 ? ms : 0);
}

static void supervise(struct mda *md, struct run *r)
{
    long long deadline = now_ms() + (long long)md->timeout_s * 1000;
    int idle = 0;

    while (!r->reaped) {
        struct pollfd p[3];
        int n = 0, iw = -1, ie = -1;
        long long left = deadline - now_ms();
        if (left <= 0 || r->feed_failed) {
            r->timed_out = !r->feed_failed;
            stop_child(md, r);
            break;
        }
        if (r->in_w >= 0) p[iw = n++] = (struct pollfd){.fd = r->in_w, .events = POLLOUT};
        if (r->err_r >= 0) p[ie = n++] = (struct pollfd){.fd = r->err_r, .events = POLLIN};
        if (r->pidfd >= 0) p[n++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
        if (poll(p, (nfds_t)n, poll_wait(r, left, &idle)) > 0) {
            if (iw >= 0 && p[iw].revents) feed(md, r);
            if (ie >= 0 && p[ie].revents) stderr_read(md, r, MDA_BUF);
        }
        try_reap(r);
    }
    stderr_finish(md, r);
}

/* Bytes of the message the MDA never read. */
static uint64_t unread(struct mda *md, const struct run *r)
{
    int queued = 0;

    if (r->in_r >= 0 && ioctl(r->in_r, FIONREAD, &queued) < 0) queued = 0;
    return spool_size(&md->sp) - r->sent + (uint64_t)(queued > 0 ? queued : 0);
}

/* ---- the verdict ---------------------------------------------------------------------- */

static void add_said(struct err *e, const struct run *r)
{
    char said[160];
    size_t n = strlen(e->msg);

    if (r->lastlen == 0) return;
    err_quote(said, sizeof said, r->last, r->lastlen);
    snprintf(e->msg + n, sizeof e->msg - n, "; it said: %s", said);
}

static int failed_exit(const struct run *r, int code, struct err *e)
{
    const char *meaning = mda_exit_meaning(code);

    if (code == 75) {
        err_set(e, ERR_DELIVERY,
                "the MDA reported a temporary failure (exit status 75); the message will be "
                "retried on the next run");
        add_said(e, r);
        err_hint(e, "nothing to do if it passes; if it persists, see the MDA's messages");
        return -1;
    }
    err_set(e, ERR_DELIVERY, "the MDA failed with exit status %d (%s)", code,
            meaning ? meaning : "no standard meaning");
    add_said(e, r);
    err_hint(e, "the message stays on the server; see the MDA's messages, or run the command by "
                "hand on a saved message");
    return -1;
}

static int verdict(struct mda *md, const struct run *r, struct err *e)
{
    uint64_t left;

    if (r->feed_failed) {
        *e = r->feed_err;
        err_prefix(e, "the MDA was stopped");
        err_hint(e, "the message stays on the server; check the spool directory %s", md->sp.dir);
        return -1;
    }
    if (r->timed_out) {
        err_set(e, ERR_DELIVERY, "the MDA did not finish within %d s and was %s", md->timeout_s,
                r->killed ? "killed" : "stopped");
        err_hint(e, "the message stays on the server; raise mda_timeout, or find out why the MDA "
                    "hangs");
        return -1;
    }
    if (r->lost) {
        err_set(e, ERR_INTERNAL, "lost track of the MDA: its exit status is unknown");
        err_hint(e, "popfetch must not run with SIGCHLD ignored; the message stays on the server");
        return -1;
    }
    if (WIFSIGNALED(r->status)) {
        err_set(e, ERR_DELIVERY, "the MDA was killed by signal %d (%s)", WTERMSIG(r->status),
                strsignal(WTERMSIG(r->status)));
        add_said(e, r);
        err_hint(e, "the message stays on the server");
        return -1;
    }
    if (!WIFEXITED(r->status)) return err_set(e, ERR_INTERNAL, "the MDA ended in a strange way");
    if (WEXITSTATUS(r->status) != 0) return failed_exit(r, WEXITSTATUS(r->status), e);
    if ((left = unread(md, r)) > 0) {
        err_set(e, ERR_DELIVERY,
                "the MDA did not read the whole message (it exited 0 with %llu of %llu bytes "
                "unread)",
                (unsigned long long)left, (unsigned long long)spool_size(&md->sp));
        err_hint(e, "the message stays on the server; make sure the MDA command reads the "
                    "message from its standard input");
        return -1;
    }
    return 0;
}

/* ---- one delivery ------------------------------------------------------------------------ */

static int env_ours(const char *entry)
{
    static const char *const names[] = {
        "POPFETCH_ACCOUNT=", "POPFETCH_UIDL=", "POPFETCH_SIZE=", "POPFETCH_SERVER="};

    for (size_t i = 0; i < 4; i++)
        if (!strncmp(entry, names[i], strlen(names[i]))) return 1;
    return 0;
}

static char *env_var(const char *name, const char *val)
{
    size_t n = strlen(name) + strlen(val) + 2;
    char *s = malloc(n);

    if (s) snprintf(s, n, "%s=%s", name, val);
    return s;
}

static int env_safe(unsigned char c, size_t i)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    if (c == '-' || c == '.') return i > 0; /* never an option, "." or ".." */
    return c != '\0' && strchr("_@+=:", c) != NULL;
}

size_t mda_env_uidl(char *dst, size_t max, const char *uidl)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (max == 0) return 0;
    for (size_t i = 0; uidl[i] && o + 4 <= max; i++) {
        unsigned char c = (unsigned char)uidl[i];
        if (env_safe(c, i)) {
            dst[o++] = (char)c;
            continue;
        }
        dst[o++] = '%';
        dst[o++] = hex[c >> 4];
        dst[o++] = hex[c & 15];
    }
    dst[o] = '\0';
    return o;
}

/* environ without our variables, then ours (the last four, malloc'd).
 * POPFETCH_UIDL is the only value from the server: mda_env_uidl(). */
static char **build_env(const struct mda *md, uint64_t size)
{
    char num[24], uidl[3 * MDA_UIDL_MAX + 1];
    size_t n = 0, o = 0;
    char **env;

    while (environ && environ[n]) n++;
    if (!(env = calloc(n + 5, sizeof *env))) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!env_ours(environ[i])) env[o++] = environ[i];
    snprintf(num, sizeof num, "%llu", (unsigned long long)size);
    env[o] = env_var("POPFETCH_ACCOUNT", md->account);
    mda_env_uidl(uidl, sizeof uidl, md->uidl);
    env[o + 1] = env_var("POPFETCH_UIDL", uidl);
    env[o + 2] = env_var("POPFETCH_SIZE", num);
    env[o + 3] = env_var("POPFETCH_SERVER", md->server);
    if (!env[o] || !env[o + 1] || !env[o + 2] || !env[o + 3]) {
        for (size_t i = o; i < o + 4; i++) free(env[i]);
        free(env);
        return NULL;
    }
    return env;
}

static void free_env(char **env)
{
    size_t n = 0;

    if (!env) return;
    while (env[n]) n++;
    for (size_t i = n - 4; i < n; i++) free(env[i]);
    free(env);
}

static int run_mda(struct mda *md, char **argv, char **envp, struct err *e)
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.in_w = r.in_r = r.err_r = r.pidfd = -1;
    if (spool_rewind(&md->sp, e) < 0) return -1;
    rc = spawn(md, &r, argv, envp, e);
    if (rc == 0) {
        supervise(md, &r);
        rc = verdict(md, &r, e);
    }
    close_fd(&r.in_w), close_fd(&r.in_r), close_fd(&r.err_r), close_fd(&r.pidfd);
    return rc;
}

static int deliver(struct mda *md, struct err *e)
{
    char sender[SPOOL_SENDER_MAX + 1];
    struct mda_vars v;
    char **argv = NULL, **envp;
    int rc;

    if (spool_flush(&md->sp, e) < 0) return -1;
    spool_sender(&md->sp, SPOOL_SENDER_MDA, sender, sizeof sender);
    v = (struct mda_vars){sender, md->local_user, md->remote_user, md->server};
    if (mda_split(md->command, &v, &argv, e) < 0) return -1;
    if (!(envp = build_env(md, spool_size(&md->sp)))) {
        mda_argv_free(argv);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    rc = run_mda(md, argv, envp, e);
    free_env(envp);
    mda_argv_free(argv);
    return rc;
}

/* ---- the sink ------------------------------------------------------------------------------ */

static int md_begin(struct sink *s, const struct deliver_msg *m, struct err *e)
{
    struct mda *md = s->impl;

    snprintf(md->uidl, sizeof md->uidl, "%s", m && m->uidl ? m->uidl : "");
    return spool_reset(&md->sp, e);
}

static int md_write(struct sink *s, const unsigned char *buf, size_t len, struct err *e)
{
    struct mda *md = s->impl;

    return spool_write(&md->sp, buf, len, e);
}

static void md_abort(struct sink *s)
{
    struct mda *md = s->impl;
    struct err ignored;

    spool_reset(&md->sp, &ignored);
}

static int md_end(struct sink *s, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct mda *md = s->impl;
    int rc;

    name[0] = '\0';
    rc = deliver(md, e);
    md_abort(s);
    return rc;
}

static int md_nothing(struct sink *s, struct err *e)
{
    (void)s, (void)e;
    return 0;
}

static int md_publish(struct sink *s, const char *name, struct err *e)
{
    (void)s, (void)name, (void)e;
    return 0;
}

static int md_recover(struct sink *s, char *const *names, size_t n, struct err *e)
{
    (void)s, (void)names, (void)n, (void)e;
    return 0;
}

static void md_close(struct sink *s)
{
    struct mda *md = s->impl;

    if (!md) return;
    spool_close(&md->sp);
    free(md->buf);
    free(md->command), free(md->account), free(md->local_user), free(md->remote_user);
    free(md->server);
    free(md);
    s->impl = NULL;
}

static const struct sink_ops mda_ops = {
    .begin = md_begin,
    .write = md_write,
    .end = md_end,
    .abort = md_abort,
    .sync = md_nothing,
    .publish = md_publish,
    .publish_sync = md_nothing,
    .recover = md_recover,
    .close = md_close,
};

/* This process's login name, for %T when none is configured. */
static char *login_name(void)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
        return strdup(res->pw_name);
    return strdup("");
}

static int copy_opts(struct mda *md, const struct mda_opts *o)
{
    md->command = strdup(o->command);
    md->account = strdup(o->account ? o->account : "");
    md->local_user = o->local_user ? strdup(o->local_user) : login_name();
    md->remote_user = strdup(o->remote_user ? o->remote_user : "");
    md->server = strdup(o->server ? o->server : "");
    md->timeout_s = o->timeout_s > 0 ? o->timeout_s : MDA_TIMEOUT_S;
    md->stderr_line = o->stderr_line;
    md->stderr_ctx = o->stderr_ctx;
    md->buf = malloc(MDA_BUF);
    return md->command && md->account && md->local_user && md->remote_user && md->server && md->buf
               ? 0
               : -1;
}

int mda_open(struct sink *s, const struct mda_opts *o, struct err *e)
{
    static const struct mda_vars probe = {"sender", "user", "user", "host"};
    struct mda *md = calloc(1, sizeof *md);
    char **argv;

    s->ops = &mda_ops;
    s->impl = md;
    if (!md) return err_set(e, ERR_INTERNAL, "out of memory");
    md->sp.fd = -1;
    if (mda_split(o->command, &probe, &argv, e) < 0) {
        md_close(s);
        return -1;
    }
    mda_argv_free(argv);
    if (copy_opts(md, o) < 0) {
        md_close(s);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (spool_open(&md->sp, o->spool_dir, e) < 0) {
        md_close(s);
        return -1;
    }
    return 0;
}
