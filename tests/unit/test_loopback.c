/* Unit tests for the OAuth2 loopback redirect listener's parsing (loopback). */
#include <stdlib.h>
#include <string.h>

#include "loopback.h"
#include "unit.h"

TEST(loopback_request_line)
{
    char q[64];
    static const char get[] = "GET /?code=abc&state=s1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    CHECK(loopback_parse_request(get, strlen(get), q, sizeof q) == 1);
    CHECK_STR(q, "code=abc&state=s1");
    CHECK(loopback_parse_request("GET / HTTP/1.0\n\n", 16, q, sizeof q) == 1);
    CHECK_STR(q, "");
    CHECK(loopback_parse_request("GET /favicon.ico HTTP/1.1\r\n\r\n", 29, q, sizeof q) == 0);
    CHECK(loopback_parse_request("GET //?code=x HTTP/1.1\r\n\r\n", 27, q, sizeof q) == 0);
    CHECK(loopback_parse_request("POST /?code=x HTTP/1.1\r\n\r\n", 27, q, sizeof q) == 0);
    CHECK(loopback_parse_request("GET /?code=x\r\n\r\n", 16, q, sizeof q) == -1);
    CHECK(loopback_parse_request("GET /?code=x HTTP/2\r\n\r\n", 23, q, sizeof q) == -1);
    CHECK(loopback_parse_request("\x16\x03\x01\x02\x00\n", 6, q, sizeof q) == -1); /* TLS */
    CHECK(loopback_parse_request("GET /?code=0123456789 HTTP/1.1\r\n\r\n", 34, q, 10) == -1);
}

TEST(loopback_answers)
{
    char *code = NULL;
    struct err e;

    CHECK(loopback_check_answer("code=C.1%2F2&state=st8", "st8", &code, &e) == 0);
    CHECK_STR(code, "C.1/2");
    free(code);
    /* a wrong, missing, doubled or longer state is refused, before anything else */
    CHECK(loopback_check_answer("code=C&state=st9", "st8", &code, &e) == -1);
    CHECK(strstr(e.msg, "`state`") != NULL && code == NULL);
    CHECK(loopback_check_answer("code=C", "st8", &code, &e) == -1);
    CHECK(loopback_check_answer("code=C&state=st8&state=st8", "st8", &code, &e) == -1);
    CHECK(loopback_check_answer("code=C&state=st8x", "st8", &code, &e) == -1);
    CHECK(loopback_check_answer("error=access_denied&state=x", "st8", &code, &e) == -1);
    CHECK(strstr(e.msg, "`state`") != NULL);
    CHECK(loopback_check_answer("error=access_denied&error_description=No%1b%5B&state=st8", "st8",
                                &code, &e) == -1);
    CHECK(e.kind == ERR_AUTH);
    CHECK(strstr(e.msg, "access_denied (No?[)") != NULL); /* ESC made harmless */
    CHECK(loopback_check_answer("state=st8", "st8", &code, &e) == -1);
    CHECK(strstr(e.msg, "no usable authorization code") != NULL);
    CHECK(loopback_check_answer("state=st8&code=", "st8", &code, &e) == -1);
}
