/*
 * fmrc — the fetchmailrc converter's internal header: the types and
 * functions its files in src/migrate/ share. Nothing else includes it; the
 * converter's public API is fetchmailrc.h.
 *
 *   fetchmailrc.c  the entry points: input checks, parse then write, freeing
 *   fmrc_mem.c     the arena every string read lives in, the output buffer,
 *                  input text made safe to quote
 *   fmrc_lex.c     fetchmail's tokens (rcfile_l.l) and the token stream with
 *                  one token of lookahead; syntax errors naming name:line
 *   fmrc_parse.c   fetchmail's grammar (rcfile_y.y) into struct fm: entries,
 *                  users, and notes for what popfetch cannot carry
 *   fmrc_write.c   what the parser recorded into popfetch config text, one
 *                  account per user
 *
 * Contract between them:
 *   - One struct fm holds one conversion: the input (the caller's) and the
 *     lexer's place in it, what the parser recorded, and the writer's
 *     account names. Every string recorded is static text or lives in the
 *     arena until fmrc_arena_free; the arena and the output are wiped when
 *     freed (they hold passwords).
 *   - A function returning int returns 0, or -1 with ps->e set: ERR_USAGE
 *     naming name:line for input fetchmail would refuse too, ERR_INTERNAL
 *     for out of memory. Writing output never fails on the spot: struct
 *     fm_out records the first failure and ignores what follows, and the
 *     writer checks it once at the end.
 *   - The short constants (K_, P_, A_, T_, E_, LX_) are the converter's own.
 *   - Library code: never prints, never exits.
 */
#ifndef POPFETCH_FMRC_H
#define POPFETCH_FMRC_H

#include <stddef.h>

#include "err.h"
#include "fetchmailrc.h"

#define FM_NOTES_MAX 32  /* comments kept per entry, user or the `set` statements */
#define FM_SHOW_MAX  100 /* bytes of input quoted in one comment */
#define FM_NONE      ((size_t)-1)

/* Why popfetch cannot carry multidrop settings (a note, and the writer's
 * comment on a multidrop user). */
#define FM_WHY_MULTIDROP                                                                           \
    "multidrop address matching: popfetch delivers all of an account's mail to one place; sort "   \
    "it in your MDA (procmail or maildrop rules on Delivered-To or X-Original-To), or ask for "    \
    "one mailbox per user"

/* ---- tokens ------------------------------------------------------------- */

/* fetchmail's keywords (a T_KW token's kw), and the values of `proto` and
 * `auth` (its val). */
enum fm_kw {
    K_NONE,
    K_NOISE,
    K_SET,
    K_DEFAULTS,
    K_POLL,
    K_SKIP,
    /* `set` statements */
    K_LOGFILE,
    K_IDFILE,
    K_PIDFILE,
    K_DAEMON,
    K_SYSLOG,
    K_INVISIBLE,
    K_SHOWDOTS,
    K_POSTMASTER,
    K_BOUNCEMAIL,
    K_SPAMBOUNCE,
    K_SOFTBOUNCE,
    /* server options */
    K_VIA,
    K_AKA,
    K_LOCALDOMAINS,
    K_PROTOCOL,
    K_SERVICE,
    K_PORT,
    K_INTERVAL,
    K_AUTH,
    K_TIMEOUT,
    K_IDLETIMEOUT,
    K_ENVELOPE,
    K_QVIRTUAL,
    K_PRINCIPAL,
    K_ESMTPNAME,
    K_ESMTPPASSWORD,
    K_BADHEADER,
    K_INTERFACE,
    K_MONITOR,
    K_PLUGIN,
    K_PLUGOUT,
    K_DNS,
    K_CHECKALIAS,
    K_UIDL,
    K_TRACEPOLLS,
    /* values of options */
    K_PROTO,
    K_AUTHTYPE,
    K_ACCEPT,
    K_REJECT,
    /* user descriptions and options */
    K_USER,
    K_PASSWORD,
    K_PASSWORDFILE,
    K_PASSWORDFD,
    K_IS,
    K_TO,
    K_HERE,
    K_THERE,
    K_NO,
    K_FOLDER,
    K_SMTPHOST,
    K_FETCHDOMAINS,
    K_SMTPADDRESS,
    K_SMTPNAME,
    K_ANTISPAM,
    K_MDA,
    K_BSMTP,
    K_LMTP,
    K_PRECONNECT,
    K_POSTCONNECT,
    K_KEEP,
    K_FLUSH,
    K_LIMITFLUSH,
    K_FETCHALL,
    K_REWRITE,
    K_FORCECR,
    K_STRIPCR,
    K_PASS8BITS,
    K_DROPSTATUS,
    K_DROPDELIVERED,
    K_MIMEDECODE,
    K_IDLE,
    K_FORCEIDLE,
    K_SSL,
    K_SSLKEY,
    K_SSLCERT,
    K_SSLPROTO,
    K_SSLCERTCK,
    K_SSLCERTFILE,
    K_SSLCERTPATH,
    K_SSLCOMMONNAME,
    K_SSLFINGERPRINT,
    K_LIMIT,
    K_WARNINGS,
    K_FETCHLIMIT,
    K_FETCHSIZELIMIT,
    K_FASTUIDL,
    K_BATCHLIMIT,
    K_EXPUNGE,
    K_PROPERTIES,
};

enum fm_proto {
    P_UNSET,
    P_AUTO,
    P_POP2,
    P_POP3,
    P_IMAP,
    P_APOP,
    P_RPOP,
    P_KPOP,
    P_SDPS,
    P_ETRN,
    P_ODMR
};

enum fm_authtype {
    A_UNSET,
    A_ANY,
    A_PASSWORD,
    A_GSSAPI,
    A_KERBEROS,
    A_SSH,
    A_EXTERNAL,
    A_OTP,
    A_CRAM_MD5,
    A_MSN,
    A_NTLM,
    A_OAUTHBEARER, /* fetchmail 7 */
    A_XOAUTH2,
};

enum fm_tok_kind { T_EOF, T_STRING, T_NUMBER, T_MAP, T_KW };
enum fm_lex_state { LX_INITIAL, LX_NAME, LX_AUTH };

struct fm_tok {
    enum fm_tok_kind kind;
    int kw, val;      /* T_KW: K_* and the proto or auth type */
    const char *text; /* T_STRING, T_NUMBER: the value; T_KW: the keyword */
    long long num;    /* T_NUMBER, clamped to +-10^10 */
    int line;
};

/* ---- what the parser records -------------------------------------------- */

struct fm_note {
    int line;
    const char *what; /* the option as written (arena) */
    const char *why;  /* static text */
};

struct fm_notes {
    struct fm_note v[FM_NOTES_MAX];
    size_t n;
    unsigned dropped;
};

struct fm_num {
    int set;
    long long v;
};

struct fm_user {
    int line;
    const char *remote;   /* NULL: not given */
    size_t nlocal;        /* local names given with is/to/here */
    const char *local;    /* the first of them */
    const char *first_id; /* its server-side name (NAME of NAME=LOCAL): the default remote */
    int wildcard, mapped;
    const char *password, *mda;
    const char *passwordfile;           /* fetchmail 7: the password (or OAuth2 token) in a file */
    const char *forward;                /* how fetchmail forwarded (smtphost, lmtp, bsmtp...) */
    const char *smtphost;               /* the first smtphost value (host, host/port, /socket) */
    const char *smtpaddress, *smtpname; /* what fetchmail put in RCPT TO */
    int lmtp;                           /* smtphost speaks LMTP */
    int ssl, sslcertck, keep, fetchall; /* -1 not given */
    const char *sslproto, *sslcertfile, *sslcert, *sslkey, *sslfingerprint;
    struct fm_num limit, fetchlimit;
    struct fm_notes *notes;
};

enum fm_entry_kind { E_POLL, E_SKIP, E_DEFAULTS };

struct fm_entry {
    int line;
    enum fm_entry_kind kind;
    const char *name, *via, *service;
    const char *esmtpname, *esmtppassword; /* SMTP AUTH to the smtphost */
    int proto, auth;
    const char *proto_text, *auth_text;
    struct fm_num timeout;
    struct fm_notes *notes;
    size_t first_user, nusers; /* into fm.users */
    size_t defaults;           /* the `defaults` entry before this one, or FM_NONE */
};

/* ---- one conversion ----------------------------------------------------- */

struct fm_chunk; /* one block of the arena (fmrc_mem.c) */

struct fm {
    const char *name;
    struct err *e;
    struct fm_chunk *arena;
    /* lexer */
    const char *p, *end;
    int line;
    enum fm_lex_state state;
    int pending;         /* index into fmrc_lex.c's words[] after a folded `no`, or -1 */
    struct fm_tok ahead; /* the token fmrc_peek() saw */
    int has_ahead;
    int last_line; /* of the last token read that was not the end */
    /* parser */
    struct fm_entry *entries;
    size_t nentries, entries_cap;
    struct fm_user *users;
    size_t nusers, users_cap;
    struct fm_notes global;
    size_t defaults;
    /* writer */
    char login[64];
    const char **names; /* account names given so far */
    size_t nnames;
};

/* The output: grown by copying so that no stale copy of a password is left
 * in freed memory; capped at FETCHMAILRC_MAX_OUT. */
struct fm_out {
    char *p;
    size_t len, cap;
    int failed; /* 1 out of memory, 2 too big */
};

/* ---- fmrc_mem.c --------------------------------------------------------- */

/* n bytes from the arena at *head; with align set, aligned for any struct.
 * NULL when out of memory. */
char *fmrc_arena_alloc(struct fm_chunk **head, size_t n, int align);

/* Wipe and free every block; NULL is fine. */
void fmrc_arena_free(struct fm_chunk *c);

/* A NUL-terminated copy of n bytes of s in ps's arena; NULL when out of
 * memory (ps->e is not set: see fmrc_oom). */
char *fmrc_strndup(struct fm *ps, const char *s, size_t n);

/* Append n bytes (or a string) to o; after a failure (o->failed) nothing. */
void fmrc_out_add(struct fm_out *o, const char *s, size_t n);
void fmrc_out_str(struct fm_out *o, const char *s);

/* Wipe and free the output; o is left empty. */
void fmrc_out_release(struct fm_out *o);

/* Set ERR_INTERNAL "out of memory" in ps->e; returns -1. */
int fmrc_oom(struct fm *ps);

/* s quoted into dst (max bytes): control and 8-bit bytes become '?', cut
 * short with an ellipsis. Safe in a comment line and in a message. */
void fmrc_show(char *dst, size_t max, const char *s);

/* ---- fmrc_lex.c --------------------------------------------------------- */

/* A syntax error at `line` of ps's file: ERR_USAGE "NAME:LINE: message",
 * with a hint to fetchmail(1). Returns -1. */
int fmrc_perr(struct fm *ps, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The next token: left in the stream (*t points into ps until the next
 * call) or taken from it. At the end of the input, T_EOF every time. Noise
 * words (with, and, has, wants, options), , ; : and comments never come
 * out; `noKEYWORD` comes out as `no` then KEYWORD. */
int fmrc_peek(struct fm *ps, const struct fm_tok **t);
int fmrc_next(struct fm *ps, struct fm_tok *t);

/* A string or a number: what may be a value. */
int fmrc_is_value(const struct fm_tok *t);

/* "expected WANTED, found ..." at t's line (at the end: the last token's). */
int fmrc_unexpected(struct fm *ps, const struct fm_tok *t, const char *wanted);

/* The next token as the value of option opt: a string (a number counts as
 * one), or a number (a string of digits counts as one). Else an error
 * naming opt. */
int fmrc_expect_value(struct fm *ps, const struct fm_tok *opt, struct fm_tok *t);
int fmrc_expect_number(struct fm *ps, const struct fm_tok *opt, struct fm_tok *t);

/* ---- fmrc_parse.c ------------------------------------------------------- */

/* The whole file, from ps's token stream into ps->entries, ps->users and
 * ps->global (notes from `set` statements). */
int fmrc_parse_file(struct fm *ps);

/* ---- fmrc_write.c ------------------------------------------------------- */

/* Everything ps recorded, as popfetch config text appended to o (which
 * then always loads with conf_parse()). Fills ps->login and ps->names.
 * ERR_USAGE when the text would exceed FETCHMAILRC_MAX_OUT. */
int fmrc_write_config(struct fm *ps, struct fm_out *o);

#endif
