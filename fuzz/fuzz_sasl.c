/*
 * fuzz_sasl — the SASL client mechanisms (src/sasl.h) answering hostile
 * server challenges: sasl_new, sasl_initial, then sasl_step for each
 * challenge, sasl_finish, sasl_server_error, sasl_scram_auth_message, for
 * PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER
 * and EXTERNAL (their error paths included).
 *
 * Input: byte 0 picks the mechanism (mod 8, in enum sasl_mech order);
 * byte 1 holds flags: bit 0 an authorization identity with ',' and '=',
 * bit 1 "sign": after a SCRAM client-final, the harness builds the correct
 * server-final "v=..." itself (followed by the next fuzz challenge if that
 * starts with ','), bit 2 "tamper": with bit 1, one base64 digit of that
 * signature is changed. The rest: decoded challenges separated by
 * "\n--\n" (at most 8).
 *
 * Invariants (abort on violation), with the crypto recomputed here straight
 * from OpenSSL, independently of sasl.c:
 *  - every failure is ERR_AUTH or ERR_PROTOCOL, and after one failure
 *    every later step fails; no message or hint holds the secret (unless
 *    the server itself sent it);
 *  - PLAIN, EXTERNAL: only an empty first challenge is answered, with the
 *    initial response; LOGIN: the user, then the password, then failure;
 *  - CRAM-MD5: "user " + lower-case hex HMAC-MD5(secret, challenge);
 *  - XOAUTH2 / OAUTHBEARER: the empty first challenge gets the initial
 *    response; an error challenge is recorded (printable, bounded, the
 *    quoted challenge) and answered with "" / "\x01";
 *  - SCRAM: the client-final is exactly "c=" b64(gs2-header) ",r=" nonce
 *    ",p=" b64(ClientProof) for the AuthMessage client-first-bare ","
 *    server-first "," client-final-without-proof, which
 *    sasl_scram_auth_message returns; a server-final is accepted only with
 *    the right ServerSignature, and sasl_finish succeeds iff one was.
 * Server-first messages asking for more than 20000 iterations are skipped
 * (each costs a PBKDF2 run; the limit checks themselves are reached).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "harness.h"
#include "sasl.h"

#define USER    "user"
#define SECRET  "Tr0ub4dor&3-fuzz-secret"
#define NONCE   "fyko+d2lbbFgONRv9qkxdawL"
#define AUTHZID "admin,=x"
#define MAXCHAL 8

struct scram {
    int phase; /* 0: before client-final, 1: before server-final, 2: verified */
    unsigned char ssig[32];
    size_t hlen;
};

static void b64(const unsigned char *d, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

/* Decode standard padded base64 with OpenSSL; -1 if malformed. */
static int unb64(const char *s, size_t n, unsigned char *out, size_t *olen)
{
    int r, pad = 0;

    if (n == 0 || n % 4) return -1;
    if (s[n - 1] == '=') pad++;
    if (s[n - 2] == '=') pad++;
    r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0) return -1;
    *olen = (size_t)r - (size_t)pad;
    return 0;
}

/* Does s hold SECRET? A plain loop: libFuzzer would learn the secret from
 * strstr and memmem and put it in a challenge. */
static int contains(const char *s, size_t n)
{
    size_t k = sizeof SECRET - 1;

    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && s[i + j] == SECRET[j]) j++;
        if (j == k) return 1;
    }
    return 0;
}

/* The i= of a server-first message, or 0. */
static unsigned long iterations(const uint8_t *m, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if ((i == 0 || m[i - 1] == ',') && m[i] == 'i' && m[i + 1] == '=') {
            unsigned long v = 0;
            for (size_t k = i + 2; k < n && m[k] >= '0' && m[k] <= '9' && v < 100000000; k++)
                v = v * 10 + (unsigned long)(m[k] - '0');
            return v;
        }
    }
    return 0;
}

/* Attribute k (0-based, "x=value" comma-separated) of a SCRAM message. */
static int attr(const char *m, size_t n, int k, char name, const char **v, size_t *vlen)
{
    size_t p = 0;

    for (int i = 0; i < k; i++) {
        const char *c = memchr(m + p, ',', n - p);
        if (!c) return -1;
        p = (size_t)(c - m) + 1;
    }
    if (p + 2 > n || m[p] != name || m[p + 1] != '=') return -1;
    *v = m + p + 2;
    *vlen = n - p - 2;
    if (memchr(*v, ',', *vlen)) *vlen = (size_t)((const char *)memchr(*v, ',', *vlen) - *v);
    return 0;
}

static void check_client_final(struct scram *sc, enum sasl_mech m, int authz, const char *chal,
                               size_t clen, const struct sasl *s, const unsigned char *out,
                               size_t olen)
{
    const EVP_MD *md = m == SASL_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
    size_t hlen = (size_t)EVP_MD_get_size(md), nlen, slen, saltlen, alen, wplen;
    const char *nonce, *salt, *iter, *gs2 = authz ? "n,a=admin=2C=3Dx," : "n,,";
    unsigned char saltbuf[SASL_MAX_CHALLENGE], salted[32], ckey[32], stored[32], csig[32];
    unsigned char proof[32], skey[32];
    unsigned int l;
    char *am, *want, gs2b64[64], proofb64[64];
    const char *got_am;
    size_t ilen, amlen;
    unsigned long it = 0;

    FUZZ_CHECK(attr(chal, clen, 0, 'r', &nonce, &nlen) == 0);
    FUZZ_CHECK(attr(chal, clen, 1, 's', &salt, &slen) == 0);
    FUZZ_CHECK(attr(chal, clen, 2, 'i', &iter, &ilen) == 0);
    FUZZ_CHECK(nlen > strlen(NONCE) && !memcmp(nonce, NONCE, strlen(NONCE)));
    FUZZ_CHECK(unb64(salt, slen, saltbuf, &saltlen) == 0 && saltlen > 0);
    for (size_t i = 0; i < ilen; i++) it = it * 10 + (unsigned long)(iter[i] - '0');
    FUZZ_CHECK(it >= SASL_MIN_ITERATIONS && it <= SASL_MAX_ITERATIONS);

    /* client-final-message-without-proof and the AuthMessage */
    b64((const unsigned char *)gs2, strlen(gs2), gs2b64);
    wplen = 2 + strlen(gs2b64) + 3 + nlen;
    if (!(want = malloc(wplen + 4 + 64)) || !(am = malloc(64 + clen + wplen))) abort();
    memcpy(want, "c=", 2);
    memcpy(want + 2, gs2b64, strlen(gs2b64));
    memcpy(want + 2 + strlen(gs2b64), ",r=", 3);
    memcpy(want + 2 + strlen(gs2b64) + 3, nonce, nlen);
    alen = (size_t)sprintf(am, "n=%s,r=%s,", USER, NONCE);
    memcpy(am + alen, chal, clen);
    alen += clen;
    am[alen++] = ',';
    memcpy(am + alen, want, wplen);
    alen += wplen;

    FUZZ_CHECK(PKCS5_PBKDF2_HMAC(SECRET, (int)strlen(SECRET), saltbuf, (int)saltlen, (int)it, md,
                                 (int)hlen, salted) == 1);
    FUZZ_CHECK(HMAC(md, salted, (int)hlen, (const unsigned char *)"Client Key", 10, ckey, &l));
    FUZZ_CHECK(EVP_Digest(ckey, hlen, stored, &l, md, NULL) == 1);
    FUZZ_CHECK(HMAC(md, stored, (int)hlen, (const unsigned char *)am, alen, csig, &l));
    FUZZ_CHECK(HMAC(md, salted, (int)hlen, (const unsigned char *)"Server Key", 10, skey, &l));
    FUZZ_CHECK(HMAC(md, skey, (int)hlen, (const unsigned char *)am, alen, sc->ssig, &l));
    for (size_t i = 0; i < hlen; i++) proof[i] = ckey[i] ^ csig[i];
    sc->hlen = hlen;

    b64(proof, hlen, proofb64);
    memcpy(want + wplen, ",p=", 3);
    memcpy(want + wplen + 3, proofb64, strlen(proofb64));
    FUZZ_CHECK(olen == wplen + 3 + strlen(proofb64) && !memcmp(out, want, olen));
    got_am = sasl_scram_auth_message(s, &amlen);
    FUZZ_CHECK(got_am && amlen == alen && !memcmp(got_am, am, alen));
    free(want);
    free(am);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_field ch[MAXCHAL];
    struct sasl_params p = {.user = USER,
                            .secret = SECRET,
                            .host = "pop.example.org",
                            .port = 995,
                            .test_nonce = NONCE};
    struct sasl *s;
    struct err e;
    struct scram sc = {0};
    enum sasl_mech m;
    const unsigned char *init, *out;
    unsigned char *initcopy;
    size_t ilen, olen, nch;
    int has, flags, failed = 0, steps_ok = 0, initial_sent = 0, secret_in_input;
    const char *se;

    if (size < 2) return 0;
    m = (enum sasl_mech)(data[0] % 8);
    flags = data[1];
    data += 2, size -= 2;
    nch = fuzz_split(data, size, "\n--\n", ch, MAXCHAL);
    if (m == SASL_SCRAM_SHA_1 || m == SASL_SCRAM_SHA_256)
        for (size_t i = 0; i < nch; i++)
            if (iterations(ch[i].p, ch[i].len) > 20000) return 0;
    if (flags & 1) p.authzid = AUTHZID;
    secret_in_input = contains((const char *)data, size);

    FUZZ_CHECK(sasl_new(&s, m, &p, &e) == 0);
    FUZZ_CHECK(sasl_initial(s, &init, &ilen, &has, &e) == 0);
    if (!(initcopy = malloc(ilen + 1))) abort();
    if (ilen) memcpy(initcopy, init, ilen);

    for (size_t i = 0; i < nch; i++) {
        const char *chal = (const char *)ch[i].p;
        size_t clen = ch[i].len;
        char *signed_chal = NULL;
        int rc, tampered = 0;

        /* Exact-size copy so ASan sees reads past the challenge. */
        char *copy = malloc(clen ? clen : 1);
        if (!copy) abort();
        if (clen) memcpy(copy, chal, clen);
        chal = copy;

        if ((m == SASL_SCRAM_SHA_1 || m == SASL_SCRAM_SHA_256) && sc.phase == 1 && (flags & 2)) {
            char sig[64];
            size_t n, ext = clen > 0 && chal[0] == ',' ? clen : 0;
            b64(sc.ssig, sc.hlen, sig);
            if (flags & 4) {
                sig[3] = sig[3] == 'A' ? 'B' : 'A';
                tampered = 1;
            }
            n = 2 + strlen(sig);
            if (!(signed_chal = malloc(n + ext + 1))) abort();
            memcpy(signed_chal, "v=", 2);
            memcpy(signed_chal + 2, sig, strlen(sig));
            memcpy(signed_chal + n, chal, ext);
            clen = n + ext;
            chal = signed_chal;
        }

        err_clear(&e);
        rc = sasl_step(s, (const unsigned char *)chal, clen, &out, &olen, &e);
        if (rc < 0) {
            FUZZ_CHECK(e.kind == ERR_AUTH || e.kind == ERR_PROTOCOL);
            /* The secret may only show up quoted from the server itself. */
            FUZZ_CHECK(secret_in_input ||
                       (!contains(e.msg, strlen(e.msg)) && !contains(e.hint, strlen(e.hint))));
            failed = 1;
            goto next;
        }
        FUZZ_CHECK(!failed);
        FUZZ_CHECK(!tampered);
        switch (m) {
        case SASL_PLAIN:
        case SASL_EXTERNAL:
            FUZZ_CHECK(clen == 0 && steps_ok == 0);
            FUZZ_CHECK(olen == ilen && !memcmp(out, initcopy, ilen));
            break;
        case SASL_LOGIN:
            FUZZ_CHECK(steps_ok < 2);
            if (steps_ok == 0)
                FUZZ_CHECK(olen == strlen(USER) && !memcmp(out, USER, olen));
            else
                FUZZ_CHECK(olen == strlen(SECRET) && !memcmp(out, SECRET, olen));
            break;
        case SASL_CRAM_MD5: {
            unsigned char mac[16];
            unsigned int l;
            char want[64];
            FUZZ_CHECK(steps_ok == 0 && clen > 0);
            FUZZ_CHECK(HMAC(EVP_md5(), SECRET, (int)strlen(SECRET), (const unsigned char *)chal,
                            clen, mac, &l));
            memcpy(want, USER " ", strlen(USER) + 1);
            for (size_t k = 0; k < 16; k++)
                sprintf(want + strlen(USER) + 1 + 2 * k, "%02x", mac[k]);
            FUZZ_CHECK(olen == strlen(want) && !memcmp(out, want, olen));
            break;
        }
        case SASL_XOAUTH2:
        case SASL_OAUTHBEARER:
            if (clen == 0) {
                FUZZ_CHECK(!initial_sent && steps_ok == 0);
                FUZZ_CHECK(olen == ilen && !memcmp(out, initcopy, ilen));
                initial_sent = 1;
            } else {
                char q[SASL_SERVER_ERROR_MAX];
                err_quote(q, sizeof q, chal, clen);
                se = sasl_server_error(s);
                FUZZ_CHECK(se && !strcmp(se, q));
                FUZZ_CHECK(m == SASL_XOAUTH2 ? olen == 0 : (olen == 1 && out[0] == 1));
            }
            break;
        case SASL_SCRAM_SHA_1:
        case SASL_SCRAM_SHA_256:
            if (clen == 0 && !initial_sent && sc.phase == 0) {
                FUZZ_CHECK(olen == ilen && !memcmp(out, initcopy, ilen));
                initial_sent = 1;
            } else if (sc.phase == 0) {
                check_client_final(&sc, m, flags & 1, chal, clen, s, out, olen);
                sc.phase = 1;
            } else {
                /* Accepted: the v= must be the real signature. */
                char sig[64];
                const char *v;
                size_t vlen;
                FUZZ_CHECK(sc.phase == 1 && olen == 0);
                b64(sc.ssig, sc.hlen, sig);
                FUZZ_CHECK(attr(chal, clen, 0, 'v', &v, &vlen) == 0);
                FUZZ_CHECK(vlen == strlen(sig) && !memcmp(v, sig, vlen));
                sc.phase = 2;
            }
            break;
        }
        steps_ok++;
    next:
        free(signed_chal);
        free(copy);
    }

    err_clear(&e);
    if (m == SASL_SCRAM_SHA_1 || m == SASL_SCRAM_SHA_256)
        FUZZ_CHECK((sasl_finish(s, &e) == 0) == (sc.phase == 2));
    else
        FUZZ_CHECK(sasl_finish(s, &e) == 0);
    se = sasl_server_error(s);
    if (se) {
        FUZZ_CHECK(strlen(se) < SASL_SERVER_ERROR_MAX);
        for (const char *c = se; *c; c++) FUZZ_CHECK(*c >= 0x20 && *c < 0x7f);
    }
    free(initcopy);
    sasl_free(s);
    return 0;
}
