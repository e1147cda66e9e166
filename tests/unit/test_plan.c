/* Unit tests for the pure fetch/keep/delete planner. */
#include "plan.h"
#include "unit.h"

#define DAY 86400

/* plan_policy.first_seen over an array the test holds (the state's entries
 * in a run); counts the questions. */
static uint32_t seen_at[8];
static int asked;

/* An item of a size with flags, as the listing makes it. */
static struct plan_item item(uint64_t size, uint8_t flags)
{
    struct plan_item it = {.flags = flags};

    plan_item_set_size(&it, size);
    return it;
}

static uint32_t first_seen_of(const void *ctx, size_t i)
{
    (void)ctx;
    asked++;
    return seen_at[i];
}

TEST(plan_delete_mode_fetches_new_and_deletes_seen)
{
    struct plan_policy p = {.keep = PLAN_KEEP_OFF, .now = 1000000};
    struct plan_item it[3] = {item(10, 0), item(10, PLAN_SEEN), item(10, 0)};
    struct plan_summary s;

    plan_make(&p, it, 3, &s);
    CHECK(it[0].action == PLAN_FETCH_DELETE);
    CHECK(it[1].action == PLAN_DELETE);
    CHECK(it[2].action == PLAN_FETCH_DELETE);
    CHECK(s.fetch == 2 && s.delete_only == 1);
}

TEST(plan_keep_on_leaves_seen)
{
    struct plan_policy p = {.keep = PLAN_KEEP_ON, .now = 1000000};
    struct plan_item it[2] = {item(1, PLAN_SEEN), item(1, 0)};
    struct plan_summary s;

    plan_make(&p, it, 2, &s);
    CHECK(it[0].action == PLAN_LEAVE);
    CHECK(it[1].action == PLAN_FETCH);
}

TEST(plan_keep_duration_deletes_only_when_old_enough)
{
    struct plan_policy p = {.keep = PLAN_KEEP_FOR,
                            .keep_seconds = 14 * DAY,
                            .now = 100 * DAY,
                            .first_seen = first_seen_of};
    struct plan_item it[3] = {item(0, PLAN_SEEN), item(0, PLAN_SEEN), item(5, 0)};
    struct plan_summary s;

    seen_at[0] = 100 * DAY - 14 * DAY;
    seen_at[1] = 100 * DAY - 14 * DAY + 1;
    asked = 0;
    plan_make(&p, it, 3, &s);
    CHECK(it[0].action == PLAN_DELETE);
    CHECK(it[1].action == PLAN_LEAVE);
    CHECK(it[2].action == PLAN_FETCH);
    CHECK(asked == 2); /* the new message's time is never asked */
}

TEST(plan_fetch_all_refetches_seen)
{
    struct plan_policy p = {.keep = PLAN_KEEP_ON, .fetch_all = 1, .now = 5};
    struct plan_item it[1] = {item(0, PLAN_SEEN)};
    struct plan_summary s;

    plan_make(&p, it, 1, &s);
    CHECK(it[0].action == PLAN_FETCH);
}

TEST(plan_max_size_and_max_messages)
{
    struct plan_policy p = {.keep = PLAN_KEEP_OFF, .max_size = 100, .max_messages = 2, .now = 5};
    struct plan_item it[5] = {item(50, 0), item(500, 0), item(60, 0), item(70, 0),
                              item(1, PLAN_SEEN)};
    struct plan_summary s;

    plan_make(&p, it, 5, &s);
    CHECK(it[0].action == PLAN_FETCH_DELETE);
    CHECK(it[1].action == PLAN_TOO_BIG);
    CHECK(it[2].action == PLAN_FETCH_DELETE);
    CHECK(it[3].action == PLAN_OVER_LIMIT);
    CHECK(it[4].action == PLAN_DELETE);
    CHECK(s.over_limit == 1 && s.too_big == 1 && s.fetch == 2);
}

/* Issue 20: an item is 10 bytes, so a size is held in 32 bits; one of
 * 4 GiB or more is held as PLAN_SIZE_MAX and counts as too big for any
 * max_size (left on the server and reported, never fetched past the limit). */
TEST(plan_size_held_in_32_bits_is_too_big_when_clamped)
{
    struct plan_policy p = {.keep = PLAN_KEEP_ON, .max_size = (uint64_t)8 << 30, .now = 5};
    struct plan_item it[2] = {item(plan_size((uint64_t)5 << 30), 0), item(plan_size(4096), 0)};
    struct plan_summary s;

    CHECK(sizeof(struct plan_item) == 10);
    CHECK(plan_size(UINT32_MAX - 1) == UINT32_MAX - 1 && plan_size(UINT32_MAX) == PLAN_SIZE_MAX);
    CHECK(plan_item_size(&it[0]) == PLAN_SIZE_MAX && plan_item_size(&it[1]) == 4096);
    plan_make(&p, it, 2, &s);
    CHECK(it[0].action == PLAN_TOO_BIG);
    CHECK(it[1].action == PLAN_FETCH);
    p.max_size = 0; /* no limit: fetched, its real size is what counts */
    plan_make(&p, it, 2, &s);
    CHECK(it[0].action == PLAN_FETCH && s.fetch == 2);
}

TEST(plan_action_predicates)
{
    CHECK(plan_fetches(PLAN_FETCH) && plan_fetches(PLAN_FETCH_DELETE));
    CHECK(!plan_fetches(PLAN_DELETE) && !plan_fetches(PLAN_TOO_BIG));
    CHECK(plan_deletes(PLAN_DELETE) && plan_deletes(PLAN_FETCH_DELETE));
    CHECK(!plan_deletes(PLAN_FETCH) && !plan_deletes(PLAN_LEAVE));
}
