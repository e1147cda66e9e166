/*
 * state_bench — micro benchmark of popfetch's seen-state store (src/state.h).
 *
 *   state_bench DIR [ENTRIES [REPS [PER_SECOND]]]
 *                                (defaults: 100000 entries, 5 reps, 1 a second)
 *
 * Built by bench/run against the project's objects (every build/ object but
 * main.o).  DIR must be an empty scratch directory; everything is written
 * under it.  What it measures, each REPS times (median, min, max reported):
 *
 *   record     state_add() of ENTRIES delivered UIDLs with Maildir names,
 *              then one state_commit() (journal write + one fsync)
 *   compact    state_compact(): rewrite the main file, fsync, rename
 *   load       state_open() of a main file holding ENTRIES records
 *   load-jrnl  state_open() of a journal holding ENTRIES records with file
 *              names (what the next run reads after a crash before compaction)
 *   check-hit  a UIDL listing of ENTRIES lines, all already seen: parse each
 *              line (pop3_parse_uidl_line), state_lookup, state_mark_listed,
 *              then plan_make() for keep on — what one run does before its
 *              first RETR
 *   check-new  the same listing against an empty state (every UIDL is new)
 *
 * Output: one line per measurement, tab separated:
 *   name  median_ms  min_ms  max_ms  reps  entries
 * and a last line "rss_kib  N" (peak RSS of this process).
 * UIDLs look like Dovecot's (%08Xu%08Xv, 16 hex digits). Entry i was first
 * seen at 1700000000 + i / PER_SECOND: 1 (the default) gives every entry a
 * second of its own, the worst case for the main file's groups (state.h);
 * a run delivers hundreds a second, so 500 is closer to a real mailbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "plan.h"
#include "pop3.h"
#include "state.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *t, int reps, size_t n)
{
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    printf("%s\t%.3f\t%.3f\t%.3f\t%d\t%zu\n", name, t[reps / 2], t[0], t[reps - 1], reps, n);
    fflush(stdout);
}

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "state_bench: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

static size_t per_second = 1; /* entries first seen in one second */

static void uidl_of(char *buf, size_t i, unsigned validity)
{
    snprintf(buf, 17, "%08X%08X", (unsigned)(i + 1), validity);
}

/* Fill a state directory: ENTRIES records, committed; compacted if asked. */
static void make_state(const char *dir, size_t n, int compact, double *t_record,
                       double *t_compact)
{
    struct state *s;
    struct err e;
    char uidl[32], name[64];
    double t0;

    err_clear(&e);
    if (state_open(&s, dir, "bench", &e) < 0) die("state_open", &e);
    t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        uidl_of(uidl, i, 0x655f1a00u);
        snprintf(name, sizeof name, "1700000000.M%zuP4242.benchhost", i);
        if (state_add(s, uidl, 16, STATE_DELIVERED,
                      1700000000 + (int64_t)(i / per_second), name, &e) < 0)
            die("state_add", &e);
    }
    if (state_commit(s, &e) < 0) die("state_commit", &e);
    if (t_record) *t_record = now_ms() - t0;
    if (compact) {
        t0 = now_ms();
        if (state_compact(s, 0, &e) < 0) die("state_compact", &e);
        if (t_compact) *t_compact = now_ms() - t0;
    }
    state_close(s);
}

/* The listing a server would send for the same UIDLs: "N UIDL" lines. */
static char *make_listing(size_t n, size_t *len)
{
    char *buf = malloc(n * 32 + 1), uidl[32];
    size_t o = 0;

    if (!buf) die("malloc", NULL);
    for (size_t i = 0; i < n; i++) {
        uidl_of(uidl, i, 0x655f1a00u);
        o += (size_t)sprintf(buf + o, "%zu %s\r\n", i + 1, uidl);
    }
    *len = o;
    return buf;
}

/* Open DIR's state and check the listing against it, as a run would. */
static double check_listing(const char *dir, const char *listing, size_t len, size_t n,
                            size_t expect_seen)
{
    struct state *s;
    struct err e;
    struct plan_policy p = {.keep = PLAN_KEEP_ON, .now = 1800000000};
    struct plan_summary sum;
    struct plan_item *items = calloc(n, sizeof *items);
    size_t pos = 0, seen = 0;
    double t0;

    err_clear(&e);
    if (!items) die("calloc", NULL);
    if (state_open(&s, dir, "bench", &e) < 0) die("state_open", &e);
    t0 = now_ms();
    while (pos < len) {
        const char *l = listing + pos, *nl = memchr(l, '\n', len - pos), *uid;
        size_t ll = (size_t)(nl - l), uidlen;
        unsigned long num;
        pos += ll + 1;
        if (ll && l[ll - 1] == '\r') ll--;
        if (pop3_parse_uidl_line(l, ll, &num, &uid, &uidlen) < 0 || num == 0 || num > n)
            die("bad listing line", NULL);
        const struct state_entry *ent = state_lookup(s, uid, uidlen);
        plan_item_set_size(&items[num - 1], 4096);
        if (ent) {
            state_mark_listed(s, ent);
            plan_item_set_ref(&items[num - 1], (uint32_t)state_index(s, ent));
            if (state_entry_status(ent) == STATE_DELIVERED) items[num - 1].flags |= PLAN_SEEN;
            seen++;
        }
    }
    plan_make(&p, items, n, &sum);
    t0 = now_ms() - t0;
    if (seen != expect_seen || sum.fetch != n - expect_seen) {
        fprintf(stderr, "state_bench: expected %zu seen, got %zu (plan fetches %lu)\n",
                expect_seen, seen, sum.fetch);
        exit(1);
    }
    state_close(s);
    free(items);
    return t0;
}

static double load_once(const char *dir, size_t expect)
{
    struct state *s;
    struct err e;
    double t0 = now_ms(), t;

    err_clear(&e);
    if (state_open(&s, dir, "bench", &e) < 0) die("state_open", &e);
    t = now_ms() - t0;
    if (state_count(s) != expect || state_dropped(s)) {
        fprintf(stderr, "state_bench: loaded %zu entries (%u dropped), expected %zu\n",
                state_count(s), state_dropped(s), expect);
        exit(1);
    }
    state_close(s);
    return t;
}

int main(int argc, char **argv)
{
    char main_dir[4096], jrnl_dir[4096], empty_dir[4096], scratch[4096];
    size_t n = 100000, len;
    int reps = 5;
    double *t_rec, *t_cmp, *t_load, *t_jload, *t_hit, *t_new;
    char *listing;
    struct rusage ru;

    if (argc < 2) {
        fprintf(stderr, "usage: state_bench DIR [ENTRIES [REPS [PER_SECOND]]]\n");
        return 2;
    }
    if (argc > 2) n = strtoul(argv[2], NULL, 10);
    if (argc > 3) reps = atoi(argv[3]);
    if (argc > 4) per_second = strtoul(argv[4], NULL, 10);
    if (per_second == 0 || n == 0 || reps < 1 || reps > 1000) return 2;
    t_rec = calloc((size_t)reps, sizeof(double));
    t_cmp = calloc((size_t)reps, sizeof(double));
    t_load = calloc((size_t)reps, sizeof(double));
    t_jload = calloc((size_t)reps, sizeof(double));
    t_hit = calloc((size_t)reps, sizeof(double));
    t_new = calloc((size_t)reps, sizeof(double));
    if (!t_rec || !t_cmp || !t_load || !t_jload || !t_hit || !t_new) return 1;

    snprintf(main_dir, sizeof main_dir, "%s/main", argv[1]);
    snprintf(jrnl_dir, sizeof jrnl_dir, "%s/journal", argv[1]);
    snprintf(empty_dir, sizeof empty_dir, "%s/empty", argv[1]);

    /* record + compact, each rep in a fresh directory */
    for (int r = 0; r < reps; r++) {
        snprintf(scratch, sizeof scratch, "%s/rec%d", argv[1], r);
        make_state(scratch, n, 1, &t_rec[r], &t_cmp[r]);
    }
    report("record", t_rec, reps, n);
    report("compact", t_cmp, reps, n);

    make_state(main_dir, n, 1, NULL, NULL);
    make_state(jrnl_dir, n, 0, NULL, NULL);
    for (int r = 0; r < reps; r++) t_load[r] = load_once(main_dir, n);
    report("load", t_load, reps, n);
    for (int r = 0; r < reps; r++) t_jload[r] = load_once(jrnl_dir, n);
    report("load-jrnl", t_jload, reps, n);

    listing = make_listing(n, &len);
    for (int r = 0; r < reps; r++) t_hit[r] = check_listing(main_dir, listing, len, n, n);
    report("check-hit", t_hit, reps, n);
    for (int r = 0; r < reps; r++) t_new[r] = check_listing(empty_dir, listing, len, n, 0);
    report("check-new", t_new, reps, n);

    getrusage(RUSAGE_SELF, &ru);
    printf("rss_kib\t%ld\n", ru.ru_maxrss);
    free(listing);
    return 0;
}
