/*
 * auth — logging in: choosing a mechanism from the account's `auth` setting
 * and what the server offers, and running it over POP3 (USER/PASS, APOP,
 * or a SASL exchange through AUTH, RFC 5034, with sasl.c's mechanisms).
 *
 * Rules it keeps: `auth auto` takes the strongest mechanism offered
 * (SCRAM-SHA-256 > SCRAM-SHA-1 > PLAIN > USER > LOGIN); APOP and CRAM-MD5
 * only when named; OAuth and EXTERNAL only when configured: with `oauth2`
 * set, `auth auto` takes OAUTHBEARER or XOAUTH2 as offered, and nothing
 * else. A named
 * mechanism the server does not offer is an error, never a fallback, and a
 * failed login is never retried with a weaker one. A reusable secret
 * (USER/PASS, PLAIN, LOGIN, the OAuth tokens) never crosses an unencrypted
 * connection unless `allow_plaintext on`, and no login at all (not even a
 * challenge-response one, which would hand out material for an offline
 * dictionary attack) goes to a server whose certificate was not trusted: that
 * answer is the connect sequence's (connect_secret_ok). The APOP digest is
 * masked in the trace like every secret. The server's refusals become error
 * kinds: [AUTH] ERR_AUTH, [IN-USE]/[LOGIN-DELAY] ERR_BUSY, [SYS/...] and
 * other codes ERR_SERVER; without a code a refusal is ERR_AUTH unless the
 * server announced AUTH-RESP-CODE (then it is not called a password problem).
 */
#ifndef POPFETCH_AUTH_H
#define POPFETCH_AUTH_H

#include "conf.h"
#include "err.h"
#include "pop3.h"

/* Does logging in with this account's `auth` need a password or token? */
int auth_needs_secret(const struct account *a);

struct auth_info {
    int encrypted;          /* in: TLS is up */
    int untrusted;          /* in: !connect_secret_ok(): TLS is up but the server's
                               certificate was not trusted; nothing is sent */
    const char *test_nonce; /* in: fixed SCRAM client nonce (tests only), else NULL */
    const char *mechanism;  /* out: what was used, e.g. "SCRAM-SHA-256" */
    int pipeline;           /* in: the caller pipelines (RFC 2449): USER and PASS go together */
    /* in: commands (NULL-terminated) to send right behind USER and PASS
     * when those are pipelined, so that they share its round trip; their
     * replies follow PASS's and are the caller's to read */
    const char *const *then;
    int then_sent; /* out: they were sent */
};

/* Log in on an established connection. */
int auth_login(struct pop3 *p, const struct account *a, const char *secret, struct auth_info *ai,
               struct err *e);

#endif
