/*
 * plan — the pure fetch/keep/delete decision. See plan.h.
 */
#include <string.h>

#include "plan.h"

/* The memory budget per message on the server (plan.h). */
_Static_assert(sizeof(struct plan_item) == 10, "a plan item is 10 bytes");

uint32_t plan_size(uint64_t size)
{
    return size >= PLAN_SIZE_MAX ? PLAN_SIZE_MAX : (uint32_t)size;
}

static uint32_t join(const uint16_t h[2])
{
    return (uint32_t)h[0] | (uint32_t)h[1] << 16;
}

static void split(uint16_t h[2], uint32_t v)
{
    h[0] = (uint16_t)(v & 0xffff);
    h[1] = (uint16_t)(v >> 16);
}

uint32_t plan_item_size(const struct plan_item *it)
{
    return join(it->size16);
}

void plan_item_set_size(struct plan_item *it, uint64_t size)
{
    split(it->size16, plan_size(size));
}

uint32_t plan_item_ref(const struct plan_item *it)
{
    return join(it->ref16);
}

void plan_item_set_ref(struct plan_item *it, uint32_t ref)
{
    split(it->ref16, ref);
}

int plan_fetches(enum plan_action a)
{
    return a == PLAN_FETCH || a == PLAN_FETCH_DELETE;
}

int plan_deletes(enum plan_action a)
{
    return a == PLAN_FETCH_DELETE || a == PLAN_DELETE;
}

static int expired(const struct plan_policy *p, size_t i)
{
    return p->now - p->first_seen(p->ctx, i) >= (int64_t)p->keep_seconds;
}

/* What to do with a message delivered in an earlier run. */
static enum plan_action for_seen(const struct plan_policy *p, size_t i)
{
    if (p->keep == PLAN_KEEP_OFF) return PLAN_DELETE;
    if (p->keep == PLAN_KEEP_FOR && expired(p, i)) return PLAN_DELETE;
    return PLAN_LEAVE;
}

static enum plan_action for_fetch(const struct plan_policy *p, const struct plan_item *it, size_t i)
{
    if (p->keep == PLAN_KEEP_OFF) return PLAN_FETCH_DELETE;
    /* A refetch (-a) of an old message still honours its first-seen age. */
    if (p->keep == PLAN_KEEP_FOR && (it->flags & PLAN_SEEN) && expired(p, i))
        return PLAN_FETCH_DELETE;
    return PLAN_FETCH;
}

void plan_make(const struct plan_policy *p, struct plan_item *items, size_t n,
               struct plan_summary *sum)
{
    unsigned long fetching = 0;

    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < n; i++) {
        struct plan_item *it = &items[i];

        enum plan_action a;

        if ((it->flags & PLAN_SEEN) && !p->fetch_all) {
            a = for_seen(p, i);
        } else if (p->max_size &&
                   (plan_item_size(it) > p->max_size || plan_item_size(it) == PLAN_SIZE_MAX)) {
            a = PLAN_TOO_BIG;
        } else if (p->max_messages && fetching >= p->max_messages) {
            a = PLAN_OVER_LIMIT;
        } else {
            a = for_fetch(p, it, i);
            fetching++;
        }
        it->action = (uint8_t)a;
        switch (a) {
        case PLAN_FETCH:
        case PLAN_FETCH_DELETE:
            sum->fetch++;
            break;
        case PLAN_DELETE:
            sum->delete_only++;
            break;
        case PLAN_LEAVE:
            sum->leave++;
            break;
        case PLAN_TOO_BIG:
            sum->too_big++;
            break;
        case PLAN_OVER_LIMIT:
            sum->over_limit++;
            break;
        }
    }
}
