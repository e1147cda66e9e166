/*
 * header — what a sink reads in a message's header block, from untrusted
 * bytes: one field's value, the first address in a value, the message's
 * sender by the rule of each use (an mbox From_ line, an MDA's %F, the
 * envelope sender an LMTP or SMTP sink gives MAIL FROM), and whether the
 * message holds 8-bit bytes (BODY=8BITMIME).
 *
 * Pure: no I/O, no allocation. The caller holds the message (spool.c reads
 * it back from its file) and feeds its bytes in; every result is bounded by
 * the caller's buffer, and no more than HEADER_SCAN_MAX bytes of a message
 * are ever looked at. The bytes are never a C string: a value may hold NUL.
 *
 * An address that comes out of here is made safe for any use: printable
 * ASCII only, no white space, at most HEADER_SENDER_MAX bytes, never
 * starting with '-'; any byte outside [A-Za-z0-9] and "@._+-=/%:," becomes
 * '_', so that even an MDA command that hands %F to a shell of its own
 * cannot be made to run anything, and an SMTP command line cannot be split.
 */
#ifndef POPFETCH_HEADER_H
#define POPFETCH_HEADER_H

#include <stddef.h>
#include <sys/types.h>

#define HEADER_SCAN_MAX    (256 * 1024) /* bytes of a message looked at for a field */
#define HEADER_SENDER_MAX  320          /* longest sender address kept (RFC 5321: 256 + slack) */
#define HEADER_NULL_SENDER "MAILER-DAEMON"

/* Finding one field, fed the message's bytes in pieces of any size. */
struct header_find {
    const char *name;
    size_t nlen, nmatch;
    int mode;
    int bol, found, done;
    char *buf;
    size_t len, vlen;
    size_t seen; /* bytes fed so far (the scan stops at HEADER_SCAN_MAX) */
};

/* Look for field `name` (case-insensitive, the first occurrence, only in the
 * header block: up to the first empty line), its value to go into buf (at
 * most len bytes with the NUL; len may be 0). */
void header_find_init(struct header_find *h, const char *name, char *buf, size_t len);

/* Feed the next bytes of the message, from its first. Returns 1 once the
 * answer is known (the field's value is complete, the header block is over,
 * or HEADER_SCAN_MAX bytes were seen): feeding more changes nothing. */
int header_find_feed(struct header_find *h, const unsigned char *p, size_t n);

/* After the last byte fed (or a 1 from header_find_feed): the field's
 * unfolded value (line breaks of continuation lines removed, leading white
 * space kept as is) is in buf, NUL-terminated, at most len-1 bytes. Returns
 * the value's whole length (more than len-1 means it was cut), or -1 if the
 * field is not there. */
ssize_t header_find_end(struct header_find *h);

/* The first address in a header value: the part inside <...> if there is
 * one, else the first mailbox of a list; comments, white space and source
 * routes (@a,@b:) and group names (name: ...;) removed, then made safe (see
 * above). Writes it, or "" for a null address (<>), into buf,
 * NUL-terminated. Returns its length, or -1 if there is no usable address
 * (no closing '>', too long for HEADER_SENDER_MAX or for buf). */
ssize_t header_parse_address(const char *val, size_t vlen, char *buf, size_t len);

/* How header_sender reads a field of the message: as header_find_end
 * returns it (the value's length, -1 if absent or unreadable). */
typedef ssize_t (*header_field_fn)(void *ctx, const char *name, char *buf, size_t len);

enum header_sender_use {
    /* mbox From_ line: Return-Path's address, else MAILER-DAEMON (also for
     * <>): never empty. */
    HEADER_SENDER_MBOX,
    /* MDA's %F: Return-Path's address ("" for <>), else From's, else "". */
    HEADER_SENDER_MDA,
};

/* The message's sender for `use`, made safe, into buf (NUL-terminated; buf
 * should hold HEADER_SENDER_MAX + 1 bytes). Returns its length. */
size_t header_sender(enum header_sender_use use, header_field_fn field, void *ctx, char *buf,
                     size_t len);

/* The envelope sender an LMTP or SMTP sink gives MAIL FROM, by fetchmail's
 * rule: Return-Path's address (the first Return-Path; "" for <>, the null
 * reverse-path, so that no bounce is sent), else the first usable address
 * of Resent-Sender, Sender (these two only if it holds an '@': RFC 822 let
 * Sender name an agent, not a mailbox), Resent-From, From, Reply-To (the
 * first occurrence of each). Made safe, into buf (NUL-terminated; buf should
 * hold HEADER_SENDER_MAX + 1 bytes). Returns its length (0: the null
 * reverse-path), or -1 when the message names no sender at all: the sink
 * then uses the account's own (fetchmail: the remote user at the server). */
ssize_t header_envelope_sender(header_field_fn field, void *ctx, char *buf, size_t len);

/* Does p[0..n) hold a byte with the high bit set? A sink that must declare
 * 8-bit content (SMTP/LMTP BODY=8BITMIME, RFC 6152) ORs this over every
 * chunk of the message it is given; the answer depends on the bytes alone,
 * never on what Content-Transfer-Encoding claims. */
int header_8bit(const void *p, size_t n);

#endif
