/* Unit tests for the LMTP/SMTP pieces: reply lines, targets, the envelope
 * sender's completion, and the config keys that feed them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>

#include "conf.h"
#include "esmtp.h"
#include "forward.h"
#include "unit.h"

TEST(esmtp_reply_lines)
{
    const char *text;
    int more;

    CHECK(esmtp_parse_line("250-PIPELINING", 14, &more, &text) == 250);
    CHECK(more == 1 && !strcmp(text, "PIPELINING"));
    CHECK(esmtp_parse_line("452 4.2.2 full", 14, &more, &text) == 452);
    CHECK(more == 0 && !strcmp(text, "4.2.2 full"));
    CHECK(esmtp_parse_line("250", 3, &more, &text) == 250 && more == 0 && !*text);
    CHECK(esmtp_parse_line("199 x", 5, &more, &text) == -1);
    CHECK(esmtp_parse_line("600 x", 5, &more, &text) == -1);
    CHECK(esmtp_parse_line("25", 2, &more, &text) == -1);
    CHECK(esmtp_parse_line("2500", 4, &more, &text) == -1);
    CHECK(esmtp_parse_line("25a ok", 6, &more, &text) == -1);
    CHECK(esmtp_parse_line("+OK", 3, &more, &text) == -1);
}

TEST(esmtp_targets)
{
    struct esmtp s;
    struct err e;

    CHECK(esmtp_init(&s, 1, "/run/dovecot/lmtp", NULL, 1000, &e) == 0 && s.is_unix);
    CHECK(esmtp_init(&s, 1, "127.0.0.1:24", NULL, 1000, &e) == 0 && !s.is_unix && s.port == 24);
    CHECK(!strcmp(s.target, "127.0.0.1"));
    CHECK(esmtp_init(&s, 1, "[::1]:2424", NULL, 1000, &e) == 0 && s.port == 2424);
    CHECK(!strcmp(s.target, "::1"));
    CHECK(esmtp_init(&s, 0, "mail.example.org", NULL, 1000, &e) == 0 && s.port == 25);
    CHECK(esmtp_init(&s, 0, "mail.example.org:587", NULL, 1000, &e) == 0 && s.port == 587);
    CHECK(!strcmp(s.helo, "localhost"));
    CHECK(esmtp_init(&s, 1, "lmtphost", NULL, 1000, &e) == -1 && e.kind == ERR_USAGE);
    CHECK(esmtp_init(&s, 1, "h:0", NULL, 1000, &e) == -1);
    CHECK(esmtp_init(&s, 0, "h:65536", NULL, 1000, &e) == -1);
    CHECK(esmtp_init(&s, 0, "::1", NULL, 1000, &e) == -1);
    CHECK(esmtp_init(&s, 0, "[::1", NULL, 1000, &e) == -1);
    CHECK(esmtp_init(&s, 0, "a b:25", NULL, 1000, &e) == -1);
    CHECK(esmtp_init(&s, 0, ":25", NULL, 1000, &e) == -1);
}

TEST(forward_sender_completion)
{
    char b[400];

    CHECK(forward_complete_sender("a@b.example", 11, "pop.example", "u", b, sizeof b) == 11);
    CHECK(!strcmp(b, "a@b.example"));
    CHECK(forward_complete_sender("", 0, "pop.example", "u", b, sizeof b) == 0 && !b[0]);
    CHECK(forward_complete_sender("joe", 3, "pop.example", "u", b, sizeof b) > 0);
    CHECK(!strcmp(b, "joe@pop.example"));
    CHECK(forward_complete_sender("", -1, "pop.example", "u", b, sizeof b) > 0);
    CHECK(!strcmp(b, "u@pop.example"));
    CHECK(forward_complete_sender("joe", 3, "192.0.2.1", "u", b, sizeof b) > 0);
    CHECK(!strcmp(b, "joe@[192.0.2.1]"));
    CHECK(forward_complete_sender("joe", 3, "2001:db8::1", "u", b, sizeof b) > 0);
    CHECK(!strcmp(b, "joe@[IPv6:2001:db8::1]"));
    CHECK(forward_complete_sender("joe", 3, "pop.example", "u", b, 8) == -1);
}

static int load(const char *text, struct config *cfg, struct err *e)
{
    memset(cfg, 0, sizeof *cfg);
    err_clear(e);
    return conf_parse("test.rc", text, strlen(text), 1, cfg, e);
}

TEST(conf_forwarding_keys)
{
    struct config cfg;
    struct err e;
    const struct account *a;

    CHECK(load("account t\nhost h\nuser u\ndelivery lmtp /run/lmtp\nrecipient bob "
               "carol@example.org\nsmtp_helo me.example\nsmtp_sender <>\n",
               &cfg, &e) == 0);
    a = &cfg.accounts[0];
    CHECK(a->delivery.kind == DELIVERY_LMTP && !strcmp(a->delivery.arg, "/run/lmtp"));
    CHECK(!strcmp(a->recipients, "bob carol@example.org"));
    CHECK(!strcmp(a->smtp_helo, "me.example") && !strcmp(a->smtp_sender, "<>"));
    conf_free(&cfg);

    CHECK(load("account t\nhost h\nuser u\ndelivery smtp mail.example:2525\n", &cfg, &e) == 0);
    CHECK(cfg.accounts[0].delivery.kind == DELIVERY_SMTP && !cfg.accounts[0].recipients);
    CHECK(cfg.accounts[0].smtp_tls == ESMTP_TLS_OFF);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m:587\nsmtp_tls starttls\n", &cfg, &e) ==
          0);
    CHECK(cfg.accounts[0].smtp_tls == ESMTP_TLS_STARTTLS);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m:465\nsmtp_tls implicit\n", &cfg, &e) ==
          0);
    CHECK(cfg.accounts[0].smtp_tls == ESMTP_TLS_IMPLICIT);
    CHECK(cfg.accounts[0].smtp_rejected.mode == REJECTED_KEEP);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m\nsmtp_rejected quarantine /q\n", &cfg,
               &e) == 0);
    CHECK(cfg.accounts[0].smtp_rejected.mode == REJECTED_QUARANTINE);
    CHECK(!strcmp(cfg.accounts[0].smtp_rejected.dir, "/q"));
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m\nsmtp_rejected delete\n", &cfg, &e) ==
          0);
    CHECK(cfg.accounts[0].smtp_rejected.mode == REJECTED_DELETE);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m\nsmtp_rejected quarantine\n", &cfg,
               &e) == -1);
    CHECK(strstr(e.msg, "keep, delete or quarantine DIR"));
    conf_free(&cfg);

    CHECK(load("account t\nhost h\nuser u\ndelivery lmtp relative/sock\n", &cfg, &e) == -1);
    CHECK(strstr(e.msg, "test.rc:4") && strstr(e.msg, "bad LMTP target"));
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery maildir /m\nrecipient <bob>\n", &cfg, &e) ==
          -1);
    CHECK(strstr(e.msg, "bad address `<bob>` for `recipient`"));
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery maildir /m\nsmtp_helo <>\n", &cfg, &e) == -1);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery maildir /m\nrecipient\n", &cfg, &e) == -1);
    conf_free(&cfg);
}

/* smtp_user, smtp_password / smtp_passwordeval, smtp_auth: no secret key
 * or smtp_auth without smtp_user, for `delivery smtp` only; the file must be
 * private. smtp_user alone is fine: ~/.netrc or the terminal may give the
 * password (secret_ask). */
TEST(conf_smtp_auth_keys)
{
    static const struct {
        const char *extra, *why;
    } bad[] = {
        {"delivery smtp m\nsmtp_password p\n", "but no `smtp_user`"},
        {"delivery smtp m\nsmtp_auth plain\n", "but no `smtp_user`"},
        {"delivery smtp m\nsmtp_user u\nsmtp_password p\nsmtp_passwordeval \"cat f\"\n",
         "keep one"},
        {"delivery lmtp /s\nsmtp_user u\nsmtp_password p\n", "only `delivery smtp` uses"},
        {"delivery smtp m\nsmtp_user u\nsmtp_password p\nsmtp_auth apop\n", "scram-sha-256"},
    };
    static const char good[] = "account t\nhost h\nuser u\ndelivery smtp m:587\nsmtp_user s@x\n"
                               "smtp_password pw\nsmtp_auth scram-sha-1\n";
    struct config cfg;
    struct err e;
    char text[512];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "account t\nhost h\nuser u\n%s", bad[i].extra);
        CHECK(load(text, &cfg, &e) == -1);
        CHECK(strstr(e.msg, bad[i].why) != NULL);
        conf_free(&cfg);
    }
    CHECK(load(good, &cfg, &e) == 0);
    CHECK(!strcmp(cfg.accounts[0].smtp_user, "s@x") &&
          !strcmp(cfg.accounts[0].smtp_password, "pw"));
    CHECK(cfg.accounts[0].smtp_auth == SMTP_AUTH_SCRAM_SHA_1);
    conf_free(&cfg);
    memset(&cfg, 0, sizeof cfg);
    CHECK(conf_parse("pub.rc", good, strlen(good), 0, &cfg, &e) < 0);
    CHECK(e.kind == ERR_CONFIG_PERM);
    conf_free(&cfg);
    CHECK(load("account t\nhost h\nuser u\ndelivery smtp m\nsmtp_user u\n", &cfg, &e) == 0);
    CHECK(!strcmp(cfg.accounts[0].smtp_user, "u") && !cfg.accounts[0].smtp_password &&
          !cfg.accounts[0].smtp_passwordeval);
    conf_free(&cfg);
}

/* The "this machine" half of the SMTP secret rule. */
TEST(esmtp_loopback_peers)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    struct sockaddr_un un = {.sun_family = AF_UNIX};

    CHECK(esmtp_loopback((struct sockaddr *)&un));
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    CHECK(esmtp_loopback((struct sockaddr *)&in));
    inet_pton(AF_INET, "127.0.0.2", &in.sin_addr);
    CHECK(!esmtp_loopback((struct sockaddr *)&in));
    inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
    CHECK(!esmtp_loopback((struct sockaddr *)&in));
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    CHECK(esmtp_loopback((struct sockaddr *)&in6));
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
    CHECK(esmtp_loopback((struct sockaddr *)&in6));
    inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
    CHECK(!esmtp_loopback((struct sockaddr *)&in6));
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    CHECK(!esmtp_loopback((struct sockaddr *)&in6));
}
