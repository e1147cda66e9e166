/*
 * err — filling and decorating struct err. See err.h.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"

int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;

    e->kind = kind;
    e->hint[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

void err_hint(struct err *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->hint, sizeof e->hint, fmt, ap);
    va_end(ap);
}

void err_prefix(struct err *e, const char *fmt, ...)
{
    char old[ERR_MSG_MAX];
    size_t n;
    va_list ap;

    memcpy(old, e->msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    n = strlen(e->msg);
    if (n + 2 < sizeof e->msg) {
        memcpy(e->msg + n, ": ", 3);
        n += 2;
        snprintf(e->msg + n, sizeof e->msg - n, "%s", old);
    }
}

void err_clear(struct err *e)
{
    e->kind = ERR_NONE;
    e->msg[0] = '\0';
    e->hint[0] = '\0';
}

void err_quote(char *dst, size_t max, const char *src, size_t len)
{
    size_t i, o = 0;

    if (max == 0) return;
    for (i = 0; i < len && o + 1 < max; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (i < len && max > 4) {
        o = o > max - 4 ? max - 4 : o;
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}
