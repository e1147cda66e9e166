/* Unit tests for the OAuth2 provider's answers (tokresp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokresp.h"
#include "unit.h"

static int tok(int status, const char *body, struct tokresp *t, struct err *e)
{
    err_clear(e);
    return tokresp_parse(status, body, strlen(body), t, e);
}

TEST(tokresp_tokens)
{
    struct tokresp t;
    struct err e;

    CHECK(tok(200,
              "{\"token_type\":\"Bearer\",\"scope\":\"x\",\"expires_in\":3599,"
              "\"access_token\":\"eyJ0.a-b_c.d~e+f/g=\",\"refresh_token\":\"1//0g-x\"}",
              &t, &e) == 0);
    CHECK_STR(t.access_token, "eyJ0.a-b_c.d~e+f/g=");
    CHECK_STR(t.refresh_token, "1//0g-x");
    CHECK(t.expires_in == 3599);
    tokresp_free(&t);
    CHECK(t.access_token == NULL);
    /* no refresh token, expires_in as a string, token_type in any case */
    CHECK(tok(200, "{\"access_token\":\"a\",\"token_type\":\"bearer\",\"expires_in\":\"60\"}", &t,
              &e) == 0);
    CHECK(t.refresh_token == NULL && t.expires_in == 60);
    tokresp_free(&t);
    CHECK(tok(200, "{\"access_token\":\"a\"}", &t, &e) == 0);
    CHECK(t.expires_in == -1);
    tokresp_free(&t);
    CHECK(tok(200, "{\"access_token\":\"a\",\"expires_in\":99999999999999}", &t, &e) == 0);
    CHECK(t.expires_in == TOKRESP_EXPIRY_MAX);
    tokresp_free(&t);
}

TEST(tokresp_oauth_errors)
{
    struct tokresp t;
    struct err e;

    CHECK(tok(400,
              "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The refresh "
              "token has expired\\u001b[31m\"}",
              &t, &e) == 1);
    CHECK_STR(t.error, "invalid_grant");
    CHECK(strstr(t.error_description, "AADSTS70008") != NULL);
    CHECK(strchr(t.error_description, '\033') == NULL); /* escaped for the terminal */
    CHECK(tok(200, "{\"error\":\"authorization_pending\"}", &t, &e) == 1);
    CHECK_STR(t.error, "authorization_pending");
    CHECK_STR(t.error_description, "");
}

static void expect_bad(int status, const char *body, enum err_kind kind, const char *what)
{
    struct tokresp t;
    struct err e;

    if (tok(status, body, &t, &e) != -1 || e.kind != kind || !strstr(e.msg, what)) {
        printf("  for %s: got \"%s\"\n", body, e.msg);
        unit_fail(__FILE__, __LINE__, what);
    }
    if (strstr(e.msg, "SECRET")) unit_fail(__FILE__, __LINE__, "a token in a message");
}

TEST(tokresp_hostile_answers)
{
    expect_bad(200, "", ERR_PROTOCOL, "not a JSON object");
    expect_bad(200, "[\"access_token\"]", ERR_PROTOCOL, "not a JSON object");
    expect_bad(200, "{\"access_token\":\"SECRET\"", ERR_PROTOCOL, "not a JSON object");
    expect_bad(200, "{\"access_token\":\"a\",\"access_token\":\"b\"}", ERR_PROTOCOL,
               "not a JSON object");
    expect_bad(200, "{\"refresh_token\":\"r\"}", ERR_PROTOCOL, "`access_token` (missing)");
    expect_bad(200, "{\"access_token\":42}", ERR_PROTOCOL, "`access_token` (not a string)");
    expect_bad(200, "{\"access_token\":\"\"}", ERR_PROTOCOL, "`access_token` (empty)");
    expect_bad(200, "{\"access_token\":\"SECRET with space\"}", ERR_PROTOCOL, "printable");
    expect_bad(200, "{\"access_token\":\"SECRET\\u0000x\"}", ERR_PROTOCOL, "not a JSON object");
    expect_bad(200, "{\"access_token\":\"SECRET\\r\\nPASS x\"}", ERR_PROTOCOL, "printable");
    expect_bad(200, "{\"access_token\":\"a\",\"refresh_token\":[]}", ERR_PROTOCOL,
               "`refresh_token`");
    expect_bad(200, "{\"access_token\":\"a\",\"expires_in\":-5}", ERR_PROTOCOL, "negative");
    expect_bad(200, "{\"access_token\":\"a\",\"expires_in\":1.5}", ERR_PROTOCOL, "not a number");
    expect_bad(200, "{\"access_token\":\"a\",\"expires_in\":\"1e3\"}", ERR_PROTOCOL,
               "`expires_in`");
    expect_bad(200, "{\"access_token\":\"a\",\"token_type\":\"mac\"}", ERR_PROTOCOL, "not Bearer");
    expect_bad(200, "{\"error\":17}", ERR_PROTOCOL, "`error`");
    expect_bad(503, "<html>Service Unavailable</html>", ERR_SERVER, "HTTP 503");
    expect_bad(400, "{\"message\":\"nope\"}", ERR_SERVER, "without an OAuth error");
    {
        size_t n = TOKRESP_TOKEN_MAX + 40;
        char *big = malloc(n);
        snprintf(big, n, "{\"access_token\":\"");
        memset(big + 17, 'A', TOKRESP_TOKEN_MAX + 1);
        snprintf(big + 18 + TOKRESP_TOKEN_MAX, 4, "\"}");
        expect_bad(200, big, ERR_PROTOCOL, "too long");
        free(big);
    }
}

static int dev(const char *body, struct tokresp_device *d, struct tokresp *t, struct err *e)
{
    return tokresp_parse_device(200, body, strlen(body), d, t, e);
}

TEST(tokresp_device_answers)
{
    static const char ms[] =
        "{\"user_code\":\"ABCD-EFGH\",\"device_code\":\"DAQABAAEAAAD\",\"verification_uri\":"
        "\"https://microsoft.com/devicelogin\",\"expires_in\":900,\"interval\":5,\"message\":"
        "\"To sign in, use a web browser to open the page https://microsoft.com/devicelogin\"}";
    static const char google[] =
        "{\"device_code\":\"AH-1Ng\",\"user_code\":\"GQVQ-JKEC\",\"verification_url\":"
        "\"https://www.google.com/device\",\"expires_in\":\"1800\"}";
    struct tokresp_device d;
    struct tokresp t;
    struct err e;

    CHECK(tokresp_parse_device(200, ms, strlen(ms), &d, &t, &e) == 0);
    CHECK_STR(d.device_code, "DAQABAAEAAAD");
    CHECK_STR(d.user_code, "ABCD-EFGH");
    CHECK_STR(d.verification_uri, "https://microsoft.com/devicelogin");
    CHECK(d.expires_in == 900 && d.interval == 5);
    CHECK(strstr(d.message, "To sign in") != NULL);
    tokresp_device_free(&d);
    CHECK(tokresp_parse_device(200, google, strlen(google), &d, &t, &e) == 0);
    CHECK_STR(d.verification_uri, "https://www.google.com/device");
    CHECK(d.interval == 5 && d.expires_in == 1800); /* RFC 8628's default interval */
    tokresp_device_free(&d);
    CHECK(tokresp_parse_device(400, "{\"error\":\"invalid_scope\"}", 25, &d, &t, &e) == 1);
    CHECK_STR(t.error, "invalid_scope");
    CHECK(dev("{\"device_code\":\"d\",\"user_code\":\"u\"}", &d, &t, &e) == -1);
    CHECK(strstr(e.msg, "verification_uri") != NULL);
    CHECK(dev("{\"device_code\":\"d\",\"verification_uri\":\"x\"}", &d, &t, &e) == -1);
    CHECK(strstr(e.msg, "user_code") != NULL);
    CHECK(dev("{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_uri\":\"v\","
              "\"interval\":0}",
              &d, &t, &e) == 0);
    CHECK(d.interval == 1);
    tokresp_device_free(&d);
}

TEST(tokresp_masked_hides_every_secret)
{
    static const char body[] = "{\"access_token\":\"SECRETA\",\"token_type\":\"Bearer\","
                               "\"refresh_token\":\"SECRETR\",\"id_token\":\"SECRETI\","
                               "\"nested\":{\"device_code\":\"SECRETD\"},\"expires_in\":3600}";
    char out[512], small[40];

    tokresp_masked(body, strlen(body), out, sizeof out);
    CHECK(strstr(out, "SECRET") == NULL);
    CHECK(strstr(out, "\"access_token\":\"****\"") != NULL);
    CHECK(strstr(out, "\"expires_in\":3600") != NULL);
    CHECK(strstr(out, "\"token_type\":\"Bearer\"") != NULL);
    tokresp_masked(body, strlen(body), small, sizeof small);
    CHECK(strlen(small) < sizeof small);
    CHECK(strstr(small, "SECRET") == NULL);
    CHECK(strstr(small, "...") != NULL);
    tokresp_masked("access_token=SECRET&x=1", 23, out, sizeof out);
    CHECK_STR(out, "(23 bytes, not a JSON object)");
}
