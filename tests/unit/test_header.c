/* Unit tests for header.c: finding a field in bytes fed in pieces of any
 * size, the scan bound, the first address of a value, the sender rules (mbox,
 * MDA, the LMTP/SMTP envelope) and 8-bit detection,
 * on messages held in memory (no spool). */
#include <stdlib.h>
#include <sys/types.h>

#include "header.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

/* A message in memory as header_sender reads one: header_find over all of
 * it, in pieces of `chunk` bytes. */
struct mem_msg {
    const unsigned char *p;
    size_t len, chunk;
};

static ssize_t mem_field(void *ctx, const char *name, char *buf, size_t len)
{
    const struct mem_msg *m = ctx;
    struct header_find h;
    size_t off = 0;

    header_find_init(&h, name, buf, len);
    while (off < m->len) {
        size_t n = m->len - off < m->chunk ? m->len - off : m->chunk;
        if (header_find_feed(&h, m->p + off, n)) break;
        off += n;
    }
    return header_find_end(&h);
}

static ssize_t find_in(const char *msg, size_t len, size_t chunk, const char *name, char *buf,
                       size_t blen)
{
    struct mem_msg m = {(const unsigned char *)msg, len, chunk};

    return mem_field(&m, name, buf, blen);
}

static size_t sender_of(const char *msg, enum header_sender_use use, char *buf, size_t len)
{
    struct mem_msg m = {(const unsigned char *)msg, strlen(msg), 7};

    return header_sender(use, mem_field, &m, buf, len);
}

/* ---- finding a field ------------------------------------------------------ */

TEST(header_find_is_the_same_in_any_pieces)
{
    static const char msg[] = "Received: a\n\tb\nreturn-path  : <x@y>\nSubject: one\n two\n\t"
                              "three\nSubject: second\nX: \n\nFrom: body@example.org\n";
    char v[64];

    for (size_t chunk = 1; chunk <= sizeof msg; chunk++) {
        CHECK(find_in(msg, sizeof msg - 1, chunk, "Return-Path", v, sizeof v) == 6);
        CHECK_STR(v, " <x@y>");
        CHECK(find_in(msg, sizeof msg - 1, chunk, "subject", v, sizeof v) == 14);
        CHECK_STR(v, " one two\tthree");
        CHECK(find_in(msg, sizeof msg - 1, chunk, "X", v, sizeof v) == 1);
        CHECK(find_in(msg, sizeof msg - 1, chunk, "From", v, sizeof v) == -1);
        CHECK(find_in(msg, sizeof msg - 1, chunk, "Received", v, 4) == 4);
        CHECK_STR(v, " a\t");
        CHECK(find_in(msg, sizeof msg - 1, chunk, "Subj", v, sizeof v) == -1);
        CHECK(find_in(msg, sizeof msg - 1, chunk, "Subject", v, 0) == 14);
    }
}

TEST(header_find_stops_at_the_scan_bound)
{
    size_t big = HEADER_SCAN_MAX + 4096, n;
    char *msg = malloc(big), v[32];
    struct header_find h;

    CHECK(msg);
    /* a field that starts just before the bound is cut there */
    memset(msg, 'x', big);
    memcpy(msg, "X-Big: ", 7);
    msg[HEADER_SCAN_MAX - 20] = '\n';
    memcpy(msg + HEADER_SCAN_MAX - 19, "Late: ", 6);
    CHECK(find_in(msg, big, 65536, "Late", v, sizeof v) == 14);
    CHECK(find_in(msg, big, 65536, "X-Big", v, sizeof v) == (ssize_t)HEADER_SCAN_MAX - 26);
    /* one past the bound is never seen; feeding more changes nothing */
    msg[HEADER_SCAN_MAX - 20] = 'x';
    msg[HEADER_SCAN_MAX] = '\n';
    memcpy(msg + HEADER_SCAN_MAX + 1, "After: y\n\n", 10);
    header_find_init(&h, "After", v, sizeof v);
    CHECK(header_find_feed(&h, (unsigned char *)msg, big) == 1);
    CHECK(header_find_feed(&h, (unsigned char *)"After: z\n", 9) == 1);
    CHECK(header_find_end(&h) == -1);
    n = 0;
    header_find_init(&h, "After", v, sizeof v);
    while (!header_find_feed(&h, (unsigned char *)msg + n, 1)) n++;
    CHECK(n == HEADER_SCAN_MAX - 1);
    free(msg);
}

TEST(header_find_survives_garbage)
{
    char v[16];

    CHECK(find_in("From:\0<a@b>\0", 12, 3, "From", v, sizeof v) == 7);
    CHECK(v[0] == '\0' && v[6] == '\0');
    CHECK(find_in("", 0, 1, "From", v, sizeof v) == -1);
    CHECK(find_in("\n\n\n", 3, 1, "From", v, sizeof v) == -1);
    CHECK(find_in("From", 4, 1, "From", v, sizeof v) == -1);
    CHECK(find_in("From:", 5, 1, "From", v, sizeof v) == 0);
    CHECK_STR(v, "");
}

/* ---- addresses ------------------------------------------------------------ */

TEST(header_parse_address_cases)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {" <alice@example.org>", "alice@example.org"},
        {" alice@example.org (Alice)", "alice@example.org"},
        {" Alice <alice@example.org>", "alice@example.org"},
        {" \"Doe, John <x>\" <john@example.org>, other@example.org", "john@example.org"},
        {" a@example.org, b@example.org", "a@example.org"},
        {" <>", ""},
        {" <@relay.example,@r2.example:bob@example.org>", "bob@example.org"},
        {" (c) < a (c2) @ example.org >", "a@example.org"},
        {" undisclosed-recipients:;", ""},
        {" <\"$(touch /tmp/pwned)\"@evil.example>", "___touch_/tmp/pwned__@evil.example"},
        {" <`id`;rm -rf ~@x>", "_id__rm-rf_@x"},
        {" -oQ/tmp/x@evil", "_oQ/tmp/x@evil"},
        {" =?utf-8?q?J=C3=B6rg?= <jorg@example.org>", "jorg@example.org"},
    };
    char out[HEADER_SENDER_MAX + 1];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssize_t n = header_parse_address(cases[i].in, strlen(cases[i].in), out, sizeof out);
        CHECK(n == (ssize_t)strlen(cases[i].out));
        CHECK_STR(out, cases[i].out);
    }
    CHECK(header_parse_address(" <unclosed@x", 12, out, sizeof out) == -1);
    {
        char big[420];
        memset(big, 'a', sizeof big);
        big[0] = '<';
        memcpy(big + sizeof big - 3, "@x>", 3);
        CHECK(header_parse_address(big, sizeof big, out, sizeof out) == -1);
    }
    CHECK(header_parse_address("<a@b>", 5, out, 3) == -1);
}

/* ---- senders -------------------------------------------------------------- */

TEST(header_sender_for_mbox_and_mda)
{
    char v[HEADER_SENDER_MAX + 1];

    static const char both[] = "From: Bob <bob@example.org>\nReturn-Path: <rp@example.org>\n\n";
    CHECK(sender_of(both, HEADER_SENDER_MBOX, v, sizeof v) == 14);
    CHECK_STR(v, "rp@example.org");
    CHECK(sender_of(both, HEADER_SENDER_MDA, v, sizeof v) == 14);
    CHECK_STR(v, "rp@example.org");

    static const char from_only[] = "From: Bob <bob@example.org>\n\nReturn-Path: <no@x>\n";
    CHECK(sender_of(from_only, HEADER_SENDER_MBOX, v, sizeof v) == 13);
    CHECK_STR(v, "MAILER-DAEMON");
    CHECK(sender_of(from_only, HEADER_SENDER_MDA, v, sizeof v) == 15);
    CHECK_STR(v, "bob@example.org");

    static const char null_rp[] = "Return-Path: <>\nFrom: daemon@example.org\n\n";
    CHECK(sender_of(null_rp, HEADER_SENDER_MBOX, v, sizeof v) == 13);
    CHECK_STR(v, "MAILER-DAEMON");
    CHECK(sender_of(null_rp, HEADER_SENDER_MDA, v, sizeof v) == 0);
    CHECK_STR(v, "");

    /* an unusable Return-Path: the MDA falls back to From */
    static const char bad_rp[] = "Return-Path: <unclosed\nFrom: <f@example.org>\n\n";
    CHECK(sender_of(bad_rp, HEADER_SENDER_MDA, v, sizeof v) == 13);
    CHECK_STR(v, "f@example.org");
    CHECK(sender_of("Subject: x\n\n", HEADER_SENDER_MDA, v, sizeof v) == 0);
    CHECK_STR(v, "");
    CHECK(sender_of(both, HEADER_SENDER_MDA, v, 0) == 0);
}

static ssize_t envelope_of(const char *msg, char *buf, size_t len)
{
    struct mem_msg m = {(const unsigned char *)msg, strlen(msg), 5};

    return header_envelope_sender(mem_field, &m, buf, len);
}

TEST(header_envelope_sender_follows_fetchmail)
{
    static const struct {
        const char *msg;
        ssize_t n;
        const char *out;
    } cases[] = {
        /* Return-Path first, whatever else is there; <> is the null sender */
        {"From: f@x.org\nSender: s@x.org\nReturn-Path: <rp@x.org>\n\n", 8, "rp@x.org"},
        {"Return-Path: <>\nFrom: f@x.org\n\n", 0, ""},
        {"Return-Path: <rp1@x.org>\nReturn-Path: <rp2@x.org>\n\n", 9, "rp1@x.org"},
        /* then Resent-Sender, Sender, Resent-From, From, Reply-To */
        {"Reply-To: r@x.org\nFrom: f@x.org\nResent-From: rf@x.org\nSender: s@x.org\n"
         "Resent-Sender: rs@x.org\n\n",
         8, "rs@x.org"},
        {"Reply-To: r@x.org\nFrom: f@x.org\nResent-From: rf@x.org\nSender: s@x.org\n\n", 7,
         "s@x.org"},
        {"Reply-To: r@x.org\nFrom: f@x.org\nResent-From: rf@x.org\n\n", 8, "rf@x.org"},
        {"Reply-To: r@x.org\nFrom: Eve <f@x.org>\n\n", 7, "f@x.org"},
        {"Reply-To: r@x.org\n\n", 7, "r@x.org"},
        /* a Sender without '@' names an agent: skipped; From may be bare */
        {"Sender: zap\nFrom: f@x.org\n\n", 7, "f@x.org"},
        {"Resent-Sender: zap\nFrom: localuser\n\n", 9, "localuser"},
        /* an unusable Return-Path and a null From do not count */
        {"Return-Path: <unclosed\nFrom: <>\nReply-To: r@x.org\n\n", 7, "r@x.org"},
        /* fields after the header block and hostile bytes */
        {"Subject: x\n\nFrom: body@x.org\n", -1, ""},
        {"From: <`id`@x.org>\n\n", 10, "_id_@x.org"},
        {"", -1, ""},
    };
    char v[HEADER_SENDER_MAX + 1];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(envelope_of(cases[i].msg, v, sizeof v) == cases[i].n);
        CHECK_STR(v, cases[i].out);
    }
    CHECK(envelope_of("From: f@x.org\n\n", v, 0) == -1);
    CHECK(envelope_of("From: long@x.org\n\n", v, 5) == -1);
}

TEST(header_8bit_sees_any_high_byte)
{
    unsigned char b[300];

    memset(b, 'a', sizeof b);
    CHECK(header_8bit(b, sizeof b) == 0);
    CHECK(header_8bit(b, 0) == 0);
    CHECK(header_8bit("\0\t\r\n\x7f", 5) == 0);
    for (size_t i = 0; i < sizeof b; i += 37) {
        b[i] = 0x80;
        CHECK(header_8bit(b, sizeof b) == 1);
        CHECK(header_8bit(b, i) == 0);
        CHECK(header_8bit(b + i, 1) == 1);
        b[i] = 0xff;
        CHECK(header_8bit(b, i + 1) == 1);
        b[i] = 'a';
    }
}
