/*
 * schedule — when the daemon polls an account next. See schedule.h.
 */
#include <openssl/rand.h>

#include "schedule.h"

int64_t schedule_jitter_bound_ms(unsigned long interval_s)
{
    int64_t j = (int64_t)interval_s * 100; /* a tenth, in ms */

    return j < SCHEDULE_JITTER_MAX_MS ? j : SCHEDULE_JITTER_MAX_MS;
}

int64_t schedule_delay_ms(unsigned long interval_s, unsigned long failures)
{
    int64_t base = (int64_t)interval_s * 1000, cap = base * SCHEDULE_BACKOFF_FACTOR_MAX, d = base;

    if (cap > SCHEDULE_BACKOFF_MAX_MS) cap = SCHEDULE_BACKOFF_MAX_MS;
    if (cap < base) cap = base;
    for (unsigned long k = 1; k < failures && d < cap; k++) d *= 2;
    return d < cap ? d : cap;
}

int64_t schedule_next(int64_t started, unsigned long interval_s, unsigned long failures, double u)
{
    if (u < 0) u = 0;
    if (u >= 1) u = 0.999999;
    return started + schedule_delay_ms(interval_s, failures) +
           (int64_t)(u * (double)schedule_jitter_bound_ms(interval_s));
}

int64_t schedule_not_before(int64_t ended, long login_delay_s)
{
    return login_delay_s > 0 ? ended + (int64_t)login_delay_s * 1000 : 0;
}

double schedule_random(void)
{
    unsigned char b[4];

    if (RAND_bytes(b, sizeof b) != 1) return 0.5;
    return (double)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) /
           4294967296.0;
}
