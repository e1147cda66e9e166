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
};

enum plan_action {
    PLAN_LEAVE,        /* seen before, kept on the server */
    PLAN_FETCH,        /* fetch and keep on the server */
    PLAN_FETCH_DELETE, /* fetch, and delete once durable */
    PLAN_DELETE,       /* seen before and due for deletion */
    PLAN_TOO_BIG,      /* larger than max_size: left on the server */
    PLAN_OVER_LIMIT,   /* beyond max_messages: left for the next run */
};

/* 16 bytes: a listing holds one per message on the server (300,000 in
 * issue 20's mailboxes). */
struct plan_item {
    uint64_t size;
    uint32_t first_seen;  /* when, if seen (unix time, as the state holds it) */
    uint8_t seen;         /* delivered before (state says so) */
    uint8_t reported_big; /* already reported as too big in an earlier run */
    uint8_t action;       /* output: enum plan_action */
};

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
