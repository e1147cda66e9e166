/*
 * spool — a message in an unlinked temporary file. See spool.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int spool_flush(struct spool *sp, struct err *e)
{
    if (sp->blen == 0) return 0;
    if (write_all(sp->fd, sp->buf, sp->blen) < 0) return spool_fail(e, sp, "write");
    sp->blen = 0;
    return 0;
}

int spool_write(struct spool *sp, const void *buf, size_t len, struct err *e)
{
    if (sp->blen + len > SPOOL_WBUF && spool_flush(sp, e) < 0) return -1;
    if (len >= SPOOL_WBUF) {
        if (write_all(sp->fd, buf, len) < 0) return spool_fail(e, sp, "write");
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

/* ---- finding a header field ------------------------------------------- */

enum hmode { H_NAME, H_SKIP, H_VALUE };

struct hscan {
    const char *name;
    size_t nlen, nmatch;
    enum hmode mode;
    int bol, found, done;
    char *buf;
    size_t len, vlen;
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static void value_byte(struct hscan *h, unsigned char c)
{
    if (h->len > 0 && h->vlen < h->len - 1) h->buf[h->vlen] = (char)c;
    h->vlen++;
}

/* The first byte of a line: the end of the header block, a continuation
 * line, or the start of another field. */
static void line_start(struct hscan *h, unsigned char c)
{
    h->bol = 0;
    if (c == '\n') {
        h->done = 1;
    } else if (c == ' ' || c == '\t') {
        h->mode = h->found ? H_VALUE : H_SKIP;
    } else if (h->found) {
        h->done = 1;
    } else {
        h->mode = H_NAME;
        h->nmatch = 0;
    }
}

static void name_byte(struct hscan *h, unsigned char c)
{
    if (h->nmatch < h->nlen && lower(c) == lower((unsigned char)h->name[h->nmatch]))
        h->nmatch++;
    else if (h->nmatch == h->nlen && c == ':')
        h->found = 1, h->mode = H_VALUE;
    else if (!(h->nmatch == h->nlen && (c == ' ' || c == '\t')))
        h->mode = H_SKIP;
}

static void scan_byte(struct hscan *h, unsigned char c)
{
    if (h->bol) {
        line_start(h, c);
        if (h->done || h->mode != H_NAME) {
            if (h->mode == H_VALUE && !h->done) value_byte(h, c);
            return;
        }
    }
    if (c == '\n') {
        h->bol = 1;
        if (h->mode == H_NAME) h->mode = H_SKIP;
        return;
    }
    if (h->mode == H_NAME)
        name_byte(h, c);
    else if (h->mode == H_VALUE)
        value_byte(h, c);
}

ssize_t spool_header(struct spool *sp, const char *name, char *buf, size_t len)
{
    unsigned char chunk[SPOOL_RBUF];
    struct hscan h = {.name = name, .nlen = strlen(name), .bol = 1, .buf = buf, .len = len};
    off_t off = 0;
    struct err ignored;

    if (len > 0) buf[0] = '\0';
    if (spool_flush(sp, &ignored) < 0) return -1;
    while (!h.done && off < SPOOL_HEADER_SCAN) {
        size_t want = sizeof chunk;
        ssize_t r;
        if ((uint64_t)off + want > SPOOL_HEADER_SCAN) want = (size_t)(SPOOL_HEADER_SCAN - off);
        r = pread(sp->fd, chunk, want, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        for (ssize_t i = 0; i < r && !h.done; i++) scan_byte(&h, chunk[i]);
        off += r;
    }
    if (!h.found) return -1;
    if (len > 0) buf[h.vlen < len - 1 ? h.vlen : len - 1] = '\0';
    return (ssize_t)h.vlen;
}

/* ---- addresses ----------------------------------------------------------- */

/* Index just past a quoted string or comment starting at i (val[i] is '"' or
 * '('), or vlen if it never closes. Comments nest; backslash quotes a byte. */
static size_t skip_special(const char *val, size_t vlen, size_t i)
{
    size_t depth = 0;

    if (val[i] == '"') {
        for (i++; i < vlen; i++) {
            if (val[i] == '\\')
                i++;
            else if (val[i] == '"')
                return i + 1;
        }
        return vlen;
    }
    for (; i < vlen; i++) {
        if (val[i] == '\\')
            i++;
        else if (val[i] == '(')
            depth++;
        else if (val[i] == ')' && --depth == 0)
            return i + 1;
    }
    return vlen;
}

/* Index of the first of `stops` outside quotes and comments, or vlen. */
static size_t find_plain(const char *val, size_t from, size_t vlen, const char *stops)
{
    size_t i = from;

    while (i < vlen) {
        if (val[i] == '"' || val[i] == '(')
            i = skip_special(val, vlen, i);
        else if (val[i] && strchr(stops, val[i]))
            return i;
        else
            i++;
    }
    return vlen;
}

static int safe_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("@._+-=/%:,", c));
}

/* Copy val[from..to) without comments and unquoted white space. */
static size_t strip_copy(const char *val, size_t from, size_t to, char *out, size_t max)
{
    size_t o = 0, i = from;

    while (i < to && o < max) {
        char c = val[i];
        if (c == '(') {
            i = skip_special(val, to, i);
        } else if (c == '"') {
            size_t end = skip_special(val, to, i);
            while (i < end && o < max) out[o++] = val[i++];
        } else {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') out[o++] = c;
            i++;
        }
    }
    return i < to ? max + 1 : o; /* max + 1: too long */
}

ssize_t spool_parse_address(const char *val, size_t vlen, char *buf, size_t len)
{
    char tmp[SPOOL_SENDER_MAX + 1] = {0};
    size_t from = 0, to, n, colon, o = 0;

    to = find_plain(val, 0, vlen, "<,");
    if (to < vlen && val[to] == '<') {
        from = to + 1;
        to = find_plain(val, from, vlen, ">");
        if (to == vlen) return -1; /* no closing '>' */
    }
    n = strip_copy(val, from, to, tmp, sizeof tmp - 1);
    if (n > sizeof tmp - 1) return -1;
    /* source route (@a,@b:user@x) or group name (name: user@x;) */
    colon = find_plain(tmp, 0, n, ":");
    if (colon < n) {
        memmove(tmp, tmp + colon + 1, n - colon - 1);
        n -= colon + 1;
    }
    while (n > 0 && tmp[n - 1] == ';') n--;
    if (n + 1 > len) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tmp[i];
        buf[o++] = safe_byte(c) && !(i == 0 && c == '-') ? (char)c : '_';
    }
    buf[o] = '\0';
    return (ssize_t)o;
}

/* The address in header `name`: its length, 0 for <>, -1 if none usable. */
static ssize_t header_address(struct spool *sp, const char *name, char *buf, size_t len)
{
    char val[4096];
    ssize_t vlen = spool_header(sp, name, val, sizeof val);

    if (vlen < 0 || (size_t)vlen >= sizeof val) return -1;
    return spool_parse_address(val, (size_t)vlen, buf, len);
}

size_t spool_sender(struct spool *sp, enum spool_sender_use use, char *buf, size_t len)
{
    ssize_t n;

    if (len == 0) return 0;
    buf[0] = '\0';
    n = header_address(sp, "Return-Path", buf, len);
    if (use == SPOOL_SENDER_MBOX) {
        if (n > 0) return (size_t)n;
        snprintf(buf, len, "%s", SPOOL_NULL_SENDER);
        return strlen(buf);
    }
    if (n >= 0) return (size_t)n;
    n = header_address(sp, "From", buf, len);
    if (n > 0) return (size_t)n;
    buf[0] = '\0';
    return 0;
}
