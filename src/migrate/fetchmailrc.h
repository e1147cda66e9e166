/*
 * fetchmailrc — converting a fetchmail run control file (~/.fetchmailrc)
 * into popfetch config text, for `popfetch --import-fetchmailrc FILE`.
 *
 * Owns fetchmail's rc grammar as fetchmail itself reads it (rcfile_l.l and
 * rcfile_y.y, documented in fetchmail(1) "THE RUN CONTROL FILE"): keywords
 * matched whole and case-sensitively, the noise words and the , ; :
 * punctuation, "..." and '...' strings that may span lines, fetchmail's
 * backslash escapes (\n \t \b \r, \xHH, \0oo, \DDD, backslash-newline) in
 * quoted and bare strings alike, `#` comments, `set` statements, and
 * `poll` / `skip` / `defaults` entries made of server options, user
 * descriptions (user ... [here|there], is/to ...) and user options. It also
 * owns the mapping of each fetchmail user onto one popfetch `account`.
 *
 * Implemented in src/migrate/: fetchmailrc.c (these entry points), the
 * lexer fmrc_lex.c, the parser fmrc_parse.c, the writer fmrc_write.c and
 * their memory fmrc_mem.c, which share the internal header fmrc.h.
 *
 * Contract:
 *   - The output always loads with conf_parse() (written to a private file:
 *     it holds the passwords fetchmail's file held).
 *   - A `defaults` entry is merged into every later entry; each account is
 *     written out in full, so no account depends on another.
 *   - smtphost/lmtp become delivery smtp|lmtp with recipient from the
 *     local name (smtpaddress, smtpname), with comments where fetchmail
 *     differs (several smtphosts, the domain it added, LMTP's port).
 *   - Whatever popfetch cannot carry, or carries differently (SMTP AUTH
 *     for forwarding, antispam, multidrop, IMAP/ETRN/ODMR, Kerberos, header rewriting,
 *     MD5 fingerprints, opportunistic STARTTLS, `skip`...), becomes a `# `
 *     comment saying why and what to use instead. Nothing is dropped
 *     silently. Entries popfetch must not poll as they are (`skip`, other
 *     protocols) are written commented out.
 *   - Input is untrusted: at most FETCHMAILRC_MAX_BYTES, no NUL bytes; every
 *     value, the number of accounts and of comments, and the output are
 *     bounded; text quoted from the input into comments has its control
 *     bytes replaced. A file fetchmail could not parse either is ERR_USAGE
 *     naming name:line.
 *   - Library code: never prints, never exits.
 */
#ifndef POPFETCH_FETCHMAILRC_H
#define POPFETCH_FETCHMAILRC_H

#include <stddef.h>

#include "err.h"

#define FETCHMAILRC_MAX_BYTES    (4 * 1024 * 1024) /* input accepted */
#define FETCHMAILRC_MAX_OUT      (4 * 1024 * 1024) /* what popfetch reads as a config */
#define FETCHMAILRC_MAX_ACCOUNTS 1000

/* Convert fetchmailrc text into popfetch config text (malloc'd,
 * NUL-terminated, in *out). `name` is used in messages and in the output's
 * first comment. Returns 0, or -1 with e set (ERR_USAGE for input it
 * cannot parse, naming name:line; ERR_INTERNAL for out of memory).
 *
 * When a fetchmail user names no remote user, fetchmail logs in with the
 * local login name; so does the output (from $FETCHMAILUSER, $LOGNAME,
 * $USER or the password database, like fetchmail). */
int fetchmailrc_convert(const char *name, const char *text, size_t len, char **out, struct err *e);

/* Read FILE (a regular file of at most FETCHMAILRC_MAX_BYTES) and convert
 * it, naming it by its path. */
int fetchmailrc_convert_file(const char *path, char **out, struct err *e);

/* Wipe (it may hold passwords) and free what fetchmailrc_convert returned;
 * NULL is fine. */
void fetchmailrc_free(char *out);

#endif
