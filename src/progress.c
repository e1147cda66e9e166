/*
 * progress — see progress.h.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* The terminal's width now (asked at each redraw, so a resize, SIGWINCH's
 * news, is seen at the next one); 80 when it does not say. */
static size_t columns(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

/* Append "  piece" to line (visible text, len used) if it still fits in max. */
static void add(char *line, size_t *len, size_t max, const char *piece)
{
    size_t n = strlen(piece);

    if (*len + 2 + n > max) return;
    snprintf(line + *len, n + 3, "  %s", piece);
    *len += 2 + n;
}

/* The line's text, at most max columns: what does not fit is left out,
 * the bar first, then the rate, then the size; the count is cut last. */
static size_t compose(char *line, size_t cap, size_t max, unsigned long done_msgs,
                      uint64_t done_bytes, double secs)
{
    char size[32], rate[40], bar[PROGRESS_BAR + 3];
    size_t len;
    int fill, n = snprintf(line, cap, "%s: %lu/%lu messages", pg.account, done_msgs, pg.total_msgs);

    len = n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
    if (len > max) line[len = max] = '\0';
    /* by bytes when the sizes were listed up front, else by messages */
    fill = pg.total_bytes  ? (int)((double)done_bytes * PROGRESS_BAR / (double)pg.total_bytes)
           : pg.total_msgs ? (int)((double)done_msgs * PROGRESS_BAR / (double)pg.total_msgs)
                           : PROGRESS_BAR;
    if (fill > PROGRESS_BAR) fill = PROGRESS_BAR;
    bar[0] = '[';
    memset(bar + 1, '#', (size_t)fill);
    memset(bar + 1 + fill, '.', (size_t)(PROGRESS_BAR - fill));
    memcpy(bar + 1 + PROGRESS_BAR, "]", 2);
    human(size, sizeof size, (double)done_bytes);
    /* a rate over less than half a second says nothing ("0 B/s"): none yet */
    rate[0] = '\0';
    if (secs >= 0.5 && done_bytes) {
        char r[32];
        human(r, sizeof r, (double)done_bytes / secs);
        snprintf(rate, sizeof rate, "%s/s", r);
    }
    add(line, &len, max, size);
    if (rate[0]) add(line, &len, max, rate);
    add(line, &len, max, bar);
    return len;
}

void progress_update(unsigned long done_msgs, uint64_t done_bytes)
{
    char text[256], line[300];
    int64_t now;
    size_t cols;
    int n;

    if (!pg.on || !pg.account[0]) return;
    now = monotime_ms();
    if (pg.drawn && now - pg.last < 100 && done_msgs < pg.total_msgs) return;
    pg.last = now;
    /* one column short of the width: a full row would wrap on some
     * terminals, and a wrapped line leaves debris at each redraw */
    cols = columns();
    compose(text, sizeof text,
            cols > 1 ? (cols - 1 < sizeof text - 1 ? cols - 1 : sizeof text - 1) : 1, done_msgs,
            done_bytes, (double)(now - pg.t0) / 1000.0);
    /* \r, the line, then clear to the end of the line */
    n = snprintf(line, sizeof line, "\r%s\033[K", text);
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
