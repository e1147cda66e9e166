/*
 * net — one TCP connection to the server: resolve, connect (IPv6 and IPv4,
 * with a timeout), and buffered reads and writes that each wait at most
 * `timeout_ms` and never past an optional absolute deadline.
 *
 * Minimum progress (the pace rule), for replies of any length: between
 * net_pace_begin() and net_pace_end() the reads may wait at most
 * `timeout_ms` in all for each NET_PACE_BYTES that arrive; every
 * NET_PACE_BYTES received renews the allowance. Only time spent waiting
 * for the server counts (not the caller's own work between reads, e.g. a
 * slow MDA), so a server that trickles a byte every few seconds is cut off
 * (ERR_TIMEOUT) after `timeout_ms`, while one that keeps sending at least
 * NET_PACE_BYTES per `timeout_ms` is never cut off.
 *
 * After tls_start() the same connection carries TLS: every read and write
 * goes through OpenSSL, the caller does not notice. Reads fill one large
 * buffer (no syscall per line); lines and raw spans are handed out of it.
 * Returned line pointers stay valid until the next read call.
 */
#ifndef POPFETCH_NET_H
#define POPFETCH_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "err.h"

#define NET_RBUF_SIZE  (128 * 1024)
#define NET_PACE_BYTES (64 * 1024)

struct net_conn {
    int fd;
    SSL *ssl;             /* set by tls_start(); NULL on a clear connection */
    int timeout_ms;       /* bound on every single wait */
    int64_t deadline;     /* absolute monotonic ms bound on the current command, 0 = none */
    int64_t pace_left_ms; /* the pace rule: waiting allowed until pace_next arrives */
    uint64_t pace_next;   /* bytes_in that renews the allowance; 0 = rule off */
    unsigned char *rbuf;
    size_t rpos, rlen; /* unread data is rbuf[rpos .. rlen) */
    char peer[64];     /* numeric address of the peer, for messages */
    char host[256];    /* the name we connected to */
    uint64_t bytes_in, bytes_out;
};

/* Set an ERR_INTERRUPTED error naming the signal stop.h recorded. */
int net_interrupted(struct err *e);

void net_init(struct net_conn *c);

/* Resolve host and connect to port, trying each address in turn. */
int net_connect(struct net_conn *c, const char *host, unsigned port, int timeout_ms, struct err *e);

/* Bound everything until net_clear_deadline() to `ms` from now. */
void net_set_deadline(struct net_conn *c, int64_t ms);
void net_clear_deadline(struct net_conn *c);

/* Start and stop the pace rule (see above). */
void net_pace_begin(struct net_conn *c);
void net_pace_end(struct net_conn *c);

/* Wait until the socket is readable (POLLIN) or writable (POLLOUT). */
int net_wait(struct net_conn *c, short events, struct err *e);

/* Read more bytes into the buffer. Returns bytes added, 0 at end of stream,
 * -1 on error. Fails if the buffer is full of unread data. */
ssize_t net_fill(struct net_conn *c, struct err *e);

/* Next line without its CR LF (a bare LF ends a line too). A line longer than
 * max is an error; end of stream before a line end is an error. */
int net_getline(struct net_conn *c, const char **line, size_t *len, size_t max, struct err *e);

/* Direct access to unread buffered bytes, for the multi-line stream. */
static inline unsigned char *net_unread(struct net_conn *c, size_t *len)
{
    *len = c->rlen - c->rpos;
    return c->rbuf + c->rpos;
}

static inline void net_consume(struct net_conn *c, size_t n)
{
    c->rpos += n;
}

static inline size_t net_buffered(const struct net_conn *c)
{
    return c->rlen - c->rpos;
}

/* Is there anything the server sent that we have not read (buffered here,
 * inside OpenSSL, or waiting in the socket)? Does not block. */
int net_has_pending_input(struct net_conn *c);

int net_write(struct net_conn *c, const void *buf, size_t len, struct err *e);

void net_close(struct net_conn *c);

#endif
