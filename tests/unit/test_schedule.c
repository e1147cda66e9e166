/* Unit tests for the daemon's schedule (schedule.c). */
#include "schedule.h"
#include "unit.h"

TEST(schedule_jitter_is_a_tenth_of_the_interval_at_most_30_s)
{
    CHECK(schedule_jitter_bound_ms(1) == 100);
    CHECK(schedule_jitter_bound_ms(60) == 6000);
    CHECK(schedule_jitter_bound_ms(300) == 30000);
    CHECK(schedule_jitter_bound_ms(86400) == 30000);
}

TEST(schedule_backoff_doubles_up_to_16_times_and_an_hour)
{
    CHECK(schedule_delay_ms(60, 0) == 60000);
    CHECK(schedule_delay_ms(60, 1) == 60000);
    CHECK(schedule_delay_ms(60, 2) == 120000);
    CHECK(schedule_delay_ms(60, 3) == 240000);
    CHECK(schedule_delay_ms(60, 5) == 960000);
    CHECK(schedule_delay_ms(60, 6) == 960000); /* 16 x */
    CHECK(schedule_delay_ms(60, 1000000) == 960000);
    CHECK(schedule_delay_ms(600, 4) == 3600000); /* an hour */
    CHECK(schedule_delay_ms(600, 50) == 3600000);
    /* an interval above the hour is never shortened */
    CHECK(schedule_delay_ms(7200, 3) == 7200000);
    CHECK(schedule_delay_ms(1, 3) == 4000);
    CHECK(schedule_delay_ms(1, 5) == 16000);
    CHECK(schedule_delay_ms(1, 9) == 16000);
}

TEST(schedule_next_adds_delay_and_jitter)
{
    CHECK(schedule_next(1000, 10, 0, 0.0) == 11000);
    CHECK(schedule_next(1000, 10, 0, 0.5) == 11500);
    CHECK(schedule_next(1000, 10, 0, 2.0) < 12000);
    CHECK(schedule_next(1000, 10, 0, -1.0) == 11000);
    CHECK(schedule_next(1000, 10, 3, 0.0) == 41000);
    /* LOGIN-DELAY counts from the end of the run */
    CHECK(schedule_not_before(1500, 900) == 901500);
    CHECK(schedule_not_before(1500, 0) == 0);
    CHECK(schedule_not_before(1500, -1) == 0);
}

TEST(schedule_random_is_in_range_and_varies)
{
    double a = schedule_random(), b = schedule_random(), c = schedule_random();

    CHECK(a >= 0 && a < 1 && b >= 0 && b < 1 && c >= 0 && c < 1);
    CHECK(a != b || b != c);
}
