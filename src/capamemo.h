/*
 * capamemo — the server's capabilities remembered from an account's last
 * poll, so that the next poll logs in without waiting a round trip for
 * CAPA (bench scenario G, issue 19: a poll through a 50 ms round trip).
 *
 * The file is KEY.capa in the state directory (KEY as for the seen-state),
 * mode 0600, replaced whole through atomicfile.c (never through a link;
 * not flushed: losing it costs one CAPA). It holds the server it was
 * learnt from (host, port, TLS mode), the SHA-256 fingerprint of the
 * certificate it was learnt under, the greeting without its APOP
 * <timestamp>, and the CAPA lines as the server sent them.
 *
 * Rules its users keep (connect.c, session.c):
 * - it is only learnt from, and only used on, a TLS connection whose
 *   certificate was trusted as a fetch trusts it, after that handshake
 *   (for `tls starttls`, the CAPA after STLS: the one before STLS is always
 *   asked, and no secret ever goes out before STLS);
 * - it is used only when the server, certificate and greeting are the same
 *   as when it was learnt; anything else asks CAPA again;
 * - it is forgotten when a poll that used it fails or meets a -ERR.
 * The file is outside input like any state file: bounded, every line
 * checked, each CAPA line read by pop3_capa_line as a server's would be;
 * one that is damaged, too big or not a regular file is ignored (and
 * replaced by the next poll that learns the capabilities). Nothing here
 * prints.
 */
#ifndef POPFETCH_CAPAMEMO_H
#define POPFETCH_CAPAMEMO_H

#include <stddef.h>

#include "err.h"
#include "pop3.h"

#define CAPAMEMO_LINES_MAX 2048 /* the CAPA lines kept, bytes */
/* the file: a header, the server, cert and greeting lines, "capa " per line */
#define CAPAMEMO_FILE_MAX (CAPAMEMO_LINES_MAX * 4 + 1024)

struct capamemo {
    int have;                       /* loaded (or learnt) and well-formed */
    char server[320];               /* "HOST PORT TLSMODE" */
    char cert[100];                 /* the certificate's SHA-256 fingerprint */
    char greeting[512];             /* escaped, without its <timestamp> */
    char lines[CAPAMEMO_LINES_MAX]; /* CAPA lines, each ending in '\n' */
    size_t len;
};

/* The greeting as remembered: without a <timestamp> (it differs each time). */
void capamemo_greeting(char *out, size_t len, const char *greeting);

/* Start learning: m describes this connection; capamemo_add then takes each
 * CAPA line. A line with a control byte, or more than fits, leaves m
 * unusable (have 0). */
void capamemo_begin(struct capamemo *m, const char *server, const char *cert, const char *greeting);
void capamemo_add(struct capamemo *m, const char *line, size_t len);

/* Is m usable for this server, certificate and greeting? */
int capamemo_matches(const struct capamemo *m, const char *server, const char *cert,
                     const char *greeting);

/* Fill c from m's lines, as if the server had just answered CAPA. */
void capamemo_apply(const struct capamemo *m, struct pop3_capa *c);

/* The file's text: 0 and m->have 1 when it is a well-formed memo (at most
 * CAPAMEMO_FILE_MAX bytes, every line ending in \n, no control bytes, a
 * server, a certificate and at least one CAPA line); else -1 and m empty. */
int capamemo_parse(struct capamemo *m, const char *text, size_t len);

/* m as the file's text in buf (cap bytes): its length, or 0 if it does not
 * fit (CAPAMEMO_FILE_MAX + 1 always does). */
size_t capamemo_format(const struct capamemo *m, char *buf, size_t cap);

/* Read dir/KEY.capa. No file, or one that is not a memo: m->have 0 and 0
 * returned. -1 only when the directory cannot be opened or is not ours. */
int capamemo_load(struct capamemo *m, const char *dir, const char *key, struct err *e);

/* Write m (have must be 1) to dir/KEY.capa. */
int capamemo_save(const struct capamemo *m, const char *dir, const char *key, struct err *e);

/* Remove dir/KEY.capa (no file is no error). */
int capamemo_forget(const char *dir, const char *key, struct err *e);

#endif
