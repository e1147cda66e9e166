/*
 * oauth2 — popfetch gets and keeps an account's OAuth2 access token itself
 * (`oauth2 microsoft|google|custom`): the one-time authorization
 * (--authorize: the authorization-code flow with PKCE S256 and a loopback
 * redirect, RFC 7636 and RFC 8252; or the device flow, RFC 8628), the
 * client-credentials flow (app-only access), and the refresh that keeps a
 * token for every login afterwards.
 *
 * Contract:
 *  - oauth2_login_token() is called with the account's lock held (the
 *    session's state_lock): one refresh at a time per account, however many
 *    runs start together. It reuses the stored access token until
 *    OAUTH2_EXPIRY_MARGIN seconds before it expires, then refreshes it (or
 *    asks anew with client credentials), and saves what the provider sent
 *    — a rotated refresh token included — durably before it returns
 *    (tokstore.h says how no crash loses the new one).
 *  - What goes wrong says what to do. Never authorized, authorized for
 *    another client or endpoint, no refresh token, a refresh token the
 *    provider refuses (invalid_grant: revoked, expired, Google's 7-day
 *    tokens for apps in "testing"): ERR_AUTH with the hint to run
 *    `popfetch --authorize ACCOUNT`. A refusal is recorded in the store:
 *    later runs fail the same way without asking the provider again, with
 *    info->repeated set (a daemon reports it once), until --authorize.
 *  - oauth2_authorize() shows the user what to do through ui->say (the
 *    address to open, or the device code), opens the address with xdg-open
 *    only when a desktop is there ($DISPLAY or $WAYLAND_DISPLAY), waits
 *    (stop-aware), then takes the account's lock — waiting for a running
 *    fetch to finish — to exchange and save.
 *  - Secrets (tokens, codes, the PKCE verifier, the client secret) are
 *    never in argv, the environment or a message, are **** in the -vv
 *    trace (grant.h) and are wiped after use. The client secret comes from
 *    `oauth2_client_secret` or `oauth2_client_secret_eval` (secret.h).
 */
#ifndef POPFETCH_OAUTH2_H
#define POPFETCH_OAUTH2_H

#include "conf.h"
#include "err.h"
#include "http.h"

#define OAUTH2_EXPIRY_MARGIN   300    /* refresh this long before the token expires */
#define OAUTH2_DEFAULT_EXPIRY  3600   /* when the provider does not say */
#define OAUTH2_BROWSER_WAIT_MS 600000 /* for the browser's answer */
#define OAUTH2_LOCK_WAIT_MS    300000 /* for a running fetch to release the account */
#define OAUTH2_HTTP_TIMEOUT_S  60     /* the default for each exchange */

struct oauth2_ctx {
    const struct account *a;
    const char *state_dir; /* the account's state directory and key: the token */
    const char *key;       /* store and the lock live there */
    http_trace_fn trace;   /* -vv, or NULL */
    void *trace_ctx;
};

struct oauth2_info {
    int fresh;    /* the token was obtained just now (not reused) */
    int repeated; /* the failure was already recorded by an earlier run */
};

/* An access token for a login, into *token (secret_free it). force: do not
 * reuse the stored one (the server refused it). */
int oauth2_login_token(const struct oauth2_ctx *c, int force, char **token,
                       struct oauth2_info *info, struct err *e);

struct oauth2_ui {
    void *ctx;
    void (*say)(void *ctx, const char *line);
};

/* --authorize (device: --authorize --device, or `oauth2_flow device`). */
int oauth2_authorize(const struct oauth2_ctx *c, int device, const struct oauth2_ui *ui,
                     struct err *e);

#endif
