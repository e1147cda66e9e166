/*
 * secret — password sources. See secret.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "child.h"
#include "fileperm.h"
#include "netrc.h"
#include "paths.h"
#include "secret.h"
#include "textfile.h"
#include "stop.h"

#define PE_REST_MAX (1024 * 1024) /* passwordeval output after the first line */

void secret_free(char *s)
{
    if (!s) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static char *copy_secret(const char *src, size_t n)
{
    char *s = malloc(n + 1);

    if (!s) return NULL;
    memcpy(s, src, n);
    s[n] = '\0';
    return s;
}

/* ---- a command that prints the secret (passwordeval) -------------------- */

/* What passwordeval printed: the first line is the secret; what follows is
 * read (so that the command is not stopped by a full pipe) and wiped. */
struct pe_out {
    char *buf;  /* SECRET_MAX bytes: the output up to the first line end (and what
                   came with it in the same read) */
    size_t n;   /* bytes in buf */
    size_t len; /* the first line's length, once have_line */
    int have_line;
    size_t rest;  /* bytes after the line end */
    int too_long; /* no line end in SECRET_MAX bytes */
    int too_much; /* more than PE_REST_MAX bytes after it */
};

/* One read from the command's output. 1: read something; 0: the end (EOF,
 * an error or too much), stop reading; -1: nothing now. */
static int pe_read(struct pe_out *o, int fd)
{
    char scratch[4096];
    ssize_t r;

    if (!o->have_line) {
        r = read(fd, o->buf + o->n, SECRET_MAX - o->n);
        if (r > 0) {
            char *nl = memchr(o->buf + o->n, '\n', (size_t)r);
            o->n += (size_t)r;
            if (nl) {
                o->len = (size_t)(nl - o->buf);
                o->have_line = 1;
                o->rest = o->n - o->len - 1;
            } else if (o->n == SECRET_MAX) {
                o->too_long = 1;
            }
        }
    } else {
        r = read(fd, scratch, sizeof scratch);
        if (r > 0) o->rest += (size_t)r;
        OPENSSL_cleanse(scratch, sizeof scratch);
    }
    if (o->rest > PE_REST_MAX) o->too_much = 1;
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return -1;
    return r > 0 && !o->too_long && !o->too_much ? 1 : 0;
}

/* Read the output while the command runs, until it is reaped. */
static void pe_collect(struct child *c, struct pe_out *o, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t n = 1;

    while (child_wait(c, &p, n) > 0)
        if (pe_read(o, fd) == 0) {
            n = 0; /* nothing more to read: wait for the exit */
            if (o->too_long || o->too_much) child_terminate(c);
        }
    /* What it left in the pipe; a program it started may keep the pipe
     * open, so no waiting for the end. */
    while (n && pe_read(o, fd) == 1) {
    }
}

/* The secret's length: the first line, without a final CR. */
static size_t pe_secret_len(const struct pe_out *o)
{
    size_t len = o->have_line ? o->len : o->n;

    return len > 0 && o->buf[len - 1] == '\r' ? len - 1 : len;
}

/* Why the command gave no secret (-1), or 0 if it did. */
static int pe_failed(const struct secret_cmd *sc, const struct child *c, const struct pe_out *o,
                     struct err *e)
{
    const char *w = sc->what;

    if (c->stop_sig)
        return err_set(e, ERR_INTERRUPTED, "stopped by SIG%s while %s ran",
                       sigabbrev_np(c->stop_sig), w);
    if (c->timed_out) {
        err_set(e, ERR_AUTH, "%s did not finish within %lu s and was %s", w, sc->timeout_s,
                c->killed ? "killed" : "stopped");
        err_hint(e, "run the command by hand to see where it waits, or raise `%s`",
                 sc->timeout_key);
    } else if (o->too_long)
        err_set(e, ERR_AUTH, "%s printed more than %d bytes without a line end", w, SECRET_MAX);
    else if (o->too_much)
        err_set(e, ERR_AUTH, "%s printed more than %d bytes after its first line", w, PE_REST_MAX);
    else if (c->lost)
        err_set(e, ERR_INTERNAL, "lost track of %s: its exit status is unknown", w);
    else if (WIFSIGNALED(c->status))
        err_set(e, ERR_AUTH, "%s command was killed by signal %d", w, WTERMSIG(c->status));
    else if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0)
        err_set(e, ERR_AUTH, "%s command failed with exit status %d", w, WEXITSTATUS(c->status));
    else if (o->n == 0)
        err_set(e, ERR_AUTH, "%s command printed nothing", w);
    else if (pe_secret_len(o) == 0)
        err_set(e, ERR_AUTH, "%s command printed an empty first line", w);
    else
        return 0;
    if (!e->hint[0])
        err_hint(e,
                 "run the `%s` command by hand to see what goes wrong; its first line of "
                 "output is the secret",
                 w);
    return -1;
}

/* The command with /bin/sh -c in a process group of its own, stdout a pipe,
 * stdin and stderr ours, within its timeout. */
static int pe_run(const struct secret_cmd *sc, struct child *c, struct pe_out *o, struct err *e)
{
    char sh[] = "/bin/sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, (char *)sc->cmd, NULL};
    struct child_spec cs = {.what = sc->what,
                            .argv = argv,
                            .fd = {CHILD_KEEP, -1, CHILD_KEEP},
                            .timeout_ms = (int)sc->timeout_s * 1000,
                            .lend_terminal = 1};
    int p[2], rc;

    if (child_pipe(p) < 0 || child_nonblock(p[0]) < 0) {
        err_set(e, ERR_INTERNAL, "cannot run %s: %s", sc->what, strerror(errno));
        if (p[0] >= 0) close(p[0]), close(p[1]);
        return -1;
    }
    cs.fd[1] = p[1];
    rc = child_spawn(c, &cs, e);
    close(p[1]);
    if (rc == 0) pe_collect(c, o, p[0]);
    close(p[0]);
    if (rc < 0 && !c->exec_errno) e->kind = ERR_INTERNAL; /* no process: not an auth problem */
    if (rc < 0 && c->exec_errno) {
        err_set(e, ERR_AUTH, "cannot run %s: %s: %s", sc->what, sh, strerror(c->exec_errno));
        err_hint(e, "popfetch runs the command with %s -c", sh);
    }
    return rc;
}

int secret_eval(const struct secret_cmd *sc, char **out, struct err *e)
{
    struct pe_out o = {0};
    struct child c = {.pid = -1, .pidfd = -1};
    char home[4096];
    struct err no_home; /* then `~/` words name no file we know */
    int have = paths_home(home, sizeof home, &no_home) == 0;
    int rc;

    *out = NULL;
    if (fileperm_check_command(sc->cmd, have ? home : NULL, e) < 0) return -1;
    if (!(o.buf = malloc(SECRET_MAX))) return err_set(e, ERR_INTERNAL, "out of memory");
    rc = pe_run(sc, &c, &o, e);
    child_close(&c);
    if (rc == 0) rc = pe_failed(sc, &c, &o, e);
    if (rc == 0 && !(*out = copy_secret(o.buf, pe_secret_len(&o))))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    OPENSSL_cleanse(o.buf, SECRET_MAX);
    free(o.buf);
    return rc;
}

/* ---- ~/.netrc ----------------------------------------------------------- */

#define NETRC_FILE_MAX (1024 * 1024)

/* 1 with *out set, 0 when ~/.netrc has no password for the account (or
 * cannot be read), -1 on an error (a file we must not trust, a password
 * others can read or that cannot be used). */
static int from_netrc(const struct secret_who *w, char **out, struct err *e)
{
    char path[4096], *text, pw[NETRC_TOKEN_MAX + 1];
    struct stat st;
    struct err no_home, unread;
    size_t len;
    int fd, found, rc;

    if (paths_expand_home("~/.netrc", path, sizeof path, &no_home) < 0) return 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
    rc = textfile_read_fd(fd, path, NETRC_FILE_MAX, "netrc file", ERR_USAGE, &text, &len, &st,
                          &unread);
    close(fd);
    if (rc < 0) return unread.kind == ERR_INTERNAL ? err_set(e, ERR_INTERNAL, "out of memory") : 0;
    if (fileperm_check_stat(&st, "netrc file", path, e) < 0) {
        textfile_free(text, len);
        return -1;
    }
    found = netrc_lookup(text, len, w->host, w->user, pw, sizeof pw);
    textfile_free(text, len);
    if (found == 0) return 0;
    if (st.st_mode & 0044) {
        OPENSSL_cleanse(pw, sizeof pw);
        err_set(e, ERR_CONFIG_PERM, "%s holds the password for %s but others can read it", path,
                w->host);
        err_hint(e, "run `chmod 600 %s`", path);
        return -1;
    }
    if (found < 0) {
        err_set(e, ERR_AUTH, "%s: the password for %s is longer than %d bytes or holds a NUL byte",
                path, w->host, NETRC_TOKEN_MAX);
        return -1;
    }
    *out = copy_secret(pw, strlen(pw));
    OPENSSL_cleanse(pw, sizeof pw);
    return *out ? 1 : err_set(e, ERR_INTERNAL, "out of memory");
}

/* ---- the terminal ------------------------------------------------------ */

/* One line from the terminal in canonical mode, where a read returns at
 * most one line: it ends at Enter (or at Ctrl-D, with what was typed
 * before it). 0 with buf[0..*len), the line end and a CR before it
 * dropped; -1 on a stop signal (ERR_INTERRUPTED) or a line longer than max
 * (ERR_AUTH). */
static int tty_read_line(int fd, char *buf, size_t max, size_t *len, struct err *e)
{
    size_t n = 0;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        char *nl;

        if (stop_poll(&p, 1, -1) < 0) {
            if (stop_requested())
                return err_set(e, ERR_INTERRUPTED, "stopped by SIG%s at the password prompt",
                               sigabbrev_np(stop_requested()));
            if (errno == EINTR) continue;
            break;
        }
        r = read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* Ctrl-D on an empty line, a hangup */
        if ((nl = memchr(buf + n, '\n', (size_t)r))) {
            n = (size_t)(nl - buf);
            break;
        }
        n += (size_t)r;
        if (n == max) return err_set(e, ERR_AUTH, "the password typed is too long");
    }
    *len = n > 0 && buf[n - 1] == '\r' ? n - 1 : n;
    return 0;
}

static int no_prompt; /* secret_no_prompt() was called */

void secret_no_prompt(void)
{
    no_prompt = 1;
}

static int from_terminal(const struct secret_who *w, char **out, struct err *e)
{
    struct termios old, quiet;
    char *buf;
    size_t len = 0;
    int fd, rc;

    if (no_prompt) return 0;
    fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || !isatty(STDIN_FILENO) || tcgetattr(fd, &old) < 0) {
        if (fd >= 0) close(fd);
        return 0;
    }
    if (!(buf = malloc(SECRET_MAX))) {
        close(fd);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    quiet = old;
    quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(fd, TCSAFLUSH, &quiet); /* before the prompt: nothing typed after it shows */
    dprintf(fd, "%s: ", w->prompt);
    rc = tty_read_line(fd, buf, SECRET_MAX, &len, e);
    tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    if (rc == 0 && len > 0 && !(*out = copy_secret(buf, len)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    OPENSSL_cleanse(buf, SECRET_MAX);
    free(buf);
    return rc < 0 ? -1 : len > 0;
}

int secret_ask(const struct secret_who *w, char **out, struct err *e)
{
    int rc;

    *out = NULL;
    if ((rc = from_netrc(w, out, e)) != 0) return rc < 0 ? -1 : 0;
    if ((rc = from_terminal(w, out, e)) != 0) return rc < 0 ? -1 : 0;
    return 1;
}

int secret_get(const struct account *a, char **out, struct err *e)
{
    char prompt[1024];
    struct secret_who w = {.host = a->host, .user = a->user, .prompt = prompt};
    int rc;

    *out = NULL;
    if (a->password) {
        if (!(*out = copy_secret(a->password, strlen(a->password))))
            return err_set(e, ERR_INTERNAL, "out of memory");
        return 0;
    }
    if (a->passwordeval) {
        struct secret_cmd sc = {.what = "passwordeval",
                                .cmd = a->passwordeval,
                                .timeout_s = a->passwordeval_timeout,
                                .timeout_key = "passwordeval_timeout"};
        return secret_eval(&sc, out, e);
    }
    snprintf(prompt, sizeof prompt, "Password for %s@%s", a->user, a->host);
    if ((rc = secret_ask(&w, out, e)) != 1) return rc;
    err_set(e, ERR_AUTH, "no password for %s@%s", a->user, a->host);
    err_hint(e,
             "set `passwordeval` (e.g. \"pass show mail/%s\") or `password` in the config, "
             "or add the host to ~/.netrc",
             a->name);
    return -1;
}
