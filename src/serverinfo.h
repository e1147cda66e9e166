/*
 * serverinfo — `popfetch --serverinfo`: what a POP3 server offers, for
 * people setting up an account or debugging a server.
 *
 * It runs the connect sequence (connect.c) in report use and prints what it
 * observes: the TLS version and cipher, the certificate (subject, issuer,
 * names, validity, SHA-256 fingerprint) and whether a fetch would trust it —
 * an untrusted one is reported, not refused, so the user can decide to pin
 * it — then the greeting, APOP, every CAPA line before and after STLS, and a
 * summary of SASL mechanisms, PIPELINING, EXPIRE, LOGIN-DELAY and
 * IMPLEMENTATION. When a secret is given it logs in as the account's `auth`
 * says, but only where a fetch would (connect_secret_ok: certificate
 * verified, pinned, or tls_verify off; a reusable password never in clear),
 * and adds the CAPA after login and STAT. Otherwise it reports the login as
 * skipped and returns the certificate's error (ERR_TLS). Nothing is fetched
 * or deleted.
 *
 * It prints nothing itself: each report line goes to the `out` callback.
 * Server text is passed on with control bytes escaped.
 */
#ifndef POPFETCH_SERVERINFO_H
#define POPFETCH_SERVERINFO_H

#include "conf.h"
#include "err.h"

typedef void (*serverinfo_out_fn)(void *ctx, const char *line);

/* secret: NULL = do not log in. */
int serverinfo_run(const struct account *a, const char *secret, serverinfo_out_fn out, void *ctx,
                   struct err *e);

#endif
