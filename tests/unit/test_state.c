/* Unit tests for the seen-state store: journal, compaction, damage, lock. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"
#include "unit.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

/* Lines in a file (the journal's header and its records). */
static int lines_in(const char *dir, const char *name)
{
    char p[512];
    FILE *f;
    int c, n = 0;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!(f = fopen(p, "r"))) return -1;
    while ((c = getc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* The file holds exactly `text`. */
static int same_file(const char *dir, const char *name, const char *text)
{
    char p[512], buf[4096];
    FILE *f;
    size_t n;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!(f = fopen(p, "r"))) return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strcmp(buf, text) != 0) fprintf(stderr, "    %s holds:\n%s---\n", name, buf);
    return strcmp(buf, text) == 0;
}

static int exists(const char *dir, const char *name)
{
    char p[512];

    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* fsync(2) as every module in this runner sees it: the real one, except
 * that a test can make the next fsyncs of directories fail with EIO. */
static int dir_fsync_failures, dir_fsyncs;

/* What each regular file held when it was last fsynced (by inode), for
 * tests that ask what a power cut would keep (unit_synced_size, declared
 * where it is used). */
static struct {
    ino_t ino;
    off_t size;
} synced[64];

long long unit_synced_size(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) return -1;
    for (size_t i = 0; i < sizeof synced / sizeof synced[0]; i++)
        if (synced[i].ino == st.st_ino) return (long long)synced[i].size;
    return 0;
}

static void note_synced(const struct stat *st)
{
    size_t i, n = sizeof synced / sizeof synced[0];

    for (i = 0; i < n && synced[i].ino && synced[i].ino != st->st_ino; i++) continue;
    if (i == n) i = (size_t)st->st_ino % n; /* full: forget one */
    synced[i].ino = st->st_ino;
    synced[i].size = st->st_size;
}

int fsync(int fd)
{
    struct stat st;
    int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

    if (!is_dir && S_ISREG(st.st_mode)) note_synced(&st);

    if (is_dir && dir_fsync_failures > 0) {
        dir_fsync_failures--;
        errno = EIO;
        return -1;
    }
    if (is_dir) dir_fsyncs++;
    return (int)syscall(SYS_fsync, fd);
}

TEST(state_new_journal_directory_fsync_is_retried_after_a_failure)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    int before;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_add(s, "uid-1", 5, STATE_DELIVERED, 1000, "f1", &e) == 0);
    dir_fsync_failures = 1;
    CHECK(state_commit(s, &e) < 0); /* the journal's directory entry is not durable */
    before = dir_fsyncs;
    CHECK(state_commit(s, &e) == 0); /* the retry must make it durable */
    CHECK(dir_fsyncs == before + 1);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) != NULL);
    CHECK(state_dropped(s) == 0); /* one header, no damaged line */
    state_close(s);
}

TEST(state_key_escapes_unsafe_bytes)
{
    char k[256];

    state_key(k, sizeof k, "al/ice@pop.example.org");
    CHECK_STR(k, "al%2Fice@pop.example.org");
}

/* An older naming's files are taken over: journal and main file, the
 * old lock removed, the records there once loaded. */
TEST(state_adopt_moves_the_old_files)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "old.state", "popfetch-state 1\nD 1000 uid-1\n");
    write_file(dir, "old.journal", "popfetch-journal 1\nD 1001 uid-2 -\n");
    write_file(dir, "old.lock", "");
    CHECK(state_lock(&s, dir, "new", &e) == 0);
    CHECK(state_adopt(s, "old", &e) == 1);
    CHECK(state_has_file(s));
    CHECK(state_load(s, &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) != NULL);
    CHECK(state_lookup(s, "uid-2", 5) != NULL);
    state_close(s);
    CHECK(exists(dir, "new.state") && exists(dir, "new.journal"));
    CHECK(!exists(dir, "old.state") && !exists(dir, "old.journal") && !exists(dir, "old.lock"));
    /* a second call finds this key's main file: nothing to do */
    write_file(dir, "old.state", "popfetch-state 1\nD 1000 uid-9\n");
    CHECK(state_lock(&s, dir, "new", &e) == 0);
    CHECK(state_adopt(s, "old", &e) == 0);
    state_close(s);
    CHECK(exists(dir, "old.state"));
}

/* --check's view creates nothing: no directory, no lock file; it reads
 * an older naming's files where they are. */
TEST(state_peek_creates_nothing)
{
    const char *dir = unit_tmpdir();
    char sub[512];
    struct state *s = NULL;
    struct err e;

    snprintf(sub, sizeof sub, "%s/none", dir);
    CHECK(state_peek(&s, sub, "k", "old", &e) == 0);
    CHECK(state_load(s, &e) == 0 && state_count(s) == 0);
    state_close(s);
    CHECK(access(sub, F_OK) != 0);
    write_file(dir, "old.state", "popfetch-state 1\nD 1000 uid-1\n");
    CHECK(state_peek(&s, dir, "k", "old", &e) == 0);
    CHECK(state_load(s, &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) != NULL);
    state_close(s);
    CHECK(!exists(dir, "k.lock") && !exists(dir, "old.lock") && exists(dir, "old.state"));
}

/* A crash after the journal moved, before the main file did: the next
 * call moves the main file. */
TEST(state_adopt_finishes_a_move_a_crash_cut_short)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "old.state", "popfetch-state 1\nD 1000 uid-1\n");
    write_file(dir, "new.journal", "popfetch-journal 1\nD 1001 uid-2 -\n");
    CHECK(state_lock(&s, dir, "new", &e) == 0);
    CHECK(state_adopt(s, "old", &e) == 1);
    CHECK(state_load(s, &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) != NULL);
    CHECK(state_lookup(s, "uid-2", 5) != NULL);
    state_close(s);
}

/* Two journals: neither is dropped, nothing moves, the error says why. */
TEST(state_adopt_refuses_two_journals)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "old.journal", "popfetch-journal 1\nD 1001 uid-2 -\n");
    write_file(dir, "new.journal", "popfetch-journal 1\nD 1001 uid-3 -\n");
    CHECK(state_lock(&s, dir, "new", &e) == 0);
    CHECK(state_adopt(s, "old", &e) < 0);
    CHECK(e.kind == ERR_LOCAL);
    CHECK(strstr(e.msg, "old.journal") != NULL);
    state_close(s);
    CHECK(exists(dir, "old.journal") && exists(dir, "new.journal"));
}

/* An older popfetch still running under the old name holds its lock. */
TEST(state_adopt_waits_for_the_old_lock)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    int pfd[2];
    pid_t pid;
    char c;

    write_file(dir, "old.state", "popfetch-state 1\nD 1000 uid-1\n");
    CHECK(pipe(pfd) == 0);
    pid = fork();
    if (pid == 0) {
        struct state *held;
        if (state_lock(&held, dir, "old", &e) < 0) _exit(1);
        if (write(pfd[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    CHECK(read(pfd[0], &c, 1) == 1);
    CHECK(state_lock(&s, dir, "new", &e) == 0);
    CHECK(state_adopt(s, "old", &e) < 0);
    CHECK(e.kind == ERR_LOCKED);
    state_close(s);
    CHECK(exists(dir, "old.state") && !exists(dir, "new.state"));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(state_journal_survives_reopen_then_compacts)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    const struct state_entry *ent;
    char *const *names;
    size_t nnames;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_add(s, "uid-1", 5, STATE_DELIVERED, 1000, "f1", &e) == 0);
    CHECK(state_add(s, "uid-2", 5, STATE_DELIVERED, 2000, NULL, &e) == 0);
    CHECK(state_commit(s, &e) == 0);
    state_close(s);
    CHECK(exists(dir, "k.journal"));

    CHECK(state_open(&s, dir, "k", &e) == 0);
    ent = state_lookup(s, "uid-1", 5);
    CHECK(ent && state_entry_status(ent) == STATE_DELIVERED && state_entry_time(s, ent) == 1000);
    CHECK(state_lookup(s, "uid-2", 5) != NULL);
    CHECK(state_lookup(s, "uid-3", 5) == NULL);
    names = state_pending_names(s, &nnames);
    CHECK(nnames == 1);
    CHECK_STR(names[0], "f1");
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(!exists(dir, "k.journal"));
    CHECK(exists(dir, "k.state"));

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) && state_lookup(s, "uid-2", 5));
    state_pending_names(s, &nnames);
    CHECK(nnames == 0);
    state_close(s);
}

/* state_write(): in the file at once (a kill -9 cannot undo a write()),
 * without a commit; an intent is kept apart, marks nothing seen, is
 * answered by a later D record of its UIDL, and is not folded into the
 * main file; a record of a kind this version does not know is dropped. */
TEST(state_written_records_and_intents)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    const struct state_intent *in;
    const struct state_entry *ent;
    size_t n;
    FILE *f;
    char path[512];

    CHECK(state_open(&s, dir, "w", &e) == 0);
    CHECK(state_intend(s, "uid-1", 5, 100, "mbox:0+42", &e) == 0);
    CHECK(state_add(s, "uid-1", 5, STATE_DELIVERED, 100, NULL, &e) == 0);
    CHECK(state_write(s, &e) == 0);
    CHECK(state_intend(s, "uid-2", 5, 200, "mbox:42+7", &e) == 0);
    CHECK(state_intend(s, "bad", 3, 200, "has/slash", &e) < 0);
    state_close(s); /* no commit: what was written is there all the same */
    snprintf(path, sizeof path, "%s/w.journal", dir);
    CHECK((f = fopen(path, "a")) != NULL);
    fputs("X 300 uid-3 some-future-kind\n", f);
    fclose(f);

    CHECK(state_open(&s, dir, "w", &e) == 0);
    ent = state_lookup(s, "uid-1", 5);
    CHECK(ent && state_entry_status(ent) == STATE_DELIVERED);
    CHECK(state_lookup(s, "uid-2", 5) == NULL); /* an intent is not "seen" */
    CHECK(state_lookup(s, "uid-3", 5) == NULL);
    CHECK(state_dropped(s) == 1);
    in = state_intents(s, &n);
    CHECK(n == 2);
    CHECK_STR(in[0].uidl, "uid-1");
    CHECK_STR(in[0].note, "mbox:0+42");
    CHECK_STR(in[1].uidl, "uid-2");
    CHECK_STR(in[1].note, "mbox:42+7");
    CHECK(in[1].when == 200);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "w", &e) == 0);
    state_intents(s, &n);
    CHECK(n == 0);
    CHECK(state_lookup(s, "uid-1", 5) && !state_lookup(s, "uid-2", 5));
    state_close(s);
}

/* Recipient records (R): written at once, kept apart (nothing "seen"),
 * read back in order, carried into the new journal by a compaction while
 * their message is not delivered, dropped once it is. */
TEST(state_recipient_records_outlive_a_compaction_until_delivered)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    const struct state_intent *r;
    size_t n;

    CHECK(state_open(&s, dir, "r", &e) == 0);
    CHECK(state_got(s, "uid-1", 5, 100, "bob@example.org", &e) == 0);
    CHECK(state_got(s, "uid-2", 5, 110, "carol", &e) == 0);
    CHECK(state_got(s, "uid-2", 5, 120, "x%2Fy", &e) == 0);
    CHECK(state_got(s, "bad", 3, 120, "x/y", &e) < 0);
    state_close(s); /* no commit: written at once */

    CHECK(state_open(&s, dir, "r", &e) == 0);
    CHECK(state_lookup(s, "uid-1", 5) == NULL && state_lookup(s, "uid-2", 5) == NULL);
    CHECK(state_dropped(s) == 0);
    r = state_recipients(s, &n);
    CHECK(n == 3);
    CHECK_STR(r[0].uidl, "uid-1");
    CHECK_STR(r[0].note, "bob@example.org");
    CHECK(r[0].when == 100);
    CHECK_STR(r[2].note, "x%2Fy");
    CHECK(state_add(s, "uid-2", 5, STATE_DELIVERED, 130, NULL, &e) == 0);
    CHECK(state_compact(s, 0, &e) == 0);
    CHECK(lines_in(dir, "r.journal") == 2); /* the header and uid-1's record */
    state_close(s);

    CHECK(state_open(&s, dir, "r", &e) == 0);
    r = state_recipients(s, &n);
    CHECK(n == 1);
    CHECK_STR(r[0].uidl, "uid-1");
    CHECK_STR(r[0].note, "bob@example.org");
    CHECK(state_lookup(s, "uid-2", 5) != NULL);
    state_close(s);
}

/* Found by fuzz_state: a recipient record naming no recipient ("-") was
 * loaded, and the compaction that writes it back then failed for good. */
TEST(state_recipient_record_without_recipient_is_damage)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    size_t n;
    uint32_t off;

    write_file(dir, "r.journal", "popfetch-journal 1\nR 100 uid-1 -\nR 110 uid-2 carol\n");
    CHECK(state_open(&s, dir, "r", &e) == 0);
    state_recipients(s, &n);
    CHECK(n == 1);
    CHECK(state_dropped(s) == 1);
    CHECK(state_stash(s, "uid-2", 5, &off, &e) == 0); /* still on the server */
    CHECK(state_compact(s, 1, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "r", &e) == 0);
    state_recipients(s, &n);
    CHECK(n == 1 && state_dropped(s) == 0);
    state_close(s);
}

/* A prune drops the recipient records of messages no longer on the server
 * (deleted by someone else), by the rule for entries: kept are those of a
 * UIDL in this run's listing (a new one, stashed; or one the state holds,
 * marked listed) and those state_got wrote in this run; without prune all
 * stay. The journal's format is unchanged. */
TEST(state_prune_drops_recipient_records_of_messages_gone)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    const struct state_intent *r;
    size_t n;
    uint32_t off;

    write_file(dir, "p.state", "popfetch-state 2\nS 50\nbig-here\nS 50\nbig-gone\n");
    write_file(dir, "p.journal",
               "popfetch-journal 1\nR 100 gone bob\nR 110 here bob\nR 120 gone carol\n"
               "R 130 big-here bob\nR 140 big-gone bob\n");
    CHECK(state_open(&s, dir, "p", &e) == 0);
    state_recipients(s, &n);
    CHECK(n == 5);
    CHECK(state_compact(s, 0, &e) == 0); /* no complete listing: every record stays */
    state_close(s);
    CHECK(state_open(&s, dir, "p", &e) == 0);
    state_recipients(s, &n);
    CHECK(n == 5);
    CHECK(state_stash(s, "here", 4, &off, &e) == 0);
    state_mark_listed(s, state_lookup(s, "big-here", 8));
    CHECK(state_got(s, "new", 3, 150, "dave", &e) == 0);
    CHECK(state_compact(s, 1, &e) == 0);
    CHECK(lines_in(dir, "p.journal") == 4); /* the header and the three kept */
    state_close(s);
    CHECK(state_open(&s, dir, "p", &e) == 0);
    r = state_recipients(s, &n);
    CHECK(n == 3);
    CHECK_STR(r[0].uidl, "here");
    CHECK(r[0].when == 110);
    CHECK_STR(r[1].uidl, "big-here");
    CHECK_STR(r[2].uidl, "new");
    CHECK_STR(r[2].note, "dave");
    CHECK(state_lookup(s, "big-here", 8) && !state_lookup(s, "big-gone", 8));
    state_close(s);
}

TEST(state_uncommitted_records_are_not_remembered)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_add(s, "u", 1, STATE_DELIVERED, 1, "n", &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "u", 1) == NULL);
    state_close(s);
}

TEST(state_torn_and_garbled_lines_are_dropped_never_trusted)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "k.state",
               "popfetch-state 1\nD 10 good-1\nX 10 bad\nD ten bad2\n"
               "D 10 two words\nD 10 good-2\n");
    write_file(dir, "k.journal", "popfetch-journal 1\nD 20 good-3 name3\nD 20 torn-4 na");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "good-1", 6) && state_lookup(s, "good-2", 6));
    CHECK(state_lookup(s, "good-3", 6));
    CHECK(!state_lookup(s, "torn-4", 6));
    CHECK(!state_lookup(s, "bad", 3));
    CHECK(state_dropped(s) == 4);
    state_close(s);
}

TEST(state_newer_version_is_refused)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "k.state", "popfetch-state 3\nD 10\nx\n");
    CHECK(state_open(&s, dir, "k", &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "another popfetch version"));
    state_close(s);
    /* refused, and left as it was (nothing rewrote or removed it) */
    CHECK(same_file(dir, "k.state", "popfetch-state 3\nD 10\nx\n"));
    CHECK(!exists(dir, "k.state.tmp"));
    write_file(dir, "k.state", "popfetch-state 1\nD 10 x\n");
    write_file(dir, "k.journal", "popfetch-journal 2\nD 10 y z\n");
    CHECK(state_open(&s, dir, "k", &e) < 0);
    CHECK(e.kind == ERR_LOCAL && strstr(e.msg, "another popfetch version"));
    state_close(s);
}

/* Version 1 ("K TIME UIDL" a line) is still read; the first clean run
 * rewrites it (state_settle, even with nothing new) as version 2: the
 * same entries, grouped by status then time, each group in the order the
 * entries were first recorded (state.h). */
TEST(state_version_1_file_is_rewritten_as_version_2)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    const struct state_entry *ent;
    struct err e;

    write_file(dir, "k.state",
               "popfetch-state 1\nD 20 b\nD 10 a\nS 10 s1\nD 10 c\nS 1733500007 s2\n");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 5 && state_dropped(s) == 0);
    CHECK(state_settle(s, 0, &e) == 0);
    state_close(s);
    CHECK(same_file(dir, "k.state",
                    "popfetch-state 2\nD 10\na\nc\nD 20\nb\nS 10\ns1\nS 1733500007\ns2\n"));
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 5 && state_dropped(s) == 0);
    CHECK((ent = state_lookup(s, "a", 1)) && state_entry_status(ent) == STATE_DELIVERED &&
          state_entry_time(s, ent) == 10);
    CHECK((ent = state_lookup(s, "b", 1)) && state_entry_status(ent) == STATE_DELIVERED &&
          state_entry_time(s, ent) == 20);
    CHECK((ent = state_lookup(s, "c", 1)) && state_entry_status(ent) == STATE_DELIVERED &&
          state_entry_time(s, ent) == 10);
    CHECK((ent = state_lookup(s, "s1", 2)) && state_entry_status(ent) == STATE_SKIPPED &&
          state_entry_time(s, ent) == 10);
    CHECK((ent = state_lookup(s, "s2", 2)) && state_entry_status(ent) == STATE_SKIPPED &&
          state_entry_time(s, ent) == 1733500007);
    /* current now: a clean run with nothing new rewrites nothing */
    CHECK(state_settle(s, 0, &e) == 0);
    state_close(s);
    CHECK(same_file(dir, "k.state",
                    "popfetch-state 2\nD 10\na\nc\nD 20\nb\nS 10\ns1\nS 1733500007\ns2\n"));
}

/* A version 2 file loads to its entries, and a compaction that adds one
 * writes the same groups back with the new entry in its own. */
TEST(state_version_2_round_trip)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    const struct state_entry *ent;
    struct err e;

    write_file(dir, "k.state", "popfetch-state 2\nD 1733500000\n0000000167A1B2C3\nu2\nS 5\nu3\n");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 3 && state_dropped(s) == 0);
    CHECK((ent = state_lookup(s, "0000000167A1B2C3", 16)) &&
          state_entry_status(ent) == STATE_DELIVERED && state_entry_time(s, ent) == 1733500000);
    CHECK((ent = state_lookup(s, "u2", 2)) && state_entry_time(s, ent) == 1733500000);
    CHECK((ent = state_lookup(s, "u3", 2)) && state_entry_status(ent) == STATE_SKIPPED &&
          state_entry_time(s, ent) == 5);
    CHECK(state_add(s, "u4", 2, STATE_DELIVERED, 1733500001, "f4", &e) == 0);
    CHECK(state_add(s, "u5", 2, STATE_DELIVERED, 1733500000, NULL, &e) == 0);
    CHECK(state_commit(s, &e) == 0);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(same_file(dir, "k.state",
                    "popfetch-state 2\nD 1733500000\n0000000167A1B2C3\nu2\nu5\n"
                    "D 1733500001\nu4\nS 5\nu3\n"));
    CHECK(!exists(dir, "k.journal"));
}

/* A run adds entries as its clock moves on, so the entries of each status
 * are nearly always in time order already: the writer then goes through
 * them status by status (no sort key per entry) and writes exactly what
 * the sort would, skipped entries interleaved with delivered ones
 * included; pruning keeps only the listed ones. */
TEST(state_entries_in_time_order_are_written_grouped)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_add(s, "d1", 2, STATE_DELIVERED, 100, NULL, &e) == 0);
    CHECK(state_add(s, "s1", 2, STATE_SKIPPED, 100, NULL, &e) == 0);
    CHECK(state_add(s, "d2", 2, STATE_DELIVERED, 100, NULL, &e) == 0);
    CHECK(state_add(s, "s2", 2, STATE_SKIPPED, 150, NULL, &e) == 0);
    CHECK(state_add(s, "d3", 2, STATE_DELIVERED, 200, NULL, &e) == 0);
    CHECK(state_commit(s, &e) == 0);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(same_file(dir, "k.state",
                    "popfetch-state 2\nD 100\nd1\nd2\nD 200\nd3\nS 100\ns1\nS 150\ns2\n"));
    CHECK(state_open(&s, dir, "k", &e) == 0);
    state_mark_listed(s, state_lookup(s, "d2", 2));
    state_mark_listed(s, state_lookup(s, "s2", 2));
    CHECK(state_compact(s, 1, &e) == 0);
    state_close(s);
    CHECK(same_file(dir, "k.state", "popfetch-state 2\nD 100\nd2\nS 150\ns2\n"));
}

/* Damage in a version 2 file: each bad line is dropped and counted, and a
 * UIDL line is trusted only under a header that parsed: not before the
 * first, not under a garbled one (nor a bad status), never with a made-up
 * status or time. */
TEST(state_version_2_damage_is_dropped_never_trusted)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    const struct state_entry *ent;
    struct err e;
    char text[1024];

    snprintf(text, sizeof text,
             "popfetch-state 2\n"
             "orphan\n"                       /* before any header */
             "D 10\ngood-1\n"                 /* fine */
             "D ten\nlost-1\nlost-2\n"        /* a time that is no number */
             "X 10\nlost-3\n"                 /* a status that is none */
             "D 30 x\nlost-4\n"               /* a v1 record is no header */
             "D \nlost-5\n"                   /* no time */
             "S 20\ngood-2\n%0300d\ngood-3\n" /* a UIDL too long: that line only */
             "bad\tuidl\n"                    /* not a printable word (it has no space) */
             "\ngood-4\n"                     /* an empty line */
             "torn",
             0);
    write_file(dir, "k.state", text);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 4);
    CHECK((ent = state_lookup(s, "good-1", 6)) && state_entry_status(ent) == STATE_DELIVERED &&
          state_entry_time(s, ent) == 10);
    CHECK((ent = state_lookup(s, "good-2", 6)) && state_entry_status(ent) == STATE_SKIPPED &&
          state_entry_time(s, ent) == 20);
    CHECK((ent = state_lookup(s, "good-3", 6)) && state_entry_status(ent) == STATE_SKIPPED &&
          state_entry_time(s, ent) == 20);
    CHECK((ent = state_lookup(s, "good-4", 6)) && state_entry_status(ent) == STATE_SKIPPED);
    CHECK(!state_lookup(s, "orphan", 6) && !state_lookup(s, "lost-1", 6));
    CHECK(!state_lookup(s, "lost-3", 6) && !state_lookup(s, "lost-5", 6));
    CHECK(!state_lookup(s, "torn", 4));
    /* orphan; "D ten" lost-1 lost-2; "X 10" lost-3; "D 30 x" lost-4;
     * "D " lost-5; the long UIDL; the tab; the empty line; torn: 14 */
    CHECK(state_dropped(s) == 14);
    state_close(s);
}

/* A line longer than the loader's chunk in a version 2 file may have been
 * a group header: the UIDLs after it are damage until the next header. */
TEST(state_version_2_overlong_line_ends_the_group)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    char p[512];
    FILE *f;

    snprintf(p, sizeof p, "%s/k.state", dir);
    CHECK((f = fopen(p, "w")) != NULL);
    fputs("popfetch-state 2\nD 10\nbefore\n", f);
    for (int i = 0; i < 200000; i++) fputc(i == 100 ? ' ' : 'x', f);
    fputs("\nafter\nD 11\nlater\n", f);
    fclose(f);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "before", 6) && state_lookup(s, "later", 5));
    CHECK(!state_lookup(s, "after", 5));
    CHECK(state_count(s) == 2 && state_dropped(s) == 2);
    state_close(s);
}

TEST(state_prune_drops_only_unlisted)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "k.state", "popfetch-state 1\nD 10 on-server\nD 10 gone\n");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    state_mark_listed(s, state_lookup(s, "on-server", 9));
    CHECK(state_compact(s, 1, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "on-server", 9));
    CHECK(!state_lookup(s, "gone", 4));
    state_close(s);
}

TEST(state_many_entries)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    char u[32];

    CHECK(state_open(&s, dir, "k", &e) == 0);
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(u, sizeof u, "uid%08d", i);
        CHECK(state_add(s, u, (size_t)n, STATE_DELIVERED, i, NULL, &e) == 0);
    }
    CHECK(state_commit(s, &e) == 0);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 20000);
    for (int i = 0; i < 20000; i += 997) {
        int n = snprintf(u, sizeof u, "uid%08d", i);
        CHECK(state_lookup(s, u, (size_t)n) != NULL);
    }
    state_close(s);
}

TEST(state_lock_names_the_holder)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    int pfd[2];
    pid_t pid;
    char c;
    char want[64];

    CHECK(pipe(pfd) == 0);
    pid = fork();
    if (pid == 0) {
        struct state *held;
        if (state_open(&held, dir, "k", &e) < 0) _exit(1);
        if (write(pfd[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    CHECK(read(pfd[0], &c, 1) == 1);
    CHECK(state_open(&s, dir, "k", &e) < 0);
    CHECK(e.kind == ERR_LOCKED);
    snprintf(want, sizeof want, "pid %ld", (long)pid);
    CHECK(strstr(e.msg, want) != NULL);
    state_close(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* a lock left by a dead process is no obstacle */
    CHECK(state_open(&s, dir, "k", &e) == 0);
    state_close(s);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(state_prune_keeps_what_this_run_added)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_add(s, "new-one", 7, STATE_DELIVERED, 5, "n", &e) == 0);
    CHECK(state_compact(s, 1, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_lookup(s, "new-one", 7) != NULL);
    state_close(s);
}

/* n UIDLs "u<first>".."u<first+n-1>" added and committed */
static void add_range(struct state *s, int first, int n)
{
    struct err e;
    char u[32];

    for (int i = first; i < first + n; i++) {
        int len = snprintf(u, sizeof u, "u%d", i);
        CHECK(state_add(s, u, (size_t)len, STATE_DELIVERED, 7, NULL, &e) == 0);
    }
    CHECK(state_commit(s, &e) == 0);
}

static void mark_range(struct state *s, int first, int n)
{
    char u[32];

    for (int i = first; i < first + n; i++) {
        int len = snprintf(u, sizeof u, "u%d", i);
        const struct state_entry *ent = state_lookup(s, u, (size_t)len);
        CHECK(ent != NULL);
        if (ent) state_mark_listed(s, ent);
    }
}

TEST(state_settle_keeps_a_small_journal)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    add_range(s, 0, 4000);
    CHECK(state_settle(s, 1, &e) == 0); /* 4000 in the journal: rewrite */
    state_close(s);
    CHECK(!exists(dir, "k.journal"));

    CHECK(state_open(&s, dir, "k", &e) == 0);
    mark_range(s, 0, 4000);
    add_range(s, 4000, 10);
    CHECK(state_settle(s, 1, &e) == 0); /* 10 more: not worth a rewrite */
    state_close(s);
    CHECK(exists(dir, "k.journal"));
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 4010 && lines_in(dir, "k.journal") == 1 + 10);
    CHECK(state_lookup(s, "u4009", 5) != NULL);
    state_close(s);
}

TEST(state_settle_prunes_once_enough_are_gone)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    CHECK(state_open(&s, dir, "k", &e) == 0);
    add_range(s, 0, 4000);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);

    /* 100 of 4000 gone from the server: kept for now */
    CHECK(state_open(&s, dir, "k", &e) == 0);
    mark_range(s, 100, 3900);
    CHECK(state_settle(s, 1, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 4000);
    /* 1000 gone: pruned; without a complete listing, never */
    mark_range(s, 1000, 3000);
    CHECK(state_settle(s, 0, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 4000);
    mark_range(s, 1000, 3000);
    CHECK(state_settle(s, 1, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 3000 && !state_lookup(s, "u999", 4) && state_lookup(s, "u1000", 5));
    state_close(s);
}

TEST(state_settle_rewrites_a_damaged_journal)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;

    write_file(dir, "k.journal", "popfetch-journal 1\nD 10 ok -\nD 10 torn");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_dropped(s) == 1);
    CHECK(state_settle(s, 0, &e) == 0);
    state_close(s);
    CHECK(!exists(dir, "k.journal"));
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_dropped(s) == 0 && state_lookup(s, "ok", 2) != NULL);
    state_close(s);
}

/* An entry holds its time in 32 bits (issue 20: 12 bytes an entry): a time
 * past 2106 in a state file is clamped, never a reason to drop the line
 * (dropped = fetched again), and the file is written back with it. */
TEST(state_far_future_time_is_clamped_not_dropped)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    const struct state_entry *ent;
    struct err e;

    write_file(dir, "k.state", "popfetch-state 1\nD 99999999999 far\nD 1000 near\n");
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_dropped(s) == 0 && state_count(s) == 2);
    CHECK((ent = state_lookup(s, "far", 3)) && state_entry_status(ent) == STATE_DELIVERED);
    CHECK(state_entry_time(s, ent) == UINT32_MAX);
    CHECK((ent = state_lookup(s, "near", 4)) && state_entry_time(s, ent) == 1000);
    CHECK(state_add(s, "new", 3, STATE_DELIVERED, 1, NULL, &e) == 0);
    CHECK(state_compact(s, 0, &e) == 0);
    state_close(s);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK((ent = state_lookup(s, "far", 3)) && state_entry_time(s, ent) == UINT32_MAX);
    state_close(s);
}

/* The state file is read in chunks (issue 20): records that straddle a
 * chunk's end load whole, a line longer than a chunk is one damaged line
 * (skipped to its end, the records after it kept), and a torn last line
 * is still never trusted. */
TEST(state_loads_in_chunks_line_by_line)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    struct err e;
    char p[512], u[32];
    FILE *f;

    snprintf(p, sizeof p, "%s/k.state", dir);
    CHECK((f = fopen(p, "w")) != NULL);
    fputs("popfetch-state 1\n", f);
    for (int i = 0; i < 6000; i++) fprintf(f, "D %d uid-%07d\n", 1000 + i, i);
    for (int i = 0; i < 200000; i++) fputc('x', f);
    fputc('\n', f);
    for (int i = 6000; i < 12000; i++) fprintf(f, "S %d uid-%07d\n", 1000 + i, i);
    fputs("D 5 torn", f);
    fclose(f);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    CHECK(state_count(s) == 12000 && state_dropped(s) == 2);
    for (int i = 0; i < 12000; i++) {
        const struct state_entry *ent;
        int n = snprintf(u, sizeof u, "uid-%07d", i);
        CHECK((ent = state_lookup(s, u, (size_t)n)) != NULL);
        CHECK(state_entry_time(s, ent) == (uint32_t)(1000 + i));
        CHECK(state_entry_status(ent) == (i < 6000 ? STATE_DELIVERED : STATE_SKIPPED));
    }
    CHECK(!state_lookup(s, "torn", 4));
    state_close(s);
}

/* Issue 20: a UIDL stashed for a new message (the listing's) is the copy
 * state_add_stashed() records: kept once, not twice. The record is whole
 * in the journal and after a compaction, also when the pool moved. */
TEST(state_add_takes_the_stashed_copy)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct err e;
    uint32_t off, off2;
    char u[STATE_UIDL_MAX + 1];

    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_stash(st, "new-uidl-1", 10, &off, &e) == 0);
    CHECK(state_stash(st, "abcdef", 6, &off2, &e) == 0);
    CHECK(state_stashed(st, off, u) == 10);
    CHECK_STR(u, "new-uidl-1");
    CHECK(state_pool_bytes(st) == 11 + 4); /* as text with its length; 6 hex digits in 3 */
    CHECK(state_add_stashed(st, off, STATE_DELIVERED, 1000, NULL, &e) == 0);
    CHECK(state_pool_bytes(st) == 11 + 4);
    CHECK_STR(state_uidl(st, state_lookup(st, "new-uidl-1", 10), u), "new-uidl-1");
    for (int i = 0; i < 3000; i++) { /* the pool moves many times */
        char w[32];
        int n = snprintf(w, sizeof w, "w%d", i);
        CHECK(state_add_stashed(st, off2, STATE_DELIVERED, 1, NULL, &e) == 0);
        CHECK(state_add(st, w, (size_t)n, STATE_DELIVERED, 1, NULL, &e) == 0);
    }
    CHECK(state_lookup(st, "abcdef", 6) && !state_lookup(st, "abc", 3));
    CHECK(state_count(st) == 3002);
    CHECK(state_commit(st, &e) == 0 && state_compact(st, 0, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_count(st) == 3002 && state_lookup(st, "new-uidl-1", 10) &&
          state_lookup(st, "abcdef", 6) && state_lookup(st, "w2999", 5));
    state_close(st);
}

/* The UIDLs of the encoding's every form and its edges (state.c). */
static const char *const packed[] = {
    "00AB",
    "00ab",
    "0AB",
    "0ab",
    "0",
    "00",
    "12345",
    "0000000167A1B2C3",
    "0000000167a1b2c3",
    "0aB1",
    "0A",
    "0a",
    "g",
    "ABCDEFG",
    /* 64 and 65 digits: the last hex form, then as text */
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
    /* qpopper's MD5, and 70 characters (RFC 1939's longest) */
    "d41d8cd98f00b204e9800998ecf8427e",
    "uidl-of-seventy-characters-uidl-of-seventy-characters-uidl-of-seventy-",
};

static void check_packed(struct state *st, const char *long_hex, const char *long_raw)
{
    char u[STATE_UIDL_MAX + 1];
    size_t n = sizeof packed / sizeof packed[0];

    CHECK(state_count(st) == n + 2);
    for (size_t i = 0; i < n; i++) {
        const struct state_entry *ent = state_lookup(st, packed[i], strlen(packed[i]));
        CHECK(ent != NULL);
        CHECK_STR(state_uidl(st, ent, u), packed[i]);
    }
    CHECK_STR(state_uidl(st, state_lookup(st, long_hex, strlen(long_hex)), u), long_hex);
    CHECK_STR(state_uidl(st, state_lookup(st, long_raw, strlen(long_raw)), u), long_raw);
    /* one case or the other, never mixed; never a prefix or a longer one */
    CHECK(!state_lookup(st, "00Ab", 4) && !state_lookup(st, "000", 3) &&
          !state_lookup(st, "0AB0", 4) && !state_lookup(st, "0000000167A1B2c3", 16));
}

/* Issue 20: hex UIDLs are held two digits a byte, others as they are; each
 * is its own entry and comes back exactly, from memory, from the journal
 * and from a compacted file. */
TEST(state_packed_uidls_round_trip)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct err e;
    char long_hex[201], long_raw[STATE_UIDL_MAX + 1];

    memset(long_hex, 'F', 200);
    long_hex[200] = '\0';
    memset(long_raw, 'x', STATE_UIDL_MAX);
    long_raw[STATE_UIDL_MAX] = '\0';
    CHECK(state_open(&st, dir, "k", &e) == 0);
    for (size_t i = 0; i < sizeof packed / sizeof packed[0]; i++)
        CHECK(state_add(st, packed[i], strlen(packed[i]), STATE_DELIVERED, (int64_t)i, NULL, &e) ==
              0);
    CHECK(state_add(st, long_hex, 200, STATE_SKIPPED, 7, NULL, &e) == 0);
    CHECK(state_add(st, long_raw, STATE_UIDL_MAX, STATE_DELIVERED, 7, NULL, &e) == 0);
    check_packed(st, long_hex, long_raw);
    CHECK(state_commit(st, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0); /* from the journal */
    check_packed(st, long_hex, long_raw);
    CHECK(state_compact(st, 0, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0); /* from the main file */
    check_packed(st, long_hex, long_raw);
    CHECK(state_lookup(st, long_hex, 200) == state_lookup(st, long_hex, 200));
    state_close(st);
}

/* Issue 20: Dovecot's UIDLs (16 hex digits) take 9 bytes each in memory
 * (17 as text with a NUL before). */
TEST(state_dovecot_uidl_takes_nine_bytes)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct err e;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    for (unsigned i = 0; i < 1000; i++) {
        char u[17];
        snprintf(u, sizeof u, "%08X%08X", i + 1, 0x67a1b2c3U);
        CHECK(state_add(st, u, 16, STATE_DELIVERED, 1733500000, NULL, &e) == 0);
    }
    CHECK(state_count(st) == 1000);
    CHECK(state_pool_bytes(st) == 1000 * 9);
    state_close(st);
}

/* Issue 20: an entry is 8 bytes (its time an index into the state's
 * distinct times); every time stays exact, also when each entry has its
 * own, through a merge (the earliest wins, D over S), the journal and a
 * compaction. */
TEST(state_entry_is_eight_bytes_and_keeps_every_time)
{
    const char *dir = unit_tmpdir();
    struct state *s = NULL;
    const struct state_entry *ent;
    struct err e;
    char u[32];

    CHECK(sizeof(struct state_entry) == 8);
    CHECK(state_open(&s, dir, "k", &e) == 0);
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(u, sizeof u, "own-%d", i);
        CHECK(state_add(s, u, (size_t)n, i % 3 ? STATE_DELIVERED : STATE_SKIPPED,
                        1733500000 + (int64_t)i * 7, NULL, &e) == 0);
    }
    CHECK(state_add(s, "m", 1, STATE_SKIPPED, 50, NULL, &e) == 0);
    CHECK(state_add(s, "m", 1, STATE_SKIPPED, 60, NULL, &e) == 0);
    CHECK((ent = state_lookup(s, "m", 1)) && state_entry_time(s, ent) == 50 &&
          state_entry_status(ent) == STATE_SKIPPED);
    CHECK(state_add(s, "m", 1, STATE_DELIVERED, 40, NULL, &e) == 0);
    CHECK(state_add(s, "m", 1, STATE_SKIPPED, 45, NULL, &e) == 0);
    CHECK((ent = state_lookup(s, "m", 1)) && state_entry_time(s, ent) == 40 &&
          state_entry_status(ent) == STATE_DELIVERED);
    CHECK(state_commit(s, &e) == 0);
    for (int pass = 0; pass < 2; pass++) { /* from the journal, then the compacted file */
        state_close(s);
        CHECK(state_open(&s, dir, "k", &e) == 0);
        CHECK(state_count(s) == 20001);
        for (int i = 0; i < 20000; i++) {
            int n = snprintf(u, sizeof u, "own-%d", i);
            CHECK((ent = state_lookup(s, u, (size_t)n)) != NULL);
            CHECK(state_entry_time(s, ent) == (uint32_t)(1733500000 + i * 7));
            CHECK(state_entry_status(ent) == (i % 3 ? STATE_DELIVERED : STATE_SKIPPED));
        }
        CHECK((ent = state_lookup(s, "m", 1)) && state_entry_time(s, ent) == 40 &&
              state_entry_status(ent) == STATE_DELIVERED);
        CHECK(state_compact(s, 0, &e) == 0);
    }
    state_close(s);
}

/* Issue 20: a listing's new messages are announced (state_expect) and the
 * table is sized for them at once, 3/4 full once they are in, not to the
 * next power of two (a first run of 300,000: 1.6 MB, not 2 MiB); every
 * entry is still found, and a loaded file gets a table 3/5 full. */
TEST(state_table_sized_for_what_is_expected)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct err e;
    char u[17];

    CHECK(state_open(&st, dir, "k", &e) == 0);
    state_expect(st, 30000);
    CHECK(state_table_bytes(st) == 40100 * 4);
    for (unsigned i = 0; i < 30000; i++) {
        snprintf(u, sizeof u, "%08X%08X", i + 1, 0x67a1b2c3U);
        CHECK(state_add(st, u, 16, STATE_DELIVERED, 1733500000, NULL, &e) == 0);
    }
    CHECK(state_table_bytes(st) == 40100 * 4); /* never grown */
    for (unsigned i = 0; i < 30000; i++) {
        snprintf(u, sizeof u, "%08X%08X", i + 1, 0x67a1b2c3U);
        CHECK(state_lookup(st, u, 16) != NULL);
    }
    CHECK(!state_lookup(st, "0000753167A1B2C3", 16));
    for (int i = 0; i < 80; i++) { /* past 3/4 of 40,100 slots: doubled */
        int n = snprintf(u, sizeof u, "more-%d", i);
        CHECK(state_add(st, u, (size_t)n, STATE_DELIVERED, 1, NULL, &e) == 0);
    }
    CHECK(state_table_bytes(st) == 80200 * 4 && state_lookup(st, "more-79", 7));
    CHECK(state_commit(st, &e) == 0 && state_compact(st, 0, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_count(st) == 30080 && state_lookup(st, "0000753067A1B2C3", 16));
    /* sized by the file's estimate, 3/5 full: within a tenth of 50,000 */
    CHECK(state_table_bytes(st) >= 45000 * 4 && state_table_bytes(st) <= 56000 * 4);
    state_close(st);
}
