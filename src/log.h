/*
 * log — everything popfetch tells the user: errors and warnings (stderr),
 * per-account summaries (-v) and the protocol trace (-vv) (stdout, or
 * stderr when stdout carries --json's results).
 *
 * Each line is built whole and written at once (fdio_write_full: one
 * write(2), repeated after a signal until the line is out, never dropped
 * for a signal), so lines from accounts running side by side never
 * interleave. Every line names its
 * account. Bytes from the server are shown with control and 8-bit bytes
 * escaped, so a hostile server cannot drive the terminal.
 */
#ifndef POPFETCH_LOG_H
#define POPFETCH_LOG_H

#include <stddef.h>

#include "err.h"

enum log_level { LOG_QUIET = -1, LOG_NORMAL = 0, LOG_VERBOSE = 1, LOG_TRACE = 2 };

void log_set_level(int level);

/* Standard output carries data (--json): every line goes to stderr. */
void log_spare_stdout(void);

/* Send every line to syslog (facility mail; errors LOG_ERR, warnings
 * LOG_WARNING, the rest LOG_INFO) instead of stdout/stderr. */
void log_use_syslog(void);

/* Append every line to the file at path (created 0600), each after an
 * ISO 8601 local timestamp, instead of stdout/stderr. A symbolic link at
 * path is refused (ERR_USAGE), never written through. */
int log_use_file(const char *path, struct err *e);
int log_get_level(void);

/* An error with its hint, e.g. "popfetch: work: cannot connect ...". */
void log_error(const char *account, const struct err *e);
void log_warn(const char *account, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Something the person running popfetch should know though nothing is
 * wrong (a daemon re-read its config, an account recovered): stderr,
 * hidden by -q; LOG_NOTICE in syslog. */
void log_notice(const char *account, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shown with -v. */
void log_info(const char *account, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pass on a line another program wrote (e.g. the MDA's stderr) to stderr,
 * after `tag`, with control and 8-bit bytes escaped. Shown even with -q. */
void log_relay(const char *account, const char *tag, const char *text, size_t len);

/* pop3 trace hook: ctx is the account name; dir 'C' (client) or 'S'. */
void log_trace(void *ctx, char dir, const char *line, size_t len);

#endif
