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
 *  - Each UIDL is looked up in the seen-state as it arrives (while the rest
 *    of the listing is still on its way): plan[i] gets what the state
 *    remembers, and the entry is marked listed.
 *  - Read failures (a line too long, a timeout) say which listing they hit.
 *  - The caller owns the connection: which commands were pipelined ahead
 *    (`sent`) is its business; a command not sent yet is sent here.
 *    Nothing here prints.
 *
 * The table's layout (msgs, plan, pool) is this module's: a session reads
 * it through the fields and listing_uidl_of(), and only this file decides
 * how it is stored and grown.
 */
#ifndef POPFETCH_LISTING_H
#define POPFETCH_LISTING_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "plan.h"
#include "pop3.h"
#include "state.h"

#define LISTING_MAX_MESSAGES 10000000UL

/* A message's UIDL and whether LIST gave its size (the size is in plan). */
struct listing_msg {
    uint32_t uidl_off; /* into the pool */
    uint16_t uidl_len; /* 0 = no UIDL */
    uint8_t have_size; /* LIST (or LIST n) gave it */
};

struct listing {
    struct pop3 *pop;
    struct state *st;    /* the seen-state UIDLs are looked up in; NULL = none */
    unsigned long count; /* messages on the server (STAT) */
    uint64_t total;      /* the mailbox's size (STAT) */
    struct listing_msg *msgs;
    struct plan_item *plan; /* sizes and what the state remembers; plan_make() decides */
    char *pool;             /* UIDLs, each NUL-terminated */
    size_t pool_len, pool_cap;
    int have_uidl; /* UIDL named every message */
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

/* Message index i's UIDL, NUL-terminated, or NULL if it has none. */
static inline const char *listing_uidl_of(const struct listing *l, unsigned long i)
{
    return l->msgs[i].uidl_len ? l->pool + l->msgs[i].uidl_off : NULL;
}

#endif
