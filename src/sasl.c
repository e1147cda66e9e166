/*
 * sasl — SASL client mechanisms, APOP and base64 on OpenSSL's libcrypto.
 *
 * Owns each mechanism's client messages and the strict checking of the
 * server's challenges; see sasl.h for the contract. Every buffer that ever
 * held the secret or a key derived from it is wiped before it is freed:
 * buffers grow by copy-and-wipe, never by realloc.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sasl.h"

#define PARAM_MAX  1024u  /* user, authzid, host */
#define SECRET_MAX 65536u /* password or OAuth token */
#define NONCE_RAW  24u    /* random bytes in a SCRAM client nonce */
#define NONCE_MAX  128u   /* characters in a SCRAM client nonce */
#define HASH_MAX   32u    /* the largest digest we use (SHA-256) */
#define QUOTE_MAX  100u   /* server text quoted in an error message */
#define B64_ECHUNK (3u * 16384u)
#define B64_DCHUNK (4u * 16384u)

/* ---- a growable byte buffer, always NUL-terminated, wiped when it moves ---- */

struct buf {
    unsigned char *p;
    size_t len, cap;
    int oom;
};

static void buf_wipe(struct buf *b)
{
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* Make room for n more bytes plus a NUL; on failure set b->oom. */
static int buf_reserve(struct buf *b, size_t n)
{
    unsigned char *q;
    size_t cap;

    if (b->oom) return -1;
    if (n > SIZE_MAX / 4 - b->len) {
        b->oom = 1;
        return -1;
    }
    if (b->len + n + 1 <= b->cap) return 0;
    cap = (b->len + n + 1) * 2;
    if (cap < 64) cap = 64;
    q = malloc(cap);
    if (!q) {
        b->oom = 1;
        return -1;
    }
    if (b->len) memcpy(q, b->p, b->len);
    if (b->p) {
        OPENSSL_cleanse(b->p, b->cap);
        free(b->p);
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

static void buf_add(struct buf *b, const void *d, size_t n)
{
    if (buf_reserve(b, n) < 0) return;
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* A SCRAM/GS2 saslname: ',' becomes "=2C" and '=' becomes "=3D". */
static void buf_add_saslname(struct buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ',')
            buf_adds(b, "=2C");
        else if (*s == '=')
            buf_adds(b, "=3D");
        else
            buf_add(b, s, 1);
    }
}

static void buf_add_b64(struct buf *b, const unsigned char *d, size_t n)
{
    if (buf_reserve(b, sasl_b64_encoded_size(n)) < 0) return;
    b->len += sasl_b64_encode(d, n, (char *)b->p + b->len);
}

static void buf_copy(struct buf *dst, const struct buf *src)
{
    buf_wipe(dst);
    buf_add(dst, src->p, src->len);
}

static int buf_check(const struct buf *b, struct err *e)
{
    if (b->oom) return err_set(e, ERR_INTERNAL, "out of memory building a SASL message");
    return 0;
}

/* ---- mechanism table and the exchange object --------------------------- */

static const struct {
    const char *name;
    int has_initial;
    int sends_secret;
} mechs[] = {
    [SASL_PLAIN] = {"PLAIN", 1, 1},
    [SASL_LOGIN] = {"LOGIN", 0, 1},
    [SASL_CRAM_MD5] = {"CRAM-MD5", 0, 0},
    [SASL_SCRAM_SHA_1] = {"SCRAM-SHA-1", 1, 0},
    [SASL_SCRAM_SHA_256] = {"SCRAM-SHA-256", 1, 0},
    [SASL_XOAUTH2] = {"XOAUTH2", 1, 1},
    [SASL_OAUTHBEARER] = {"OAUTHBEARER", 1, 1},
    [SASL_EXTERNAL] = {"EXTERNAL", 1, 0},
};

#define NMECHS (sizeof mechs / sizeof mechs[0])

struct sasl {
    enum sasl_mech mech;
    char *user, *authzid, *secret, *host;
    unsigned port;
    char nonce[NONCE_MAX + 1];
    struct buf init;    /* the initial response */
    struct buf out;     /* the last step's response */
    struct buf authmsg; /* SCRAM AuthMessage */
    size_t gs2_len;     /* SCRAM: the gs2 header's length at the start of init */
    int phase;          /* how far the exchange went; meaning per mechanism */
    int init_by_step;   /* the initial response went out answering a challenge */
    int failed;         /* a step failed: no more steps */
    int verified;       /* SCRAM: server signature checked */
    int bad_sig;        /* SCRAM: server signature was wrong */
    unsigned char server_sig[HASH_MAX];
    size_t hlen;
    char server_error[SASL_SERVER_ERROR_MAX];
};

static int mech_valid(enum sasl_mech m)
{
    return (unsigned)m < NMECHS;
}

static int is_scram(enum sasl_mech m)
{
    return m == SASL_SCRAM_SHA_1 || m == SASL_SCRAM_SHA_256;
}

static int is_oauth(enum sasl_mech m)
{
    return m == SASL_XOAUTH2 || m == SASL_OAUTHBEARER;
}

const char *sasl_mech_name(enum sasl_mech m)
{
    return mech_valid(m) ? mechs[m].name : "?";
}

int sasl_mech_parse(const char *name, enum sasl_mech *m)
{
    if (!name) return -1;
    for (size_t i = 0; i < NMECHS; i++) {
        if (strcasecmp(name, mechs[i].name) == 0) {
            *m = (enum sasl_mech)i;
            return 0;
        }
    }
    return -1;
}

int sasl_mech_sends_secret(enum sasl_mech m)
{
    return mech_valid(m) ? mechs[m].sends_secret : 0;
}

/* ---- small checks and helpers ------------------------------------------ */

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if (is_ctl((unsigned char)*s)) return 1;
    return 0;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E. */
static int printable_nonce(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == ',') return 0;
    }
    return n > 0;
}

static void hex_lower(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

static void wipe_str(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void record_server_error(struct sasl *s, const unsigned char *m, size_t n)
{
    err_quote(s->server_error, sizeof s->server_error, (const char *)m, n);
}

/* ---- crypto primitives (OpenSSL) --------------------------------------- */

static const EVP_MD *scram_md(enum sasl_mech m)
{
    return m == SASL_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
}

static int hmac(const EVP_MD *md, const void *key, size_t klen, const void *d, size_t n,
                unsigned char *out)
{
    unsigned int olen = 0;

    if (klen > INT_MAX) return -1;
    if (!HMAC(md, key, (int)klen, d, n, out, &olen)) return -1;
    return (size_t)olen == (size_t)EVP_MD_get_size(md) ? 0 : -1;
}

static int digest(const EVP_MD *md, const void *d, size_t n, unsigned char *out)
{
    unsigned int olen = 0;

    if (!EVP_Digest(d, n, out, &olen, md, NULL)) return -1;
    return (size_t)olen == (size_t)EVP_MD_get_size(md) ? 0 : -1;
}

int sasl_scram_salted_password(enum sasl_mech m, const char *password, const unsigned char *salt,
                               size_t saltlen, unsigned long iter, unsigned char *out,
                               size_t *outlen, struct err *e)
{
    const EVP_MD *md;
    size_t plen = strlen(password);
    int hlen;

    if (!is_scram(m)) return err_set(e, ERR_INTERNAL, "salted password for a non-SCRAM mechanism");
    if (plen > INT_MAX || saltlen > INT_MAX || iter == 0 || iter > INT_MAX)
        return err_set(e, ERR_INTERNAL, "SCRAM key derivation input out of range");
    md = scram_md(m);
    hlen = EVP_MD_get_size(md);
    if (hlen <= 0 || (size_t)hlen > HASH_MAX)
        return err_set(e, ERR_INTERNAL, "SCRAM hash is unavailable");
    if (PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)saltlen, (int)iter, md, hlen, out) != 1)
        return err_set(e, ERR_INTERNAL, "SCRAM key derivation (PBKDF2) failed");
    *outlen = (size_t)hlen;
    return 0;
}

/* ---- base64 ------------------------------------------------------------ */

size_t sasl_b64_encoded_size(size_t n)
{
    return 4 * ((n + 2) / 3) + 1;
}

size_t sasl_b64_decoded_size(size_t n)
{
    return 3 * (n / 4);
}

size_t sasl_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;

    out[0] = '\0';
    while (n > 0) {
        size_t chunk = n > B64_ECHUNK ? B64_ECHUNK : n;
        int w = EVP_EncodeBlock((unsigned char *)out + o, in, (int)chunk);

        if (w < 0) break; /* cannot happen for chunk > 0 */
        o += (size_t)w;
        in += chunk;
        n -= chunk;
    }
    return o;
}

static int b64_val(char ch)
{
    unsigned char c = (unsigned char)ch;

    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Alphabet, padding and canonical trailing bits; returns the pad count or -1. */
static int b64_validate(const char *in, size_t n)
{
    size_t pad = 0;

    if (n % 4 != 0) return -1;
    if (in[n - 1] == '=') pad++;
    if (pad && in[n - 2] == '=') pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (b64_val(in[i]) < 0) return -1;
    if (pad == 2 && (b64_val(in[n - 3]) & 0x0f) != 0) return -1;
    if (pad == 1 && (b64_val(in[n - 2]) & 0x03) != 0) return -1;
    return (int)pad;
}

int sasl_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
    unsigned char last[3];
    size_t body, o = 0;
    int pad;

    *outlen = 0;
    if (n == 0) return 0;
    pad = b64_validate(in, n);
    if (pad < 0) return -1;
    body = n - 4; /* every quad but the last decodes to exactly 3 bytes */
    for (size_t i = 0; i < body;) {
        size_t chunk = body - i > B64_DCHUNK ? B64_DCHUNK : body - i;

        if (EVP_DecodeBlock(out + o, (const unsigned char *)in + i, (int)chunk) !=
            (int)(chunk / 4 * 3))
            return -1;
        o += chunk / 4 * 3;
        i += chunk;
    }
    /* EVP_DecodeBlock writes 3 bytes for a padded quad: decode it aside. */
    if (EVP_DecodeBlock(last, (const unsigned char *)in + body, 4) != 3) return -1;
    memcpy(out + o, last, 3 - (size_t)pad);
    OPENSSL_cleanse(last, sizeof last);
    *outlen = o + 3 - (size_t)pad;
    return 0;
}

/* ---- APOP -------------------------------------------------------------- */

static int apop_timestamp_ok(const char *ts)
{
    size_t n = strlen(ts);
    int at = 0;

    if (n < 3 || n > 512 || ts[0] != '<' || ts[n - 1] != '>') return 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)ts[i];
        if (c < 0x21 || c > 0x7e || c == '<' || c == '>') return 0;
        if (c == '@') at = 1;
    }
    return at;
}

int sasl_apop_digest(const char *timestamp, const char *secret, char hex[33], struct err *e)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx;
    int ok;

    hex[0] = '\0';
    if (!apop_timestamp_ok(timestamp)) {
        char q[QUOTE_MAX];
        err_quote(q, sizeof q, timestamp, strlen(timestamp));
        return err_set(e, ERR_PROTOCOL, "APOP timestamp in the greeting is not a msg-id: \"%s\"",
                       q);
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx) return err_set(e, ERR_INTERNAL, "out of memory computing the APOP digest");
    ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, timestamp, strlen(timestamp)) == 1 &&
         EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
         EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16;
    EVP_MD_CTX_free(ctx);
    if (ok) hex_lower(md, 16, hex);
    OPENSSL_cleanse(md, sizeof md);
    return ok ? 0 : err_set(e, ERR_INTERNAL, "MD5 is unavailable for APOP");
}

/* ---- creating an exchange: checking parameters, building the initial reply ---- */

static int check_param(const char *what, const char *v, size_t max, struct err *e)
{
    if (strlen(v) > max) return err_set(e, ERR_AUTH, "the %s is longer than %zu bytes", what, max);
    if (has_ctl(v)) return err_set(e, ERR_AUTH, "the %s contains a control character", what);
    return 0;
}

static int check_params(enum sasl_mech m, const struct sasl_params *p, struct err *e)
{
    const char *name = mechs[m].name;

    if (m != SASL_EXTERNAL && (!p->user || !p->user[0]))
        return err_set(e, ERR_AUTH, "%s needs a user name and none is configured", name);
    if (m != SASL_EXTERNAL && !p->secret)
        return err_set(e, ERR_AUTH, "%s needs a %s and none was given", name,
                       is_oauth(m) ? "token" : "password");
    if (is_oauth(m) && !p->secret[0])
        return err_set(e, ERR_AUTH, "%s needs an OAuth access token and it is empty", name);
    if (p->user && check_param("user name", p->user, PARAM_MAX, e) < 0) return -1;
    if (p->authzid && check_param("authorization identity", p->authzid, PARAM_MAX, e) < 0)
        return -1;
    if (p->host && check_param("host name", p->host, PARAM_MAX, e) < 0) return -1;
    if (p->secret && strlen(p->secret) > SECRET_MAX)
        return err_set(e, ERR_AUTH, "the secret is longer than %u bytes", SECRET_MAX);
    if (is_oauth(m) && has_ctl(p->secret))
        return err_set(e, ERR_AUTH, "the OAuth access token contains a control character");
    if (m == SASL_OAUTHBEARER && p->port > 65535)
        return err_set(e, ERR_AUTH, "port %u is out of range", p->port);
    return 0;
}

static int make_nonce(struct sasl *s, const char *test_nonce, struct err *e)
{
    unsigned char raw[NONCE_RAW];

    if (test_nonce) {
        size_t n = strlen(test_nonce);
        if (n > NONCE_MAX || !printable_nonce(test_nonce, n))
            return err_set(e, ERR_INTERNAL, "the SCRAM test nonce is not a valid nonce");
        memcpy(s->nonce, test_nonce, n + 1);
        return 0;
    }
    if (RAND_bytes(raw, (int)sizeof raw) != 1)
        return err_set(e, ERR_INTERNAL, "no random bytes for the SCRAM nonce");
    sasl_b64_encode(raw, sizeof raw, s->nonce); /* 32 characters, no '=' */
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

static void build_plain(struct sasl *s)
{
    buf_add(&s->init, s->authzid, strlen(s->authzid) + 1);
    buf_add(&s->init, s->user, strlen(s->user) + 1);
    buf_adds(&s->init, s->secret);
}

/* gs2-header "n," [ "a=" saslname ] "," then client-first-message-bare. */
static void build_scram_first(struct sasl *s)
{
    buf_adds(&s->init, "n,");
    if (s->authzid[0]) {
        buf_adds(&s->init, "a=");
        buf_add_saslname(&s->init, s->authzid);
    }
    buf_adds(&s->init, ",");
    s->gs2_len = s->init.len;
    buf_adds(&s->init, "n=");
    buf_add_saslname(&s->init, s->user);
    buf_adds(&s->init, ",r=");
    buf_adds(&s->init, s->nonce);
}

static void build_xoauth2(struct sasl *s)
{
    buf_adds(&s->init, "user=");
    buf_adds(&s->init, s->user);
    buf_adds(&s->init, "\001auth=Bearer ");
    buf_adds(&s->init, s->secret);
    buf_adds(&s->init, "\001\001");
}

static void build_oauthbearer(struct sasl *s)
{
    const char *a = s->authzid[0] ? s->authzid : s->user;
    char port[24];

    buf_adds(&s->init, "n,");
    if (a[0]) {
        buf_adds(&s->init, "a=");
        buf_add_saslname(&s->init, a);
    }
    buf_adds(&s->init, ",\001");
    if (s->host[0]) {
        buf_adds(&s->init, "host=");
        buf_adds(&s->init, s->host);
        buf_adds(&s->init, "\001");
    }
    if (s->port) {
        snprintf(port, sizeof port, "port=%u\001", s->port);
        buf_adds(&s->init, port);
    }
    buf_adds(&s->init, "auth=Bearer ");
    buf_adds(&s->init, s->secret);
    buf_adds(&s->init, "\001\001");
}

static int build_initial(struct sasl *s, struct err *e)
{
    switch (s->mech) {
    case SASL_PLAIN:
        build_plain(s);
        break;
    case SASL_SCRAM_SHA_1:
    case SASL_SCRAM_SHA_256:
        build_scram_first(s);
        break;
    case SASL_XOAUTH2:
        build_xoauth2(s);
        break;
    case SASL_OAUTHBEARER:
        build_oauthbearer(s);
        break;
    case SASL_EXTERNAL:
        buf_adds(&s->init, s->authzid);
        break;
    case SASL_LOGIN:
    case SASL_CRAM_MD5:
        break;
    }
    return buf_check(&s->init, e);
}

static char *dup_or_empty(const char *v, int *oom)
{
    char *d = strdup(v ? v : "");

    if (!d) *oom = 1;
    return d;
}

static int copy_params(struct sasl *s, const struct sasl_params *p, struct err *e)
{
    int oom = 0;

    s->user = dup_or_empty(p->user, &oom);
    s->authzid = dup_or_empty(p->authzid, &oom);
    s->secret = dup_or_empty(p->secret, &oom);
    s->host = dup_or_empty(p->host, &oom);
    s->port = p->port;
    if (oom) return err_set(e, ERR_INTERNAL, "out of memory starting SASL");
    return 0;
}

int sasl_new(struct sasl **sp, enum sasl_mech m, const struct sasl_params *p, struct err *e)
{
    struct sasl *s;

    *sp = NULL;
    if (!mech_valid(m)) return err_set(e, ERR_INTERNAL, "unknown SASL mechanism %d", (int)m);
    if (check_params(m, p, e) < 0) return -1;
    s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ERR_INTERNAL, "out of memory starting SASL");
    s->mech = m;
    if (copy_params(s, p, e) < 0 || (is_scram(m) && make_nonce(s, p->test_nonce, e) < 0) ||
        build_initial(s, e) < 0) {
        sasl_free(s);
        return -1;
    }
    *sp = s;
    return 0;
}

void sasl_free(struct sasl *s)
{
    if (!s) return;
    wipe_str(s->user);
    wipe_str(s->authzid);
    wipe_str(s->secret);
    wipe_str(s->host);
    buf_wipe(&s->init);
    buf_wipe(&s->out);
    buf_wipe(&s->authmsg);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

int sasl_initial(struct sasl *s, const unsigned char **out, size_t *len, int *has, struct err *e)
{
    (void)e;
    *has = mechs[s->mech].has_initial;
    *out = NULL;
    *len = 0;
    if (*has) {
        *out = s->init.p ? s->init.p : (const unsigned char *)"";
        *len = s->init.len;
    }
    return 0;
}

/* ---- steps of the simple mechanisms ------------------------------------ */

/* The server's first challenge is empty and the initial response has not
 * gone out as a step: the caller did not send it with AUTH, send it now. */
static int initial_wanted(const struct sasl *s, size_t clen)
{
    return mechs[s->mech].has_initial && s->phase == 0 && !s->init_by_step && clen == 0;
}

static int unexpected(const struct sasl *s, struct err *e)
{
    return err_set(e, ERR_PROTOCOL, "server sent an unexpected %s challenge", mechs[s->mech].name);
}

static int step_initial_only(struct sasl *s, size_t clen, struct err *e)
{
    if (!initial_wanted(s, clen)) return unexpected(s, e);
    buf_copy(&s->out, &s->init);
    s->init_by_step = 1;
    return buf_check(&s->out, e);
}

static int step_login(struct sasl *s, struct err *e)
{
    if (s->phase >= 2)
        return err_set(e, ERR_PROTOCOL,
                       "server sent a third LOGIN challenge (only user name and "
                       "password are defined)");
    buf_adds(&s->out, s->phase == 0 ? s->user : s->secret);
    s->phase++;
    return buf_check(&s->out, e);
}

static int step_cram_md5(struct sasl *s, const unsigned char *chal, size_t clen, struct err *e)
{
    unsigned char mac[16];
    char hex[33];

    if (s->phase != 0) return unexpected(s, e);
    if (clen == 0) return err_set(e, ERR_PROTOCOL, "server sent an empty CRAM-MD5 challenge");
    if (hmac(EVP_md5(), s->secret, strlen(s->secret), chal, clen, mac) < 0)
        return err_set(e, ERR_INTERNAL, "HMAC-MD5 is unavailable for CRAM-MD5");
    hex_lower(mac, sizeof mac, hex);
    buf_adds(&s->out, s->user);
    buf_adds(&s->out, " ");
    buf_adds(&s->out, hex);
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(hex, sizeof hex);
    s->phase = 1;
    return buf_check(&s->out, e);
}

/* XOAUTH2 / OAUTHBEARER: the empty first challenge gets the token; a
 * non-empty challenge is the server's JSON error: record it and answer with
 * the dummy response that lets the server send its -ERR. */
static int step_oauth(struct sasl *s, const unsigned char *chal, size_t clen, struct err *e)
{
    if (initial_wanted(s, clen)) return step_initial_only(s, clen, e);
    if (s->phase != 0 || clen == 0) return unexpected(s, e);
    record_server_error(s, chal, clen);
    if (s->mech == SASL_OAUTHBEARER) buf_add(&s->out, "\001", 1);
    s->phase = 1;
    return buf_check(&s->out, e);
}

/* ---- SCRAM: parsing the server's messages ------------------------------ */

struct attr {
    char name;
    const char *val;
    size_t vlen;
};

struct server_first {
    const char *nonce;
    size_t nlen;
    const char *salt;
    size_t slen;
    unsigned long iter;
};

/* One "x=value" at *pos; leaves *pos past the following ','. Empty values,
 * a missing '=' and a trailing ',' are malformed. */
static int next_attr(const char *m, size_t n, size_t *pos, struct attr *a)
{
    size_t p = *pos, end;

    if (p + 2 > n || !is_alpha((unsigned char)m[p]) || m[p + 1] != '=') return -1;
    for (end = p + 2; end < n && m[end] != ','; end++) continue;
    a->name = m[p];
    a->val = m + p + 2;
    a->vlen = end - (p + 2);
    if (a->vlen == 0 || (end < n && end + 1 == n)) return -1;
    *pos = end < n ? end + 1 : end;
    return 0;
}

static int scram_malformed(const char *what, const char *m, size_t n, const char *expect,
                           struct err *e)
{
    char q[QUOTE_MAX];

    err_quote(q, sizeof q, m, n);
    return err_set(e, ERR_PROTOCOL, "malformed SCRAM %s message (%s): \"%s\"", what, expect, q);
}

static int scram_check_bytes(const char *what, const char *m, size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        if (is_ctl((unsigned char)m[i]))
            return err_set(e, ERR_PROTOCOL,
                           "SCRAM %s message contains a control byte (0x%02x at offset %zu)", what,
                           (unsigned char)m[i], i);
    return 0;
}

/* "e=value" anywhere a server message may start: the server's refusal. */
static int scram_server_refused(struct sasl *s, const char *m, size_t n, struct err *e)
{
    size_t end = 2;
    char q[QUOTE_MAX];

    while (end < n && m[end] != ',') end++;
    record_server_error(s, (const unsigned char *)m + 2, end - 2);
    err_quote(q, sizeof q, m + 2, end - 2);
    return err_set(e, ERR_AUTH, "server refused %s authentication: %s", mechs[s->mech].name, q);
}

/* Skip the optional extensions after the mandatory attributes. */
static int scram_extensions(const char *m, size_t n, size_t pos)
{
    struct attr a;

    while (pos < n)
        if (next_attr(m, n, &pos, &a) < 0) return -1;
    return 0;
}

static int parse_iterations(const struct attr *a, unsigned long *iter, struct err *e)
{
    unsigned long v = 0;

    for (size_t i = 0; i < a->vlen; i++) {
        if (a->val[i] < '0' || a->val[i] > '9')
            return err_set(e, ERR_PROTOCOL, "SCRAM iteration count (i=) is not a number");
        v = v * 10 + (unsigned long)(a->val[i] - '0');
        if (v > SASL_MAX_ITERATIONS)
            return err_set(e, ERR_PROTOCOL,
                           "server asked for more than %lu SCRAM iterations: refusing",
                           SASL_MAX_ITERATIONS);
    }
    if (v < SASL_MIN_ITERATIONS) {
        err_set(e, ERR_AUTH,
                "server asked for only %lu SCRAM iterations, fewer than the minimum %lu: "
                "refusing (the password hash would be too weak)",
                v, SASL_MIN_ITERATIONS);
        err_hint(e, "have the server's admin raise the SCRAM iteration count, or choose "
                    "another auth mechanism");
        return -1;
    }
    *iter = v;
    return 0;
}

static int parse_server_nonce(const struct sasl *s, const struct attr *a, struct err *e)
{
    size_t ours = strlen(s->nonce);

    if (!printable_nonce(a->val, a->vlen))
        return err_set(e, ERR_PROTOCOL, "SCRAM server nonce (r=) has a non-printable character");
    if (a->vlen <= ours || memcmp(a->val, s->nonce, ours) != 0)
        return err_set(e, ERR_PROTOCOL,
                       "SCRAM server nonce does not extend the client nonce: refusing");
    return 0;
}

static int parse_server_first(struct sasl *s, const char *m, size_t n, struct server_first *sf,
                              struct err *e)
{
    static const char what[] = "server-first";
    struct attr a;
    size_t pos = 0;

    if (scram_check_bytes(what, m, n, e) < 0) return -1;
    if (n >= 2 && m[0] == 'e' && m[1] == '=') return scram_server_refused(s, m, n, e);
    if (next_attr(m, n, &pos, &a) < 0) return scram_malformed(what, m, n, "expected r=", e);
    if (a.name == 'm')
        return err_set(e, ERR_PROTOCOL, "server requires a SCRAM extension (m=) we do not know");
    if (a.name != 'r') return scram_malformed(what, m, n, "expected r=", e);
    if (parse_server_nonce(s, &a, e) < 0) return -1;
    sf->nonce = a.val;
    sf->nlen = a.vlen;
    if (next_attr(m, n, &pos, &a) < 0 || a.name != 's')
        return scram_malformed(what, m, n, "expected s= after r=", e);
    sf->salt = a.val;
    sf->slen = a.vlen;
    if (next_attr(m, n, &pos, &a) < 0 || a.name != 'i')
        return scram_malformed(what, m, n, "expected i= after s=", e);
    if (parse_iterations(&a, &sf->iter, e) < 0) return -1;
    if (scram_extensions(m, n, pos) < 0)
        return scram_malformed(what, m, n, "bad attribute after i=", e);
    return 0;
}

/* ---- SCRAM: the proofs ------------------------------------------------- */

struct scram_keys {
    unsigned char salted[HASH_MAX], ckey[HASH_MAX], stored[HASH_MAX], csig[HASH_MAX];
    unsigned char proof[HASH_MAX], skey[HASH_MAX];
};

/* client-final-message-without-proof: "c=" base64(gs2-header) ",r=" nonce */
static void scram_without_proof(const struct sasl *s, const struct server_first *sf, struct buf *b)
{
    buf_adds(b, "c=");
    buf_add_b64(b, s->init.p, s->gs2_len);
    buf_adds(b, ",r=");
    buf_add(b, sf->nonce, sf->nlen);
}

/* AuthMessage := client-first-bare "," server-first "," without-proof */
static void scram_auth_message(struct sasl *s, const char *m, size_t n, const struct buf *wp)
{
    buf_wipe(&s->authmsg);
    buf_add(&s->authmsg, s->init.p + s->gs2_len, s->init.len - s->gs2_len);
    buf_adds(&s->authmsg, ",");
    buf_add(&s->authmsg, m, n);
    buf_adds(&s->authmsg, ",");
    buf_add(&s->authmsg, wp->p, wp->len);
}

static int scram_decode_salt(const struct server_first *sf, struct buf *salt, struct err *e)
{
    size_t len;

    if (buf_reserve(salt, sasl_b64_decoded_size(sf->slen)) < 0) return buf_check(salt, e);
    if (sasl_b64_decode(sf->salt, sf->slen, salt->p, &len) < 0 || len == 0)
        return err_set(e, ERR_PROTOCOL, "SCRAM salt (s=) is not valid base64");
    salt->len = len;
    return 0;
}

/* ClientProof and ServerSignature from the password and AuthMessage. */
static int scram_proofs(struct sasl *s, const struct buf *salt, unsigned long iter,
                        struct scram_keys *k, struct err *e)
{
    const EVP_MD *md = scram_md(s->mech);
    const unsigned char *am = s->authmsg.p;
    size_t hlen, alen = s->authmsg.len;

    if (sasl_scram_salted_password(s->mech, s->secret, salt->p, salt->len, iter, k->salted, &hlen,
                                   e) < 0)
        return -1;
    if (hmac(md, k->salted, hlen, "Client Key", 10, k->ckey) < 0 ||
        digest(md, k->ckey, hlen, k->stored) < 0 ||
        hmac(md, k->stored, hlen, am, alen, k->csig) < 0 ||
        hmac(md, k->salted, hlen, "Server Key", 10, k->skey) < 0 ||
        hmac(md, k->skey, hlen, am, alen, s->server_sig) < 0)
        return err_set(e, ERR_INTERNAL, "SCRAM HMAC computation failed");
    for (size_t i = 0; i < hlen; i++) k->proof[i] = k->ckey[i] ^ k->csig[i];
    s->hlen = hlen;
    return 0;
}

static int scram_client_final(struct sasl *s, const char *m, size_t n, struct err *e)
{
    struct server_first sf = {0};
    struct scram_keys k;
    struct buf salt = {0}, wp = {0};
    int rc;

    if (parse_server_first(s, m, n, &sf, e) < 0) return -1;
    rc = scram_decode_salt(&sf, &salt, e);
    if (rc == 0) {
        scram_without_proof(s, &sf, &wp);
        scram_auth_message(s, m, n, &wp);
        rc = buf_check(&wp, e) < 0 || buf_check(&s->authmsg, e) < 0 ? -1 : 0;
    }
    if (rc == 0) rc = scram_proofs(s, &salt, sf.iter, &k, e);
    if (rc == 0) {
        buf_add(&s->out, wp.p, wp.len);
        buf_adds(&s->out, ",p=");
        buf_add_b64(&s->out, k.proof, s->hlen);
        rc = buf_check(&s->out, e);
    }
    OPENSSL_cleanse(&k, sizeof k);
    buf_wipe(&salt);
    buf_wipe(&wp);
    return rc;
}

static int scram_verify(struct sasl *s, const struct attr *v, struct err *e)
{
    unsigned char sig[HASH_MAX + 3]; /* decoded size of the longest v= we accept */
    size_t len = 0;

    if (v->vlen > 4 * ((HASH_MAX + 2) / 3) || sasl_b64_decode(v->val, v->vlen, sig, &len) < 0)
        return err_set(e, ERR_PROTOCOL, "SCRAM server signature (v=) is not valid base64");
    if (len != s->hlen || CRYPTO_memcmp(sig, s->server_sig, s->hlen) != 0) {
        s->bad_sig = 1;
        err_set(e, ERR_AUTH, "server signature did not verify");
        err_hint(e, "the server does not know your password: it may be an impostor");
        return -1;
    }
    s->verified = 1;
    return 0;
}

static int scram_server_final(struct sasl *s, const char *m, size_t n, struct err *e)
{
    static const char what[] = "server-final";
    struct attr a;
    size_t pos = 0;

    if (scram_check_bytes(what, m, n, e) < 0) return -1;
    if (n >= 2 && m[0] == 'e' && m[1] == '=') return scram_server_refused(s, m, n, e);
    if (next_attr(m, n, &pos, &a) < 0 || a.name != 'v')
        return scram_malformed(what, m, n, "expected v= or e=", e);
    if (scram_extensions(m, n, pos) < 0)
        return scram_malformed(what, m, n, "bad attribute after v=", e);
    return scram_verify(s, &a, e);
}

static int step_scram(struct sasl *s, const unsigned char *chal, size_t clen, struct err *e)
{
    const char *m = (const char *)chal;

    if (initial_wanted(s, clen)) return step_initial_only(s, clen, e);
    switch (s->phase) {
    case 0:
        if (scram_client_final(s, m, clen, e) < 0) return -1;
        break;
    case 1:
        if (scram_server_final(s, m, clen, e) < 0) return -1;
        break; /* the response is empty */
    default:
        return unexpected(s, e);
    }
    s->phase++;
    return 0;
}

/* ---- driving the exchange ---------------------------------------------- */

static int step_dispatch(struct sasl *s, const unsigned char *chal, size_t clen, struct err *e)
{
    switch (s->mech) {
    case SASL_PLAIN:
    case SASL_EXTERNAL:
        return step_initial_only(s, clen, e);
    case SASL_LOGIN:
        return step_login(s, e);
    case SASL_CRAM_MD5:
        return step_cram_md5(s, chal, clen, e);
    case SASL_SCRAM_SHA_1:
    case SASL_SCRAM_SHA_256:
        return step_scram(s, chal, clen, e);
    case SASL_XOAUTH2:
    case SASL_OAUTHBEARER:
        return step_oauth(s, chal, clen, e);
    }
    return err_set(e, ERR_INTERNAL, "unknown SASL mechanism");
}

int sasl_step(struct sasl *s, const unsigned char *chal, size_t clen, const unsigned char **out,
              size_t *len, struct err *e)
{
    *out = NULL;
    *len = 0;
    if (s->failed)
        return err_set(e, ERR_PROTOCOL, "the %s exchange already failed", mechs[s->mech].name);
    buf_wipe(&s->out);
    if (!chal && clen > 0) return err_set(e, ERR_INTERNAL, "SASL challenge without a buffer");
    if (clen > SASL_MAX_CHALLENGE) {
        s->failed = 1;
        return err_set(e, ERR_PROTOCOL, "server sent a %zu-byte %s challenge (limit %u)", clen,
                       mechs[s->mech].name, SASL_MAX_CHALLENGE);
    }
    if (step_dispatch(s, chal ? chal : (const unsigned char *)"", clen, e) < 0) {
        s->failed = 1;
        buf_wipe(&s->out);
        return -1;
    }
    *out = s->out.p ? s->out.p : (const unsigned char *)"";
    *len = s->out.len;
    return 0;
}

int sasl_finish(struct sasl *s, struct err *e)
{
    if (!is_scram(s->mech) || s->verified) return 0;
    if (s->bad_sig) return err_set(e, ERR_AUTH, "server signature did not verify");
    err_set(e, ERR_AUTH, "server never proved it knows the password");
    err_hint(e, "the server said +OK without a SCRAM server signature (v=): it may be an "
                "impostor");
    return -1;
}

const char *sasl_server_error(const struct sasl *s)
{
    return s && s->server_error[0] ? s->server_error : NULL;
}

const char *sasl_scram_auth_message(const struct sasl *s, size_t *len)
{
    if (!s || !s->authmsg.p) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = s->authmsg.len;
    return (const char *)s->authmsg.p;
}
