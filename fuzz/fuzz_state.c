/*
 * fuzz_state — the seen-state loader (src/state.h): state_open reading a
 * hostile main file (version 2: "popfetch-state 2", group headers "S TIME"
 * each followed by UIDL lines; version 1: "S TIME UIDL" lines) and
 * journal ("popfetch-journal 1", "S TIME UIDL NAME", intents "I TIME UIDL
 * NOTE", recipient records "R TIME UIDL RCPT"), then a round trip:
 * state_add + state_commit (journal append), state_compact (rewrite of the
 * main file), state_open again.
 *
 * Input: the main file's bytes, optionally followed by "%%JOURNAL%%\n" and
 * the journal's bytes. Files live in a private directory under $TMPDIR (or
 * /tmp), rewritten for every input and removed at exit.
 *
 * Invariants (abort on violation):
 *  - loading fails only with ERR_LOCAL (a file of another format version);
 *  - every loaded entry has a printable UIDL of 1..255 bytes, status D or S,
 *    a time >= 0, and state_lookup finds that very entry; no two entries
 *    share a UIDL; pending names are printable, without '/', and at most
 *    one per line; dropped lines are at most the lines there were;
 *  - 600 records added with state_add (so the hash table grows and
 *    rehashes) leave every loaded entry findable; after state_commit and
 *    state_compact (prune, everything marked listed) the files load again
 *    without error and without dropped lines, to exactly the same entries
 *    (UIDL, status, first-seen time) plus the ones added, and the main
 *    file it wrote is version 2.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "state.h"

#define KEY  "fuzz@pop.example:995"
#define NADD 600 /* records added: past 512, the table grows */

struct snap {
    char uidl[STATE_UIDL_MAX + 1];
    size_t len;
    char status;
    int64_t when;
};

static void put_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n)) {
        perror(path);
        abort();
    }
    close(fd);
}

static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* Intents (journal "I" lines) and recipient records ("R" lines): at most
 * one per line, a printable UIDL, a printable note without '/' (or none). */
static void check_aside(const struct state_intent *in, size_t n, size_t lines)
{

    FUZZ_CHECK(n <= lines);
    for (size_t i = 0; i < n; i++) {
        size_t u = strlen(in[i].uidl), k = strlen(in[i].note);
        FUZZ_CHECK(u >= 1 && u <= STATE_UIDL_MAX && printable(in[i].uidl, u));
        FUZZ_CHECK(k <= 255 && printable(in[i].note, k) && !strchr(in[i].note, '/'));
        FUZZ_CHECK(in[i].when >= 0);
    }
}

static void check_intents(const struct state *s, size_t lines)
{
    size_t n, nr;
    const struct state_intent *in = state_intents(s, &n);
    const struct state_intent *r = state_recipients(s, &nr);

    check_aside(in, n, lines);
    check_aside(r, nr, lines);
}

static void check_loaded(const struct state *s, size_t lines)
{
    size_t nnames;
    char *const *names = state_pending_names(s, &nnames);

    FUZZ_CHECK(state_dropped(s) <= lines);
    for (size_t i = 0; i < state_count(s); i++) {
        const struct state_entry *ent = state_entry_at(s, i);
        char buf[STATE_UIDL_MAX + 1];
        const char *u = state_uidl(s, ent, buf);
        size_t len = strlen(u);

        FUZZ_CHECK(len >= 1 && len <= STATE_UIDL_MAX && printable(u, len));
        FUZZ_CHECK(state_entry_status(ent) == STATE_DELIVERED || state_entry_status(ent) == STATE_SKIPPED);
        FUZZ_CHECK(state_lookup(s, u, len) == ent);
    }
    FUZZ_CHECK(nnames <= lines);
    for (size_t i = 0; i < nnames; i++) {
        size_t n = strlen(names[i]);
        FUZZ_CHECK(n >= 1 && n <= 255 && printable(names[i], n));
        FUZZ_CHECK(!strchr(names[i], '/'));
    }
    check_intents(s, lines);
}

/* The main file a compaction wrote is today's format (state.h). */
static int written_as_version_2(char *path, size_t size, const char *dir)
{
    static const char head[] = "popfetch-state 2\n";
    char buf[sizeof head];
    FILE *f;
    size_t n;

    snprintf(path, size, "%s/%s.state", dir, KEY);
    if (!(f = fopen(path, "r"))) return 0;
    n = fread(buf, 1, sizeof head - 1, f);
    fclose(f);
    return n == sizeof head - 1 && memcmp(buf, head, n) == 0;
}

static void cleanup(const char *dir)
{
    static const char *const ext[] = {".state", ".journal", ".lock", ".state.tmp"};
    char p[1024];

    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(p, sizeof p, "%s/%s%s", dir, KEY, ext[i]);
        unlink(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_tmpdir();
    struct fuzz_field f[2];
    struct state *s;
    struct err e;
    struct snap *snap = NULL;
    size_t nf, lines = 0, nsnap, nnames, nrcpt, nin, nr;
    const struct state_intent *r;
    int had = 0;
    char path[1024];
    const struct state_entry *added;

    nf = fuzz_split(data, size, "%%JOURNAL%%\n", f, 2);
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    cleanup(dir);
    snprintf(path, sizeof path, "%s/%s.state", dir, KEY);
    put_file(path, f[0].p, f[0].len);
    if (nf == 2) {
        snprintf(path, sizeof path, "%s/%s.journal", dir, KEY);
        put_file(path, f[1].p, f[1].len);
    }

    if (state_open(&s, dir, KEY, &e) < 0) {
        FUZZ_CHECK(e.kind == ERR_LOCAL);
        cleanup(dir);
        return 0;
    }
    check_loaded(s, lines + 2);

    /* The round trip. */
    state_recipients(s, &nrcpt);
    nsnap = state_count(s);
    if (nsnap && !(snap = calloc(nsnap, sizeof *snap))) abort();
    for (size_t i = 0; i < nsnap; i++) {
        const struct state_entry *ent = state_entry_at(s, i);
        char buf[STATE_UIDL_MAX + 1];
        const char *u = state_uidl(s, ent, buf);
        snap[i].len = strlen(u);
        memcpy(snap[i].uidl, u, snap[i].len);
        snap[i].status = state_entry_status(ent);
        snap[i].when = state_entry_time(s, ent);
        state_mark_listed(s, ent);
    }
    /* Enough new records to make the hash table grow (and rehash) under
     * the loaded ones; the first carries a Maildir name. */
    for (int i = 0; i < NADD; i++) {
        char u[16];
        snprintf(u, sizeof u, "fuzz-added-%03d", i);
        had += state_lookup(s, u, 14) != NULL;
        FUZZ_CHECK(state_add(s, u, 14, STATE_DELIVERED, 1700000000, i ? NULL : "1.M2P3.host", &e) ==
                   0);
    }
    check_loaded(s, lines + 2);
    for (size_t i = 0; i < nsnap; i++)
        FUZZ_CHECK(state_lookup(s, snap[i].uidl, snap[i].len) != NULL);
    FUZZ_CHECK(state_commit(s, &e) == 0);
    FUZZ_CHECK(state_compact(s, 1, &e) == 0);
    state_close(s);
    FUZZ_CHECK(written_as_version_2(path, sizeof path, dir));

    FUZZ_CHECK(state_open(&s, dir, KEY, &e) == 0);
    state_pending_names(s, &nnames);
    FUZZ_CHECK(state_dropped(s) == 0 && nnames == 0);
    FUZZ_CHECK(state_count(s) == nsnap + NADD - (size_t)had);
    for (int i = 0; i < NADD; i++) {
        char u[16];
        snprintf(u, sizeof u, "fuzz-added-%03d", i);
        added = state_lookup(s, u, 14);
        FUZZ_CHECK(added && state_entry_status(added) == STATE_DELIVERED);
    }
    for (size_t i = 0; i < nsnap; i++) {
        const struct state_entry *ent = state_lookup(s, snap[i].uidl, snap[i].len);
        FUZZ_CHECK(ent != NULL);
        if (snap[i].len == 14 && !memcmp(snap[i].uidl, "fuzz-added-", 11)) continue;
        FUZZ_CHECK(state_entry_status(ent) == snap[i].status && state_entry_time(s, ent) == snap[i].when);
    }
    /* a compaction keeps no intent, and carries over the recipient
     * records of messages not delivered, and only those */
    state_intents(s, &nin);
    FUZZ_CHECK(nin == 0);
    check_loaded(s, nrcpt);
    r = state_recipients(s, &nr);
    for (size_t i = 0; i < nr; i++) {
        const struct state_entry *ent = state_lookup(s, r[i].uidl, strlen(r[i].uidl));
        FUZZ_CHECK(!ent || state_entry_status(ent) != STATE_DELIVERED);
    }
    state_close(s);
    free(snap);
    cleanup(dir);
    return 0;
}
