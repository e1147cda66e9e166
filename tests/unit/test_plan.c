/* Unit tests for the pure fetch/keep/delete planner. */
#include "plan.h"
#include "unit.h"

#define DAY 86400

TEST(plan_delete_mode_fetches_new_and_deletes_seen)
{
    struct plan_policy p = {.keep = PLAN_KEEP_OFF, .now = 1000000};
    struct plan_item it[3] = {{.size = 10}, {.size = 10, .seen = 1}, {.size = 10}};
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
    struct plan_item it[2] = {{.size = 1, .seen = 1, .first_seen = 1}, {.size = 1}};
    struct plan_summary s;

    plan_make(&p, it, 2, &s);
    CHECK(it[0].action == PLAN_LEAVE);
    CHECK(it[1].action == PLAN_FETCH);
}

TEST(plan_keep_duration_deletes_only_when_old_enough)
{
    struct plan_policy p = {.keep = PLAN_KEEP_FOR, .keep_seconds = 14 * DAY, .now = 100 * DAY};
    struct plan_item it[3] = {{.seen = 1, .first_seen = 100 * DAY - 14 * DAY},
                              {.seen = 1, .first_seen = 100 * DAY - 14 * DAY + 1},
                              {.size = 5}};
    struct plan_summary s;

    plan_make(&p, it, 3, &s);
    CHECK(it[0].action == PLAN_DELETE);
    CHECK(it[1].action == PLAN_LEAVE);
    CHECK(it[2].action == PLAN_FETCH);
}

TEST(plan_fetch_all_refetches_seen)
{
    struct plan_policy p = {.keep = PLAN_KEEP_ON, .fetch_all = 1, .now = 5};
    struct plan_item it[1] = {{.seen = 1, .first_seen = 1}};
    struct plan_summary s;

    plan_make(&p, it, 1, &s);
    CHECK(it[0].action == PLAN_FETCH);
}

TEST(plan_max_size_and_max_messages)
{
    struct plan_policy p = {.keep = PLAN_KEEP_OFF, .max_size = 100, .max_messages = 2, .now = 5};
    struct plan_item it[5] = {
        {.size = 50}, {.size = 500}, {.size = 60}, {.size = 70}, {.size = 1, .seen = 1}};
    struct plan_summary s;

    plan_make(&p, it, 5, &s);
    CHECK(it[0].action == PLAN_FETCH_DELETE);
    CHECK(it[1].action == PLAN_TOO_BIG);
    CHECK(it[2].action == PLAN_FETCH_DELETE);
    CHECK(it[3].action == PLAN_OVER_LIMIT);
    CHECK(it[4].action == PLAN_DELETE);
    CHECK(s.over_limit == 1 && s.too_big == 1 && s.fetch == 2);
}

TEST(plan_action_predicates)
{
    CHECK(plan_fetches(PLAN_FETCH) && plan_fetches(PLAN_FETCH_DELETE));
    CHECK(!plan_fetches(PLAN_DELETE) && !plan_fetches(PLAN_TOO_BIG));
    CHECK(plan_deletes(PLAN_DELETE) && plan_deletes(PLAN_FETCH_DELETE));
    CHECK(!plan_deletes(PLAN_FETCH) && !plan_deletes(PLAN_LEAVE));
}
