/*
 * sasl — the client side of the SASL mechanisms popfetch speaks over POP3's
 * AUTH command (RFC 5034), plus APOP (RFC 1939) and the base64 helpers.
 *
 * Owns: building every client message of PLAIN (RFC 4616), LOGIN, CRAM-MD5
 * (RFC 2195), SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802 / 7677, no channel
 * binding), XOAUTH2, OAUTHBEARER (RFC 7628) and EXTERNAL (RFC 4422 App. A);
 * checking every server challenge strictly; verifying SCRAM's server
 * signature. Does not own the wire, base64 on the wire, or the choice of
 * mechanism (auth.c does those).
 *
 * Contract:
 *  - A pure library: no I/O, no printing, no exit. Every failure fills a
 *    struct err and returns -1: ERR_AUTH when the login cannot or must not go
 *    on (bad input from the config, weak SCRAM parameters, the server's
 *    refusal), ERR_PROTOCOL when the server said something impossible,
 *    ERR_INTERNAL for resource or crypto failure. No message ever contains the
 *    secret; server text in messages is quoted printable and bounded.
 *  - The exchange works on DECODED bytes: the caller base64-decodes each
 *    challenge ("+ xxx") before sasl_step and base64-encodes each response.
 *    Challenges longer than SASL_MAX_CHALLENGE bytes are a protocol error.
 *  - Mechanisms with an initial response (PLAIN, SCRAM-*, XOAUTH2,
 *    OAUTHBEARER, EXTERNAL): if the caller does not send it with AUTH (RFC
 *    5034 forbids it when the command would exceed 255 octets; XOAUTH2 is
 *    sent in two steps by default), the server's first, empty challenge is
 *    answered with the same initial response by sasl_step.
 *  - Once a step has failed, the object refuses further steps.
 *  - SASLprep (RFC 4013) for SCRAM: ASCII user names and passwords are used
 *    as they are (SASLprep leaves printable ASCII unchanged). Non-ASCII input
 *    is NOT normalized: its UTF-8 bytes are used unchanged, and that is not
 *    an error. A server that does apply SASLprep to a password needing
 *    normalization will reject the login.
 *  - sasl_free wipes every byte that held or was derived from the secret.
 */
#ifndef POPFETCH_SASL_H
#define POPFETCH_SASL_H

#include <stddef.h>

#include "err.h"

#define SASL_MAX_CHALLENGE  65536u     /* decoded challenge bytes */
#define SASL_MIN_ITERATIONS 4096ul     /* SCRAM: fewer is refused (ERR_AUTH) */
#define SASL_MAX_ITERATIONS 10000000ul /* SCRAM: more is a protocol error */

enum sasl_mech {
    SASL_PLAIN,
    SASL_LOGIN,
    SASL_CRAM_MD5,
    SASL_SCRAM_SHA_1,
    SASL_SCRAM_SHA_256,
    SASL_XOAUTH2,
    SASL_OAUTHBEARER,
    SASL_EXTERNAL
};

struct sasl_params {
    const char *user;       /* authentication identity */
    const char *authzid;    /* NULL or "" = none */
    const char *secret;     /* password, or OAuth access token for XOAUTH2/OAUTHBEARER */
    const char *host;       /* for OAUTHBEARER's host= (NULL or "" = left out) */
    unsigned port;          /* for OAUTHBEARER's port= (0 = left out) */
    const char *test_nonce; /* NULL in production; fixed SCRAM client nonce for tests */
};

struct sasl; /* opaque */

/* The IANA name, e.g. "SCRAM-SHA-256"; "?" for a value out of range. */
const char *sasl_mech_name(enum sasl_mech m);

/* Case-insensitive name → mechanism; -1 if unknown. */
int sasl_mech_parse(const char *name, enum sasl_mech *m);

/* 1 if the mechanism puts a reusable secret (password or bearer token) on
 * the wire in a form anyone who sees the traffic can replay: PLAIN, LOGIN,
 * XOAUTH2, OAUTHBEARER. 0 for CRAM-MD5, SCRAM-*, EXTERNAL. */
int sasl_mech_sends_secret(enum sasl_mech m);

/* Start an exchange. The params are copied; p may be freed afterwards.
 * user and secret are required except for EXTERNAL (which uses authzid
 * only). For OAUTHBEARER the gs2 a= is authzid if set, else user. */
int sasl_new(struct sasl **s, enum sasl_mech m, const struct sasl_params *p, struct err *e);

/* The initial response (decoded bytes) if the mechanism has one: *has = 1
 * and *out and *len set (buffer owned by s, valid until sasl_free). PLAIN,
 * SCRAM, OAUTHBEARER, EXTERNAL, XOAUTH2 have one (XOAUTH2's is usually sent
 * in the two-step form: then just don't send it); LOGIN, CRAM-MD5 do not
 * (*has = 0, *out = NULL, *len = 0). A zero-length initial response is
 * sent as "=" on the AUTH line (RFC 5034). */
int sasl_initial(struct sasl *s, const unsigned char **out, size_t *len, int *has, struct err *e);

/* The server sent a challenge (decoded; may be empty). Produce the response
 * in *out and *len (owned by s, valid until the next sasl_step or sasl_free).
 * A zero-length response is sent as an empty line. */
int sasl_step(struct sasl *s, const unsigned char *chal, size_t clen, const unsigned char **out,
              size_t *len, struct err *e);

/* The server said +OK. SCRAM: ERR_AUTH unless the server-final v= was
 * received and verified. Other mechanisms: 0. */
int sasl_finish(struct sasl *s, struct err *e);

/* After a failure: the server's error detail if the mechanism got one (the
 * XOAUTH2 / OAUTHBEARER JSON error challenge, SCRAM's e=), printable (other
 * bytes become '?') and at most SASL_SERVER_ERROR_MAX-1 bytes; else NULL. */
#define SASL_SERVER_ERROR_MAX 512
const char *sasl_server_error(const struct sasl *s);

/* Wipe every secret byte and free. NULL is fine. */
void sasl_free(struct sasl *s);

/* SCRAM's AuthMessage, once the server-first message has been answered
 * (NULL before): for tests and traces; it holds no secret. */
const char *sasl_scram_auth_message(const struct sasl *s, size_t *len);

/* SCRAM's SaltedPassword := Hi(password, salt, iter) with the mechanism's
 * hash (m is SASL_SCRAM_SHA_1 or SASL_SCRAM_SHA_256). out must hold 32
 * bytes; *outlen gets 20 or 32. The caller wipes out. */
int sasl_scram_salted_password(enum sasl_mech m, const char *password, const unsigned char *salt,
                               size_t saltlen, unsigned long iter, unsigned char *out,
                               size_t *outlen, struct err *e);

/* base64 (RFC 4648, standard alphabet, padded, no line breaks).
 * encode: out must hold sasl_b64_encoded_size(n) = 4*((n+2)/3)+1 bytes;
 * writes a NUL-terminated string and returns its length.
 * decode: out must hold sasl_b64_decoded_size(n) = 3*(n/4) bytes (the exact
 * decoded length is enough too); returns -1 on malformed input (a character
 * outside the alphabet, whitespace, bad or non-canonical padding, length
 * not a multiple of 4); empty input decodes to 0 bytes. */
size_t sasl_b64_encoded_size(size_t n);
size_t sasl_b64_decoded_size(size_t n);
size_t sasl_b64_encode(const unsigned char *in, size_t n, char *out);
int sasl_b64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);

/* APOP (RFC 1939): lower-case hex MD5(timestamp || secret) into hex[33].
 * timestamp is the server greeting's "<...>" including the brackets; it must
 * look like a msg-id (printable ASCII, '<' ... '@' ... '>', at most 512
 * bytes), else ERR_PROTOCOL (a hostile timestamp is the APOP attack's tool). */
int sasl_apop_digest(const char *timestamp, const char *secret, char hex[33], struct err *e);

#endif
