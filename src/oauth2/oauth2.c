/*
 * oauth2 — tokens for logins, and the one-time authorization. See oauth2.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "child.h"
#include "grant.h"
#include "loopback.h"
#include "monotime.h"
#include "net.h"
#include "oauth2.h"
#include "provider.h"
#include "sasl.h"
#include "secret.h"
#include "state.h"
#include "stop.h"
#include "tokstore.h"

/* ---- small helpers ---------------------------------------------------------- */

static void wipe_free(char *s)
{
    secret_free(s);
}

static char *copy(const char *s, struct err *e)
{
    char *c = strdup(s);

    if (!c) err_set(e, ERR_INTERNAL, "out of memory");
    return c;
}

/* base64url without padding (RFC 7636 appendix A) of n bytes into out
 * (room for 4*(n+2)/3+1). */
static void b64url(const unsigned char *in, size_t n, char *out)
{
    size_t len = sasl_b64_encode(in, n, out);

    while (len && out[len - 1] == '=') out[--len] = '\0';
    for (char *c = out; *c; c++) *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

/* A random string of n bytes' entropy, base64url. */
static int random_string(size_t n, char *out, struct err *e)
{
    unsigned char raw[64];

    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return err_set(e, ERR_INTERNAL, "no random bytes for OAuth2");
    b64url(raw, n, out);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

/* The PKCE S256 challenge of a verifier. */
static int pkce_challenge(const char *verifier, char *out, struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL) != 1)
        return err_set(e, ERR_INTERNAL, "SHA-256 is unavailable");
    b64url(md, n, out);
    return 0;
}

/* The client secret, when the account has one (NULL otherwise). */
static int client_secret(const struct account *a, char **out, struct err *e)
{
    *out = NULL;
    if (a->oauth2_client_secret) return (*out = copy(a->oauth2_client_secret, e)) ? 0 : -1;
    if (a->oauth2_client_secret_eval) {
        struct secret_cmd sc = {.what = "oauth2_client_secret_eval",
                                .cmd = a->oauth2_client_secret_eval,
                                .timeout_s = a->passwordeval_timeout,
                                .timeout_key = "passwordeval_timeout"};
        return secret_eval(&sc, out, e);
    }
    return 0;
}

/* What a grant request needs; the client secret is fetched by the caller
 * when a request is about to be made. */
static void grant_setup(const struct oauth2_ctx *c, const struct provider *p, struct grant_ctx *g)
{
    const struct account *a = c->a;

    memset(g, 0, sizeof *g);
    g->a = a;
    g->p = p;
    g->http.trust_file = a->oauth2_trust_file;
    g->http.timeout_ms = (int)(a->timeout ? a->timeout : OAUTH2_HTTP_TIMEOUT_S) * 1000;
    g->http.trace = c->trace;
    g->http.trace_ctx = c->trace_ctx;
}

/* ---- the store ---------------------------------------------------------------- */

/* Were the stored tokens issued to this client by this endpoint? */
static int store_matches(const struct tokstore *s, const struct account *a,
                         const struct provider *p)
{
    return s->client_id && s->token_url && !strcmp(s->client_id, a->oauth2_client_id) &&
           !strcmp(s->token_url, p->token_url);
}

static int still_valid(const struct tokstore *s)
{
    return s->access_token && s->expires_at > (long long)time(NULL) + OAUTH2_EXPIRY_MARGIN;
}

/* Put what the provider sent into the store (a refresh token only when one
 * came: a provider that does not rotate sends none on refresh). */
static int take_tokens(struct tokstore *s, const struct account *a, const struct provider *p,
                       const struct tokresp *t, int replace_refresh, struct err *e)
{
    long long life = t->expires_in >= 0 ? t->expires_in : OAUTH2_DEFAULT_EXPIRY;

    if (tokstore_set(&s->client_id, a->oauth2_client_id) < 0 ||
        tokstore_set(&s->token_url, p->token_url) < 0 ||
        tokstore_set(&s->access_token, t->access_token) < 0 ||
        ((t->refresh_token || replace_refresh) &&
         tokstore_set(&s->refresh_token, t->refresh_token) < 0) ||
        tokstore_set(&s->refused, NULL) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    s->expires_at = (long long)time(NULL) + life;
    s->refused_at = 0;
    return 0;
}

static void hint_authorize(const struct account *a, struct err *e, const char *extra)
{
    err_hint(e, "run `popfetch --authorize %s`%s%s", a->name, extra ? "; " : "",
             extra ? extra : "");
}

/* ---- refusals ------------------------------------------------------------------ */

/* "invalid_grant (AADSTS70008: ...)" */
static void describe(const struct tokresp *t, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s", t->error, t->error_description[0] ? " (" : "",
             t->error_description, t->error_description[0] ? ")" : "");
}

/* The refresh token was refused: remembered, so that later runs say so
 * without asking again. */
static int refresh_refused(const struct oauth2_ctx *c, const struct provider *p, struct tokstore *s,
                           const struct tokresp *t, struct err *e)
{
    char why[TOKRESP_TEXT_MAX + 80];
    struct err ignored;

    describe(t, why, sizeof why);
    if (!strcmp(t->error, "invalid_grant")) {
        if (tokstore_set(&s->refused, why) == 0) {
            s->refused_at = (long long)time(NULL);
            tokstore_save(c->state_dir, c->key, s, &ignored);
        }
        err_set(e, ERR_AUTH, "%s refused the saved refresh token: %s", p->name, why);
        hint_authorize(c->a, e,
                       "it was revoked or has expired (Google expires them after 7 days for "
                       "apps whose consent screen is in \"testing\")");
        return -1;
    }
    err_set(e, ERR_AUTH, "%s refused to refresh the token: %s", p->name, why);
    if (!strcmp(t->error, "invalid_client") || !strcmp(t->error, "unauthorized_client"))
        err_hint(e, "check `oauth2_client_id` and the client secret, and that the app "
                    "registration allows this flow");
    else
        hint_authorize(c->a, e, NULL);
    return -1;
}

static int flow_refused(const struct provider *p, const struct tokresp *t, const char *what,
                        struct err *e)
{
    char why[TOKRESP_TEXT_MAX + 80];

    describe(t, why, sizeof why);
    err_set(e, ERR_AUTH, "%s refused %s: %s", p->name, what, why);
    if (!strcmp(t->error, "invalid_client") || !strcmp(t->error, "unauthorized_client"))
        err_hint(e, "check `oauth2_client_id` and the client secret, and that the app "
                    "registration allows this flow");
    else if (!strcmp(t->error, "invalid_scope"))
        err_hint(e, "check `oauth2_scope` (and, for Google's device flow: it does not allow "
                    "https://mail.google.com/; use --authorize without --device)");
    return -1;
}

/* ---- tokens for a login ---------------------------------------------------------- */

static int hand_out(const struct tokstore *s, char **token, struct err *e)
{
    return (*token = copy(s->access_token, e)) ? 0 : -1;
}

/* Ask the provider (refresh, or client credentials) and save the answer. */
static int renew(const struct oauth2_ctx *c, const struct provider *p, struct tokstore *s, int cc,
                 char **token, struct err *e)
{
    struct grant_ctx g;
    struct tokresp t;
    char *secret = NULL;
    int rc;

    grant_setup(c, p, &g);
    if (client_secret(c->a, &secret, e) < 0) return -1;
    g.client_secret = secret;
    rc = cc ? grant_client_credentials(&g, &t, e) : grant_refresh(&g, s->refresh_token, &t, e);
    wipe_free(secret);
    if (rc < 0) return -1;
    if (rc == 1)
        return cc ? flow_refused(p, &t, "the client credentials", e)
                  : refresh_refused(c, p, s, &t, e);
    rc = take_tokens(s, c->a, p, &t, 0, e);
    tokresp_free(&t);
    if (rc == 0) rc = tokstore_save(c->state_dir, c->key, s, e);
    return rc == 0 ? hand_out(s, token, e) : -1;
}

/* What the store says about a user-delegated token, before any request:
 * 1 go on (refresh), 0 *token handed out, -1 an error. */
static int check_store(const struct oauth2_ctx *c, const struct provider *p,
                       const struct tokstore *s, int found, int force, char **token,
                       struct oauth2_info *info, struct err *e)
{
    const struct account *a = c->a;

    if (!found) {
        err_set(e, ERR_AUTH, "no OAuth2 token for %s yet", a->name);
        hint_authorize(a, e, "it signs in once (add --device on a machine without a browser)");
        return -1;
    }
    if (!store_matches(s, a, p)) {
        err_set(e, ERR_AUTH,
                "the saved OAuth2 token was issued to another client or by another token "
                "endpoint than `oauth2_client_id` and the provider now say");
        hint_authorize(a, e, NULL);
        return -1;
    }
    if (!force && still_valid(s)) return hand_out(s, token, e);
    if (s->refused) {
        info->repeated = 1;
        err_set(e, ERR_AUTH, "%s refused the saved refresh token: %s", p->name, s->refused);
        hint_authorize(a, e, "until then every run fails the same way");
        return -1;
    }
    if (!s->refresh_token) {
        err_set(e, ERR_AUTH, "the OAuth2 access token has expired and %s gave no refresh token",
                p->name);
        hint_authorize(a, e,
                       a->oauth2 == OAUTH2_MICROSOFT
                           ? "keep offline_access in `oauth2_scope`"
                           : "the provider must issue a refresh token (offline access)");
        return -1;
    }
    return 1;
}

int oauth2_login_token(const struct oauth2_ctx *c, int force, char **token,
                       struct oauth2_info *info, struct err *e)
{
    const struct account *a = c->a;
    int cc = a->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS, found, rc;
    struct provider p;
    struct tokstore s;

    *token = NULL;
    memset(info, 0, sizeof *info);
    /* a login needs only the token endpoint (the flow that makes it) */
    if (provider_resolve(a, &p, e) < 0 ||
        provider_check_flow(a, &p, OAUTH2_FLOW_CLIENT_CREDENTIALS, e) < 0)
        return -1;
    if (tokstore_load(c->state_dir, c->key, &s, &found, e) < 0) return -1;
    if (cc) {
        rc = found && store_matches(&s, a, &p) && !force && still_valid(&s) ? hand_out(&s, token, e)
                                                                            : 1;
    } else {
        rc = check_store(c, &p, &s, found, force, token, info, e);
    }
    if (rc == 1) {
        info->fresh = 1;
        rc = renew(c, &p, &s, cc, token, e);
    }
    tokstore_free(&s);
    return rc;
}

/* ---- --authorize: saving ------------------------------------------------------------ */

/* The account's lock, waiting for a fetch that holds it. */
static int lock_account(const struct oauth2_ctx *c, struct state **st, const struct oauth2_ui *ui,
                        struct err *e)
{
    int64_t end = monotime_ms() + OAUTH2_LOCK_WAIT_MS;
    int told = 0;

    for (;;) {
        if (state_lock(st, c->state_dir, c->key, e) == 0) return 0;
        if (e->kind != ERR_LOCKED || monotime_ms() > end) return -1;
        if (!told++) ui->say(ui->ctx, "waiting for the popfetch that is fetching this account");
        if (stop_poll(NULL, 0, 250) < 0 && stop_requested()) return net_interrupted(e);
    }
}

/* Save freshly issued tokens as the account's (whatever was there). */
static int save_new(const struct oauth2_ctx *c, const struct provider *p, const struct tokresp *t,
                    const struct oauth2_ui *ui, struct err *e)
{
    struct state *st;
    struct tokstore s;
    int found, rc;

    if (lock_account(c, &st, ui, e) < 0) return -1;
    rc = tokstore_load(c->state_dir, c->key, &s, &found, e);
    if (rc < 0 && e->kind == ERR_LOCAL) { /* a damaged store is replaced */
        memset(&s, 0, sizeof s);
        rc = 0;
    }
    if (rc == 0) rc = take_tokens(&s, c->a, p, t, 1, e);
    if (rc == 0) rc = tokstore_save(c->state_dir, c->key, &s, e);
    tokstore_free(&s);
    state_close(st);
    return rc;
}

static void say(const struct oauth2_ui *ui, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct oauth2_ui *ui, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ui->say(ui->ctx, line);
}

/* ---- --authorize: the authorization-code flow --------------------------------------- */

/* The address the user opens. */
static char *authorize_url(const struct account *a, const struct provider *p,
                           const char *redirect_uri, const char *state, const char *challenge)
{
    struct httpmsg_field f[10];
    size_t n = 0;
    char *query, *url;
    size_t len;
    int hint = p->login_hint && strchr(a->user, '@');

    f[n++] = (struct httpmsg_field){"response_type", "code", 0};
    f[n++] = (struct httpmsg_field){"client_id", a->oauth2_client_id, 0};
    f[n++] = (struct httpmsg_field){"redirect_uri", redirect_uri, 0};
    if (p->scope[0]) f[n++] = (struct httpmsg_field){"scope", p->scope, 0};
    f[n++] = (struct httpmsg_field){"state", state, 0};
    f[n++] = (struct httpmsg_field){"code_challenge", challenge, 0};
    f[n++] = (struct httpmsg_field){"code_challenge_method", "S256", 0};
    if (p->offline_params) {
        f[n++] = (struct httpmsg_field){"access_type", "offline", 0};
        f[n++] = (struct httpmsg_field){"prompt", "consent", 0};
    }
    if (hint) f[n++] = (struct httpmsg_field){"login_hint", a->user, 0};
    if (!(query = httpmsg_form_encode(f, n, 0))) return NULL;
    len = strlen(p->authorize_url) + strlen(query) + 2;
    if ((url = malloc(len)))
        snprintf(url, len, "%s%c%s", p->authorize_url, strchr(p->authorize_url, '?') ? '&' : '?',
                 query);
    free(query);
    return url;
}

/* On a desktop, hand the address to xdg-open, detached: `sh -c` starts it
 * in the background and exits, so the browser it may start is not ours to
 * wait for or kill. The address holds no secret (the PKCE verifier stays
 * here; `state` is only good for this one answer). */
static int open_browser(const char *url)
{
    const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    char sh[] = "/bin/sh", dash_c[] = "-c", name[] = "sh";
    char script[] = "xdg-open \"$1\" >/dev/null 2>&1 </dev/null &";
    char *argv[] = {sh, dash_c, script, name, (char *)url, NULL};
    struct child_spec cs = {.what = "xdg-open",
                            .argv = argv,
                            .fd = {CHILD_NULL, CHILD_NULL, CHILD_NULL},
                            .timeout_ms = 5000};
    struct child ch = {.pid = -1, .pidfd = -1};
    struct err e;
    int ok;

    if ((!d || !*d) && (!w || !*w)) return 0;
    if (child_spawn(&ch, &cs, &e) < 0) return 0;
    while (child_wait(&ch, NULL, 0) > 0) {
    }
    ok = ch.reaped && !ch.lost && WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0;
    child_close(&ch);
    return ok;
}

static int code_flow(const struct oauth2_ctx *c, const struct provider *p,
                     const struct grant_ctx *g, const struct oauth2_ui *ui, struct tokresp *t,
                     struct err *e)
{
    const struct account *a = c->a;
    char verifier[64], challenge[64], state[40], *url = NULL, *code = NULL;
    struct loopback l;
    int rc;

    if (loopback_open(&l, (unsigned)a->oauth2_redirect_port, e) < 0) return -1;
    rc = random_string(32, verifier, e) == 0 && pkce_challenge(verifier, challenge, e) == 0 &&
                 random_string(16, state, e) == 0
             ? 0
             : -1;
    if (rc == 0 && !(url = authorize_url(a, p, l.redirect_uri, state, challenge)))
        rc = err_set(e, ERR_INTERNAL, "out of memory");
    if (rc == 0) {
        say(ui,
            "To let popfetch read the mail of %s, open this address in a browser and sign "
            "in as %s:",
            a->name, a->user);
        ui->say(ui->ctx, url);
        if (open_browser(url)) say(ui, "(opened in your browser)");
        say(ui, "Waiting for the browser to come back to %s ...", l.redirect_uri);
        rc = loopback_wait(&l, state, OAUTH2_BROWSER_WAIT_MS, a->name, &code, e);
    }
    loopback_close(&l);
    if (rc == 0) {
        rc = grant_code(g, code, l.redirect_uri, verifier, t, e);
        if (rc == 1) rc = flow_refused(p, t, "the authorization code", e);
    }
    wipe_free(code);
    free(url);
    OPENSSL_cleanse(verifier, sizeof verifier);
    return rc;
}

/* ---- --authorize: the device flow ------------------------------------------------------ */

static int sleep_s(long long secs, struct err *e)
{
    int64_t end = monotime_ms() + secs * 1000;

    for (;;) {
        int64_t left = end - monotime_ms();
        if (left <= 0) return 0;
        if (stop_poll(NULL, 0, (int)(left > 1000 ? 1000 : left)) < 0 && stop_requested())
            return net_interrupted(e);
    }
}

/* Poll as the provider allows until the user has answered. */
static int device_poll(const struct grant_ctx *g, const struct provider *p,
                       const struct tokresp_device *d, struct tokresp *t, struct err *e)
{
    int64_t end = monotime_ms() + d->expires_in * 1000;
    long long interval = d->interval;

    while (monotime_ms() < end) {
        int rc;
        if (sleep_s(interval, e) < 0) return -1;
        rc = grant_device_poll(g, d->device_code, t, e);
        if (rc <= 0) return rc;
        if (!strcmp(t->error, "authorization_pending")) continue;
        if (!strcmp(t->error, "slow_down")) { /* RFC 8628 3.5: 5 seconds more, from now on */
            interval = interval + 5 > 300 ? 300 : interval + 5;
            continue;
        }
        if (!strcmp(t->error, "access_denied")) {
            err_set(e, ERR_AUTH, "the sign-in was declined at %s", p->name);
            return -1;
        }
        if (!strcmp(t->error, "expired_token")) break;
        return flow_refused(p, t, "the device code", e);
    }
    err_set(e, ERR_AUTH, "the code was not entered before it expired");
    err_hint(e, "run `popfetch --authorize --device` again and enter the new code in time");
    return -1;
}

static int device_flow(const struct oauth2_ctx *c, const struct provider *p,
                       const struct grant_ctx *g, const struct oauth2_ui *ui, struct tokresp *t,
                       struct err *e)
{
    struct tokresp_device d;
    int rc = grant_device_start(g, &d, t, e);

    if (rc < 0) return -1;
    if (rc == 1) return flow_refused(p, t, "to start the device flow", e);
    if (d.message[0])
        ui->say(ui->ctx, d.message);
    else
        say(ui, "To let popfetch read the mail of %s, open %s and enter the code %s", c->a->name,
            d.verification_uri, d.user_code);
    if (d.verification_uri_complete[0])
        say(ui, "(or open %s, which carries the code)", d.verification_uri_complete);
    say(ui, "Waiting for the sign-in (the code is valid for %lld minutes) ...",
        (d.expires_in + 59) / 60);
    rc = device_poll(g, p, &d, t, e);
    tokresp_device_free(&d);
    return rc;
}

/* ---- --authorize ------------------------------------------------------------------------- */

/* Client credentials need no user: check that a token can be had. */
static int authorize_cc(const struct oauth2_ctx *c, const struct oauth2_ui *ui, struct err *e)
{
    struct state *st;
    struct oauth2_info info;
    char *token = NULL;
    int rc;

    if (lock_account(c, &st, ui, e) < 0) return -1;
    rc = oauth2_login_token(c, 1, &token, &info, e);
    state_close(st);
    wipe_free(token);
    if (rc == 0)
        say(ui,
            "%s: the client credentials work; popfetch asks for a token by itself, nothing "
            "to authorize",
            c->a->name);
    return rc;
}

int oauth2_authorize(const struct oauth2_ctx *c, int device, const struct oauth2_ui *ui,
                     struct err *e)
{
    const struct account *a = c->a;
    int flow =
        device || a->oauth2_flow == OAUTH2_FLOW_DEVICE ? OAUTH2_FLOW_DEVICE : OAUTH2_FLOW_CODE;
    struct provider p;
    struct grant_ctx g;
    struct tokresp t;
    char *secret = NULL;
    int rc;

    if (a->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS) return authorize_cc(c, ui, e);
    if (provider_resolve(a, &p, e) < 0 || provider_check_flow(a, &p, flow, e) < 0) return -1;
    if (client_secret(a, &secret, e) < 0) return -1;
    grant_setup(c, &p, &g);
    g.client_secret = secret;
    memset(&t, 0, sizeof t);
    rc = flow == OAUTH2_FLOW_DEVICE ? device_flow(c, &p, &g, ui, &t, e)
                                    : code_flow(c, &p, &g, ui, &t, e);
    wipe_free(secret);
    if (rc != 0) return -1;
    rc = save_new(c, &p, &t, ui, e);
    if (rc == 0) {
        say(ui, "%s: authorized; popfetch refreshes the token by itself from now on", a->name);
        if (!t.refresh_token)
            say(ui,
                "note: %s issued no refresh token, so this lasts until the access token expires "
                "(%lld minutes)",
                p.name, (t.expires_in >= 0 ? t.expires_in : OAUTH2_DEFAULT_EXPIRY) / 60);
    }
    tokresp_free(&t);
    return rc;
}
