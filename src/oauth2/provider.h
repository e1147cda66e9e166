/*
 * provider — what an account's `oauth2` setting means: the provider's
 * endpoints (authorization, token, device authorization), the scope to ask
 * for, and what its authorization request needs besides RFC 6749's
 * parameters. The presets:
 *
 *   microsoft  https://login.microsoftonline.com/TENANT/oauth2/v2.0/...
 *              (TENANT: oauth2_tenant, default `common`); scope
 *              "https://outlook.office.com/POP.AccessAsUser.All
 *              offline_access", or "https://outlook.office365.com/.default"
 *              for the client-credentials flow (which needs a real tenant)
 *   google     https://accounts.google.com/o/oauth2/v2/auth,
 *              https://oauth2.googleapis.com/token and .../device/code;
 *              scope "https://mail.google.com/"; access_type=offline and
 *              prompt=consent, so that a refresh token is issued
 *   custom     the oauth2_*_url keys; no default scope
 *
 * oauth2_scope and the oauth2_*_url keys override a preset's values (a
 * national cloud, a proxy). A flow whose endpoint is missing is an
 * ERR_USAGE error naming the key to set. Pure: no I/O.
 */
#ifndef POPFETCH_PROVIDER_H
#define POPFETCH_PROVIDER_H

#include "conf.h"
#include "err.h"

#define PROVIDER_URL_MAX 1024

struct provider {
    const char *name;                     /* "Microsoft", "Google", "the provider" (custom) */
    char authorize_url[PROVIDER_URL_MAX]; /* "" if unknown */
    char token_url[PROVIDER_URL_MAX];
    char device_url[PROVIDER_URL_MAX]; /* "" if unknown */
    char scope[PROVIDER_URL_MAX];      /* may be "" */
    int offline_params;                /* add access_type=offline&prompt=consent */
    int login_hint;                    /* add login_hint=USER */
};

/* The endpoints and scope for account a. */
int provider_resolve(const struct account *a, struct provider *p, struct err *e);

/* The flow's endpoint is there: ERR_USAGE naming the key otherwise.
 * flow is enum oauth2_flow. */
int provider_check_flow(const struct account *a, const struct provider *p, int flow, struct err *e);

#endif
