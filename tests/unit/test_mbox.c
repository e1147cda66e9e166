/* Unit tests for the mbox sink (mboxrd quoting, exact file bytes, locking,
 * roll-back on a failed append) and for the spool (its bytes, and its header
 * and sender read back through header.c; header.c alone: test_header.c). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mbox.h"
#include "spool.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

struct bytes {
    unsigned char *p;
    size_t len, cap;
};

static void b_add(struct bytes *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void b_str(struct bytes *b, const char *s)
{
    b_add(b, s, strlen(s));
}

static void b_rep(struct bytes *b, char c, size_t n)
{
    for (size_t i = 0; i < n; i++) b_add(b, &c, 1);
}

static int b_out(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    (void)e;
    b_add(ctx, buf, len);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct bytes b = {0};
    unsigned char tmp[65536];
    size_t n;

    *len = 0;
    if (!f) return NULL;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) b_add(&b, tmp, n);
    fclose(f);
    if (!b.p) b.p = malloc(1);
    *len = b.len;
    return b.p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reference mboxrd quoting, line by line. */
static void reference_quote(const unsigned char *in, size_t len, struct bytes *out)
{
    size_t p = 0;

    while (p < len) {
        const unsigned char *nl = memchr(in + p, '\n', len - p);
        size_t n = nl ? (size_t)(nl - (in + p)) + 1 : len - p, g = 0;
        while (g < n && in[p + g] == '>') g++;
        if (n - g >= 5 && !memcmp(in + p + g, "From ", 5)) b_add(out, ">", 1);
        b_add(out, in + p, n);
        p += n;
    }
    if (len && in[len - 1] != '\n') b_add(out, "\n", 1);
}

static void quote_in_chunks(const unsigned char *in, size_t len, size_t chunk, struct bytes *out)
{
    struct mbox_quote q;
    struct err e;
    size_t p = 0;
    unsigned seed = 7;

    b_add(out, "", 0); /* never a NULL buffer, even for no output */
    mbox_quote_init(&q);
    while (p < len) {
        size_t n = chunk ? chunk : 1 + (seed = seed * 1103515245u + 12345u) % 17;
        if (n > len - p) n = len - p;
        mbox_quote_feed(&q, in + p, n, b_out, out, &e);
        p += n;
    }
    mbox_quote_end(&q, b_out, out, &e);
}

static int deliver(struct sink *s, const void *msg, size_t len, size_t chunk, struct err *e)
{
    char name[DELIVER_NAME_MAX] = "x";
    struct deliver_msg m = {.num = 1, .uidl = "u1", .size = len};
    const unsigned char *p = msg;

    err_clear(e);
    if (s->ops->begin(s, &m, e) < 0) return -1;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (s->ops->write(s, p + off, n, e) < 0) return -1;
        off += n;
    }
    if (s->ops->end(s, name, e) < 0) return -1;
    return name[0] == '\0' ? 0 : -2;
}

static void opts_for(struct mbox_opts *o, const char *dir)
{
    mbox_opts_init(o);
    o->spool_dir = dir;
}

/* Is p[0..24) an asctime-style date? */
static int is_date(const unsigned char *p)
{
    static const char *shape = "Aaa Aaa 99 99:99:99 9999";

    for (int i = 0; i < 24; i++) {
        char s = shape[i];
        int c = p[i];
        if (s == 'A' && !(c >= 'A' && c <= 'Z')) return 0;
        if (s == 'a' && !(c >= 'a' && c <= 'z')) return 0;
        if (s == '9' && !(c >= '0' && c <= '9') && !(i == 8 && c == ' ')) return 0;
        if ((s == ' ' || s == ':') && c != s) return 0;
    }
    return 1;
}

/* Check one mbox record at *pos: From_ line for `sender`, then `body`. */
static int record_at(const unsigned char *f, size_t flen, size_t *pos, const char *sender,
                     const struct bytes *body)
{
    size_t p = *pos, sl = strlen(sender);

    if (flen - p < 5 + sl + 1 + 24 + 1 || memcmp(f + p, "From ", 5) ||
        memcmp(f + p + 5, sender, sl) || f[p + 5 + sl] != ' ')
        return 0;
    p += 5 + sl + 1;
    if (!is_date(f + p) || f[p + 24] != '\n') return 0;
    p += 25;
    if (flen - p < body->len + 1 || memcmp(f + p, body->p, body->len)) return 0;
    p += body->len;
    if (f[p] != '\n') return 0;
    *pos = p + 1;
    return 1;
}

/* ---- quoting ---------------------------------------------------------------- */

static void tricky_message(struct bytes *b)
{
    b_str(b, "From the very start\n>From x\n>>From y\nFrom me\nFrom\nFro\n>Fro\n>>>>\n\n");
    b_add(b, "\0From nul\n", 10);
    b_str(b, "xFrom no\n >From no\nFROM no\nfrom no\n>F>rom no\n");
    b_rep(b, '>', 100000);
    b_str(b, "From deep\n");
    b_rep(b, 'y', 70000);
    b_str(b, "From not-a-line-start\n>Fro");
}

TEST(mbox_quote_matches_reference_in_any_chunks)
{
    struct bytes in = {0}, want = {0};
    size_t chunks[] = {1, 2, 3, 4, 5, 6, 7, 64, 4096, 65536, 1 << 20, 0};

    tricky_message(&in);
    reference_quote(in.p, in.len, &want);
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct bytes got = {0};
        quote_in_chunks(in.p, in.len, chunks[i], &got);
        CHECK_MEM(got.p, got.len, want.p, want.len);
        free(got.p);
    }
    free(in.p);
    free(want.p);
}

TEST(mbox_quote_small_cases)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"From ", ">From \n"},
        {"From", "From\n"},
        {">From x\n", ">>From x\n"},
        {">>From y\n", ">>>From y\n"},
        {"a\nFrom b\n", "a\n>From b\n"},
        {"a\n\n", "a\n\n"},
        {">", ">\n"},
        {"\n", "\n"},
        {" From x\n", " From x\n"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t chunk = 1; chunk < 4; chunk++) {
            struct bytes got = {0};
            quote_in_chunks((const unsigned char *)cases[i].in, strlen(cases[i].in), chunk, &got);
            CHECK_MEM(got.p, got.len, cases[i].out, strlen(cases[i].out));
            free(got.p);
        }
    }
}

TEST(mbox_date_is_asctime_form)
{
    char d[32];

    mbox_date(d, sizeof d, (long long)time(NULL));
    CHECK(strlen(d) == 24);
    CHECK(is_date((const unsigned char *)d));
}

/* ---- whole deliveries ----------------------------------------------------- */

TEST(mbox_three_messages_exact_bytes)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    struct bytes m1 = {0}, m2 = {0}, m3 = {0}, q1 = {0}, q2 = {0}, q3 = {0};
    unsigned char *f;
    size_t flen, pos = 0;
    struct stat st;

    b_str(&m1, "Return-Path: <alice@example.org>\nSubject: one\n\nFrom me\n>From x\n>>From "
               "y\nbody\n");
    b_str(&m2, "From the start\nSubject: two\n\nno final newline");
    b_str(&m3, "Return-Path: <>\nSubject: three\n\n");
    b_add(&m3, "a\0b\0\n", 5);
    b_rep(&m3, 'x', 200 * 1024);
    b_str(&m3, "\nFrom again\n\n");
    reference_quote(m1.p, m1.len, &q1);
    reference_quote(m2.p, m2.len, &q2);
    reference_quote(m3.p, m3.len, &q3);

    snprintf(path, sizeof path, "%s/inbox", dir);
    opts_for(&o, dir);
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    CHECK(deliver(&s, m1.p, m1.len, 1, &e) == 0);
    CHECK(deliver(&s, m2.p, m2.len, 3, &e) == 0);
    CHECK(deliver(&s, m3.p, m3.len, 4096, &e) == 0);
    CHECK(s.ops->sync(&s, &e) == 0 && s.ops->publish(&s, "", &e) == 0);
    CHECK(s.ops->publish_sync(&s, &e) == 0 && s.ops->recover(&s, NULL, 0, &e) == 0);
    s.ops->close(&s);

    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(path + strlen(path), sizeof path - strlen(path), ".lock");
    CHECK(access(path, F_OK) != 0);
    path[strlen(path) - 5] = '\0';
    f = slurp(path, &flen);
    CHECK(f != NULL);
    CHECK(record_at(f, flen, &pos, "alice@example.org", &q1));
    CHECK(record_at(f, flen, &pos, "MAILER-DAEMON", &q2));
    CHECK(record_at(f, flen, &pos, "MAILER-DAEMON", &q3));
    CHECK(pos == flen);
    /* spot checks of the quoting, independent of the reference */
    CHECK(memmem(f, flen, "\n>From me\n>>From x\n>>>From y\n", 29) != NULL);
    CHECK(memmem(f, flen, "\n>From the start\n", 17) != NULL);
    CHECK(memmem(f, flen, "no final newline\n\nFrom MAILER-DAEMON ", 37) != NULL);
    CHECK(memmem(f, flen, "\n>From again\n\n\n", 15) != NULL && f[flen - 1] == '\n');
    free(f);
    free(m1.p), free(m2.p), free(m3.p), free(q1.p), free(q2.p), free(q3.p);
}

TEST(mbox_appends_after_a_file_without_final_blank_line)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    static const char old[] = "From a Mon Nov 23 06:12:00 2026\nbody";
    unsigned char *f;
    size_t flen;

    snprintf(path, sizeof path, "%s/mb", dir);
    spit(path, old, sizeof old - 1);
    opts_for(&o, dir);
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    CHECK(deliver(&s, "hi\n", 3, 10, &e) == 0);
    s.ops->close(&s);
    f = slurp(path, &flen);
    CHECK(flen > sizeof old + 2);
    CHECK(!memcmp(f, old, sizeof old - 1));
    CHECK(!memcmp(f + sizeof old - 1, "\n\nFrom MAILER-DAEMON ", 21));
    CHECK(!memcmp(f + flen - 5, "\nhi\n\n", 5));
    free(f);
}

TEST(mbox_refuses_a_file_that_is_not_an_mbox)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    unsigned char *f;
    size_t flen;

    snprintf(path, sizeof path, "%s/notes.txt", dir);
    spit(path, "my notes\n", 9);
    opts_for(&o, dir);
    CHECK(mbox_open(&s, path, &o, &e) < 0);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "not an mbox") && e.hint[0]);

    /* it becomes one after open: end() checks again under the lock */
    spit(path, "", 0);
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    spit(path, "PK\3\4zip", 7);
    CHECK(deliver(&s, "x\n", 2, 2, &e) == -1);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "not an mbox"));
    s.ops->close(&s);
    f = slurp(path, &flen);
    CHECK_MEM(f, flen, "PK\3\4zip", 7);
    free(f);
}

TEST(mbox_abort_leaves_nothing)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    struct deliver_msg m = {.num = 1};

    snprintf(path, sizeof path, "%s/mb", dir);
    opts_for(&o, dir);
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    CHECK(s.ops->begin(&s, &m, &e) == 0);
    CHECK(s.ops->write(&s, (const unsigned char *)"half a mess", 11, &e) == 0);
    s.ops->abort(&s);
    CHECK(access(path, F_OK) != 0);
    CHECK(deliver(&s, "whole\n", 6, 6, &e) == 0);
    s.ops->close(&s);
    {
        size_t flen;
        unsigned char *f = slurp(path, &flen);
        CHECK(f && !memmem(f, flen, "half", 4) && memmem(f, flen, "\nwhole\n\n", 8));
        free(f);
    }
}

/* In a child limited to `limit` bytes per file (RLIMIT_FSIZE, SIGXFSZ
 * ignored, so writes past it fail with EFBIG): deliver msg. Exit 0 if end()
 * failed with a local I/O error naming the cause, 1 otherwise. */
static int deliver_with_size_limit(const char *path, const char *dir, const struct bytes *msg,
                                   rlim_t limit)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        struct mbox_opts o;
        struct sink s;
        struct err e;
        struct deliver_msg m = {.num = 1};
        char name[DELIVER_NAME_MAX];
        struct rlimit rl = {limit, limit};
        int ok;

        opts_for(&o, dir);
        signal(SIGXFSZ, SIG_IGN);
        if (mbox_open(&s, path, &o, &e) < 0 || s.ops->begin(&s, &m, &e) < 0 ||
            s.ops->write(&s, msg->p, msg->len, &e) < 0)
            _exit(2);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0) _exit(3);
        ok = s.ops->end(&s, name, &e) < 0 && e.kind == ERR_LOCAL && strstr(e.msg, "too large") &&
             e.hint[0];
        s.ops->close(&s);
        _exit(ok ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

TEST(mbox_failed_append_truncates_back)
{
    const char *dir = unit_tmpdir();
    char path[512], lock[520];
    struct bytes before = {0}, msg = {0};
    unsigned char *f;
    size_t flen;

    snprintf(path, sizeof path, "%s/mb", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    b_str(&before, "From x Mon Nov 23 06:12:00 2026\nSubject: old\n\n");
    for (int i = 0; i < 6000; i++) b_str(&before, "an old line of the old message...\n");
    b_str(&before, "\n");
    spit(path, before.p, before.len);
    b_str(&msg, "Subject: new\n\n");
    b_rep(&msg, 'n', 70 * 1024); /* > the spool buffer: on disk before the limit is set */

    CHECK(deliver_with_size_limit(path, dir, &msg, (rlim_t)before.len + 10 * 1024) == 0);
    f = slurp(path, &flen);
    CHECK_MEM(f, flen, before.p, before.len);
    CHECK(access(lock, F_OK) != 0);
    free(f);

    /* a brand-new mbox that cannot take the message stays empty */
    snprintf(path, sizeof path, "%s/new-mb", dir);
    CHECK(deliver_with_size_limit(path, dir, &msg, 100) == 0);
    f = slurp(path, &flen);
    CHECK(f && flen == 0);
    free(f);
    free(before.p);
    free(msg.p);
}

/* ---- locking ---------------------------------------------------------------- */

static void make_lock(const char *lock, time_t age)
{
    struct timespec ts[2];

    spit(lock, "99999\n", 6);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age;
    ts[1] = ts[0];
    utimensat(AT_FDCWD, lock, ts, 0);
}

TEST(mbox_dotlock_waits_for_the_holder)
{
    const char *dir = unit_tmpdir();
    char path[512], lock[520];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    pid_t pid;
    long long t0;

    snprintf(path, sizeof path, "%s/mb", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    make_lock(lock, 0);
    pid = fork();
    if (pid == 0) {
        usleep(400 * 1000);
        unlink(lock);
        _exit(0);
    }
    opts_for(&o, dir);
    o.fcntl_lock = 0;
    o.lock_timeout_s = 10;
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    t0 = ms_now();
    CHECK(deliver(&s, "x\n", 2, 2, &e) == 0);
    CHECK(ms_now() - t0 >= 300);
    s.ops->close(&s);
    waitpid(pid, NULL, 0);
    CHECK(access(lock, F_OK) != 0);
}

TEST(mbox_dotlock_held_too_long_fails_and_is_left_alone)
{
    const char *dir = unit_tmpdir();
    char path[512], lock[520];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    long long t0;

    snprintf(path, sizeof path, "%s/mb", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    make_lock(lock, 10);
    opts_for(&o, dir);
    o.lock_timeout_s = 1;
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    t0 = ms_now();
    CHECK(deliver(&s, "x\n", 2, 2, &e) == -1);
    CHECK(ms_now() - t0 >= 900 && ms_now() - t0 < 5000);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "locked") && strstr(e.msg, "pid 99999"));
    CHECK(strstr(e.hint, ".lock") != NULL);
    s.ops->close(&s);
    CHECK(access(lock, F_OK) == 0);
    CHECK(access(path, F_OK) != 0);
}

TEST(mbox_stale_dotlock_is_removed)
{
    const char *dir = unit_tmpdir();
    char path[512], lock[520];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    long long t0;

    snprintf(path, sizeof path, "%s/mb", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    make_lock(lock, 1000);
    opts_for(&o, dir);
    o.lock_timeout_s = 5;
    o.stale_lock_s = 300;
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    t0 = ms_now();
    CHECK(deliver(&s, "x\n", 2, 2, &e) == 0);
    CHECK(ms_now() - t0 < 1000);
    s.ops->close(&s);
    CHECK(access(lock, F_OK) != 0);
    CHECK(access(path, F_OK) == 0);
}

/* ---- intents and recovery --------------------------------------------------- */

static int keep_note(void *ctx, const char *note, struct err *e)
{
    (void)e;
    snprintf(ctx, 64, "%s", note);
    return 0;
}

static void warned_(void *ctx, const char *msg)
{
    snprintf(ctx, 512, "%s", msg);
}

/* end() announces where the message goes and how long it is before it
 * writes; recovery says whether that message is there, and cuts off a
 * part of it a killed run left at the end. */
TEST(mbox_intent_and_its_recovery)
{
    const char *dir = unit_tmpdir();
    static const char msg[] = "Received: from pop.test (pop.test [127.0.0.1])\n"
                              "\tby here with POP3S (popfetch 1)\n"
                              "\t(account a, user u, uidl u\\(1\\));\n"
                              "\tThu, 01 Jan 1970 00:00:00 +0000\n"
                              "Subject: one\n\nFrom a body line\n";
    char path[512], note[64] = "", warning[512] = "", want[64];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    unsigned char *f;
    size_t flen, first;

    snprintf(path, sizeof path, "%s/mb", dir);
    unlink(path);
    opts_for(&o, dir);
    o.warn = warned_;
    o.warn_ctx = warning;
    CHECK(mbox_open(&s, path, &o, &e) == 0);
    s.intend = keep_note;
    s.intend_ctx = note;
    CHECK(deliver(&s, msg, sizeof msg - 1, 7, &e) == 0);
    f = slurp(path, &flen);
    free(f);
    snprintf(want, sizeof want, "mbox:0+%zu", flen);
    CHECK_STR(note, want);
    first = flen;
    CHECK(deliver(&s, msg, sizeof msg - 1, 7, &e) == 0); /* the second after a separator */
    f = slurp(path, &flen);
    free(f);
    snprintf(want, sizeof want, "mbox:%zu+%zu", first, flen - first);
    CHECK_STR(note, want);

    CHECK(s.ops->recover_intent(&s, "u(1)", note, &e) == 1);
    CHECK(s.ops->recover_intent(&s, "u(2)", note, &e) == 0);        /* another message */
    CHECK(s.ops->recover_intent(&s, "u(1)", "mbox:5+10", &e) == 0); /* not a message there */
    CHECK(s.ops->recover_intent(&s, "u(1)", "garbage", &e) == 0);
    CHECK(warning[0] == '\0');
    /* killed while appending: the part is cut off, the first message stays */
    CHECK(truncate(path, (off_t)(flen - 9)) == 0);
    CHECK(s.ops->recover_intent(&s, "u(1)", note, &e) == 0);
    f = slurp(path, &flen);
    free(f);
    CHECK(flen == first);
    CHECK(strstr(warning, "incomplete message") != NULL);
    CHECK(s.ops->recover_intent(&s, "u(1)", note, &e) == 0); /* nothing there now */
    s.ops->close(&s);
}

/* A pid that no longer runs: a child that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();

    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static void warned(void *ctx, const char *msg)
{
    snprintf(ctx, 512, "%s", msg);
}

/* A fresh lock file (not stale by age) saying `text`; deliver under it
 * with a 1 s timeout. Returns deliver()'s result, the time it took and
 * what was warned. */
static int deliver_under_lock(const char *text, long long *ms, char warning[512])
{
    const char *dir = unit_tmpdir();
    char path[512], lock[520];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    long long t0;
    int rc;

    snprintf(path, sizeof path, "%s/mb", dir);
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(path);
    spit(lock, text, strlen(text));
    opts_for(&o, dir);
    o.fcntl_lock = 0;
    o.lock_timeout_s = 1;
    o.warn = warned;
    o.warn_ctx = warning;
    warning[0] = '\0';
    if (mbox_open(&s, path, &o, &e) < 0) return -9;
    t0 = ms_now();
    rc = deliver(&s, "x\n", 2, 2, &e);
    *ms = ms_now() - t0;
    s.ops->close(&s);
    return rc;
}

TEST(mbox_dotlock_of_a_dead_local_process_is_removed_at_once)
{
    char host[256], text[300], warning[512], pidstr[32];
    long long ms;
    pid_t pid = dead_pid();

    CHECK(gethostname(host, sizeof host) == 0);
    snprintf(text, sizeof text, "%ld %s\n", (long)pid, host);
    CHECK(deliver_under_lock(text, &ms, warning) == 0);
    CHECK(ms < 500);
    snprintf(pidstr, sizeof pidstr, "process %ld", (long)pid);
    CHECK(strstr(warning, pidstr) && strstr(warning, "no longer runs"));
}

TEST(mbox_dotlock_of_a_live_foreign_or_unknown_holder_is_waited_for)
{
    char host[256], text[300], warning[512];
    long long ms;
    pid_t pid = dead_pid();

    CHECK(gethostname(host, sizeof host) == 0);
    /* a live process of this host (ourselves) */
    snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), host);
    CHECK(deliver_under_lock(text, &ms, warning) == -1);
    CHECK(ms >= 900 && warning[0] == '\0');
    /* a dead pid, but on another host */
    snprintf(text, sizeof text, "%ld other.%s\n", (long)pid, host);
    CHECK(deliver_under_lock(text, &ms, warning) == -1);
    CHECK(ms >= 900 && warning[0] == '\0');
    /* a bare pid (which host?), garbage, an empty lock */
    snprintf(text, sizeof text, "%ld\n", (long)pid);
    CHECK(deliver_under_lock(text, &ms, warning) == -1);
    CHECK(deliver_under_lock("-1 x\n", &ms, warning) == -1);
    CHECK(deliver_under_lock("", &ms, warning) == -1);
    CHECK(warning[0] == '\0');
}

/* A child that holds an fcntl write lock on path for hold_ms, then exits. */
static pid_t hold_fcntl_lock(const char *path, int hold_ms)
{
    int pfd[2];
    pid_t pid;
    char c;

    if (pipe(pfd) < 0) return -1;
    pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_CREAT, 0600);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) _exit(1);
        if (write(pfd[1], "x", 1) != 1) _exit(1);
        usleep((useconds_t)hold_ms * 1000);
        _exit(0);
    }
    close(pfd[1]);
    if (read(pfd[0], &c, 1) != 1) pid = -1;
    close(pfd[0]);
    return pid;
}

TEST(mbox_fcntl_lock_waits_then_times_out)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;
    pid_t pid;
    long long t0;
    char want[64];

    snprintf(path, sizeof path, "%s/mb", dir);
    opts_for(&o, dir);
    o.dotlock = 0;
    o.lock_timeout_s = 1;
    CHECK(mbox_open(&s, path, &o, &e) == 0);

    CHECK((pid = hold_fcntl_lock(path, 400)) > 0);
    t0 = ms_now();
    CHECK(deliver(&s, "one\n", 4, 4, &e) == 0);
    CHECK(ms_now() - t0 >= 250);
    waitpid(pid, NULL, 0);

    CHECK((pid = hold_fcntl_lock(path, 5000)) > 0);
    CHECK(deliver(&s, "two\n", 4, 4, &e) == -1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    snprintf(want, sizeof want, "process %ld", (long)pid);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "locked") && strstr(e.msg, want));
    s.ops->close(&s);
    {
        size_t flen;
        unsigned char *f = slurp(path, &flen);
        CHECK(f && memmem(f, flen, "\none\n", 5) && !memmem(f, flen, "two", 3));
        free(f);
    }
}

TEST(mbox_open_checks_the_directory)
{
    const char *dir = unit_tmpdir();
    char path[512];
    struct mbox_opts o;
    struct sink s;
    struct err e;

    snprintf(path, sizeof path, "%s/no/such/dir/mb", dir);
    opts_for(&o, dir);
    CHECK(mbox_open(&s, path, &o, &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "no/such/dir") && e.hint[0]);
    CHECK(mbox_open(&s, dir, &o, &e) < 0);
    CHECK(e.kind == ERR_DELIVERY && strstr(e.msg, "not a regular file"));
}

/* ---- spool: headers and senders ------------------------------------------- */

static int spool_with(struct spool *sp, const void *msg, size_t len)
{
    struct err e;

    return spool_open(sp, NULL, &e) == 0 && spool_write(sp, msg, len, &e) == 0 ? 0 : -1;
}

TEST(spool_header_finds_first_unfolded_case_insensitive)
{
    struct spool sp;
    char v[64];
    static const char msg[] = "Received: a\n\tb\nreturn-path  : <x@y>\nSubject: one\n two\n\t"
                              "three\nSubject: second\nX: \n\nFrom: body@example.org\n";

    CHECK(spool_with(&sp, msg, sizeof msg - 1) == 0);
    CHECK(spool_header(&sp, "Return-Path", v, sizeof v) == 6);
    CHECK_STR(v, " <x@y>");
    CHECK(spool_header(&sp, "subject", v, sizeof v) == 14);
    CHECK_STR(v, " one two\tthree");
    CHECK(spool_header(&sp, "X", v, sizeof v) == 1);
    CHECK(spool_header(&sp, "From", v, sizeof v) == -1);
    CHECK(spool_header(&sp, "Received", v, 4) == 4);
    CHECK_STR(v, " a\t");
    CHECK(spool_header(&sp, "Subj", v, sizeof v) == -1);
    spool_close(&sp);
}

TEST(spool_header_is_bounded_and_survives_garbage)
{
    struct spool sp;
    struct bytes m = {0};
    char v[64];

    /* a 300 KiB header line: Return-Path after it is beyond the scan */
    b_str(&m, "X-Big: ");
    b_rep(&m, 'b', 300 * 1024);
    b_str(&m, "\nReturn-Path: <late@example.org>\n\n");
    CHECK(spool_with(&sp, m.p, m.len) == 0);
    CHECK(spool_header(&sp, "Return-Path", v, sizeof v) == -1);
    CHECK(spool_header(&sp, "X-Big", v, sizeof v) > 200 * 1024);
    spool_close(&sp);

    /* NULs, no line ends at all, empty message */
    m.len = 0;
    b_add(&m, "From:\0<a@b>\0", 12);
    CHECK(spool_with(&sp, m.p, m.len) == 0);
    CHECK(spool_header(&sp, "From", v, sizeof v) == 7);
    CHECK(v[0] == '\0' && v[6] == '\0');
    spool_close(&sp);
    CHECK(spool_with(&sp, "", 0) == 0);
    CHECK(spool_header(&sp, "From", v, sizeof v) == -1);
    CHECK(header_sender(HEADER_SENDER_MBOX, spool_field, &sp, v, sizeof v) == 13);
    CHECK_STR(v, "MAILER-DAEMON");
    CHECK(header_sender(HEADER_SENDER_MDA, spool_field, &sp, v, sizeof v) == 0);
    spool_close(&sp);
    free(m.p);
}

TEST(spool_sender_for_mbox_and_mda)
{
    struct spool sp;
    char v[HEADER_SENDER_MAX + 1];
    static const char both[] = "From: Bob <bob@example.org>\nReturn-Path: <rp@example.org>\n\n";
    static const char from_only[] = "From: Bob <bob@example.org>\n\nReturn-Path: <no@x>\n";
    static const char null_rp[] = "Return-Path: <>\nFrom: daemon@example.org\n\n";

    CHECK(spool_with(&sp, both, sizeof both - 1) == 0);
    CHECK(header_sender(HEADER_SENDER_MBOX, spool_field, &sp, v, sizeof v) > 0);
    CHECK_STR(v, "rp@example.org");
    CHECK(header_sender(HEADER_SENDER_MDA, spool_field, &sp, v, sizeof v) > 0);
    CHECK_STR(v, "rp@example.org");
    spool_close(&sp);

    CHECK(spool_with(&sp, from_only, sizeof from_only - 1) == 0);
    header_sender(HEADER_SENDER_MBOX, spool_field, &sp, v, sizeof v);
    CHECK_STR(v, "MAILER-DAEMON");
    header_sender(HEADER_SENDER_MDA, spool_field, &sp, v, sizeof v);
    CHECK_STR(v, "bob@example.org");
    spool_close(&sp);

    CHECK(spool_with(&sp, null_rp, sizeof null_rp - 1) == 0);
    header_sender(HEADER_SENDER_MBOX, spool_field, &sp, v, sizeof v);
    CHECK_STR(v, "MAILER-DAEMON");
    CHECK(header_sender(HEADER_SENDER_MDA, spool_field, &sp, v, sizeof v) == 0);
    CHECK_STR(v, "");
    spool_close(&sp);
}

TEST(spool_round_trip_and_reset)
{
    struct spool sp;
    struct err e;
    struct bytes m = {0}, back = {0};
    unsigned char buf[1000];
    ssize_t n;

    for (int i = 0; i < 300000; i++) b_add(&m, &(unsigned char){(unsigned char)(i * 7)}, 1);
    CHECK(spool_open(&sp, NULL, &e) == 0);
    for (size_t off = 0; off < m.len; off += 333)
        CHECK(spool_write(&sp, m.p + off, m.len - off < 333 ? m.len - off : 333, &e) == 0);
    CHECK(spool_write(&sp, m.p, 0, &e) == 0);
    CHECK(spool_size(&sp) == m.len);
    CHECK(spool_rewind(&sp, &e) == 0);
    while ((n = spool_read(&sp, buf, sizeof buf, &e)) > 0) b_add(&back, buf, (size_t)n);
    CHECK(n == 0);
    CHECK_MEM(back.p, back.len, m.p, m.len);
    CHECK(spool_reset(&sp, &e) == 0 && spool_size(&sp) == 0);
    CHECK(spool_write(&sp, "abc", 3, &e) == 0 && spool_rewind(&sp, &e) == 0);
    CHECK(spool_read(&sp, buf, sizeof buf, &e) == 3 && !memcmp(buf, "abc", 3));
    spool_close(&sp);
    CHECK(spool_open(&sp, "/nonexistent/dir", &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "/nonexistent/dir"));
    spool_close(&sp);
    free(m.p);
    free(back.p);
}
