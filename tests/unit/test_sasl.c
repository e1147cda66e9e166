/*
 * Unit tests for sasl: every vector of /work/shared/auth-vectors.md (APOP,
 * CRAM-MD5, PLAIN, LOGIN, SCRAM-SHA-1/-256, OAUTHBEARER, XOAUTH2, "biws"),
 * then the ways a hostile or broken server can go wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sasl.h"
#include "unit.h"

#define TS_APOP       "<1896.697170952@dbc.mtview.ca.us>"
#define SCRAM1_NONCE  "fyko+d2lbbFgONRv9qkxdawL"
#define SCRAM1_SFIRST "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
#define SCRAM1_FINAL                                                                               \
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
#define SCRAM1_V "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="
#define SCRAM1_AUTHMSG                                                                             \
    "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s="            \
    "QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
#define SCRAM256_NONCE "rOprNGfwEbeRWgbNEkqO"
#define SCRAM256_SFIRST                                                                            \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define SCRAM256_FINAL                                                                             \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="                               \
    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define SCRAM256_V "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* base64 of n bytes into a static buffer (tests only, bounded). */
static const char *b64(const unsigned char *d, size_t n)
{
    static char out[1024];

    if (sasl_b64_encoded_size(n) > sizeof out) return "(too long)";
    sasl_b64_encode(d, n, out);
    return out;
}

static int step_str(struct sasl *s, const char *chal, const unsigned char **out, size_t *len,
                    struct err *e)
{
    return sasl_step(s, (const unsigned char *)chal, strlen(chal), out, len, e);
}

static struct sasl *new_mech(enum sasl_mech m, const char *user, const char *authzid,
                             const char *secret, const char *nonce)
{
    struct sasl_params p = {user, authzid, secret, NULL, 0, nonce};
    struct sasl *s = NULL;
    struct err e;

    err_clear(&e);
    if (sasl_new(&s, m, &p, &e) < 0) return NULL;
    return s;
}

/* A SCRAM-SHA-1 exchange with the RFC 5802 client, up to the client-final. */
static struct sasl *scram1_after_first(const char *server_first, int *rc, struct err *e)
{
    struct sasl *s = new_mech(SASL_SCRAM_SHA_1, "user", NULL, "pencil", SCRAM1_NONCE);
    const unsigned char *out;
    size_t len;

    err_clear(e);
    *rc = s ? step_str(s, server_first, &out, &len, e) : -2;
    return s;
}

/* ---- vectors ---------------------------------------------------------- */

TEST(sasl_vector_1_apop)
{
    char hex[33];
    struct err e;

    CHECK(sasl_apop_digest(TS_APOP, "tanstaaf", hex, &e) == 0);
    CHECK_STR(hex, "c4c9334bac560ecc979e58001b3e22fb");
}

TEST(sasl_vector_2_cram_md5)
{
    const char *chal64 = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    struct sasl *s = new_mech(SASL_CRAM_MD5, "tim", NULL, "tanstaaftanstaaf", NULL);
    unsigned char chal[64];
    const unsigned char *out;
    size_t clen, len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 0 && len == 0);
    CHECK(sasl_b64_decode(chal64, strlen(chal64), chal, &clen) == 0);
    CHECK_MEM(chal, clen, "<1896.697170952@postoffice.reston.mci.net>", (size_t)42);
    CHECK(sasl_step(s, chal, clen, &out, &len, &e) == 0);
    CHECK_MEM(out, len, "tim b913a602c7eda7a495b4e6e7334d3890", (size_t)36);
    CHECK_STR(b64(out, len), "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    CHECK(sasl_step(s, chal, clen, &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    CHECK(sasl_finish(s, &e) == 0);
    sasl_free(s);
}

TEST(sasl_vector_3_plain)
{
    struct sasl *s = new_mech(SASL_PLAIN, "tim", NULL, "tanstaaftanstaaf", NULL);
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_STR(b64(out, len), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    CHECK(sasl_finish(s, &e) == 0);
    sasl_free(s);
}

TEST(sasl_vector_4_plain_with_authzid)
{
    struct sasl *s = new_mech(SASL_PLAIN, "Kurt", "Ursel", "xipj3plmq", NULL);
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_STR(b64(out, len), "VXJzZWwAS3VydAB4aXBqM3BsbXE=");
    sasl_free(s);
}

TEST(sasl_vector_5_login_and_third_challenge)
{
    struct sasl *s = new_mech(SASL_LOGIN, "tim", NULL, "tanstaaftanstaaf", NULL);
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 0);
    CHECK(step_str(s, "Username:", &out, &len, &e) == 0);
    CHECK_STR(b64(out, len), "dGlt");
    CHECK(step_str(s, "Password:", &out, &len, &e) == 0);
    CHECK_STR(b64(out, len), "dGFuc3RhYWZ0YW5zdGFhZg==");
    CHECK(step_str(s, "Again:", &out, &len, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL && strstr(e.msg, "third LOGIN challenge"));
    CHECK(!strstr(e.msg, "tanstaaf"));
    sasl_free(s);
}

TEST(sasl_vector_6_scram_sha_1)
{
    struct sasl *s = new_mech(SASL_SCRAM_SHA_1, "user", NULL, "pencil", SCRAM1_NONCE);
    unsigned char salt[32], sp[32];
    char hex[65];
    const unsigned char *out;
    const char *am;
    size_t len, slen, splen;
    int has;
    struct err e;

    CHECK(sasl_b64_decode("QSXCR+Q6sek8bf92", 16, salt, &slen) == 0 && slen == 12);
    CHECK(sasl_scram_salted_password(SASL_SCRAM_SHA_1, "pencil", salt, slen, 4096, sp, &splen,
                                     &e) == 0);
    CHECK(splen == 20);
    for (size_t i = 0; i < splen; i++) snprintf(hex + 2 * i, 3, "%02x", sp[i]);
    CHECK_STR(hex, "1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d");

    CHECK(s);
    CHECK(sasl_scram_auth_message(s, &len) == NULL);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_MEM(out, len, "n,,n=user,r=" SCRAM1_NONCE, strlen("n,,n=user,r=" SCRAM1_NONCE));
    CHECK(step_str(s, SCRAM1_SFIRST, &out, &len, &e) == 0);
    CHECK_MEM(out, len, SCRAM1_FINAL, strlen(SCRAM1_FINAL));
    am = sasl_scram_auth_message(s, &len);
    CHECK(am && len == strlen(SCRAM1_AUTHMSG));
    CHECK_STR(am, SCRAM1_AUTHMSG);
    CHECK(sasl_finish(s, &e) < 0); /* +OK before v= proves nothing */
    CHECK(step_str(s, SCRAM1_V, &out, &len, &e) == 0);
    CHECK(len == 0);
    CHECK(sasl_finish(s, &e) == 0);
    CHECK(step_str(s, SCRAM1_V, &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    sasl_free(s);
}

TEST(sasl_vector_7_scram_sha_256)
{
    struct sasl *s = new_mech(SASL_SCRAM_SHA_256, "user", "", "pencil", SCRAM256_NONCE);
    unsigned char salt[32], sp[32];
    char hex[65];
    const unsigned char *out;
    size_t len, slen, splen;
    int has;
    struct err e;

    CHECK(sasl_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, &slen) == 0 && slen == 16);
    CHECK(sasl_scram_salted_password(SASL_SCRAM_SHA_256, "pencil", salt, slen, 4096, sp, &splen,
                                     &e) == 0);
    CHECK(splen == 32);
    for (size_t i = 0; i < splen; i++) snprintf(hex + 2 * i, 3, "%02x", sp[i]);
    CHECK_STR(hex, "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d");

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_MEM(out, len, "n,,n=user,r=" SCRAM256_NONCE, strlen("n,,n=user,r=" SCRAM256_NONCE));
    CHECK(step_str(s, SCRAM256_SFIRST, &out, &len, &e) == 0);
    CHECK_MEM(out, len, SCRAM256_FINAL, strlen(SCRAM256_FINAL));
    CHECK(step_str(s, SCRAM256_V, &out, &len, &e) == 0 && len == 0);
    CHECK(sasl_finish(s, &e) == 0);
    sasl_free(s);
}

TEST(sasl_vector_8_9_oauthbearer)
{
    static const char want[] =
        "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmV"
        "yIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
    static const char json[] =
        "{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
        "\"openid-configuration\":\"https://example.com/.well-known/openid-configuration\"}";
    struct sasl_params p = {
        "user@example.com",   NULL, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
        "server.example.com", 143,  NULL};
    struct sasl *s;
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(sasl_new(&s, SASL_OAUTHBEARER, &p, &e) == 0);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_STR(b64(out, len), want);
    CHECK(sasl_server_error(s) == NULL);
    CHECK(step_str(s, json, &out, &len, &e) == 0);
    CHECK_STR(b64(out, len), "AQ==");
    CHECK_STR(sasl_server_error(s), json);
    CHECK(step_str(s, json, &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    sasl_free(s);
}

TEST(sasl_vector_10_xoauth2)
{
    static const char want[] =
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSF"
        "JoZG1semRHRXVZMjl0Q2cBAQ==";
    static const char json[] =
        "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}";
    struct sasl *s = new_mech(SASL_XOAUTH2, "someuser@example.com", NULL,
                              "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", NULL);
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_STR(b64(out, len), want);
    /* two-step form: the empty challenge gets the token */
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) == 0);
    CHECK_STR(b64(out, len), want);
    /* then the JSON error: recorded, answered with an empty response */
    CHECK(step_str(s, json, &out, &len, &e) == 0 && len == 0);
    CHECK_STR(sasl_server_error(s), json);
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) < 0);
    sasl_free(s);
}

TEST(sasl_vector_11_biws_and_base64)
{
    unsigned char buf[16];
    size_t n;

    CHECK_STR(b64((const unsigned char *)"n,,", 3), "biws");
    CHECK(sasl_b64_decode("biws", 4, buf, &n) == 0);
    CHECK_MEM(buf, n, "n,,", (size_t)3);
    CHECK(sasl_b64_decode("", 0, buf, &n) == 0 && n == 0);
    CHECK_STR(b64(buf, 0), "");
    CHECK(sasl_b64_decode("QQ==", 4, buf, &n) == 0 && n == 1 && buf[0] == 'A');
    CHECK(sasl_b64_decode("QUI=", 4, buf, &n) == 0 && n == 2);
    CHECK_MEM(buf, n, "AB", (size_t)2);
    CHECK(sasl_b64_encoded_size(3) == 5 && sasl_b64_decoded_size(8) == 6);
}

/* ---- base64 failures and large buffers ---------------------------------- */

TEST(sasl_b64_decode_rejects_malformed)
{
    static const char *bad[] = {"A",     "QQ=",  "QQ",   "Q===", "====", "QQ=A",  "Q Q=",
                                "QQ\n=", "QR==", "QUJ=", "Q-==", "QU_D", "QUJD=", "*"};
    unsigned char buf[16];
    size_t n = 99;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(sasl_b64_decode(bad[i], strlen(bad[i]), buf, &n) == -1);
        CHECK(n == 0);
    }
    CHECK(sasl_b64_decode("QU\0D", 4, buf, &n) == -1);
}

TEST(sasl_b64_round_trip_crosses_chunks)
{
    size_t n = 200001, m = 0;
    unsigned char *in = malloc(n), *back = malloc(n);
    char *enc = malloc(sasl_b64_encoded_size(n));
    size_t elen;

    CHECK(in && back && enc);
    for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(i * 7 + (i >> 8));
    elen = sasl_b64_encode(in, n, enc);
    CHECK(elen == sasl_b64_encoded_size(n) - 1 && enc[elen] == '\0');
    CHECK(sasl_b64_decode(enc, elen, back, &m) == 0);
    CHECK(m == n && memcmp(in, back, n) == 0);
    free(in);
    free(back);
    free(enc);
}

/* ---- SCRAM failures ----------------------------------------------------- */

TEST(sasl_scram_wrong_server_signature_fails)
{
    struct err e;
    int rc;
    struct sasl *s = scram1_after_first(SCRAM1_SFIRST, &rc, &e);
    const unsigned char *out;
    size_t len;

    CHECK(s && rc == 0);
    CHECK(step_str(s, "v=rmF9pqV8S7suAoZWja4dJRkFsKU=", &out, &len, &e) < 0);
    CHECK(e.kind == ERR_AUTH);
    CHECK_STR(e.msg, "server signature did not verify");
    CHECK(sasl_finish(s, &e) < 0 && e.kind == ERR_AUTH);
    CHECK_STR(e.msg, "server signature did not verify");
    sasl_free(s);

    /* right bytes but the SHA-256 vector's length; and not base64 */
    s = scram1_after_first(SCRAM1_SFIRST, &rc, &e);
    CHECK(s && rc == 0);
    CHECK(step_str(s, SCRAM256_V, &out, &len, &e) < 0 && e.kind == ERR_AUTH);
    sasl_free(s);
    s = scram1_after_first(SCRAM1_SFIRST, &rc, &e);
    CHECK(s && rc == 0);
    CHECK(step_str(s, "v=not base64!", &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    CHECK(sasl_finish(s, &e) < 0);
    sasl_free(s);
}

TEST(sasl_scram_weak_iteration_counts_refused)
{
    static const char *weak[] = {"1", "4095", "0", "0004095"};
    char msg[256];
    struct err e;
    int rc;

    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++) {
        snprintf(msg, sizeof msg, "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=%s", weak[i]);
        struct sasl *s = scram1_after_first(msg, &rc, &e);
        CHECK(s && rc == -1 && e.kind == ERR_AUTH);
        CHECK(strstr(e.msg, "iterations") && strstr(e.msg, "4096"));
        CHECK(!strstr(e.msg, "pencil"));
        sasl_free(s);
    }
    struct sasl *s =
        scram1_after_first("r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=10000001", &rc, &e);
    CHECK(s && rc == -1 && e.kind == ERR_PROTOCOL);
    sasl_free(s);
    s = scram1_after_first("r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=99999999999999999999999",
                           &rc, &e);
    CHECK(s && rc == -1 && e.kind == ERR_PROTOCOL);
    sasl_free(s);
    s = scram1_after_first("r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=4096", &rc, &e);
    CHECK(s && rc == 0);
    sasl_free(s);
}

TEST(sasl_scram_foreign_nonce_refused)
{
    static const char *bad[] = {
        "r=AAAA+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        "r=" SCRAM1_NONCE ",s=QSXCR+Q6sek8bf92,i=4096",        /* not longer than ours */
        "r=fyko+d2lbbFgONRv9qkxdaw,s=QSXCR+Q6sek8bf92,i=4096", /* a prefix of ours */
    };
    struct err e;
    int rc;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sasl *s = scram1_after_first(bad[i], &rc, &e);
        CHECK(s && rc == -1 && e.kind == ERR_PROTOCOL);
        CHECK(strstr(e.msg, "nonce"));
        sasl_free(s);
    }
}

TEST(sasl_scram_garbage_server_first_refused)
{
    static const char *bad[] = {
        "r=",
        "x=1",
        "r",
        ",",
        "r=" SCRAM1_NONCE "xyz",
        "r=" SCRAM1_NONCE "xyz,i=4096",                      /* missing s= */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92",          /* missing i= */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=",       /* empty i= */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=4096,",  /* trailing comma */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=40x6",   /* not a number */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=-4096",  /* signed */
        "r=" SCRAM1_NONCE "xyz,s=Q SXCR+Q6sek8bf9,i=4096",   /* salt not base64 */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf9,i=4096",    /* salt bad length */
        "r=" SCRAM1_NONCE "xyz,s=,i=4096",                   /* empty salt */
        "r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=4096,x", /* bad extension */
        "s=QSXCR+Q6sek8bf92,r=" SCRAM1_NONCE "xyz,i=4096",   /* wrong order */
        "m=must-know,r=" SCRAM1_NONCE "xyz,s=QSXCR+Q6sek8bf92,i=4096",
        "r=" SCRAM1_NONCE "\001yz,s=QSXCR+Q6sek8bf92,i=4096",   /* control byte */
        "r=" SCRAM1_NONCE "\xc3\xa9,s=QSXCR+Q6sek8bf92,i=4096", /* 8-bit nonce */
    };
    struct err e;
    int rc;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sasl *s = scram1_after_first(bad[i], &rc, &e);
        CHECK(s && rc == -1 && e.kind == ERR_PROTOCOL);
        CHECK(e.msg[0] != '\0' && !strstr(e.msg, "pencil"));
        sasl_free(s);
    }
    /* extensions after i= are ignored */
    struct sasl *s = scram1_after_first(SCRAM1_SFIRST ",x=future", &rc, &e);
    CHECK(s && rc == 0);
    sasl_free(s);
}

TEST(sasl_scram_server_first_error_is_reported)
{
    struct err e;
    int rc;
    struct sasl *s = scram1_after_first("e=unknown-user", &rc, &e);

    CHECK(s && rc == -1 && e.kind == ERR_AUTH);
    CHECK(strstr(e.msg, "unknown-user"));
    CHECK_STR(sasl_server_error(s), "unknown-user");
    sasl_free(s);
}

TEST(sasl_scram_server_final_error_is_reported)
{
    struct err e;
    int rc;
    struct sasl *s = scram1_after_first(SCRAM1_SFIRST, &rc, &e);
    const unsigned char *out;
    size_t len;

    CHECK(s && rc == 0);
    CHECK(step_str(s, "e=invalid-proof", &out, &len, &e) < 0);
    CHECK(e.kind == ERR_AUTH && strstr(e.msg, "invalid-proof"));
    CHECK_STR(sasl_server_error(s), "invalid-proof");
    CHECK(sasl_finish(s, &e) < 0);
    /* a failed exchange takes no more steps */
    CHECK(step_str(s, SCRAM1_V, &out, &len, &e) < 0);
    sasl_free(s);
}

TEST(sasl_scram_ok_without_server_signature_fails)
{
    struct err e;
    int rc;
    struct sasl *s = scram1_after_first(SCRAM1_SFIRST, &rc, &e);

    CHECK(s && rc == 0);
    CHECK(sasl_finish(s, &e) < 0 && e.kind == ERR_AUTH);
    CHECK_STR(e.msg, "server never proved it knows the password");
    sasl_free(s);
    /* nor straight after the client-first */
    s = new_mech(SASL_SCRAM_SHA_256, "user", NULL, "pencil", NULL);
    CHECK(s);
    CHECK(sasl_finish(s, &e) < 0 && e.kind == ERR_AUTH);
    sasl_free(s);
}

TEST(sasl_scram_two_step_and_escaping)
{
    struct sasl *s = new_mech(SASL_SCRAM_SHA_1, "a,b=c", "admin=x", "pencil", SCRAM1_NONCE);
    static const char first[] = "n,a=admin=3Dx,n=a=2Cb=3Dc,r=" SCRAM1_NONCE;
    const unsigned char *out;
    char sfirst[128], *gs2b64 = NULL;
    size_t len;
    struct err e;

    CHECK(s);
    /* the caller did not send the initial response: the empty challenge gets it */
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) == 0);
    CHECK_MEM(out, len, first, strlen(first));
    sasl_free(s);
    s = new_mech(SASL_SCRAM_SHA_1, "a,b=c", "admin=x", "pencil", SCRAM1_NONCE);
    CHECK(s);
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) == 0);
    /* a second empty challenge is no server-first message */
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    sasl_free(s);
    s = new_mech(SASL_SCRAM_SHA_1, "a,b=c", "admin=x", "pencil", SCRAM1_NONCE);
    CHECK(s);
    snprintf(sfirst, sizeof sfirst, "r=%sSRV,s=QSXCR+Q6sek8bf92,i=4096", SCRAM1_NONCE);
    CHECK(step_str(s, sfirst, &out, &len, &e) == 0);
    /* c= is base64 of the gs2 header "n,a=admin=3Dx," */
    gs2b64 = strstr((const char *)out, "c=");
    CHECK(gs2b64 == (const char *)out);
    CHECK(strncmp(gs2b64 + 2, b64((const unsigned char *)"n,a=admin=3Dx,", 14),
                  strlen(b64((const unsigned char *)"n,a=admin=3Dx,", 14))) == 0);
    sasl_free(s);
}

TEST(sasl_scram_random_nonce)
{
    struct sasl *a = new_mech(SASL_SCRAM_SHA_256, "user", NULL, "pencil", NULL);
    struct sasl *b = new_mech(SASL_SCRAM_SHA_256, "user", NULL, "pencil", NULL);
    const unsigned char *oa, *ob;
    size_t la, lb;
    int has;
    struct err e;

    CHECK(a && b);
    CHECK(sasl_initial(a, &oa, &la, &has, &e) == 0);
    CHECK(sasl_initial(b, &ob, &lb, &has, &e) == 0);
    CHECK(la == strlen("n,,n=user,r=") + 32 && lb == la);
    CHECK(memcmp(oa, ob, la) != 0);
    sasl_free(a);
    sasl_free(b);
}

/* ---- bounds, other mechanisms, parameters -------------------------------- */

TEST(sasl_huge_challenge_refused)
{
    static const enum sasl_mech all[] = {SASL_PLAIN,       SASL_LOGIN,         SASL_CRAM_MD5,
                                         SASL_SCRAM_SHA_1, SASL_SCRAM_SHA_256, SASL_XOAUTH2,
                                         SASL_OAUTHBEARER, SASL_EXTERNAL};
    size_t n = 70000;
    unsigned char *big = malloc(n);
    const unsigned char *out;
    size_t len;
    struct err e;

    CHECK(big);
    memset(big, 'A', n);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        struct sasl *s = new_mech(all[i], "user", NULL, "pencil", NULL);
        CHECK(s);
        CHECK(sasl_step(s, big, n, &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
        CHECK(strstr(e.msg, "70000"));
        sasl_free(s);
    }
    free(big);
}

TEST(sasl_oauth_error_is_printable_and_bounded)
{
    struct sasl *s = new_mech(SASL_OAUTHBEARER, "u", NULL, "tok", NULL);
    unsigned char junk[3000];
    const unsigned char *out;
    const char *se;
    size_t len;
    struct err e;

    CHECK(s);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)i;
    CHECK(sasl_step(s, junk, sizeof junk, &out, &len, &e) == 0);
    CHECK(len == 1 && out[0] == 1);
    se = sasl_server_error(s);
    CHECK(se && strlen(se) < SASL_SERVER_ERROR_MAX);
    for (const char *p = se; *p; p++) CHECK(*p >= 0x20 && *p < 0x7f);
    sasl_free(s);
}

TEST(sasl_plain_and_external_two_step)
{
    struct sasl *s = new_mech(SASL_PLAIN, "tim", NULL, "tanstaaftanstaaf", NULL);
    const unsigned char *out;
    size_t len;
    int has;
    struct err e;

    CHECK(s);
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) == 0);
    CHECK_STR(b64(out, len), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    CHECK(step_str(s, "more?", &out, &len, &e) < 0 && e.kind == ERR_PROTOCOL);
    CHECK(!strstr(e.msg, "tanstaaf"));
    sasl_free(s);

    s = new_mech(SASL_EXTERNAL, NULL, NULL, NULL, NULL);
    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1 && len == 0 && out);
    CHECK(sasl_step(s, NULL, 0, &out, &len, &e) == 0 && len == 0);
    sasl_free(s);
    s = new_mech(SASL_EXTERNAL, NULL, "postmaster", NULL, NULL);
    CHECK(s);
    CHECK(sasl_initial(s, &out, &len, &has, &e) == 0 && has == 1);
    CHECK_MEM(out, len, "postmaster", (size_t)10);
    sasl_free(s);
}

TEST(sasl_bad_parameters_refused)
{
    struct sasl_params p = {NULL, NULL, "pw", NULL, 0, NULL};
    struct sasl *s = NULL;
    struct err e;

    CHECK(sasl_new(&s, SASL_PLAIN, &p, &e) < 0 && e.kind == ERR_AUTH && s == NULL);
    p.user = "tim";
    p.secret = NULL;
    CHECK(sasl_new(&s, SASL_SCRAM_SHA_1, &p, &e) < 0 && e.kind == ERR_AUTH);
    p.secret = "sEcReT\001x";
    CHECK(sasl_new(&s, SASL_XOAUTH2, &p, &e) < 0 && e.kind == ERR_AUTH);
    CHECK(!strstr(e.msg, "sEcReT"));
    p.secret = "pw";
    p.user = "ti\nm";
    CHECK(sasl_new(&s, SASL_LOGIN, &p, &e) < 0 && e.kind == ERR_AUTH);
    p.user = "tim";
    p.test_nonce = "bad,nonce";
    CHECK(sasl_new(&s, SASL_SCRAM_SHA_1, &p, &e) < 0);
    CHECK(sasl_new(&s, (enum sasl_mech)99, &p, &e) < 0 && e.kind == ERR_INTERNAL);
}

TEST(sasl_mech_names)
{
    enum sasl_mech m;

    CHECK_STR(sasl_mech_name(SASL_SCRAM_SHA_256), "SCRAM-SHA-256");
    CHECK_STR(sasl_mech_name(SASL_CRAM_MD5), "CRAM-MD5");
    CHECK(sasl_mech_parse("scram-sha-1", &m) == 0 && m == SASL_SCRAM_SHA_1);
    CHECK(sasl_mech_parse("OAuthBearer", &m) == 0 && m == SASL_OAUTHBEARER);
    CHECK(sasl_mech_parse("GSSAPI", &m) == -1);
    CHECK(sasl_mech_parse("SCRAM-SHA-256-PLUS", &m) == -1);
    CHECK(sasl_mech_sends_secret(SASL_PLAIN) && !sasl_mech_sends_secret(SASL_SCRAM_SHA_256));
}

TEST(sasl_apop_hostile_timestamp_refused)
{
    static const char *bad[] = {"",        "1896.697170952@dbc", "<no-at-sign>", "<a@b> extra",
                                "<a b@c>", "<a@b\x80>"};
    char hex[33];
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(sasl_apop_digest(bad[i], "tanstaaf", hex, &e) < 0 && e.kind == ERR_PROTOCOL);
        CHECK(!strstr(e.msg, "tanstaaf"));
    }
}
