/*
 * log — user-facing output. See log.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "fileperm.h"
#include "log.h"
#include "progress.h"

#define LOG_LINE_MAX 2048

static int level = LOG_NORMAL;
static int use_syslog;
static int file_fd = -1;
static int info_fd = STDOUT_FILENO;

/* The `fd` of an informational line (-v, -vv): info_fd, LOG_INFO in syslog;
 * of a notice: stderr, LOG_NOTICE. */
#define INFO_LINE   (-2)
#define NOTICE_LINE (-3)

void log_spare_stdout(void)
{
    info_fd = STDERR_FILENO;
}

void log_use_syslog(void)
{
    openlog("popfetch", LOG_PID, LOG_MAIL);
    use_syslog = 1;
}

int log_use_file(const char *path, struct err *e)
{
    /* never through a symbolic link: server text must not land elsewhere */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0) return fileperm_open_error(e, ERR_USAGE, ERR_USAGE, "--logfile", path);
    file_fd = fd;
    return 0;
}

void log_set_level(int l)
{
    level = l;
}

int log_get_level(void)
{
    return level;
}

/* A line that cannot be written (stderr closed, the disk full) is dropped:
 * there is nowhere left to say so. */
static void emit(int fd, const char *buf, size_t len)
{
    (void)fdio_write_full(fd, buf, len);
}

/* Where a finished line goes: syslog, the log file or fd. buf[n-1] is the
 * newline; "popfetch: " starts it. */
static void deliver(int fd, const char *tag, char *buf, size_t n)
{
    if (use_syslog) {
        int prio = fd == NOTICE_LINE     ? LOG_NOTICE
                   : fd == STDERR_FILENO ? (strcmp(tag, "warning: ") ? LOG_ERR : LOG_WARNING)
                                         : LOG_INFO;
        buf[n - 1] = '\0';
        syslog(prio, "%s", buf + 10); /* syslog names the program itself */
        return;
    }
    if (file_fd >= 0) {
        char stamp[40], line[LOG_LINE_MAX + 48];
        time_t t = time(NULL);
        struct tm tm;
        size_t m;
        if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &tm))
            snprintf(stamp, sizeof stamp, "-");
        m = (size_t)snprintf(line, sizeof line, "%s %.*s", stamp, (int)n, buf);
        emit(file_fd, line, m < sizeof line ? m : sizeof line - 1);
        return;
    }
    progress_clear();
    emit(fd == INFO_LINE ? info_fd : fd == NOTICE_LINE ? STDERR_FILENO : fd, buf, n);
}

static void vline(int fd, const char *account, const char *tag, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];
    int n = snprintf(buf, sizeof buf - 1, "popfetch: %s%s%s", account ? account : "",
                     account ? ": " : "", tag);

    if (n < 0) return;
    if ((size_t)n < sizeof buf - 1) {
        int m = vsnprintf(buf + n, sizeof buf - 1 - (size_t)n, fmt, ap);
        if (m > 0) n += m;
    }
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    deliver(fd, tag, buf, (size_t)n);
}

static void line(int fd, const char *account, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(int fd, const char *account, const char *tag, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline(fd, account, tag, fmt, ap);
    va_end(ap);
}

void log_error(const char *account, const struct err *e)
{
    char buf[ERR_MSG_MAX + ERR_HINT_MAX + 16];

    if (e->hint[0])
        snprintf(buf, sizeof buf, "%s\n  (%s)", e->msg, e->hint);
    else
        snprintf(buf, sizeof buf, "%s", e->msg);
    line(STDERR_FILENO, account, "", "%s", buf);
}

void log_warn(const char *account, const char *fmt, ...)
{
    va_list ap;

    if (level < LOG_NORMAL) return;
    va_start(ap, fmt);
    vline(STDERR_FILENO, account, "warning: ", fmt, ap);
    va_end(ap);
}

void log_notice(const char *account, const char *fmt, ...)
{
    va_list ap;

    if (level < LOG_NORMAL) return;
    va_start(ap, fmt);
    vline(NOTICE_LINE, account, "", fmt, ap);
    va_end(ap);
}

void log_info(const char *account, const char *fmt, ...)
{
    va_list ap;

    if (level < LOG_VERBOSE) return;
    va_start(ap, fmt);
    vline(INFO_LINE, account, "", fmt, ap);
    va_end(ap);
}

/* Untrusted bytes made printable: \xNN for control, 8-bit and backslash,
 * "..." when cut. */
static void escape(char *shown, size_t max, const char *text, size_t len)
{
    size_t o = 0, i;

    for (i = 0; i < len && o + 8 < max; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            shown[o++] = (char)c;
        else
            o += (size_t)snprintf(shown + o, max - o, "\\x%02x", c);
    }
    if (i < len) o += (size_t)snprintf(shown + o, max - o, "...");
    shown[o] = '\0';
}

void log_trace(void *ctx, char dir, const char *text, size_t len)
{
    char shown[600];

    if (level < LOG_TRACE) return;
    escape(shown, sizeof shown, text, len);
    line(INFO_LINE, (const char *)ctx, dir == 'C' ? "> " : "< ", "%s", shown);
}

void log_relay(const char *account, const char *tag, const char *text, size_t len)
{
    char shown[1200];

    escape(shown, sizeof shown, text, len);
    line(STDERR_FILENO, account, tag, "%s", shown);
}
