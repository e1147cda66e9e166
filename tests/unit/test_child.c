/* Unit tests for the child supervisor (child.c) with real programs: its own
 * process group, the descriptors it gets and the ones it does not, signals
 * back at their defaults, the exec errno, and the deadline that kills the
 * whole group. (Stop signals and the terminal: tests/secrets.bats,
 * tests/deliver.bats.) */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "unit.h"

static int run_sh(const char *script, int fd1, int timeout_ms, struct child *c)
{
    char sh[] = "/bin/sh", dash_c[] = "-c", *argv[] = {sh, dash_c, (char *)script, NULL};
    struct child_spec cs = {.what = "the test",
                            .argv = argv,
                            .fd = {CHILD_NULL, fd1, CHILD_KEEP},
                            .timeout_ms = timeout_ms,
                            .kill_after_ms = 500};
    struct err e;

    if (child_spawn(c, &cs, &e) < 0) return -1;
    while (child_wait(c, NULL, 0) > 0) {
    }
    child_close(c);
    return 0;
}

static int exited(const struct child *c, int code)
{
    return c->reaped && !c->lost && WIFEXITED(c->status) && WEXITSTATUS(c->status) == code;
}

static long read_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;

    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

TEST(child_runs_in_its_own_process_group_with_the_descriptors_asked_for)
{
    struct child c;
    char script[600], out[512];
    int stray = dup(2), fd1;

    /* a descriptor of ours without close-on-exec must not reach it */
    CHECK(stray >= 0 && fcntl(stray, F_SETFD, 0) == 0);
    snprintf(out, sizeof out, "%s/out", unit_tmpdir());
    CHECK((fd1 = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
    snprintf(script, sizeof script,
             "read x && exit 10; [ -e /proc/self/fd/%d ] && exit 11; "
             "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] || exit 12; echo $$",
             stray);
    CHECK(run_sh(script, fd1, 0, &c) == 0);
    close(fd1);
    close(stray);
    CHECK(exited(&c, 0));
    CHECK(read_long(out) == (long)c.pid);
}

TEST(child_signals_are_back_at_their_defaults)
{
    struct child c;
    void (*old)(int) = signal(SIGPIPE, SIG_IGN); /* as popfetch has it */

    CHECK(run_sh("kill -PIPE $$; exit 0", CHILD_NULL, 0, &c) == 0);
    signal(SIGPIPE, old);
    CHECK(c.reaped && WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGPIPE);
}

TEST(child_exec_failure_comes_back_with_its_errno)
{
    char prog[] = "/nonexistent/program", *argv[] = {prog, NULL};
    struct child_spec cs = {
        .what = "the test", .argv = argv, .fd = {CHILD_NULL, CHILD_NULL, CHILD_NULL}};
    struct child c;
    struct err e;

    CHECK(child_spawn(&c, &cs, &e) == -1);
    CHECK(c.exec_errno == ENOENT && c.reaped);
    CHECK(strstr(e.msg, "cannot run the test") && strstr(e.msg, "/nonexistent/program"));
    child_close(&c);
}

TEST(child_deadline_kills_the_whole_group)
{
    struct child c;
    char script[600], pidfile[512];
    struct timespec t0, t1;
    long pid;

    snprintf(pidfile, sizeof pidfile, "%s/pid", unit_tmpdir());
    snprintf(script, sizeof script, "sleep 30 & echo $! >'%s'; trap '' TERM; wait; sleep 30",
             pidfile);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(run_sh(script, CHILD_NULL, 300, &c) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* SIGTERM at 300 ms (the shell ignores it), SIGKILL 500 ms later */
    CHECK(c.timed_out && c.term_sent && c.killed && c.stop_sig == 0);
    CHECK(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGKILL);
    CHECK(t1.tv_sec - t0.tv_sec < 3);
    pid = read_long(pidfile);
    CHECK(pid > 0);
    for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++) usleep(10000);
    CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
}
