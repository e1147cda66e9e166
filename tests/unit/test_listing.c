/* Unit tests for listing.c: STAT, LIST and UIDL read from a socket pair,
 * the table's growth and the ceilings. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "listing.h"
#include "unit.h"

/* listing_uidl_of()'s buffer in the checks below */
static char ub[LISTING_UIDL_BUF];

/* A connection whose server has sent `wire` and closed its side. */
struct wire {
    struct net_conn net;
    struct pop3 pop;
    int peer;
};

static int wire_open(struct wire *w, const char *wire)
{
    int sv[2];
    size_t len = strlen(wire);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return -1;
    if (write(sv[1], wire, len) != (ssize_t)len) return -1;
    shutdown(sv[1], SHUT_WR);
    net_init(&w->net);
    w->net.fd = sv[0];
    w->net.rbuf = malloc(NET_RBUF_SIZE);
    w->net.timeout_ms = 2000;
    snprintf(w->net.host, sizeof w->net.host, "pop.test");
    w->peer = sv[1];
    pop3_init(&w->pop, &w->net);
    return w->net.rbuf ? 0 : -1;
}

static void wire_close(struct wire *w)
{
    net_close(&w->net);
    close(w->peer);
}

/* "+OK\r\n1 PREFIX1\r\n2 PREFIX2\r\n...N PREFIXN\r\n.\r\n" in a fresh buffer. */
static char *numbered(unsigned long n, const char *prefix)
{
    size_t cap = 16 + n * (strlen(prefix) + 24), len = 0;
    char *s = malloc(cap);

    if (!s) return NULL;
    len += (size_t)snprintf(s, cap, "+OK\r\n");
    for (unsigned long i = 1; i <= n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%lu %s%lu\r\n", i, prefix, i);
    snprintf(s + len, cap - len, ".\r\n");
    return s;
}

TEST(listing_stat_allocates_nothing_for_its_claim)
{
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(wire_open(&w, "+OK 1999999 100\r\n+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(l.count == 1999999 && l.total == 100);
    CHECK(l.cap == 0 && l.plan == NULL);
    /* the listing decides: message 4 is missing */
    CHECK(listing_list(&l, 1, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "left message 4 out of LIST"));
    CHECK(l.cap <= 1024);
    CHECK(plan_item_size(&l.plan[0]) == 10 && plan_item_size(&l.plan[2]) == 30);
    listing_free(&l);
    wire_close(&w);
}

TEST(listing_stat_ceiling)
{
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(wire_open(&w, "+OK 6 0\r\n+OK 5 0\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(l.max_messages == LISTING_MAX_MESSAGES && LISTING_MAX_MESSAGES == 2000000);
    l.max_messages = 5;
    CHECK(listing_stat(&l, 1, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "claims 6 messages") &&
          strstr(e.msg, "(at most 5)"));
    CHECK(listing_stat(&l, 1, &e) == 0 && l.count == 5);
    listing_free(&l);
    wire_close(&w);
}

/* A listing in order grows the table by doubling, up to STAT's count. */
TEST(listing_grows_to_what_the_listing_names)
{
    char *list = numbered(5000, ""), *uidl = numbered(5000, "uid-"), *all;
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(list && uidl && (all = malloc(strlen(list) + strlen(uidl) + 32)));
    snprintf(all, strlen(list) + strlen(uidl) + 32, "+OK 5000 0\r\n%s%s", list, uidl);
    CHECK(wire_open(&w, all) == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(listing_list(&l, 1, &e) == 0);
    CHECK(l.cap == 5000);
    CHECK(plan_item_size(&l.plan[0]) == 1 && plan_item_size(&l.plan[4999]) == 5000 &&
          (l.plan[4999].flags & PLAN_HAVE_SIZE));
    CHECK(listing_uidl(&l, 1, &e) == 0 && l.have_uidl);
    CHECK_STR(listing_uidl_of(&l, 0, ub), "uid-1");
    CHECK_STR(listing_uidl_of(&l, 4999, ub), "uid-5000");
    CHECK(listing_cover(&l, &e) == 0 && l.cap == 5000);
    listing_free(&l);
    wire_close(&w);
    free(list);
    free(uidl);
    free(all);
}

/* Out of order, the highest number named sizes the table (never past
 * STAT's count); repeats and numbers past the count are refused. */
TEST(listing_out_of_order_and_impossible_lines)
{
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(wire_open(&w, "+OK 3000 0\r\n+OK\r\n3000 a\r\n1 b\r\n1 c\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(listing_uidl(&l, 1, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "impossible UIDL line: \"1 c\""));
    CHECK(l.cap == 3000);
    CHECK_STR(listing_uidl_of(&l, 2999, ub), "a");
    listing_free(&l);
    wire_close(&w);

    CHECK(wire_open(&w, "+OK 2 0\r\n+OK\r\n1 10\r\n3 30\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(listing_list(&l, 1, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "impossible LIST line: \"3 30\""));
    CHECK(l.cap <= 2);
    listing_free(&l);
    wire_close(&w);
}

TEST(listing_uidl_pool_ceiling)
{
    struct wire w;
    struct listing l;
    struct err e;

    /* 9 bytes per UIDL with its NUL: two fit in 20 bytes, three do not */
    CHECK(wire_open(&w, "+OK 3 0\r\n+OK\r\n1 aaaaaaaa\r\n2 bbbbbbbb\r\n3 cccccccc\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(l.max_pool == LISTING_MAX_POOL && LISTING_MAX_POOL == (size_t)256 << 20);
    l.max_pool = 20;
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(listing_uidl(&l, 1, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "UIDL listing") &&
          strstr(e.msg, "more than popfetch handles"));
    CHECK(l.pool_len == 18 && l.pool_cap <= 20);
    CHECK_STR(listing_uidl_of(&l, 1, ub), "bbbbbbbb");
    listing_free(&l);
    wire_close(&w);
}

/* Without LIST and UIDL, STAT's count is all there is: listing_cover
 * sizes the table by it. LIST n fills one size. */
TEST(listing_cover_and_list_one)
{
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(wire_open(&w, "+OK 7 0\r\n+OK 5 500\r\n-ERR no such message\r\n+OK 4 40\r\n") == 0);
    listing_init(&l, &w.pop, NULL);
    CHECK(listing_stat(&l, 1, &e) == 0 && l.cap == 0);
    CHECK(listing_cover(&l, &e) == 0 && l.cap == 7);
    CHECK(listing_list_one(&l, 4, &e) == 0 && (l.plan[4].flags & PLAN_HAVE_SIZE) &&
          plan_item_size(&l.plan[4]) == 500);
    CHECK(listing_list_one(&l, 5, &e) == 0 &&
          !(l.plan[5].flags & PLAN_HAVE_SIZE)); /* refused: unknown */
    CHECK(listing_list_one(&l, 6, &e) < 0);     /* "4 40" for LIST 7 */
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "impossible LIST line: \"4 40\""));
    listing_free(&l);
    wire_close(&w);
}

/* Each UIDL is looked up in the state as it arrives, and the entry is
 * marked listed: a prune keeps it, and drops what the server no longer has. */
TEST(listing_recalls_the_state)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_add(st, "seen", 4, STATE_DELIVERED, 1000, NULL, &e) == 0);
    CHECK(state_add(st, "big", 3, STATE_SKIPPED, 2000, NULL, &e) == 0);
    CHECK(state_add(st, "gone", 4, STATE_DELIVERED, 500, NULL, &e) == 0);
    CHECK(state_compact(st, 0, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0); /* nothing marked listed yet */
    CHECK(wire_open(&w, "+OK 3 0\r\n+OK\r\n1 new\r\n2 seen\r\n3 big\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, st);
    CHECK(listing_stat(&l, 1, &e) == 0 && listing_uidl(&l, 1, &e) == 0);
    CHECK(!(l.plan[0].flags & (PLAN_SEEN | PLAN_REPORTED_BIG)));
    CHECK((l.plan[1].flags & PLAN_SEEN) && listing_first_seen(&l, 1) == 1000);
    CHECK(!(l.plan[2].flags & PLAN_SEEN) && (l.plan[2].flags & PLAN_REPORTED_BIG));
    listing_free(&l);
    wire_close(&w);
    CHECK(state_compact(st, 1, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_lookup(st, "seen", 4) && state_lookup(st, "big", 3));
    CHECK(!state_lookup(st, "gone", 4) && state_count(st) == 2);
    state_close(st);
}

/* Issue 20: a UIDL the seen-state holds is not copied into the listing's
 * pool (300,000 seen messages would keep two copies of every UIDL); the
 * message names the state's copy, which stays right when state_add() moves
 * the state's memory, and only the new UIDLs take pool space. */
TEST(listing_names_the_states_copy_of_a_seen_uidl)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;
    char u[32], *uidl, *wire;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    for (int i = 1; i <= 3000; i++) {
        int n = snprintf(u, sizeof u, "uid%d", i);
        CHECK(state_add(st, u, (size_t)n, STATE_DELIVERED, 1000 + i, NULL, &e) == 0);
    }
    CHECK(state_commit(st, &e) == 0);
    CHECK((uidl = numbered(3002, "uid")) && (wire = malloc(strlen(uidl) + 32)));
    snprintf(wire, strlen(uidl) + 32, "+OK 3002 0\r\n%s", uidl);
    CHECK(wire_open(&w, wire) == 0);
    free(uidl);
    free(wire);
    listing_init(&l, &w.pop, st);
    CHECK(listing_stat(&l, 1, &e) == 0 && listing_uidl(&l, 1, &e) == 0);
    CHECK(l.pool_len == strlen("uid3001") + 1 + strlen("uid3002") + 1);
    CHECK((l.plan[0].flags & PLAN_SEEN) && listing_first_seen(&l, 0) == 1001);
    CHECK(!(l.plan[3000].flags & PLAN_SEEN));
    /* the state grows (its pool and entries move): the names still hold */
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(u, sizeof u, "more%d", i);
        CHECK(state_add(st, u, (size_t)n, STATE_DELIVERED, 1, NULL, &e) == 0);
    }
    CHECK_STR(listing_uidl_of(&l, 0, ub), "uid1");
    CHECK_STR(listing_uidl_of(&l, 2999, ub), "uid3000");
    CHECK_STR(listing_uidl_of(&l, 3000, ub), "uid3001");
    CHECK_STR(listing_uidl_of(&l, 3001, ub), "uid3002");
    listing_free(&l);
    wire_close(&w);
    state_close(st);
}

/* Bytes malloc has handed out and not taken back (glibc). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* Issue 20: a listing keeps one 12-byte item per message on the server and
 * nothing else for a message the state has seen (no second array, no copy
 * of its UIDL, no copy of its first-seen time): measured by what malloc
 * holds, LIST and UIDL of 20,000 seen messages (24 bytes each before). */
TEST(listing_holds_12_bytes_per_seen_message)
{
    enum { N = 20000 };
    const char *dir = unit_tmpdir();
    char *list = numbered(N, ""), *uidl = numbered(N, "uid"), *all, u[32];
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;
    size_t before, len;
    pid_t pid;
    int sv[2];

    CHECK(list && uidl && (all = malloc(strlen(list) + strlen(uidl) + 32)));
    len =
        (size_t)snprintf(all, strlen(list) + strlen(uidl) + 32, "+OK %d 0\r\n%s%s", N, list, uidl);
    free(list);
    free(uidl);
    CHECK(state_open(&st, dir, "k", &e) == 0);
    for (int i = 1; i <= N; i++) {
        int n = snprintf(u, sizeof u, "uid%d", i);
        CHECK(state_add(st, u, (size_t)n, STATE_DELIVERED, 1000 + i, NULL, &e) == 0);
    }
    CHECK(state_commit(st, &e) == 0);
    /* more than a socket buffer holds: a child writes it */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK((pid = fork()) >= 0);
    if (pid == 0) {
        close(sv[0]);
        _exit(write(sv[1], all, len) == (ssize_t)len ? 0 : 1);
    }
    close(sv[1]);
    free(all);
    net_init(&w.net);
    w.net.fd = sv[0];
    w.net.rbuf = malloc(NET_RBUF_SIZE);
    w.net.timeout_ms = 5000;
    w.peer = -1;
    snprintf(w.net.host, sizeof w.net.host, "pop.test");
    pop3_init(&w.pop, &w.net);
    CHECK(w.net.rbuf != NULL);
    before = heap_in_use();
    listing_init(&l, &w.pop, st);
    CHECK(listing_stat(&l, 1, &e) == 0 && l.count == N);
    CHECK(listing_list(&l, 1, &e) == 0 && listing_uidl(&l, 1, &e) == 0);
    CHECK(l.pool_len == 0 && listing_first_seen(&l, N - 1) == 1000 + N);
    CHECK(heap_in_use() - before <= (size_t)N * 12 + 4096);
    listing_free(&l);
    net_close(&w.net);
    CHECK(waitpid(pid, NULL, 0) == pid);
    state_close(st);
}

/* Issue 20: the first run keeps each new UIDL once: the listing stashes it
 * in the state's memory (no pool of its own), and the delivery's
 * state_add() records that very copy. */
TEST(listing_new_uidl_is_kept_once)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_add(st, "old", 3, STATE_DELIVERED, 5, NULL, &e) == 0);
    CHECK(wire_open(&w, "+OK 3 0\r\n+OK\r\n1 new-a\r\n2 old\r\n3 new-b\r\n.\r\n") == 0);
    listing_init(&l, &w.pop, st);
    CHECK(listing_stat(&l, 1, &e) == 0 && listing_uidl(&l, 1, &e) == 0);
    CHECK(l.pool == NULL && l.pool_len == strlen("new-a") + 1 + strlen("new-b") + 1);
    /* "old" (4 bytes encoded), then the two stashed (6 bytes each) */
    CHECK(state_pool_bytes(st) == 4 + 6 + 6);
    for (unsigned long i = 0; i < 3; i++)
        CHECK(listing_record(&l, i, STATE_DELIVERED, 10, NULL, &e) == 0);
    CHECK(state_count(st) == 3);
    CHECK(state_pool_bytes(st) == 4 + 6 + 6); /* recorded, not copied */
    CHECK_STR(state_uidl(st, state_lookup(st, "new-a", 5), ub), "new-a");
    CHECK_STR(state_uidl(st, state_lookup(st, "new-b", 5), ub), "new-b");
    CHECK_STR(listing_uidl_of(&l, 0, ub), "new-a");
    CHECK_STR(listing_uidl_of(&l, 1, ub), "old");
    listing_free(&l);
    wire_close(&w);
    state_close(st);
}

/* Issue 20: under keep on (leave_seen), a UIDL listing keeps an item only
 * for a message the run may act on (new, or skipped before: max_size may
 * have changed), out of order or not; a message delivered before is left
 * as its line arrives, marked listed (a prune keeps it), with no item.
 * Every message 1..count is still named exactly once. */
TEST(listing_sparse_keeps_items_only_for_messages_to_act_on)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;
    char u[32], *wire;
    size_t cap = 64 * 3010, len = 0;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    for (int i = 1; i <= 3000; i++) {
        int n = snprintf(u, sizeof u, "%016X", i);
        CHECK(state_add(st, u, (size_t)n, STATE_DELIVERED, 1000, NULL, &e) == 0);
    }
    CHECK(state_add(st, "big", 3, STATE_SKIPPED, 1000, NULL, &e) == 0);
    CHECK(state_add(st, "gone", 4, STATE_DELIVERED, 1000, NULL, &e) == 0);
    CHECK(state_compact(st, 0, &e) == 0);
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0); /* nothing marked listed yet */
    CHECK((wire = malloc(cap)) != NULL);
    len += (size_t)snprintf(wire + len, cap - len, "+OK 3003 0\r\n+OK\r\n3003 new-b\r\n");
    for (int i = 1; i <= 3000; i++)
        len += (size_t)snprintf(wire + len, cap - len, "%d %016X\r\n", i, i);
    snprintf(wire + len, cap - len, "3002 big\r\n3001 new-a\r\n.\r\n");
    CHECK(wire_open(&w, wire) == 0);
    free(wire);
    listing_init(&l, &w.pop, st);
    l.leave_seen = 1;
    CHECK(listing_stat(&l, 1, &e) == 0 && listing_uidl(&l, 1, &e) == 0 && l.have_uidl);
    CHECK(listing_cover(&l, &e) == 0);
    CHECK(listing_items(&l) == 3 && listing_left(&l) == 3000 && l.icap <= 64);
    CHECK(listing_index(&l, 0) == 3000 && listing_index(&l, 1) == 3001 &&
          listing_index(&l, 2) == 3002);
    CHECK(listing_item(&l, 0) == NULL && listing_item(&l, 2999) == NULL);
    CHECK(listing_action(&l, 0) == PLAN_LEAVE && !listing_uidl_of(&l, 0, ub));
    CHECK_STR(listing_uidl_of(&l, 3000, ub), "new-a");
    CHECK_STR(listing_uidl_of(&l, 3001, ub), "big");
    CHECK((listing_item(&l, 3001)->flags & PLAN_REPORTED_BIG) &&
          !(listing_item(&l, 3001)->flags & PLAN_SEEN));
    CHECK_STR(listing_uidl_of(&l, 3002, ub), "new-b");
    listing_free(&l);
    wire_close(&w);
    CHECK(state_compact(st, 1, &e) == 0); /* the left ones were listed: kept */
    state_close(st);
    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_count(st) == 3001 && state_lookup(st, "0000000000000BB8", 16) &&
          !state_lookup(st, "gone", 4));
    state_close(st);
}

/* The contract holds sparse too: a repeated number (of a message left) or
 * a missing one is refused. */
TEST(listing_sparse_refuses_repeats_and_gaps)
{
    const char *dir = unit_tmpdir();
    static const char *const wires[] = {
        "+OK 3 0\r\n+OK\r\n1 old\r\n2 new\r\n1 old\r\n3 x\r\n.\r\n",
        "+OK 3 0\r\n+OK\r\n1 old\r\n3 new\r\n.\r\n",
        "+OK 3 0\r\n+OK\r\n1 new\r\n2 old\r\n3 new2\r\n3 old\r\n.\r\n",
    };
    struct state *st;
    struct err e;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_add(st, "old", 3, STATE_DELIVERED, 1000, NULL, &e) == 0);
    for (size_t k = 0; k < sizeof wires / sizeof wires[0]; k++) {
        struct wire w;
        struct listing l;
        CHECK(wire_open(&w, wires[k]) == 0);
        listing_init(&l, &w.pop, st);
        l.leave_seen = 1;
        CHECK(listing_stat(&l, 1, &e) == 0);
        CHECK(listing_uidl(&l, 1, &e) == -1 && e.kind == ERR_PROTOCOL);
        listing_free(&l);
        wire_close(&w);
    }
    state_close(st);
}

/* Sparse, a UIDL refused at the pool's ceiling leaves the table as it was:
 * no item for that message (the fuzzer found one without a UIDL). */
TEST(listing_sparse_uidl_over_the_pool_ceiling_adds_no_item)
{
    const char *dir = unit_tmpdir();
    struct state *st;
    struct wire w;
    struct listing l;
    struct err e;

    CHECK(state_open(&st, dir, "k", &e) == 0);
    CHECK(state_add(st, "old", 3, STATE_DELIVERED, 1000, NULL, &e) == 0);
    CHECK(wire_open(&w, "+OK 3 0\r\n+OK\r\n1 old\r\n2 new\r\n3 a-much-longer-unique-id\r\n.\r\n") ==
          0);
    listing_init(&l, &w.pop, st);
    l.leave_seen = 1;
    l.max_pool = 10; /* "new" fits, the third does not */
    CHECK(listing_stat(&l, 1, &e) == 0);
    CHECK(listing_uidl(&l, 1, &e) == -1 && e.kind == ERR_PROTOCOL &&
          strstr(e.msg, "more than popfetch handles"));
    CHECK(l.sparse && listing_items(&l) == 1 && l.nums[0] == 2);
    CHECK(listing_item(&l, 1)->flags & PLAN_HAVE_UIDL);
    listing_free(&l);
    wire_close(&w);
    state_close(st);
}
