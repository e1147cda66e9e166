/*
 * child — the one supervisor for every program popfetch runs (the MDA,
 * passwordeval, any later helper): start it, give it a deadline, kill its
 * whole process group, reap it. It knows nothing of what the program is
 * for; the caller reads and writes its pipes and judges the outcome.
 *
 * child_spawn() forks and execs argv in a process group of its own (so that
 * a kill reaches its own children too), with the chosen stdin, stdout and
 * stderr, every other descriptor closed on exec, every signal at its
 * default disposition and none blocked. If exec fails, its errno comes back
 * (exec_errno) and the child is already reaped.
 *
 * child_wait() is the caller's poll loop: it returns when one of the
 * caller's descriptors is ready, and 0 once the child is reaped. Meanwhile
 * it enforces the deadline and is stop-aware: when the deadline passes, or
 * at once when a stop signal is recorded by stop.c (stop_requested(): our
 * SIGTERM, SIGINT, SIGHUP), SIGTERM goes to the child's group, SIGKILL
 * kill_after_ms later (then it waits for the child). A stop that comes
 * while it waits always wakes it (stop_poll). The caller then reports
 * ERR_INTERRUPTED (stop_sig says which signal).
 *
 * The terminal (/dev/tty) can be lent to a child that may have to ask the
 * user something (spec.lend_terminal; passwordeval): when this process is
 * in the terminal's foreground process group, the child's group becomes the foreground while
 * it runs, as a shell does with a job, so that it may read the terminal and
 * Ctrl-C there reaches it; when it is reaped, the foreground and the
 * terminal's mode (echo...) are put back. If it died of SIGINT then (the
 * user pressed Ctrl-C), the SIGINT is passed on to this process (raise),
 * where stop.c records it, and stop_sig says SIGINT.
 */
#ifndef POPFETCH_CHILD_H
#define POPFETCH_CHILD_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>
#include <termios.h>

#include "err.h"

#define CHILD_NULL          (-1) /* spec fd: /dev/null */
#define CHILD_KEEP          (-2) /* spec fd: the same descriptor as this process's */
#define CHILD_KILL_AFTER_MS 5000 /* from SIGTERM to SIGKILL, by default */
#define CHILD_POLL_MAX      8    /* caller descriptors per child_wait */

struct child_spec {
    const char *what;  /* for messages: "the MDA", "passwordeval" */
    char *const *argv; /* argv[0] is looked up in PATH unless it holds a '/' */
    char *const *envp; /* NULL: this process's environment */
    int fd[3];         /* its stdin, stdout, stderr: a descriptor, CHILD_NULL or CHILD_KEEP */
    int timeout_ms;    /* SIGTERM this long after the start; <= 0: no deadline */
    int kill_after_ms; /* from SIGTERM to SIGKILL; <= 0: CHILD_KILL_AFTER_MS */
    int lend_terminal; /* lend it the terminal, if we have it (see above) */
};

struct child {
    pid_t pid;
    int pidfd;        /* readable when it exits (Linux 5.3+), or -1 */
    int64_t deadline; /* monotonic ms; 0: none */
    int64_t kill_at;  /* once SIGTERM was sent: SIGKILL then */
    int kill_after_ms;
    int idle;                /* backoff without a pidfd */
    int tty;                 /* the terminal lent to it (our descriptor), or -1 */
    struct termios tty_mode; /* the terminal's mode before */

    /* The outcome; final once child_wait() returned 0. */
    int reaped;
    int status;     /* from waitpid, when reaped and not lost */
    int lost;       /* someone else reaped it (SIGCHLD ignored?): status unknown */
    int term_sent;  /* SIGTERM was sent (deadline, stop or child_terminate) */
    int timed_out;  /* the deadline passed */
    int stop_sig;   /* a stop signal came while it ran (SIGTERM, SIGINT, SIGHUP), or 0 */
    int killed;     /* it needed SIGKILL */
    int exec_errno; /* exec failed with this errno (child_spawn returned -1) */
};

/* A close-on-exec pipe whose ends are not 0, 1 or 2 (which may be closed in
 * this process and are the child's to have). -1 with errno. */
int child_pipe(int p[2]);

/* O_NONBLOCK on a descriptor. -1 with errno. */
int child_nonblock(int fd);

/* Start the program. -1 with ERR_LOCAL ("cannot start WHAT: ...") when no
 * process could be made, or with exec_errno set (the child reaped) when
 * the program could not be run ("cannot run WHAT ARGV0: ..."; callers may
 * word it their way). The caller keeps its descriptors in spec->fd and
 * closes them when it wants. */
int child_spawn(struct child *c, const struct child_spec *s, struct err *e);

/* Wait until one of p[0..n-1] (n <= CHILD_POLL_MAX; the caller's pipes to
 * the child) has revents (returns how many), or until the child is reaped
 * (returns 0; the outcome in *c is final). Enforces the deadline and
 * stops as above.
 * Once term_sent, a caller should stop feeding the child (it must not see
 * the end of an input that did not end) but may go on reading from it. */
int child_wait(struct child *c, struct pollfd *p, size_t n);

/* The caller gives up (e.g. it cannot feed the child): SIGTERM now, SIGKILL
 * kill_after_ms later; child_wait() goes on until it is reaped. */
void child_terminate(struct child *c);

/* Kill and reap a child still running (the caller did not wait for it);
 * release what the supervisor holds. Safe after child_spawn failed. */
void child_close(struct child *c);

/* Would child_spawn() find argv[0] = name? It looks where execvp does (the
 * name itself when it holds a '/', else each directory of PATH, or
 * /bin:/usr/bin without one) for a regular file it may execute. Returns 0
 * when there is one, else an errno: ENOENT (nowhere), EACCES (found, not
 * executable). Lets a caller refuse a command before the first use. */
int child_find_program(const char *name);

#endif
