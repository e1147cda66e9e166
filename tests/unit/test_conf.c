/* Unit tests for the config parser: syntax, inheritance, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "conf.h"
#include "session.h"
#include "unit.h"

static int load(const char *text, struct config *cfg, struct err *e)
{
    memset(cfg, 0, sizeof *cfg);
    err_clear(e);
    return conf_parse("test.rc", text, strlen(text), 1, cfg, e);
}

TEST(conf_full_example_with_inheritance)
{
    static const char text[] = "# comment\n"
                               "defaults\n"
                               "tls implicit\n"
                               "keep off\n"
                               "\n"
                               "account work\n"
                               "host pop.example.org\n"
                               "user alice\n"
                               "passwordeval \"pass show mail/work\"\n"
                               "delivery maildir ~/Mail/work\n"
                               "\n"
                               "account isp : work\n"
                               "host pop.isp.example\n"
                               "tls starttls\n"
                               "keep 14d\n";
    struct config cfg;
    struct err e;
    struct account *w, *i;
    char want[4200];

    setenv("HOME", "/home/alice", 1);
    CHECK(load(text, &cfg, &e) == 0);
    CHECK(cfg.naccounts == 2);
    w = conf_find(&cfg, "work");
    i = conf_find(&cfg, "isp");
    CHECK(w && i);
    CHECK_STR(w->host, "pop.example.org");
    CHECK_STR(w->passwordeval, "pass show mail/work");
    snprintf(want, sizeof want, "%s/Mail/work", "/home/alice");
    CHECK_STR(w->delivery.arg, want);
    CHECK(w->tls == TLS_IMPLICIT && conf_port(w) == 995);
    CHECK_STR(i->host, "pop.isp.example");
    CHECK_STR(i->user, "alice");
    CHECK_STR(i->delivery.arg, want);
    CHECK(i->tls == TLS_STARTTLS && conf_port(i) == 110);
    CHECK(i->keep.mode == KEEP_FOR && i->keep.seconds == 14 * 86400);
    CHECK(w->keep.mode == KEEP_OFF);
    conf_free(&cfg);
}

TEST(conf_quotes_and_escapes)
{
    static const char text[] = "account a\nhost h\nuser \"a b\"\n"
                               "password \"p\\\"q\\\\r #x\"\ndelivery maildir \"/x y\"\n";
    struct config cfg;
    struct err e;

    CHECK(load(text, &cfg, &e) == 0);
    CHECK_STR(cfg.accounts[0].user, "a b");
    CHECK_STR(cfg.accounts[0].password, "p\"q\\r #x");
    CHECK_STR(cfg.accounts[0].delivery.arg, "/x y");
    conf_free(&cfg);
}

static void expect_error(const char *text, const char *where, const char *what, int *ok)
{
    struct config cfg;
    struct err e;

    *ok = load(text, &cfg, &e) < 0 && e.kind == ERR_USAGE && strstr(e.msg, where) &&
          strstr(e.msg, what);
    if (!*ok) printf("  got: %s\n", e.msg);
    conf_free(&cfg);
}

TEST(conf_errors_name_file_line_and_key)
{
    int ok;

    expect_error("account a\nhost h\nhots x\n", "test.rc:3:", "unknown key `hots`", &ok);
    CHECK(ok);
    expect_error("account a\nhost h\ntls maybe\n", "test.rc:3:", "tls", &ok);
    CHECK(ok);
    expect_error("account a\nhost h\nport 70000\n", "test.rc:3:", "port", &ok);
    CHECK(ok);
    expect_error("account a\nhost h\nuser u\n", "test.rc:1:", "no `delivery`", &ok);
    CHECK(ok);
    expect_error("account a\nuser u\ndelivery maildir /m\n", "test.rc:1:", "no `host`", &ok);
    CHECK(ok);
    expect_error("account a\nhost \"unterminated\n", "test.rc:2:", "unterminated", &ok);
    CHECK(ok);
    expect_error("account a\nhost a b\n", "test.rc:2:", "`host` takes one value", &ok);
    CHECK(ok);
    expect_error("host h\n", "test.rc:1:", "outside any section", &ok);
    CHECK(ok);
    expect_error("account a : nothere\n", "test.rc:1:", "nothere", &ok);
    CHECK(ok);
    expect_error("account a\nhost h\nuser u\ndelivery maildir /m\naccount a\n",
                 "test.rc:5:", "defined twice", &ok);
    CHECK(ok);
    expect_error("account a\nkeep 3x\n", "test.rc:2:", "keep", &ok);
    CHECK(ok);
    expect_error("account a\ndelivery pigeon /x\n", "test.rc:2:", "pigeon", &ok);
    CHECK(ok);
    expect_error("account a\ntls_fingerprint abc\n", "test.rc:2:", "SHA-256", &ok);
    CHECK(ok);
    expect_error("account a\nhost\n", "test.rc:2:", "needs a value", &ok);
    CHECK(ok);
    expect_error("account a\nhost \"x\\n\"\n", "test.rc:2:", "escape", &ok);
    CHECK(ok);
}

TEST(conf_password_needs_private_file)
{
    static const char text[] = "account a\nhost h\nuser u\npassword s\ndelivery maildir /m\n";
    struct config cfg;
    struct err e;

    memset(&cfg, 0, sizeof cfg);
    CHECK(conf_parse("pub.rc", text, strlen(text), 0, &cfg, &e) < 0);
    CHECK(e.kind == ERR_CONFIG_PERM);
    conf_free(&cfg);
    memset(&cfg, 0, sizeof cfg);
    CHECK(conf_parse("priv.rc", text, strlen(text), 1, &cfg, &e) == 0);
    conf_free(&cfg);
}

TEST(conf_later_defaults_apply_to_later_accounts_only)
{
    static const char text[] = "defaults\ntimeout 10\n"
                               "account a\nhost h\nuser u\ndelivery maildir /m\n"
                               "defaults\ntimeout 20\n"
                               "account b : a\n";
    struct config cfg;
    struct err e;

    CHECK(load(text, &cfg, &e) == 0);
    CHECK(conf_find(&cfg, "a")->timeout == 10);
    CHECK(conf_find(&cfg, "b")->timeout == 20);
    CHECK_STR(conf_find(&cfg, "b")->host, "h");
    conf_free(&cfg);
}

/* The state is the mailbox's: user@host, whatever the port; state_key
 * overrides it (inherited like any key). */
TEST(conf_state_key_names_the_state)
{
    static const char text[] = "account a\nhost h.example\nuser u\nport 110\ntls starttls\n"
                               "delivery maildir /m\n"
                               "account b : a\nport 995\ntls implicit\n"
                               "account c : a\nstate_key \"tunnel/1\"\n";
    struct config cfg;
    struct err e;
    char k[256], k2[256];

    CHECK(load(text, &cfg, &e) == 0);
    session_state_key(conf_find(&cfg, "a"), k, sizeof k);
    CHECK_STR(k, "u@h.example");
    session_state_key(conf_find(&cfg, "b"), k2, sizeof k2);
    CHECK_STR(k2, k);
    session_state_key(conf_find(&cfg, "c"), k, sizeof k);
    CHECK_STR(k, "tunnel%2F1");
    conf_free(&cfg);
}

TEST(conf_fingerprint_is_normalised)
{
    static const char text[] =
        "account a\nhost h\nuser u\ndelivery maildir /m\ntls_fingerprint "
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:"
        "45:67:89\n";
    struct config cfg;
    struct err e;

    CHECK(load(text, &cfg, &e) == 0);
    CHECK_STR(cfg.accounts[0].tls_fingerprint,
              "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    conf_free(&cfg);
}

TEST(conf_durations_and_sizes)
{
    unsigned long s;
    uint64_t b;

    CHECK(conf_parse_duration("14d", &s) == 0 && s == 14 * 86400);
    CHECK(conf_parse_duration("1d12h", &s) == 0 && s == 36 * 3600);
    CHECK(conf_parse_duration("90m", &s) == 0 && s == 5400);
    CHECK(conf_parse_duration("60", &s) == 0 && s == 60);
    CHECK(conf_parse_duration("", &s) < 0);
    CHECK(conf_parse_duration("d", &s) < 0);
    CHECK(conf_parse_duration("3y", &s) < 0);
    CHECK(conf_parse_duration("99999999999d", &s) < 0);
    CHECK(conf_parse_size("10M", &b) == 0 && b == 10 * 1024 * 1024);
    CHECK(conf_parse_size("512k", &b) == 0 && b == 512 * 1024);
    CHECK(conf_parse_size("1000", &b) == 0 && b == 1000);
    CHECK(conf_parse_size("1MB", &b) == 0 && b == 1024 * 1024);
    CHECK(conf_parse_size("x", &b) < 0);
    CHECK(conf_parse_size("1T", &b) < 0);
}

TEST(conf_long_line_and_nul_are_errors)
{
    char *text = malloc(20000);
    struct config cfg;
    struct err e;

    memset(text, 'x', 20000);
    memcpy(text, "account a\nhost ", 15);
    text[19999] = '\0';
    CHECK(load(text, &cfg, &e) < 0 && strstr(e.msg, "test.rc:2:"));
    conf_free(&cfg);
    memset(&cfg, 0, sizeof cfg);
    CHECK(conf_parse("nul.rc", "account a\nho\0st h\n", 18, 1, &cfg, &e) < 0);
    CHECK(strstr(e.msg, "nul.rc:2:") != NULL);
    conf_free(&cfg);
    free(text);
}

TEST(conf_delivery_kinds_and_their_keys)
{
    static const char text[] = "defaults\n"
                               "host h\n"
                               "user u\n"
                               "account a\n"
                               "delivery mbox ~/mbox\n"
                               "mbox_locking fcntl\n"
                               "account b\n"
                               "delivery mda \"/usr/bin/procmail -d %T\"\n"
                               "mda_timeout 30\n"
                               "passwordeval_timeout 2m\n"
                               "received_header off\n";
    struct config cfg;
    struct err e;
    struct account *a, *b;

    setenv("HOME", "/home/alice", 1);
    CHECK(load(text, &cfg, &e) == 0);
    a = conf_find(&cfg, "a");
    b = conf_find(&cfg, "b");
    CHECK(a && b);
    CHECK(a->delivery.kind == DELIVERY_MBOX);
    CHECK_STR(a->delivery.arg, "/home/alice/mbox");
    CHECK(a->mbox_locking == MBOX_LOCK_FCNTL);
    CHECK(a->received_header == 1 && a->mda_timeout == 300 && a->passwordeval_timeout == 300);
    CHECK(b->delivery.kind == DELIVERY_MDA);
    CHECK_STR(b->delivery.arg, "/usr/bin/procmail -d %T");
    CHECK(b->mbox_locking == (MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL));
    CHECK(b->mda_timeout == 30 && b->received_header == 0 && b->passwordeval_timeout == 120);
    conf_free(&cfg);
}

TEST(conf_delivery_errors_name_the_line)
{
    static const char *const bad[] = {
        "account a\nhost h\nuser u\ndelivery mda \"procmail ; rm -rf ~\"\n",
        "account a\nhost h\nuser u\ndelivery mda \"procmail 'unbalanced\"\n",
        "account a\nhost h\nuser u\ndelivery mda \"procmail %Q\"\n",
        "account a\nhost h\nuser u\ndelivery pipe cat\n",
        "account a\nhost h\nuser u\ndelivery mbox \"\"\n",
        "account a\nhost h\nuser u\ndelivery mbox m\nmbox_locking flock\n",
    };
    struct config cfg;
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(load(bad[i], &cfg, &e) < 0);
        CHECK(e.kind == ERR_USAGE);
        CHECK(strstr(e.msg, "test.rc:4") || strstr(e.msg, "test.rc:5"));
        conf_free(&cfg);
    }
}

/* Found by fuzz_conf: a size whose unit made it wrap around 2^64 became a
 * small limit instead of an error. */
TEST(conf_size_never_wraps)
{
    uint64_t v = 0;

    CHECK(conf_parse_size("17179869185G", &v) < 0);
    CHECK(conf_parse_size("18014398509481984K", &v) < 0);
    CHECK(conf_parse_size("17179869183G", &v) == 0 && v == 17179869183ULL << 30);
    CHECK(conf_parse_size("10M", &v) == 0 && v == 10ULL << 20);
}

#define OA_BASE "account m\nhost outlook.office365.com\nuser a@example.com\ndelivery maildir /m\n"

TEST(conf_oauth2_keys)
{
    static const char text[] = "defaults\noauth2 microsoft\noauth2_client_id 0a1b-2c\n" OA_BASE
                               "oauth2_tenant example.onmicrosoft.com\n"
                               "oauth2_scope \"https://outlook.office.com/POP.AccessAsUser.All "
                               "offline_access\"\noauth2_flow device\n"
                               "account c : m\noauth2 custom\noauth2_token_url https://t/\n";
    static const char custom[] =
        OA_BASE "oauth2 custom\noauth2_client_id id\noauth2_token_url https://127.0.0.1:8443/t\n"
                "oauth2_authorize_url https://idp.example/auth?x=1\noauth2_client_secret s3\n"
                "oauth2_flow client_credentials\noauth2_redirect_port 8765\n";
    struct config cfg;
    struct err e;
    struct account *m;
    int ok;

    CHECK(load(text, &cfg, &e) == -1); /* c: a tenant with custom */
    conf_free(&cfg);
    CHECK(strstr(e.msg, "only `oauth2 microsoft`") != NULL);
    CHECK(load(custom, &cfg, &e) == 0);
    m = conf_find(&cfg, "m");
    CHECK(m->oauth2 == OAUTH2_CUSTOM && m->oauth2_flow == OAUTH2_FLOW_CLIENT_CREDENTIALS);
    CHECK_STR(m->oauth2_token_url, "https://127.0.0.1:8443/t");
    CHECK_STR(m->oauth2_client_secret, "s3");
    CHECK(m->oauth2_redirect_port == 8765);
    conf_free(&cfg);
    /* a client secret in the file: like a password, the file must be private */
    memset(&cfg, 0, sizeof cfg);
    CHECK(conf_parse("pub.rc", custom, strlen(custom), 0, &cfg, &e) < 0);
    CHECK(e.kind == ERR_CONFIG_PERM);
    expect_error(OA_BASE "oauth2 yahoo\n", "test.rc:5:", "microsoft | google | custom", &ok);
    CHECK(ok);
    expect_error(OA_BASE "oauth2_token_url http://idp/t\n", "test.rc:5:", "https://", &ok);
    CHECK(ok);
    expect_error(OA_BASE "oauth2_client_id \"a b\"\n", "test.rc:5:", "without spaces", &ok);
    CHECK(ok);
    expect_error(OA_BASE "oauth2_flow implicit\n", "test.rc:5:", "client_credentials", &ok);
    CHECK(ok);
}

TEST(conf_oauth2_account_checks)
{
    static const struct {
        const char *extra, *why;
    } bad[] = {
        {"oauth2 google\n", "no `oauth2_client_id`"},
        {"oauth2 custom\noauth2_client_id x\n", "no `oauth2_token_url`"},
        {"oauth2_client_id x\n", "no `oauth2`"},
        {"oauth2 google\noauth2_client_id x\nauth plain\n", "auth auto, xoauth2"},
        {"oauth2 google\noauth2_client_id x\npasswordeval \"cat t\"\n", "keep one"},
        {"oauth2 google\noauth2_client_id x\noauth2_client_secret a\n"
         "oauth2_client_secret_eval \"cat s\"\n",
         "keep one"},
        {"oauth2 microsoft\noauth2_client_id x\noauth2_flow client_credentials\n",
         "no `oauth2_client_secret`"},
    };
    char text[512];
    int ok;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", OA_BASE, bad[i].extra);
        expect_error(text, "test.rc:1:", bad[i].why, &ok);
        CHECK(ok);
    }
    snprintf(text, sizeof text, "%s%s", OA_BASE,
             "oauth2 google\noauth2_client_id x\nauth xoauth2\n");
    {
        struct config cfg;
        struct err e;
        CHECK(load(text, &cfg, &e) == 0);
        conf_free(&cfg);
    }
}

/* max_message_bytes: 1 GiB unless set, inherited like any key, never 0. */
TEST(conf_max_message_bytes)
{
    static const char text[] = "defaults\n"
                               "host h\n"
                               "user u\n"
                               "delivery maildir /m\n"
                               "account a\n"
                               "account b\n"
                               "max_message_bytes 50M\n"
                               "account c : b\n";
    struct config cfg;
    struct err e;

    CHECK(load(text, &cfg, &e) == 0);
    CHECK(conf_find(&cfg, "a")->max_message_bytes == 1ULL << 30);
    CHECK(conf_find(&cfg, "b")->max_message_bytes == 50ULL << 20);
    CHECK(conf_find(&cfg, "c")->max_message_bytes == 50ULL << 20);
    conf_free(&cfg);
    CHECK(load("account a\nhost h\nuser u\ndelivery maildir /m\nmax_message_bytes 0\n", &cfg, &e) <
          0);
    CHECK(e.kind == ERR_USAGE && strstr(e.msg, "test.rc:5") && strstr(e.msg, "max_message_bytes"));
    conf_free(&cfg);
}

static void put_file(const char *dir, const char *name, const char *text, int mode)
{
    char p[600];
    FILE *f;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
    chmod(p, (mode_t)mode);
}

TEST(conf_dir_reads_conf_files_in_name_order_as_one_config)
{
    const char *dir = unit_tmpdir();
    struct config cfg;
    struct err e;
    char want[700];

    chmod(dir, 0700);
    put_file(dir, "b.conf", "account second : first\nuser bob\n", 0600);
    put_file(dir, "a.conf", "defaults\nhost h\naccount first\nuser u\ndelivery maildir /m\n", 0600);
    put_file(dir, "c.conf.orig", "garbage\n", 0600);
    CHECK(conf_load(dir, &cfg, &e) == 0);
    CHECK(cfg.naccounts == 2);
    CHECK_STR(cfg.accounts[0].name, "first");
    CHECK_STR(cfg.accounts[1].name, "second");
    CHECK_STR(cfg.accounts[1].host, "h");
    CHECK_STR(cfg.accounts[1].user, "bob");
    snprintf(want, sizeof want, "%s/b.conf", dir);
    CHECK_STR(cfg.accounts[1].file, want);
    CHECK_STR(cfg.path, dir);
    conf_free(&cfg);
    /* twice, in another file: both places named */
    put_file(dir, "d.conf", "\naccount first\n", 0600);
    CHECK(conf_load(dir, &cfg, &e) < 0);
    snprintf(want, sizeof want,
             "%s/d.conf:2: account first is defined twice (first at %s/a.conf:3)", dir, dir);
    CHECK_STR(e.msg, want);
    CHECK(e.kind == ERR_USAGE);
}

TEST(conf_dir_file_starts_outside_any_section)
{
    const char *dir = unit_tmpdir();
    struct config cfg;
    struct err e;

    chmod(dir, 0700);
    put_file(dir, "a.conf", "account first\nhost h\nuser u\ndelivery maildir /m\n", 0600);
    /* a key at the top of the next file does not continue `first` */
    put_file(dir, "b.conf", "keep on\n", 0600);
    CHECK(conf_load(dir, &cfg, &e) < 0);
    CHECK(strstr(e.msg, "b.conf:1: `keep` outside any section") != NULL);
}

TEST(conf_account_digest_tells_changed_accounts_apart)
{
    static const char one[] = "account a\nhost h\nuser u\ndelivery maildir /m\npoll_interval 5m\n"
                              "account b\nhost h\nuser u\ndelivery maildir /m\n";
    static const char two[] = "account a\nhost h\nuser u\ndelivery maildir /m\npoll_interval 300\n"
                              "account b\nhost h\nuser u\ndelivery maildir /n\n";
    struct config c1, c2;
    struct err e;
    unsigned char a1[CONF_DIGEST_LEN], a2[CONF_DIGEST_LEN], b1[CONF_DIGEST_LEN],
        b2[CONF_DIGEST_LEN];

    CHECK(load(one, &c1, &e) == 0);
    CHECK(load(two, &c2, &e) == 0);
    CHECK(conf_find(&c1, "a")->poll_interval == 300);
    conf_account_digest(conf_find(&c1, "a"), a1);
    conf_account_digest(conf_find(&c2, "a"), a2);
    conf_account_digest(conf_find(&c1, "b"), b1);
    conf_account_digest(conf_find(&c2, "b"), b2);
    CHECK(memcmp(a1, a2, sizeof a1) == 0); /* the same settings, written otherwise */
    CHECK(memcmp(b1, b2, sizeof b1) != 0); /* another Maildir */
    CHECK(memcmp(a1, b1, sizeof a1) != 0); /* another name */
    conf_free(&c1);
    conf_free(&c2);
}

/* Every key whose value is a string is compared by its text: read twice,
 * an account with recipient, smtp_sender, smtp_helo, smtp_rejected
 * quarantine and the oauth2 words is unchanged (its pointers differ), and
 * a change to any of them is a change. */
TEST(conf_account_digest_compares_string_values_not_pointers)
{
    static const char base[] = "account a\nhost h\nuser u\ndelivery lmtp /run/lmtp\n"
                               "recipient bob carol\nsmtp_sender s@example.org\n"
                               "smtp_helo me.example\nsmtp_rejected quarantine /q\n"
                               "oauth2 google\noauth2_client_id id\noauth2_scope \"x y\"\n";
    static const char *const changed[] = {
        "recipient bob\n",         "smtp_sender t@example.org\n",
        "smtp_helo you.example\n", "smtp_rejected quarantine /r\n",
        "oauth2_client_id id2\n",  "oauth2_scope x\n"};
    struct config c1, c2;
    struct err e;
    unsigned char d1[CONF_DIGEST_LEN], d2[CONF_DIGEST_LEN];
    char text[512];

    CHECK(load(base, &c1, &e) == 0);
    CHECK(load(base, &c2, &e) == 0);
    conf_account_digest(conf_find(&c1, "a"), d1);
    conf_account_digest(conf_find(&c2, "a"), d2);
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
    conf_free(&c2);
    for (size_t i = 0; i < sizeof changed / sizeof *changed; i++) {
        snprintf(text, sizeof text, "%s%s", base, changed[i]); /* the later line wins */
        CHECK(load(text, &c2, &e) == 0);
        conf_account_digest(conf_find(&c2, "a"), d2);
        CHECK(memcmp(d1, d2, sizeof d1) != 0);
        conf_free(&c2);
    }
    conf_free(&c1);
}

/* smtp_connections: 1 to 16, default 0 (conf_smtp_connections: 4 for
 * LMTP, 1 for SMTP); 0 and 17 are errors naming the key. */
TEST(conf_smtp_connections_bounds)
{
    struct config c;
    struct err e;

    CHECK(load("account a\nhost h\nuser u\ndelivery lmtp /run/lmtp\n", &c, &e) == 0);
    CHECK(conf_find(&c, "a")->smtp_connections == 0);
    CHECK(conf_smtp_connections(conf_find(&c, "a")) == 4);
    conf_free(&c);
    CHECK(load("account a\nhost h\nuser u\ndelivery smtp relay\n", &c, &e) == 0);
    CHECK(conf_smtp_connections(conf_find(&c, "a")) == 1);
    conf_free(&c);
    CHECK(load("account a\nhost h\nuser u\ndelivery lmtp /run/lmtp\nsmtp_connections 16\n", &c,
               &e) == 0);
    CHECK(conf_find(&c, "a")->smtp_connections == 16);
    CHECK(conf_smtp_connections(conf_find(&c, "a")) == 16);
    conf_free(&c);
    CHECK(load("account a\nhost h\nuser u\nsmtp_connections 17\n", &c, &e) < 0);
    CHECK(strstr(e.msg, "smtp_connections") && strstr(e.msg, "at most 16"));
    CHECK(load("account a\nhost h\nuser u\nsmtp_connections 0\n", &c, &e) < 0);
    CHECK(strstr(e.msg, "smtp_connections") != NULL);
}
