/*
 * listing — STAT, LIST and UIDL as a session sees them. See listing.h.
 */
#include <stdlib.h>
#include <string.h>

#include "listing.h"

void listing_init(struct listing *l, struct pop3 *pop, struct state *st)
{
    memset(l, 0, sizeof *l);
    l->pop = pop;
    l->st = st;
    l->max_messages = LISTING_MAX_MESSAGES;
    l->max_pool = LISTING_MAX_POOL;
}

void listing_free(struct listing *l)
{
    free(l->plan);
    free(l->pool);
    free(l->nums);
    free(l->named);
    l->plan = NULL;
    l->pool = NULL;
    l->nums = NULL;
    l->named = NULL;
    l->cap = l->icap = 0;
    l->named_bytes = 0;
}

unsigned long listing_items(const struct listing *l)
{
    return l->cap;
}

unsigned long listing_left(const struct listing *l)
{
    return l->count > l->cap ? l->count - l->cap : 0;
}

unsigned long listing_index(const struct listing *l, unsigned long k)
{
    return l->sparse ? (unsigned long)l->nums[k] - 1 : k;
}

struct plan_item *listing_item(const struct listing *l, unsigned long i)
{
    unsigned long lo = 0, hi = l->cap;

    if (!l->sparse) return i < l->cap ? &l->plan[i] : NULL;
    while (lo < hi) { /* nums ascending (listing_uidl) */
        unsigned long mid = lo + (hi - lo) / 2;
        if (l->nums[mid] == i + 1) return &l->plan[mid];
        if (l->nums[mid] < i + 1)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

enum plan_action listing_action(const struct listing *l, unsigned long i)
{
    const struct plan_item *it = listing_item(l, i);

    return it ? (enum plan_action)it->action : PLAN_LEAVE;
}

static const char *host(const struct listing *l)
{
    return l->pop->net->host;
}

static int listing_error(struct listing *l, const char *what, const char *line, size_t len,
                         struct err *e)
{
    char shown[120];

    err_quote(shown, sizeof shown, line, len);
    return err_set(e, ERR_PROTOCOL, "%s sent an impossible %s line: \"%s\"", host(l), what, shown);
}

/* The reply to a command already sent (pipelined) or sent now; -ERR is an
 * error naming the command. */
static int answer_to(struct listing *l, const char *cmd, int sent, struct pop3_reply *r,
                     struct err *e)
{
    if (!sent) return pop3_simple(l->pop, cmd, cmd, r, e);
    if (pop3_reply(l->pop, r, e) < 0) return -1;
    return r->status == POP3_OK ? 0 : pop3_fail(l->pop, r, cmd, e);
}

/* Say which listing a read failure (line too long, timeout) hit. */
static int listing_failed(struct err *e, const char *what)
{
    if (e->kind == ERR_PROTOCOL || e->kind == ERR_TIMEOUT || e->kind == ERR_CONNECT)
        err_prefix(e, "reading the %s listing", what);
    return -1;
}

int listing_stat(struct listing *l, int sent, struct err *e)
{
    struct pop3_reply r;
    unsigned long n;
    uint64_t total;

    if (answer_to(l, "STAT", sent, &r, e) < 0) return -1;
    if (pop3_parse_stat(r.text, strlen(r.text), &n, &total) < 0)
        return listing_error(l, "STAT", r.text, strlen(r.text), e);
    if (n > l->max_messages)
        return err_set(e, ERR_PROTOCOL,
                       "%s claims %lu messages, more than popfetch handles (at most %lu)", host(l),
                       n, l->max_messages);
    l->count = n;
    l->total = total;
    return 0;
}

/* The table holds messages 1..n (n <= count) once this returns 0. It
 * doubles (from LISTING_FIRST entries, never past count), so a listing
 * in order costs O(log n) reallocations, and new entries are zero. */
#define LISTING_FIRST 1024UL

static int reserve(struct listing *l, unsigned long n, struct err *e)
{
    unsigned long ncap = l->cap ? l->cap : LISTING_FIRST;
    struct plan_item *p;

    if (n <= l->cap) return 0;
    while (ncap < n) ncap *= 2;
    if (ncap > l->count) ncap = l->count;
    if (!(p = realloc(l->plan, ncap * sizeof *p))) return err_set(e, ERR_INTERNAL, "out of memory");
    l->plan = p;
    memset(l->plan + l->cap, 0, (ncap - l->cap) * sizeof *p);
    l->cap = ncap;
    return 0;
}

int listing_cover(struct listing *l, struct err *e)
{
    return l->sparse ? 0 : reserve(l, l->count, e);
}

/* The first message 1..count that a listing left out (have_size or
 * PLAN_HAVE_UIDL still unset), or 0 if it named them all. */
static unsigned long left_out(const struct listing *l, int sizes)
{
    for (unsigned long i = 0; i < l->count; i++)
        if (i >= l->cap || !(l->plan[i].flags & (sizes ? PLAN_HAVE_SIZE : PLAN_HAVE_UIDL)))
            return i + 1;
    return 0;
}

int listing_list(struct listing *l, int sent, struct err *e)
{
    struct pop3_reply r;
    const char *line;
    size_t len;
    unsigned long missing;
    int rc;

    if (answer_to(l, "LIST", sent, &r, e) < 0) return -1;
    while ((rc = pop3_list_line(l->pop, &line, &len, e)) == 1) {
        unsigned long n;
        uint64_t size;
        if (pop3_parse_list_line(line, len, &n, &size) < 0 || n > l->count)
            return listing_error(l, "LIST", line, len, e);
        if (reserve(l, n, e) < 0) return -1;
        if (l->plan[n - 1].flags & PLAN_HAVE_SIZE) return listing_error(l, "LIST", line, len, e);
        l->plan[n - 1].flags |= PLAN_HAVE_SIZE;
        plan_item_set_size(&l->plan[n - 1], size);
    }
    if (rc < 0) return listing_failed(e, "LIST");
    if ((missing = left_out(l, 1)))
        return err_set(e, ERR_PROTOCOL, "%s left message %lu out of LIST", host(l), missing);
    return 0;
}

/* Keep a UIDL the state does not hold (never past max_pool): in the
 * state's memory (state_stash: a delivery then records that copy rather
 * than a second), or without a state in the listing's own pool (doubling). */
static int pool_add(struct listing *l, const char *uid, size_t len, uint32_t *off, struct err *e)
{
    size_t need = l->pool_len + len + 1;

    if (need > l->max_pool || need > UINT32_MAX)
        return err_set(e, ERR_PROTOCOL,
                       "%s sent more than %zu MiB of unique-ids in its UIDL listing, more than "
                       "popfetch handles",
                       host(l), l->max_pool >> 20);
    if (l->st) {
        if (state_stash(l->st, uid, len, off, e) < 0) return -1;
        l->pool_len = need;
        l->stashed++;
        return 0;
    }
    if (need > l->pool_cap) {
        size_t ncap = l->pool_cap ? l->pool_cap * 2 : 65536;
        char *n;
        while (ncap < need) ncap *= 2;
        if (ncap > l->max_pool) ncap = l->max_pool;
        if (!(n = realloc(l->pool, ncap))) return err_set(e, ERR_INTERNAL, "out of memory");
        l->pool = n;
        l->pool_cap = ncap;
    }
    *off = (uint32_t)l->pool_len;
    memcpy(l->pool + l->pool_len, uid, len);
    l->pool[l->pool_len + len] = '\0';
    l->pool_len += len + 1;
    return 0;
}

const char *listing_uidl_of(const struct listing *l, unsigned long i, char buf[LISTING_UIDL_BUF])
{
    const struct plan_item *m = listing_item(l, i);

    if (!m || !(m->flags & PLAN_HAVE_UIDL)) return NULL;
    if (m->flags & PLAN_IN_STATE)
        return state_uidl(l->st, state_entry_at(l->st, plan_item_ref(m)), buf);
    if (l->st)
        state_stashed(l->st, plan_item_ref(m), buf);
    else /* at most 255 bytes and a NUL (listing_uidl) */
        memcpy(buf, l->pool + plan_item_ref(m), strlen(l->pool + plan_item_ref(m)) + 1);
    return buf;
}

int listing_record(const struct listing *l, unsigned long i, char status, int64_t when,
                   const char *name, struct err *e)
{
    const struct plan_item *m = listing_item(l, i);
    char buf[LISTING_UIDL_BUF];

    if (!m || !(m->flags & PLAN_HAVE_UIDL)) return 0;
    if (!l->st) return err_set(e, ERR_INTERNAL, "no state to record message %lu in", i + 1);
    if (m->flags & PLAN_IN_STATE) {
        const char *u = listing_uidl_of(l, i, buf);
        return state_add(l->st, u, strlen(u), status, when, name, e);
    }
    return state_add_stashed(l->st, plan_item_ref(m), status, when, name, e);
}

uint32_t listing_first_seen(const void *listing, size_t i)
{
    const struct listing *l = listing;

    return state_entry_time(l->st, state_entry_at(l->st, plan_item_ref(&l->plan[i])));
}

/* What the state remembers of a message, looked up as its UIDL arrives
 * (while the rest of the listing is still on its way): its entry (marked
 * listed), or NULL. */
static const struct state_entry *recall(struct listing *l, const char *uid, size_t len)
{
    const struct state_entry *ent;

    if (!l->st || !(ent = state_lookup(l->st, uid, len))) return NULL;
    state_mark_listed(l->st, ent);
    return ent;
}

/* Item m names what the state has of its UIDL (ent), or a copy of it. */
static int keep_uidl(struct listing *l, struct plan_item *m, const struct state_entry *ent,
                     const char *uid, size_t len, struct err *e)
{
    uint32_t ref = 0;

    if (ent) {
        char st = state_entry_status(ent);
        ref = (uint32_t)state_index(l->st, ent);
        m->flags |= PLAN_IN_STATE | (st == STATE_DELIVERED ? PLAN_SEEN : 0) |
                    (st == STATE_SKIPPED ? PLAN_REPORTED_BIG : 0);
    } else if (pool_add(l, uid, len, &ref, e) < 0) {
        return -1;
    }
    plan_item_set_ref(m, ref);
    m->flags |= PLAN_HAVE_UIDL;
    return 0;
}

/* Sparse (listing.h): message n's bit, set; 1 if it was set already. */
static int named_again(struct listing *l, unsigned long n, struct err *e)
{
    size_t byte = (n - 1) / 8, ncap = l->named_bytes ? l->named_bytes : 1024;
    unsigned char bit = (unsigned char)(1u << ((n - 1) % 8)), *p;

    if (byte >= l->named_bytes) {
        while (ncap <= byte) ncap *= 2;
        if (!(p = realloc(l->named, ncap))) return err_set(e, ERR_INTERNAL, "out of memory");
        memset(p + l->named_bytes, 0, ncap - l->named_bytes);
        l->named = p;
        l->named_bytes = ncap;
    }
    if (l->named[byte] & bit) return 1;
    l->named[byte] |= bit;
    return 0;
}

/* Sparse: item it becomes message n's, at the end of the table. */
static int add_item(struct listing *l, unsigned long n, const struct plan_item *it, struct err *e)
{
    if (l->cap == l->icap) {
        unsigned long ncap = l->icap ? l->icap * 2 : 64;
        struct plan_item *p = realloc(l->plan, ncap * sizeof *p);
        uint32_t *q;
        if (p) l->plan = p;
        if (!p || !(q = realloc(l->nums, ncap * sizeof *q)))
            return err_set(e, ERR_INTERNAL, "out of memory");
        l->nums = q;
        l->icap = ncap;
    }
    l->unsorted |= l->cap && l->nums[l->cap - 1] > n;
    l->nums[l->cap] = (uint32_t)n; /* at most LISTING_MAX_MESSAGES */
    l->plan[l->cap++] = *it;
    return 0;
}

/* One UIDL line, message n: dense, into plan[n - 1]; sparse, a message the
 * state has as delivered is left without an item, any other gets one. 1
 * when n was named before (the caller's error). */
static int take_uidl(struct listing *l, unsigned long n, const char *uid, size_t len, struct err *e)
{
    const struct state_entry *ent;
    struct plan_item m = {0};
    int again;

    if (!l->sparse) {
        if (reserve(l, n, e) < 0) return -1;
        if (l->plan[n - 1].flags & PLAN_HAVE_UIDL) return 1;
        return keep_uidl(l, &l->plan[n - 1], recall(l, uid, len), uid, len, e);
    }
    if ((again = named_again(l, n, e)) != 0) return again;
    ent = recall(l, uid, len);
    if (ent && state_entry_status(ent) == STATE_DELIVERED) return 0; /* left: no item */
    /* made whole before it joins the table: a UIDL refused (the pool's
     * ceiling) leaves no item without one */
    if (keep_uidl(l, &m, ent, uid, len, e) < 0) return -1;
    return add_item(l, n, &m, e);
}

static int cmp_num(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Sparse: the items in message order (a server that listed them out of
 * order). */
static int sort_items(struct listing *l, struct err *e)
{
    uint64_t *k;
    struct plan_item *p;

    if (!l->unsorted) return 0;
    k = malloc(l->cap * sizeof *k);
    p = malloc(l->cap * sizeof *p);
    if (!k || !p) {
        free(k);
        free(p);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    for (unsigned long i = 0; i < l->cap; i++) k[i] = (uint64_t)l->nums[i] << 32 | i;
    qsort(k, l->cap, sizeof *k, cmp_num);
    for (unsigned long i = 0; i < l->cap; i++) {
        p[i] = l->plan[k[i] & UINT32_MAX];
        l->nums[i] = (uint32_t)(k[i] >> 32);
    }
    free(k);
    free(l->plan);
    l->plan = p;
    l->icap = l->cap;
    l->unsorted = 0;
    return 0;
}

/* Sparse: the first message 1..count no UIDL line named, or 0. */
static unsigned long unnamed(const struct listing *l)
{
    for (unsigned long i = 0; i < l->count; i++)
        if (i / 8 >= l->named_bytes || !(l->named[i / 8] & (1u << (i % 8)))) return i + 1;
    return 0;
}

int listing_uidl(struct listing *l, int sent, struct err *e)
{
    struct pop3_reply r;
    const char *line, *uid;
    size_t len, uidlen;
    unsigned long missing;
    int rc;

    if ((!sent && pop3_send(l->pop, "UIDL", NULL, e) < 0) || pop3_reply(l->pop, &r, e) < 0)
        return -1;
    if (r.status != POP3_OK) return 0; /* no UIDL: have_uidl stays 0 */
    l->sparse = l->leave_seen && l->st && l->cap == 0;
    while ((rc = pop3_list_line(l->pop, &line, &len, e)) == 1) {
        unsigned long n;
        if (pop3_parse_uidl_line(line, len, &n, &uid, &uidlen) < 0 || n > l->count ||
            uidlen > UINT8_MAX)
            return listing_error(l, "UIDL", line, len, e);
        if ((rc = take_uidl(l, n, uid, uidlen, e)) < 0) return -1;
        if (rc) return listing_error(l, "UIDL", line, len, e);
    }
    if (rc < 0) return listing_failed(e, "UIDL");
    if ((missing = l->sparse ? unnamed(l) : left_out(l, 0)))
        return err_set(e, ERR_PROTOCOL, "%s left message %lu out of UIDL", host(l), missing);
    l->have_uidl = 1;
    if (l->st) state_expect(l->st, l->stashed); /* what the deliveries will add */
    return l->sparse ? sort_items(l, e) : 0;
}

int listing_list_one(struct listing *l, unsigned long i, struct err *e)
{
    struct pop3_reply r;
    struct plan_item *m;
    unsigned long n;
    uint64_t size;

    if (i >= l->count) return err_set(e, ERR_INTERNAL, "LIST %lu of %lu messages", i + 1, l->count);
    if (pop3_reply(l->pop, &r, e) < 0) return -1;
    if (r.status != POP3_OK) return 0;
    if (pop3_parse_list_line(r.text, strlen(r.text), &n, &size) < 0 || n != i + 1)
        return listing_error(l, "LIST", r.text, strlen(r.text), e);
    if (!l->sparse && reserve(l, n, e) < 0) return -1;
    if (!(m = listing_item(l, i))) return 0; /* sparse: a message left (nothing to size) */
    plan_item_set_size(m, size);
    m->flags |= PLAN_HAVE_SIZE;
    return 0;
}
