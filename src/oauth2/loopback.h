/*
 * loopback — where the browser brings the authorization code back (RFC 8252
 * 7.3): a listener on 127.0.0.1 only (port 0: one the kernel picks, or
 * oauth2_redirect_port), redirect URI http://127.0.0.1:PORT/.
 *
 * It waits, bounded by a deadline and stop-aware (stop.h), for the one
 * request for "/" that carries the provider's answer, serving several
 * connections at once (a browser opens spare ones) with a bounded request
 * head each; other paths get 404. The answer's `state` must equal ours
 * (compared in constant time) or the flow is refused (ERR_AUTH: a request
 * that is not the answer to this authorization, e.g. forged by a page in
 * the browser); an `error` from the provider is ERR_AUTH with its
 * description; else the `code` is handed back. The browser gets a short
 * page saying what happened (server text HTML-escaped). Nothing printed.
 */
#ifndef POPFETCH_LOOPBACK_H
#define POPFETCH_LOOPBACK_H

#include <stddef.h>

#include "err.h"

#define LOOPBACK_HEAD_MAX 8192 /* a request head */
#define LOOPBACK_CLIENTS  8    /* connections served at once */
#define LOOPBACK_CODE_MAX 4096 /* an authorization code */

struct loopback {
    int fd;
    unsigned port;
    char redirect_uri[64]; /* http://127.0.0.1:PORT/ */
};

/* Listen on 127.0.0.1:port (0: any free port). */
int loopback_open(struct loopback *l, unsigned port, struct err *e);

/* Wait up to timeout_ms for the answer; *code gets a fresh copy (wipe and
 * free it). `account` names the account on the browser's page. */
int loopback_wait(struct loopback *l, const char *state, int timeout_ms, const char *account,
                  char **code, struct err *e);

void loopback_close(struct loopback *l);

/* Pure: the target of a request head ("GET /?a=b HTTP/1.1\r\n...").
 * 1 a GET of "/" (its query, without '?', in query[qmax]), 0 another
 * path or method, -1 not a request line (a target with a byte that is not
 * printable ASCII included). */
int loopback_parse_request(const char *head, size_t len, char *query, size_t qmax);

/* Pure: what a request for "/" with this query means. 0: *code set (a
 * fresh copy); -1: e says why (ERR_AUTH). */
int loopback_check_answer(const char *query, const char *state, char **code, struct err *e);

#endif
