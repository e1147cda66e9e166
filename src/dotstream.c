/*
 * dotstream — in-place multi-line body decoder. See dotstream.h.
 */
#include <string.h>

#include "dotstream.h"

void dotstream_init(struct dotstream *d)
{
    d->at_line_start = 1;
    d->done = 0;
    d->out_bytes = 0;
}

/* At the start of a line that begins with '.': returns the bytes to skip
 * (1 for a stuffed dot, 2 or 3 for the terminator, which sets done), or 0
 * when more input is needed to decide. */
static size_t leading_dot(struct dotstream *d, const unsigned char *p, size_t left)
{
    if (left < 2) return 0;
    if (p[1] == '\n') {
        d->done = 1;
        return 2;
    }
    if (p[1] != '\r') return 1;
    if (left < 3) return 0;
    if (p[2] == '\n') {
        d->done = 1;
        return 3;
    }
    return 1;
}

size_t dotstream_decode(struct dotstream *d, unsigned char *buf, size_t len, size_t *out)
{
    size_t p = 0, o = 0;

    while (p < len && !d->done) {
        unsigned char *nl;
        size_t seg;

        if (d->at_line_start) {
            d->at_line_start = 0;
            if (buf[p] == '.') {
                size_t skip = leading_dot(d, buf + p, len - p);
                if (skip == 0) {
                    d->at_line_start = 1;
                    break;
                }
                p += skip;
                continue;
            }
        }
        nl = memchr(buf + p, '\n', len - p);
        if (!nl) {
            seg = len - p;
            if (buf[len - 1] == '\r') seg--; /* might be the CR of a CR LF */
            memmove(buf + o, buf + p, seg);
            o += seg;
            p += seg;
            break;
        }
        seg = (size_t)(nl - (buf + p));
        memmove(buf + o, buf + p, seg);
        o += seg;
        if (seg > 0 && buf[o - 1] == '\r') o--;
        buf[o++] = '\n';
        p += seg + 1;
        d->at_line_start = 1;
    }
    d->out_bytes += o;
    *out = o;
    return p;
}
