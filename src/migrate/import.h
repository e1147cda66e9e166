/*
 * import — reading the seen-UIDL files of the tools people migrate from, so
 * that switching in keep mode does not download the whole mailbox again:
 * fetchmail's .fetchids ("user@host UIDL" lines), mpop's UIDL file (" N host
 * user" headers, each followed by N UIDLs) and getmail's oldmail-* files
 * ("UIDL\0TIME" lines, one account per file).
 *
 * Parsing, then recording an account's entries in its seen-state (the
 * state store is written here and nowhere else for an import). Input is
 * untrusted: every line is bounded and checked; a line that does not parse
 * is counted and skipped.
 */
#ifndef POPFETCH_IMPORT_H
#define POPFETCH_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"

enum import_format { IMPORT_FETCHMAIL, IMPORT_MPOP, IMPORT_GETMAIL };

struct import_entry {
    const char *user; /* NULL when the format does not say (getmail) */
    const char *host;
    const char *uidl;
    int64_t when; /* first seen, 0 if the format does not say */
};

struct import_list {
    struct import_entry *v;
    size_t n, cap;
    char *text;       /* the file's bytes; entries point into it */
    unsigned skipped; /* lines that did not parse */
};

/* "fetchmail:FILE", "mpop:FILE" or "getmail:FILE". */
int import_parse_spec(const char *spec, enum import_format *f, const char **path, struct err *e);

/* Parse text into entries. The list takes the text over: it must come from
 * malloc with room for len + 1 bytes (lines are cut in place). */
int import_parse(enum import_format f, char *text, size_t len, struct import_list *out,
                 struct err *e);

/* Read and parse a file. */
int import_load(enum import_format f, const char *path, struct import_list *out, struct err *e);

/* Does the entry belong to this user and host? Entries without a user or
 * host (getmail) belong to any account. */
int import_matches(const struct import_entry *ent, const char *user, const char *host);

/* Mark the entries that belong to account a as delivered in its state
 * under dir (by user, and by host too when the file names several hosts
 * for that user); *count says how many. */
int import_record(const struct import_list *l, const struct account *a, const char *dir,
                  size_t *count, struct err *e);

void import_free(struct import_list *l);

#endif
