/*
 * fuzz_listing — src/listing.h, the listing glue as a session sees it:
 * the replies to STAT, LIST, UIDL and LIST n read through pop3.c and
 * net.c from a fake server whose output arrives in pieces of pseudo-random
 * size, into the message table, each UIDL recalled from a small seen-state.
 *
 * Input: byte 0 picks the chunking; byte 1: bit 0 STAT already sent
 * (pipelined) or sent now, bit 1 read LIST, bit 2 read UIDL, bits 3-4 the
 * message ceiling (8, 1000, 100000, LISTING_MAX_MESSAGES), bits 5-6 the
 * UIDL pool ceiling (64 bytes, 4 KiB, 1 MiB, LISTING_MAX_POOL), bit 7 then
 * cover the table and read up to four LIST n answers. Bit 7 of byte 0 sets
 * leave_seen (a UIDL listing without LIST is then sparse). The rest is the
 * server's output.
 *
 * Invariants (abort on violation):
 *  - never ERR_INTERNAL; an accepted STAT count is within the ceiling;
 *  - memory follows what the server sent: the table never holds more than
 *    STAT's count, nor more than max(1024, twice the highest message
 *    number a listing line named); the pool stays within its ceiling;
 *  - a listing accepted whole names every message 1..count: the table
 *    holds exactly count entries, each with its size (LIST) or UIDL;
 *  - every UIDL in the table is 1..255 bytes of %x21-7E, NUL-terminated
 *    inside the pool (or the state's, PLAN_IN_STATE); PLAN_SEEN /
 *    PLAN_REPORTED_BIG match the state; a size is held clamped (plan_size);
 *  - after listing_cover() the table holds count entries;
 *  - sparse: items only for messages not delivered before (never
 *    PLAN_SEEN), numbered within 1..count, each number once, in ascending
 *    order once the UIDL listing was accepted, when every message is an
 *    item or left (items + left == count) and listing_item() finds each.
 */
#include <string.h>

#include "harness.h"
#include "listing.h"

static struct state *st;
static int st_ready;

/* A seen-state that knows a few UIDLs, made once per process. */
static void state_once(void)
{
    struct err e;

    if (st_ready) return;
    if (state_open(&st, fuzz_tmpdir(), "fuzz", &e) < 0 ||
        state_add(st, "uid-1", 5, STATE_DELIVERED, 1000, NULL, &e) < 0 ||
        state_add(st, "a", 1, STATE_DELIVERED, 1000, NULL, &e) < 0 ||
        state_add(st, "uid-2", 5, STATE_SKIPPED, 2000, NULL, &e) < 0 || state_commit(st, &e) < 0) {
        fprintf(stderr, "fuzz: state: %s\n", e.msg);
        abort();
    }
    st_ready = 1;
}

/* The highest message number a listing line named (as the server sent
 * it, a leading dot taken off), whether or not the client accepted it. */
static unsigned long highest;

static void trace(void *ctx, char dir, const char *line, size_t len)
{
    unsigned long n;
    uint64_t size;
    const char *uid;
    size_t ulen;

    (void)ctx;
    if (dir != 'S') return;
    if (len > 0 && line[0] == '.') line++, len--;
    if ((pop3_parse_list_line(line, len, &n, &size) == 0 ||
         pop3_parse_uidl_line(line, len, &n, &uid, &ulen) == 0) &&
        n > highest)
        highest = n;
}

/* covered: listing_cover() sized the table by STAT's count. */
static void check_table(const struct listing *l, int covered)
{
    unsigned long bound = highest * 2 > 1024 ? highest * 2 : 1024;

    FUZZ_CHECK(l->cap <= l->count);
    FUZZ_CHECK(covered || l->cap <= bound);
    FUZZ_CHECK(l->pool_len <= l->max_pool && l->pool_cap <= l->max_pool);
    for (unsigned long i = 0; i < l->cap; i++) {
        const struct plan_item *m = &l->plan[i];
        const struct state_entry *ent;
        const char *u;
        char buf[LISTING_UIDL_BUF];
        uint32_t ref;
        size_t ulen;

        if (l->sparse) {
            FUZZ_CHECK(l->nums[i] >= 1 && l->nums[i] <= l->count && (m->flags & PLAN_HAVE_UIDL));
            FUZZ_CHECK(!(m->flags & PLAN_SEEN));
            if (i) FUZZ_CHECK(l->nums[i] != l->nums[i - 1]);
            if (!l->unsorted && i) FUZZ_CHECK(l->nums[i] > l->nums[i - 1]);
            if (!l->unsorted) FUZZ_CHECK(listing_item(l, listing_index(l, i)) == m);
        }
        if (!(m->flags & PLAN_HAVE_UIDL)) continue;
        ref = plan_item_ref(m);
        /* a UIDL the state holds is named there, any other is in the pool */
        if (m->flags & PLAN_IN_STATE)
            FUZZ_CHECK(ref < state_count(st));
        else if (!l->st)
            FUZZ_CHECK((size_t)ref < l->pool_len && memchr(l->pool + ref, '\0', l->pool_len - ref));
        else /* stashed in the state: counted, no pool of the listing's */
            FUZZ_CHECK(!l->pool);
        if (!l->sparse)
            u = listing_uidl_of(l, i, buf);
        else if (!l->unsorted)
            u = listing_uidl_of(l, listing_index(l, i), buf);
        else if (m->flags & PLAN_IN_STATE)
            u = state_uidl(st, state_entry_at(st, ref), buf);
        else
            u = (state_stashed(st, ref, buf), buf);
        ulen = strlen(u);
        FUZZ_CHECK(ulen >= 1 && ulen <= 255);
        if (!(m->flags & PLAN_IN_STATE)) FUZZ_CHECK(ulen < l->pool_len); /* counted */
        for (size_t k = 0; k < ulen; k++) FUZZ_CHECK(u[k] > 0x20 && u[k] < 0x7f);
        ent = state_lookup(st, u, ulen);
        FUZZ_CHECK(!(m->flags & PLAN_IN_STATE) == (ent == NULL));
        FUZZ_CHECK(!(m->flags & PLAN_SEEN) == !(ent && state_entry_status(ent) == STATE_DELIVERED));
        FUZZ_CHECK(!(m->flags & PLAN_REPORTED_BIG) ==
                   !(ent && state_entry_status(ent) == STATE_SKIPPED));
        if (m->flags & PLAN_SEEN) FUZZ_CHECK(listing_first_seen(l, i) == state_entry_time(st, ent));
    }
}

static void check_whole(const struct listing *l, int sizes)
{
    if (l->sparse) {
        unsigned long left = 0;
        FUZZ_CHECK(!sizes && !l->unsorted && l->cap <= l->count);
        for (unsigned long i = 0; i < l->count; i++) {
            const struct plan_item *m = listing_item(l, i);
            char buf[LISTING_UIDL_BUF];
            FUZZ_CHECK(!m == !listing_uidl_of(l, i, buf));
            left += !m;
        }
        FUZZ_CHECK(left == listing_left(l)); /* each item a message of its own */
        return;
    }
    FUZZ_CHECK(l->cap == l->count);
    for (unsigned long i = 0; i < l->count; i++)
        FUZZ_CHECK((l->plan[i].flags & (sizes ? PLAN_HAVE_SIZE : PLAN_HAVE_UIDL)) != 0);
}

static void run(struct listing *l, int flags)
{
    struct err e;

    err_clear(&e);
    if (listing_stat(l, flags & 1, &e) < 0) {
        FUZZ_CHECK(e.kind != ERR_INTERNAL);
        return;
    }
    FUZZ_CHECK(l->count <= l->max_messages && l->cap == 0);
    if (flags & 2) {
        int rc = listing_list(l, 1, &e);
        check_table(l, 0);
        if (rc < 0) {
            FUZZ_CHECK(e.kind != ERR_INTERNAL);
            return;
        }
        check_whole(l, 1);
    }
    if (flags & 4) {
        int rc = listing_uidl(l, 1, &e);
        check_table(l, 0);
        if (rc < 0) {
            FUZZ_CHECK(e.kind != ERR_INTERNAL);
            return;
        }
        if (l->have_uidl) check_whole(l, 0);
    }
    if (!(flags & 128)) return;
    FUZZ_CHECK(listing_cover(l, &e) == 0 && (l->sparse || l->cap == l->count));
    for (unsigned long i = 0; i < l->count && i < 4; i++) {
        const struct plan_item *m = listing_item(l, i);
        int had = m ? m->flags & PLAN_HAVE_SIZE : 0;
        if (listing_list_one(l, i, &e) < 0) {
            FUZZ_CHECK(e.kind != ERR_INTERNAL);
            return;
        }
        FUZZ_CHECK(!m || (m->flags & PLAN_HAVE_SIZE) >= had);
    }
    check_table(l, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned long max_messages[] = {8, 1000, 100000, LISTING_MAX_MESSAGES};
    static const size_t max_pool[] = {64, 4096, 1 << 20, LISTING_MAX_POOL};
    struct fake_server f;
    struct pop3 p;
    struct listing l;
    int flags;

    if (size < 2) return 0;
    flags = data[1];
    state_once();
    if (fake_server_open(&f, data + 2, size - 2, data[0]) < 0) return 0;
    pop3_init(&p, &f.net);
    p.trace = trace;
    highest = 0;
    listing_init(&l, &p, st);
    l.max_messages = max_messages[(flags >> 3) & 3];
    l.max_pool = max_pool[(flags >> 5) & 3];
    l.leave_seen = (data[0] & 0x80) != 0;
    run(&l, flags);
    listing_free(&l);
    fake_server_close(&f);
    return 0;
}
