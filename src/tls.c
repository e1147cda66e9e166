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
    return 0;
}

static SSL_CTX *make_ctx(const struct tls_opts *o, struct err *e)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char why[256];

    if (!ctx) return err_set(e, ERR_INTERNAL, "cannot create TLS context"), NULL;
    SSL_CTX_set_min_proto_version(ctx, o->min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* Read whole socket buffers, not a record header and then its body:
     * several records per read(2) when the server is ahead of us. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
    /* Verification runs during the handshake; we judge its result afterwards
     * so that the error can say exactly what is wrong. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (o->trust_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->trust_file, NULL) != 1) {
            openssl_reason(why, sizeof why);
            err_set(e, ERR_TLS, "cannot load tls_trust_file %s: %s", o->trust_file, why);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        openssl_reason(why, sizeof why);
        err_set(e, ERR_TLS, "cannot load the system's trusted certificates: %s", why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (o->cert_file && load_client_cert(ctx, o, e) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int set_peer_name(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    if (is_ip_literal(host)) return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
    if (SSL_set_tlsext_host_name(ssl, host) != 1) return -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

static int handshake(struct net_conn *c, struct err *e)
{
    for (;;) {
        int r, se;
        char why[256];

        ERR_clear_error();
        errno = 0;
        r = SSL_connect(c->ssl);
        if (r == 1) return 0;
        se = SSL_get_error(c->ssl, r);
        if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
            if (net_wait(c, se == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, e) < 0) {
                err_prefix(e, "TLS handshake");
                e->kind = ERR_TLS;
                return -1;
            }
            continue;
        }
        openssl_reason(why, sizeof why);
        err_set(e, ERR_TLS, "TLS handshake with %s failed: %s", c->host, why);
        if (strstr(why, "wrong version number") || strstr(why, "packet length too long"))
            err_hint(e, "the server does not speak TLS on this port; port 995 is POP3S, "
                        "port 110 needs `tls starttls`");
        else if (strstr(why, "protocol version") || strstr(why, "unsupported protocol"))
            err_hint(e, "the server offers only old TLS versions; popfetch needs TLS 1.2 or "
                        "newer (`tls_min_version`)");
        return -1;
    }
}

static void hex_colon(const unsigned char *md, unsigned n, char *buf, size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < n && o + 4 <= len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ":%02X" : "%02X", md[i]);
}

int tls_peer_fingerprint(const struct net_conn *c, char *buf, size_t len)
{
    X509 *cert = c->ssl ? SSL_get0_peer_certificate(c->ssl) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

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

/* The DNS and IP names a certificate carries, comma-separated. */
static void cert_names(X509 *cert, char *buf, size_t len)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && o + 2 < len; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char one[INET6_ADDRSTRLEN + 1] = "";

        if (g->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(g->d.dNSName);
            int l = ASN1_STRING_length(g->d.dNSName);
            err_quote(one, sizeof one, (const char *)s, (size_t)l);
        } else if (g->type == GEN_IPADD) {
            int l = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *s = ASN1_STRING_get0_data(g->d.iPAddress);
            if (l == 4 || l == 16) inet_ntop(l == 4 ? AF_INET : AF_INET6, s, one, sizeof one);
        }
        if (one[0]) o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", one);
    }
    GENERAL_NAMES_free(names);
    if (!buf[0])
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, (int)len);
}

static void asn1_time_str(const ASN1_TIME *t, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    long n;
    char *p;

    buf[0] = '\0';
    if (!b) return;
    if (ASN1_TIME_print(b, t) == 1 && (n = BIO_get_mem_data(b, &p)) > 0)
        snprintf(buf, len, "%.*s", (int)n, p);
    BIO_free(b);
}

/* Turn a verification failure into a sentence a user can act on. */
static void describe_failure(struct net_conn *c, long result, X509 *cert, struct err *e)
{
    char what[600], names[256], when[64], issuer[256], fp[100] = "";

    if (!cert) {
        err_set(e, ERR_TLS, "%s presented no certificate", c->host);
        return;
    }
    tls_peer_fingerprint(c, fp, sizeof fp);
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof issuer);
    switch (result) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        asn1_time_str(X509_get0_notAfter(cert), when, sizeof when);
        snprintf(what, sizeof what, "it expired on %s", when);
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        asn1_time_str(X509_get0_notBefore(cert), when, sizeof when);
        snprintf(what, sizeof what, "it is not valid before %s", when);
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        cert_names(cert, names, sizeof names);
        snprintf(what, sizeof what, "it is for %s, not for %s", names[0] ? names : "no name",
                 c->host);
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
        snprintf(what, sizeof what, "%s", X509_verify_cert_error_string(result));
    }
    err_set(e, ERR_TLS, "cannot trust the certificate of %s: %s", c->host, what);
    err_hint(e,
             "its SHA-256 fingerprint is %s; if you trust it, set `tls_trust_file` to its CA "
             "or pin it with `tls_fingerprint`",
             fp);
}

static int check_pin(struct net_conn *c, const char *pin, struct err *e)
{
    char want[65], got[100], norm[65];

    if (tls_parse_fingerprint(pin, want) < 0)
        return err_set(e, ERR_USAGE, "tls_fingerprint is not a SHA-256 fingerprint");
    if (tls_peer_fingerprint(c, got, sizeof got) < 0 || tls_parse_fingerprint(got, norm) < 0)
        return err_set(e, ERR_TLS, "%s presented no certificate", c->host);
    if (strcmp(want, norm) == 0) return 0;
    err_set(e, ERR_TLS, "the certificate of %s does not match tls_fingerprint", c->host);
    err_hint(e, "the server now presents %s; if the change is expected, update the pin", got);
    return -1;
}

static int check_identity(struct net_conn *c, const struct tls_opts *o, struct err *e)
{
    X509 *cert = SSL_get0_peer_certificate(c->ssl);
    long result = SSL_get_verify_result(c->ssl);

    if (o->fingerprint) return check_pin(c, o->fingerprint, e);
    if (!o->verify) return 0;
    if (cert && result == X509_V_OK) return 0;
    describe_failure(c, result, cert, e);
    return -1;
}

int tls_start(struct net_conn *c, const struct tls_opts *o, struct err *e)
{
    SSL_CTX *ctx;

    if (net_buffered(c) > 0)
        return err_set(e, ERR_TLS,
                       "%s sent data before the TLS handshake (possible injection "
                       "attack); refusing to continue",
                       c->host);
    if (!(ctx = make_ctx(o, e))) return -1;
    c->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!c->ssl) return err_set(e, ERR_INTERNAL, "cannot create TLS session");
    if (SSL_set_fd(c->ssl, c->fd) != 1 || set_peer_name(c->ssl, c->host) < 0)
        return err_set(e, ERR_INTERNAL, "cannot set up TLS for %s", c->host);
    if (handshake(c, e) < 0) return -1;
    return check_identity(c, o, e);
}

void tls_peer_info(struct net_conn *c, struct tls_peer_info *pi)
{
    X509 *cert = c->ssl ? SSL_get0_peer_certificate(c->ssl) : NULL;
    long result = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    const SSL_CIPHER *ciph = c->ssl ? SSL_get_current_cipher(c->ssl) : NULL;
    struct err e;

    memset(pi, 0, sizeof *pi);
    if (!c->ssl) return;
    snprintf(pi->version, sizeof pi->version, "%s", SSL_get_version(c->ssl));
    snprintf(pi->cipher, sizeof pi->cipher, "%s", ciph ? SSL_CIPHER_get_name(ciph) : "");
    if (!cert) {
        snprintf(pi->verdict, sizeof pi->verdict, "no certificate");
        return;
    }
    X509_NAME_oneline(X509_get_subject_name(cert), pi->subject, sizeof pi->subject);
    X509_NAME_oneline(X509_get_issuer_name(cert), pi->issuer, sizeof pi->issuer);
    cert_names(cert, pi->names, sizeof pi->names);
    asn1_time_str(X509_get0_notBefore(cert), pi->not_before, sizeof pi->not_before);
    asn1_time_str(X509_get0_notAfter(cert), pi->not_after, sizeof pi->not_after);
    tls_peer_fingerprint(c, pi->fingerprint, sizeof pi->fingerprint);
    if (result == X509_V_OK) {
        snprintf(pi->verdict, sizeof pi->verdict, "trusted (chain and name verified)");
        return;
    }
    describe_failure(c, result, cert, &e);
    snprintf(pi->verdict, sizeof pi->verdict, "NOT trusted: %s", e.msg);
}

void tls_describe(const struct net_conn *c, char *buf, size_t len)
{
    if (!c->ssl) {
        snprintf(buf, len, "no TLS");
        return;
    }
    snprintf(buf, len, "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
}
