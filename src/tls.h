/*
 * tls — OpenSSL on top of a net_conn: the client context (TLS >= 1.2 by
 * default, system or given trust store, SNI), the handshake under one
 * overall deadline, and the server's identity: the chain and the host name
 * (or IP address), or a pinned SHA-256 fingerprint.
 *
 * The identity is checked DURING the handshake (SSL_VERIFY_PEER and a
 * verify callback): a pin is compared with the server's certificate there
 * and replaces the chain check; `tls_verify off` lets everything pass.
 * Host names are matched against the certificate's DNS and IP names only,
 * never its subject CN (RFC 9525). A client certificate (tls_cert_file) is
 * sent only when the server's certificate passed, so an impostor never
 * receives one. In strict use a failed check ends the handshake before the
 * caller can send a byte; in report use (--serverinfo) the handshake
 * completes and the verdict says what is wrong, so the caller can show the
 * certificate and must send no secret.
 *
 * Every string taken from a certificate is escaped (control and 8-bit bytes
 * become '?') before it is put into a message or report. Failures say in
 * words what is wrong with the certificate and give its fingerprint so users
 * can pin it.
 */
#ifndef POPFETCH_TLS_H
#define POPFETCH_TLS_H

#include "err.h"
#include "net.h"

struct tls_opts {
    int verify;              /* check chain and host name (on by default) */
    const char *trust_file;  /* PEM file of trusted CAs; NULL = system store */
    const char *fingerprint; /* SHA-256 pin, hex with optional colons; NULL = none */
    int min_version;         /* 12 or 13 */
    const char *cert_file;   /* client certificate chain (PEM), NULL = none */
    const char *key_file;    /* its private key; NULL = in cert_file */
    const char *peer_name;   /* name sent as SNI and checked in the certificate
                                (tls_host_override); NULL = the host connected to */
    int report;              /* finish the handshake even when the certificate is not
                                trusted (the verdict says so); strict use when 0 */
};

/* The TLS session and the server's certificate, all as printable text ("" when
 * absent), and whether the server may be trusted with a secret. */
struct tls_peer_info {
    char version[32], cipher[96];
    char subject[256], issuer[256], names[512];
    char not_before[64], not_after[64];
    char fingerprint[100];
    int trusted;       /* chain and name verified, the pin matched, or tls_verify off */
    const char *basis; /* why trusted: "chain and name verified", ... */
    struct err why;    /* when not trusted: what a fetch reports */
};

/* Start TLS on the connection (implicit TLS, or after STLS), the whole
 * handshake within the connection's timeout. The read buffer must be empty:
 * bytes that came before the handshake are an error. In strict use an
 * untrusted certificate is an ERR_TLS error; in report use it is not, and
 * pi->trusted says whether it was. pi is filled whenever the handshake
 * completed. */
int tls_start(struct net_conn *c, const struct tls_opts *o, struct tls_peer_info *pi,
              struct err *e);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for -v lines. */
void tls_describe(const struct net_conn *c, char *buf, size_t len);

/* "TLSv1.3" (the protocol version in use), or NULL without TLS. */
const char *tls_version_name(const struct net_conn *c);

/* Normalise a user-given fingerprint (colons optional, any case) into
 * 64 lower-case hex digits; -1 if it is not a SHA-256 fingerprint. */
int tls_parse_fingerprint(const char *in, char out[65]);

#endif
