/* Unit tests for the OAuth2 provider presets (provider). */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "provider.h"
#include "unit.h"

static void account(struct account *a, int provider, int flow)
{
    conf_account_defaults(a);
    a->name = "t";
    a->user = "alice@example.com";
    a->oauth2 = provider;
    a->oauth2_flow = flow;
    a->oauth2_client_id = "cid";
}

TEST(provider_microsoft_preset_and_tenant)
{
    struct account a;
    struct provider p;
    struct err e;

    account(&a, OAUTH2_MICROSOFT, OAUTH2_FLOW_CODE);
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.authorize_url, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    CHECK_STR(p.token_url, "https://login.microsoftonline.com/common/oauth2/v2.0/token");
    CHECK_STR(p.device_url, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
    CHECK_STR(p.scope, "https://outlook.office.com/POP.AccessAsUser.All offline_access");
    CHECK(p.login_hint && !p.offline_params);
    a.oauth2_tenant = "contoso.onmicrosoft.com";
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.token_url,
              "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
    a.oauth2_tenant = "x/../evil";
    CHECK(provider_resolve(&a, &p, &e) == -1);
    /* app-only access: the .default scope, and a real tenant */
    account(&a, OAUTH2_MICROSOFT, OAUTH2_FLOW_CLIENT_CREDENTIALS);
    CHECK(provider_resolve(&a, &p, &e) == -1);
    CHECK(strstr(e.msg, "oauth2_tenant") != NULL);
    a.oauth2_tenant = "0d1e2f30-aaaa-bbbb-cccc-000000000000";
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.scope, "https://outlook.office365.com/.default");
}

TEST(provider_google_custom_and_overrides)
{
    struct account a;
    struct provider p;
    struct err e;

    account(&a, OAUTH2_GOOGLE, OAUTH2_FLOW_CODE);
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.scope, "https://mail.google.com/");
    CHECK_STR(p.token_url, "https://oauth2.googleapis.com/token");
    CHECK(p.offline_params);
    a.oauth2_scope = "https://mail.google.com/ email";
    a.oauth2_token_url = "https://proxy.example/token";
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.scope, "https://mail.google.com/ email");
    CHECK_STR(p.token_url, "https://proxy.example/token");
    account(&a, OAUTH2_CUSTOM, OAUTH2_FLOW_CODE);
    a.oauth2_token_url = "https://idp.example/t";
    CHECK(provider_resolve(&a, &p, &e) == 0);
    CHECK_STR(p.scope, "");
    CHECK(provider_check_flow(&a, &p, OAUTH2_FLOW_CLIENT_CREDENTIALS, &e) == 0);
    CHECK(provider_check_flow(&a, &p, OAUTH2_FLOW_CODE, &e) == -1);
    CHECK(strstr(e.msg, "oauth2_authorize_url") != NULL);
    CHECK(provider_check_flow(&a, &p, OAUTH2_FLOW_DEVICE, &e) == -1);
    CHECK(strstr(e.msg, "oauth2_device_url") != NULL);
}
