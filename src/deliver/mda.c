/*
 * mda — the MDA sink: a delivery program run without a shell, fed the
 * message on a pipe, watched with a deadline. See mda.h.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mda.h"
#include "child.h"
#include "cmdsplit.h"
#include "header.h"
#include "spool.h"

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
    struct child c;
    int in_w, in_r;  /* stdin pipe: we write in_w and keep in_r to see what was left unread */
    int err_r;       /* the MDA's stderr */
    size_t off, len; /* unsent part of md->buf */
    uint64_t sent;
    int feed_failed;     /* writing to the MDA or reading the spool failed: */
    struct err feed_err; /* why */
    char line[MDA_LINE_MAX + 1];
    size_t llen;
    unsigned long nlines, dropped;
    char last[MDA_LINE_MAX + 1]; /* the last non-empty stderr line, for the error */
    size_t lastlen;
};

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

/* ---- starting ----------------------------------------------------------------------- */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

static int exec_failed(const char *command, char **argv, int errnum, struct err *e)
{
    char shown[128];

    err_quote(shown, sizeof shown, argv[0], strlen(argv[0]));
    err_set(e, ERR_DELIVERY, "cannot run the MDA %s: %s", shown, strerror(errnum));
    if (errnum == ENOENT)
        err_hint(e,
                 "check the command in delivery mda (%s) and PATH; the message stays on the "
                 "server",
                 command);
    else
        err_hint(e, "check that %s is an executable program; the message stays on the server",
                 shown);
    return -1;
}

/* The MDA with stdin a pipe fed from the spool (we keep its read end too,
 * to see what was left unread), stdout on /dev/null, stderr a pipe. */
static int spawn(struct mda *md, struct run *r, char **argv, char **envp, struct err *e)
{
    int in[2] = {-1, -1}, errp[2] = {-1, -1};
    struct child_spec cs = {.what = "the MDA",
                            .argv = argv,
                            .envp = envp,
                            .timeout_ms = md->timeout_s * 1000,
                            .kill_after_ms = MDA_KILL_AFTER_S * 1000};

    if (child_pipe(in) < 0 || child_pipe(errp) < 0 || child_nonblock(in[1]) < 0 ||
        child_nonblock(errp[0]) < 0) {
        err_set(e, ERR_LOCAL, "cannot start the MDA: %s", strerror(errno));
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&errp[0]), close_fd(&errp[1]);
        return -1;
    }
    cs.fd[0] = in[0], cs.fd[1] = CHILD_NULL, cs.fd[2] = errp[1];
    r->in_w = in[1], r->in_r = in[0], r->err_r = errp[0];
    if (child_spawn(&r->c, &cs, e) < 0) {
        close_fd(&errp[1]);
        return r->c.exec_errno ? exec_failed(md->command, argv, r->c.exec_errno, e) : -1;
    }
    close_fd(&errp[1]);
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

/* Feed the message and collect stderr until the MDA is reaped. Once the
 * supervisor has sent SIGTERM (the deadline, a stop signal) or we gave up
 * feeding, its
 * stdin stays open but is fed no more: it never sees the end of a message
 * that did not end, so it cannot deliver a truncated one. */
static void supervise(struct mda *md, struct run *r)
{
    for (;;) {
        struct pollfd p[2];
        size_t n = 0;
        int iw = -1, ie = -1;

        if (r->feed_failed) child_terminate(&r->c);
        if (r->in_w >= 0 && !r->c.term_sent)
            p[iw = (int)n++] = (struct pollfd){.fd = r->in_w, .events = POLLOUT};
        if (r->err_r >= 0) p[ie = (int)n++] = (struct pollfd){.fd = r->err_r, .events = POLLIN};
        if (child_wait(&r->c, p, n) == 0) break;
        if (iw >= 0 && p[iw].revents) feed(md, r);
        if (ie >= 0 && p[ie].revents) stderr_read(md, r, MDA_BUF);
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
    if (r->c.stop_sig) {
        err_set(e, ERR_INTERRUPTED, "stopped by SIG%s while the MDA ran; the MDA was %s",
                sigabbrev_np(r->c.stop_sig), r->c.killed ? "killed" : "stopped");
        err_hint(e, "the message stays on the server; the next run delivers it");
        return -1;
    }
    if (r->c.timed_out) {
        err_set(e, ERR_DELIVERY, "the MDA did not finish within %d s and was %s", md->timeout_s,
                r->c.killed ? "killed" : "stopped");
        err_hint(e, "the message stays on the server; raise mda_timeout, or find out why the MDA "
                    "hangs");
        return -1;
    }
    if (r->c.lost) {
        err_set(e, ERR_INTERNAL, "lost track of the MDA: its exit status is unknown");
        err_hint(e, "popfetch must not run with SIGCHLD ignored; the message stays on the server");
        return -1;
    }
    if (WIFSIGNALED(r->c.status)) {
        err_set(e, ERR_DELIVERY, "the MDA was killed by signal %d (%s)", WTERMSIG(r->c.status),
                strsignal(WTERMSIG(r->c.status)));
        add_said(e, r);
        err_hint(e, "the message stays on the server");
        return -1;
    }
    if (!WIFEXITED(r->c.status)) return err_set(e, ERR_INTERNAL, "the MDA ended in a strange way");
    if (WEXITSTATUS(r->c.status) != 0) return failed_exit(r, WEXITSTATUS(r->c.status), e);
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
    r.in_w = r.in_r = r.err_r = -1;
    if (spool_rewind(&md->sp, e) < 0) return -1;
    rc = spawn(md, &r, argv, envp, e);
    if (rc == 0) {
        supervise(md, &r);
        rc = verdict(md, &r, e);
    }
    child_close(&r.c);
    close_fd(&r.in_w), close_fd(&r.in_r), close_fd(&r.err_r);
    return rc;
}

static int deliver(struct mda *md, struct err *e)
{
    char sender[HEADER_SENDER_MAX + 1];
    struct cmdsplit_vars v;
    char **argv = NULL, **envp;
    int rc;

    if (spool_flush(&md->sp, e) < 0) return -1;
    header_sender(HEADER_SENDER_MDA, spool_field, &md->sp, sender, sizeof sender);
    v = (struct cmdsplit_vars){sender, md->local_user, md->remote_user, md->server};
    if (cmdsplit_argv(md->command, &v, &argv, e) < 0) return -1;
    if (!(envp = build_env(md, spool_size(&md->sp)))) {
        cmdsplit_free(argv);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    rc = run_mda(md, argv, envp, e);
    free_env(envp);
    cmdsplit_free(argv);
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
    .sync = deliver_final_sync, /* end() is final: the rest has nothing to do */
    .publish = deliver_final_publish,
    .publish_sync = deliver_final_sync,
    .recover = deliver_final_recover,
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
    static const struct cmdsplit_vars probe = {"sender", "user", "user", "host"};
    struct mda *md = calloc(1, sizeof *md);
    char **argv;
    int why;

    s->ops = &mda_ops;
    s->impl = md;
    s->one_at_a_time = 1;
    if (!md) return err_set(e, ERR_INTERNAL, "out of memory");
    md->sp.fd = -1;
    if (cmdsplit_argv(o->command, &probe, &argv, e) < 0) {
        md_close(s);
        return -1;
    }
    if ((why = child_find_program(argv[0])) != 0) {
        exec_failed(o->command, argv, why, e);
        err_prefix(e, "before fetching anything");
        cmdsplit_free(argv);
        md_close(s);
        return -1;
    }
    cmdsplit_free(argv);
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
