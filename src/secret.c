/*
 * secret — password sources. See secret.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fileperm.h"
#include "netrc.h"
#include "secret.h"

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

/* Read the child's output up to the first line end (bounded), then drain. */
static int read_first_line(int fd, char *buf, size_t max, size_t *len)
{
    size_t n = 0;
    int have_line = 0;
    char sink[4096];

    for (;;) {
        ssize_t r = have_line ? read(fd, sink, sizeof sink) : read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (have_line) continue;
        char *nl = memchr(buf + n, '\n', (size_t)r);
        n += (size_t)r;
        if (nl) {
            *len = (size_t)(nl - buf);
            have_line = 1;
        } else if (n == max) {
            return -1;
        }
    }
    if (!have_line) *len = n;
    if (*len > 0 && buf[*len - 1] == '\r') (*len)--;
    return 0;
}

static int run_passwordeval(const char *cmd, char **out, struct err *e)
{
    int pfd[2], status;
    pid_t pid;
    char *buf;
    size_t len = 0;
    int rc;

    if (!(buf = malloc(SECRET_MAX))) return err_set(e, ERR_INTERNAL, "out of memory");
    if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
        free(buf);
        return err_set(e, ERR_INTERNAL, "cannot run passwordeval: %s", strerror(errno));
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        dup2(pfd[1], STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    rc = read_first_line(pfd[0], buf, SECRET_MAX, &len);
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || len == 0) {
        OPENSSL_cleanse(buf, SECRET_MAX);
        free(buf);
        if (rc < 0)
            err_set(e, ERR_AUTH, "passwordeval printed more than %d bytes without a line end",
                    SECRET_MAX);
        else if (WIFSIGNALED(status))
            err_set(e, ERR_AUTH, "passwordeval command was killed by signal %d", WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0)
            err_set(e, ERR_AUTH, "passwordeval command failed with exit status %d",
                    WEXITSTATUS(status));
        else
            err_set(e, ERR_AUTH, "passwordeval command printed an empty first line");
        err_hint(e, "run the `passwordeval` command by hand to see what goes wrong");
        return -1;
    }
    *out = copy_secret(buf, len);
    OPENSSL_cleanse(buf, SECRET_MAX);
    free(buf);
    return *out ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
}

/* ---- ~/.netrc ----------------------------------------------------------- */

#define NETRC_FILE_MAX (1024 * 1024)

/* The whole of a small regular file at fd into a fresh buffer (wipe it). */
static char *read_netrc(int fd, const struct stat *st, size_t *len)
{
    char *text = malloc((size_t)st->st_size + 1);
    ssize_t r = 0;

    *len = 0;
    if (!text) return NULL;
    while (*len < (size_t)st->st_size &&
           (r = read(fd, text + *len, (size_t)st->st_size - *len)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        *len += (size_t)r;
    }
    return text;
}

/* 1 with *out set, 0 when ~/.netrc has no password for the account (or
 * cannot be read), -1 on an error (a file we must not trust, a password
 * others can read or that cannot be used). */
static int from_netrc(const struct account *a, char **out, struct err *e)
{
    const char *home = getenv("HOME");
    char path[4096], *text, pw[NETRC_TOKEN_MAX + 1];
    struct stat st;
    size_t len;
    int fd, found;

    if (!home || !*home) return 0;
    snprintf(path, sizeof path, "%s/.netrc", home);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > NETRC_FILE_MAX) {
        close(fd);
        return 0;
    }
    if (fileperm_check_stat(&st, "netrc file", path, e) < 0) {
        close(fd);
        return -1;
    }
    text = read_netrc(fd, &st, &len);
    close(fd);
    if (!text) return err_set(e, ERR_INTERNAL, "out of memory");
    found = netrc_lookup(text, len, a->host, a->user, pw, sizeof pw);
    OPENSSL_cleanse(text, len);
    free(text);
    if (found == 0) return 0;
    if (st.st_mode & 0044) {
        OPENSSL_cleanse(pw, sizeof pw);
        err_set(e, ERR_CONFIG_PERM, "%s holds the password for %s but others can read it", path,
                a->host);
        err_hint(e, "run `chmod 600 %s`", path);
        return -1;
    }
    if (found < 0) {
        err_set(e, ERR_AUTH, "%s: the password for %s is longer than %d bytes or holds a NUL byte",
                path, a->host, NETRC_TOKEN_MAX);
        return -1;
    }
    *out = copy_secret(pw, strlen(pw));
    OPENSSL_cleanse(pw, sizeof pw);
    return *out ? 1 : err_set(e, ERR_INTERNAL, "out of memory");
}

/* ---- the terminal ------------------------------------------------------ */

static int from_terminal(const struct account *a, char **out, struct err *e)
{
    struct termios old, quiet;
    char *buf;
    size_t len = 0;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), rc;

    if (fd < 0 || !isatty(STDIN_FILENO) || tcgetattr(fd, &old) < 0) {
        if (fd >= 0) close(fd);
        return 0;
    }
    if (!(buf = malloc(SECRET_MAX))) {
        close(fd);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    dprintf(fd, "Password for %s@%s: ", a->user, a->host);
    quiet = old;
    quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    rc = read_first_line(fd, buf, SECRET_MAX, &len);
    tcsetattr(fd, TCSAFLUSH, &old);
    dprintf(fd, "\n");
    close(fd);
    if (rc == 0 && len > 0) *out = copy_secret(buf, len);
    OPENSSL_cleanse(buf, SECRET_MAX);
    free(buf);
    if (rc == 0 && len > 0) return *out ? 1 : err_set(e, ERR_INTERNAL, "out of memory");
    return 0;
}

int secret_get(const struct account *a, char **out, struct err *e)
{
    int rc;

    *out = NULL;
    if (a->password) {
        if (!(*out = copy_secret(a->password, strlen(a->password))))
            return err_set(e, ERR_INTERNAL, "out of memory");
        return 0;
    }
    if (a->passwordeval) {
        if (fileperm_check_command(a->passwordeval, getenv("HOME"), e) < 0) return -1;
        return run_passwordeval(a->passwordeval, out, e);
    }
    if ((rc = from_netrc(a, out, e)) != 0) return rc < 0 ? -1 : 0;
    if ((rc = from_terminal(a, out, e)) != 0) return rc < 0 ? -1 : 0;
    err_set(e, ERR_AUTH, "no password for %s@%s", a->user, a->host);
    err_hint(e,
             "set `passwordeval` (e.g. \"pass show mail/%s\") or `password` in the config, "
             "or add the host to ~/.netrc",
             a->name);
    return -1;
}
