/*
 * grant — the requests popfetch makes to an OAuth2 provider, each one HTTPS
 * POST of a form (http.h) whose JSON answer is checked by tokresp.h:
 *
 *   token endpoint (RFC 6749 4.1.3, 6, 4.4; RFC 7636; RFC 8628 3.4):
 *     grant_code                the authorization code, with the PKCE verifier
 *     grant_refresh             a refresh token
 *     grant_client_credentials  the client's own credentials (app-only access)
 *     grant_device_poll         one poll of the device flow
 *   device authorization endpoint (RFC 8628 3.1): grant_device_start
 *
 * Every request carries client_id, and client_secret when the account has
 * one (client_secret_post). In the -vv trace (the account's log_trace) the
 * codes, tokens, verifier and client secret are ****, in the request's form
 * and in the answer's JSON. Returns 0 with tokens, 1 with an OAuth error in
 * t->error (the caller decides what it means), -1 with e when no usable
 * answer came (connection, TLS, HTTP or JSON trouble; a redirect popfetch
 * does not follow names where it pointed).
 */
#ifndef POPFETCH_GRANT_H
#define POPFETCH_GRANT_H

#include "conf.h"
#include "err.h"
#include "http.h"
#include "provider.h"
#include "tokresp.h"

struct grant_ctx {
    const struct account *a;
    const struct provider *p;
    const char *client_secret; /* NULL: a public client */
    struct http_client http;
};

int grant_code(const struct grant_ctx *g, const char *code, const char *redirect_uri,
               const char *verifier, struct tokresp *t, struct err *e);
int grant_refresh(const struct grant_ctx *g, const char *refresh_token, struct tokresp *t,
                  struct err *e);
int grant_client_credentials(const struct grant_ctx *g, struct tokresp *t, struct err *e);
int grant_device_start(const struct grant_ctx *g, struct tokresp_device *d, struct tokresp *t,
                       struct err *e);
int grant_device_poll(const struct grant_ctx *g, const char *device_code, struct tokresp *t,
                      struct err *e);

#endif
