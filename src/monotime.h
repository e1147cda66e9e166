/*
 * monotime — the one monotonic clock: milliseconds that only move forward
 * (CLOCK_MONOTONIC), unaffected by changes to the wall clock. Deadlines
 * (net, child, the mbox lock wait), the daemon's sleep and the progress
 * line's rate all read it; nothing else reads a clock for intervals.
 */
#ifndef POPFETCH_MONOTIME_H
#define POPFETCH_MONOTIME_H

#include <stdint.h>

/* Now, in milliseconds from an arbitrary start (the same within a boot). */
int64_t monotime_ms(void);

#endif
