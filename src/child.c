/*
 * child — start, watch, stop and reap a helper program. See child.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "monotime.h"
#include "stop.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* ---- descriptors ----------------------------------------------------------------- */

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

int child_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0) {
        p[0] = p[1] = -1;
        return -1;
    }
    if (lift_fd(&p[0]) < 0 || lift_fd(&p[1]) < 0) {
        int saved = errno;
        close_fd(&p[0]), close_fd(&p[1]);
        errno = saved;
        return -1;
    }
    return 0;
}

int child_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- in the child ------------------------------------------------------------------ */

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

/* Every signal to its default disposition (an ignored one would stay
 * ignored across exec), none blocked. */
static void default_signals(void)
{
    struct sigaction dfl;
    sigset_t none;

    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Make `pgrp` the terminal's foreground process group. SIGTTOU is blocked
 * meanwhile: a process in a background group may hand the terminal over
 * only so. Async-signal-safe. */
static void set_foreground(int tty, pid_t pgrp)
{
    sigset_t ttou, old;

    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    tcsetpgrp(tty, pgrp);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* In the forked child: only async-signal-safe calls, then exec or _exit.
 * fds[i] (lifted above 2 by the parent) becomes descriptor i; CHILD_KEEP
 * leaves i as it is. On failure the errno goes to the parent through
 * status_fd. */
static void child_exec(const int fds[3], int status_fd, char *const *argv, char *const *envp,
                       int tty)
{
    int hi[3], saved;

    setpgid(0, 0);
    if (tty >= 0) set_foreground(tty, getpid()); /* also in the parent: whoever is first */
    default_signals();
    for (int i = 0; i < 3; i++)
        if (fds[i] != CHILD_KEEP && (hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) goto fail;
    for (int i = 0; i < 3; i++) {
        if (fds[i] == CHILD_KEEP)
            fcntl(i, F_SETFD, 0);
        else if (dup2(hi[i], i) < 0)
            goto fail;
    }
    cloexec_from_3();
    execvpe(argv[0], argv, envp ? envp : environ);
fail:
    saved = errno;
    if (write(status_fd, &saved, sizeof saved) < 0) _exit(127);
    _exit(127);
}

/* ---- finding a program, as execvp would ---------------------------------------------- */

/* 0 when path is a regular file we may execute, else why not. */
static int runnable(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) return errno;
    if (!S_ISREG(st.st_mode)) return EACCES;
    return access(path, X_OK) == 0 ? 0 : errno;
}

int child_find_program(const char *name)
{
    const char *path = getenv("PATH"), *p;
    char cand[4096];
    int why = ENOENT;

    if (!*name) return ENOENT;
    if (strchr(name, '/')) return runnable(name);
    if (!path) path = "/bin:/usr/bin"; /* glibc's execvp default */
    for (p = path;; p++) {
        size_t n = strcspn(p, ":");
        int r;

        if ((size_t)snprintf(cand, sizeof cand, "%.*s%s%s", (int)n, p, n ? "/" : "", name) <
                sizeof cand &&
            (r = runnable(cand)) != ENOENT && r != ENOTDIR) {
            if (r == 0) return 0;
            why = r; /* execvp goes on searching after EACCES, and so do we */
        }
        p += n;
        if (!*p) break;
    }
    return why;
}

/* ---- in the parent: starting ------------------------------------------------------- */

/* A descriptor that polls readable when the child exits (Linux 5.3+), or
 * -1: then the child is looked at every few milliseconds instead. */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    static int unsupported; /* remembered, not to ask the kernel every time */
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

/* Wait for the status pipe: EOF means exec succeeded, an int is its errno. */
static int exec_status(int fd)
{
    int errnum = 0;
    ssize_t n;

    do n = read(fd, &errnum, sizeof errnum);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof errnum ? errnum : 0;
}

/* The terminal lent to it comes back, in the mode it was lent in; a Ctrl-C
 * that killed the child was meant for us too. */
static void take_back_tty(struct child *c)
{
    sigset_t ttou, old;

    if (c->tty < 0) return;
    set_foreground(c->tty, getpgrp());
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);
    tcsetattr(c->tty, TCSADRAIN, &c->tty_mode);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close_fd(&c->tty);
    if (!c->lost && !c->stop_sig && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGINT) {
        c->stop_sig = SIGINT;
        raise(SIGINT);
    }
}

static void settle(struct child *c)
{
    c->reaped = 1;
    take_back_tty(c);
}

static int exec_failed(struct child *c, const struct child_spec *s, int errnum, struct err *e)
{
    char shown[128];

    while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR) {
    }
    settle(c);
    c->exec_errno = errnum;
    err_quote(shown, sizeof shown, s->argv[0], strlen(s->argv[0]));
    return err_set(e, ERR_LOCAL, "cannot run %s %s: %s", s->what, shown, strerror(errnum));
}

static void init(struct child *c, const struct child_spec *s)
{
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->pidfd = -1;
    c->tty = -1;
    c->kill_after_ms = s->kill_after_ms > 0 ? s->kill_after_ms : CHILD_KILL_AFTER_MS;
}

/* The descriptors the child gets: spec->fd with /dev/null for CHILD_NULL. */
static int child_fds(const struct child_spec *s, int fds[3], int *devnull)
{
    *devnull = -1;
    for (int i = 0; i < 3; i++) {
        fds[i] = s->fd[i];
        if (fds[i] != CHILD_NULL) continue;
        if (*devnull < 0 &&
            ((*devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 || lift_fd(devnull) < 0))
            return -1;
        fds[i] = *devnull;
    }
    return 0;
}

/* The terminal to lend, or -1: only when it is ours to lend (we are its
 * foreground process group). */
static int terminal_to_lend(struct child *c, const struct child_spec *s)
{
    int tty;

    if (!s->lend_terminal || (tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) return -1;
    if (lift_fd(&tty) < 0 || tcgetpgrp(tty) != getpgrp() || tcgetattr(tty, &c->tty_mode) < 0)
        close_fd(&tty);
    return tty;
}

int child_spawn(struct child *c, const struct child_spec *s, struct err *e)
{
    int st[2] = {-1, -1}, fds[3], devnull = -1, errnum, tty;

    init(c, s);
    tty = terminal_to_lend(c, s);
    if (child_fds(s, fds, &devnull) < 0 || child_pipe(st) < 0 || (c->pid = fork()) < 0) {
        err_set(e, ERR_LOCAL, "cannot start %s: %s", s->what, strerror(errno));
        close_fd(&st[0]), close_fd(&st[1]), close_fd(&devnull), close_fd(&tty);
        return -1;
    }
    if (c->pid == 0) child_exec(fds, st[1], s->argv, s->envp, tty);
    setpgid(c->pid, c->pid); /* also here, so that a kill of the group cannot miss */
    if (tty >= 0) {
        set_foreground(tty, c->pid);
        c->tty = tty;
    }
    close_fd(&st[1]), close_fd(&devnull);
    errnum = exec_status(st[0]);
    close_fd(&st[0]);
    if (errnum) return exec_failed(c, s, errnum, e);
    c->pidfd = open_pidfd(c->pid);
    if (s->timeout_ms > 0) c->deadline = monotime_ms() + s->timeout_ms;
    return 0;
}

/* ---- in the parent: waiting and stopping ------------------------------------------- */

static void try_reap(struct child *c)
{
    pid_t p;

    if (c->reaped) return;
    do p = waitpid(c->pid, &c->status, WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p == c->pid) settle(c);
    if (p < 0 && errno == ECHILD) {
        c->lost = 1;
        settle(c);
    }
}

static void signal_group(const struct child *c, int sig)
{
    kill(-c->pid, sig);
    kill(c->pid, sig);
}

static void terminate(struct child *c, int64_t now)
{
    signal_group(c, SIGTERM);
    c->term_sent = 1;
    c->kill_at = now + c->kill_after_ms;
}

/* SIGKILL, and wait for it (it cannot refuse). */
static void kill_now(struct child *c)
{
    c->killed = 1;
    signal_group(c, SIGKILL);
    while (waitpid(c->pid, &c->status, 0) < 0)
        if (errno != EINTR) {
            c->lost = 1;
            break;
        }
    settle(c);
}

/* How long poll may sleep: to the next step of the deadline, but without a
 * pidfd we must look at the child now and then. -1: no limit. */
static int wait_ms(struct child *c, int64_t now, size_t n)
{
    int64_t ms = c->term_sent ? c->kill_at - now : c->deadline ? c->deadline - now : -1;

    if (c->pidfd < 0) {
        int64_t cap = n > 0 ? 100 : (c->idle < 50 ? (c->idle = c->idle * 2 + 1) : 50);
        if (ms < 0 || ms > cap) ms = cap;
    }
    if (ms > 24 * 3600 * 1000) ms = 24 * 3600 * 1000;
    return ms < 0 ? -1 : (int)ms;
}

/* SIGTERM at a stop request or at the deadline, SIGKILL after the grace. */
static void enforce(struct child *c, int64_t now)
{
    int sig = stop_requested();

    if (sig && !c->stop_sig) {
        c->stop_sig = sig;
        if (!c->term_sent) terminate(c, now);
    }
    if (!c->term_sent && c->deadline && now >= c->deadline) {
        c->timed_out = 1;
        terminate(c, now);
    }
    if (c->term_sent && now >= c->kill_at) kill_now(c);
}

int child_wait(struct child *c, struct pollfd *p, size_t n)
{
    struct pollfd all[CHILD_POLL_MAX + 1];

    if (n > CHILD_POLL_MAX) n = CHILD_POLL_MAX;
    for (;;) {
        int64_t now = monotime_ms();
        int r, ready = 0;

        try_reap(c);
        if (!c->reaped) enforce(c, now);
        if (c->reaped) return 0;
        if (n) memcpy(all, p, n * sizeof *p);
        if (c->pidfd >= 0) all[n] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
        r = stop_poll(all, (nfds_t)(n + (c->pidfd >= 0)), wait_ms(c, now, n));
        if (r <= 0) continue; /* a timeout, a signal: look again */
        for (size_t i = 0; i < n; i++) {
            p[i].revents = all[i].revents;
            ready += p[i].revents != 0;
        }
        if (ready) return ready;
    }
}

void child_terminate(struct child *c)
{
    if (c->pid > 0 && !c->reaped && !c->term_sent) terminate(c, monotime_ms());
}

void child_close(struct child *c)
{
    if (c->pid > 0 && !c->reaped) {
        if (!c->term_sent) signal_group(c, SIGTERM);
        kill_now(c);
    }
    close_fd(&c->pidfd);
}
