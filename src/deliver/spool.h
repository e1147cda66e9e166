/*
 * spool — one message at a time in an unlinked temporary file, so a sink can
 * look at the whole message (its sender, its size) before delivering it,
 * without holding it in memory. Owns the file and its bytes; what the bytes
 * mean (fields, addresses, the sender's rules) is header.c's.
 *
 * The file is created with O_TMPFILE in the spool directory where the file
 * system supports it, else with mkstemp and unlinked at once: it never has a
 * name anyone else can see, and it vanishes with the process. Writes go
 * through a 64 KiB buffer. The bytes are never a C string: they may hold NUL,
 * have lines of any length, and need not end with a newline.
 *
 * spool_header (and spool_field, its form for header.c's sender rules)
 * reads the message back with pread (the read offset is left alone) and
 * hands the bytes to header.c, which looks only at
 * the header block, never at more than HEADER_SCAN_MAX bytes, and copies at
 * most the caller's buffer: every byte of the message is untrusted.
 */
#ifndef POPFETCH_SPOOL_H
#define POPFETCH_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "header.h"

#define SPOOL_WBUF (64 * 1024)

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

/* Field `name` of the message's header block (flushed first), as
 * header_find_end gives it: the unfolded value in buf, NUL-terminated, at
 * most len-1 bytes; the value's whole length, or -1 if the field is absent
 * or the spool cannot be read. */
ssize_t spool_header(struct spool *sp, const char *name, char *buf, size_t len);

/* spool_header in the shape header.c reads fields through (header_field_fn;
 * ctx is the struct spool), e.g. header_sender(use, spool_field, sp, ...). */
ssize_t spool_field(void *sp, const char *name, char *buf, size_t len);

#endif
