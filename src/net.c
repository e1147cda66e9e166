/*
 * net — sockets with deadlines, and the buffered reader. See net.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>

#include "monotime.h"
#include "net.h"
#include "stop.h"

void net_init(struct net_conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = 60000;
}

void net_set_deadline(struct net_conn *c, int64_t ms)
{
    c->deadline = monotime_ms() + ms;
}

void net_clear_deadline(struct net_conn *c)
{
    c->deadline = 0;
}

void net_pace_begin(struct net_conn *c)
{
    c->pace_left_ms = c->timeout_ms;
    c->pace_next = c->bytes_in + NET_PACE_BYTES;
}

void net_pace_end(struct net_conn *c)
{
    c->pace_next = 0;
}

/* How long the next wait may last, or -1 if the deadline has passed or
 * the pace rule's allowance is spent. */
static int wait_budget(const struct net_conn *c)
{
    int64_t budget = c->timeout_ms;

    if (c->deadline) {
        int64_t left = c->deadline - monotime_ms();
        if (left <= 0) return -1;
        if (left < budget) budget = left;
    }
    if (c->pace_next) {
        if (c->pace_left_ms <= 0) return -1;
        if (c->pace_left_ms < budget) budget = c->pace_left_ms;
    }
    return (int)budget;
}

/* Every NET_PACE_BYTES received renew the pace rule's allowance. */
static void pace_progress(struct net_conn *c)
{
    if (c->pace_next && c->bytes_in >= c->pace_next) {
        c->pace_left_ms = c->timeout_ms;
        c->pace_next = c->bytes_in + NET_PACE_BYTES;
    }
}

static int timed_out(const struct net_conn *c, short events, struct err *e)
{
    int secs = (c->timeout_ms + 999) / 1000;

    if (c->pace_next && !(events & POLLOUT)) {
        err_set(e, ERR_TIMEOUT,
                "%s did not answer within %d seconds: less than %d KiB of the reply came in "
                "that time",
                c->host, secs, NET_PACE_BYTES / 1024);
        err_hint(e,
                 "the server or the network is stalled (a reply must bring %d KiB every "
                 "`timeout` seconds); raise `timeout` if the link is that slow",
                 NET_PACE_BYTES / 1024);
        return -1;
    }
    err_set(e, ERR_TIMEOUT, "%s did not %s within %d seconds", c->host,
            (events & POLLOUT) ? "accept data" : "answer", secs);
    err_hint(e, "the server or the network is stalled; raise `timeout` if the link is slow");
    return -1;
}

int net_interrupted(struct err *e)
{
    int sig = stop_requested();

    return err_set(e, ERR_INTERRUPTED, "stopped by %s",
                   sig == SIGINT   ? "SIGINT"
                   : sig == SIGHUP ? "SIGHUP"
                                   : "SIGTERM");
}

int net_wait(struct net_conn *c, short events, struct err *e)
{
    struct pollfd p = {.fd = c->fd, .events = events};

    for (;;) {
        int budget = wait_budget(c), r;
        int64_t t0;

        if (stop_requested()) return net_interrupted(e);
        if (budget < 0) break;
        t0 = c->pace_next ? monotime_ms() : 0;
        r = poll(&p, 1, budget);
        if (c->pace_next) c->pace_left_ms -= monotime_ms() - t0; /* only waiting counts */
        if (r > 0) return 0;
        if (r == 0) break;
        if (errno == EINTR) continue;
        return err_set(e, ERR_CONNECT, "poll: %s", strerror(errno));
    }
    return timed_out(c, events, e);
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void describe_addr(const struct addrinfo *ai, char *buf, size_t len)
{
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST))
        snprintf(buf, len, "?");
}

/* One non-blocking connect attempt bounded by the timeout; 0 when connected. */
static int connect_one(struct net_conn *c, const struct addrinfo *ai, int *last_errno,
                       struct err *e)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int soerr = 0, one = 1;
    socklen_t sl = sizeof soerr;

    if (fd < 0) {
        *last_errno = errno;
        return -1;
    }
    if (set_nonblocking(fd) < 0) goto fail;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) goto fail;
    c->fd = fd;
    if (net_wait(c, POLLOUT, e) < 0) {
        *last_errno = ETIMEDOUT;
        c->fd = -1;
        close(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    describe_addr(ai, c->peer, sizeof c->peer);
    return 0;
fail:
    *last_errno = errno;
    c->fd = -1;
    close(fd);
    return -1;
}

int net_connect(struct net_conn *c, const char *host, unsigned port, int timeout_ms, struct err *e)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL, *ai;
    char portstr[16];
    int rc, last_errno = 0;

    snprintf(c->host, sizeof c->host, "%s", host);
    c->timeout_ms = timeout_ms;
    if (!c->rbuf && !(c->rbuf = malloc(NET_RBUF_SIZE)))
        return err_set(e, ERR_INTERNAL, "out of memory");
    snprintf(portstr, sizeof portstr, "%u", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAIL || rc == EAI_AGAIN) {
        err_set(e, ERR_DNS, "cannot resolve host %s: %s", host, gai_strerror(rc));
        err_hint(e, "check `host` in the config, and that DNS works on this machine");
        return -1;
    }
    if (rc != 0) return err_set(e, ERR_DNS, "cannot resolve %s: %s", host, gai_strerror(rc));
    for (ai = res; ai; ai = ai->ai_next) {
        if (connect_one(c, ai, &last_errno, e) == 0) {
            freeaddrinfo(res);
            return 0;
        }
        if (stop_requested()) break;
    }
    freeaddrinfo(res);
    if (stop_requested()) return net_interrupted(e); /* not a connect failure */
    if (last_errno == ETIMEDOUT)
        err_set(e, ERR_CONNECT, "cannot connect to %s port %u: timed out after %d seconds", host,
                port, (timeout_ms + 999) / 1000);
    else
        err_set(e, ERR_CONNECT, "cannot connect to %s port %u: %s", host, port,
                strerror(last_errno));
    err_hint(e, "check `host`, `port` and `tls` (995 is POP3S, 110 is POP3 with STLS)");
    return -1;
}

/* Describe the OpenSSL error queue in one line. */
static void ssl_errstr(char *buf, size_t len)
{
    unsigned long code = ERR_get_error();

    if (code == 0)
        snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed");
    else
        ERR_error_string_n(code, buf, len);
    ERR_clear_error();
}

/* One read through TLS; >0 bytes, 0 end of stream, -1 error. */
static ssize_t tls_read_some(struct net_conn *c, void *buf, size_t n, struct err *e)
{
    for (;;) {
        int r, se;
        char why[256];

        ERR_clear_error();
        errno = 0;
        r = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r > 0) return r;
        se = SSL_get_error(c->ssl, r);
        if (se == SSL_ERROR_WANT_READ) {
            if (net_wait(c, POLLIN, e) < 0) return -1;
            continue;
        }
        if (se == SSL_ERROR_WANT_WRITE) {
            if (net_wait(c, POLLOUT, e) < 0) return -1;
            continue;
        }
        if (se == SSL_ERROR_ZERO_RETURN) return 0;
        if (se == SSL_ERROR_SYSCALL && errno == 0) return 0;
        ssl_errstr(why, sizeof why);
        if (strstr(why, "unexpected eof")) return 0;
        err_set(e, ERR_CONNECT, "TLS read from %s failed: %s", c->host, why);
        return -1;
    }
}

static ssize_t plain_read_some(struct net_conn *c, void *buf, size_t n, struct err *e)
{
    for (;;) {
        ssize_t r = read(c->fd, buf, n);

        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (net_wait(c, POLLIN, e) < 0) return -1;
            continue;
        }
        if (errno == ECONNRESET) return 0;
        err_set(e, ERR_CONNECT, "read from %s failed: %s", c->host, strerror(errno));
        return -1;
    }
}

ssize_t net_fill(struct net_conn *c, struct err *e)
{
    ssize_t r;

    if (c->rpos > 0 && c->rpos == c->rlen) c->rpos = c->rlen = 0;
    if (c->rlen == NET_RBUF_SIZE && c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == NET_RBUF_SIZE)
        return err_set(e, ERR_INTERNAL, "read buffer full (caller did not consume)");
    if (c->ssl)
        r = tls_read_some(c, c->rbuf + c->rlen, NET_RBUF_SIZE - c->rlen, e);
    else
        r = plain_read_some(c, c->rbuf + c->rlen, NET_RBUF_SIZE - c->rlen, e);
    if (r > 0) {
        c->rlen += (size_t)r;
        c->bytes_in += (uint64_t)r;
        pace_progress(c);
    }
    return r;
}

int net_getline(struct net_conn *c, const char **line, size_t *len, size_t max, struct err *e)
{
    size_t scanned = 0;

    for (;;) {
        unsigned char *start = c->rbuf + c->rpos;
        size_t avail = c->rlen - c->rpos;
        unsigned char *nl = memchr(start + scanned, '\n', avail - scanned);
        ssize_t r;

        if (nl) {
            size_t n = (size_t)(nl - start);
            if (n > max) break;
            c->rpos += n + 1;
            if (n > 0 && start[n - 1] == '\r') n--;
            *line = (const char *)start;
            *len = n;
            return 0;
        }
        scanned = avail;
        if (avail > max) break;
        r = net_fill(c, e);
        if (r < 0) return -1;
        if (r == 0) {
            err_set(e, ERR_PROTOCOL, "%s closed the connection%s", c->host,
                    avail ? " in the middle of a line" : "");
            return -1;
        }
    }
    return err_set(e, ERR_PROTOCOL, "%s sent a line longer than %zu bytes", c->host, max);
}

int net_has_pending_input(struct net_conn *c)
{
    char b;

    if (net_buffered(c) > 0) return 1;
    if (c->ssl && SSL_has_pending(c->ssl)) return 1;
    return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static ssize_t write_some(struct net_conn *c, const unsigned char *p, size_t n, struct err *e)
{
    for (;;) {
        if (c->ssl) {
            int r, se;
            char why[256];

            ERR_clear_error();
            errno = 0;
            r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (r > 0) return r;
            se = SSL_get_error(c->ssl, r);
            if (se == SSL_ERROR_WANT_WRITE || se == SSL_ERROR_WANT_READ) {
                if (net_wait(c, se == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, e) < 0) return -1;
                continue;
            }
            ssl_errstr(why, sizeof why);
            err_set(e, ERR_CONNECT, "TLS write to %s failed: %s", c->host, why);
            return -1;
        } else {
            ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);

            if (r >= 0) return r;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (net_wait(c, POLLOUT, e) < 0) return -1;
                continue;
            }
            err_set(e, ERR_CONNECT, "write to %s failed: %s", c->host, strerror(errno));
            return -1;
        }
    }
}

int net_write(struct net_conn *c, const void *buf, size_t len, struct err *e)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t r = write_some(c, p, len, e);

        if (r < 0) return -1;
        p += r;
        len -= (size_t)r;
        c->bytes_out += (uint64_t)r;
    }
    return 0;
}

void net_close(struct net_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->rbuf);
    c->rbuf = NULL;
    c->rpos = c->rlen = 0;
}
