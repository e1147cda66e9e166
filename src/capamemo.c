/*
 * capamemo — capabilities remembered from the last poll. See capamemo.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "capamemo.h"

#define MAGIC "popfetch capa 1"

static int file_name(char *buf, size_t len, const char *key)
{
    return (size_t)snprintf(buf, len, "%s.capa", key) < len ? 0 : -1;
}

/* Printable text, no control bytes (the file is line-based). */
static int clean(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

void capamemo_greeting(char *out, size_t len, const char *greeting)
{
    const char *lt = strrchr(greeting, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    size_t n = lt && gt ? (size_t)(lt - greeting) : strlen(greeting);

    if (n >= len) n = len - 1;
    memcpy(out, greeting, n);
    out[n] = '\0';
    if (lt && gt) snprintf(out + n, len - n, "%s", gt + 1);
}

static int copy(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size || !clean(src, len)) return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

void capamemo_begin(struct capamemo *m, const char *server, const char *cert, const char *greeting)
{
    char g[sizeof m->greeting];

    memset(m, 0, sizeof *m);
    capamemo_greeting(g, sizeof g, greeting);
    m->have = copy(m->server, sizeof m->server, server, strlen(server)) == 0 &&
              copy(m->cert, sizeof m->cert, cert, strlen(cert)) == 0 &&
              copy(m->greeting, sizeof m->greeting, g, strlen(g)) == 0 && cert[0];
}

void capamemo_add(struct capamemo *m, const char *line, size_t len)
{
    if (!m->have) return;
    if (len + 1 >= sizeof m->lines - m->len || !clean(line, len)) {
        m->have = 0;
        return;
    }
    memcpy(m->lines + m->len, line, len);
    m->len += len;
    m->lines[m->len++] = '\n';
    m->lines[m->len] = '\0';
}

int capamemo_matches(const struct capamemo *m, const char *server, const char *cert,
                     const char *greeting)
{
    char g[sizeof m->greeting];

    capamemo_greeting(g, sizeof g, greeting);
    return m->have && cert[0] && strcmp(m->server, server) == 0 && strcmp(m->cert, cert) == 0 &&
           strcmp(m->greeting, g) == 0;
}

void capamemo_apply(const struct capamemo *m, struct pop3_capa *c)
{
    const char *p = m->lines, *end = m->lines + m->len;

    pop3_capa_reset(c);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        pop3_capa_line(c, p, (size_t)(nl - p));
        p = nl + 1;
    }
    c->known = 1;
}

/* One line of the file: "WORD value". */
static int parse_line(struct capamemo *m, const char *s, size_t len)
{
    const char *sp = memchr(s, ' ', len);
    size_t w = sp ? (size_t)(sp - s) : len, vlen = sp ? len - w - 1 : 0;
    const char *v = sp ? sp + 1 : s + len;

    if (w == 6 && memcmp(s, "server", 6) == 0) return copy(m->server, sizeof m->server, v, vlen);
    if (w == 4 && memcmp(s, "cert", 4) == 0) return copy(m->cert, sizeof m->cert, v, vlen);
    if (w == 8 && memcmp(s, "greeting", 8) == 0)
        return copy(m->greeting, sizeof m->greeting, v, vlen);
    if (w == 4 && memcmp(s, "capa", 4) == 0) {
        m->have = 1; /* capamemo_add's checks */
        capamemo_add(m, v, vlen);
        return m->have ? 0 : -1;
    }
    return -1;
}

static int parse(struct capamemo *m, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    int first = 1;

    if (len > CAPAMEMO_FILE_MAX) return -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;
        if (!nl) return -1; /* every line ends in \n */
        n = (size_t)(nl - p);
        if (first) {
            if (n != strlen(MAGIC) || memcmp(p, MAGIC, n) != 0) return -1;
            first = 0;
        } else if (parse_line(m, p, n) < 0) {
            return -1;
        }
        p = nl + 1;
    }
    return !first && m->server[0] && m->cert[0] && m->len ? 0 : -1;
}

int capamemo_parse(struct capamemo *m, const char *text, size_t len)
{
    memset(m, 0, sizeof *m);
    m->have = parse(m, text, len) == 0;
    if (!m->have) memset(m, 0, sizeof *m);
    return m->have ? 0 : -1;
}

size_t capamemo_format(const struct capamemo *m, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "%s\nserver %s\ncert %s\ngreeting %s\n", MAGIC, m->server,
                                m->cert, m->greeting);

    for (const char *p = m->lines, *end = m->lines + m->len; p < end && o < cap;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        o += (size_t)snprintf(buf + o, cap - o, "capa %.*s\n", (int)(nl - p), p);
        p = nl + 1;
    }
    return o < cap ? o : 0;
}

int capamemo_load(struct capamemo *m, const char *dir, const char *key, struct err *e)
{
    char name[1100], *text;
    size_t len;
    int fd, rc;
    struct err quiet;

    memset(m, 0, sizeof *m);
    if (file_name(name, sizeof name, key) < 0) return 0;
    if ((fd = atomicfile_opendir(dir, "state directory", ATOMICFILE_OURS, e)) < 0)
        return e->kind == ERR_LOCAL ? (err_clear(e), 0) : -1;
    rc = atomicfile_read(fd, dir, name, CAPAMEMO_FILE_MAX, &text, &len, &quiet);
    close(fd);
    if (rc != 0) return 0; /* none, a link, too big: not a memo */
    capamemo_parse(m, text, len);
    free(text);
    return 0;
}

int capamemo_save(const struct capamemo *m, const char *dir, const char *key, struct err *e)
{
    char name[1100], *text;
    size_t o;
    int fd, rc;

    if (!m->have || file_name(name, sizeof name, key) < 0) return 0;
    if (!(text = malloc(CAPAMEMO_FILE_MAX + 1))) return err_set(e, ERR_LOCAL, "out of memory");
    if (!(o = capamemo_format(m, text, CAPAMEMO_FILE_MAX + 1))) { /* cannot happen */
        free(text);
        return 0;
    }
    if ((fd = atomicfile_opendir(dir, "state directory", ATOMICFILE_OURS, e)) < 0) {
        free(text);
        return -1;
    }
    rc = atomicfile_write(fd, dir, name, text, o, 0600, e);
    close(fd);
    free(text);
    return rc;
}

int capamemo_forget(const char *dir, const char *key, struct err *e)
{
    char name[1100];
    int fd, rc = 0;

    if (file_name(name, sizeof name, key) < 0) return 0;
    if ((fd = atomicfile_opendir(dir, "state directory", 0, e)) < 0)
        return e->kind == ERR_LOCAL ? (err_clear(e), 0) : -1;
    if (unlinkat(fd, name, 0) < 0 && errno != ENOENT)
        rc = err_set(e, ERR_LOCAL, "cannot remove %s/%s: %s", dir, name, strerror(errno));
    close(fd);
    return rc;
}
