/*
 * http — one HTTPS exchange on net.c and tls.c. See http.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http.h"
#include "net.h"
#include "tls.h"
#include "version.h"

static void trace(const struct http_client *c, char dir, const char *line, size_t len)
{
    if (c->trace) c->trace(c->trace_ctx, dir, line, len);
}

static void trace_response_line(void *ctx, const char *line, size_t len)
{
    trace(ctx, 'S', line, len);
}

/* "Host: h" with the port when it is not 443; IPv6 literals in brackets. */
static void host_header(const struct httpmsg_url *u, char *buf, size_t len)
{
    int v6 = strchr(u->host, ':') != NULL;

    if (u->port == 443)
        snprintf(buf, len, "Host: %s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
    else
        snprintf(buf, len, "Host: %s%s%s:%u", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}

/* The request head into buf, each line traced; the form goes after it. */
static size_t build_head(const struct http_client *c, const struct http_request *rq,
                         const struct httpmsg_url *u, size_t body_len, char *buf, size_t cap)
{
    char lines[7][HTTPMSG_PATH_MAX + 64];
    size_t n = 0, o = 0;

    snprintf(lines[n++], sizeof lines[0], "%s %s HTTP/1.1", rq->method, u->path);
    host_header(u, lines[n++], sizeof lines[0]);
    snprintf(lines[n++], sizeof lines[0], "User-Agent: popfetch/%s", POPFETCH_VERSION);
    snprintf(lines[n++], sizeof lines[0], "Accept: application/json");
    snprintf(lines[n++], sizeof lines[0], "Connection: close");
    if (rq->form) {
        snprintf(lines[n++], sizeof lines[0], "Content-Type: application/x-www-form-urlencoded");
        snprintf(lines[n++], sizeof lines[0], "Content-Length: %zu", body_len);
    }
    for (size_t i = 0; i < n && o < cap; i++) {
        trace(c, 'C', lines[i], strlen(lines[i]));
        o += (size_t)snprintf(buf + o, cap - o, "%s\r\n", lines[i]);
    }
    if (o < cap) o += (size_t)snprintf(buf + o, cap - o, "\r\n");
    return o < cap ? o : cap - 1; /* cannot happen: every line fits (cap) */
}

static int send_request(struct net_conn *nc, const struct http_client *c,
                        const struct http_request *rq, const struct httpmsg_url *u, struct err *e)
{
    char *body = NULL, *head;
    size_t blen = 0, hlen, cap = 8 * (HTTPMSG_PATH_MAX + 64);
    int rc;

    if (rq->form) {
        char *shown = httpmsg_form_encode(rq->form, rq->nform, 1);
        if (!(body = httpmsg_form_encode(rq->form, rq->nform, 0)) || !shown) {
            httpmsg_wipe_free(body);
            free(shown);
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
        blen = strlen(body);
        if (!(head = malloc(cap))) {
            httpmsg_wipe_free(body);
            free(shown);
            return err_set(e, ERR_INTERNAL, "out of memory");
        }
        hlen = build_head(c, rq, u, blen, head, cap);
        trace(c, 'C', shown, strlen(shown));
        free(shown);
    } else {
        if (!(head = malloc(cap))) return err_set(e, ERR_INTERNAL, "out of memory");
        hlen = build_head(c, rq, u, 0, head, cap);
    }
    rc = net_write(nc, head, hlen, e);
    if (rc == 0 && blen) rc = net_write(nc, body, blen, e);
    free(head);
    httpmsg_wipe_free(body);
    return rc;
}

static int read_response(struct net_conn *nc, const struct http_client *c, size_t body_max,
                         struct httpmsg_response *r, struct err *e)
{
    struct httpmsg_parser *p = malloc(sizeof *p);
    int rc = 0;

    if (!p) return err_set(e, ERR_INTERNAL, "out of memory");
    httpmsg_parser_init(p, r, body_max, trace_response_line, (void *)c);
    while (rc == 0 && !httpmsg_parser_done(p)) {
        size_t avail, used;
        unsigned char *b = net_unread(nc, &avail);
        ssize_t got;

        if (avail) {
            rc = httpmsg_parser_feed(p, b, avail, &used, e);
            net_consume(nc, used);
            if (rc < 0 || httpmsg_parser_done(p)) break;
        }
        if ((got = net_fill(nc, e)) < 0)
            rc = -1;
        else if (got == 0)
            rc = httpmsg_parser_eof(p, e);
    }
    OPENSSL_cleanse(p->line, sizeof p->line);
    free(p);
    if (rc < 0 && e->kind == ERR_PROTOCOL) err_prefix(e, "%s", nc->host);
    return rc;
}

/* One request on one connection. */
static int exchange_once(const struct http_client *c, const struct http_request *rq,
                         const struct httpmsg_url *u, struct httpmsg_response *r, struct err *e)
{
    struct net_conn nc;
    struct tls_opts to = {.verify = 1, .trust_file = c->trust_file, .min_version = 12};
    struct tls_peer_info pi;
    size_t body_max = rq->body_max ? rq->body_max : HTTP_BODY_MAX;
    int rc;

    net_init(&nc);
    rc = net_connect(&nc, u->host, u->port, c->timeout_ms, e);
    if (rc == 0) rc = tls_start(&nc, &to, &pi, e);
    if (rc == 0) {
        /* the request and the whole answer within the timeout */
        net_set_deadline(&nc, c->timeout_ms);
        rc = send_request(&nc, c, rq, u, e);
    }
    if (rc == 0) rc = read_response(&nc, c, body_max, r, e);
    if (nc.rbuf) OPENSSL_cleanse(nc.rbuf, NET_RBUF_SIZE); /* the raw answer: tokens */
    net_close(&nc);
    return rc;
}

/* Where a redirect points, as a URL of the same origin; -1 if it is not
 * one popfetch follows. */
static int redirect_target(const struct httpmsg_url *from, const struct httpmsg_response *r,
                           struct httpmsg_url *to)
{
    struct err ignored;

    if (r->status != 307 && r->status != 308) return -1;
    if (r->location[0] == '/' && r->location[1] != '/') {
        *to = *from;
        if (strlen(r->location) >= sizeof to->path) return -1;
        snprintf(to->path, sizeof to->path, "%s", r->location);
        return 0;
    }
    if (httpmsg_url_parse(r->location, "Location", to, &ignored) < 0) return -1;
    return httpmsg_same_origin(from, to) ? 0 : -1;
}

int http_exchange(const struct http_client *c, const struct http_request *rq,
                  struct http_result *res, struct err *e)
{
    struct httpmsg_url u, next;

    memset(res, 0, sizeof *res);
    if (httpmsg_url_parse(rq->url, rq->what, &u, e) < 0) return -1;
    for (int hops = 0;; hops++) {
        if (exchange_once(c, rq, &u, &res->r, e) < 0) {
            httpmsg_response_free(&res->r);
            return -1;
        }
        if (res->r.status < 300 || res->r.status > 399) return 0;
        if (hops == HTTP_MAX_REDIRECTS || redirect_target(&u, &res->r, &next) < 0) {
            res->redirect_refused = 1;
            return 0;
        }
        u = next;
        httpmsg_response_free(&res->r);
    }
}
