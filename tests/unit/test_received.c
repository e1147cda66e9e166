/*
 * Unit tests for received.c: the Received: field is one well-formed,
 * folded header field whatever the values hold.
 */
#include <string.h>

#include "received.h"
#include "unit.h"

static struct received_info sample(void)
{
    struct received_info ri = {
        .server = "pop.example.org",
        .server_ip = "192.0.2.7",
        .local = "box",
        .tls = 1,
        .account = "work",
        .user = "alice",
        .uidl = "UID42",
        .when = 1700000000,
    };
    return ri;
}

TEST(received_names_everything)
{
    char buf[RECEIVED_MAX];
    struct received_info ri = sample();
    size_t n = received_format(buf, sizeof buf, &ri);

    CHECK(n == strlen(buf));
    CHECK(!strncmp(buf, "Received: from pop.example.org (pop.example.org [192.0.2.7])\n", 61));
    CHECK(strstr(buf, "\tby box with POP3S (popfetch "));
    CHECK(strstr(buf, "(account work, user alice, uidl UID42);\n"));
    CHECK(strstr(buf, " 2023 "));
    CHECK(buf[n - 1] == '\n');
    ri.tls = 0;
    received_format(buf, sizeof buf, &ri);
    CHECK(strstr(buf, " with POP3 (popfetch "));
}

/* Every line after the first is a continuation; no control bytes. */
static int well_formed(const char *s)
{
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n') {
            if (p[1] && p[1] != '\t') return 0;
        } else if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return 0;
    }
    return 1;
}

TEST(received_hostile_values_stay_inside)
{
    char buf[RECEIVED_MAX], big[5000];
    struct received_info ri = sample();

    ri.server = "evil\r\nBcc: x@y";
    ri.account = "a) (b\\";
    ri.uidl = "u\nX-Injected: 1";
    ri.user = "\x01\xff";
    received_format(buf, sizeof buf, &ri);
    CHECK(well_formed(buf));
    CHECK(!strstr(buf, "\nBcc"));
    CHECK(!strstr(buf, "\nX-Injected"));
    CHECK(strstr(buf, "account a\\) \\(b\\\\,"));
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ri.server = ri.account = ri.user = ri.uidl = ri.local = big;
    CHECK(received_format(buf, sizeof buf, &ri) < sizeof buf);
    CHECK(well_formed(buf));
    CHECK(strstr(buf, "\n\t") && buf[strlen(buf) - 1] == '\n');
    ri = sample();
    ri.uidl = NULL;
    ri.server_ip = "";
    received_format(buf, sizeof buf, &ri);
    CHECK(strstr(buf, "[unknown]"));
    CHECK(strstr(buf, "uidl none"));
}
