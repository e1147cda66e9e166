/*
 * spool — a message in an unlinked temporary file. See spool.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "header.h"
#include "spool.h"

#define SPOOL_RBUF 8192

static int spool_fail(struct err *e, const struct spool *sp, const char *what)
{
    int saved = errno;

    err_set(e, ERR_LOCAL, "cannot %s the temporary spool file in %s: %s", what, sp->dir,
            strerror(saved));
    if (saved == ENOSPC || saved == EDQUOT)
        err_hint(e, "the disk holding %s is full; free space there or point TMPDIR elsewhere",
                 sp->dir);
    else
        err_hint(e, "check that %s exists and is writable, or point TMPDIR elsewhere", sp->dir);
    return -1;
}

static const char *default_dir(void)
{
    const char *t = getenv("TMPDIR");

    return t && *t ? t : "/tmp";
}

/* An unnamed file in dir: O_TMPFILE where the file system has it. */
static int open_unnamed(const char *dir)
{
    char tmpl[1100];
    int fd;

#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -1;
#endif
    if (snprintf(tmpl, sizeof tmpl, "%s/.popfetch-spool.XXXXXX", dir) >= (int)sizeof tmpl) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0) unlink(tmpl);
    return fd;
}

int spool_open(struct spool *sp, const char *dir, struct err *e)
{
    memset(sp, 0, sizeof *sp);
    sp->fd = -1;
    snprintf(sp->dir, sizeof sp->dir, "%s", dir && *dir ? dir : default_dir());
    if (!(sp->buf = malloc(SPOOL_WBUF))) return err_set(e, ERR_INTERNAL, "out of memory");
    if ((sp->fd = open_unnamed(sp->dir)) < 0) {
        spool_fail(e, sp, "create");
        spool_close(sp);
        return -1;
    }
    return 0;
}

int spool_flush(struct spool *sp, struct err *e)
{
    if (sp->blen == 0) return 0;
    if (fdio_write_full(sp->fd, sp->buf, sp->blen) < 0) return spool_fail(e, sp, "write");
    sp->blen = 0;
    return 0;
}

int spool_write(struct spool *sp, const void *buf, size_t len, struct err *e)
{
    if (sp->blen + len > SPOOL_WBUF && spool_flush(sp, e) < 0) return -1;
    if (len >= SPOOL_WBUF) {
        if (fdio_write_full(sp->fd, buf, len) < 0) return spool_fail(e, sp, "write");
    } else {
        memcpy(sp->buf + sp->blen, buf, len);
        sp->blen += len;
    }
    sp->size += len;
    return 0;
}

int spool_rewind(struct spool *sp, struct err *e)
{
    if (spool_flush(sp, e) < 0) return -1;
    if (lseek(sp->fd, 0, SEEK_SET) < 0) return spool_fail(e, sp, "rewind");
    return 0;
}

ssize_t spool_read(struct spool *sp, void *buf, size_t len, struct err *e)
{
    for (;;) {
        ssize_t r = read(sp->fd, buf, len);
        if (r >= 0) return r;
        if (errno != EINTR) return spool_fail(e, sp, "read");
    }
}

int spool_reset(struct spool *sp, struct err *e)
{
    sp->blen = 0;
    sp->size = 0;
    if (ftruncate(sp->fd, 0) < 0 || lseek(sp->fd, 0, SEEK_SET) < 0)
        return spool_fail(e, sp, "empty");
    return 0;
}

uint64_t spool_size(const struct spool *sp)
{
    return sp->size;
}

void spool_close(struct spool *sp)
{
    if (sp->fd >= 0) close(sp->fd);
    sp->fd = -1;
    free(sp->buf);
    sp->buf = NULL;
}

/* ---- the message's header ---------------------------------------------- */

ssize_t spool_header(struct spool *sp, const char *name, char *buf, size_t len)
{
    unsigned char chunk[SPOOL_RBUF];
    struct header_find h;
    off_t off = 0;
    struct err ignored;

    header_find_init(&h, name, buf, len);
    if (spool_flush(sp, &ignored) < 0) return -1;
    for (;;) {
        ssize_t r = pread(sp->fd, chunk, sizeof chunk, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || header_find_feed(&h, chunk, (size_t)r)) break;
        off += r;
    }
    return header_find_end(&h);
}

ssize_t spool_field(void *sp, const char *name, char *buf, size_t len)
{
    return spool_header(sp, name, buf, len);
}
