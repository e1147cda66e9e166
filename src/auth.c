/*
 * auth — mechanism choice and the login exchanges. See auth.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "sasl.h"

#define AUTH_MAX_STEPS 16

int auth_needs_secret(const struct account *a)
{
    return a->auth != AUTH_EXTERNAL;
}

/* The SASL mechanism behind an `auth` choice; -1 for USER, APOP, AUTO. */
static int sasl_of(int choice, enum sasl_mech *m)
{
    switch (choice) {
    case AUTH_PLAIN:
        *m = SASL_PLAIN;
        return 0;
    case AUTH_LOGIN:
        *m = SASL_LOGIN;
        return 0;
    case AUTH_CRAM_MD5:
        *m = SASL_CRAM_MD5;
        return 0;
    case AUTH_SCRAM_SHA_1:
        *m = SASL_SCRAM_SHA_1;
        return 0;
    case AUTH_SCRAM_SHA_256:
        *m = SASL_SCRAM_SHA_256;
        return 0;
    case AUTH_XOAUTH2:
        *m = SASL_XOAUTH2;
        return 0;
    case AUTH_OAUTHBEARER:
        *m = SASL_OAUTHBEARER;
        return 0;
    case AUTH_EXTERNAL:
        *m = SASL_EXTERNAL;
        return 0;
    default:
        return -1;
    }
}

static const char *choice_name(int choice)
{
    enum sasl_mech m = SASL_PLAIN;

    if (choice == AUTH_USER) return "USER";
    if (choice == AUTH_APOP) return "APOP";
    return sasl_of(choice, &m) == 0 ? sasl_mech_name(m) : "auto";
}

/* Does the server offer this? Without CAPA only USER is known to exist. */
static int offered(const struct pop3 *p, int choice)
{
    enum sasl_mech m = SASL_PLAIN;

    if (choice == AUTH_USER) return !p->capa.known || p->capa.user;
    if (choice == AUTH_APOP) return p->apop_ts[0] != '\0';
    if (sasl_of(choice, &m) < 0) return 0;
    return p->capa.known && pop3_capa_has_sasl(&p->capa, sasl_mech_name(m));
}

/* Does the SASL capability name any mechanism popfetch implements? */
static int lists_known_sasl(const struct pop3 *p)
{
    char buf[sizeof p->capa.sasl], *save = NULL;
    enum sasl_mech m;

    snprintf(buf, sizeof buf, "%s", p->capa.sasl);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (sasl_mech_parse(w, &m) == 0) return 1;
    return 0;
}

/* With `oauth2` the secret is an access token: OAUTHBEARER (RFC 7628) or
 * XOAUTH2, whichever is offered, and nothing else. */
static int choose_oauth(const struct pop3 *p, const struct account *a, int *choice, struct err *e)
{
    if (offered(p, AUTH_OAUTHBEARER) || offered(p, AUTH_XOAUTH2)) {
        *choice = offered(p, AUTH_OAUTHBEARER) ? AUTH_OAUTHBEARER : AUTH_XOAUTH2;
        return 0;
    }
    err_set(e, ERR_AUTH,
            "%s offers neither OAUTHBEARER nor XOAUTH2, so the OAuth2 token cannot "
            "be used (SASL: %s)",
            a->host, p->capa.known ? p->capa.sasl : "no CAPA");
    err_hint(e, "check `host`: the server must accept OAuth2 logins for POP3");
    return -1;
}

static int choose(const struct pop3 *p, const struct account *a, int *choice, struct err *e)
{
    static const int strongest_first[] = {AUTH_SCRAM_SHA_256, AUTH_SCRAM_SHA_1, AUTH_PLAIN,
                                          AUTH_USER, AUTH_LOGIN};

    if (a->auth == AUTH_AUTO && a->oauth2) return choose_oauth(p, a, choice, e);
    if (a->auth != AUTH_AUTO) {
        *choice = a->auth;
        if (offered(p, a->auth) || (!p->capa.known && a->auth != AUTH_APOP)) return 0;
        err_set(e, ERR_AUTH, "%s does not offer %s (auth %s)", a->host, choice_name(a->auth),
                choice_name(a->auth));
        err_hint(e, "the server offers: %s%s%s; set `auth` to one of them or to auto",
                 p->capa.user ? "USER " : "", p->apop_ts[0] ? "APOP " : "", p->capa.sasl);
        return -1;
    }
    for (size_t i = 0; i < sizeof strongest_first / sizeof strongest_first[0]; i++) {
        if (offered(p, strongest_first[i])) {
            *choice = strongest_first[i];
            return 0;
        }
    }
    /* Nothing we may pick is listed. Many servers forget to list USER;
     * a named SASL mechanism we do not choose alone (APOP, CRAM-MD5, OAuth)
     * means the user should say which one. Mechanisms we do not know at
     * all (GSSAPI, NTLM, X-...) count as not listed. */
    if (!lists_known_sasl(p)) {
        *choice = AUTH_USER;
        return 0;
    }
    err_set(e, ERR_AUTH, "%s offers no login method popfetch can choose by itself (SASL: %s)",
            a->host, p->capa.sasl);
    err_hint(e, "name one with `auth` (apop, cram-md5, xoauth2, oauthbearer, external)");
    return -1;
}

/* Would this choice put a replayable secret on the wire? */
static int reusable_secret(int choice)
{
    enum sasl_mech m = SASL_PLAIN;

    if (choice == AUTH_USER) return 1;
    return sasl_of(choice, &m) == 0 && sasl_mech_sends_secret(m);
}

static int refuse_plaintext(const struct account *a, int choice, struct err *e)
{
    err_set(e, ERR_AUTH, "refusing to send the %s for %s unencrypted to %s (auth %s)",
            choice == AUTH_XOAUTH2 || choice == AUTH_OAUTHBEARER ? "token" : "password", a->user,
            a->host, choice_name(choice));
    err_hint(e, "use `tls implicit` or `tls starttls`, or a challenge-response mechanism "
                "(scram-sha-256, cram-md5, apop); set `allow_plaintext on` only if you accept "
                "that anyone on the path can read it");
    return -1;
}

/* A -ERR to a login step: see the contract in auth.h. */
static int login_failed(struct pop3 *p, const struct pop3_reply *r, const struct account *a,
                        const char *detail, struct err *e)
{
    char what[64];

    snprintf(what, sizeof what, "login (%s)", choice_name(a->auth));
    if (a->oauth2 && a->auth == AUTH_AUTO) snprintf(what, sizeof what, "login (OAuth2)");
    pop3_fail(p, r, what, e);
    if (e->kind == ERR_SERVER && !r->code[0] && !p->capa.auth_resp_code) e->kind = ERR_AUTH;
    if (detail) err_prefix(e, "%s", detail);
    if (e->kind == ERR_AUTH && a->oauth2)
        err_hint(e,
                 "the server refused the OAuth2 token for `user` %s: check that it is the "
                 "mailbox's address and that the app may read it by POP (oauth2_scope)",
                 a->user);
    else if (e->kind == ERR_AUTH)
        err_hint(e, "check `user` (%s) and the password%s", a->user,
                 a->auth == AUTH_XOAUTH2 || a->auth == AUTH_OAUTHBEARER ? " or token" : "");
    return -1;
}

/* USER then PASS; with pipelining both go out at once (one round trip),
 * and a refused USER is the error even though PASS was answered too. */
static int login_user(struct pop3 *p, const struct account *a, const char *secret,
                      struct auth_info *ai, struct err *e)
{
    struct pop3_reply r, pr;
    char cmd[POP3_CMD_MAX];
    int ahead = ai->pipeline;
    struct err ignored;

    if ((size_t)snprintf(cmd, sizeof cmd, "USER %s", a->user) >= sizeof cmd - 2)
        return err_set(e, ERR_USAGE, "user name too long");
    if (pop3_send(p, cmd, NULL, e) < 0) return -1;
    if (ahead && pop3_send(p, "PASS", secret, e) < 0) return -1;
    for (const char *const *c = ai->then; ahead && c && *c; c++) {
        if (pop3_send(p, *c, NULL, e) < 0) return -1;
        ai->then_sent = 1;
    }
    if (pop3_reply(p, &r, e) < 0) return -1;
    if (r.status != POP3_OK) {
        if (ahead) pop3_reply(p, &pr, &ignored); /* PASS's answer, whatever it is */
        return login_failed(p, &r, a, NULL, e);
    }
    if (!ahead && pop3_send(p, "PASS", secret, e) < 0) return -1;
    if (pop3_reply(p, &r, e) < 0) return -1;
    if (r.status != POP3_OK) return login_failed(p, &r, a, NULL, e);
    return 0;
}

/* "APOP user DIGEST": the digest goes as the secret argument, so the trace
 * shows "APOP user ****" (it allows an offline dictionary attack). */
static int login_apop(struct pop3 *p, const struct account *a, const char *secret, struct err *e)
{
    struct pop3_reply r;
    char hex[33], cmd[POP3_CMD_MAX];
    int rc;

    if (sasl_apop_digest(p->apop_ts, secret, hex, e) < 0) return -1;
    rc = (size_t)snprintf(cmd, sizeof cmd, "APOP %s", a->user) + 1 + 32 >= sizeof cmd - 2
             ? err_set(e, ERR_USAGE, "user name too long")
             : pop3_send(p, cmd, hex, e);
    OPENSSL_cleanse(hex, sizeof hex);
    if (rc < 0 || pop3_reply(p, &r, e) < 0) return -1;
    return r.status == POP3_OK ? 0 : login_failed(p, &r, a, NULL, e);
}

/* ---- SASL over AUTH ---------------------------------------------------- */

struct exchange {
    struct pop3 *p;
    struct sasl *s;
    char *b64; /* encoding buffer */
    size_t b64cap;
    unsigned char *raw; /* decoding buffer */
};

static int send_b64(struct exchange *x, const char *prefix, const unsigned char *buf, size_t len,
                    struct err *e)
{
    size_t need = sasl_b64_encoded_size(len), n;

    if (need > x->b64cap) {
        char *nb = realloc(x->b64, need);
        if (!nb) return err_set(e, ERR_INTERNAL, "out of memory");
        x->b64 = nb;
        x->b64cap = need;
    }
    n = sasl_b64_encode(buf, len, x->b64);
    return pop3_send_long(x->p, prefix, x->b64, n, e);
}

/* Give up the exchange: "*" cancels (RFC 5034); the server answers -ERR. */
static void cancel(struct exchange *x)
{
    struct pop3_reply r;
    const char *c;
    size_t n;
    struct err ignored;

    if (pop3_send(x->p, "*", NULL, &ignored) == 0) pop3_auth_reply(x->p, &r, &c, &n, &ignored);
}

/* Send AUTH with the initial response when it fits in 255 octets. */
static int send_auth(struct exchange *x, enum sasl_mech m, struct err *e)
{
    const unsigned char *init;
    size_t len;
    int has;
    char prefix[64];

    if (sasl_initial(x->s, &init, &len, &has, e) < 0) return -1;
    snprintf(prefix, sizeof prefix, "AUTH %s", sasl_mech_name(m));
    if (!has || m == SASL_XOAUTH2 || strlen(prefix) + 1 + sasl_b64_encoded_size(len) - 1 + 2 > 255)
        return pop3_send(x->p, prefix, NULL, e);
    if (len == 0) {
        snprintf(prefix, sizeof prefix, "AUTH %s =", sasl_mech_name(m));
        return pop3_send(x->p, prefix, NULL, e);
    }
    snprintf(prefix, sizeof prefix, "AUTH %s ", sasl_mech_name(m));
    return send_b64(x, prefix, init, len, e);
}

/* Answer one "+ " challenge. */
static int answer(struct exchange *x, const char *chal, size_t clen, struct err *e)
{
    const unsigned char *out;
    size_t olen, dlen;

    if (clen > POP3_AUTH_LINE_MAX) return err_set(e, ERR_PROTOCOL, "challenge too long");
    if (sasl_b64_decode(chal, clen, x->raw, &dlen) < 0) {
        cancel(x);
        return err_set(e, ERR_PROTOCOL, "%s sent a SASL challenge that is not base64",
                       x->p->net->host);
    }
    if (sasl_step(x->s, x->raw, dlen, &out, &olen, e) < 0) {
        cancel(x);
        return -1;
    }
    return olen ? send_b64(x, "", out, olen, e) : pop3_send_long(x->p, "", "", 0, e);
}

static int run_exchange(struct exchange *x, const struct account *a, enum sasl_mech m,
                        struct err *e)
{
    struct pop3_reply r;
    const char *chal;
    size_t clen;

    if (send_auth(x, m, e) < 0) return -1;
    for (int step = 0; step < AUTH_MAX_STEPS; step++) {
        if (pop3_auth_reply(x->p, &r, &chal, &clen, e) < 0) return -1;
        if (r.status == POP3_OK) return sasl_finish(x->s, e);
        if (r.status == POP3_ERR) return login_failed(x->p, &r, a, sasl_server_error(x->s), e);
        if (answer(x, chal, clen, e) < 0) return -1;
    }
    cancel(x);
    return err_set(e, ERR_PROTOCOL, "%s kept sending challenges", a->host);
}

static int login_sasl(struct pop3 *p, const struct account *a, enum sasl_mech m, const char *secret,
                      const char *test_nonce, struct err *e)
{
    struct sasl_params sp = {.user = a->user,
                             .secret = secret,
                             .host = a->host,
                             .port = conf_port(a),
                             .test_nonce = test_nonce};
    struct exchange x = {.p = p};
    int rc;

    if (sasl_new(&x.s, m, &sp, e) < 0) return -1;
    if (!(x.raw = malloc(sasl_b64_decoded_size(POP3_AUTH_LINE_MAX) + 3))) {
        sasl_free(x.s);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    rc = run_exchange(&x, a, m, e);
    sasl_free(x.s);
    if (x.b64) OPENSSL_cleanse(x.b64, x.b64cap);
    free(x.b64);
    free(x.raw);
    return rc;
}

int auth_login(struct pop3 *p, const struct account *a, const char *secret, struct auth_info *ai,
               struct err *e)
{
    int choice;
    enum sasl_mech m = SASL_PLAIN;

    if (strpbrk(a->user, "\r\n") || (secret && strpbrk(secret, "\r\n")))
        return err_set(e, ERR_USAGE, "user name or password contains a line break");
    if (ai->untrusted)
        return err_set(e, ERR_TLS, "refusing to log in to %s: its certificate is not trusted",
                       a->host);
    /* A named mechanism that would expose the secret is refused before we
     * even look at what the server offers. */
    if (!ai->encrypted && !a->allow_plaintext && reusable_secret(a->auth))
        return refuse_plaintext(a, a->auth, e);
    if (choose(p, a, &choice, e) < 0) return -1;
    ai->mechanism = choice_name(choice);
    if (!ai->encrypted && !a->allow_plaintext && reusable_secret(choice))
        return refuse_plaintext(a, choice, e);
    if (choice == AUTH_USER) return login_user(p, a, secret, ai, e);
    if (choice == AUTH_APOP) return login_apop(p, a, secret, e);
    sasl_of(choice, &m);
    return login_sasl(p, a, m, secret, ai->test_nonce, e);
}
