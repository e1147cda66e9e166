/*
 * progress — the live progress line shown on a terminal: one line per
 * account, redrawn in place ("work: 12/40 messages  1.2 MiB  3.4 MiB/s
 * [#####.....]"), replaced at the end by a summary.
 *
 * Only when stderr is a terminal, the level is normal (not -q, not -v/-vv
 * whose lines would collide with it) and accounts run one at a time;
 * otherwise every call does nothing. Redraws are limited to ten a second.
 * The line never wraps (a wrapped line leaves a row of debris at each
 * redraw): it fits the terminal's width, asked at each redraw (so a resize
 * is followed), leaving out the bar, then the rate, then the size. No rate
 * is shown before half a second has passed.
 */
#ifndef POPFETCH_PROGRESS_H
#define POPFETCH_PROGRESS_H

#include <stdint.h>

/* Decide once whether to draw (main.c: jobs is -j's value). */
void progress_enable(int jobs);

/* total_bytes 0: the sizes are not known up front (the bar counts messages) */
void progress_start(const char *account, unsigned long total_msgs, uint64_t total_bytes);
void progress_update(unsigned long done_msgs, uint64_t done_bytes);

/* Clear the line so that another message can be printed (log.c calls it
 * before every line it writes to the terminal); the next update redraws. */
void progress_clear(void);

/* Replace the line by the summary (or clear it when summary is NULL). */
void progress_end(const char *summary);

#endif
