/*
 * grant — token and device authorization requests. See grant.h.
 */
#include <stdio.h>
#include <string.h>

#include "grant.h"

#define GRANT_FIELDS_MAX 8
#define TRACE_BODY_MAX   1200

struct form {
    struct httpmsg_field f[GRANT_FIELDS_MAX];
    size_t n;
};

static void add(struct form *fm, const char *name, const char *value, int secret)
{
    if (value && fm->n < GRANT_FIELDS_MAX)
        fm->f[fm->n++] = (struct httpmsg_field){name, value, secret};
}

/* The client's credentials go with every request. */
static void add_client(const struct grant_ctx *g, struct form *fm)
{
    add(fm, "client_id", g->a->oauth2_client_id, 0);
    add(fm, "client_secret", g->client_secret, 1);
}

/* POST the form to url; the answer's body, traced masked, in res. */
static int post(const struct grant_ctx *g, const char *url, const char *what, const struct form *fm,
                struct http_result *res, struct err *e)
{
    struct http_request rq = {
        .method = "POST", .url = url, .what = what, .form = fm->f, .nform = fm->n};

    if (http_exchange(&g->http, &rq, res, e) < 0) {
        err_prefix(e, "%s's %s", g->p->name, what);
        return -1;
    }
    if (g->http.trace) {
        char shown[TRACE_BODY_MAX];
        tokresp_masked((const char *)res->r.body, res->r.body_len, shown, sizeof shown);
        g->http.trace(g->http.trace_ctx, 'S', shown, strlen(shown));
    }
    if (res->redirect_refused) {
        char where[120];
        err_quote(where, sizeof where, res->r.location, strlen(res->r.location));
        err_set(e, ERR_PROTOCOL, "%s's %s answered HTTP %d, a redirect to \"%s\"%s", g->p->name,
                what, res->r.status, where, res->r.location_too_long ? " (cut)" : "");
        err_hint(e,
                 "popfetch follows only 307/308 redirects to the same host; set `%s` to the "
                 "endpoint itself",
                 strcmp(what, "device authorization endpoint") ? "oauth2_token_url"
                                                               : "oauth2_device_url");
        httpmsg_response_free(&res->r);
        return -1;
    }
    return 0;
}

static int token_request(const struct grant_ctx *g, const struct form *fm, struct tokresp *t,
                         struct err *e)
{
    struct http_result res;
    int rc;

    if (post(g, g->p->token_url, "token endpoint", fm, &res, e) < 0) return -1;
    rc = tokresp_parse(res.r.status, (const char *)res.r.body, res.r.body_len, t, e);
    if (rc < 0) err_prefix(e, "%s's token endpoint", g->p->name);
    httpmsg_response_free(&res.r);
    return rc;
}

int grant_code(const struct grant_ctx *g, const char *code, const char *redirect_uri,
               const char *verifier, struct tokresp *t, struct err *e)
{
    struct form fm = {.n = 0};

    add(&fm, "grant_type", "authorization_code", 0);
    add(&fm, "code", code, 1);
    add(&fm, "redirect_uri", redirect_uri, 0);
    add(&fm, "code_verifier", verifier, 1);
    add_client(g, &fm);
    return token_request(g, &fm, t, e);
}

int grant_refresh(const struct grant_ctx *g, const char *refresh_token, struct tokresp *t,
                  struct err *e)
{
    struct form fm = {.n = 0};

    add(&fm, "grant_type", "refresh_token", 0);
    add(&fm, "refresh_token", refresh_token, 1);
    add_client(g, &fm);
    return token_request(g, &fm, t, e);
}

int grant_client_credentials(const struct grant_ctx *g, struct tokresp *t, struct err *e)
{
    struct form fm = {.n = 0};

    add(&fm, "grant_type", "client_credentials", 0);
    if (g->p->scope[0]) add(&fm, "scope", g->p->scope, 0);
    add_client(g, &fm);
    return token_request(g, &fm, t, e);
}

int grant_device_start(const struct grant_ctx *g, struct tokresp_device *d, struct tokresp *t,
                       struct err *e)
{
    struct form fm = {.n = 0};
    struct http_result res;
    int rc;

    if (g->p->scope[0]) add(&fm, "scope", g->p->scope, 0);
    add_client(g, &fm);
    if (post(g, g->p->device_url, "device authorization endpoint", &fm, &res, e) < 0) return -1;
    rc = tokresp_parse_device(res.r.status, (const char *)res.r.body, res.r.body_len, d, t, e);
    if (rc < 0) err_prefix(e, "%s's device authorization endpoint", g->p->name);
    httpmsg_response_free(&res.r);
    return rc;
}

int grant_device_poll(const struct grant_ctx *g, const char *device_code, struct tokresp *t,
                      struct err *e)
{
    struct form fm = {.n = 0};

    add(&fm, "grant_type", "urn:ietf:params:oauth:grant-type:device_code", 0);
    add(&fm, "device_code", device_code, 1);
    add_client(g, &fm);
    return token_request(g, &fm, t, e);
}
