/*
 * fmrc_mem — the fetchmailrc converter's memory and output (see fmrc.h):
 * the arena that holds every string read from the rc file, the output
 * buffer the config text is written into, and input text made safe to
 * quote. The rc file holds passwords: the arena and every copy of the
 * output are wiped (OPENSSL_cleanse) before they are freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fmrc.h"

#define FM_ARENA_CHUNK 65536

/* ---- the arena ---------------------------------------------------------- */

struct fm_chunk {
    struct fm_chunk *next;
    size_t used, cap;
    char data[];
};

/* n bytes from the arena; with align set, aligned for any struct. */
char *fmrc_arena_alloc(struct fm_chunk **head, size_t n, int align)
{
    size_t a = align ? _Alignof(max_align_t) : 1;
    struct fm_chunk *c = *head;
    size_t pad = c ? (a - (uintptr_t)(c->data + c->used) % a) % a : 0;

    if (!c || c->cap - c->used < pad + n) {
        size_t cap = (n > FM_ARENA_CHUNK ? n : FM_ARENA_CHUNK) + a;
        if (!(c = malloc(sizeof *c + cap))) return NULL;
        c->next = *head;
        c->cap = cap;
        c->used = 0;
        *head = c;
        pad = (a - (uintptr_t)c->data % a) % a;
    }
    c->used += pad + n;
    return c->data + c->used - n;
}

void fmrc_arena_free(struct fm_chunk *c)
{
    while (c) {
        struct fm_chunk *next = c->next;
        OPENSSL_cleanse(c->data, c->used); /* passwords */
        free(c);
        c = next;
    }
}

/* ---- the output --------------------------------------------------------- */

/* Grown by copying, the old copy wiped: no stale copy of a password is left
 * in freed memory. */
void fmrc_out_add(struct fm_out *o, const char *s, size_t n)
{
    if (o->failed) return;
    if (n > FETCHMAILRC_MAX_OUT - o->len) {
        o->failed = 2;
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        char *p;
        while (cap < o->len + n + 1) cap *= 2;
        if (!(p = malloc(cap))) {
            o->failed = 1;
            return;
        }
        if (o->p) {
            memcpy(p, o->p, o->len);
            OPENSSL_cleanse(o->p, o->cap);
            free(o->p);
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

void fmrc_out_str(struct fm_out *o, const char *s)
{
    fmrc_out_add(o, s, strlen(s));
}

void fmrc_out_release(struct fm_out *o)
{
    if (o->p) OPENSSL_cleanse(o->p, o->cap);
    free(o->p);
    memset(o, 0, sizeof *o);
}

/* ---- errors and quoting ------------------------------------------------- */

int fmrc_oom(struct fm *ps)
{
    return err_set(ps->e, ERR_INTERNAL, "out of memory");
}

char *fmrc_strndup(struct fm *ps, const char *s, size_t n)
{
    char *p = fmrc_arena_alloc(&ps->arena, n + 1, 0);

    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Control and 8-bit bytes become '?', at most FM_SHOW_MAX bytes: safe in a
 * comment line and in a message. */
void fmrc_show(char *dst, size_t max, const char *s)
{
    err_quote(dst, max, s, strlen(s));
}
