/*
 * loopback — the redirect listener. See loopback.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/crypto.h>

#include "httpmsg.h"
#include "loopback.h"
#include "monotime.h"
#include "net.h"
#include "stop.h"

#define CLIENT_IDLE_MS 30000 /* a connection that sends no whole request */

struct client {
    int fd;
    int64_t since;
    size_t len;
    char head[LOOPBACK_HEAD_MAX + 1];
};

int loopback_open(struct loopback *l, unsigned port, struct err *e)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    socklen_t sl = sizeof sa;

    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (l->fd < 0) return err_set(e, ERR_INTERNAL, "cannot make a socket: %s", strerror(errno));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l->fd, 16) < 0 ||
        getsockname(l->fd, (struct sockaddr *)&sa, &sl) < 0) {
        err_set(e, ERR_USAGE, "cannot listen on 127.0.0.1 port %u for the browser: %s", port,
                strerror(errno));
        if (port) err_hint(e, "another program uses that port: change `oauth2_redirect_port`");
        close(l->fd);
        l->fd = -1;
        return -1;
    }
    l->port = ntohs(sa.sin_port);
    snprintf(l->redirect_uri, sizeof l->redirect_uri, "http://127.0.0.1:%u/", l->port);
    return 0;
}

void loopback_close(struct loopback *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}

/* ---- the request --------------------------------------------------------- */

int loopback_parse_request(const char *head, size_t len, char *query, size_t qmax)
{
    const char *end = memchr(head, '\n', len), *sp1, *sp2, *q;
    size_t n, tlen;

    if (!end) return -1;
    n = (size_t)(end - head);
    if (n && head[n - 1] == '\r') n--;
    sp1 = memchr(head, ' ', n);
    if (!sp1) return -1;
    sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - head));
    if (!sp2 || sp2 == sp1 + 1 || (size_t)(head + n - (sp2 + 1)) != 8 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return -1;
    tlen = (size_t)(sp2 - (sp1 + 1));
    for (size_t i = 0; i < tlen; i++) /* a target is printable ASCII (RFC 9112 3.2) */
        if ((unsigned char)sp1[1 + i] < 0x21 || (unsigned char)sp1[1 + i] > 0x7e) return -1;
    if ((size_t)(sp1 - head) != 3 || memcmp(head, "GET", 3) != 0) return 0;
    q = memchr(sp1 + 1, '?', tlen);
    if ((q ? (size_t)(q - (sp1 + 1)) : tlen) != 1 || sp1[1] != '/') return 0;
    n = q ? tlen - (size_t)(q + 1 - (sp1 + 1)) : 0;
    if (n + 1 > qmax) return -1;
    if (n) memcpy(query, q + 1, n);
    query[n] = '\0';
    return 1;
}

int loopback_check_answer(const char *query, const char *state, char **code, struct err *e)
{
    size_t qlen = strlen(query), slen = strlen(state);
    char got[LOOPBACK_CODE_MAX + 1], desc[512], shown[256], what[80];
    int rc;

    *code = NULL;
    rc = httpmsg_query_get(query, qlen, "state", got, sizeof got);
    if (rc != 1 || strlen(got) != slen || CRYPTO_memcmp(got, state, slen) != 0) {
        OPENSSL_cleanse(got, sizeof got);
        err_set(e, ERR_AUTH,
                "refused an answer on the loopback listener whose `state` is not "
                "this authorization's (a forged or stale request)");
        err_hint(e, "run `popfetch --authorize` again and use the address it prints this time");
        return -1;
    }
    if ((rc = httpmsg_query_get(query, qlen, "error", got, sizeof got)) != 0) {
        if (rc < 0 || httpmsg_query_get(query, qlen, "error_description", desc, sizeof desc) < 0)
            desc[0] = '\0';
        err_quote(shown, sizeof shown, desc, strlen(desc));
        err_quote(what, sizeof what, rc < 0 ? "(unreadable)" : got, rc < 0 ? 12 : strlen(got));
        err_set(e, ERR_AUTH, "the provider did not authorize popfetch: %s%s%s%s", what,
                shown[0] ? " (" : "", shown, shown[0] ? ")" : "");
        err_hint(e, "sign in and consent in the browser again (run --authorize again); "
                    "`access_denied` means the consent was declined");
        OPENSSL_cleanse(got, sizeof got);
        return -1;
    }
    rc = httpmsg_query_get(query, qlen, "code", got, sizeof got);
    if (rc != 1 || !got[0]) {
        OPENSSL_cleanse(got, sizeof got);
        return err_set(e, ERR_AUTH,
                       "the answer on the loopback listener carries no usable "
                       "authorization code");
    }
    *code = strdup(got);
    OPENSSL_cleanse(got, sizeof got);
    return *code ? 0 : err_set(e, ERR_INTERNAL, "out of memory");
}

/* ---- the browser's connections ------------------------------------------------ */

static void html_escape(const char *s, char *out, size_t max)
{
    size_t o = 0;

    for (; *s && o + 7 < max; s++) {
        const char *r = *s == '<'   ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '&' ? "&amp;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        if (r) {
            o += (size_t)snprintf(out + o, max - o, "%s", r);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static void reply(int fd, int status, const char *title, const char *text)
{
    char esc_t[256], esc_x[6 * (ERR_MSG_MAX + 100)], body[sizeof esc_x + 512],
        msg[sizeof body + 256];
    int blen, mlen;

    html_escape(title, esc_t, sizeof esc_t);
    html_escape(text, esc_x, sizeof esc_x);
    blen = snprintf(body, sizeof body,
                    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>%s</title></head>"
                    "<body><h1>%s</h1><p>%s</p></body></html>\n",
                    esc_t, esc_t, esc_x);
    if (blen < 0 || (size_t)blen >= sizeof body) blen = 0;
    mlen = snprintf(msg, sizeof msg,
                    "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                    "Content-Length: %d\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n%s",
                    status,
                    status == 200   ? "OK"
                    : status == 404 ? "Not Found"
                                    : "Bad Request",
                    blen, blen ? body : "");
    if (mlen > 0 && (size_t)mlen < sizeof msg) {
        ssize_t w = send(fd, msg, (size_t)mlen, MSG_NOSIGNAL);
        (void)w; /* the browser's page is a courtesy: a failure changes nothing */
    }
}

/* A request head is complete: 1 the answer was handled (rc in *rc), 0 not
 * the answer (the connection was answered and is closed). */
static int handle(struct client *c, const char *state, const char *account, char **code, int *rc,
                  struct err *e)
{
    char query[LOOPBACK_HEAD_MAX + 1], text[ERR_MSG_MAX + 100];
    int r = loopback_parse_request(c->head, c->len, query, sizeof query);

    if (r <= 0) {
        reply(c->fd, r < 0 ? 400 : 404, "popfetch", "Not the authorization answer.");
        return 0;
    }
    *rc = loopback_check_answer(query, state, code, e);
    OPENSSL_cleanse(query, sizeof query);
    if (*rc == 0) {
        snprintf(text, sizeof text,
                 "popfetch received the authorization for account %s. You can close this "
                 "window.",
                 account);
        reply(c->fd, 200, "popfetch: authorized", text);
    } else {
        snprintf(text, sizeof text, "%s", e->msg);
        reply(c->fd, 400, "popfetch: authorization failed", text);
    }
    return 1;
}

static void drop(struct client *c)
{
    if (c->fd >= 0) close(c->fd);
    OPENSSL_cleanse(c->head, c->len);
    c->fd = -1;
    c->len = 0;
}

static void accept_one(struct loopback *l, struct client *cl)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) return;
    for (int i = 0; i < LOOPBACK_CLIENTS; i++) {
        if (cl[i].fd < 0) {
            cl[i].fd = fd;
            cl[i].len = 0;
            cl[i].since = monotime_ms();
            return;
        }
    }
    close(fd); /* too many at once: the browser retries */
}

/* Read what a client sent; 1 when its head is complete, -1 to drop it. */
static int read_client(struct client *c)
{
    ssize_t r = recv(c->fd, c->head + c->len, LOOPBACK_HEAD_MAX - c->len, 0);

    if (r < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r == 0) return -1;
    c->len += (size_t)r;
    c->head[c->len] = '\0';
    if (memmem(c->head, c->len, "\r\n\r\n", 4) || memmem(c->head, c->len, "\n\n", 2)) return 1;
    if (c->len == LOOPBACK_HEAD_MAX) {
        reply(c->fd, 400, "popfetch", "Request too large.");
        return -1;
    }
    return 0;
}

/* One round of poll over the listener and the clients. */
static int serve(struct loopback *l, struct client *cl, int wait_ms, const char *state,
                 const char *account, char **code, int *rc, struct err *e)
{
    struct pollfd p[LOOPBACK_CLIENTS + 1];
    int n;

    p[0] = (struct pollfd){.fd = l->fd, .events = POLLIN};
    for (int i = 0; i < LOOPBACK_CLIENTS; i++)
        p[i + 1] = (struct pollfd){.fd = cl[i].fd, .events = POLLIN};
    n = stop_poll(p, LOOPBACK_CLIENTS + 1, wait_ms);
    if (n < 0 && stop_requested()) {
        *rc = net_interrupted(e);
        return 1;
    }
    if (n <= 0) return 0;
    if (p[0].revents) accept_one(l, cl);
    for (int i = 0; i < LOOPBACK_CLIENTS; i++) {
        int r;
        if (cl[i].fd < 0 || !p[i + 1].revents) continue;
        if ((r = read_client(&cl[i])) == 0) continue;
        if (r == 1 && handle(&cl[i], state, account, code, rc, e)) {
            drop(&cl[i]);
            return 1;
        }
        drop(&cl[i]);
    }
    return 0;
}

int loopback_wait(struct loopback *l, const char *state, int timeout_ms, const char *account,
                  char **code, struct err *e)
{
    struct client *cl = calloc(LOOPBACK_CLIENTS, sizeof *cl);
    int64_t end = monotime_ms() + timeout_ms;
    int rc = -1, done = 0;

    *code = NULL;
    if (!cl) return err_set(e, ERR_INTERNAL, "out of memory");
    for (int i = 0; i < LOOPBACK_CLIENTS; i++) cl[i].fd = -1;
    while (!done) {
        int64_t now = monotime_ms(), left = end - now;
        if (left <= 0) {
            err_set(e, ERR_AUTH, "no answer from the browser within %d minutes",
                    timeout_ms / 60000);
            err_hint(e, "run `popfetch --authorize` again and finish the sign-in in time");
            break;
        }
        for (int i = 0; i < LOOPBACK_CLIENTS; i++)
            if (cl[i].fd >= 0 && now - cl[i].since > CLIENT_IDLE_MS) drop(&cl[i]);
        done = serve(l, cl, left > 1000 ? 1000 : (int)left, state, account, code, &rc, e);
    }
    for (int i = 0; i < LOOPBACK_CLIENTS; i++) drop(&cl[i]);
    free(cl);
    return rc;
}
