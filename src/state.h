/*
 * state — what popfetch remembers about one account: the UIDLs it has
 * delivered (with when each was first seen), kept in a text file a person can
 * read, plus an append-only journal of new deliveries since the file was
 * last rewritten, plus the lock that keeps two runs off one account.
 *
 * Contract (design.md §3): state_add() buffers a record; state_commit() makes
 * every buffered record durable with one write and one fsync (group commit;
 * a new journal also gets its header and one fsync of its directory).
 * Only committed records may be acted on (rename into new/, DELE). The
 * journal is folded into the main file by state_compact() (temp file, fsync,
 * rename, fsync dir); at the end of a clean run state_settle() does that only
 * once the journal or the entries to prune have grown large enough to be
 * worth a rewrite, so an everyday run with a few new messages pays no
 * rewrite of a large state. A torn or garbled line is
 * never read as "seen": it is dropped and counted, so the worst case is a
 * second download, never a lost message. Files from a newer format version
 * are refused rather than overwritten.
 *
 * Local files cannot be redirected: the state directory must keep
 * fileperm.h's rule (ours or root's, writable by us alone: else
 * ERR_CONFIG_PERM), and every file of ours in it is opened with O_NOFOLLOW
 * (a symbolic link at the state, journal or lock name is ERR_CONFIG_PERM;
 * a stale temporary file, link or not, is removed and made anew with
 * O_EXCL). Directories state_lock() creates get mode 0700.
 */
#ifndef POPFETCH_STATE_H
#define POPFETCH_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STATE_UIDL_MAX 255

enum state_status {
    STATE_DELIVERED = 'D', /* delivered and durable: never fetch again */
    STATE_SKIPPED = 'S',   /* left on the server by policy (reported once) */
};

struct state_entry {
    uint32_t off; /* UIDL text in the string pool */
    uint16_t len;
    char status;        /* enum state_status */
    uint8_t listed;     /* seen in this run's UIDL listing */
    int64_t first_seen; /* unix time of delivery */
};

struct state {
    char path[4096];  /* main file */
    char jpath[4096]; /* journal */
    char lpath[4096]; /* lock file */
    char dir[4096];
    int lock_fd, journal_fd;
    int jhead_due, jdir_due; /* a new journal: header not yet written, its
                              * directory entry not yet fsynced */
    char *pool;              /* UIDL strings */
    size_t pool_len, pool_cap;
    struct state_entry *ents;
    size_t nents, cap;
    uint32_t *table; /* open addressing: entry index + 1, 0 = empty */
    size_t tsize;
    char *jbuf; /* journal records not yet written */
    size_t jlen, jcap;
    char **names; /* journal records' file names (pending Maildir renames) */
    char **name_uidls;
    size_t nnames;
    size_t jrecords;  /* records in the journal file */
    size_t nlisted;   /* entries marked listed */
    int have_main;    /* the main file exists (known once locked) */
    unsigned dropped; /* invalid lines skipped while loading */
};

/* The file-name stem for an account: user@host:port with unsafe bytes escaped. */
void state_key(char *buf, size_t len, const char *user, const char *host, unsigned port);

/* Open (creating the directory), lock, and load. ERR_LOCKED if another
 * process holds the account; the message names its pid; ERR_CONFIG_PERM
 * for a directory or a link we must not trust (above). */
int state_open(struct state *s, const char *dir, const char *key, struct err *e);

/* state_open() in two steps, so that a caller can take the lock before it
 * connects and load while the server works: state_lock() creates the
 * directory and takes the lock (ERR_LOCKED as above); state_load() reads
 * the main file and the journal. state_close() undoes either. */
int state_lock(struct state *s, const char *dir, const char *key, struct err *e);
int state_load(struct state *s, struct err *e);

const struct state_entry *state_lookup(const struct state *s, const char *uidl, size_t len);
const char *state_uidl(const struct state *s, const struct state_entry *ent);

/* Mark an entry as present on the server in this run's listing. */
void state_mark_listed(struct state *s, const struct state_entry *ent);

/* Record a UIDL (name: the delivered Maildir file, or NULL). Buffered until
 * state_commit(). */
int state_add(struct state *s, const char *uidl, size_t len, char status, int64_t when,
              const char *name, struct err *e);

/* Write and fsync every buffered record. */
int state_commit(struct state *s, struct err *e);

/* Rewrite the main file from memory and empty the journal. With
 * `prune`, entries not marked listed are dropped (the server no longer has
 * them); pass it only after a complete UIDL listing. */
int state_compact(struct state *s, int prune, struct err *e);

/* At the end of a clean run: commit, then state_compact() only if the
 * journal or the entries `prune` would drop make up a sizeable part of the
 * state, or a line was dropped while loading. */
int state_settle(struct state *s, int prune, struct err *e);

/* Release the lock and memory. Uncommitted records are lost (by design:
 * nothing was acted on for them). */
void state_close(struct state *s);

#endif
