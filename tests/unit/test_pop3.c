/* Unit tests for POP3 reply, CAPA and listing parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pop3.h"
#include "unit.h"

static struct pop3_reply parse(const char *s, int *rc)
{
    struct pop3_reply r;

    *rc = pop3_parse_reply(s, strlen(s), &r);
    return r;
}

TEST(reply_ok_err_and_continuation)
{
    int rc;
    struct pop3_reply r = parse("+OK Dovecot ready.", &rc);

    CHECK(rc == 0 && r.status == POP3_OK);
    CHECK_STR(r.text, "Dovecot ready.");
    r = parse("+OK", &rc);
    CHECK(rc == 0 && r.status == POP3_OK && r.text[0] == '\0');
    r = parse("-ERR no such message", &rc);
    CHECK(rc == 0 && r.status == POP3_ERR);
    r = parse("+ ", &rc);
    CHECK(rc == 0 && r.status == POP3_CONT);
    r = parse("+", &rc);
    CHECK(rc == 0 && r.status == POP3_CONT);
    r = parse("+ cmVhbG0=", &rc);
    CHECK(rc == 0 && r.status == POP3_CONT);
    CHECK_STR(r.text, "cmVhbG0=");
}

TEST(reply_garbage_is_rejected)
{
    int rc;

    parse("", &rc);
    CHECK(rc == -1);
    parse("OK fine", &rc);
    CHECK(rc == -1);
    parse("+OKAY", &rc);
    CHECK(rc == -1);
    parse("-ERRor", &rc);
    CHECK(rc == -1);
    parse("* OK IMAP4rev1", &rc);
    CHECK(rc == -1);
}

TEST(reply_response_codes_are_hierarchical_and_case_insensitive)
{
    int rc;
    struct pop3_reply r = parse("-ERR [SYS/TEMP] try later", &rc);

    CHECK(rc == 0);
    CHECK_STR(r.code, "SYS/TEMP");
    CHECK_STR(r.text, "try later");
    CHECK(pop3_code_is(&r, "SYS"));
    CHECK(pop3_code_is(&r, "SYS/TEMP"));
    CHECK(!pop3_code_is(&r, "SYS/PERM"));
    CHECK(!pop3_code_is(&r, "SY"));
    r = parse("-ERR [in-use] locked", &rc);
    CHECK(pop3_code_is(&r, "IN-USE"));
    r = parse("-ERR [AUTH/FOO/BAR] x", &rc);
    CHECK(pop3_code_is(&r, "AUTH"));
    r = parse("-ERR [not a code", &rc);
    CHECK(r.code[0] == '\0');
    CHECK_STR(r.text, "[not a code");
}

TEST(reply_text_control_bytes_are_neutralised)
{
    struct pop3_reply r;
    const char line[] = "-ERR bad\x1b[31m\x07";

    CHECK(pop3_parse_reply(line, sizeof line - 1, &r) == 0);
    CHECK(strchr(r.text, '\x1b') == NULL);
    CHECK(strchr(r.text, '\x07') == NULL);
}

static void capa_lines(struct pop3_capa *c, const char *const *lines)
{
    pop3_capa_reset(c);
    for (; *lines; lines++) pop3_capa_line(c, *lines, strlen(*lines));
}

TEST(capa_dovecot_listing)
{
    static const char *const lines[] = {
        "CAPA",       "TOP",        "UIDL",
        "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE",
        "STLS",       "USER",       "SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256",
        NULL};
    struct pop3_capa c;

    capa_lines(&c, lines);
    CHECK(c.top && c.uidl && c.resp_codes && c.pipelining && c.auth_resp_code && c.stls && c.user);
    CHECK(pop3_capa_has_sasl(&c, "SCRAM-SHA-256"));
    CHECK(pop3_capa_has_sasl(&c, "plain"));
    CHECK(!pop3_capa_has_sasl(&c, "SCRAM-SHA"));
    CHECK(!pop3_capa_has_sasl(&c, "XOAUTH2"));
    CHECK(c.expire == -1 && c.login_delay == -1);
}

TEST(capa_expire_login_delay_implementation)
{
    static const char *const lines[] = {"EXPIRE 31 USER", "LOGIN-DELAY 900",
                                        "IMPLEMENTATION Shlemazle-Plotz-v302", "stls", NULL};
    static const char *const never[] = {"EXPIRE NEVER", NULL};
    struct pop3_capa c;

    capa_lines(&c, lines);
    CHECK(c.expire == 31 && c.marked_user);
    CHECK(c.login_delay == 900);
    CHECK(c.stls);
    CHECK_STR(c.implementation, "Shlemazle-Plotz-v302");
    capa_lines(&c, never);
    CHECK(c.expire == -2);
}

TEST(capa_binary_and_overlong_lines_are_harmless)
{
    char big[5000];
    struct pop3_capa c;

    memset(big, 'A', sizeof big);
    memcpy(big, "SASL ", 5);
    pop3_capa_reset(&c);
    pop3_capa_line(&c, big, sizeof big);
    CHECK(strlen(c.sasl) < sizeof c.sasl);
    pop3_capa_line(&c, "\x01\x02\xff", 3);
    pop3_capa_line(&c, "EXPIRE 99999999999999999", 24);
    CHECK(c.expire == -1);
}

TEST(list_and_uidl_lines)
{
    unsigned long n;
    uint64_t size;
    const char *uid;
    size_t ul;

    CHECK(pop3_parse_list_line("1 120", 5, &n, &size) == 0 && n == 1 && size == 120);
    CHECK(pop3_parse_list_line("7 0", 3, &n, &size) == 0 && n == 7 && size == 0);
    CHECK(pop3_parse_list_line("0 12", 4, &n, &size) < 0);
    CHECK(pop3_parse_list_line("-1 12", 5, &n, &size) < 0);
    CHECK(pop3_parse_list_line("1 -12", 5, &n, &size) < 0);
    CHECK(pop3_parse_list_line("1 9223372036854775808", 21, &n, &size) < 0);
    CHECK(pop3_parse_list_line("99999999999 1", 13, &n, &size) < 0);
    CHECK(pop3_parse_list_line("1 12x", 5, &n, &size) < 0);
    CHECK(pop3_parse_list_line("1", 1, &n, &size) < 0);
    CHECK(pop3_parse_uidl_line("1 QhdPYR:00WBw1Ph7x7", 20, &n, &uid, &ul) == 0);
    CHECK(n == 1 && ul == 18 && !memcmp(uid, "QhdPYR:00WBw1Ph7x7", 18));
    CHECK(pop3_parse_uidl_line("2 ", 2, &n, &uid, &ul) < 0);
    CHECK(pop3_parse_uidl_line("2 a\x01z", 5, &n, &uid, &ul) < 0);
    CHECK(pop3_parse_uidl_line("2 a b", 5, &n, &uid, &ul) < 0);
}

TEST(uidl_length_bound)
{
    char line[400];
    unsigned long n;
    const char *uid;
    size_t ul;

    memset(line, 'u', sizeof line);
    memcpy(line, "3 ", 2);
    CHECK(pop3_parse_uidl_line(line, 2 + 255, &n, &uid, &ul) == 0 && ul == 255);
    CHECK(pop3_parse_uidl_line(line, 2 + 256, &n, &uid, &ul) < 0);
}

TEST(stat_reply)
{
    unsigned long n;
    uint64_t size;

    CHECK(pop3_parse_stat("2 320", 5, &n, &size) == 0 && n == 2 && size == 320);
    CHECK(pop3_parse_stat("0 0", 3, &n, &size) == 0 && n == 0);
    CHECK(pop3_parse_stat("x 0", 3, &n, &size) < 0);
    CHECK(pop3_parse_stat("18446744073709551616 0", 22, &n, &size) < 0);
    CHECK(pop3_parse_stat("3", 1, &n, &size) < 0);
}

static int count_bytes(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    (void)buf;
    (void)e;
    *(size_t *)ctx += len;
    return 0;
}

/* Found by fuzz_pop3_wire: the max_bytes bound was only checked while the
 * terminator had not arrived, so a body read whole with its "." passed. */
TEST(body_bound_holds_when_terminator_is_in_the_same_read)
{
    static const char wire[] = "0123456789012345678901234567890123456789\r\n"
                               "0123456789012345678901234567890123456789\r\n"
                               "0123456789012345678901234567890123456789\r\n"
                               ".\r\n";
    struct net_conn c;
    struct pop3 p;
    struct err werr, e;
    size_t got = 0;
    int sv[2];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[1], wire, sizeof wire - 1) == (ssize_t)(sizeof wire - 1));
    net_init(&c);
    c.fd = sv[0];
    c.rbuf = malloc(NET_RBUF_SIZE);
    c.timeout_ms = 2000;
    snprintf(c.host, sizeof c.host, "test");
    pop3_init(&p, &c);
    err_clear(&werr);
    CHECK(pop3_body(&p, count_bytes, &got, 16, &werr, &e) < 0);
    CHECK(e.kind == ERR_PROTOCOL);
    CHECK(got <= 16);
    net_close(&c);
    close(sv[1]);
}
