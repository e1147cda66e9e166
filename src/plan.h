/*
 * plan — which messages to fetch, leave or delete: a pure function of the
 * server's listing, what the state remembers and the account's policy
 * (keep on/off/duration, fetch new/all, max_size, max_messages). No I/O,
 * so every rule is unit-tested on its own.
 */
#ifndef POPFETCH_PLAN_H
#define POPFETCH_PLAN_H

#include <stddef.h>
#include <stdint.h>

enum plan_keep { PLAN_KEEP_OFF, PLAN_KEEP_ON, PLAN_KEEP_FOR };

struct plan_policy {
    int keep;                   /* enum plan_keep */
    uint64_t keep_seconds;      /* for PLAN_KEEP_FOR */
    int fetch_all;              /* fetch messages seen before too */
    uint64_t max_size;          /* 0 = no limit */
    unsigned long max_messages; /* 0 = no limit */
    int64_t now;                /* unix time */
    /* when a seen item (PLAN_SEEN) was first seen (unix time), asked only
     * for PLAN_KEEP_FOR: the caller's lookup (the state's entry), so that
     * no item carries a copy */
    uint32_t (*first_seen)(const void *ctx, size_t i);
    const void *ctx;
};

enum plan_action {
    PLAN_LEAVE,        /* seen before, kept on the server */
    PLAN_FETCH,        /* fetch and keep on the server */
    PLAN_FETCH_DELETE, /* fetch, and delete once durable */
    PLAN_DELETE,       /* seen before and due for deletion */
    PLAN_TOO_BIG,      /* larger than max_size: left on the server */
    PLAN_OVER_LIMIT,   /* beyond max_messages: left for the next run */
};

/* 10 bytes: a listing holds one per message on the server on a first run
 * (300,000 in issue 20's mailboxes), so the listing's own fields (where the
 * UIDL is) live here too rather than in a second array, what the state
 * remembers of a seen message beyond `seen` (when it was first seen) is
 * asked of plan_policy.first_seen instead of copied, and the 32-bit fields
 * are halves (2-byte alignment): read and set them through the functions
 * below. */
#define PLAN_SIZE_MAX UINT32_MAX /* a size held as this is this or more */

enum plan_flag {
    PLAN_SEEN = 1,         /* delivered before (the state says so) */
    PLAN_REPORTED_BIG = 2, /* already reported as too big in an earlier run */
    PLAN_HAVE_SIZE = 4,    /* listing: LIST (or LIST n) gave the size */
    PLAN_IN_STATE = 8,     /* listing: `ref` is a state entry's index */
    PLAN_HAVE_UIDL = 16,   /* listing: UIDL named it (`ref` says where) */
};

struct plan_item {
    uint16_t size16[2]; /* LIST's size, at most PLAN_SIZE_MAX: plan_item_size() */
    uint16_t ref16[2];  /* listing: the UIDL's place (plan ignores it): plan_item_ref() */
    uint8_t flags;      /* enum plan_flag */
    uint8_t action;     /* output: enum plan_action */
};

uint32_t plan_item_size(const struct plan_item *it);
void plan_item_set_size(struct plan_item *it, uint64_t size); /* held as plan_size() */
uint32_t plan_item_ref(const struct plan_item *it);
void plan_item_set_ref(struct plan_item *it, uint32_t ref);

/* A size as an item holds it: sizes of 4 GiB and more (which no POP3
 * server sends for a real message) are held as PLAN_SIZE_MAX, which
 * plan_make() takes as larger than any max_size. */
uint32_t plan_size(uint64_t size);

struct plan_summary {
    unsigned long fetch, delete_only, leave, too_big, over_limit;
};

/* Decide every item's action in listing order. */
void plan_make(const struct plan_policy *p, struct plan_item *items, size_t n,
               struct plan_summary *sum);

/* Does this action fetch? delete (now or after the fetch)? */
int plan_fetches(enum plan_action a);
int plan_deletes(enum plan_action a);

#endif
