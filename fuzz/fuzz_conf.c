/*
 * fuzz_conf — the config parser (src/conf.h): conf_parse over the whole
 * input (lexing, quotes and escapes, `defaults`, `account NAME : PARENTS`,
 * inheritance, value checking), then conf_find on every account; and the
 * value parsers conf_parse_duration, conf_parse_size and (through the
 * `tls_fingerprint` key and directly) tls_parse_fingerprint on the first
 * line.
 *
 * Input: config text (HOME is /home/fuzz for `~`). The first byte's low bit
 * says whether the file counts as private (may hold a password).
 *
 * Invariants (abort on violation):
 *  - success: every account has a valid name (letters, digits, ._@+-)
 *    that conf_find finds, a host, a user and a delivery (maildir, mbox or
 *    an MDA command that cmdsplit_argv accepts) with a non-empty value,
 *    EXTERNAL only with tls_cert_file; every enum, mbox_locking, the port
 *    (<= 65535), timeout, mda_timeout and passwordeval_timeout
 *    (1..86400), the TLS version, the keep setting and the fingerprint (64
 *    lower-case hex digits) is in range; a password only in a private file;
 *  - failure: ERR_USAGE or ERR_CONFIG_PERM, and the message starts with the
 *    file name (it names file:line);
 *  - conf_parse_size / conf_parse_duration accept exactly what an
 *    independent parser with 128-bit arithmetic accepts and agree on the
 *    value; in particular a size never wraps around 2^64;
 *  - tls_parse_fingerprint yields 64 lower-case hex digits.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "harness.h"
#include "cmdsplit.h"
#include "tls.h"

__extension__ typedef unsigned __int128 u128;

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._@+-", *s)) return 0;
    return 1;
}

static int hex64(const char *s)
{
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f')) return 0;
    return 1;
}

/* Reference for conf_parse_size: digits, optionally K/M/G (any case) and
 * then an optional B ("10MB"; a bare "100B" is refused, as conf.c does).
 * The value must fit 64 bits (a limit that wraps is a wrong limit). */
static int ref_size(const char *s, uint64_t *out)
{
    u128 v = 0, mult = 1;

    if (!isdigit((unsigned char)*s)) return -1;
    while (isdigit((unsigned char)*s)) {
        if (v > ((u128)1 << 50)) return -1; /* the parser's own bound on the digits */
        v = v * 10 + (u128)(*s++ - '0');
    }
    switch (toupper((unsigned char)*s)) {
    case 'K':
        mult = 1024, s++;
        break;
    case 'M':
        mult = 1024 * 1024, s++;
        break;
    case 'G':
        mult = 1024 * 1024 * 1024, s++;
        break;
    case '\0':
        break;
    default:
        return -1;
    }
    if (toupper((unsigned char)*s) == 'B') s++;
    if (*s) return -1;
    v *= mult;
    if (v > UINT64_MAX) return -2; /* does not fit */
    *out = (uint64_t)v;
    return 0;
}

/* Reference for conf_parse_duration: one or more NUMBER[wdhms] with a bare
 * number only last; each number below 10^9; the total at most 16 * 2^32. */
static int ref_duration(const char *s, unsigned long *out)
{
    u128 total = 0;
    int any = 0;

    while (*s) {
        u128 v = 0, mult = 1;
        if (!isdigit((unsigned char)*s)) return -1;
        while (isdigit((unsigned char)*s)) {
            if (v > 100000000UL) return -1;
            v = v * 10 + (u128)(*s++ - '0');
        }
        switch (*s) {
        case 'w':
            mult = 7 * 86400, s++;
            break;
        case 'd':
            mult = 86400, s++;
            break;
        case 'h':
            mult = 3600, s++;
            break;
        case 'm':
            mult = 60, s++;
            break;
        case 's':
            s++;
            break;
        case '\0':
            break;
        default:
            return -1;
        }
        total += v * mult;
        if (total > (u128)0xffffffffUL * 16) return -1;
        any = 1;
    }
    *out = (unsigned long)total;
    return any ? 0 : -1;
}

static void check_values(const char *s)
{
    uint64_t sz = 0, rsz = 0;
    unsigned long d = 0, rd = 0;
    char fp[65];
    int rc, ref;

    rc = conf_parse_size(s, &sz);
    ref = ref_size(s, &rsz);
    FUZZ_CHECK(ref != -2 || rc < 0); /* a size that does not fit must be refused */
    if (ref != -2) FUZZ_CHECK(rc == ref);
    if (rc == 0 && ref == 0) FUZZ_CHECK(sz == rsz);

    rc = conf_parse_duration(s, &d);
    ref = ref_duration(s, &rd);
    FUZZ_CHECK(rc == ref);
    if (rc == 0) FUZZ_CHECK(d == rd);

    if (tls_parse_fingerprint(s, fp) == 0) FUZZ_CHECK(hex64(fp));
}

static void check_account(struct config *cfg, struct account *a, int private_file)
{
    FUZZ_CHECK(a->name && valid_name(a->name));
    FUZZ_CHECK(conf_find(cfg, a->name) == a);
    FUZZ_CHECK(a->host && a->host[0] && a->user && a->user[0]);
    FUZZ_CHECK(a->delivery.kind == DELIVERY_MAILDIR || a->delivery.kind == DELIVERY_MBOX ||
               a->delivery.kind == DELIVERY_MDA);
    FUZZ_CHECK(a->delivery.arg && a->delivery.arg[0]);
    if (a->delivery.kind == DELIVERY_MDA) {
        char **argv;
        struct err e;
        FUZZ_CHECK(cmdsplit_argv(a->delivery.arg, NULL, &argv, &e) == 0 && argv[0]);
        cmdsplit_free(argv);
    }
    FUZZ_CHECK(a->mbox_locking >= 0 && a->mbox_locking <= 3);
    FUZZ_CHECK(a->mda_timeout >= 1 && a->mda_timeout <= 86400);
    FUZZ_CHECK(a->passwordeval_timeout >= 1 && a->passwordeval_timeout <= 86400);
    FUZZ_CHECK(a->received_header == 0 || a->received_header == 1);
    FUZZ_CHECK(a->tls >= TLS_IMPLICIT && a->tls <= TLS_OFF);
    FUZZ_CHECK(a->auth >= AUTH_AUTO && a->auth <= AUTH_EXTERNAL);
    FUZZ_CHECK(a->auth != AUTH_EXTERNAL || a->tls_cert_file);
    FUZZ_CHECK(a->port <= 65535);
    FUZZ_CHECK(conf_port(a) >= 1 && conf_port(a) <= 65535);
    FUZZ_CHECK(a->timeout >= 1 && a->timeout <= 86400);
    FUZZ_CHECK(a->tls_min_version == 12 || a->tls_min_version == 13);
    FUZZ_CHECK(a->tls_verify == 0 || a->tls_verify == 1);
    FUZZ_CHECK(a->allow_plaintext == 0 || a->allow_plaintext == 1);
    FUZZ_CHECK(a->fetch_all == 0 || a->fetch_all == 1);
    FUZZ_CHECK(a->keep.mode >= KEEP_OFF && a->keep.mode <= KEEP_FOR);
    FUZZ_CHECK(a->keep.mode != KEEP_FOR || a->keep.seconds > 0);
    FUZZ_CHECK(!a->tls_fingerprint || hex64(a->tls_fingerprint));
    FUZZ_CHECK(!a->password || private_file);
    FUZZ_CHECK(a->file && a->line >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    struct config cfg;
    struct err e;
    char *text, *first;
    const uint8_t *nl;
    size_t firstlen;
    int private_file, rc;

    if (!inited) {
        setenv("HOME", "/home/fuzz", 1);
        inited = 1;
    }
    if (size < 1) return 0;
    private_file = data[0] & 1;
    data++, size--;

    /* Exactly the file's bytes, no NUL after them. */
    text = malloc(size ? size : 1);
    if (!text) abort();
    if (size) memcpy(text, data, size);
    memset(&cfg, 0, sizeof cfg);
    err_clear(&e);
    rc = conf_parse("fuzz.conf", text, size, private_file, &cfg, &e);
    if (rc == 0) {
        for (size_t i = 0; i < cfg.naccounts; i++)
            check_account(&cfg, &cfg.accounts[i], private_file);
    } else {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(e.kind == ERR_USAGE || e.kind == ERR_CONFIG_PERM);
        FUZZ_CHECK(strncmp(e.msg, "fuzz.conf", 9) == 0);
    }
    conf_free(&cfg);
    free(text);

    nl = memchr(data, '\n', size);
    firstlen = nl ? (size_t)(nl - data) : size;
    first = fuzz_strndup(data, firstlen > 200 ? 200 : firstlen);
    check_values(first);
    free(first);
    return 0;
}
