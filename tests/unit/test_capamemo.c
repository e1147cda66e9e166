/* Unit tests for the remembered capabilities (capamemo.c). */
#include <stdio.h>
#include <string.h>

#include "capamemo.h"
#include "unit.h"

static const char *good = "popfetch capa 1\n"
                          "server mail.example.org 995 implicit\n"
                          "cert AA:BB\n"
                          "greeting +OK ready. \n"
                          "capa TOP\n"
                          "capa PIPELINING\n"
                          "capa SASL PLAIN SCRAM-SHA-256\n";

TEST(capamemo_greeting_leaves_out_the_apop_timestamp)
{
    char g[128];

    capamemo_greeting(g, sizeof g, "+OK Dovecot ready. <1.2.3@vm>");
    CHECK_STR(g, "+OK Dovecot ready. ");
    capamemo_greeting(g, sizeof g, "+OK no stamp");
    CHECK_STR(g, "+OK no stamp");
    capamemo_greeting(g, sizeof g, "+OK <a> and <b@c> then");
    CHECK_STR(g, "+OK <a> and  then");
}

TEST(capamemo_parse_format_round_trip_and_apply)
{
    struct capamemo m, again;
    struct pop3_capa c;
    char buf[CAPAMEMO_FILE_MAX + 1];
    size_t n;

    CHECK(capamemo_parse(&m, good, strlen(good)) == 0);
    CHECK(m.have);
    CHECK_STR(m.server, "mail.example.org 995 implicit");
    CHECK(capamemo_matches(&m, "mail.example.org 995 implicit", "AA:BB", "+OK ready. <x@y>"));
    CHECK(!capamemo_matches(&m, "mail.example.org 995 implicit", "AA:BC", "+OK ready. <x@y>"));
    CHECK(!capamemo_matches(&m, "mail.example.org 110 starttls", "AA:BB", "+OK ready. <x@y>"));
    CHECK(!capamemo_matches(&m, "mail.example.org 995 implicit", "AA:BB", "+OK other"));
    CHECK(!capamemo_matches(&m, "mail.example.org 995 implicit", "", "+OK ready. "));
    n = capamemo_format(&m, buf, sizeof buf);
    CHECK_MEM(buf, n, good, strlen(good));
    CHECK(capamemo_parse(&again, buf, n) == 0);
    capamemo_apply(&m, &c);
    CHECK(c.known && c.top && c.pipelining && !c.uidl);
    CHECK(pop3_capa_has_sasl(&c, "SCRAM-SHA-256"));
}

TEST(capamemo_parse_refuses_damage)
{
    struct capamemo m;
    static const char *bad[] = {
        "",
        "popfetch capa 2\nserver a 1 implicit\ncert X\ncapa TOP\n",
        "popfetch capa 1\nserver a 1 implicit\ncert X\ncapa TOP",      /* no last \n */
        "popfetch capa 1\nserver a 1 implicit\ncapa TOP\n",            /* no cert */
        "popfetch capa 1\nserver a 1 implicit\ncert X\n",              /* no CAPA line */
        "popfetch capa 1\nserver a 1 implicit\ncert X\ncapa T\001P\n", /* a control byte */
        "popfetch capa 1\nserver a 1 implicit\ncert X\nnonsense 1\n",  /* unknown */
        "popfetch capa 1\nserver a 1 implicit\r\ncert X\ncapa TOP\n",  /* CR */
    };

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(capamemo_parse(&m, bad[i], strlen(bad[i])) == -1);
        CHECK(!m.have);
    }
}

TEST(capamemo_learning_stops_at_a_control_byte_or_too_much)
{
    struct capamemo m;
    char line[300];

    capamemo_begin(&m, "h 995 implicit", "AA", "+OK hi <t@h>");
    CHECK(m.have);
    CHECK_STR(m.greeting, "+OK hi ");
    capamemo_add(&m, "TOP", 3);
    CHECK(m.have);
    capamemo_add(&m, "U\033IDL", 5);
    CHECK(!m.have);
    capamemo_begin(&m, "h 995 implicit", "AA", "+OK");
    memset(line, 'X', sizeof line);
    for (int i = 0; i < 10; i++) capamemo_add(&m, line, sizeof line);
    CHECK(!m.have);
    capamemo_begin(&m, "h 995 implicit", "", "+OK"); /* no certificate: nothing to learn */
    CHECK(!m.have);
}
