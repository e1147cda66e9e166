/*
 * tls — OpenSSL on top of a net_conn: the client context (TLS >= 1.2 by
 * default, system or given trust store, SNI), the handshake under the
 * connection's deadline, and the server's identity check: the chain and the
 * host name (or IP address), or a pinned SHA-256 fingerprint.
 *
 * Verification is decided here, right after the handshake and before the
 * caller sends a single byte of application data. Failures say in words what
 * is wrong with the certificate and give its fingerprint so users can pin it.
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
};

/* Start TLS on the connection (implicit TLS, or after STLS). The read buffer
 * must be empty: bytes that came before the handshake are an error. */
int tls_start(struct net_conn *c, const struct tls_opts *o, struct err *e);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for -v lines. */
void tls_describe(const struct net_conn *c, char *buf, size_t len);

/* SHA-256 of the server certificate as colon-separated upper-case hex. */
int tls_peer_fingerprint(const struct net_conn *c, char *buf, size_t len);

/* What --serverinfo shows about the TLS session and the server's
 * certificate, all as printable text ("" when absent). */
struct tls_peer_info {
    char version[32], cipher[96];
    char subject[256], issuer[256], names[512];
    char not_before[64], not_after[64];
    char fingerprint[100];
    char verdict[ERR_MSG_MAX + 16]; /* "trusted" or the sentence explaining why not */
};

/* Fill pi for an established TLS connection (whatever its verdict). */
void tls_peer_info(struct net_conn *c, struct tls_peer_info *pi);

/* Normalise a user-given fingerprint (colons optional, any case) into
 * 64 lower-case hex digits; -1 if it is not a SHA-256 fingerprint. */
int tls_parse_fingerprint(const char *in, char out[65]);

#endif
