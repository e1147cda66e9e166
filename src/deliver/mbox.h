/*
 * mbox — the mbox sink: appends each message to one mbox file in mboxrd
 * format, under a dot-lock and/or an fcntl lock, all or nothing.
 *
 * Format (mboxrd): a "From SENDER DATE" line (SENDER from Return-Path:, else
 * MAILER-DAEMON: header.h, HEADER_SENDER_MBOX; DATE local time in asctime
 * form), the message with every
 * line that matches ^>*From  prefixed by one more '>', a newline added if the
 * message does not end with one, then one empty line.
 *
 * While the session writes, the message goes to a spool file; end() takes
 * the locks, checks the file (created 0600 if missing; a non-empty file that
 * does not start with "From " is refused, and so is a symbolic link: the
 * file is opened with O_NOFOLLOW), appends, fsyncs and unlocks. Our
 * FILE.lock says "PID HOST"; a lock older than stale_lock_s is removed, and
 * so at once (with a warning) is one naming this host and a pid that no
 * longer runs; any other lock (another host's, or a form we do not know) is
 * waited for up to lock_timeout_s. On
 * any failure (disk full, file size limit, I/O error) the file is truncated
 * back to its old size and fsynced: the mbox never holds half a message. When
 * end() returns 0 the message is durable: the sink is one_at_a_time, and
 * sync, publish, publish_sync and recover are deliver.h's shared do-nothing
 * ones. Memory use does not depend on message size.
 */
#ifndef POPFETCH_MBOX_H
#define POPFETCH_MBOX_H

#include <stddef.h>

#include "deliver.h"

#define MBOX_LOCK_TIMEOUT_S 30
#define MBOX_STALE_LOCK_S   300

struct mbox_opts {
    int dotlock;           /* create FILE.lock (O_EXCL) while appending */
    int fcntl_lock;        /* take a write lock on the whole file with fcntl */
    int lock_timeout_s;    /* give up waiting for either lock; <= 0: 30 */
    int stale_lock_s;      /* remove a FILE.lock older than this; <= 0: 300 */
    const char *spool_dir; /* NULL: $TMPDIR or /tmp */
    /* told of what the user should know (a dead process's lock removed) */
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
};

/* Both locks, default timeouts, default spool directory. */
void mbox_opts_init(struct mbox_opts *o);

/* Open an mbox sink on `path` (the file may not exist yet; its directory
 * must). Refuses, with ERR_DELIVERY, a non-empty file that is not an mbox. */
int mbox_open(struct sink *s, const char *path, const struct mbox_opts *o, struct err *e);

/* ---- the quoting, on its own for tests ---- */

typedef int (*mbox_out_fn)(void *ctx, const unsigned char *buf, size_t len, struct err *e);

/* mboxrd quoting of a message fed in chunks of any size: a '>' is added
 * before each line that matches ^>*From , however the chunks cut it. Holds
 * no bytes of its own beyond a count, so any line length works. */
struct mbox_quote {
    size_t gts;         /* '>' seen at the start of the current line, not yet output */
    size_t matched;     /* bytes of "From " matched after them */
    int bol;            /* at the start of a line (or in its ^>*F?r?o?m? prefix) */
    int any;            /* something was output */
    unsigned char last; /* the last byte output */
};

void mbox_quote_init(struct mbox_quote *q);

/* Quote len bytes, handing the output to out (in pieces). */
int mbox_quote_feed(struct mbox_quote *q, const unsigned char *buf, size_t len, mbox_out_fn out,
                    void *ctx, struct err *e);

/* End of message: output a held-back prefix, and a newline if the message
 * did not end with one (nothing for an empty message). The separating empty
 * line is not part of this. */
int mbox_quote_end(struct mbox_quote *q, mbox_out_fn out, void *ctx, struct err *e);

/* "Mon Nov 23 06:12:00 2026" (asctime form, English, no newline) for a time
 * in the local zone. buf needs 25 bytes. */
void mbox_date(char *buf, size_t len, long long when);

#endif
