/* Unit tests for fdio_write_full and for the writers that use it: a write
 * that a signal interrupts (handlers without SA_RESTART, as stop.c installs
 * them) goes on until every byte is out — for a big buffer, for a log line
 * on a full stderr pipe, and for the progress line on a full terminal. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "fdio.h"
#include "log.h"
#include "progress.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
    (void)sig;
    ticks++;
}

/* SIGALRM every 20 ms, its handler installed without SA_RESTART. */
static void ticker_start(struct sigaction *old)
{
    struct sigaction sa;
    struct itimerval it = {{0, 20000}, {0, 20000}};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_tick;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, old);
    ticks = 0;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void ticker_stop(const struct sigaction *old)
{
    struct itimerval off = {{0, 0}, {0, 0}};

    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, old, NULL);
}

/* Write into fd without blocking until it takes no more, then make it
 * blocking again: the next write(2) waits for a reader. A terminal moves
 * its buffer on a little later, so keep going until 20 ms bring no room. */
static void fill(int fd)
{
    static const char junk[4096] = {0};
    struct timespec ts = {0, 20 * 1000000L};
    int fl = fcntl(fd, F_GETFL), more = 1;

    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while (more) {
        more = 0;
        while (write(fd, junk, sizeof junk) > 0) more = 1;
        while (write(fd, junk, 1) > 0) more = 1;
        nanosleep(&ts, NULL);
    }
    fcntl(fd, F_SETFL, fl);
}

#define END_MARK "\n-- end of test --\n"

/* A child that waits 150 ms, then copies fd to `path`: until the end of
 * the stream, or with `mark` until END_MARK has come through (a terminal's
 * master side: its slave stays open, as hanging it up could drop what is
 * still buffered). `other` is closed in the child. */
static pid_t drain_later(int fd, int other, const char *path, int mark)
{
    pid_t pid = fork();

    if (pid == 0) {
        struct timespec ts = {0, 150 * 1000000L};
        static char all[2 << 20];
        size_t have = 0;
        ssize_t n;
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        close(other);
        nanosleep(&ts, NULL);
        while (have < sizeof all && (n = read(fd, all + have, sizeof all - have)) > 0) {
            have += (size_t)n;
            if (mark && memmem(all, have, END_MARK, strlen(END_MARK))) break;
        }
        if (out < 0 || write(out, all, have) != (ssize_t)have) _exit(1);
        _exit(0);
    }
    return pid;
}

/* What the drainer wrote, NUL-terminated (NULs inside stay). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;

    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    if (p) p[n] = '\0';
    *len = (size_t)n;
    return p;
}

static int has(const char *hay, size_t len, const char *needle)
{
    return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* ---- the loop itself ------------------------------------------------------ */

TEST(fdio_write_full_goes_on_after_signals)
{
    enum { BIG = 1024 * 1024 };
    char path[512], *buf = malloc(BIG), *got;
    struct sigaction old;
    int p[2], rc, st;
    size_t len;
    pid_t pid;

    CHECK(buf && pipe(p) == 0);
    for (size_t i = 0; i < BIG; i++) buf[i] = (char)('a' + i % 23);
    snprintf(path, sizeof path, "%s/out", unit_tmpdir());
    CHECK((pid = drain_later(p[0], p[1], path, 0)) > 0);
    close(p[0]);
    ticker_start(&old);
    rc = fdio_write_full(p[1], buf, BIG);
    ticker_stop(&old);
    close(p[1]);
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(rc == 0);
    CHECK(ticks > 0);
    got = slurp(path, &len);
    CHECK(got && len == BIG && memcmp(got, buf, BIG) == 0);
    free(got);
    free(buf);
}

TEST(fdio_write_full_reports_a_real_error)
{
    int p[2];
    void (*was)(int) = signal(SIGPIPE, SIG_IGN);

    CHECK(pipe(p) == 0);
    close(p[0]);
    errno = 0;
    CHECK(fdio_write_full(p[1], "x", 1) == -1 && errno == EPIPE);
    close(p[1]);
    CHECK(fdio_write_full(-1, "x", 1) == -1 && errno == EBADF);
    CHECK(fdio_write_full(-1, "", 0) == 0);
    signal(SIGPIPE, was);
}

/* ---- its users ------------------------------------------------------------ */

/* Run `write_it` with stderr on `fd` (filled up first) while a ticker
 * interrupts and a child drains the other end, `reader`, late; what reached
 * it. fd stays open until the child is done. */
static char *through_full_stderr(int fd, int reader, void (*write_it)(void), size_t *len)
{
    char path[512];
    struct sigaction old;
    int saved = dup(STDERR_FILENO), st, ok;
    pid_t pid;

    snprintf(path, sizeof path, "%s/stderr", unit_tmpdir());
    fill(fd);
    if (saved < 0 || (pid = drain_later(reader, fd, path, 1)) < 0) return NULL;
    close(reader);
    dup2(fd, STDERR_FILENO);
    ticker_start(&old);
    write_it();
    ticker_stop(&old);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ok = fdio_write_full(fd, END_MARK, strlen(END_MARK)) == 0 && waitpid(pid, &st, 0) == pid &&
         WIFEXITED(st) && WEXITSTATUS(st) == 0;
    close(fd);
    return ok ? slurp(path, len) : NULL;
}

static void log_one_error(void)
{
    struct err e;

    err_set(&e, ERR_LOCAL, "this line must not be lost");
    log_error("acct", &e);
}

TEST(log_line_is_not_lost_to_a_signal_on_a_full_stderr)
{
    int p[2];
    size_t len;
    char *got;

    CHECK(pipe(p) == 0);
    got = through_full_stderr(p[1], p[0], log_one_error, &len);
    CHECK(got);
    CHECK(ticks > 0);
    CHECK(has(got, len, "popfetch: acct: this line must not be lost\n"));
    free(got);
}

static void draw_progress(void)
{
    int level = log_get_level();

    log_set_level(LOG_NORMAL);
    progress_enable(1);
    progress_start("acct", 4, 0);
    progress_update(1, 1000);
    progress_end("fetched 4 messages");
    progress_enable(2); /* off again for the tests that follow */
    log_set_level(level);
}

TEST(progress_line_is_not_lost_to_a_signal_on_a_full_terminal)
{
    struct termios t;
    int m = posix_openpt(O_RDWR | O_NOCTTY), s;
    size_t len;
    char *got;

    CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
    CHECK((s = open(ptsname(m), O_RDWR | O_NOCTTY)) >= 0);
    CHECK(tcgetattr(s, &t) == 0);
    cfmakeraw(&t);
    CHECK(tcsetattr(s, TCSANOW, &t) == 0);
    got = through_full_stderr(s, m, draw_progress, &len);
    CHECK(got);
    CHECK(ticks > 0);
    CHECK(has(got, len, "\racct: 1/4 messages"));
    CHECK(has(got, len, "\racct: fetched 4 messages\033[K\n"));
    free(got);
}
