/*
 * progress — see progress.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "monotime.h"
#include "progress.h"

#define PROGRESS_BAR 20

static struct {
    int on, drawn;
    char account[64];
    unsigned long total_msgs;
    uint64_t total_bytes;
    int64_t t0, last;
} pg;

void progress_enable(int jobs)
{
    pg.on = jobs <= 1 && isatty(STDERR_FILENO) && log_get_level() == LOG_NORMAL;
}

/* The line is decoration: one that cannot be written is dropped. */
static void put(const char *s, size_t n)
{
    (void)fdio_write_full(STDERR_FILENO, s, n);
}

static void human(char *buf, size_t len, double v)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void progress_start(const char *account, unsigned long total_msgs, uint64_t total_bytes)
{
    if (!pg.on) return;
    snprintf(pg.account, sizeof pg.account, "%s", account);
    pg.total_msgs = total_msgs;
    pg.total_bytes = total_bytes;
    pg.t0 = monotime_ms();
    pg.last = 0;
    pg.drawn = 0;
}

void progress_update(unsigned long done_msgs, uint64_t done_bytes)
{
    char line[256], size[32], rate[32], bar[PROGRESS_BAR + 1];
    int64_t now;
    double secs;
    int fill, n;

    if (!pg.on || !pg.account[0]) return;
    now = monotime_ms();
    if (pg.drawn && now - pg.last < 100 && done_msgs < pg.total_msgs) return;
    pg.last = now;
    secs = (double)(now - pg.t0) / 1000.0;
    human(size, sizeof size, (double)done_bytes);
    human(rate, sizeof rate, secs > 0.05 ? (double)done_bytes / secs : 0);
    /* by bytes when the sizes were listed up front, else by messages */
    fill = pg.total_bytes  ? (int)((double)done_bytes * PROGRESS_BAR / (double)pg.total_bytes)
           : pg.total_msgs ? (int)((double)done_msgs * PROGRESS_BAR / (double)pg.total_msgs)
                           : PROGRESS_BAR;
    if (fill > PROGRESS_BAR) fill = PROGRESS_BAR;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(PROGRESS_BAR - fill));
    bar[PROGRESS_BAR] = '\0';
    /* \r, the line, then clear to the end of the line */
    n = snprintf(line, sizeof line, "\r%s: %lu/%lu messages  %s  %s/s  [%s]\033[K", pg.account,
                 done_msgs, pg.total_msgs, size, rate, bar);
    if (n > 0) put(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    pg.drawn = 1;
}

void progress_clear(void)
{
    if (!pg.on || !pg.drawn) return;
    put("\r\033[K", 4);
    pg.drawn = 0;
}

void progress_end(const char *summary)
{
    char line[512];
    int n;

    if (!pg.on || !pg.account[0]) return;
    if (summary)
        n = snprintf(line, sizeof line, "\r%s: %s\033[K\n", pg.account, summary);
    else
        n = snprintf(line, sizeof line, "%s", pg.drawn ? "\r\033[K" : "");
    if (n > 0) put(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    pg.account[0] = '\0';
}
