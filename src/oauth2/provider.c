/*
 * provider — the presets and the account's overrides. See provider.h.
 */
#include <stdio.h>
#include <string.h>

#include "provider.h"

#define MS_LOGIN      "https://login.microsoftonline.com/"
#define MS_SCOPE      "https://outlook.office.com/POP.AccessAsUser.All offline_access"
#define MS_APP_SCOPE  "https://outlook.office365.com/.default"
#define GOOGLE_AUTH   "https://accounts.google.com/o/oauth2/v2/auth"
#define GOOGLE_TOKEN  "https://oauth2.googleapis.com/token"
#define GOOGLE_DEVICE "https://oauth2.googleapis.com/device/code"
#define GOOGLE_SCOPE  "https://mail.google.com/"

static int too_long(struct err *e, const char *what)
{
    return err_set(e, ERR_USAGE, "the OAuth2 %s is too long", what);
}

static int set(char *dst, const char *value, const char *what, struct err *e)
{
    if ((size_t)snprintf(dst, PROVIDER_URL_MAX, "%s", value) >= PROVIDER_URL_MAX)
        return too_long(e, what);
    return 0;
}

static int microsoft(const struct account *a, struct provider *p, struct err *e)
{
    const char *tenant = a->oauth2_tenant ? a->oauth2_tenant : "common";
    static const char *const ends[] = {"authorize", "token", "devicecode"};
    char *dst[] = {p->authorize_url, p->token_url, p->device_url};

    if (a->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS &&
        (!strcmp(tenant, "common") || !strcmp(tenant, "organizations") ||
         !strcmp(tenant, "consumers"))) {
        err_set(e, ERR_USAGE,
                "account %s: `oauth2_flow client_credentials` needs `oauth2_tenant` set to "
                "your tenant (its id or its domain), not `%s`",
                a->name, tenant);
        err_hint(e, "the tenant id is on the app registration's overview page");
        return -1;
    }
    for (const char *c = tenant; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *c))
            return err_set(e, ERR_USAGE,
                           "account %s: `oauth2_tenant` must be a tenant id or domain", a->name);
    for (int i = 0; i < 3; i++)
        if ((size_t)snprintf(dst[i], PROVIDER_URL_MAX, MS_LOGIN "%s/oauth2/v2.0/%s", tenant,
                             ends[i]) >= PROVIDER_URL_MAX)
            return too_long(e, "tenant");
    p->name = "Microsoft";
    p->login_hint = 1;
    return set(p->scope, a->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS ? MS_APP_SCOPE : MS_SCOPE,
               "scope", e);
}

static int google(struct provider *p, struct err *e)
{
    p->name = "Google";
    p->offline_params = 1;
    p->login_hint = 1;
    if (set(p->authorize_url, GOOGLE_AUTH, "URL", e) < 0 ||
        set(p->token_url, GOOGLE_TOKEN, "URL", e) < 0 ||
        set(p->device_url, GOOGLE_DEVICE, "URL", e) < 0)
        return -1;
    return set(p->scope, GOOGLE_SCOPE, "scope", e);
}

int provider_resolve(const struct account *a, struct provider *p, struct err *e)
{
    int rc = 0;

    memset(p, 0, sizeof *p);
    p->name = "the provider";
    if (a->oauth2 == OAUTH2_MICROSOFT)
        rc = microsoft(a, p, e);
    else if (a->oauth2 == OAUTH2_GOOGLE)
        rc = google(p, e);
    else if (a->oauth2 != OAUTH2_CUSTOM)
        return err_set(e, ERR_USAGE, "account %s has no `oauth2` setting", a->name);
    if (rc < 0) return -1;
    if ((a->oauth2_authorize_url && set(p->authorize_url, a->oauth2_authorize_url, "URL", e) < 0) ||
        (a->oauth2_token_url && set(p->token_url, a->oauth2_token_url, "URL", e) < 0) ||
        (a->oauth2_device_url && set(p->device_url, a->oauth2_device_url, "URL", e) < 0) ||
        (a->oauth2_scope && set(p->scope, a->oauth2_scope, "scope", e) < 0))
        return -1;
    return 0;
}

int provider_check_flow(const struct account *a, const struct provider *p, int flow, struct err *e)
{
    const char *key = NULL;

    if (!p->token_url[0]) key = "oauth2_token_url";
    if (flow == OAUTH2_FLOW_CODE && !p->authorize_url[0]) key = "oauth2_authorize_url";
    if (flow == OAUTH2_FLOW_DEVICE && !p->device_url[0]) key = "oauth2_device_url";
    if (!key) return 0;
    err_set(e, ERR_USAGE, "account %s: %s needs `%s` for this flow", a->name, p->name, key);
    err_hint(e, "set `%s` to the provider's endpoint (see its documentation)", key);
    return -1;
}
