/*
 * listing — the server's STAT, LIST and UIDL replies as a session sees
 * them: the table of the messages on the server (number -> size, UIDL, and
 * what the seen-state remembers of it), filled as the listing lines arrive.
 *
 * Contract:
 *  - STAT's count is a claim that the listings must confirm: LIST and UIDL
 *    must each name every message 1..count exactly once. A line that does
 *    not parse, names a number outside 1..count or repeats one is an
 *    ERR_PROTOCOL error quoting the line; so is a listing that leaves a
 *    message out (an incomplete UIDL listing must never be taken for the
 *    mailbox: the state would forget messages still on the server).
 *  - Memory follows what the server really sends, not what it announces:
 *    nothing is allocated for STAT's count. The table grows (doubling, so
 *    without an allocation per line) to the highest message number the
 *    listing lines have named; only listing_cover(), for a session that
 *    reads neither LIST nor UIDL, sizes it by STAT's count.
 *  - Ceilings, whatever the server says: at most max_messages messages
 *    (LISTING_MAX_MESSAGES: a STAT count above it is refused at once) and
 *    max_pool bytes of UIDLs (LISTING_MAX_POOL); beyond either, an
 *    ERR_PROTOCOL error. So a listing costs at most 14 bytes per message
 *    (a 10-byte plan_item, in a sparse table with its 4-byte number, and a
 *    bit) plus the UIDLs: 28 MiB + 256 MiB at the ceilings. A
 *    seen message names the state's copy of its UIDL; a new one's UIDL is
 *    kept once, in the state's memory (state_stash, encoded: 9 bytes for
 *    Dovecot's 16 hex digits), so that its delivery (listing_record)
 *    records that copy; nothing for each seen one. Without a state, the
 *    listing's own pool holds them as text.
 *  - Each UIDL is looked up in the seen-state as it arrives (while the rest
 *    of the listing is still on its way): the message's item gets what the
 *    state remembers, and the entry is marked listed. Once the UIDL listing
 *    is whole, the state is told how many new UIDLs it stashed
 *    (state_expect), so that its table is sized once for the deliveries.
 *  - Items only for what the run acts on (issue 20): with `leave_seen` a
 *    UIDL listing read without LIST is sparse: a message the state has as
 *    delivered is decided "leave" as its line arrives (the state's listed
 *    mark records it was seen) and gets no item; every other message gets
 *    one carrying its number (14 bytes: item and number). A bit per message
 *    still catches a repeated or missing number, so the contract above
 *    holds. A dense table (LIST read, or a policy that needs the old
 *    messages: keep off, keep for a time, fetch all) has an item a
 *    message.
 *  - Read failures (a line too long, a timeout) say which listing they hit.
 *  - The caller owns the connection: which commands were pipelined ahead
 *    (`sent`) is its business; a command not sent yet is sent here.
 *    Nothing here prints.
 *
 * The table's layout (plan, pool) is this module's: a session reads it
 * through the fields, listing_uidl_of() and listing_first_seen(), and only
 * this file decides how it is stored and grown.
 */
#ifndef POPFETCH_LISTING_H
#define POPFETCH_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "plan.h"
#include "pop3.h"
#include "state.h"

/* The ceilings (popfetch(1), SECURITY). Two million messages is nearly
 * seven times the largest mailboxes users keep on a server (300,000:
 * issue 20); 256 MiB of UIDLs holds two million of the longest UIDLs RFC
 * 1939 allows (70 bytes) and 128 bytes each on average. */
#define LISTING_MAX_MESSAGES 2000000UL
#define LISTING_MAX_POOL     ((size_t)256 << 20)

struct listing {
    struct pop3 *pop;
    struct state *st;    /* the seen-state UIDLs are looked up in; NULL = none */
    unsigned long count; /* messages on the server (STAT) */
    uint64_t total;      /* the mailbox's size (STAT) */
    /* [cap]: each message's size, UIDL (ref: state_stashed(), or the pool
     * without a state, or with
     * PLAN_IN_STATE the state entry's index, which state_add() leaves
     * valid: a UIDL the seen-state holds is not copied) and what the state
     * remembers; plan_make() decides. Dense: plan[i] is message i + 1.
     * Sparse: only the messages the run may act on, in message order,
     * nums[k] the number of plan[k]. Read through listing_item(). */
    struct plan_item *plan;
    unsigned long cap; /* items: dense, messages the table holds (1..cap), at most count */
    /* set by the caller before listing_uidl(): the policy leaves every
     * message the state has as delivered (keep on, not fetch-all), so a
     * UIDL listing without LIST is read sparse */
    int leave_seen;
    int sparse, unsorted;
    uint32_t *nums;       /* sparse: plan[k]'s message number */
    unsigned long icap;   /* sparse: items allocated */
    unsigned char *named; /* sparse: a bit per message its UIDL line named */
    size_t named_bytes;
    unsigned long stashed;     /* new UIDLs kept in the state's memory (state_stash) */
    char *pool;                /* UIDLs, each NUL-terminated (without a state) */
    size_t pool_len, pool_cap; /* pool_len: the UIDLs kept, in either place */
    int have_uidl;             /* UIDL named every message */
    /* the ceilings: LISTING_MAX_* (listing_init), lower in tests */
    unsigned long max_messages;
    size_t max_pool;
};

void listing_init(struct listing *l, struct pop3 *pop, struct state *st);
void listing_free(struct listing *l);

/* STAT (already sent when `sent`): count and total. */
int listing_stat(struct listing *l, int sent, struct err *e);

/* LIST (already sent when `sent`): every message's size. */
int listing_list(struct listing *l, int sent, struct err *e);

/* UIDL (already sent when `sent`): every message's UIDL, each recalled
 * from the state as it arrives. A -ERR is not an error: have_uidl stays 0. */
int listing_uidl(struct listing *l, int sent, struct err *e);

/* The answer to a LIST n sent earlier for message index i (n = i + 1): its
 * size. A -ERR leaves the size unknown and is not an error. */
int listing_list_one(struct listing *l, unsigned long i, struct err *e);

/* Make the table hold every message 1..count: after the listings it does
 * already (they named every message); without LIST and UIDL, STAT's count
 * is all there is. Call it before using plan[i] for any
 * i < count. */
int listing_cover(struct listing *l, struct err *e);

/* The items (plan[0..listing_items())), and message index of item k. */
unsigned long listing_items(const struct listing *l);
/* Messages decided "leave" as the listing arrived, without an item (a
 * sparse listing's messages delivered before; 0 for a dense one once
 * covered). */
unsigned long listing_left(const struct listing *l);
unsigned long listing_index(const struct listing *l, unsigned long k);

/* Message index i's item, or NULL: a message a sparse listing left without
 * one (then its action is PLAN_LEAVE), or one past a dense table. */
struct plan_item *listing_item(const struct listing *l, unsigned long i);
enum plan_action listing_action(const struct listing *l, unsigned long i);

/* Message index i's UIDL, decoded into buf (NUL-terminated): buf, or NULL
 * if it has none. The text stays in buf for as long as the caller keeps
 * it: nothing here moves it. */
#define LISTING_UIDL_BUF (STATE_UIDL_MAX + 1)
const char *listing_uidl_of(const struct listing *l, unsigned long i, char buf[LISTING_UIDL_BUF]);

/* Record message index i's UIDL in the state (state_add: status, when,
 * name): a new message's through the copy the listing stashed
 * (state_add_stashed), so it is kept once. 0 without doing anything when
 * it has no UIDL. */
int listing_record(const struct listing *l, unsigned long i, char status, int64_t when,
                   const char *name, struct err *e);

/* When item k (PLAN_SEEN) was first seen, as the state remembers it:
 * plan_policy.first_seen, with the listing as ctx. */
uint32_t listing_first_seen(const void *listing, size_t i);

#endif
