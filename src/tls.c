/*
 * tls — client context, handshake and certificate checks. See tls.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* OpenSSL's socket read size with read-ahead (its default is one record) */
#define TLS_READ_BUFFER (64 * 1024)

/* What one handshake learns about the server's certificate: filled by the
 * verify callback (the SSL's app data), judged after the handshake. */
struct check {
    const struct tls_opts *o;
    const char *name; /* the name the certificate must hold */
    char pin[65];     /* normalised tls_fingerprint, "" = none */
    X509 *leaf;       /* the server's certificate (a reference we hold) */
    int failed;       /* the chain or name check failed: error says how */
    long error;       /* the first X509_V_ERR_* */
    int pin_seen, pin_ok;
};

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void openssl_reason(char *buf, size_t len)
{
    unsigned long code = ERR_get_error();

    if (code)
        snprintf(buf, len, "%s",
                 ERR_reason_error_string(code) ? ERR_reason_error_string(code)
                                               : "unknown OpenSSL error");
    else
        snprintf(buf, len, "%s", errno ? strerror(errno) : "the server closed the connection");
    ERR_clear_error();
}

/* ---- what the certificate says, escaped ---------------------------------- */

static void hex_colon(const unsigned char *md, unsigned n, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < n && o + 4 <= len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ":%02X" : "%02X", md[i]);
}

/* SHA-256 of a certificate as colon-separated upper-case hex. */
static int cert_fingerprint(X509 *cert, char *buf, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    buf[0] = '\0';
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1) return -1;
    hex_colon(md, n, buf, len);
    return 0;
}

int tls_parse_fingerprint(const char *in, char out[65])
{
    size_t n = 0;

    for (const char *p = in; *p; p++) {
        if (*p == ':' || *p == ' ') continue;
        if (!isxdigit((unsigned char)*p) || n == 64) return -1;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 64 ? 0 : -1;
}

/* A distinguished name as one printable line. */
static void name_text(const X509_NAME *n, char *buf, size_t len)
{
    char raw[512] = "";

    if (n) X509_NAME_oneline(n, raw, sizeof raw);
    err_quote(buf, len, raw, strlen(raw));
}

/* One subjectAltName entry (DNS or IP), escaped; "" for other kinds. */
static void general_name_text(const GENERAL_NAME *g, char *buf, size_t len)
{
    buf[0] = '\0';
    if (g->type == GEN_DNS) {
        const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
        err_quote(buf, len, (const char *)s, (size_t)ASN1_STRING_length(g->d.dNSName));
    } else if (g->type == GEN_IPADD && len >= INET6_ADDRSTRLEN) {
        int l = ASN1_STRING_length(g->d.iPAddress);
        const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
        if (l == 4 || l == 16) inet_ntop(l == 4 ? AF_INET : AF_INET6, s, buf, (socklen_t)len);
    }
}

/* The DNS and IP names a certificate carries, comma-separated: the only
 * names a host is checked against (never the subject CN). */
static void cert_names(X509 *cert, char *buf, size_t len)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && o + 2 < len; i++) {
        char one[256];

        general_name_text(sk_GENERAL_NAME_value(names, i), one, sizeof one);
        if (one[0]) o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", one);
    }
    GENERAL_NAMES_free(names);
}

static void asn1_time_str(const ASN1_TIME *t, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    long n;
    char *p;

    buf[0] = '\0';
    if (!b) return;
    if (ASN1_TIME_print(b, t) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
        err_quote(buf, len, p, (size_t)n);
    BIO_free(b);
}

/* ---- the verdict --------------------------------------------------------- */

/* Does the certificate pass as far as the checks have gone? */
static int passes(const struct check *k)
{
    if (k->pin[0]) return k->pin_ok;
    return !k->failed || !k->o->verify;
}

static void check_pin(struct check *k, X509 *cert)
{
    char got[100], norm[65];

    k->pin_seen = 1;
    k->pin_ok = cert_fingerprint(cert, got, sizeof got) == 0 &&
                tls_parse_fingerprint(got, norm) == 0 && strcmp(norm, k->pin) == 0;
}

/* OpenSSL calls this for every certificate of the chain and for every
 * problem found (wrong name included), during the handshake. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct check *k = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *leaf = X509_STORE_CTX_get0_cert(x);

    if (!k) return 0;
    if (leaf && !k->leaf && X509_up_ref(leaf) == 1) k->leaf = leaf;
    if (k->pin[0]) {
        /* The pin names the server's own certificate and replaces the chain. */
        if (!k->pin_seen && X509_STORE_CTX_get_error_depth(x) == 0) check_pin(k, k->leaf);
        return k->pin_ok || !k->pin_seen || k->o->report;
    }
    if (!ok && !k->failed) {
        k->failed = 1;
        k->error = X509_STORE_CTX_get_error(x);
    }
    return passes(k) || k->o->report;
}

/* Before a client certificate is sent: only to a server that passed. */
static int client_cert_cb(SSL *ssl, void *arg)
{
    const struct check *k = SSL_get_app_data(ssl);

    (void)arg;
    if (!k || !k->leaf || !passes(k)) SSL_certs_clear(ssl);
    return 1;
}

/* The first name of a ", " list, for a hint. */
static void first_name(const char *names, char *buf, size_t len)
{
    size_t n = strcspn(names, ",");

    snprintf(buf, len, "%.*s", (int)n, names);
}

/* "it is for a, b, not for c": the certificate's names, never its CN. */
static void name_mismatch(const struct check *k, char *what, size_t wlen)
{
    char names[512], subject[256];

    cert_names(k->leaf, names, sizeof names);
    if (names[0]) {
        snprintf(what, wlen, "it is for %s, not for %s", names, k->name);
        return;
    }
    name_text(X509_get_subject_name(k->leaf), subject, sizeof subject);
    snprintf(what, wlen,
             "it names no host (no DNS or IP subjectAltName; its subject %s is not checked), "
             "so it is not for %s",
             subject, k->name);
}

/* Turn a verification failure into a sentence a user can act on. */
static void describe_failure(const struct check *k, const char *host, struct err *e)
{
    char what[900], when[64], issuer[256], names[512], one[256], fp[100] = "";
    int mismatch = 0;

    cert_fingerprint(k->leaf, fp, sizeof fp);
    name_text(X509_get_issuer_name(k->leaf), issuer, sizeof issuer);
    switch (k->error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        asn1_time_str(X509_get0_notAfter(k->leaf), when, sizeof when);
        snprintf(what, sizeof what, "it expired on %s", when);
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        asn1_time_str(X509_get0_notBefore(k->leaf), when, sizeof when);
        snprintf(what, sizeof what, "it is not valid before %s", when);
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        name_mismatch(k, what, sizeof what);
        mismatch = 1;
        break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        snprintf(what, sizeof what, "it is self-signed (%s)", issuer);
        break;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        snprintf(what, sizeof what, "its issuer %s is not trusted", issuer);
        break;
    default:
        snprintf(what, sizeof what, "%s", X509_verify_cert_error_string(k->error));
    }
    err_set(e, ERR_TLS, "cannot trust the certificate of %s: %s", host, what);
    cert_names(k->leaf, names, sizeof names);
    if (mismatch && names[0]) {
        first_name(names, one, sizeof one);
        err_hint(e,
                 "use one of its names as `host`, or keep `host` and add `tls_host_override "
                 "%s`; its SHA-256 fingerprint is %s",
                 one, fp);
    } else if (mismatch) {
        err_hint(e,
                 "a certificate must name its host in subjectAltName (RFC 9525); its SHA-256 "
                 "fingerprint is %s, pin it with `tls_fingerprint` if you trust it",
                 fp);
    } else {
        err_hint(e,
                 "its SHA-256 fingerprint is %s; if you trust it, set `tls_trust_file` to its "
                 "CA or pin it with `tls_fingerprint`",
                 fp);
    }
}

static void pin_failure(const struct check *k, const char *host, struct err *e)
{
    char got[100];

    cert_fingerprint(k->leaf, got, sizeof got);
    err_set(e, ERR_TLS, "the certificate of %s does not match tls_fingerprint", host);
    err_hint(e, "the server now presents %s; if the change is expected, update the pin", got);
}

/* After the handshake: may the server be trusted? pi->why says why not. */
static int judge(struct net_conn *c, struct check *k, struct tls_peer_info *pi)
{
    long result = SSL_get_verify_result(c->ssl);

    err_clear(&pi->why);
    if (!k->leaf) {
        err_set(&pi->why, ERR_TLS, "%s presented no certificate", c->host);
        return 0;
    }
    if (k->pin[0]) {
        if (!k->pin_seen) check_pin(k, k->leaf);
        if (k->pin_ok)
            pi->basis = "matches tls_fingerprint";
        else
            pin_failure(k, c->host, &pi->why);
        return k->pin_ok;
    }
    if (!k->failed && result != X509_V_OK) {
        k->failed = 1;
        k->error = result;
    }
    if (!k->failed) {
        pi->basis = "chain and name verified";
        return 1;
    }
    describe_failure(k, c->host, &pi->why);
    if (!k->o->verify) pi->basis = "tls_verify off";
    return !k->o->verify;
}

static void fill_info(struct net_conn *c, const struct check *k, struct tls_peer_info *pi)
{
    const SSL_CIPHER *ciph = SSL_get_current_cipher(c->ssl);

    snprintf(pi->version, sizeof pi->version, "%s", SSL_get_version(c->ssl));
    snprintf(pi->cipher, sizeof pi->cipher, "%s", ciph ? SSL_CIPHER_get_name(ciph) : "");
    if (!k->leaf) return;
    name_text(X509_get_subject_name(k->leaf), pi->subject, sizeof pi->subject);
    name_text(X509_get_issuer_name(k->leaf), pi->issuer, sizeof pi->issuer);
    cert_names(k->leaf, pi->names, sizeof pi->names);
    asn1_time_str(X509_get0_notBefore(k->leaf), pi->not_before, sizeof pi->not_before);
    asn1_time_str(X509_get0_notAfter(k->leaf), pi->not_after, sizeof pi->not_after);
    cert_fingerprint(k->leaf, pi->fingerprint, sizeof pi->fingerprint);
}

/* ---- context and handshake ----------------------------------------------- */

static int load_client_cert(SSL_CTX *ctx, const struct tls_opts *o, struct err *e)
{
    const char *key = o->key_file ? o->key_file : o->cert_file;
    char why[256];

    if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
        openssl_reason(why, sizeof why);
        return err_set(e, ERR_TLS, "cannot load tls_cert_file %s: %s", o->cert_file, why);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason(why, sizeof why);
        return err_set(e, ERR_TLS, "cannot use the key in %s with %s: %s", key, o->cert_file, why);
    }
    /* Offered per connection by client_cert_cb, to a verified server only. */
    SSL_CTX_set_cert_cb(ctx, client_cert_cb, NULL);
    return 0;
}

static int load_trust(SSL_CTX *ctx, const struct tls_opts *o, struct err *e)
{
    char why[256];

    if (o->trust_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->trust_file, NULL) == 1) return 0;
        openssl_reason(why, sizeof why);
        return err_set(e, ERR_TLS, "cannot load tls_trust_file %s: %s", o->trust_file, why);
    }
    if (SSL_CTX_set_default_verify_paths(ctx) == 1) return 0;
    openssl_reason(why, sizeof why);
    return err_set(e, ERR_TLS, "cannot load the system's trusted certificates: %s", why);
}

static SSL_CTX *make_ctx(const struct tls_opts *o, struct err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) return err_set(e, ERR_INTERNAL, "cannot create TLS context"), NULL;
    SSL_CTX_set_min_proto_version(ctx, o->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* Read whole socket buffers, not a record header and then its body:
     * several records per read(2) when the server is ahead of us. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    if (load_trust(ctx, o, e) < 0 || (o->cert_file && load_client_cert(ctx, o, e) < 0)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* SNI and the name (or address) the certificate must hold; only its DNS and
 * IP names count, never the subject CN (RFC 9525). */
static int set_peer_name(SSL *ssl, const char *name)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    if (is_ip_literal(name)) return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 0 : -1;
    if (SSL_set_tlsext_host_name(ssl, name) != 1) return -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                                               X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

static void handshake_failed(struct net_conn *c, struct err *e)
{
    char why[256];

    openssl_reason(why, sizeof why);
    err_set(e, ERR_TLS, "TLS handshake with %s failed: %s", c->host, why);
    if (strstr(why, "wrong version number") || strstr(why, "packet length too long"))
        err_hint(e, "the server does not speak TLS on this port; port 995 is POP3S, "
                    "port 110 needs `tls starttls`");
    else if (strstr(why, "protocol version") || strstr(why, "unsupported protocol"))
        err_hint(e, "the server offers only old TLS versions; popfetch needs TLS 1.2 or "
                    "newer (`tls_min_version`)");
}

/* The whole handshake, bounded by one deadline: a server that trickles its
 * bytes cannot hold us longer than `timeout`. */
static int handshake(struct net_conn *c, struct err *e)
{
    int rc = -1;

    net_set_deadline(c, c->timeout_ms);
    for (;;) {
        int r, se;

        ERR_clear_error();
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1) {
            rc = 0;
            break;
        }
        se = SSL_get_error(c->ssl, r);
        if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) {
            handshake_failed(c, e);
            break;
        }
        if (net_wait(c, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, e) < 0) {
            err_prefix(e, "TLS handshake");
            if (e->kind == ERR_TIMEOUT) {
                e->kind = ERR_TLS;
                err_hint(e, "the whole handshake must finish within `timeout`; the server or "
                            "the network is stalled");
            }
            break;
        }
    }
    net_clear_deadline(c);
    return rc;
}

static int new_session(struct net_conn *c, const struct tls_opts *o, struct check *k, struct err *e)
{
    SSL_CTX *ctx = make_ctx(o, e);

    if (!ctx) return -1;
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!c->ssl) return err_set(e, ERR_INTERNAL, "cannot create TLS session");
    if (SSL_set_fd(c->ssl, c->fd) != 1 || set_peer_name(c->ssl, k->name) < 0 ||
        SSL_set_app_data(c->ssl, k) != 1)
        return err_set(e, ERR_INTERNAL, "cannot set up TLS for %s", k->name);
    return 0;
}

static int run_checked(struct net_conn *c, struct check *k, struct tls_peer_info *pi, struct err *e)
{
    if (handshake(c, e) < 0) {
        /* Refused by our own check: say what is wrong with the certificate. */
        if (k->leaf && !passes(k) && e->kind == ERR_TLS && judge(c, k, pi) == 0) *e = pi->why;
        return -1;
    }
    fill_info(c, k, pi);
    pi->trusted = judge(c, k, pi);
    if (!pi->trusted && !k->o->report) {
        *e = pi->why;
        return -1;
    }
    return 0;
}

int tls_start(struct net_conn *c, const struct tls_opts *o, struct tls_peer_info *pi, struct err *e)
{
    struct check k = {.o = o, .name = o->peer_name ? o->peer_name : c->host};
    int rc;

    memset(pi, 0, sizeof *pi);
    if (net_buffered(c) > 0)
        return err_set(e, ERR_TLS,
                       "%s sent data before the TLS handshake (possible injection "
                       "attack); refusing to continue",
                       c->host);
    if (o->fingerprint && tls_parse_fingerprint(o->fingerprint, k.pin) < 0)
        return err_set(e, ERR_USAGE, "tls_fingerprint is not a SHA-256 fingerprint");
    rc = new_session(c, o, &k, e);
    if (rc == 0) rc = run_checked(c, &k, pi, e);
    if (c->ssl) SSL_set_app_data(c->ssl, NULL);
    X509_free(k.leaf);
    return rc;
}

void tls_describe(const struct net_conn *c, char *buf, size_t len)
{
    if (!c->ssl) {
        snprintf(buf, len, "no TLS");
        return;
    }
    snprintf(buf, len, "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
}

const char *tls_version_name(const struct net_conn *c)
{
    return c->ssl ? SSL_get_version(c->ssl) : NULL;
}
