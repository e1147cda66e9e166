/*
 * pool — accounts in child processes, outcomes back through pipes. See
 * pool.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "exitcode.h"
#include "fdio.h"
#include "pool.h"
#include "secret.h"
#include "stop.h"

int pool_init(struct pool *p, size_t max, struct err *e)
{
    memset(p, 0, sizeof *p);
    if (max == 0 || max > POOL_MAX)
        return err_set(e, ERR_INTERNAL, "from 1 to %d accounts may run at once", POOL_MAX);
    if (!(p->slots = calloc(max, sizeof *p->slots)) ||
        !(p->exiting = calloc(POOL_EXITING * max, sizeof *p->exiting))) {
        free(p->slots);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    p->max = max;
    for (size_t i = 0; i < max; i++) p->slots[i].fd = -1;
    /* OpenSSL's configuration and algorithms, loaded once here, are what
     * every child starts with: no child pays for loading them again */
    OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS, NULL);
    SSL_CTX_free(SSL_CTX_new(TLS_client_method())); /* and the algorithms a context fetches */
    return 0;
}

/* Reap the children that handed their outcome over and have exited
 * (block: wait for them too). */
static void reap(struct pool *p, int block);

void pool_reap(struct pool *p)
{
    reap(p, 0);
}

static void reap(struct pool *p, int block)
{
    for (size_t i = 0; i < p->nexiting;) {
        pid_t r = waitpid(p->exiting[i], NULL, block ? 0 : WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        p->exiting[i] = p->exiting[--p->nexiting];
    }
}

void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->max; i++)
        if (p->slots[i].fd >= 0) close(p->slots[i].fd);
    while (p->nexiting) reap(p, 1);
    free(p->exiting);
    free(p->slots);
    memset(p, 0, sizeof *p);
}

/* In the child: run the job, hand the outcome over, end. */
static void child_main(const struct pool *p, int wfd, size_t id, pool_run_fn fn, void *ctx)
{
    struct run_outcome out;

    for (size_t i = 0; i < p->max; i++)
        if (p->slots[i].fd >= 0) close(p->slots[i].fd);
    secret_no_prompt(); /* others may run beside it: no race for the keyboard */
    memset(&out, 0, sizeof out);
    fn(ctx, id, &out);
    (void)fdio_write_full(wfd, &out, sizeof out); /* else the parent sees how it ended */
    fflush(stdout);
    _exit(out.status & 0xff);
}

int pool_start(struct pool *p, size_t id, pool_run_fn fn, void *ctx, struct err *e)
{
    struct pool_slot *s = NULL;
    int fds[2];
    pid_t pid;

    for (size_t i = 0; i < p->max && !s; i++)
        if (p->slots[i].pid == 0) s = &p->slots[i];
    if (!s) return err_set(e, ERR_INTERNAL, "no room for another account process");
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_set(e, ERR_INTERNAL, "cannot start the account's process: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        return err_set(e, ERR_INTERNAL, "cannot start the account's process: %s", strerror(saved));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(p, fds[1], id, fn, ctx);
    }
    close(fds[1]);
    s->pid = pid;
    s->fd = fds[0];
    s->id = id;
    s->got = 0;
    p->running++;
    return 0;
}

/* The child handed its outcome over (it is reaped while it exits) or
 * closed its pipe without (reaped now: how it ended is the outcome). */
static void finish(struct pool *p, struct pool_slot *s, size_t *id, struct run_outcome *out)
{
    int ws = 0;

    if (s->got == sizeof s->out) {
        *out = s->out;
        if (p->nexiting == POOL_EXITING * p->max) reap(p, 1); /* so many: wait for them */
        p->exiting[p->nexiting++] = s->pid;
    } else {
        while (waitpid(s->pid, &ws, 0) < 0 && errno == EINTR) continue;
        memset(out, 0, sizeof *out);
        out->r.login_delay = -1;
        out->started_ms = result_now_ms();
        out->status = EXIT_INTERNAL;
        if (WIFSIGNALED(ws))
            err_set(&out->r.err, ERR_INTERNAL, "the account's process was killed by signal %d",
                    WTERMSIG(ws));
        else
            err_set(&out->r.err, ERR_INTERNAL,
                    "the account's process ended (status %d) without a result",
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    *id = s->id;
    close(s->fd);
    s->fd = -1;
    s->pid = 0;
    p->running--;
}

/* Read what slot s has sent; 1 when it is done. */
static int take(struct pool_slot *s)
{
    ssize_t r;

    if (s->got == sizeof s->out) return 1;
    r = read(s->fd, (char *)&s->out + s->got, sizeof s->out - s->got);
    if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : 1;
    if (r == 0) return 1;
    s->got += (size_t)r;
    return s->got == sizeof s->out;
}

int pool_wait(struct pool *p, int timeout_ms, size_t *id, struct run_outcome *out)
{
    struct pollfd pfd[POOL_MAX];
    struct pool_slot *who[POOL_MAX];
    nfds_t n = 0;
    int r;

    for (size_t i = 0; i < p->max; i++)
        if (p->slots[i].pid) {
            pfd[n] = (struct pollfd){.fd = p->slots[i].fd, .events = POLLIN};
            who[n++] = &p->slots[i];
        }
    reap(p, 0);
    if (n == 0) return 0;
    /* once a stop came, it is the children's to finish: wait for them */
    r = stop_requested() ? poll(pfd, n, timeout_ms) : stop_poll(pfd, n, timeout_ms);
    if (r <= 0) return 0;
    for (nfds_t k = 0; k < n; k++)
        if (pfd[k].revents && take(who[k])) {
            finish(p, who[k], id, out);
            return 1;
        }
    return 0;
}

void pool_kill(const struct pool *p, int sig)
{
    for (size_t i = 0; i < p->max; i++)
        if (p->slots[i].pid) kill(p->slots[i].pid, sig);
}
