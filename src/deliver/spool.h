/*
 * spool — one message at a time in an unlinked temporary file, so a sink can
 * look at the whole message (its sender, its size) before delivering it,
 * without holding it in memory.
 *
 * The file is created with O_TMPFILE in the spool directory where the file
 * system supports it, else with mkstemp and unlinked at once: it never has a
 * name anyone else can see, and it vanishes with the process. Writes go
 * through a 64 KiB buffer. The bytes are never a C string: they may hold NUL,
 * have lines of any length, and need not end with a newline.
 *
 * spool_header and spool_sender read the message back with pread (the read
 * offset is left alone), look only at the header block (up to the first empty
 * line) and never at more than SPOOL_HEADER_SCAN bytes, and copy at most the
 * caller's buffer: every byte of the message is untrusted.
 */
#ifndef POPFETCH_SPOOL_H
#define POPFETCH_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define SPOOL_WBUF        (64 * 1024)
#define SPOOL_HEADER_SCAN (256 * 1024)
#define SPOOL_SENDER_MAX  320 /* longest sender address kept (RFC 5321: 256 + slack) */
#define SPOOL_NULL_SENDER "MAILER-DAEMON"

struct spool {
    int fd;
    char dir[1024]; /* for messages */
    unsigned char *buf;
    size_t blen;   /* buffered, not yet written */
    uint64_t size; /* bytes accepted by spool_write since the last reset */
};

/* Create the temporary file in `dir` (NULL or "": $TMPDIR, else /tmp). */
int spool_open(struct spool *sp, const char *dir, struct err *e);

/* Append bytes (buffered). */
int spool_write(struct spool *sp, const void *buf, size_t len, struct err *e);

/* Write out the buffer: after this, the file holds every accepted byte. */
int spool_flush(struct spool *sp, struct err *e);

/* Flush, then put the read offset at the start. */
int spool_rewind(struct spool *sp, struct err *e);

/* Read the next bytes after spool_rewind. Returns the count, 0 at the end,
 * -1 on error. */
ssize_t spool_read(struct spool *sp, void *buf, size_t len, struct err *e);

/* Empty the file for the next message. */
int spool_reset(struct spool *sp, struct err *e);

uint64_t spool_size(const struct spool *sp);

void spool_close(struct spool *sp);

/* Find header field `name` (case-insensitive, the first occurrence, only in
 * the header block) and copy its unfolded value (line breaks of continuation
 * lines removed, leading white space kept as is) into buf, NUL-terminated,
 * at most len-1 bytes. The value may itself contain NUL bytes. Returns the
 * value's whole length (more than len-1 means it was cut), or -1 if the field
 * is absent or the spool cannot be read. */
ssize_t spool_header(struct spool *sp, const char *name, char *buf, size_t len);

/* Parse the first address out of a header value: the part inside <...> if
 * there is one, else the first mailbox of a list; comments, white space and
 * source routes removed. Writes a made-safe address (see spool_sender) or ""
 * for a null address (<>). Returns its length, or -1 if no usable address. */
ssize_t spool_parse_address(const char *val, size_t vlen, char *buf, size_t len);

enum spool_sender_use {
    SPOOL_SENDER_MBOX, /* Return-Path address, else MAILER-DAEMON (also for <>) */
    SPOOL_SENDER_MDA,  /* Return-Path address ("" for <>), else From: addr-spec, else "" */
};

/* The message's sender, for an mbox From_ line or an MDA's %F. Made safe
 * for either use: printable ASCII only, no white space, at most
 * SPOOL_SENDER_MAX bytes, never starting with '-'; any byte outside
 * [A-Za-z0-9] and "@._+-=/%:," becomes '_', so that even an MDA command
 * that hands %F to a shell of its own cannot be made to run anything. Returns
 * the length written into buf (NUL-terminated; buf should hold
 * SPOOL_SENDER_MAX + 1 bytes). */
size_t spool_sender(struct spool *sp, enum spool_sender_use use, char *buf, size_t len);

#endif
