/*
 * err — the error value every module hands back to its caller.
 *
 * Library modules (everything below session.c) never print and never exit:
 * they fill a struct err and return -1. The kind says what class of failure
 * it was; main.c alone turns kinds into exit codes. The message is one line
 * for the user; the hint, when set, says what to try.
 */
#ifndef POPFETCH_ERR_H
#define POPFETCH_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum err_kind {
    ERR_NONE = 0,
    ERR_CONNECT,     /* could not connect */
    ERR_TLS,         /* TLS handshake, certificate or STLS failure */
    ERR_DNS,         /* name lookup failed */
    ERR_AUTH,        /* authentication failed or no secret available */
    ERR_PROTOCOL,    /* the server said something impossible */
    ERR_SERVER,      /* -ERR where success was needed */
    ERR_TIMEOUT,     /* the server did not answer in time */
    ERR_BUSY,        /* [IN-USE] or [LOGIN-DELAY] */
    ERR_USAGE,       /* bad command line or config syntax */
    ERR_CONFIG_PERM, /* a file we trust is not private enough (fileperm.h) */
    ERR_LOCKED,      /* another popfetch holds this account */
    ERR_DELIVERY,    /* a message could not be delivered */
    ERR_LOCAL,       /* local storage (state, Maildir) failed */
    ERR_LIMIT,       /* stopped at the per-run message limit */
    ERR_INTERRUPTED, /* a signal asked us to stop */
    ERR_INTERNAL,    /* a bug or resource exhaustion */
};

#define ERR_MSG_MAX  768
#define ERR_HINT_MAX 384

struct err {
    enum err_kind kind;
    char msg[ERR_MSG_MAX];
    char hint[ERR_HINT_MAX];
};

/* Record an error; always returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Attach a hint (what to try) to the error already recorded. */
void err_hint(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend context ("while X: ") to the message already recorded. */
void err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* A short printable copy of untrusted bytes for an error message: control
 * bytes and 8-bit bytes become '?', at most max-1 bytes, ellipsis if cut. */
void err_quote(char *dst, size_t max, const char *src, size_t len);

#endif
