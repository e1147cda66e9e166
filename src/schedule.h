/*
 * schedule — the daemon's arithmetic, pure and unit-tested: when an account
 * is polled next. Times are milliseconds of the monotonic clock.
 *
 * - The first poll of every account is at once (-j decides how many run
 *   side by side).
 * - After a poll that started at T, the next is at T + the account's
 *   interval (`poll_interval`, else -d's), plus a random jitter from 0 up to
 *   a tenth of the interval, at most 30 s (SCHEDULE_JITTER_MAX_MS): accounts
 *   polled together once drift apart, so many accounts do not all connect
 *   in the same second.
 * - After the k-th failed poll in a row the interval is multiplied by
 *   2^(k-1) (back-off), at most 16 times the interval and at most an hour
 *   (never less than the interval itself); a poll that succeeds resets it.
 * - The server's LOGIN-DELAY (CAPA) holds the next login back until that
 *   many seconds after the run ended (the daemon skips the regular polls
 *   before then).
 */
#ifndef POPFETCH_SCHEDULE_H
#define POPFETCH_SCHEDULE_H

#include <stdint.h>

#define SCHEDULE_JITTER_MAX_MS      (30 * 1000)
#define SCHEDULE_BACKOFF_FACTOR_MAX 16
#define SCHEDULE_BACKOFF_MAX_MS     (3600 * 1000)

/* The largest jitter for this interval. */
int64_t schedule_jitter_bound_ms(unsigned long interval_s);

/* The wait before the next poll after `failures` failed polls in a row
 * (0: the interval). */
int64_t schedule_delay_ms(unsigned long interval_s, unsigned long failures);

/* The next poll: started + schedule_delay_ms + u * schedule_jitter_bound_ms
 * (u from 0 to 1, the caller's random number). */
int64_t schedule_next(int64_t started, unsigned long interval_s, unsigned long failures, double u);

/* The earliest next login when the server announced LOGIN-DELAY
 * (login_delay_s > 0) in a run that ended at `ended`; 0 when it did not. */
int64_t schedule_not_before(int64_t ended, long login_delay_s);

/* A random number from 0 to 1 (not 1), from OpenSSL's RAND_bytes. */
double schedule_random(void);

#endif
