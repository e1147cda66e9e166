/*
 * received — the trace header popfetch prepends to each message it delivers
 * (received_header on): one RFC 5322 `Received:` field naming the server,
 * its address, the local host, the protocol (POP3 or POP3S), the account,
 * the UIDL and the date.
 *
 * Every value may come from the server or the config; each is reduced to
 * what may stand in its place in the field (no line breaks, no control
 * bytes, comment specials escaped), so the field is always one well-formed
 * header field, folded, ending in LF (the sinks store LF line ends).
 */
#ifndef POPFETCH_RECEIVED_H
#define POPFETCH_RECEIVED_H

#include <stddef.h>

#define RECEIVED_MAX 2560 /* always enough for the whole field */

struct received_info {
    const char *server;    /* host name as configured */
    const char *server_ip; /* numeric address connected to; may be "" */
    const char *local;     /* local host name; NULL: gethostname() */
    int tls;               /* the session was encrypted */
    const char *account;   /* account name */
    const char *user;      /* remote user */
    const char *uidl;      /* NULL when the server has no UIDL */
    long long when;        /* seconds since the epoch */
};

/* Write the field into buf (NUL-terminated). Returns its length (less than
 * len; with len >= RECEIVED_MAX the field is whole). */
size_t received_format(char *buf, size_t len, const struct received_info *ri);

/* The words of the field that name a UIDL (", uidl X);" as the field has
 * them), so that a sink's recovery can tell its own delivery of a message
 * from any other. Returns the length (buf needs RECEIVED_UIDL_MAX). */
#define RECEIVED_UIDL_MAX 520
size_t received_uidl_mark(char *buf, size_t len, const char *uidl);

#endif
