/*
 * secret — password sources. See secret.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fileperm.h"
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

/* Next whitespace-separated token of a netrc file (quotes allowed). */
static const char *netrc_token(const char **p, char *buf, size_t max)
{
    const char *s = *p;
    size_t n = 0;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',') s++;
    if (!*s) return NULL;
    if (*s == '"') {
        for (s++; *s && *s != '"'; s++)
            if (n + 1 < max) buf[n++] = *s == '\\' && s[1] ? *++s : *s;
        if (*s) s++;
    } else {
        for (; *s && !strchr(" \t\n\r,", *s); s++)
            if (n + 1 < max) buf[n++] = *s;
    }
    buf[n] = '\0';
    *p = s;
    return buf;
}

/* Find the password for (host, user): a `machine host` entry whose login
 * matches (or has none), else `default`. 1 found, 0 not found. */
static int netrc_lookup(const char *text, const char *host, const char *user, char *pw, size_t max)
{
    char tok[SECRET_MAX < 8192 ? SECRET_MAX : 8192], login[512] = "", pass[8192] = "";
    const char *p = text;
    int in_entry = 0, matched = 0, have_login = 0, have_pass = 0, found = 0;

    for (;;) {
        const char *t = netrc_token(&p, tok, sizeof tok);
        int boundary = !t || !strcmp(t, "machine") || !strcmp(t, "default");

        if (boundary && in_entry && matched && have_pass && (!have_login || !strcmp(login, user))) {
            snprintf(pw, max, "%s", pass);
            found = 1;
            break;
        }
        if (!t) break;
        if (boundary) {
            in_entry = 1;
            have_login = have_pass = 0;
            matched = !strcmp(t, "default") ||
                      (netrc_token(&p, tok, sizeof tok) && !strcasecmp(tok, host));
        } else if (!strcmp(t, "login") && netrc_token(&p, tok, sizeof tok)) {
            size_t n = strlen(tok);
            if (n >= sizeof login) n = 0; /* cannot be our user: never matches below */
            memcpy(login, tok, n);
            login[n] = '\0';
            have_login = 1;
        } else if (!strcmp(t, "password") && netrc_token(&p, tok, sizeof tok)) {
            snprintf(pass, sizeof pass, "%s", tok);
            have_pass = 1;
        } else if (!strcmp(t, "macdef")) {
            const char *end = strstr(p, "\n\n"); /* a macro runs to a blank line */
            p = end ? end + 2 : p + strlen(p);
        }
    }
    OPENSSL_cleanse(tok, sizeof tok);
    OPENSSL_cleanse(pass, sizeof pass);
    return found;
}

static int from_netrc(const struct account *a, char **out, struct err *e)
{
    const char *home = getenv("HOME");
    char path[4096], *text, pw[8192];
    struct stat st;
    ssize_t r;
    int fd, found;

    if (!home || !*home) return 0;
    snprintf(path, sizeof path, "%s/.netrc", home);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024 ||
        !(text = calloc(1, (size_t)st.st_size + 1))) {
        close(fd);
        return 0;
    }
    if (fileperm_check_stat(&st, "netrc file", path, e) < 0) {
        close(fd);
        free(text);
        return -1;
    }
    r = read(fd, text, (size_t)st.st_size);
    close(fd);
    found = r > 0 && netrc_lookup(text, a->host, a->user, pw, sizeof pw);
    OPENSSL_cleanse(text, (size_t)st.st_size);
    free(text);
    if (!found) return 0;
    if (st.st_mode & 0044) {
        OPENSSL_cleanse(pw, sizeof pw);
        err_set(e, ERR_CONFIG_PERM, "%s holds the password for %s but others can read it", path,
                a->host);
        err_hint(e, "run `chmod 600 %s`", path);
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
