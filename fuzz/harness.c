/*
 * harness — helpers shared by the fuzz targets. See harness.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "\n==FUZZ INVARIANT== %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

int fake_server_open(struct fake_server *f, const uint8_t *data, size_t len, uint8_t chunk_seed)
{
    int sv[2], big = 4 * 1024 * 1024;
    uint32_t rng = chunk_seed * 2654435761u;
    size_t pos = 0, records = 0, maxchunk = 1 + (size_t)(chunk_seed % 61);

    memset(f, 0, sizeof *f);
    f->peer = -1;
    net_init(&f->net);
    if (len > FAKE_SERVER_MAX) return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("fuzz: socketpair");
        abort();
    }
    /* Many small records: make room for all of them (root may force it). */
    if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    while (pos < len) {
        size_t n = len - pos;
        ssize_t w;

        /* At most 128 cut pieces (they fit a default socket buffer even
         * without SO_SNDBUFFORCE); whatever is left goes as one record. */
        if (chunk_seed != 0 && records < 128) {
            size_t want = 1 + fuzz_rand(&rng) % maxchunk;
            if (want < n) n = want;
        }
        w = send(sv[1], data + pos, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w != (ssize_t)n) { /* socket buffer full: skip this input */
            close(sv[0]);
            close(sv[1]);
            return -1;
        }
        pos += n;
        records++;
    }
    shutdown(sv[1], SHUT_WR); /* the client reads end of stream after the data */
    f->peer = sv[1];
    f->net.fd = sv[0];
    f->net.timeout_ms = 1000;
    snprintf(f->net.host, sizeof f->net.host, "pop.fuzz.example");
    snprintf(f->net.peer, sizeof f->net.peer, "192.0.2.1");
    if (!(f->net.rbuf = malloc(NET_RBUF_SIZE))) {
        perror("fuzz: malloc");
        abort();
    }
    return 0;
}

size_t fake_server_consumed(const struct fake_server *f)
{
    return (size_t)f->net.bytes_in - net_buffered(&f->net);
}

void fake_server_close(struct fake_server *f)
{
    net_close(&f->net);
    if (f->peer >= 0) close(f->peer);
    f->peer = -1;
}

size_t fuzz_split(const uint8_t *data, size_t len, const char *sep, struct fuzz_field *f,
                  size_t max)
{
    size_t n = 0, sl = strlen(sep);

    while (n + 1 < max) {
        const uint8_t *hit = memmem(data, len, sep, sl);
        if (!hit) break;
        f[n].p = data;
        f[n].len = (size_t)(hit - data);
        n++;
        len -= f[n - 1].len + sl;
        data = hit + sl;
    }
    f[n].p = data;
    f[n].len = len;
    return n + 1;
}

char *fuzz_strndup(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);

    if (!s) abort();
    if (len) memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* Returns 1 and the offset after the terminator if there is one; *olen is
 * the output of the complete lines, *plen that plus the decoded partial
 * last line (no newline). */
int fuzz_dot_reference(const uint8_t *in, size_t len, uint8_t *out, size_t *olen, size_t *plen,
                       size_t *end)
{
    size_t p = 0;

    *olen = 0;
    while (p < len) {
        const uint8_t *nl = memchr(in + p, '\n', len - p), *s = in + p;
        size_t l;

        if (!nl) { /* partial last line */
            l = len - p;
            if (l > 0 && s[0] == '.') s++, l--;
            memcpy(out + *olen, s, l);
            *plen = *olen + l;
            *end = len;
            return 0;
        }
        l = (size_t)(nl - s);
        p += l + 1;
        if (l > 0 && s[l - 1] == '\r') l--;
        if (l == 1 && s[0] == '.') {
            *plen = *olen;
            *end = p;
            return 1;
        }
        if (l > 0 && s[0] == '.') s++, l--;
        memcpy(out + *olen, s, l);
        *olen += l;
        out[(*olen)++] = '\n';
    }
    *plen = *olen;
    *end = len;
    return 0;
}

static char tmpdir[512];

static void remove_tmpdir(void)
{
    DIR *d;
    struct dirent *de;

    if (!tmpdir[0] || !(d = opendir(tmpdir))) return;
    while ((de = readdir(d))) {
        char p[1024];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
    const char *base;

    if (tmpdir[0]) return tmpdir;
    base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/popfetch-fuzz.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(remove_tmpdir);
    return tmpdir;
}
