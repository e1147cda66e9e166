/* Unit tests for the pure HTTP pieces (httpmsg): URLs, forms, responses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpmsg.h"
#include "unit.h"

TEST(httpmsg_url_forms)
{
    struct httpmsg_url u;
    struct err e;

    CHECK(httpmsg_url_parse("https://login.example.com/t/oauth2/v2.0/token", "k", &u, &e) == 0);
    CHECK_STR(u.host, "login.example.com");
    CHECK(u.port == 443);
    CHECK_STR(u.path, "/t/oauth2/v2.0/token");
    CHECK(httpmsg_url_parse("https://127.0.0.1:8443?x=1", "k", &u, &e) == 0);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK(u.port == 8443);
    CHECK_STR(u.path, "/?x=1");
    CHECK(httpmsg_url_parse("HTTPS://[::1]:9/", "k", &u, &e) == 0);
    CHECK_STR(u.host, "::1");
    CHECK(u.port == 9);
    CHECK(httpmsg_url_parse("https://h", "k", &u, &e) == 0);
    CHECK_STR(u.path, "/");
}

TEST(httpmsg_url_refusals)
{
    static const char *const bad[] = {
        "http://h/t",       "https://",           "https://user:pw@h/t", "https://h:0/",
        "https://h:65536/", "https://h:12a/",     "https://h/a b",       "https://h/t#frag",
        "https://h\x01/",   "ftp://h/",           "https://[::1/",       "https://::1/",
        "https://h:/",      "https://h/\xc3\xa9",
    };
    struct httpmsg_url u;
    struct err e;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(httpmsg_url_parse(bad[i], "oauth2_token_url", &u, &e) == -1);
        CHECK(e.kind == ERR_USAGE);
        CHECK(strstr(e.msg, "oauth2_token_url") != NULL);
    }
}

TEST(httpmsg_same_origin_is_host_and_port)
{
    struct httpmsg_url a, b;
    struct err e;

    CHECK(httpmsg_url_parse("https://Login.Example.com/a", "k", &a, &e) == 0);
    CHECK(httpmsg_url_parse("https://login.example.COM:443/b", "k", &b, &e) == 0);
    CHECK(httpmsg_same_origin(&a, &b));
    CHECK(httpmsg_url_parse("https://login.example.com:444/b", "k", &b, &e) == 0);
    CHECK(!httpmsg_same_origin(&a, &b));
    CHECK(httpmsg_url_parse("https://evil.example/b", "k", &b, &e) == 0);
    CHECK(!httpmsg_same_origin(&a, &b));
}

TEST(httpmsg_form_encoding_and_masking)
{
    struct httpmsg_field f[] = {{"grant_type", "refresh_token", 0},
                                {"refresh_token", "a/b+c d&e=f~", 1},
                                {"scope", "https://x.example/POP offline_access", 0}};
    char *s = httpmsg_form_encode(f, 3, 0), *m = httpmsg_form_encode(f, 3, 1);

    CHECK(s && m);
    CHECK_STR(s, "grant_type=refresh_token&refresh_token=a%2Fb%2Bc+d%26e%3Df~&"
                 "scope=https%3A%2F%2Fx.example%2FPOP+offline_access");
    CHECK_STR(m, "grant_type=refresh_token&refresh_token=****&"
                 "scope=https%3A%2F%2Fx.example%2FPOP+offline_access");
    httpmsg_wipe_free(s);
    httpmsg_wipe_free(m);
}

TEST(httpmsg_query_values)
{
    static const char q[] = "code=ab%2Fc+d&state=xyz&empty=&flag";
    char v[32];

    CHECK(httpmsg_query_get(q, strlen(q), "code", v, sizeof v) == 1);
    CHECK_STR(v, "ab/c d");
    CHECK(httpmsg_query_get(q, strlen(q), "state", v, sizeof v) == 1);
    CHECK_STR(v, "xyz");
    CHECK(httpmsg_query_get(q, strlen(q), "empty", v, sizeof v) == 1);
    CHECK_STR(v, "");
    CHECK(httpmsg_query_get(q, strlen(q), "error", v, sizeof v) == 0);
    CHECK(httpmsg_query_get(q, strlen(q), "flag", v, sizeof v) == 0);
    CHECK(httpmsg_query_get(q, strlen(q), "cod", v, sizeof v) == 0);
    /* twice, a bad escape, a NUL, too long: malformed */
    CHECK(httpmsg_query_get("a=1&a=2", 7, "a", v, sizeof v) == -1);
    CHECK(httpmsg_query_get("a=%4", 4, "a", v, sizeof v) == -1);
    CHECK(httpmsg_query_get("a=%zz", 5, "a", v, sizeof v) == -1);
    CHECK(httpmsg_query_get("a=%00", 5, "a", v, sizeof v) == -1);
    CHECK(httpmsg_query_get("a=0123456789", 12, "a", v, 10) == -1);
    CHECK(httpmsg_query_get("a=0123456789", 12, "a", v, 11) == 1);
}

/* Parse `text` fed in pieces of `step` bytes (0: all at once), then EOF if
 * `eof`. Returns what the parser returned last. */
static int parse(const char *text, size_t len, size_t step, int eof, size_t body_max,
                 struct httpmsg_response *r, struct err *e)
{
    struct httpmsg_parser *p = malloc(sizeof *p);
    size_t pos = 0;
    int rc = 0;

    httpmsg_parser_init(p, r, body_max, NULL, NULL);
    while (pos < len && rc == 0 && !httpmsg_parser_done(p)) {
        size_t n = step && step < len - pos ? step : len - pos, used;
        rc = httpmsg_parser_feed(p, (const unsigned char *)text + pos, n, &used, e);
        if (used > n) rc = -2;
        pos += used;
        if (rc == 0 && used < n && !httpmsg_parser_done(p)) rc = -3;
    }
    if (rc == 0 && eof && !httpmsg_parser_done(p)) rc = httpmsg_parser_eof(p, e);
    if (rc == 0 && !httpmsg_parser_done(p)) rc = -4;
    free(p);
    return rc;
}

static int parse_str(const char *text, size_t step, int eof, struct httpmsg_response *r,
                     struct err *e)
{
    return parse(text, strlen(text), step, eof, 1000, r, e);
}

TEST(httpmsg_content_length_body_any_cut)
{
    static const char t[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                            "Content-Length: 13\r\nX-Other: y\r\n\r\n{\"a\":\"b\\n\"}\r\ntrailing";
    struct httpmsg_response r;
    struct err e;

    for (size_t step = 0; step < 8; step++) {
        CHECK(parse_str(t, step, 0, &r, &e) == 0);
        CHECK(r.status == 200);
        CHECK_STR(r.reason, "OK");
        CHECK_STR(r.content_type, "application/json");
        CHECK(r.body_len == 13);
        CHECK_STR((const char *)r.body, "{\"a\":\"b\\n\"}\r\n");
        httpmsg_response_free(&r);
    }
}

TEST(httpmsg_chunked_body_with_extensions_and_trailers)
{
    static const char t[] = "HTTP/1.1 400 Bad Request\nTransfer-Encoding: Chunked\n"
                            "Content-Length: 3\n\n5;ext=1\r\n{\"err\r\n0A\r\nor\":\"x\"} \n\r\n"
                            "0\r\nX-Trailer: z\r\n\r\n";
    struct httpmsg_response r;
    struct err e;

    for (size_t step = 0; step < 5; step++) {
        CHECK(parse_str(t, step, 0, &r, &e) == 0);
        CHECK(r.status == 400);
        CHECK_STR((const char *)r.body, "{\"error\":\"x\"} \n");
        httpmsg_response_free(&r);
    }
}

TEST(httpmsg_body_to_end_of_stream_and_interim)
{
    static const char t[] = "\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 302 Found\r\n"
                            "Location: https://elsewhere.example/x\r\n\r\nmoved";
    struct httpmsg_response r;
    struct err e;

    CHECK(parse_str(t, 3, 1, &r, &e) == 0);
    CHECK(r.status == 302);
    CHECK_STR(r.location, "https://elsewhere.example/x");
    CHECK_STR((const char *)r.body, "moved");
    httpmsg_response_free(&r);
    CHECK(parse_str("HTTP/1.1 204 No Content\r\n\r\n", 0, 0, &r, &e) == 0);
    CHECK(r.body_len == 0);
    httpmsg_response_free(&r);
}

static void expect_refused(const char *t, int eof, const char *why)
{
    struct httpmsg_response r;
    struct err e;

    err_clear(&e);
    if (parse_str(t, 0, eof, &r, &e) != -1 || e.kind != ERR_PROTOCOL || !strstr(e.msg, why)) {
        printf("  for %.40s: got \"%s\"\n", t, e.msg);
        unit_fail(__FILE__, __LINE__, why);
    }
    httpmsg_response_free(&r);
}

TEST(httpmsg_hostile_responses_refused)
{
    expect_refused("", 1, "closed the connection without an answer");
    expect_refused("SSH-2.0-OpenSSH\r\n", 0, "not an HTTP/1.x status line");
    expect_refused("HTTP/1.1 2000 OK\r\n", 0, "bad status code");
    expect_refused("HTTP/1.1 099 X\r\n", 0, "bad status code");
    expect_refused("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 1, "in the middle");
    expect_refused("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 0,
                   "two different Content-Length");
    expect_refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, "bad Content-Length");
    expect_refused("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", 0,
                   "bad Content-Length");
    expect_refused("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 0, "larger than");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0,
                   "other than chunked");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
                   0, "larger than");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 0,
                   "larger than");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
                   "bad chunk size");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 0,
                   "no line end after a chunk");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", 1,
                   "in the middle");
    expect_refused("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", 0, "folded");
    expect_refused("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", 0, "without a name");
    expect_refused("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, "bad header name");
    expect_refused("HTTP/1.1 101 Switching\r\n\r\n", 0, "switched protocols");
    expect_refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, "in the middle");
}

TEST(httpmsg_nul_in_head_refused)
{
    static const char t[] = "HTTP/1.1 200 OK\r\nA: \0b\r\n\r\n";
    struct httpmsg_response r;
    struct err e;

    CHECK(parse(t, sizeof t - 1, 0, 0, 100, &r, &e) == -1);
    CHECK(strstr(e.msg, "NUL") != NULL);
    httpmsg_response_free(&r);
}

TEST(httpmsg_bounds_on_lines_headers_interims_and_body)
{
    struct httpmsg_response r;
    struct err e;
    size_t cap = HTTPMSG_LINE_MAX * 2 + 200 * (HTTPMSG_MAX_HEADERS + 2);
    char *t = malloc(cap);
    size_t o;

    /* a header line one byte too long */
    o = (size_t)snprintf(t, cap, "HTTP/1.1 200 OK\r\nX: ");
    memset(t + o, 'a', HTTPMSG_LINE_MAX - 2);
    o += HTTPMSG_LINE_MAX - 2;
    memcpy(t + o, "\r\n\r\n", 5);
    CHECK(parse(t, strlen(t), 1000, 0, 100, &r, &e) == -1);
    CHECK(strstr(e.msg, "longer than") != NULL);
    httpmsg_response_free(&r);
    /* one header too many */
    o = (size_t)snprintf(t, cap, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= HTTPMSG_MAX_HEADERS; i++)
        o += (size_t)snprintf(t + o, cap - o, "X: y\r\n");
    snprintf(t + o, cap - o, "\r\n");
    CHECK(parse(t, strlen(t), 0, 0, 100, &r, &e) == -1);
    CHECK(strstr(e.msg, "too many header lines") != NULL);
    httpmsg_response_free(&r);
    /* interim responses without end */
    o = 0;
    for (int i = 0; i < 10; i++) o += (size_t)snprintf(t + o, cap - o, "HTTP/1.1 100 C\r\n\r\n");
    CHECK(parse(t, strlen(t), 0, 0, 100, &r, &e) == -1);
    CHECK(strstr(e.msg, "interim") != NULL);
    httpmsg_response_free(&r);
    /* a body read to the end of the stream, one byte over the bound */
    o = (size_t)snprintf(t, cap, "HTTP/1.1 200 OK\r\n\r\n");
    memset(t + o, 'b', 101);
    t[o + 101] = '\0';
    CHECK(parse(t, strlen(t), 7, 1, 100, &r, &e) == -1);
    CHECK(strstr(e.msg, "larger than") != NULL);
    httpmsg_response_free(&r);
    t[o + 100] = '\0';
    CHECK(parse(t, strlen(t), 7, 1, 100, &r, &e) == 0);
    CHECK(r.body_len == 100);
    httpmsg_response_free(&r);
    free(t);
}
