/*
 * tokresp — what an OAuth2 provider answers, read with jansson: the token
 * endpoint (RFC 6749 5.1 tokens, 5.2 errors; the same for the device grant
 * of RFC 8628 3.5) and the device authorization endpoint (RFC 8628 3.2),
 * and the same bodies with their secrets masked, for the -vv trace.
 *
 * Every answer is untrusted: it must be one JSON object (duplicate keys
 * refused) and every member popfetch uses must have the right type and
 * fit its bounds. Tokens and codes are printable ASCII without spaces
 * (0x21-0x7e) and at most TOKRESP_TOKEN_MAX bytes; texts shown to the user
 * (error descriptions, user codes, URLs, messages) are made printable and
 * cut; numbers may be JSON integers or decimal strings (some providers send
 * "3600") and are clamped to sane ranges. What is wrong is an ERR_PROTOCOL
 * error naming the member; a non-JSON or error-less failure status is
 * ERR_SERVER quoting the start of the body. No message ever holds a token.
 * The token and device-code buffers are wiped by the _free functions.
 * Pure: no I/O, no printing.
 */
#ifndef POPFETCH_TOKRESP_H
#define POPFETCH_TOKRESP_H

#include <stddef.h>

#include "err.h"

#define TOKRESP_TOKEN_MAX  (16 * 1024) /* an access or refresh token, a device code */
#define TOKRESP_TEXT_MAX   512         /* a description or message shown to the user */
#define TOKRESP_EXPIRY_MAX (10LL * 366 * 86400)

/* The token endpoint's answer. */
struct tokresp {
    char *access_token;   /* on success; wiped by tokresp_free */
    char *refresh_token;  /* NULL if none was issued */
    long long expires_in; /* seconds; -1 if not given */
    char error[64];       /* an OAuth error code ("invalid_grant"), "" on success */
    char error_description[TOKRESP_TEXT_MAX];
};

/* 0: tokens (t->access_token set); 1: an OAuth error (t->error set, also
 * for a 2xx answer that carries `error`); -1 with e: unusable. */
int tokresp_parse(int status, const char *body, size_t len, struct tokresp *t, struct err *e);

void tokresp_free(struct tokresp *t);

/* The device authorization endpoint's answer. */
struct tokresp_device {
    char *device_code; /* wiped by tokresp_device_free */
    char user_code[128];
    char verification_uri[1024];          /* (Google: verification_url) */
    char verification_uri_complete[1024]; /* "" if not given */
    long long expires_in;                 /* 1 .. 86400; 1800 if not given */
    long long interval;                   /* 1 .. 300; 5 if not given */
    char message[TOKRESP_TEXT_MAX];       /* Microsoft's sentence for the user, or "" */
};

/* 0: d filled; 1: an OAuth error (in err_out); -1 with e: unusable. */
int tokresp_parse_device(int status, const char *body, size_t len, struct tokresp_device *d,
                         struct tokresp *err_out, struct err *e);

void tokresp_device_free(struct tokresp_device *d);

/* The body as the -vv trace shows it: a JSON object with the values of
 * secret members (access_token, refresh_token, id_token, device_code, code,
 * client_secret, code_verifier, token) replaced by "****", compact, cut to
 * max-1 bytes with "..."; anything else "(N bytes, not JSON)". Never
 * reveals a secret, even cut. */
void tokresp_masked(const char *body, size_t len, char *out, size_t max);

#endif
