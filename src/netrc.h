/*
 * netrc — the ~/.netrc format, parsed from text in memory (pure: no files,
 * no environment). The file is untrusted input: any bytes, bounded by the
 * length given, never read past.
 *
 * Tokens are separated by blanks, newlines and commas; a token in double
 * quotes may hold those, with a backslash taking the next byte literally.
 * `machine NAME` starts an entry, `default` an entry for every host;
 * `login NAME`, `password SECRET` and `account VALUE` fill the entry;
 * `macdef NAME` skips a macro up to the next blank line. Other tokens are
 * ignored. The first entry for the host (compared without case), whose
 * login is the user or missing, and that has a password, gives the
 * password.
 */
#ifndef POPFETCH_NETRC_H
#define POPFETCH_NETRC_H

#include <stddef.h>

/* The longest token (and so password) netrc_lookup() handles. */
#define NETRC_TOKEN_MAX 8191

/* Look up the password for (host, user) in text[0..len). 1: found, copied
 * NUL-terminated into pw (max bytes, at least NETRC_TOKEN_MAX + 1 to take
 * any); 0: no entry; -1: the entry found has a password longer than
 * NETRC_TOKEN_MAX or than pw can hold. Scratch copies of the password
 * are wiped; pw is the caller's to wipe. */
int netrc_lookup(const char *text, size_t len, const char *host, const char *user, char *pw,
                 size_t max);

#endif
