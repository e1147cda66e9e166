/*
 * state — seen-UIDL store, journal, compaction and lock. See state.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirs.h"
#include "fault.h"
#include "fdio.h"
#include "fileperm.h"
#include "state.h"

#define STATE_MAGIC     "popfetch-state "
#define JOURNAL_MAGIC   "popfetch-journal "
#define STATE_VERSION   2 /* the main file's (1: a record a line, still read) */
#define JOURNAL_VERSION 1
#define STATE_HEADER    STATE_MAGIC "2"
#define JOURNAL_HEADER  JOURNAL_MAGIC "1"
#define STATE_FILE_MAX  ((size_t)512 * 1024 * 1024)
#define NAME_MAX_LEN    255
/* state_settle(): compact once the journal or the prunable entries exceed
 * 1/STATE_SLACK_DIV of all entries, and at least STATE_SLACK_MIN */
#define STATE_SLACK_DIV 16
#define STATE_SLACK_MIN 256

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
    uint32_t *times; /* the distinct first-seen times entries name */
    size_t ntimes, times_cap;
    uint32_t *tindex; /* open addressing over times: index + 1, 0 = empty */
    size_t tisize;
    size_t last_time; /* the index time_index() found last */
    char *jbuf;       /* journal records not yet written */
    size_t jlen, jcap;
    char **names; /* journal records' file names (pending Maildir renames) */
    size_t nnames;
    struct state_intent *intents; /* the journal's intent records, as loaded */
    size_t nintents;
    struct state_intent *rcpts; /* recipient records (R), loaded and written */
    size_t nrcpts;
    int unsynced;       /* records written to the journal since its last fsync */
    off_t unsynced_off; /* where they begin */
    size_t jrecords;    /* records in the journal file */
    size_t nlisted;     /* entries marked listed */
    int have_main;      /* the main file exists (known once locked) */
    int old_format;     /* it was read in an older format: rewrite it */
    unsigned dropped;   /* invalid lines skipped while loading */
};

void state_key(char *buf, size_t len, const char *id)
{
    size_t o = 0;

    for (const char *p = id; *p && o + 4 < len; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == ':' || c == '+')
            buf[o++] = (char)c;
        else
            o += (size_t)snprintf(buf + o, len - o, "%%%02X", c);
    }
    buf[o] = '\0';
}

/* The memory budget per entry (state.h): checked where it is built. */
_Static_assert(sizeof(struct state_entry) == 8, "a state entry is 8 bytes");

/* An entry's `bits`: the status in bits 0..2 (ENT_DELIVERED, ENT_SKIPPED),
 * "listed" in bit 3, and in bits 4..31 the index of its first-seen time in
 * the state's table of distinct times (a state has few: one a run-second
 * in which messages were delivered, as the file's groups show). */
#define ENT_DELIVERED  1u
#define ENT_SKIPPED    2u
#define ENT_STATUS     7u
#define ENT_LISTED     8u
#define ENT_TIME_SHIFT 4
#define ENT_TIMES_MAX  ((size_t)1 << (32 - ENT_TIME_SHIFT))

static uint32_t status_bits(char status)
{
    return status == STATE_SKIPPED ? ENT_SKIPPED : ENT_DELIVERED;
}

char state_entry_status(const struct state_entry *ent)
{
    return (ent->bits & ENT_STATUS) == ENT_SKIPPED ? STATE_SKIPPED : STATE_DELIVERED;
}

uint32_t state_entry_time(const struct state *s, const struct state_entry *ent)
{
    return s->times[ent->bits >> ENT_TIME_SHIFT];
}

/* ---- UIDLs as the pool holds them ----------------------------------- */

/* Each UIDL is held encoded, its first byte h saying how (issue 20:
 * Dovecot's default UIDL is 16 hex digits, 8 bytes as nibbles):
 *   h = 1..127:   h bytes follow, the UIDL as it is;
 *   h = 128..191: the UIDL is h - 127 (1..64) digits of [0-9a-f], packed
 *                 two a byte (high nibble first; an odd count leaves the
 *                 last low nibble 0);
 *   h = 192..255: the same for h - 191 digits of [0-9A-F];
 *   h = 0:        a length byte L follows, then the L bytes as they are
 *                 (a UIDL longer than 127, or of more than 64 digits).
 * enc_uidl() picks one form by a fixed rule (digits and a-f only: lower;
 * else digits and A-F only: upper; else as it is) and dec_uidl() gives
 * back exactly the UIDL that was encoded (each form keeps the length and
 * every character: its case is the form's, which is part of the compared
 * bytes). So dec(enc(u)) == u for every UIDL u: enc is one-to-one, and two
 * UIDLs are one entry exactly when their encodings are equal bytes
 * ("00AB", "00ab" and "0AB" are three). The table hashes and compares
 * encodings, so a listed UIDL is encoded once and never decoded. */
#define ENC_RAW_MAX   127
#define ENC_HEX_LOWER 128
#define ENC_HEX_UPPER 192
#define ENC_HEX_MAX   64
#define ENC_MAX       (2 + STATE_UIDL_MAX)

static int nibble(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The encoded form's size, from its first bytes. */
static size_t enc_size(const unsigned char *p)
{
    if (p[0] == 0) return 2 + (size_t)p[1];
    if (p[0] <= ENC_RAW_MAX) return 1 + (size_t)p[0];
    return 1 + ((size_t)(p[0] & 63) + 2) / 2;
}

/* A UIDL of 1..STATE_UIDL_MAX bytes into out[ENC_MAX]: its size. */
static size_t enc_uidl(unsigned char *out, const char *u, size_t len)
{
    int lower = 1, upper = 1;

    for (size_t i = 0; i < len && (lower || upper); i++) {
        unsigned char c = (unsigned char)u[i];
        if (c >= '0' && c <= '9') continue;
        lower &= c >= 'a' && c <= 'f';
        upper &= c >= 'A' && c <= 'F';
    }
    if ((lower || upper) && len >= 1 && len <= ENC_HEX_MAX) {
        out[0] = (unsigned char)((lower ? ENC_HEX_LOWER : ENC_HEX_UPPER) + (len - 1));
        for (size_t i = 0; i < len; i++) {
            unsigned v = (unsigned)nibble((unsigned char)u[i]);
            if (i & 1)
                out[1 + i / 2] = (unsigned char)(out[1 + i / 2] | v);
            else
                out[1 + i / 2] = (unsigned char)(v << 4);
        }
        return 1 + (len + 1) / 2;
    }
    if (len >= 1 && len <= ENC_RAW_MAX) {
        out[0] = (unsigned char)len;
        memcpy(out + 1, u, len);
        return 1 + len;
    }
    out[0] = 0;
    out[1] = (unsigned char)len;
    memcpy(out + 2, u, len);
    return 2 + len;
}

/* An encoded UIDL back into out[STATE_UIDL_MAX + 1], NUL-terminated: its
 * length. */
static size_t dec_uidl(char *out, const unsigned char *p)
{
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    size_t n;

    if (p[0] == 0 || p[0] <= ENC_RAW_MAX) {
        n = p[0] ? p[0] : p[1];
        memcpy(out, p + (p[0] ? 1 : 2), n);
    } else {
        const char *digits = p[0] >= ENC_HEX_UPPER ? up : lo;
        n = (size_t)(p[0] & 63) + 1;
        for (size_t i = 0; i < n; i++)
            out[i] = digits[i & 1 ? p[1 + i / 2] & 15 : p[1 + i / 2] >> 4];
    }
    out[n] = '\0';
    return n;
}

/* ---- the hash set --------------------------------------------------- */

/* The table holds entry indexes (4 bytes a slot) and doubles once it is
 * 3/4 full; when the count to hold is known beforehand it is sized for it
 * instead, to any size (a slot's home is the hash scaled to the size, not
 * masked): 3/5 full for a loaded file (the 10-new run's lookups, which
 * dominate its CPU, stay as short as in a power-of-two table), 3/4 for the
 * new messages of a listing (state_expect: a first run of 300,000 holds
 * 1.6 MB of table, not 2 MiB; issue 20). Two UIDLs are one entry only
 * when their encodings are equal bytes (one-to-one, above): a probe
 * compares the stored encoding, never just the hash. */
#define STATE_TABLE_FIRST 1024
#define LOAD_PCT_FILE     60
#define LOAD_PCT_EXPECTED 75

static uint64_t hash(const unsigned char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* A hash's first slot in a table of `size` slots (below 2^32). */
static size_t home(uint64_t h, size_t size)
{
    return (size_t)(((h >> 32) * (uint64_t)size) >> 32);
}

static size_t next_slot(size_t i, size_t size)
{
    return i + 1 < size ? i + 1 : 0;
}

static const unsigned char *enc_at(const struct state *s, uint32_t off)
{
    return (const unsigned char *)s->pool + off;
}

const char *state_uidl(const struct state *s, const struct state_entry *ent,
                       char buf[STATE_UIDL_MAX + 1])
{
    dec_uidl(buf, enc_at(s, ent->off));
    return buf;
}

static size_t slot_of(const struct state *s, const unsigned char *enc, size_t n)
{
    size_t i = home(hash(enc, n), s->tsize);

    for (;; i = next_slot(i, s->tsize)) {
        uint32_t v = s->table[i];
        if (v == 0) return i;
        const unsigned char *p = enc_at(s, s->ents[v - 1].off);
        if (p[0] == enc[0] && enc_size(p) == n && memcmp(p, enc, n) == 0) return i;
    }
}

/* An open-addressing index of nsize slots (linear probing) for n distinct
 * items, item k at home_of(s, k, nsize) or the first free slot after it,
 * named k + 1 (0 = empty). Distinct, so each goes to the first empty slot
 * of its probe run without a comparison; taken in order (the entries'
 * pool, the times' array: read front to back, not at random). NULL when
 * out of memory. Both the entries' table and the times' table are built
 * by it. */
typedef size_t (*home_fn)(const struct state *s, size_t k, size_t nsize);

static uint32_t *build_index(const struct state *s, size_t n, size_t nsize, home_fn home_of)
{
    uint32_t *t = nsize <= UINT32_MAX ? calloc(nsize, sizeof *t) : NULL;

    if (!t) return NULL;
    for (size_t k = 0; k < n; k++) {
        size_t i = home_of(s, k, nsize);
        while (t[i]) i = next_slot(i, nsize);
        t[i] = (uint32_t)(k + 1);
    }
    return t;
}

static size_t entry_home(const struct state *s, size_t k, size_t nsize)
{
    const unsigned char *p = enc_at(s, s->ents[k].off);

    return home(hash(p, enc_size(p)), nsize);
}

/* The entries' table at nsize slots. */
static int rehash(struct state *s, size_t nsize)
{
    uint32_t *t = build_index(s, s->nents, nsize, entry_home);

    if (!t) return -1;
    free(s->table);
    s->table = t;
    s->tsize = nsize;
    return 0;
}

/* Room for `want` entries in the table (doubled at 3/4 full). */
static int make_room(struct state *s, size_t want)
{
    size_t nsize = s->tsize ? s->tsize : STATE_TABLE_FIRST;

    while (want * 4 > nsize * 3) nsize *= 2;
    return nsize > s->tsize ? rehash(s, nsize) : 0;
}

/* The table sized at once for `want` entries, load_pct percent full then
 * (never smaller than it is). Best effort: make_room() still grows it. */
static void size_for(struct state *s, size_t want, size_t load_pct)
{
    size_t nsize = want / load_pct * 100 + 100;

    if (nsize > s->tsize && nsize > STATE_TABLE_FIRST) (void)rehash(s, nsize);
}

void state_expect(struct state *s, size_t n)
{
    size_for(s, s->nents + n, LOAD_PCT_EXPECTED);
}

const struct state_entry *state_lookup(const struct state *s, const char *uidl, size_t len)
{
    unsigned char enc[ENC_MAX];
    uint32_t v;

    if (s->tsize == 0 || len == 0 || len > STATE_UIDL_MAX) return NULL;
    v = s->table[slot_of(s, enc, enc_uidl(enc, uidl, len))];
    return v ? &s->ents[v - 1] : NULL;
}

size_t state_index(const struct state *s, const struct state_entry *ent)
{
    return (size_t)(ent - s->ents);
}

/* The recipient records of UIDL: its message is in this run's listing, so
 * a prune keeps them (rejournal_recipients). Records are few (a message
 * some recipients refused): a scan. */
static void rcpts_listed(struct state *s, const char *uidl, size_t len)
{
    for (size_t i = 0; i < s->nrcpts; i++)
        if (strlen(s->rcpts[i].uidl) == len && !memcmp(s->rcpts[i].uidl, uidl, len))
            s->rcpts[i].listed = 1;
}

void state_mark_listed(struct state *s, const struct state_entry *ent)
{
    struct state_entry *x = &s->ents[ent - s->ents];

    s->nlisted += !(x->bits & ENT_LISTED);
    x->bits |= ENT_LISTED;
    if (s->nrcpts && state_entry_status(x) != STATE_DELIVERED) {
        char u[STATE_UIDL_MAX + 1];
        size_t n = strlen(state_uidl(s, x, u));
        rcpts_listed(s, u, n);
    }
}

static int reserve(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 64;
    void *n;

    if (need <= *cap) return 0;
    while (ncap < need) ncap *= 2;
    if (!(n = realloc(*p, ncap * elem))) return -1;
    *p = n;
    *cap = ncap;
    return 0;
}

/* A time as an entry holds it (see state.h). */
static uint32_t held_time(int64_t when)
{
    return when < 0 ? 0 : when > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)when;
}

/* The table of distinct times (4 bytes each, and a slot of their own
 * index: one a run-second in a state built by cron runs, so nothing a
 * message) grows at 3/4 full like the entries' table. */
#define TIMES_FIRST 64

static size_t time_slot(uint32_t t, size_t mask)
{
    return (size_t)(((uint64_t)t * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

static size_t time_home(const struct state *s, size_t k, size_t nsize)
{
    return time_slot(s->times[k], nsize - 1); /* nsize: a power of two */
}

static int rehash_times(struct state *s, size_t nsize)
{
    uint32_t *t = build_index(s, s->ntimes, nsize, time_home);

    if (!t) return -1;
    free(s->tindex);
    s->tindex = t;
    s->tisize = nsize;
    return 0;
}

/* The index of time t in the table of times (added if new), or -1 (out
 * of memory, or more distinct times than an entry can name). A run of
 * entries of one time (a group of the file, one run's deliveries) finds
 * it without a probe. */
static int64_t time_index(struct state *s, uint32_t t)
{
    size_t i, nsize = s->tisize ? s->tisize : TIMES_FIRST;

    if (s->ntimes && s->times[s->last_time] == t) return (int64_t)s->last_time;
    while ((s->ntimes + 1) * 4 > nsize * 3) nsize *= 2;
    if (nsize > s->tisize && rehash_times(s, nsize) < 0) return -1;
    for (i = time_slot(t, s->tisize - 1); s->tindex[i]; i = next_slot(i, s->tisize))
        if (s->times[s->tindex[i] - 1] == t) return (int64_t)(s->last_time = s->tindex[i] - 1);
    if (s->ntimes >= ENT_TIMES_MAX ||
        reserve((void **)&s->times, &s->times_cap, s->ntimes + 1, sizeof *s->times) < 0)
        return -1;
    s->times[s->ntimes] = t;
    s->tindex[i] = (uint32_t)(s->ntimes + 1);
    s->last_time = s->ntimes++;
    return (int64_t)s->last_time;
}

/* Copy an encoded UIDL to the end of the pool: its offset, or -1 (out of
 * memory, or past the 4 GiB an entry's offset can name). */
static int64_t pool_put(struct state *s, const unsigned char *enc, size_t n)
{
    size_t off = s->pool_len;

    if (off + n > UINT32_MAX || reserve((void **)&s->pool, &s->pool_cap, s->pool_len + n, 1) < 0)
        return -1;
    memcpy(s->pool + off, enc, n);
    s->pool_len += n;
    return (int64_t)off;
}

/* Insert or merge one record (its UIDL encoded: enc, n) into memory: the
 * entry's index, or -1 when out of memory. A new entry names the copy at
 * `stashed` (a state_stash() of the same UIDL), or with -1 a new copy. */
static int64_t remember_enc(struct state *s, const unsigned char *enc, size_t n, int64_t stashed,
                            char status, int64_t when)
{
    size_t slot;
    struct state_entry *ent;
    int64_t off = stashed, t;

    if (make_room(s, s->nents + 1) < 0) return -1;
    slot = slot_of(s, enc, n);
    if (s->table[slot]) {
        ent = &s->ents[s->table[slot] - 1];
        if (status == STATE_DELIVERED) ent->bits = (ent->bits & ~ENT_STATUS) | ENT_DELIVERED;
        if (held_time(when) < state_entry_time(s, ent)) {
            if ((t = time_index(s, held_time(when))) < 0) return -1;
            ent->bits = (ent->bits & ((1u << ENT_TIME_SHIFT) - 1)) | (uint32_t)t << ENT_TIME_SHIFT;
        }
        return (int64_t)(s->table[slot] - 1);
    }
    if (reserve((void **)&s->ents, &s->cap, s->nents + 1, sizeof *s->ents) < 0 ||
        (t = time_index(s, held_time(when))) < 0)
        return -1;
    if (off < 0 && (off = pool_put(s, enc, n)) < 0) return -1;
    ent = &s->ents[s->nents++];
    ent->off = (uint32_t)off;
    ent->bits = status_bits(status) | (uint32_t)t << ENT_TIME_SHIFT;
    s->table[slot] = (uint32_t)s->nents;
    return (int64_t)(s->nents - 1);
}

/* The same for a UIDL as it is (callers pass printable words of
 * 1..STATE_UIDL_MAX bytes). */
static int64_t remember(struct state *s, const char *uidl, size_t len, char status, int64_t when)
{
    unsigned char enc[ENC_MAX];

    return remember_enc(s, enc, enc_uidl(enc, uidl, len), -1, status, when);
}

int state_stash(struct state *s, const char *uidl, size_t len, uint32_t *off, struct err *e)
{
    unsigned char enc[ENC_MAX];
    int64_t o;

    if (len == 0 || len > STATE_UIDL_MAX)
        return err_set(e, ERR_INTERNAL, "refusing to keep a malformed UIDL");
    if ((o = pool_put(s, enc, enc_uidl(enc, uidl, len))) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    *off = (uint32_t)o;
    if (s->nrcpts) rcpts_listed(s, uidl, len);
    return 0;
}

size_t state_stashed(const struct state *s, uint32_t off, char buf[STATE_UIDL_MAX + 1])
{
    return dec_uidl(buf, enc_at(s, off));
}

/* ---- files ---------------------------------------------------------- */

static int make_dir(const char *dir, struct err *e)
{
    if (dirs_make(dir, "state directory", e) == 0) return 0;
    err_hint(e, "set `state_dir` to a writable place");
    return -1;
}

/* The directory must be ours (or root's) and writable by us alone:
 * anyone else who could write there could plant a link at one of our
 * names or replace our files. */
static int check_dir(const char *dir, struct err *e)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return err_set(e, ERR_LOCAL, "cannot open state directory %s: %s", dir, strerror(errno));
    rc = fileperm_check_fd(fd, "state directory", dir, e);
    close(fd);
    return rc;
}

/* Every file of ours in the state directory is opened with O_NOFOLLOW: a
 * symbolic link there is refused, never written through. */
static int open_fail(struct err *e, const char *what, const char *path)
{
    return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, what, path);
}

static int take_lock(struct state *s, const char *what, struct err *e)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    s->lock_fd = open(s->lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0) return open_fail(e, "lock file", s->lpath);
    if (fcntl(s->lock_fd, F_SETLK, &fl) == 0) return 0;
    if (errno != EACCES && errno != EAGAIN)
        return err_set(e, ERR_LOCAL, "cannot lock %s: %s", s->lpath, strerror(errno));
    fl.l_type = F_WRLCK;
    if (fcntl(s->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        err_set(e, ERR_LOCKED, "another popfetch (pid %ld) is already fetching %s", (long)fl.l_pid,
                what);
    else
        err_set(e, ERR_LOCKED, "another popfetch is already fetching %s", what);
    err_hint(e, "wait for it to finish; runs of the same account never overlap");
    return -1;
}

struct record {
    char status;
    int64_t when;
    const char *uidl, *name;
    size_t uidl_len, name_len;
};

static int printable_word(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

/* A record's first letter: a status, or an intent in the journal. */
static int known_kind(char c, int journal)
{
    return c == STATE_DELIVERED || c == STATE_SKIPPED ||
           (journal && (c == STATE_INTENT || c == STATE_RECIPIENT));
}

/* "K TIME", the start of every record and a whole version 2 group
 * header: the kind and time into r; where TIME ends, or NULL. */
static const char *parse_kind_time(const char *l, const char *end, int journal, struct record *r)
{
    const char *p;
    int64_t t = 0;

    if (end - l < 3 || !known_kind(l[0], journal) || l[1] != ' ') return NULL;
    r->status = l[0];
    for (p = l + 2; p < end && isdigit((unsigned char)*p); p++) {
        if (t > 100000000000LL) return NULL;
        t = t * 10 + (*p - '0');
    }
    if (p == l + 2) return NULL;
    r->when = t;
    return p;
}

/* "S TIME UIDL" or, in the journal, "S TIME UIDL NAME" (for an intent,
 * NAME is the sink's note). */
static int parse_record(const char *l, size_t n, int journal, struct record *r)
{
    const char *end = l + n, *p = parse_kind_time(l, end, journal, r), *sp;

    if (!p || p == end || *p != ' ') return -1;
    p++;
    sp = journal ? memchr(p, ' ', (size_t)(end - p)) : end;
    if (!sp) return -1;
    r->uidl = p;
    r->uidl_len = (size_t)(sp - p);
    if (!printable_word(r->uidl, r->uidl_len, STATE_UIDL_MAX)) return -1;
    r->name = NULL;
    r->name_len = 0;
    if (!journal) return 0;
    r->name = sp + 1;
    r->name_len = (size_t)(end - r->name);
    if (!printable_word(r->name, r->name_len, NAME_MAX_LEN) || memchr(r->name, '/', r->name_len))
        return -1;
    if (r->name_len == 1 && r->name[0] == '-') r->name_len = 0;
    /* a recipient record names its recipient: one without could never
     * be written back by a compaction */
    if (r->status == STATE_RECIPIENT && !r->name_len) return -1;
    return 0;
}

static int add_name(struct state *s, const struct record *r)
{
    char **n = realloc(s->names, (s->nnames + 1) * sizeof *n);

    if (!n) return -1;
    s->names = n;
    if (!(n[s->nnames] = strndup(r->name, r->name_len))) return -1;
    s->nnames++;
    return 0;
}

/* An intent or recipient record, kept apart in *list: it says nothing
 * about what is seen. */
static int add_aside(struct state_intent **list, size_t *count, const struct record *r)
{
    struct state_intent *n = realloc(*list, (*count + 1) * sizeof *n);

    if (!n) return -1;
    *list = n;
    n += *count;
    n->when = r->when;
    n->uidl = strndup(r->uidl, r->uidl_len);
    n->note = r->name ? strndup(r->name, r->name_len) : strdup(""); /* the parser gives one */
    n->listed = 0;
    if (!n->uidl || !n->note) {
        free(n->uidl);
        free(n->note);
        return -1;
    }
    (*count)++;
    return 0;
}

/* Keep one loaded record: an intent or a recipient record aside, anything
 * else in the set (and a Maildir name among the pending ones). */
static int keep_record(struct state *s, const struct record *r)
{
    if (r->status == STATE_INTENT) return add_aside(&s->intents, &s->nintents, r);
    if (r->status == STATE_RECIPIENT) return add_aside(&s->rcpts, &s->nrcpts, r);
    if (remember(s, r->uidl, r->uidl_len, r->status, r->when) < 0) return -1;
    return r->name_len ? add_name(s, r) : 0;
}

/* A header line "MAGIC VERSION": the version (1..max) if one this reader
 * knows, 0 if not a header, -1 if it names another version (a newer one:
 * refused, never overwritten). */
static int check_header(const char *l, size_t n, const char *magic, int max)
{
    size_t ml = strlen(magic);

    if (n < ml || memcmp(l, magic, ml) != 0) return 0;
    if (n != ml + 1 || l[ml] < '1' || l[ml] > '0' + max) return -1;
    return l[ml] - '0';
}

/* One file being loaded: read in chunks (a state of 300,000 entries is
 * 9 MiB of text that need never be in memory at once: issue 20), parsed a
 * line at a time. */
#define LOAD_CHUNK ((size_t)64 * 1024)

struct loader {
    struct state *s;
    const char *path, *magic;
    int journal;
    int first;           /* the next line is the file's first */
    int skipping;        /* inside a line longer than a chunk (damaged): to its end */
    int version;         /* the file's format (a file without a header line: 1) */
    struct record group; /* version 2: the last group header (status, time) */
    int in_group;        /* ... which parsed: the UIDL lines under it count */
};

/* A version 2 line (state.h): a group header "K TIME" (it has a space), or
 * a UIDL of the current group. A UIDL line with no group to belong to
 * (before any header, or under one that did not parse) is damage: it never
 * gets a made-up status or time. */
static int load_grouped(struct loader *ld, const char *l, size_t n, struct err *e)
{
    const char *end = l + n;

    if (memchr(l, ' ', n)) {
        ld->in_group = parse_kind_time(l, end, 0, &ld->group) == end;
        ld->s->dropped += !ld->in_group;
        return 0;
    }
    if (!ld->in_group || !printable_word(l, n, STATE_UIDL_MAX)) {
        ld->s->dropped++;
        return 0;
    }
    if (remember(ld->s, l, n, ld->group.status, ld->group.when) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    return 0;
}

/* One whole line (without its newline). */
static int load_line(struct loader *ld, const char *l, size_t n, struct err *e)
{
    struct record r;
    int first = ld->first, head;

    ld->first = 0;
    if (first && (head = check_header(l, n, ld->magic,
                                      ld->journal ? JOURNAL_VERSION : STATE_VERSION)) != 0) {
        if (head > 0) {
            ld->version = head;
            return 0;
        }
        err_set(e, ERR_LOCAL, "%s was written by another popfetch version (%.*s)", ld->path,
                (int)(n > 40 ? 40 : n), l);
        err_hint(e, "use that popfetch version, or move the file away to start afresh");
        return -1;
    }
    if (ld->version == STATE_VERSION && !ld->journal) return load_grouped(ld, l, n, e);
    if (parse_record(l, n, ld->journal, &r) < 0) {
        ld->s->dropped++;
        return 0;
    }
    if (keep_record(ld->s, &r) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    ld->s->jrecords += (size_t)ld->journal;
    return 0;
}

/* The whole lines of buf[0..*have); what follows the last newline moves to
 * the front. A chunk without a newline is a line too long for any record:
 * counted once as damaged, and skipped to its end. */
static int load_lines(struct loader *ld, char *buf, size_t *have, struct err *e)
{
    size_t pos = 0;
    const char *nl;

    while ((nl = memchr(buf + pos, '\n', *have - pos))) {
        size_t n = (size_t)(nl - (buf + pos));
        if (!ld->skipping && load_line(ld, buf + pos, n, e) < 0) return -1;
        ld->skipping = 0;
        pos += n + 1;
    }
    if (pos == 0 && *have == LOAD_CHUNK) {
        ld->s->dropped += !ld->skipping;
        ld->skipping = 1;
        ld->first = 0;
        ld->in_group = 0; /* it may have been a group header: what follows is damage */
        *have = 0;
        return 0;
    }
    memmove(buf, buf + pos, *have - pos);
    *have -= pos;
    return 0;
}

/* The table sized once for the whole file, as its first chunk suggests
 * (its lines' average length), instead of rehashed at every doubling
 * while 300,000 entries load. A wrong guess costs only a later rehash. */
static void presize(struct loader *ld, const char *buf, size_t have, off_t size)
{
    size_t lines = 0;

    for (const char *p = buf; (p = memchr(p, '\n', have - (size_t)(p - buf))); p++) lines++;
    if (lines > 1 && size > 0)
        size_for(ld->s, ld->s->nents + (size_t)size / (have / lines), LOAD_PCT_FILE);
}

/* Read fd to its end (at most STATE_FILE_MAX bytes), line by line. */
static int load_fd(struct loader *ld, int fd, char *buf, struct err *e)
{
    const char *what = ld->journal ? "journal" : "state file";
    struct stat st;
    size_t have = 0, total = 0;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > STATE_FILE_MAX)
        return err_set(e, ERR_LOCAL, "%s %s is not a regular file of at most %zu bytes", what,
                       ld->path, STATE_FILE_MAX);
    for (;;) {
        ssize_t r = read(fd, buf + have, LOAD_CHUNK - have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return err_set(e, ERR_LOCAL, "cannot read %s %s: %s", what, ld->path, strerror(errno));
        if (r == 0) break;
        if ((total += (size_t)r) > STATE_FILE_MAX)
            return err_set(e, ERR_LOCAL, "%s %s is not a regular file of at most %zu bytes", what,
                           ld->path, STATE_FILE_MAX);
        have += (size_t)r;
        if (total == have) presize(ld, buf, have, st.st_size);
        if (load_lines(ld, buf, &have, e) < 0) return -1;
    }
    if (have && !ld->skipping) ld->s->dropped++; /* torn last line: never trusted */
    return 0;
}

/* Load one file's records; lines that do not parse are counted, not used.
 * A file that does not exist is empty. */
static int load_file(struct state *s, const char *path, const char *magic, int journal,
                     struct err *e)
{
    struct loader ld = {
        .s = s, .path = path, .magic = magic, .journal = journal, .first = 1, .version = 1};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc;
    char *buf;

    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return open_fail(e, journal ? "journal" : "state file", path);
    }
    if (!(buf = malloc(LOAD_CHUNK))) {
        close(fd);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    rc = load_fd(&ld, fd, buf, e);
    if (!journal && ld.version < STATE_VERSION) s->old_format = 1;
    free(buf);
    close(fd);
    return rc;
}

static int lock_names(struct state *s, const char *dir, const char *key, struct err *e)
{
    if ((size_t)snprintf(s->dir, sizeof s->dir, "%s", dir) >= sizeof s->dir ||
        (size_t)snprintf(s->path, sizeof s->path, "%s/%s.state", dir, key) >= sizeof s->path ||
        (size_t)snprintf(s->jpath, sizeof s->jpath, "%s/%s.journal", dir, key) >= sizeof s->jpath ||
        (size_t)snprintf(s->lpath, sizeof s->lpath, "%s/%s.lock", dir, key) >= sizeof s->lpath)
        return err_set(e, ERR_LOCAL, "state path too long");
    return 0;
}

static int lock_paths(struct state *s, const char *dir, const char *key, struct err *e)
{
    if (lock_names(s, dir, key, e) < 0) return -1;
    if (make_dir(dir, e) < 0 || check_dir(dir, e) < 0 || take_lock(s, key, e) < 0) return -1;
    s->have_main = access(s->path, F_OK) == 0;
    return 0;
}

int state_lock(struct state **out, const char *dir, const char *key, struct err *e)
{
    struct state *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s) {
        err_set(e, ERR_INTERNAL, "out of memory");
        return -1;
    }
    s->lock_fd = s->journal_fd = -1;
    if (lock_paths(s, dir, key, e) < 0) {
        state_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* The old key's three names, beside this state's. */
struct old_names {
    char path[4096], jpath[4096], lpath[4096];
};

static int old_names(const struct state *s, const char *key, struct old_names *o, struct err *e)
{
    if ((size_t)snprintf(o->path, sizeof o->path, "%s/%s.state", s->dir, key) >= sizeof o->path ||
        (size_t)snprintf(o->jpath, sizeof o->jpath, "%s/%s.journal", s->dir, key) >=
            sizeof o->jpath ||
        (size_t)snprintf(o->lpath, sizeof o->lpath, "%s/%s.lock", s->dir, key) >= sizeof o->lpath)
        return err_set(e, ERR_LOCAL, "state path too long");
    return 0;
}

/* Rename from → to when from exists; 1 moved, 0 nothing there. */
static int move_file(const char *from, const char *to, struct err *e)
{
    if (rename(from, to) == 0) return 1;
    if (errno == ENOENT) return 0;
    return err_set(e, ERR_LOCAL, "cannot move %s to %s: %s", from, to, strerror(errno));
}

/* The old files, moved under both locks. The journal goes first: a crash
 * between the two renames leaves this key without a main file, so the
 * next run moves the main file then. */
static int adopt_files(struct state *s, const struct old_names *o, struct err *e)
{
    int moved, jmoved = 0;

    if (access(o->jpath, F_OK) == 0) {
        if (access(s->jpath, F_OK) == 0) {
            err_set(e, ERR_LOCAL, "both %s and %s exist; popfetch will not merge them", o->jpath,
                    s->jpath);
            err_hint(e, "move the one you do not want out of the state directory");
            return -1;
        }
        if ((jmoved = move_file(o->jpath, s->jpath, e)) < 0) return -1;
    }
    if ((moved = move_file(o->path, s->path, e)) < 0) return -1;
    if ((moved || jmoved) && dirs_fsync(s->dir) < 0)
        return err_set(e, ERR_LOCAL, "cannot sync state directory %s: %s", s->dir, strerror(errno));
    s->have_main = moved || s->have_main;
    return moved || jmoved;
}

int state_adopt(struct state *s, const char *old_key, struct err *e)
{
    struct old_names o = {.path = ""};
    struct state old = {.lock_fd = -1};
    int rc;

    if (s->have_main) return 0;
    if (old_names(s, old_key, &o, e) < 0) return -1;
    if (access(o.path, F_OK) != 0 && access(o.jpath, F_OK) != 0) return 0;
    memcpy(old.lpath, o.lpath, sizeof old.lpath);
    if (take_lock(&old, old_key, e) < 0) {
        if (old.lock_fd >= 0) close(old.lock_fd);
        return -1;
    }
    rc = adopt_files(s, &o, e);
    if (rc > 0) unlink(o.lpath); /* nothing is left under that name */
    close(old.lock_fd);
    return rc;
}

/* --check's view: the paths of key, or of old_key when only that one has
 * files; the lock taken only if its file exists. Creates nothing. */
static int peek_paths(struct state *s, const char *dir, const char *key, const char *old_key,
                      struct err *e)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct stat st;

    if (lock_names(s, dir, key, e) < 0) return -1;
    if (old_key && access(s->path, F_OK) != 0 && access(s->jpath, F_OK) != 0) {
        struct old_names o = {.path = ""};
        if (old_names(s, old_key, &o, e) < 0) return -1;
        if (access(o.path, F_OK) == 0 || access(o.jpath, F_OK) == 0) {
            memcpy(s->path, o.path, sizeof s->path);
            memcpy(s->jpath, o.jpath, sizeof s->jpath);
            memcpy(s->lpath, o.lpath, sizeof s->lpath);
        }
    }
    if (stat(dir, &st) != 0) return errno == ENOENT ? 0 : check_dir(dir, e);
    if (check_dir(dir, e) < 0) return -1;
    s->have_main = access(s->path, F_OK) == 0;
    s->lock_fd = open(s->lpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (s->lock_fd < 0) return errno == ENOENT ? 0 : open_fail(e, "lock file", s->lpath);
    if (fcntl(s->lock_fd, F_SETLK, &fl) == 0) return 0;
    close(s->lock_fd);
    s->lock_fd = -1;
    return take_lock(s, key, e); /* names the holder */
}

int state_peek(struct state **out, const char *dir, const char *key, const char *old_key,
               struct err *e)
{
    struct state *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s) return err_set(e, ERR_INTERNAL, "out of memory");
    s->lock_fd = s->journal_fd = -1;
    if (peek_paths(s, dir, key, old_key, e) < 0) {
        state_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void state_unlock(struct state *s)
{
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
    s->lock_fd = -1;
}

int state_load(struct state *s, struct err *e)
{
    if (load_file(s, s->path, STATE_MAGIC, 0, e) < 0 ||
        load_file(s, s->jpath, JOURNAL_MAGIC, 1, e) < 0)
        return -1;
    return 0;
}

int state_open(struct state **out, const char *dir, const char *key, struct err *e)
{
    if (state_lock(out, dir, key, e) < 0) return -1;
    if (state_load(*out, e) == 0) return 0;
    state_close(*out);
    *out = NULL;
    return -1;
}

size_t state_count(const struct state *s)
{
    return s->nents;
}

size_t state_pool_bytes(const struct state *s)
{
    return s->pool_len;
}

size_t state_table_bytes(const struct state *s)
{
    return s->tsize * sizeof *s->table;
}

const struct state_entry *state_entry_at(const struct state *s, size_t i)
{
    return i < s->nents ? &s->ents[i] : NULL;
}

unsigned state_dropped(const struct state *s)
{
    return s->dropped;
}

const char *state_path(const struct state *s)
{
    return s->path;
}

int state_has_file(const struct state *s)
{
    return s->have_main;
}

char *const *state_pending_names(const struct state *s, size_t *n)
{
    *n = s->nnames;
    return s->names;
}

const struct state_intent *state_intents(const struct state *s, size_t *n)
{
    *n = s->nintents;
    return s->intents;
}

const struct state_intent *state_recipients(const struct state *s, size_t *n)
{
    *n = s->nrcpts;
    return s->rcpts;
}

/* Append one record to the journal buffer. */
static int buffer_record(struct state *s, const char *uidl, size_t len, char kind, int64_t when,
                         const char *name, struct err *e)
{
    size_t need = len + (name ? strlen(name) : 1) + 40;

    if (!printable_word(uidl, len, STATE_UIDL_MAX))
        return err_set(e, ERR_INTERNAL, "refusing to record a malformed UIDL");
    if (name && (!printable_word(name, strlen(name), NAME_MAX_LEN) || strchr(name, '/')))
        return err_set(e, ERR_INTERNAL, "refusing to record a malformed name");
    if (reserve((void **)&s->jbuf, &s->jcap, s->jlen + need, 1) < 0)
        return err_set(e, ERR_INTERNAL, "out of memory");
    s->jrecords++;
    s->jlen += (size_t)snprintf(s->jbuf + s->jlen, s->jcap - s->jlen, "%c %lld %.*s %s\n", kind,
                                (long long)when, (int)len, uidl, name ? name : "-");
    return 0;
}

/* state_add() with the entry's copy at `stashed` (or -1: a new one). */
static int add_record(struct state *s, const char *uidl, size_t len, int64_t stashed, char status,
                      int64_t when, const char *name, struct err *e)
{
    unsigned char enc[ENC_MAX];
    size_t mark = s->jlen;
    int64_t k;

    if (buffer_record(s, uidl, len, status, when, name, e) < 0) return -1;
    if ((k = remember_enc(s, enc, enc_uidl(enc, uidl, len), stashed, status, when)) < 0) {
        s->jlen = mark;
        s->jrecords--;
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    /* It came from this run's listing: a prune must not drop it. */
    state_mark_listed(s, &s->ents[k]);
    return 0;
}

int state_add(struct state *s, const char *uidl, size_t len, char status, int64_t when,
              const char *name, struct err *e)
{
    return add_record(s, uidl, len, -1, status, when, name, e);
}

int state_add_stashed(struct state *s, uint32_t off, char status, int64_t when, const char *name,
                      struct err *e)
{
    char uidl[STATE_UIDL_MAX + 1];
    size_t len = state_stashed(s, off, uidl);

    return add_record(s, uidl, len, (int64_t)off, status, when, name, e);
}

int state_intend(struct state *s, const char *uidl, size_t len, int64_t when, const char *note,
                 struct err *e)
{
    if (buffer_record(s, uidl, len, STATE_INTENT, when, note, e) < 0) return -1;
    return state_write(s, e);
}

int state_got(struct state *s, const char *uidl, size_t len, int64_t when, const char *rcpt,
              struct err *e)
{
    struct record r = {.status = STATE_RECIPIENT,
                       .when = when,
                       .uidl = uidl,
                       .uidl_len = len,
                       .name = rcpt,
                       .name_len = strlen(rcpt)};

    if (buffer_record(s, uidl, len, STATE_RECIPIENT, when, rcpt, e) < 0) return -1;
    if (add_aside(&s->rcpts, &s->nrcpts, &r) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    s->rcpts[s->nrcpts - 1].listed = 1; /* fetched in this run: listed */
    return state_write(s, e);
}

/* Open the journal for appending; a new (or empty) one is due its header
 * and a directory fsync, which stay due until they have succeeded. */
static int open_journal(struct state *s, struct err *e)
{
    struct stat st;

    if (s->journal_fd >= 0) return 0;
    s->journal_fd = open(s->jpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->journal_fd < 0) return open_fail(e, "journal", s->jpath);
    if (fstat(s->journal_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(s->journal_fd);
        s->journal_fd = -1;
        return err_set(e, ERR_LOCAL, "journal %s is not a regular file", s->jpath);
    }
    s->jhead_due = s->jdir_due = st.st_size == 0;
    return 0;
}

/* The records could not be written or made durable: cut the journal back
 * to `off`, where the records since the last fsync began, so that none of
 * them counts. 0 when that is durable. */
static int unwrite(struct state *s, off_t off)
{
    int saved = errno,
        rc = off >= 0 && ftruncate(s->journal_fd, off) == 0 && fsync(s->journal_fd) == 0 ? 0 : -1;

    errno = saved;
    s->unsynced = 0;
    return rc;
}

/* The buffered records (and a new journal's header) into the file: 0, -1,
 * or STATE_NOT_RECORDED (see state_commit). */
static int write_records(struct state *s)
{
    if (s->jhead_due) {
        if (fdio_write_full(s->journal_fd, JOURNAL_HEADER "\n", sizeof JOURNAL_HEADER) < 0)
            return unwrite(s, 0) == 0 ? STATE_NOT_RECORDED : -1;
        s->jhead_due = 0;
    }
    if (!s->unsynced) s->unsynced_off = lseek(s->journal_fd, 0, SEEK_END);
    if (fdio_write_full(s->journal_fd, s->jbuf, s->jlen) < 0)
        return unwrite(s, s->unsynced_off) == 0 ? STATE_NOT_RECORDED : -1;
    s->jlen = 0;
    s->unsynced = 1;
    return 0;
}

/* fsync the journal (and a new one's directory entry): 0, -1, or
 * STATE_NOT_RECORDED. */
static int sync_journal(struct state *s)
{
    if (fsync(s->journal_fd) < 0) return unwrite(s, s->unsynced_off) == 0 ? STATE_NOT_RECORDED : -1;
    s->unsynced = 0;
    if (s->jdir_due) {
        if (dirs_fsync(s->dir) < 0) return -1;
        s->jdir_due = 0;
    }
    return 0;
}

static int journal_fail(struct state *s, struct err *e)
{
    /* A partial record is torn and will be dropped on load. */
    return err_set(e, ERR_LOCAL, "cannot write journal %s: %s", s->jpath, strerror(errno));
}

int state_write(struct state *s, struct err *e)
{
    int rc;

    if (s->jlen == 0) return 0;
    if (open_journal(s, e) < 0) return -1;
    if ((rc = write_records(s)) < 0) {
        journal_fail(s, e);
        if (rc == STATE_NOT_RECORDED) s->jlen = 0;
    }
    return rc;
}

/* A new journal gets its header, the records and its directory entry
 * made durable by one fsync of the file and one of the directory. */
int state_commit(struct state *s, struct err *e)
{
    int rc;

    if (s->jlen == 0 && !s->unsynced && !s->jdir_due) return 0;
    if (open_journal(s, e) < 0) {
        s->jlen = 0;
        return STATE_NOT_RECORDED;
    }
    if ((s->jlen && (rc = write_records(s)) < 0) || (rc = sync_journal(s)) < 0) {
        journal_fail(s, e);
        if (rc == STATE_NOT_RECORDED) s->jlen = 0;
        return rc;
    }
    return 0;
}

/* A new temporary file, never one that was there: a stale one (a run that
 * died while compacting, or a link someone planted) is removed first. The
 * directory is ours alone (check_dir), so nobody can plant one again in
 * between; O_EXCL and O_NOFOLLOW refuse it if they could. */
static int create_tmp(const char *tmp, struct err *e)
{
    int fd;

    if (unlink(tmp) < 0 && errno != ENOENT)
        return err_set(e, ERR_LOCAL, "cannot remove the stale %s: %s", tmp, strerror(errno));
    /* 0600 whatever the umask: the UIDLs say what mail this user has */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fileperm_open_error(e, ERR_CONFIG_PERM, ERR_LOCAL, "temporary file", tmp);
    return fd;
}

/* The order of the main file (version 2, state.h): by status (D first),
 * then time, then the order the entries were first recorded. A counting
 * sort over the (status, time) groups, which are few (one a run-second):
 * 4 bytes an entry and 12 a distinct time, only while the file is written
 * and only when the entries are not in that order already (write_groups;
 * a 64-bit key an entry and qsort's copy of them cost 16). */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* rank[t]: the place of times[t] among the state's times, ascending. */
static uint32_t *time_ranks(const struct state *s)
{
    size_t nt = s->ntimes;
    uint64_t *v = malloc((nt ? nt : 1) * sizeof *v);
    uint32_t *rank = v ? malloc((nt ? nt : 1) * sizeof *rank) : NULL;

    if (!rank) {
        free(v);
        return NULL;
    }
    for (size_t t = 0; t < nt; t++) v[t] = (uint64_t)s->times[t] << 32 | t;
    qsort(v, nt, sizeof *v, cmp_u64);
    for (size_t r = 0; r < nt; r++) rank[v[r] & UINT32_MAX] = (uint32_t)r;
    free(v);
    return rank;
}

/* The group of an entry: D groups first, each status's in time order. */
static size_t group_of(const struct state *s, const uint32_t *rank, const struct state_entry *ent)
{
    size_t skipped = state_entry_status(ent) == STATE_SKIPPED;

    return skipped * s->ntimes + rank[ent->bits >> ENT_TIME_SHIFT];
}

/* The indexes of the entries to write (all, or with `prune` the listed
 * ones), in file order; *n of them. NULL when out of memory. */
static uint32_t *group_order(const struct state *s, int prune, size_t *n)
{
    uint32_t *rank = time_ranks(s), *pos = NULL, *out = NULL;

    *n = 0;
    if (rank) pos = calloc(2 * s->ntimes + 1, sizeof *pos);
    if (pos) out = calloc(s->nents ? s->nents : 1, sizeof *out); /* zero: untouched until written */
    if (!out) {
        free(rank);
        free(pos);
        return NULL;
    }
    for (size_t i = 0; i < s->nents; i++)
        if (!prune || (s->ents[i].bits & ENT_LISTED)) pos[group_of(s, rank, &s->ents[i]) + 1]++;
    for (size_t g = 1; g <= 2 * s->ntimes; g++) pos[g] += pos[g - 1];
    for (size_t i = 0; i < s->nents; i++)
        if (!prune || (s->ents[i].bits & ENT_LISTED))
            out[pos[group_of(s, rank, &s->ents[i])]++] = (uint32_t)i;
    *n = s->ntimes ? pos[2 * s->ntimes - 1] : 0;
    free(rank);
    free(pos);
    return out;
}

/* The entries in groups: a header line "K TIME" whenever the status or the
 * time changes, then each UIDL on a line of its own. */
static void write_entry(const struct state *s, const struct state_entry *ent,
                        const struct state_entry **prev, FILE *f)
{
    char u[STATE_UIDL_MAX + 1];
    size_t len;

    if (!*prev || state_entry_status(*prev) != state_entry_status(ent) ||
        state_entry_time(s, *prev) != state_entry_time(s, ent))
        fprintf(f, "%c %lu\n", state_entry_status(ent), (unsigned long)state_entry_time(s, ent));
    len = dec_uidl(u, enc_at(s, ent->off));
    u[len] = '\n';
    fwrite(u, 1, len + 1, f);
    *prev = ent;
}

static void write_sorted(const struct state *s, const uint32_t *k, size_t n, FILE *f)
{
    const struct state_entry *prev = NULL;

    for (size_t i = 0; i < n; i++) write_entry(s, &s->ents[k[i]], &prev, f);
}

static int written(const struct state_entry *ent, int prune, char status)
{
    return state_entry_status(ent) == status && (!prune || (ent->bits & ENT_LISTED));
}

/* Are the entries of each status already in the order of their times?
 * They nearly always are: a file is loaded in that order and a run adds
 * entries as it goes, its clock moving forward. Then the file is written
 * status by status in entry order, which is the sorted order, with no
 * index array (4 bytes an entry: group_order). */
static int in_time_order(const struct state *s, int prune)
{
    static const char order[] = {STATE_DELIVERED, STATE_SKIPPED};

    for (size_t o = 0; o < sizeof order; o++) {
        uint32_t last = 0;
        for (size_t i = 0; i < s->nents; i++) {
            const struct state_entry *ent = &s->ents[i];
            if (!written(ent, prune, order[o])) continue;
            if (state_entry_time(s, ent) < last) return 0;
            last = state_entry_time(s, ent);
        }
    }
    return 1;
}

static void write_in_place(const struct state *s, int prune, FILE *f)
{
    static const char order[] = {STATE_DELIVERED, STATE_SKIPPED};
    const struct state_entry *prev = NULL;

    for (size_t o = 0; o < sizeof order; o++)
        for (size_t i = 0; i < s->nents; i++)
            if (written(&s->ents[i], prune, order[o])) write_entry(s, &s->ents[i], &prev, f);
}

/* The main file's lines, in (status, time, entry) order: written straight
 * from the entries when they are in that order, sorted otherwise. */
static int write_groups(const struct state *s, int prune, FILE *f)
{
    size_t n;
    uint32_t *k;

    fputs(STATE_HEADER "\n", f);
    if (in_time_order(s, prune)) {
        write_in_place(s, prune, f);
        return 0;
    }
    if (!(k = group_order(s, prune, &n))) return -1;
    write_sorted(s, k, n, f);
    free(k);
    return 0;
}

static int write_main(struct state *s, const char *tmp, int prune, struct err *e)
{
    int fd = create_tmp(tmp, e);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok;

    if (fd < 0) return -1;
    if (!f) {
        close(fd);
        unlink(tmp);
        return err_set(e, ERR_LOCAL, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (write_groups(s, prune, f) < 0) {
        fclose(f);
        unlink(tmp);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        err_set(e, ERR_LOCAL, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* After a compaction: the recipient records of messages not yet
 * delivered go into the new journal again (the main file holds statuses
 * only), made durable before anything is acted on; with `prune`, only
 * those of messages still on the server, as for entries. */
static int rejournal_recipients(struct state *s, int prune, struct err *e)
{
    size_t kept = 0;

    for (size_t i = 0; i < s->nrcpts; i++) {
        const struct state_intent *r = &s->rcpts[i];
        const struct state_entry *ent = state_lookup(s, r->uidl, strlen(r->uidl));
        if ((ent && state_entry_status(ent) == STATE_DELIVERED) || (prune && !r->listed)) continue;
        if (buffer_record(s, r->uidl, strlen(r->uidl), STATE_RECIPIENT, r->when, r->note, e) < 0)
            return -1;
        kept++;
    }
    return kept ? state_commit(s, e) : 0;
}

int state_compact(struct state *s, int prune, struct err *e)
{
    char tmp[4200];

    if (state_commit(s, e) < 0) return -1;
    /* nothing journaled, nothing to prune, nothing damaged, not an older
     * format: the file is current */
    if (!prune && !s->jrecords && !s->dropped && !s->old_format) return 0;
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    if (write_main(s, tmp, prune, e) < 0) return -1;
    if (rename(tmp, s->path) < 0 || dirs_fsync(s->dir) < 0) {
        err_set(e, ERR_LOCAL, "cannot replace %s: %s", s->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    FAULT_POINT("after-compact", 0);
    if (s->journal_fd >= 0) close(s->journal_fd);
    s->journal_fd = -1;
    if ((unlink(s->jpath) < 0 && errno != ENOENT) || dirs_fsync(s->dir) < 0)
        return err_set(e, ERR_LOCAL, "cannot remove journal %s: %s", s->jpath, strerror(errno));
    s->jrecords = 0;
    s->have_main = 1;
    s->old_format = 0;
    return rejournal_recipients(s, prune, e);
}

/* A rewrite costs a pass over every entry and three fsyncs; the journal
 * and the entries a prune would drop cost a little at every load. Rewrite
 * once either is a sizeable fraction of the whole, when there is no main
 * file yet (the first run), when it is in an older format (version 1: the
 * one rewrite that brings it to today's), or when a line was dropped (so
 * that its warning is not repeated at every run). */
static int worth_compacting(const struct state *s, int prune)
{
    size_t slack = s->nents / STATE_SLACK_DIV;

    if (slack < STATE_SLACK_MIN) slack = STATE_SLACK_MIN;
    if (!s->have_main || s->old_format || s->dropped || s->jrecords > slack) return 1;
    return prune && s->nents - s->nlisted > slack;
}

int state_settle(struct state *s, int prune, struct err *e)
{
    if (state_commit(s, e) < 0) return -1;
    return worth_compacting(s, prune) ? state_compact(s, prune, e) : 0;
}

void state_close(struct state *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nnames; i++) free(s->names[i]);
    free(s->names);
    for (size_t i = 0; i < s->nintents; i++) {
        free(s->intents[i].uidl);
        free(s->intents[i].note);
    }
    free(s->intents);
    for (size_t i = 0; i < s->nrcpts; i++) {
        free(s->rcpts[i].uidl);
        free(s->rcpts[i].note);
    }
    free(s->rcpts);
    if (s->journal_fd >= 0) close(s->journal_fd);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
    free(s->pool);
    free(s->ents);
    free(s->table);
    free(s->times);
    free(s->tindex);
    free(s->jbuf);
    free(s);
}
