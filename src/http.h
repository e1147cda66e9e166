/*
 * http — one HTTPS request and its response, on popfetch's own net.c and
 * tls.c: the endpoints of an OAuth2 provider (token, device authorization).
 *
 * Rules it keeps: https only; the server's certificate and host name are
 * verified as for POP3 (tls.c, strict use; a trust file or the system
 * store); TLS 1.2 or newer. One request per connection (Connection: close),
 * the whole exchange (connect, handshake, request, response) bounded by the
 * timeout, the response parsed by httpmsg.c with its bounds (head lines,
 * body_max). Redirects: a 307 or 308 to the same host and port is followed
 * (at most HTTP_MAX_REDIRECTS times, the same method and body); any other
 * redirect, or one to another host, is not followed: the response is
 * returned as it is, with `redirect_refused` set and the Location kept, so
 * the caller can say where it pointed.
 *
 * The -vv trace (the caller's hook, log_trace) sees the request line, the
 * headers and the form with secret fields as ****, and the response's status
 * line and headers; the body is the caller's to trace (it knows which of
 * its fields are secrets). The form as sent and every buffer that held the
 * answer (the connection's read buffer, the parser's line, the body) are
 * wiped before they are freed: they hold codes and tokens. Errors are the
 * layers' own: ERR_DNS, ERR_CONNECT,
 * ERR_TLS, ERR_TIMEOUT, ERR_PROTOCOL for a response that cannot be read.
 * Nothing here prints or exits.
 */
#ifndef POPFETCH_HTTP_H
#define POPFETCH_HTTP_H

#include <stddef.h>

#include "err.h"
#include "httpmsg.h"

#define HTTP_MAX_REDIRECTS 3
#define HTTP_BODY_MAX      (512 * 1024) /* default bound on a response body */

typedef void (*http_trace_fn)(void *ctx, char dir, const char *line, size_t len);

struct http_client {
    const char *trust_file; /* PEM file of trusted CAs; NULL = the system store */
    int timeout_ms;         /* the whole exchange */
    http_trace_fn trace;    /* -vv, or NULL */
    void *trace_ctx;
};

struct http_request {
    const char *method; /* "POST" (a form) or "GET" */
    const char *url;    /* https://... */
    const char *what;   /* the config key that named the URL, for messages */
    const struct httpmsg_field *form;
    size_t nform;
    size_t body_max; /* 0 = HTTP_BODY_MAX */
};

struct http_result {
    struct httpmsg_response r; /* free with httpmsg_response_free */
    int redirect_refused;      /* a 3xx that was not followed (r.location says where) */
};

/* Send the request and read the whole response into res (also on a non-2xx
 * status: that is the caller's to judge). -1 with e when no complete
 * response could be had. */
int http_exchange(const struct http_client *c, const struct http_request *rq,
                  struct http_result *res, struct err *e);

#endif
