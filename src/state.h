/*
 * state — what popfetch remembers about one account: the UIDLs it has
 * delivered (with when each was first seen), kept in a text file a person can
 * read, plus an append-only journal of new deliveries since the file was
 * last rewritten, plus the lock that keeps two runs off one account.
 *
 * Contract (design.md §3): state_add() buffers a record; state_write() puts
 * the buffered records into the journal file at once (one write: they
 * survive a kill -9 of this process, not yet a power cut); state_commit()
 * makes every record durable with one write and one fsync (group commit;
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
 * The main file (version 2, written by every compaction): the line
 * "popfetch-state 2", then groups: a header line "K TIME" (K the status,
 * D or S; TIME unix seconds, when the UIDLs were first seen) followed by
 * the UIDLs that share both, one a line, e.g.
 *     popfetch-state 2
 *     D 1733500000
 *     0000000167a1b2c3
 *     0000000267a1b2c3
 *     S 1733500007
 *     0000000367a1b2c3
 * A header has a space and a UIDL has none, so a line is one or the other
 * by sight. The writer orders the entries by (status, time), so a group is
 * every entry of one status first seen in one second: a run delivers many
 * messages a second and the header (13 bytes) is paid once for them, so a
 * large mailbox costs its UIDL and a newline a message (issue 20: 17 bytes
 * for Dovecot's 16-character UIDLs, mpop's size; version 1 wrote the
 * status and time on every line, 30 bytes). A mailbox built by small runs
 * pays the header once per run-second (runs of 10: 1.3 bytes a message
 * more; a message a second: as much as version 1). Times stay exact to the
 * second (no rounding: a compaction loses nothing, and keep-for-N-days
 * expiry sees the time it always saw). Reading: a UIDL line before any
 * header, or under a header that does not parse (or a line too long to
 * read, which may have been one), is damage, dropped and counted like a
 * torn line: never given a made-up status or time. Version 1 ("K TIME
 * UIDL" a line) is still read; the next compaction writes version 2. A
 * version above 2 is refused and left untouched.
 *
 * The journal ("popfetch-journal 1", then one record a line): "K TIME UIDL
 * NAME", K a status (D, S) or I for an intent, TIME unix seconds, UIDL and
 * NAME printable words ("-": no name). For D, NAME is the Maildir file the
 * delivery was given (to finish its rename). An intent (state_intend) says
 * "a sink is about to deliver UIDL", NAME being the sink's note (mbox: the
 * file's size before the append and the length appended); it marks nothing
 * seen, is never folded into the main file, and is answered at the next
 * start by the sink (recovery) unless a D record for the UIDL follows.
 * A recipient record "R TIME UIDL RCPT" (state_got) says "UIDL was handed
 * to recipient RCPT" (a forwarding sink's address, escaped by the sink
 * into a printable word without '/'): a message some of whose recipients
 * accepted it and others did not; it marks nothing seen either, is
 * answered at the next start by the sink (who still lacks it) and is
 * carried into the new journal by a compaction while its UIDL is not
 * delivered (a kill in between the two costs at most a duplicate to those
 * recipients, never a loss) and, with `prune`, is still on the server (the
 * rule for entries: a message deleted by someone else takes its records
 * along). A reader drops a record of a kind it does not know (counted as
 * damaged, never "seen"), so new kinds can be added without a new version.
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
    STATE_INTENT = 'I',    /* journal only: a delivery about to happen (no status) */
    STATE_RECIPIENT = 'R', /* journal only: delivered to one recipient (no status) */
};

/* An intent record read from the journal. */
struct state_intent {
    int64_t when;
    char *uidl;
    char *note; /* the sink's words ("" for "-") */
    int listed; /* R: its UIDL is in this run's listing (state_stash, state_mark_listed) or
                   state_got wrote it: a prune keeps it */
};

/* 8 bytes an entry: a mailbox of 300,000 messages (issue 20) keeps one
 * per message for the whole run. Its UIDL is in the state's pool, encoded
 * (hex digits two a byte, the length in front: state.c); state_uidl()
 * gives it back as text. `bits` is state.c's (the status, "listed", and
 * the index of its first-seen time in a table of the state's distinct
 * times): read it through state_entry_status() and state_entry_time(). */
struct state_entry {
    uint32_t off;  /* the encoded UIDL in the pool */
    uint32_t bits; /* state.c's */
};

/* Opaque: its layout (the hash set, the UIDL pool, the journal buffer, the
 * lock) is state.c's alone; callers hold a pointer and use the functions
 * below. A state exists only while its account is locked: state_lock() and
 * state_open() make one, state_close() unlocks and frees it. So no caller
 * can size, copy or reuse one, nor use one that was never locked; the one
 * allocation per run costs nothing beside the state's fsyncs. */
struct state;

/* The file-name stem for an account: what identifies its mailbox (e.g.
 * user@host, see session_state_key()) with unsafe bytes escaped. */
void state_key(char *buf, size_t len, const char *id);

/* Open (creating the directory), lock, and load into a new *out.
 * ERR_LOCKED if another process holds the account; the message names its
 * pid; ERR_CONFIG_PERM for a directory or a link we must not trust
 * (above). On failure *out is NULL and nothing is left to close. */
int state_open(struct state **out, const char *dir, const char *key, struct err *e);

/* state_open() in two steps, so that a caller can take the lock before it
 * connects and load while the server works: state_lock() creates the
 * directory, takes the lock (ERR_LOCKED as above) and makes *out (NULL on
 * failure); state_load() reads the main file and the journal. A state
 * that failed to load is still locked: state_close() it. */
int state_lock(struct state **out, const char *dir, const char *key, struct err *e);
int state_load(struct state *s, struct err *e);

/* --check's read-only state_lock(): creates nothing (no directory, no lock
 * file); state_load() follows. A missing directory or file is an empty
 * state; the lock is taken when its file exists (ERR_LOCKED as above); when
 * key has no files but old_key (or NULL) has, those are read, not moved (see
 * state_adopt). Nothing may be committed to it. */
int state_peek(struct state **out, const char *dir, const char *key, const char *old_key,
               struct err *e);

/* After state_load() of a state_peek(): let go of the lock, keeping what
 * was read, so that a reader who takes its time with it (--dump-state
 * printing into a pager) never keeps a run of the account from starting. */
void state_unlock(struct state *s);

/* Between state_lock() and state_load(): when this key has no main file
 * yet, take over the files of old_key in the same directory (an older
 * naming of the same mailbox): under old_key's lock too (ERR_LOCKED when
 * another run holds it), its journal then its main file are renamed to
 * this key's names and the directory is synced; a crash between the two
 * renames is finished by the next call. Both journals present is an
 * ERR_LOCAL error (nothing is merged or lost). Returns 1 when files moved,
 * 0 when there was nothing to take over. */
int state_adopt(struct state *s, const char *old_key, struct err *e);

/* What a caller may know of a loaded state:
 *  - state_count(): the UIDLs it knows; state_entry_at(s, i) for i below
 *    that is each one (in no particular order; valid until the next add);
 *  - state_dropped(): damaged lines skipped while loading (never "seen");
 *  - state_path(): the main file's path, for messages;
 *  - state_has_file(): the main file existed when locked (a run has
 *    completed before) or has been written since;
 *  - state_pending_names(): the file names the journal records for
 *    deliveries (what a Maildir sink's recover() may have to finish);
 *    valid until state_close(). */
size_t state_count(const struct state *s);
/* Bytes of memory the state's UIDLs take (its pool: entries' and stashed
 * copies, encoded): what a mailbox of many messages costs beside the
 * entries and the table (issue 20). */
size_t state_pool_bytes(const struct state *s);
/* Bytes the hash table takes (4 a slot). */
size_t state_table_bytes(const struct state *s);
const struct state_entry *state_entry_at(const struct state *s, size_t i);
unsigned state_dropped(const struct state *s);
const char *state_path(const struct state *s);
int state_has_file(const struct state *s);
char *const *state_pending_names(const struct state *s, size_t *n);

/* The journal's intent records, in order; one whose UIDL is now
 * STATE_DELIVERED (state_lookup) is answered. Valid until state_close(). */
const struct state_intent *state_intents(const struct state *s, size_t *n);

/* The journal's recipient records (loaded, then those state_got wrote),
 * in order, the recipient in `note`. Valid until the next state_got or
 * state_close(). */
const struct state_intent *state_recipients(const struct state *s, size_t *n);

/* An entry's status (STATE_DELIVERED or STATE_SKIPPED), and the unix time
 * it was first seen (a time outside 0..2^32-1, which no clock of ours
 * gives, is held clamped). */
char state_entry_status(const struct state_entry *ent);
uint32_t state_entry_time(const struct state *s, const struct state_entry *ent);

/* The entry of a UIDL (its bytes, len of them), or NULL. */
const struct state_entry *state_lookup(const struct state *s, const char *uidl, size_t len);

/* An entry's UIDL, decoded into buf (NUL-terminated): buf. The state holds
 * UIDLs encoded, so there is no pointer to one to keep. */
const char *state_uidl(const struct state *s, const struct state_entry *ent,
                       char buf[STATE_UIDL_MAX + 1]);

/* The index of an entry (for state_entry_at): unlike the pointer, it stays
 * valid across state_add(), so a listing can name a UIDL the state holds
 * instead of keeping a copy of it. */
size_t state_index(const struct state *s, const struct state_entry *ent);

/* Mark an entry as present on the server in this run's listing. */
void state_mark_listed(struct state *s, const struct state_entry *ent);

/* Keep a copy of a UIDL the state does not hold (a new message in this
 * run's listing: 1..STATE_UIDL_MAX bytes) in the state's own memory,
 * encoded as its entries' are, *off naming it; ERR_INTERNAL when out of
 * memory. state_stashed() decodes it into buf (NUL-terminated) and returns
 * its length. state_add_stashed() records it taking that copy for its
 * entry instead of making a second one (issue 20: a first run of 300,000
 * messages kept every UIDL twice). The copy stays until state_close().
 * Nothing is recorded by state_stash(). */
int state_stash(struct state *s, const char *uidl, size_t len, uint32_t *off, struct err *e);
size_t state_stashed(const struct state *s, uint32_t off, char buf[STATE_UIDL_MAX + 1]);
int state_add_stashed(struct state *s, uint32_t off, char status, int64_t when, const char *name,
                      struct err *e);

/* About n more entries are coming (a listing's new messages): size the
 * table for them at once, exactly rather than to the next doubling. Best
 * effort (without memory it grows as entries come). */
void state_expect(struct state *s, size_t n);

/* Record a UIDL (name: the delivered Maildir file, or NULL). Buffered until
 * state_commit(). */
int state_add(struct state *s, const char *uidl, size_t len, char status, int64_t when,
              const char *name, struct err *e);

/* Write the buffered records into the journal now, without an fsync: they
 * survive a kill -9 of this process. state_commit() still makes them
 * durable. Fails as state_commit does. */
int state_write(struct state *s, struct err *e);

/* Record an intent (see above) and write it at once (state_write). */
int state_intend(struct state *s, const char *uidl, size_t len, int64_t when, const char *note,
                 struct err *e);

/* Record that UIDL was delivered to recipient rcpt (a printable word
 * without '/') and write it at once (state_write); the next
 * state_commit() makes it durable. */
int state_got(struct state *s, const char *uidl, size_t len, int64_t when, const char *rcpt,
              struct err *e);

/* Write every buffered record and fsync the journal (also when records
 * were only written by state_write since the last fsync). On failure
 * (ERR_LOCAL: the disk full, an I/O error) returns STATE_NOT_RECORDED when
 * none of the records since the last fsync is in the journal (a partial
 * write was cut back off, and the buffered records are dropped): what they
 * describe may be undone. Any other failure is -1: some may have been
 * recorded. */
#define STATE_NOT_RECORDED (-2)
int state_commit(struct state *s, struct err *e);

/* Rewrite the main file from memory (in today's format) and empty the
 * journal; nothing to do when the file is current. With
 * `prune`, entries not marked listed are dropped (the server no longer has
 * them), and so are the recipient records of UIDLs not in the listing
 * (neither stashed nor marked listed); pass it only after a complete UIDL
 * listing. */
int state_compact(struct state *s, int prune, struct err *e);

/* At the end of a clean run: commit, then state_compact() only if the
 * journal or the entries `prune` would drop make up a sizeable part of the
 * state, a line was dropped while loading, or the main file was read in an
 * older format version (so the first clean run rewrites it as today's). */
int state_settle(struct state *s, int prune, struct err *e);

/* Release the lock and free the state (NULL is a no-op). Uncommitted
 * records are lost (by design: nothing was acted on for them). */
void state_close(struct state *s);

#endif
