/* Unit tests for converting fetchmail rc files into popfetch config text:
 * every mapping, every "not carried" comment, fetchmail's lexer quirks,
 * syntax errors, hostile input, and the sample files in tests/fetchmailrc/,
 * each conversion loaded back with conf_parse(). */
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "fetchmailrc.h"
#include "unit.h"

#define RC_DIR "tests/fetchmailrc/"

/* Convert text (len bytes); the output, or NULL with *e set. */
static char *conv_n(const char *text, size_t len, struct err *e)
{
    char *out = NULL;

    setenv("FETCHMAILUSER", "tester", 1);
    memset(e, 0, sizeof *e);
    if (fetchmailrc_convert("rc", text, len, &out, e) < 0) return NULL;
    return out;
}

static char *conv(const char *text)
{
    struct err e;

    return conv_n(text, strlen(text), &e);
}

/* Convert and load: the output must always be a valid private config. */
static char *conv_load(const char *text, struct config *cfg)
{
    struct err e;
    char *out = conv(text);

    memset(cfg, 0, sizeof *cfg);
    if (!out) return NULL;
    if (conf_parse("out", out, strlen(out), 1, cfg, &e) < 0) {
        printf("  conf_parse: %s\n  --- output:\n%s", e.msg, out);
        fetchmailrc_free(out);
        return NULL;
    }
    return out;
}

/* The error a conversion fails with (ERR_NONE if it did not fail). */
static enum err_kind conv_err(const char *text, struct err *e)
{
    char *out = conv_n(text, strlen(text), e);

    if (!out) return e->kind;
    fetchmailrc_free(out);
    return ERR_NONE;
}

/* Is there a line equal to `line` in out? */
static int has_line(const char *out, const char *line)
{
    size_t n = strlen(line);

    for (const char *s = out; s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
        if (!strncmp(s, line, n) && (s[n] == '\n' || s[n] == '\0')) return 1;
    return 0;
}

/* Is `text` in a comment? Wrapped comments ("#   " continuation lines)
 * are joined back into one line first. */
static int has_comment(const char *out, const char *text)
{
    char *flat = malloc(strlen(out) + 1), *o = flat;
    int found;

    if (!flat) return 0;
    for (const char *s = out; *s;) {
        size_t n = strcspn(s, "\n");
        if (!strncmp(s, "#   ", 4) && o > flat) {
            o[-1] = ' ';
            memcpy(o, s + 4, n - 4);
            o += n - 4;
            *o++ = '\n';
        } else if (s[0] == '#') {
            memcpy(o, s, n);
            o += n;
            *o++ = '\n';
        }
        s += n + (s[n] == '\n');
    }
    *o = '\0';
    found = strstr(flat, text) != NULL;
    free(flat);
    return found;
}

/* ---- mappings ------------------------------------------------------------ */

TEST(fmrc_pop3s_keep_fetchall)
{
    struct config cfg;
    struct account *a;
    char *out = conv_load("poll pop.example.org proto pop3\n"
                          "  user 'alice@example.org' there with password 'pw pw' is alice here\n"
                          "  options ssl sslcertck keep fetchall\n",
                          &cfg);

    CHECK(out);
    CHECK(cfg.naccounts == 1);
    a = &cfg.accounts[0];
    CHECK_STR(a->name, "pop.example.org");
    CHECK_STR(a->host, "pop.example.org");
    CHECK_STR(a->user, "alice@example.org");
    CHECK_STR(a->password, "pw pw");
    CHECK(a->tls == TLS_IMPLICIT && a->tls_verify == 1);
    CHECK(conf_port(a) == 995);
    CHECK(a->keep.mode == KEEP_ON && a->fetch_all == 1);
    /* no smtphost, lmtp or mda: fetchmail's default, SMTP to the local MTA */
    CHECK(a->delivery.kind == DELIVERY_SMTP);
    CHECK_STR(a->delivery.arg, "localhost:25");
    CHECK_STR(a->recipients, "alice");
    CHECK(has_comment(out, "fetchmail's default delivery, SMTP to port 25 on localhost"));
    CHECK(has_comment(out, "passwordeval"));
    CHECK(has_comment(out, "chmod 600"));
    CHECK(has_comment(out, "--import-seen fetchmail:"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_via_port_service)
{
    struct config cfg;
    char *out = conv_load("poll label via pop.real.example port 1995 user u ssl\n"
                          "poll two service pop3s user u\n"
                          "poll three service 'pop3' user u ssl\n" /* bare, pop3 is a keyword */
                          "poll four service imaps user u\n"
                          "poll five port -3 user u\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 5);
    CHECK_STR(cfg.accounts[0].name, "label");
    CHECK_STR(cfg.accounts[0].host, "pop.real.example");
    CHECK(conf_port(&cfg.accounts[0]) == 1995);
    CHECK(cfg.accounts[1].port == 995);
    CHECK(cfg.accounts[2].port == 110);
    CHECK(cfg.accounts[3].port == 0);
    CHECK(has_comment(out, "`service imaps`: not carried"));
    CHECK(cfg.accounts[4].port == 0);
    CHECK(has_comment(out, "`service -3`: not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_tls_modes)
{
    struct config cfg;
    char *out = conv_load("poll plain user u\n"
                          "poll stls user u sslproto 'TLS1.2+'\n"
                          "poll clear user u sslproto ''\n"
                          "poll v13 user u sslproto tls1.3+\n"
                          "poll old user u ssl sslproto TLS1\n"
                          "poll both user u ssl sslproto ''\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 6);
    CHECK(cfg.accounts[0].tls == TLS_STARTTLS);
    CHECK(has_comment(out, "fetchmail 6.4+ uses STLS when the server offers it"));
    CHECK(cfg.accounts[1].tls == TLS_STARTTLS && cfg.accounts[1].tls_min_version == 12);
    CHECK(has_comment(out, "made STLS mandatory"));
    CHECK(cfg.accounts[2].tls == TLS_OFF && cfg.accounts[2].allow_plaintext == 0);
    CHECK(has_line(out, "# allow_plaintext on"));
    CHECK(cfg.accounts[3].tls == TLS_STARTTLS && cfg.accounts[3].tls_min_version == 13);
    CHECK(cfg.accounts[4].tls == TLS_IMPLICIT && cfg.accounts[4].tls_min_version == 12);
    CHECK(has_comment(out, "`sslproto TLS1`: not carried: popfetch speaks TLS 1.2 or newer"));
    CHECK(cfg.accounts[5].tls == TLS_IMPLICIT); /* fetchmail: ssl wins over '' */
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_certificates)
{
    struct config cfg;
    char *out = conv_load("poll a user u ssl no sslcertck sslcertfile /etc/ca.pem\n"
                          "  sslcert /k/c.pem sslkey /k/c.key\n"
                          "poll b user u ssl sslcertpath /etc/ssl/certs sslcommonname other\n"
                          "  sslcertfile rel/ca.pem\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 2);
    CHECK(cfg.accounts[0].tls_verify == 0);
    CHECK(has_comment(out, "`no sslcertck`: popfetch warns on every run"));
    CHECK_STR(cfg.accounts[0].tls_trust_file, "/etc/ca.pem");
    CHECK_STR(cfg.accounts[0].tls_cert_file, "/k/c.pem");
    CHECK_STR(cfg.accounts[0].tls_key_file, "/k/c.key");
    CHECK(cfg.accounts[1].tls_verify == 1);
    CHECK(has_comment(out, "`sslcertpath /etc/ssl/certs`: not carried"));
    CHECK(has_comment(out, "`sslcommonname other`: not carried"));
    CHECK(has_comment(out, "`sslcertfile rel/ca.pem`: fetchmail reads a relative"));
    CHECK_STR(cfg.accounts[1].tls_trust_file, "rel/ca.pem");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_fingerprints)
{
    struct config cfg;
    char *out = conv_load(
        "poll md5 user u ssl no sslcertck sslfingerprint "
        "'5E:9D:2B:8C:55:D1:3A:70:1B:AB:C9:4F:0E:2F:6D:81'\n"
        "poll sha user u ssl no sslcertck sslfingerprint "
        "'3B:1F:9E:5A:2C:0D:77:46:88:E1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:"
        "E5:F6:07'\n"
        "poll junk user u sslfingerprint nonsense\n",
        &cfg);

    CHECK(out && cfg.naccounts == 3);
    /* MD5 cannot be checked; and `no sslcertck` is then not carried either */
    CHECK(cfg.accounts[0].tls_fingerprint == NULL && cfg.accounts[0].tls_verify == 1);
    CHECK(has_comment(out, "MD5"));
    CHECK(has_comment(out, "-fingerprint -sha256"));
    CHECK(has_comment(out, "certificate is checked until tls_fingerprint is added"));
    CHECK_STR(cfg.accounts[1].tls_fingerprint,
              "3b1f9e5a2c0d774688e1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607");
    CHECK(has_comment(out, "trusts the pinned certificate"));
    CHECK(cfg.accounts[2].tls_fingerprint == NULL);
    CHECK(has_comment(out, "not a fingerprint popfetch understands"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_auth)
{
    struct config cfg;
    /* server names that are not keywords (`apop`, `any`, `ssh` are) */
    char *out = conv_load("poll h0 proto apop user u\n"
                          "poll h1 auth cram-md5 user u\n"
                          "poll h2 auth password user u\n"
                          "poll h3 auth any user u\n"
                          "poll h4 auth kerberos_v5 user u\n"
                          "poll h5 auth gssapi user u\n"
                          "poll h6 auth external user u ssl sslcert /c.pem\n"
                          "poll h7 auth external user u\n"
                          "poll h8 auth ssh user u\n"
                          "poll h9 proto APOP auth ntlm user u\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 10);
    CHECK(cfg.accounts[0].auth == AUTH_APOP);
    CHECK(cfg.accounts[1].auth == AUTH_CRAM_MD5);
    CHECK(cfg.accounts[2].auth == AUTH_AUTO && cfg.accounts[3].auth == AUTH_AUTO);
    CHECK(cfg.accounts[4].auth == AUTH_AUTO);
    CHECK(has_comment(out, "`auth kerberos_v5`: not carried: popfetch has no kerberos_v5"));
    CHECK(has_comment(out, "`auth gssapi`: not carried"));
    CHECK(cfg.accounts[6].auth == AUTH_EXTERNAL);
    CHECK(cfg.accounts[7].auth == AUTH_AUTO);
    CHECK(has_comment(out, "`auth external`: not carried: it needs a TLS client certificate"));
    CHECK(has_comment(out, "`auth ssh`: not carried"));
    CHECK(cfg.accounts[9].auth == AUTH_APOP);
    CHECK(has_comment(out, "`auth ntlm`: not carried: `proto apop` asks for APOP"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_limits_timeout)
{
    struct config cfg;
    char *out = conv_load("poll a timeout 120 user u limit 2000000 fetchlimit 50\n"
                          "poll b timeout 100000 user u limit 0 fetchlimit 0\n"
                          "poll c timeout 0 user u limit -5 fetchlimit 99999999999\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 3);
    CHECK(cfg.accounts[0].timeout == 120);
    CHECK(cfg.accounts[0].max_size == 2000000 && cfg.accounts[0].max_messages == 50);
    CHECK(cfg.accounts[1].timeout == 86400);
    CHECK(has_comment(out, "`timeout 100000`: popfetch waits at most 86400"));
    CHECK(cfg.accounts[1].max_size == 0 && cfg.accounts[1].max_messages == 0);
    CHECK(cfg.accounts[2].timeout == 60);
    CHECK(has_comment(out, "`timeout 0`: not carried"));
    CHECK(has_comment(out, "`limit -5`: not carried"));
    CHECK(has_comment(out, "`fetchlimit 99999999999`: not carried"));
    CHECK(cfg.accounts[2].max_size == 0 && cfg.accounts[2].max_messages == 0);
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_keep_nokeep)
{
    struct config cfg;
    char *out = conv_load("defaults keep fetchall\n"
                          "poll a user u\n"
                          "poll b user u nokeep no fetchall\n"
                          "poll c user u no keep\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 3);
    CHECK(cfg.accounts[0].keep.mode == KEEP_ON && cfg.accounts[0].fetch_all == 1);
    CHECK(cfg.accounts[1].keep.mode == KEEP_OFF && cfg.accounts[1].fetch_all == 0);
    CHECK(cfg.accounts[2].keep.mode == KEEP_OFF && cfg.accounts[2].fetch_all == 1);
    fetchmailrc_free(out);
    conf_free(&cfg);
}

/* The delivery argument of the one account of an rc file. */
static int mda_of(const char *rc, char *buf, size_t len, char **outp)
{
    struct config cfg;
    char *out = conv_load(rc, &cfg);

    *outp = out;
    if (!out || cfg.naccounts != 1 || cfg.accounts[0].delivery.kind != DELIVERY_MDA) {
        conf_free(&cfg);
        return -1;
    }
    snprintf(buf, len, "%s", cfg.accounts[0].delivery.arg);
    conf_free(&cfg);
    return 0;
}

TEST(fmrc_mda)
{
    char m[512], *out;

    CHECK(mda_of("poll h user u is bob here mda '/usr/bin/procmail -d %T'", m, sizeof m, &out) ==
          0);
    CHECK_STR(m, "/usr/bin/procmail -d bob");
    CHECK(has_comment(out, "%T is written out as bob"));
    fetchmailrc_free(out);
    /* no local name: popfetch's %T is the same user as fetchmail's */
    CHECK(mda_of("poll h user u mda \"/usr/bin/maildrop -d %T -f %F\"", m, sizeof m, &out) == 0);
    CHECK_STR(m, "/usr/bin/maildrop -d %T -f %F");
    fetchmailrc_free(out);
    /* the old %s spelling, and a percent sign fetchmail left alone */
    CHECK(mda_of("poll h user u mda 'deliver %s 100%'", m, sizeof m, &out) == 0);
    CHECK_STR(m, "deliver %T 100%%");
    fetchmailrc_free(out);
    /* a pipeline needs the shell fetchmail used */
    CHECK(mda_of("poll h user u is ann here mda \"spamc | procmail -d %T\"", m, sizeof m, &out) ==
          0);
    CHECK_STR(m, "/bin/sh -c 'spamc | procmail -d ann'");
    CHECK(has_comment(out, "wrapped in /bin/sh -c"));
    fetchmailrc_free(out);
    /* quotes survive both the wrapping and the config's own quoting */
    CHECK(mda_of("poll h user u mda \"cat >> '/tmp/a b' && echo \\\\ok\"", m, sizeof m, &out) == 0);
    CHECK_STR(m, "/bin/sh -c 'cat >> '\\''/tmp/a b'\\'' && echo \\ok'");
    fetchmailrc_free(out);
    CHECK(mda_of("poll h user u mda '~/bin/deliver'", m, sizeof m, &out) == 0);
    CHECK_STR(m, "/bin/sh -c '~/bin/deliver'");
    fetchmailrc_free(out);
    /* a line break (fetchmail's \n escape) cannot be carried */
    CHECK(mda_of("poll h user u mda 'a\\nb'", m, sizeof m, &out) == 0);
    CHECK_STR(m, "/usr/sbin/sendmail -i -- %T");
    CHECK(has_comment(out, "not carried: empty, too long, or holding control characters"));
    fetchmailrc_free(out);
}

TEST(fmrc_forwarding)
{
    struct config cfg;
    char *out = conv_load("poll a user u smtphost mail.example.org/2525\n"
                          "poll b user u lmtp smtphost /var/run/lmtp is bob here\n"
                          "poll c user u bsmtp /var/spool/batch\n"
                          "poll d user u is carl here smtphost relay smtpaddress example.net\n"
                          "poll e user u smtphost '2001:db8::1/25' smtpname x@example.org\n"
                          "poll f user u lmtp smtphost lmtp.example\n"
                          "poll g user u smtphost 'a b'\n",
                          &cfg);
    const struct account *ac;

    CHECK(out && cfg.naccounts == 7);
    ac = cfg.accounts;
    CHECK(ac[0].delivery.kind == DELIVERY_SMTP);
    CHECK_STR(ac[0].delivery.arg, "mail.example.org:2525");
    CHECK(ac[0].recipients == NULL); /* no local name: the login name */
    CHECK(has_comment(out, "No local name: the recipient is the login name"));
    CHECK(ac[1].delivery.kind == DELIVERY_LMTP);
    CHECK_STR(ac[1].delivery.arg, "/var/run/lmtp");
    CHECK_STR(ac[1].recipients, "bob");
    CHECK(ac[2].delivery.kind == DELIVERY_MDA);
    CHECK(has_comment(out, "forwarded this account's mail with a BSMTP batch file"));
    CHECK(ac[3].delivery.kind == DELIVERY_SMTP);
    CHECK_STR(ac[3].delivery.arg, "relay");
    CHECK_STR(ac[3].recipients, "carl@example.net");
    CHECK_STR(ac[4].delivery.arg, "[2001:db8::1]:25");
    CHECK_STR(ac[4].recipients, "x@example.org");
    CHECK(ac[5].delivery.kind == DELIVERY_LMTP);
    CHECK_STR(ac[5].delivery.arg, "lmtp.example:24");
    CHECK(has_comment(out, "fetchmail's LMTP needs a port: 24"));
    CHECK(ac[6].delivery.kind == DELIVERY_MDA);
    CHECK(has_comment(out, "`smtphost a b`: not carried"));
    CHECK(has_comment(out, "fetchmail forwarded this account's mail; popfetch does too"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

/* esmtpname and esmtppassword: SMTP AUTH to the relay (smtp_user,
 * smtp_password), from the defaults too; not over LMTP. */
TEST(fmrc_esmtp_auth)
{
    struct config cfg;
    char *out = conv_load("defaults esmtpname relayuser esmtppassword 'relay pw'\n"
                          "poll a user u is alice here smtphost relay.example/587\n"
                          "poll b user v is bob here lmtp smtphost /run/lmtp\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 2);
    CHECK(cfg.accounts[0].delivery.kind == DELIVERY_SMTP);
    CHECK_STR(cfg.accounts[0].delivery.arg, "relay.example:587");
    CHECK_STR(cfg.accounts[0].smtp_user, "relayuser");
    CHECK_STR(cfg.accounts[0].smtp_password, "relay pw");
    CHECK(has_comment(out, "add smtp_tls starttls"));
    CHECK(cfg.accounts[1].delivery.kind == DELIVERY_LMTP && !cfg.accounts[1].smtp_user);
    CHECK(has_comment(out, "not carried: popfetch logs in to an SMTP relay only"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_remote_and_local_names)
{
    struct config cfg;
    char *out = conv_load("poll a user esr here is eric there\n"
                          "poll b user carl here\n"
                          "poll c is dana\n"
                          "poll d password x\n"
                          "poll e username eve there is 'Eve' here\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 5);
    CHECK_STR(cfg.accounts[0].user, "eric");
    CHECK_STR(cfg.accounts[0].delivery.arg, "localhost:25");
    CHECK_STR(cfg.accounts[0].recipients, "esr");
    CHECK_STR(cfg.accounts[1].user, "carl"); /* fetchmail: the first local name */
    CHECK_STR(cfg.accounts[2].user, "dana");
    CHECK_STR(cfg.accounts[3].user, "tester"); /* the login name */
    CHECK(has_comment(out, "logs in with your login name"));
    CHECK_STR(cfg.accounts[4].user, "eve");
    CHECK_STR(cfg.accounts[4].recipients, "Eve");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_passwords)
{
    struct config cfg;
    char *out = conv_load("poll a user u password 'has \"quotes\" and \\\\ # hash'\n"
                          "poll b user u password '#starts'\n"
                          "poll c user u password 'line\\nzzqq'\n"
                          "poll d user u password ''\n"
                          "poll e user u password '\\xc3\\xa9t\\xc3\\xa9'\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 5);
    CHECK_STR(cfg.accounts[0].password, "has \"quotes\" and \\ # hash");
    CHECK_STR(cfg.accounts[1].password, "#starts");
    CHECK(cfg.accounts[2].password == NULL);
    CHECK(has_comment(out, "holds a line break or a control character"));
    CHECK(!strstr(out, "zzqq")); /* not even in a comment */
    CHECK(cfg.accounts[3].password == NULL);
    CHECK(has_comment(out, "An empty `password` is not carried"));
    CHECK_STR(cfg.accounts[4].password, "\xc3\xa9t\xc3\xa9");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_defaults_merge)
{
    struct config cfg;
    char *out = conv_load("defaults proto pop3 timeout 30 ssl keep mda 'procmail -d %T'\n"
                          "  smtphost somewhere\n"
                          "poll a user u1 is u1 here\n"
                          "poll b timeout 50 user u2 no ssl no keep mda 'maildrop'\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 2);
    CHECK(cfg.accounts[0].tls == TLS_IMPLICIT && cfg.accounts[0].keep.mode == KEEP_ON);
    CHECK(cfg.accounts[0].timeout == 30);
    CHECK_STR(cfg.accounts[0].delivery.arg, "procmail -d u1");
    CHECK(cfg.accounts[1].tls == TLS_STARTTLS && cfg.accounts[1].keep.mode == KEEP_OFF);
    CHECK(cfg.accounts[1].timeout == 50);
    CHECK_STR(cfg.accounts[1].delivery.arg, "maildrop");
    CHECK(has_comment(out, "fetchmail `defaults`: merged into every account after it"));
    /* fetchmail's mda wins over smtphost, and so does popfetch's */
    CHECK(!has_comment(out, "popfetch does too"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_account_names)
{
    struct config cfg;
    char *out = conv_load(
        "poll pop.x.org user alice@x.org pass a user bob pass b\n"
        "poll pop.x.org user alice@y.org pass c\n"
        "poll pop.y.org user z\n"
        "poll pop.y.org via other.y.org user z\n"
        "poll 'we ird/na#me' user z\n"
        "poll "
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        " user z\n"
        "poll '' via h user z\n",
        &cfg);

    CHECK(out && cfg.naccounts == 8);
    CHECK_STR(cfg.accounts[0].name, "alice@pop.x.org");
    CHECK_STR(cfg.accounts[1].name, "bob@pop.x.org");
    CHECK_STR(cfg.accounts[2].name, "alice@pop.x.org-2");
    CHECK_STR(cfg.accounts[3].name, "z@pop.y.org");
    CHECK_STR(cfg.accounts[4].name, "z@pop.y.org-2");
    CHECK_STR(cfg.accounts[4].host, "other.y.org");
    CHECK_STR(cfg.accounts[5].name, "we-ird-na-me");
    CHECK(strlen(cfg.accounts[6].name) == 64);
    CHECK_STR(cfg.accounts[7].name, "account"); /* '' (with a via) */
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_other_protocols_commented_out)
{
    static const char *const protos[] = {"imap", "IMAP", "etrn", "odmr", "pop2", "kpop", "rpop"};
    struct config cfg;
    char rc[128], *out;

    for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
        snprintf(rc, sizeof rc, "poll h proto %s user u pass p\n", protos[i]);
        CHECK((out = conv_load(rc, &cfg)));
        CHECK(cfg.naccounts == 0);
        CHECK(has_line(out, "# account h"));
        CHECK(has_line(out, "# password p"));
        fetchmailrc_free(out);
        conf_free(&cfg);
    }
    CHECK((out = conv_load("poll h proto imap user u\npoll g proto pop3 user u\n", &cfg)));
    CHECK(cfg.naccounts == 1 && has_comment(out, "IMAP: popfetch speaks POP3 only"));
    fetchmailrc_free(out);
    conf_free(&cfg);
    /* auto, sdps and no proto at all: POP3, said so */
    CHECK((out = conv_load("poll a proto auto user u\npoll b proto SDPS user u\npoll c user u\n",
                           &cfg)));
    CHECK(cfg.naccounts == 3);
    CHECK(has_comment(out, "fetchmail tried IMAP first, then POP3"));
    CHECK(has_comment(out, "SDPS extensions are not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_skip_commented_out)
{
    struct config cfg;
    char *out = conv_load("skip h user u\npoll g user u\n", &cfg);

    CHECK(out && cfg.naccounts == 1);
    CHECK_STR(cfg.accounts[0].name, "g");
    CHECK(has_line(out, "# account h"));
    CHECK(has_comment(out, "A `skip` entry"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_multidrop)
{
    static const char *const rcs[] = {
        "poll h user u to a b here\n",
        "poll h user u is * here\n",
        "poll h user u is a=b here\n",
        "poll h user u is a is b\n",
    };
    struct config cfg;
    char *out;

    for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
        CHECK((out = conv_load(rcs[i], &cfg)));
        CHECK(cfg.naccounts == 1);
        CHECK(has_comment(out, "This is a multidrop mailbox"));
        CHECK_STR(cfg.accounts[0].delivery.arg, "/usr/sbin/sendmail -i -- %T");
        fetchmailrc_free(out);
        conf_free(&cfg);
    }
}

/* Every option popfetch cannot carry: a comment naming it, and the output
 * still loads. */
TEST(fmrc_not_carried_comments)
{
    static const char *const server[] = {
        "aka a.example b.example",
        "localdomains example.org",
        "envelope 1 X-Envelope-To",
        "no envelope",
        "qvirtual pre-",
        "dns",
        "no dns",
        "checkalias",
        "no checkalias",
        "principal pop/h@REALM",
        "esmtpname smtpuser",
        "uidl",
        "no uidl",
        "interval 3",
        "interface ppp0/10.0.0.0/8",
        "monitor ppp0",
        "plugin 'ssh h nc %h %p'",
        "plugout 'ssh h'",
        "tracepolls",
        "no tracepolls",
        "bad-header accept",
        "idletimeout 300",
    };
    static const char *const user[] = {
        "folder INBOX Archive",
        "antispam 571 550",
        "batchlimit 5",
        "bsmtp /tmp/b",
        "fetchdomains example.org",
        "preconnect 'true'",
        "postconnect 'true'",
        "flush",
        "no flush",
        "limitflush",
        "rewrite",
        "no rewrite",
        "forcecr",
        "stripcr",
        "pass8bits",
        "dropstatus",
        "dropdelivered",
        "mimedecode",
        "no mimedecode",
        "idle",
        "no idle",
        "sslcertpath /p",
        "sslcommonname cn",
        "warnings 60",
        "fetchsizelimit 10",
        "fastuidl 4",
        "expunge 5",
        "properties 'x y'",
    };
    char rc[256], want[128], *out;
    struct config cfg;

    for (size_t i = 0; i < sizeof server / sizeof server[0]; i++) {
        snprintf(rc, sizeof rc, "poll h %s user u\n", server[i]);
        if (!(out = conv_load(rc, &cfg))) printf("  for: %s\n", rc);
        CHECK(out);
        snprintf(want, sizeof want, "`%.*s", (int)strcspn(server[i], " "), server[i]);
        if (!has_comment(out, want) || !has_comment(out, "not carried")) printf("%s", out);
        CHECK(has_comment(out, want) && has_comment(out, "not carried"));
        CHECK(cfg.naccounts == 1);
        fetchmailrc_free(out);
        conf_free(&cfg);
    }
    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++) {
        snprintf(rc, sizeof rc, "poll h user u %s\n", user[i]);
        if (!(out = conv_load(rc, &cfg))) printf("  for: %s\n", rc);
        CHECK(out);
        snprintf(want, sizeof want, "`%.*s", (int)strcspn(user[i], " "), user[i]);
        if (!has_comment(out, want) || !has_comment(out, "not carried")) printf("%s", out);
        CHECK(has_comment(out, want) && has_comment(out, "not carried"));
        CHECK(cfg.naccounts == 1);
        fetchmailrc_free(out);
        conf_free(&cfg);
    }
    /* an SMTP password alone is not carried, nor repeated in the comment */
    CHECK((out = conv("poll h esmtppassword smtp-secret user u\n")));
    CHECK(has_comment(out, "`esmtpname`/`esmtppassword`: not carried") &&
          !strstr(out, "smtp-secret"));
    fetchmailrc_free(out);
}

TEST(fmrc_set_statements)
{
    static const char *const sets[] = {
        "daemon 300",    "daemon = 300", "logfile /tmp/l", "idfile ~/.fetchids", "pidfile /p",
        "postmaster pm", "bouncemail",   "no bouncemail",  "spambounce",         "no softbounce",
        "syslog",        "no syslog",    "invisible",      "showdots",           "properties 'p'",
    };
    char rc[128], want[64], *out;
    struct config cfg;

    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        snprintf(rc, sizeof rc, "set %s\npoll h user u\n", sets[i]);
        CHECK((out = conv_load(rc, &cfg)));
        snprintf(want, sizeof want, "`%.*s", (int)strcspn(sets[i], " ="), sets[i]);
        CHECK(has_comment(out, want) && has_comment(out, "not carried"));
        CHECK(cfg.naccounts == 1);
        fetchmailrc_free(out);
        conf_free(&cfg);
    }
    CHECK((out = conv("set idfile ~/.fetchids\n")));
    CHECK(has_comment(out, "--import-seen fetchmail:FILE"));
    CHECK(has_comment(out, "No poll entries"));
    fetchmailrc_free(out);
}

/* ---- fetchmail's lexer ----------------------------------------------------- */

TEST(fmrc_lexer_noise_and_punctuation)
{
    struct config cfg;
    char *out = conv_load("# comment\n"
                          "poll pop.a.example, with protocol pop3; and port 1110:\n"
                          "   user alice, with password secret; is alice here, wants options\n"
                          "   keep; has ssl # trailing comment\n"
                          "server pop.b.example proto POP3 username bob there pass x\\\n"
                          "   fetchall\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 2);
    CHECK_STR(cfg.accounts[0].host, "pop.a.example");
    CHECK(cfg.accounts[0].port == 1110 && cfg.accounts[0].keep.mode == KEEP_ON);
    CHECK(cfg.accounts[0].tls == TLS_IMPLICIT);
    CHECK_STR(cfg.accounts[1].user, "bob");
    CHECK_STR(cfg.accounts[1].password, "x"); /* backslash-newline joins, and is dropped */
    CHECK(cfg.accounts[1].fetch_all == 1);
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_lexer_escapes)
{
    struct config cfg;
    char *out = conv_load("poll h user u1 password '\\x41\\x4a\\x4B' is x here\n" /* AJK */
                          "poll h user u2 password \"\\101\\066B\"\n" /* decimal, octal */
                          "poll h user u3 password '\\0101'\n"        /* \010 then 1: 3 digits */
                          "poll h user u4 password 'a\\qb\\\\c'\n"
                          "poll h user u5 password 'cut\\x00here'\n"
                          "poll h user u6 password 'multi\\\nline'\n"
                          "poll h user u7 password tab\\tin\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 7);
    CHECK_STR(cfg.accounts[0].password, "AJK");
    CHECK_STR(cfg.accounts[1].password, "e6B");
    CHECK(cfg.accounts[2].password == NULL); /* \010 is a control character */
    CHECK_STR(cfg.accounts[3].password, "aqb\\c");
    CHECK_STR(cfg.accounts[4].password, "cut");
    CHECK_STR(cfg.accounts[5].password, "multiline");
    CHECK_STR(cfg.accounts[6].password, "tab\tin");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_lexer_states)
{
    struct config cfg;
    /* after user/pass/is/to a keyword is a string; `password` after auth
     * is an auth type; "abc"def is one bare word; `nokeep` is `no keep` */
    char *out = conv_load("poll h auth password user keep password poll is ssl here\n"
                          "  nokeep\n"
                          "poll g user \"abc\"def\n"
                          "poll f user 12345 password 007\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 3);
    CHECK_STR(cfg.accounts[0].user, "keep");
    CHECK_STR(cfg.accounts[0].password, "poll");
    CHECK(cfg.accounts[0].keep.mode == KEEP_OFF);
    CHECK(cfg.accounts[0].tls == TLS_STARTTLS); /* `ssl` was a local name */
    CHECK_STR(cfg.accounts[0].recipients, "ssl");
    CHECK_STR(cfg.accounts[1].user, "\"abc\"def");
    CHECK_STR(cfg.accounts[2].user, "12345");
    CHECK_STR(cfg.accounts[2].password, "007");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_lexer_multiline_string_counts_lines)
{
    struct err e;

    /* the string on lines 1-3 holds two newlines; the error is on line 4 */
    CHECK(conv_err("poll h user u password 'a\nb\nc'\nbogus\n", &e) == ERR_USAGE);
    CHECK(!strncmp(e.msg, "rc:4: ", 6));
}

/* ---- errors ---------------------------------------------------------------- */

TEST(fmrc_syntax_errors_name_the_line)
{
    static const struct {
        const char *rc, *msg;
    } bad[] = {
        {"poll h user u password 'unterminated\n", "rc:1: a quoted string that never ends"},
        {"\n\npoll\n", "rc:3: expected a value after `poll`, found the end of the file"},
        {"poll h user u\n  sslcertchk\n", "rc:2: expected a user option (several names after"},
        {"poll h\n  sslcertchk user u\n", "rc:2: expected a server or user option, found"},
        {"poll h service pop3\n", "rc:1: expected a value after `service`, found the keyword"},
        {"poll h user u\n  proto pop3\n", "rc:2: server option `proto` after user options"},
        {"poll h keep user u\n", "rc:1: `user` after user options"},
        {"poll h no via x\n", "rc:1: `no via` is not a fetchmail option"},
        {"poll h port abc\n", "rc:1: expected a number after `port`, found `abc`"},
        {"poll h proto smtp\n", "rc:1: expected a protocol"},
        {"poll h auth plain\n", "rc:1: expected an authentication type"},
        {"set bogus\n", "rc:1: expected a global option after `set`"},
        {"user u\n", "rc:1: expected `poll`, `skip`, `defaults` or `set`, found the keyword"},
        {"POLL h\n", "rc:1: expected `poll`, `skip`, `defaults` or `set`, found `POLL`"},
        {"poll h user = x\n", "rc:1: expected a value after `user`, found `=`"},
        {"poll h user u is\n", "rc:1: expected a value after `is`, found the end"},
        {"poll h bad-header maybe\n", "rc:1: expected accept or reject"},
        {"poll h via keep\n", "rc:1: expected a value after `via`, found the keyword `keep`"},
    };
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (conv_err(bad[i].rc, &e) != ERR_USAGE || strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)))
            printf("  [%zu] %s -> %d %s\n", i, bad[i].rc, e.kind, e.msg);
        CHECK(e.kind == ERR_USAGE);
        CHECK(!strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)));
        CHECK(strstr(e.hint, "fetchmail(1)"));
    }
}

/* ---- hostile input ------------------------------------------------------------ */

TEST(fmrc_hostile_nul_and_size)
{
    static const char nul[] = "poll h\nuser u\0 keep\n";
    struct err e;
    char *big, *out;

    CHECK(!conv_n(nul, sizeof nul - 1, &e) && e.kind == ERR_USAGE);
    CHECK(strstr(e.msg, "rc:2: NUL byte"));
    CHECK((out = conv_n("", 0, &e)));
    fetchmailrc_free(out);
    big = calloc(1, FETCHMAILRC_MAX_BYTES + 2);
    CHECK(big);
    memset(big, ' ', FETCHMAILRC_MAX_BYTES + 1);
    CHECK(!conv_n(big, FETCHMAILRC_MAX_BYTES + 1, &e) && e.kind == ERR_USAGE);
    CHECK(strstr(e.msg, "larger than"));
    /* exactly the limit of blanks: a valid empty file */
    CHECK((out = conv_n(big, FETCHMAILRC_MAX_BYTES, &e)));
    fetchmailrc_free(out);
    free(big);
}

/* PREFIX, then n bytes of c, then SUFFIX, in a fresh string. */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t p = strlen(prefix), s = strlen(suffix);
    char *r = malloc(p + n + s + 1);

    if (!r) return NULL;
    memcpy(r, prefix, p);
    memset(r + p, c, n);
    memcpy(r + p + n, suffix, s + 1);
    return r;
}

TEST(fmrc_hostile_huge_values)
{
    size_t n = 1024 * 1024;
    char *rc, *out;
    struct config cfg;
    struct err e;

    /* a 1 MiB bare word where an option belongs: a short message */
    CHECK((rc = repeat("poll h ", 'a', n, "\n")));
    CHECK(conv_err(rc, &e) == ERR_USAGE && strlen(e.msg) < 300);
    free(rc);
    /* a 1 MiB server name: commented out, and not copied whole */
    CHECK((rc = repeat("poll '", 'h', n, "' user u password p mda m\n")));
    CHECK((out = conv_load(rc, &cfg)));
    CHECK(cfg.naccounts == 0 && strlen(out) < 20000);
    fetchmailrc_free(out);
    conf_free(&cfg);
    free(rc);
    /* a 1 MiB password and mda: not carried, the account still loads */
    CHECK((rc = repeat("poll h user u password '", 'p', n, "'")));
    out = rc;
    CHECK((rc = repeat(out, 'm', 0, " mda 'x")));
    free(out);
    out = rc;
    CHECK((rc = repeat(out, 'm', n, "'\n")));
    free(out);
    CHECK((out = conv_load(rc, &cfg)));
    CHECK(cfg.naccounts == 1 && cfg.accounts[0].password == NULL && strlen(out) < 20000);
    CHECK_STR(cfg.accounts[0].delivery.arg, "/usr/sbin/sendmail -i -- %T");
    CHECK(has_comment(out, "`password` is too long"));
    fetchmailrc_free(out);
    conf_free(&cfg);
    free(rc);
}

TEST(fmrc_hostile_many_accounts_and_notes)
{
    size_t cap = 2 * 1024 * 1024, o = 0;
    char *rc = malloc(cap), *out;
    struct config cfg;
    struct err e;

    CHECK(rc);
    for (int i = 0; i < FETCHMAILRC_MAX_ACCOUNTS; i++)
        o += (size_t)snprintf(rc + o, cap - o, "poll h%d user u\n", i);
    CHECK((out = conv_load(rc, &cfg)) && cfg.naccounts == FETCHMAILRC_MAX_ACCOUNTS);
    fetchmailrc_free(out);
    conf_free(&cfg);
    snprintf(rc + o, cap - o, "poll one-too-many user u\n");
    CHECK(conv_err(rc, &e) == ERR_USAGE && strstr(e.msg, "more than 1000 users"));
    /* thousands of options that are not carried: the comments are capped */
    o = (size_t)snprintf(rc, cap, "poll h user u");
    for (int i = 0; i < 100000; i++) o += (size_t)snprintf(rc + o, cap - o, " stripcr");
    snprintf(rc + o, cap - o, "\n");
    CHECK((out = conv_load(rc, &cfg)) && cfg.naccounts == 1);
    CHECK(has_comment(out, "99968 more settings here were not carried either"));
    CHECK(strlen(out) < 20000);
    fetchmailrc_free(out);
    conf_free(&cfg);
    free(rc);
}

TEST(fmrc_hostile_control_bytes_in_names)
{
    struct config cfg;
    char *out = conv_load("poll 'evil\\nhost\\r\\x1b[2J' user 'u\\nv' password p\n"
                          "poll ok user 'x\\ny' here\n",
                          &cfg);

    CHECK(out);
    CHECK(cfg.naccounts == 0); /* neither can be written: both commented out */
    CHECK(has_comment(out, "server name cannot be written"));
    CHECK(has_comment(out, "user name cannot be written"));
    for (const char *s = out; *s; s++)
        CHECK(*s == '\n' || *s == '\t' || ((unsigned char)*s >= 0x20 && *s != 0x7f));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

/* Random bytes and random token soup: never a crash; whenever the
 * conversion succeeds, popfetch loads the result. */
TEST(fmrc_hostile_random_input)
{
    static const char *const toks[] = {
        "poll ",        "skip ",     "defaults ", "set ",    "user ",  "is ",     "to ",
        "here ",        "there ",    "password ", "ssl ",    "no ",    "keep ",   "mda ",
        "'a b' ",       "\"x\\\"",   "= ",        "; ",      "proto ", "pop3 ",   "imap ",
        "auth ",        "cram-md5 ", "12 ",       "-1 ",     "\\x00 ", "\n",      "# c\n",
        "sslproto ",    "'' ",       "via ",      "limit ",  "%T ",    "'|' ",    "sslfingerprint ",
        "* ",           "smtphost ", "\\\n",      "\"\n\" ", "with ",  "nokeep ", "timeout ",
        "99999999999 ",
    };
    unsigned seed = 12345;
    char buf[600];
    struct config cfg;
    struct err e;

    for (int round = 0; round < 4000; round++) {
        size_t o = 0;
        char *out;
        int rc;
        while (o < sizeof buf - 40) {
            seed = seed * 1103515245u + 12345u;
            if (round % 4 == 0) {
                buf[o++] = (char)((seed >> 16) % 255 + 1);
            } else {
                const char *t = toks[(seed >> 16) % (sizeof toks / sizeof toks[0])];
                memcpy(buf + o, t, strlen(t));
                o += strlen(t);
            }
            if ((seed >> 8) % 50 == 0) break;
        }
        buf[o] = '\0';
        if (!(out = conv_n(buf, o, &e))) {
            CHECK(e.kind == ERR_USAGE);
            continue;
        }
        rc = conf_parse("out", out, strlen(out), 1, &cfg, &e);
        if (rc < 0) printf("  input: %s\n  conf_parse: %s\n", buf, e.msg);
        conf_free(&cfg);
        fetchmailrc_free(out);
        CHECK(rc == 0);
    }
}

/* ---- the sample files ------------------------------------------------------------ */

static char *conv_file(const char *file, struct config *cfg)
{
    char path[256], *out;
    struct err e;

    snprintf(path, sizeof path, RC_DIR "%s", file);
    setenv("FETCHMAILUSER", "tester", 1);
    memset(cfg, 0, sizeof *cfg);
    if (fetchmailrc_convert_file(path, &out, &e) < 0) {
        printf("  %s: %s\n", path, e.msg);
        return NULL;
    }
    if (conf_parse(path, out, strlen(out), 1, cfg, &e) < 0) {
        printf("  %s: conf_parse: %s\n", path, e.msg);
        fetchmailrc_free(out);
        return NULL;
    }
    return out;
}

TEST(fmrc_file_gmail_pop3s)
{
    struct config cfg;
    char *out = conv_file("gmail-pop3s.rc", &cfg);
    struct account *a;

    CHECK(out && cfg.naccounts == 1);
    a = &cfg.accounts[0];
    CHECK_STR(a->name, "pop.gmail.com");
    CHECK_STR(a->user, "alice.example@gmail.com");
    CHECK_STR(a->password, "abcd efgh ijkl mnop");
    CHECK(a->tls == TLS_IMPLICIT && a->tls_verify && a->port == 995 && a->keep.mode == KEEP_ON);
    CHECK_STR(a->delivery.arg, "localhost:25");
    CHECK_STR(a->recipients, "alice");
    CHECK(has_comment(out, "`daemon 600`: not carried: run popfetch --daemon"));
    CHECK(has_comment(out, "`postmaster alice`: not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_isp_stls_procmail)
{
    struct config cfg;
    char *out = conv_file("isp-stls-procmail.rc", &cfg);
    struct account *a;

    CHECK(out && cfg.naccounts == 1);
    a = &cfg.accounts[0];
    CHECK_STR(a->user, "bob.smith");
    CHECK_STR(a->password, "Tr0ub4dor&3");
    CHECK(a->tls == TLS_STARTTLS && a->port == 110 && a->timeout == 120);
    CHECK_STR(a->tls_trust_file, "/etc/ssl/certs/ca-certificates.crt");
    CHECK_STR(a->delivery.arg, "/usr/bin/procmail -d bob");
    CHECK(has_comment(out, "`uidl`: not carried"));
    CHECK(has_comment(out, "`stripcr`: not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_multidrop)
{
    struct config cfg;
    char *out = conv_file("multidrop.rc", &cfg);

    CHECK(out && cfg.naccounts == 1);
    CHECK_STR(cfg.accounts[0].user, "catchall@example.org");
    CHECK(cfg.accounts[0].fetch_all == 1);
    CHECK(has_comment(out, "This is a multidrop mailbox"));
    CHECK(has_comment(out, "`localdomains example.org example.net`"));
    CHECK(has_comment(out, "forwarded this account's mail with smtphost"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_imap_and_skip)
{
    struct config cfg;
    char *out = conv_file("imap-and-skip.rc", &cfg);

    CHECK(out && cfg.naccounts == 0);
    CHECK(has_line(out, "# account imap.example.com"));
    CHECK(has_line(out, "# account old.example.net"));
    CHECK(has_line(out, "# delivery mda \"/usr/lib/dovecot/dovecot-lda -d dave\""));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_defaults)
{
    struct config cfg;
    char *out = conv_file("defaults.rc", &cfg);

    CHECK(out && cfg.naccounts == 3);
    CHECK_STR(cfg.accounts[0].name, "frank@pop.work.example");
    CHECK_STR(cfg.accounts[1].name, "grace@pop.work.example");
    CHECK(cfg.accounts[0].tls == TLS_IMPLICIT && cfg.accounts[0].keep.mode == KEEP_ON);
    CHECK(cfg.accounts[1].keep.mode == KEEP_OFF);
    CHECK_STR(cfg.accounts[1].delivery.arg, "/usr/bin/procmail -d grace");
    CHECK_STR(cfg.accounts[2].host, "mail.home.example");
    CHECK(cfg.accounts[2].port == 1995 && cfg.accounts[2].tls == TLS_STARTTLS);
    CHECK(cfg.accounts[2].tls_min_version == 13);
    CHECK_STR(cfg.accounts[2].delivery.arg, "/usr/bin/maildrop -d frank");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_apop)
{
    struct config cfg;
    char *out = conv_file("apop.rc", &cfg);

    CHECK(out && cfg.naccounts == 1);
    CHECK(cfg.accounts[0].auth == AUTH_APOP && cfg.accounts[0].tls == TLS_OFF);
    CHECK_STR(cfg.accounts[0].delivery.arg, "/usr/bin/formail -s /usr/bin/procmail");
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_limits)
{
    struct config cfg;
    char *out = conv_file("limits.rc", &cfg);

    CHECK(out && cfg.naccounts == 1);
    CHECK(cfg.accounts[0].max_size == 2000000 && cfg.accounts[0].max_messages == 50);
    CHECK(cfg.accounts[0].timeout == 30);
    CHECK_STR(cfg.accounts[0].delivery.arg,
              "/bin/sh -c '/usr/bin/spamc | /usr/bin/procmail -f %F -d henry'");
    CHECK(has_comment(out, "`flush`: not carried"));
    CHECK(has_comment(out, "`warnings 3600`: not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_selfsigned)
{
    struct config cfg;
    char *out = conv_file("selfsigned.rc", &cfg);

    CHECK(out && cfg.naccounts == 4);
    CHECK(cfg.accounts[0].port == 995 && cfg.accounts[0].tls_fingerprint == NULL);
    CHECK(cfg.accounts[0].tls_verify == 1);
    CHECK(has_comment(out, "MD5"));
    CHECK(cfg.accounts[1].tls_fingerprint != NULL);
    CHECK_STR(cfg.accounts[2].host, "127.0.0.1");
    CHECK(cfg.accounts[2].port == 11110);
    CHECK(has_comment(out, "`plugin ssh -C"));
    CHECK(has_comment(out, "`preconnect ssh -f"));
    CHECK(has_comment(out, "`auth kerberos_v5`: not carried"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}

TEST(fmrc_file_missing)
{
    char *out;
    struct err e;

    CHECK(fetchmailrc_convert_file(RC_DIR "no-such-file.rc", &out, &e) < 0);
    CHECK(e.kind == ERR_USAGE && strstr(e.msg, "cannot read") && out == NULL);
    CHECK(fetchmailrc_convert_file(RC_DIR, &out, &e) < 0 && e.kind == ERR_USAGE);
}

TEST(fmrc_fetchmail7_oauth2)
{
    struct config cfg;
    char *out = conv_load("poll outlook.office365.com proto pop3 auth xoauth2 user a@example.com "
                          "passwordfile \"/home/a b/.tok'en\" ssl\n"
                          "poll pop.gmail.com proto pop3 auth oauthbearer user b "
                          "passwordfile /t/b ssl\n"
                          "poll h proto pop3 auth oauthbearer user c password tok "
                          "passwordfile /t/c passwordfd 3\n"
                          "poll h2 proto pop3 user d passwordfile relative\n",
                          &cfg);

    CHECK(out && cfg.naccounts == 4);
    CHECK(cfg.accounts[0].auth == AUTH_XOAUTH2);
    CHECK_STR(cfg.accounts[0].passwordeval, "cat '/home/a b/.tok'\\''en'");
    CHECK(has_comment(out, "replace the password lines with `oauth2 microsoft`"));
    CHECK(has_comment(out, "`popfetch --authorize outlook.office365.com` once"));
    CHECK(cfg.accounts[1].auth == AUTH_OAUTHBEARER);
    CHECK_STR(cfg.accounts[1].passwordeval, "cat '/t/b'");
    CHECK(has_comment(out, "`oauth2 google`"));
    CHECK(cfg.accounts[2].auth == AUTH_OAUTHBEARER);
    CHECK_STR(cfg.accounts[2].password, "tok");
    CHECK(cfg.accounts[2].passwordeval == NULL);
    CHECK(has_comment(out, "`passwordfile /t/c`: not carried: the `password` given too is used"));
    CHECK(has_comment(out, "`passwordfd 3`: not carried"));
    CHECK(has_comment(out, "`oauth2 microsoft|google|custom`"));
    CHECK(cfg.accounts[3].auth == AUTH_AUTO && cfg.accounts[3].passwordeval == NULL);
    CHECK(has_comment(out, "`passwordfile relative`: not carried: name the file by its full path"));
    fetchmailrc_free(out);
    conf_free(&cfg);
}
