/* Unit tests for the MDA sink: the command checked at open, and real
 * deliveries to small /bin/sh scripts: exact bytes, exit statuses, signals,
 * a program that reads nothing, the timeout, stderr lines and the
 * environment. (Splitting the command: test_cmdsplit.c.) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mda.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

static void script(const char *dir, const char *name, const char *body, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long n;

    *len = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

struct lines {
    char text[8][1100];
    size_t len[8];
    int n;
};

static void collect(void *ctx, const char *line, size_t len)
{
    struct lines *l = ctx;

    if (l->n < 8 && len < sizeof l->text[0]) {
        memcpy(l->text[l->n], line, len + 1);
        l->len[l->n++] = len;
    }
}

static void opts_for(struct mda_opts *o, const char *cmd, const char *dir, struct lines *l)
{
    memset(o, 0, sizeof *o);
    o->command = cmd;
    o->account = "work";
    o->local_user = "bob";
    o->remote_user = "alice";
    o->server = "pop.example.org";
    o->spool_dir = dir;
    o->timeout_s = 10;
    if (l) {
        memset(l, 0, sizeof *l);
        o->stderr_line = collect;
        o->stderr_ctx = l;
    }
}

static int deliver(struct sink *s, const void *msg, size_t len, struct err *e)
{
    char name[DELIVER_NAME_MAX] = "x";
    struct deliver_msg m = {.num = 3, .uidl = "UID-42", .size = len};
    const unsigned char *p = msg;

    err_clear(e);
    if (s->ops->begin(s, &m, e) < 0) return -1;
    for (size_t off = 0; off < len; off += 1000)
        if (s->ops->write(s, p + off, len - off < 1000 ? len - off : 1000, e) < 0) return -1;
    if (s->ops->end(s, name, e) < 0) return -1;
    return name[0] == '\0' ? 0 : -2;
}

/* Open an MDA sink on `cmd` and deliver one message; the error in *e. */
static int run_one(const char *cmd, const char *dir, int timeout_s, const void *msg, size_t len,
                   struct lines *l, struct err *e)
{
    struct mda_opts o;
    struct sink s;
    int rc;

    opts_for(&o, cmd, dir, l);
    if (timeout_s) o.timeout_s = timeout_s;
    if (mda_open(&s, &o, e) < 0) return -3;
    rc = deliver(&s, msg, len, e);
    s.ops->close(&s);
    return rc;
}

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is pid still running (a zombie counts as gone)? */
static int alive(long pid)
{
    char path[64], buf[256], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r"))) return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static const char small_msg[] = "Return-Path: <alice@example.org>\nSubject: hi\n\nbody\n";

TEST(mda_open_checks_the_command)
{
    struct mda_opts o;
    struct sink s;
    struct err e;

    opts_for(&o, "procmail -f %Q", "/tmp", NULL);
    CHECK(mda_open(&s, &o, &e) < 0 && e.kind == ERR_USAGE && strstr(e.msg, "%Q"));
    opts_for(&o, "procmail 'x", "/tmp", NULL);
    CHECK(mda_open(&s, &o, &e) < 0 && e.kind == ERR_USAGE);
    opts_for(&o, "", "/tmp", NULL);
    CHECK(mda_open(&s, &o, &e) < 0 && e.kind == ERR_USAGE);
    opts_for(&o, NULL, "/tmp", NULL);
    CHECK(mda_open(&s, &o, &e) < 0 && e.kind == ERR_USAGE);
}

TEST(mda_exit_meanings)
{
    CHECK_STR(mda_exit_meaning(64), "usage error");
    CHECK_STR(mda_exit_meaning(73), "can't create output file");
    CHECK_STR(mda_exit_meaning(75), "temporary failure");
    CHECK_STR(mda_exit_meaning(78), "configuration error");
    CHECK_STR(mda_exit_meaning(126), "cannot execute");
    CHECK_STR(mda_exit_meaning(127), "command not found");
    CHECK(mda_exit_meaning(1) == NULL && mda_exit_meaning(79) == NULL);
}

/* ---- deliveries -------------------------------------------------------------- */

TEST(mda_delivers_exact_bytes)
{
    const char *dir = unit_tmpdir();
    char sh[512], cmd[1200], out[512];
    unsigned char *msg, *got;
    size_t len = 1536 * 1024 + 7, glen;
    struct mda_opts o;
    struct sink s;
    struct err e;

    msg = malloc(len);
    for (size_t i = 0; i < len; i++) msg[i] = (unsigned char)(i % 251);
    memcpy(msg, "Subject: bin\n\n", 14);
    memset(msg + 1000, 'L', 200 * 1024); /* a 200 KiB line */
    script(dir, "save.sh", "cat > \"$1\"", sh, sizeof sh);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s'", sh, out);
    opts_for(&o, cmd, dir, NULL);
    CHECK(mda_open(&s, &o, &e) == 0);
    CHECK(deliver(&s, msg, len, &e) == 0);
    got = slurp(out, &glen);
    CHECK_MEM(got, glen, msg, len);
    free(got);
    /* the sink is reusable: a second, small message replaces nothing of the first */
    CHECK(deliver(&s, "tiny\n", 5, &e) == 0);
    got = slurp(out, &glen);
    CHECK_MEM(got, glen, "tiny\n", 5);
    free(got);
    CHECK(deliver(&s, "", 0, &e) == 0);
    CHECK(s.ops->sync(&s, &e) == 0 && s.ops->publish(&s, "", &e) == 0);
    CHECK(s.ops->publish_sync(&s, &e) == 0 && s.ops->recover(&s, NULL, 0, &e) == 0);
    s.ops->close(&s);
    free(msg);
}

TEST(mda_exit_75_is_a_temporary_failure)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;

    script(dir, "tf.sh", "cat >/dev/null; exit 75", sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "temporary failure"));
    CHECK(strstr(e.msg, "retried on the next run") && e.hint[0]);
}

TEST(mda_exit_73_is_permanent_and_named)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;
    struct lines l;

    script(dir, "cc.sh", "cat >/dev/null; echo 'cannot write mailbox' >&2; exit 73", sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, small_msg, sizeof small_msg - 1, &l, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "exit status 73"));
    CHECK(strstr(e.msg, "can't create output file") && strstr(e.msg, "cannot write mailbox"));
    CHECK(l.n == 1);
    CHECK_STR(l.text[0], "cannot write mailbox");
}

TEST(mda_killed_by_signal)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;

    script(dir, "kill.sh", "cat >/dev/null; kill -KILL $$", sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "signal 9"));
}

TEST(mda_that_reads_nothing_fails)
{
    const char *dir = unit_tmpdir();
    struct err e;
    size_t big = 300 * 1024;
    char *msg = malloc(big);
    char sh[512];

    CHECK(run_one("true", dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "did not read the whole message"));
    /* more than a pipe holds: the writer is blocked when the MDA exits */
    memset(msg, 'm', big);
    CHECK(run_one("true", dir, 0, msg, big, NULL, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "did not read the whole message"));
    /* reads only the header */
    script(dir, "head.sh", "head -c 100 >/dev/null", sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, msg, big, NULL, &e) == -1);
    CHECK(strstr(e.msg, "did not read the whole message"));
    free(msg);
}

TEST(mda_timeout_stops_it)
{
    const char *dir = unit_tmpdir();
    char sh[512], pidfile[512], buf[32];
    struct err e;
    long long t0 = ms_now();
    FILE *f;
    long pid = 0;

    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    script(dir, "slow.sh", "cat >/dev/null; sleep 30 & echo $! > \"$1\"; wait", sh, sizeof sh);
    {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "%s %s", sh, pidfile);
        CHECK(run_one(cmd, dir, 1, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    }
    CHECK(ms_now() - t0 >= 900 && ms_now() - t0 < 4000);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "did not finish within 1 s"));
    /* the whole process group went, the grandchild too */
    f = fopen(pidfile, "r");
    CHECK(f != NULL);
    if (fgets(buf, sizeof buf, f)) pid = strtol(buf, NULL, 10);
    fclose(f);
    CHECK(pid > 0);
    for (int i = 0; i < 100 && alive(pid); i++) usleep(10000);
    CHECK(!alive(pid));
}

TEST(mda_timeout_escalates_to_sigkill)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;
    long long t0 = ms_now();

    script(dir, "stubborn.sh", "trap '' TERM; cat >/dev/null; while :; do sleep 1; done", sh,
           sizeof sh);
    CHECK(run_one(sh, dir, 1, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    CHECK(ms_now() - t0 >= 5900 && ms_now() - t0 < 9000);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "was killed"));
}

TEST(mda_stderr_lines_reach_the_callback)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;
    struct lines l;

    script(dir, "talk.sh",
           "cat >/dev/null; echo one >&2; printf 'two\\n\\nthree' >&2; "
           "head -c 2500 /dev/zero | tr '\\0' x >&2",
           sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, small_msg, sizeof small_msg - 1, &l, &e) == 0);
    CHECK(l.n == 6);
    CHECK_STR(l.text[0], "one");
    CHECK_STR(l.text[1], "two");
    CHECK_STR(l.text[2], "");
    CHECK(l.len[3] == MDA_LINE_MAX && !strncmp(l.text[3], "threexx", 7));
    CHECK(l.len[4] == MDA_LINE_MAX && l.len[5] == 5 + 2500 - 2 * MDA_LINE_MAX);
}

TEST(mda_environment_and_sender)
{
    const char *dir = unit_tmpdir();
    char sh[512], cmd[1200], out[512];
    struct err e;
    unsigned char *got;
    size_t glen;
    char want[256];

    snprintf(out, sizeof out, "%s/env", dir);
    script(
        dir, "env.sh",
        "cat >/dev/null; printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$POPFETCH_ACCOUNT\" "
        "\"$POPFETCH_UIDL\" \"$POPFETCH_SIZE\" \"$POPFETCH_SERVER\" \"$1\" \"$2\" \"$#\" > \"$3\"",
        sh, sizeof sh);
    setenv("POPFETCH_UIDL", "stale-from-parent", 1);
    snprintf(cmd, sizeof cmd, "%s -f%%F '%%%%T=%%T' %s", sh, out);
    CHECK(run_one(cmd, dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == 0);
    unsetenv("POPFETCH_UIDL");
    got = slurp(out, &glen);
    snprintf(want, sizeof want, "work|UID-42|%zu|pop.example.org|-falice@example.org|%%T=bob|3\n",
             sizeof small_msg - 1);
    CHECK(got && !strcmp((char *)got, want));
    free(got);
}

TEST(mda_hostile_sender_is_one_safe_word)
{
    const char *dir = unit_tmpdir();
    char sh[512], cmd[1200], out[512], pwned[512];
    struct err e;
    unsigned char *got;
    size_t glen;
    static const char msg[] =
        "From: Evil <\"$(touch pwned); `touch pwned`\"@evil.example>\nSubject: x\n\nhi\n";

    snprintf(out, sizeof out, "%s/arg", dir);
    snprintf(pwned, sizeof pwned, "%s/pwned", dir);
    script(dir, "arg.sh", "cd \"$(dirname \"$0\")\"; cat >/dev/null; sh -c \"echo $1\" > \"$2\"",
           sh, sizeof sh);
    snprintf(cmd, sizeof cmd, "%s %%F %s", sh, out);
    CHECK(run_one(cmd, dir, 0, msg, sizeof msg - 1, NULL, &e) == 0);
    got = slurp(out, &glen);
    CHECK(got && !strcmp((char *)got, "___touch_pwned____touch_pwned__@evil.example\n"));
    CHECK(access(pwned, F_OK) != 0);
    free(got);
}

/* A program that is not there is refused when the sink opens, before any
 * message; one that goes away later fails at its exec. */
TEST(mda_command_not_found)
{
    const char *dir = unit_tmpdir();
    char prog[512];
    struct mda_opts o;
    struct sink s;
    struct err e;

    CHECK(run_one("/nonexistent/procmail -d %T", dir, 0, small_msg, sizeof small_msg - 1, NULL,
                  &e) == -3);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "cannot run the MDA") &&
          strstr(e.msg, "No such file"));
    CHECK(run_one("no-such-mda-anywhere", dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == -3);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "cannot run the MDA"));
    script(dir, "gone-mda", "cat >/dev/null", prog, sizeof prog);
    CHECK(run_one(prog, dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == 0);
    opts_for(&o, prog, dir, NULL);
    CHECK(mda_open(&s, &o, &e) == 0);
    CHECK(unlink(prog) == 0);
    CHECK(deliver(&s, small_msg, sizeof small_msg - 1, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "cannot run the MDA"));
    s.ops->close(&s);
}

TEST(mda_exit_127_from_a_script_is_named)
{
    const char *dir = unit_tmpdir();
    char sh[512];
    struct err e;

    script(dir, "nf.sh", "cat >/dev/null; exec /nonexistent/thing", sh, sizeof sh);
    CHECK(run_one(sh, dir, 0, small_msg, sizeof small_msg - 1, NULL, &e) == -1);
    CHECK(strstr(e.msg, "exit status 127") && strstr(e.msg, "command not found"));
}

/* Undo mda_env_uidl: each %XX back to its byte. */
static void env_decode(const char *s, char *out)
{
    size_t o = 0;

    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '%' && s[i + 1] && s[i + 2]) {
            char h[3] = {s[i + 1], s[i + 2], 0};
            out[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

TEST(mda_env_uidl_is_safe_and_reversible)
{
    static const char *const uidls[] = {"000000014f3e2a1b",
                                        "a$(touch x);b`id`'\"\\|&<>*?[]{}~#!/ %",
                                        "-rf",
                                        "..",
                                        ".x",
                                        "a-b.c_d@e+f=g:h",
                                        "UID%2F"};
    char enc[3 * 256 + 1], dec[256];

    CHECK(mda_env_uidl(enc, sizeof enc, "000000014f3e2a1b") == 16);
    CHECK_STR(enc, "000000014f3e2a1b");
    mda_env_uidl(enc, sizeof enc, uidls[1]);
    CHECK_STR(enc,
              "a%24%28touch%20x%29%3Bb%60id%60%27%22%5C%7C%26%3C%3E%2A%3F%5B%5D%7B%7D%7E%23%21%"
              "2F%20%25");
    mda_env_uidl(enc, sizeof enc, "-rf");
    CHECK_STR(enc, "%2Drf");
    mda_env_uidl(enc, sizeof enc, "..");
    CHECK_STR(enc, "%2E.");
    mda_env_uidl(enc, sizeof enc, "a-b.c_d@e+f=g:h");
    CHECK_STR(enc, "a-b.c_d@e+f=g:h");
    for (size_t i = 0; i < sizeof uidls / sizeof *uidls; i++) {
        mda_env_uidl(enc, sizeof enc, uidls[i]);
        for (const char *p = enc; *p; p++)
            CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+=:-%",
                         *p));
        env_decode(enc, dec);
        CHECK_STR(dec, uidls[i]);
    }
    /* a short buffer: cut at a whole encoding, always terminated */
    CHECK(mda_env_uidl(enc, 6, "$$$") == 3);
    CHECK_STR(enc, "%24");
    CHECK(mda_env_uidl(enc, 1, "abc") == 0 && enc[0] == '\0');
}
