/*
 * tokstore — an account's OAuth2 tokens on disk: STATE_DIR/KEY.oauth2, a
 * JSON object (jansson) beside the account's seen-state, with the access
 * token and its expiry, the refresh token, the client and token endpoint
 * they were issued for, a generation counter, and — once the provider has
 * refused the refresh token (invalid_grant) — why and since when, so that a
 * daemon reports it once rather than at every poll.
 *
 * The caller holds the account's lock (state_lock on the same directory
 * and key): one writer at a time. Files keep state.h's rules: the
 * directory was checked by state_lock (ours, writable by us alone), every
 * file is opened with O_NOFOLLOW (a symbolic link is ERR_CONFIG_PERM), new
 * files are created 0600 with O_EXCL after removing a stale one.
 *
 * Saving never loses the newest refresh token, whatever instant a crash
 * (kill -9) hits, once the caller has it in memory (a provider that rotates
 * refresh tokens has revoked the old one when it sent the new one):
 *   1. write KEY.oauth2.new (generation + 1), fsync it, fsync the directory;
 *   2. rename it over KEY.oauth2, fsync the directory.
 * Loading reads both: a whole KEY.oauth2.new (it parses, and its generation
 * is newer) wins over KEY.oauth2 and the rename is finished; a torn one (a
 * crash inside step 1) is removed, and KEY.oauth2 is what was last saved
 * whole. Nothing is ever written in place, so no crash leaves a file that
 * holds neither token. The only window is before step 1 has finished: a
 * token still in flight or in memory cannot be saved by any order of
 * writes; it is kept as short as one write and one fsync.
 *
 * Every token and code read back is checked like the provider's answers
 * (printable ASCII, bounded); a damaged file is ERR_LOCAL naming it, a file
 * from a newer format is refused. Tokens live in buffers tokstore_free()
 * wipes.
 */
#ifndef POPFETCH_TOKSTORE_H
#define POPFETCH_TOKSTORE_H

#include "err.h"

#define TOKSTORE_FILE_MAX (256 * 1024)

struct tokstore {
    unsigned long long generation; /* saves so far; 0 = never saved */
    char *client_id;               /* the client the tokens were issued to */
    char *token_url;               /* and by which endpoint */
    char *access_token;            /* NULL = none */
    long long expires_at;          /* unix time; 0 = unknown */
    char *refresh_token;           /* NULL = none */
    char *refused;                 /* the refresh token was refused: why; NULL = not */
    long long refused_at;          /* unix time of the first refusal */
};

/* Read the store (finishing or discarding a KEY.oauth2.new first, as
 * above). *found = 0 and t empty when there is none. */
int tokstore_load(const char *dir, const char *key, struct tokstore *t, int *found, struct err *e);

/* Save t as the next generation (t->generation is incremented). */
int tokstore_save(const char *dir, const char *key, struct tokstore *t, struct err *e);

/* Replace a string field (a copy; the old value is wiped). value NULL
 * clears it. -1 when out of memory. */
int tokstore_set(char **field, const char *value);

/* Wipe and free every field; t is emptied. */
void tokstore_free(struct tokstore *t);

#endif
