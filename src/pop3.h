/*
 * pop3 — the POP3 wire protocol (RFC 1939, RFC 2449 CAPA and response codes):
 * the greeting and its APOP timestamp, commands (queued, so they can be
 * pipelined), status replies, CAPA, multi-line listings and message bodies
 * streamed through dotstream into a writer callback.
 *
 * Every reply is bounded: a status line is at most POP3_LINE_MAX bytes, a
 * listing line POP3_LIST_LINE_MAX, CAPA at most POP3_CAPA_MAX_LINES lines.
 * And in time: a status line must arrive whole within the connection's
 * timeout; a multi-line reply (CAPA, LIST, UIDL, a message body) is read
 * under net.h's pace rule, from its first byte to its end: at most the
 * timeout of waiting for each NET_PACE_BYTES (64 KiB) of it. A server
 * that trickles is cut off with ERR_TIMEOUT either way.
 * The optional trace hook sees each line sent and received; secrets are
 * replaced by "****" before the hook sees them. Nothing here prints.
 *
 * The last -ERR line the server sent (greeting, command, AUTH; not a CAPA
 * refusal, which only says CAPA is not offered) is kept in `last_err` for
 * reports, printable ASCII: control bytes, 8-bit bytes and backslash are
 * written \xNN, and a line cut short ends in "...".
 */
#ifndef POPFETCH_POP3_H
#define POPFETCH_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "net.h"

#define POP3_LINE_MAX       4096
#define POP3_LIST_LINE_MAX  1024
#define POP3_CAPA_MAX_LINES 1000
#define POP3_CMD_MAX        512
#define POP3_AUTH_LINE_MAX  (96 * 1024) /* a "+ " challenge: 64 KiB decoded */
#define POP3_ERR_SHOWN      600         /* room for the last -ERR line, escaped */

enum pop3_status { POP3_OK, POP3_ERR, POP3_CONT };

struct pop3_reply {
    enum pop3_status status;
    char code[64];  /* response code, upper case, without brackets; "" if none */
    char text[512]; /* the rest of the line, control bytes replaced */
};

struct pop3_capa {
    int known; /* the server answered CAPA with +OK */
    int top, uidl, user, stls, pipelining, resp_codes, auth_resp_code;
    int sasl_listed;
    char sasl[512];   /* SASL mechanisms, upper case, space separated */
    long expire;      /* days; -1 = not announced, -2 = NEVER */
    long login_delay; /* seconds; -1 = not announced */
    int marked_user;  /* some capability was tagged USER (changes after login) */
    char implementation[128];
};

typedef void (*pop3_trace_fn)(void *ctx, char dir, const char *line, size_t len);
typedef int (*pop3_write_fn)(void *ctx, const unsigned char *buf, size_t len, struct err *e);

struct pop3 {
    struct net_conn *net;
    pop3_trace_fn trace;
    void *trace_ctx;
    char apop_ts[256]; /* <timestamp> from the greeting, "" if none */
    char greeting[512];
    struct pop3_capa capa;
    char last_err[POP3_ERR_SHOWN]; /* the last -ERR line as sent, escaped (below); "" if none */
    char wbuf[8192];               /* queued commands not yet written */
    size_t wlen;
    int multi;           /* inside a multi-line listing (its pace rule is on) */
    uint64_t body_bytes; /* what the last pop3_body() decoded, whole or not */
};

/* Parse one status line. Returns -1 if it is neither +OK, -ERR nor "+ ". */
int pop3_parse_reply(const char *line, size_t len, struct pop3_reply *r);

/* Does the reply carry `code` (hierarchical: "SYS" matches "SYS/TEMP")? */
int pop3_code_is(const struct pop3_reply *r, const char *code);

void pop3_capa_reset(struct pop3_capa *c);
/* Account for one line of a CAPA listing. */
void pop3_capa_line(struct pop3_capa *c, const char *line, size_t len);
int pop3_capa_has_sasl(const struct pop3_capa *c, const char *mech);

/* Parse "N SIZE" (LIST) or "N UIDL" (UIDL) listing lines. */
int pop3_parse_list_line(const char *line, size_t len, unsigned long *num, uint64_t *size);
/* Parse the text of a STAT reply: "COUNT SIZE". */
int pop3_parse_stat(const char *text, size_t len, unsigned long *count, uint64_t *size);
int pop3_parse_uidl_line(const char *line, size_t len, unsigned long *num, const char **uid,
                         size_t *uidlen);

void pop3_init(struct pop3 *p, struct net_conn *net);

/* Read and check the greeting. */
int pop3_greeting(struct pop3 *p, struct err *e);

/* Queue a command; `secret`, when not NULL, is appended after a space and
 * shown as **** in the trace. Queued commands go out with pop3_flush() or
 * before the next reply is read. */
int pop3_send(struct pop3 *p, const char *cmd, const char *secret, struct err *e);
int pop3_flush(struct pop3 *p, struct err *e);

/* Send prefix + payload + CRLF at once, however long (SASL responses,
 * OAuth tokens). The trace shows the prefix and "****" for the payload. */
int pop3_send_long(struct pop3 *p, const char *prefix, const char *payload, size_t len,
                   struct err *e);

/* Read a reply during AUTH: a status, or a "+ " challenge whose raw base64
 * text (up to POP3_AUTH_LINE_MAX bytes) is returned in *chal and *clen, valid
 * until the next read. */
int pop3_auth_reply(struct pop3 *p, struct pop3_reply *r, const char **chal, size_t *clen,
                    struct err *e);

/* Read the next status reply. */
int pop3_reply(struct pop3 *p, struct pop3_reply *r, struct err *e);

/* Send a command and require +OK; a -ERR becomes an error naming `what`. */
int pop3_simple(struct pop3 *p, const char *cmd, const char *what, struct pop3_reply *r,
                struct err *e);

/* Turn a -ERR reply into an error: its response code picks the kind. */
int pop3_fail(struct pop3 *p, const struct pop3_reply *r, const char *what, struct err *e);

/* CAPA: fill p->capa; a -ERR leaves capa.known = 0 and is not an error. */
int pop3_capa(struct pop3 *p, struct err *e);

/* pop3_capa, each step shown to fn as it is read: the status reply (line
 * NULL), then every line of the listing as sent (raw, with its length). */
typedef void (*pop3_capa_fn)(void *ctx, const struct pop3_reply *r, const char *line, size_t len);
int pop3_capa_watched(struct pop3 *p, pop3_capa_fn fn, void *ctx, struct err *e);

/* Next line of a multi-line listing (dot-unstuffed): 1 = a line, 0 = end. */
int pop3_list_line(struct pop3 *p, const char **line, size_t *len, struct err *e);

/* Stream a multi-line body (after its +OK) into `w`. If `w` fails, the rest
 * is still read and discarded so the connection stays usable. Returns 0 when
 * the body was written whole, 1 when the writer failed (its error is in
 * *werr), -1 when the connection failed (error in *e). A NULL writer
 * discards. At most max_bytes decoded bytes are accepted (0 = no limit):
 * past them it gives up at once (-1, ERR_PROTOCOL) and the connection is
 * not usable any more. p->body_bytes then exceeds max_bytes, so that the
 * caller can tell which of its bounds was hit. */
int pop3_body(struct pop3 *p, pop3_write_fn w, void *ctx, uint64_t max_bytes, struct err *werr,
              struct err *e);

#endif
