/* Unit tests for the ~/.netrc parser (netrc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netrc.h"
#include "unit.h"

static char pw[NETRC_TOKEN_MAX + 1];

static int look(const char *text, const char *host, const char *user)
{
    pw[0] = '\0';
    return netrc_lookup(text, strlen(text), host, user, pw, sizeof pw);
}

TEST(netrc_machine_login_password)
{
    static const char t[] = "machine other.example login x password y\n"
                            "machine pop.example.org\n  login alice\n  password secret\n";

    CHECK(look(t, "pop.example.org", "alice") == 1);
    CHECK_STR(pw, "secret");
    CHECK(look(t, "POP.Example.ORG", "alice") == 1); /* host names have no case */
    CHECK(look(t, "pop.example.org", "bob") == 0);   /* another login */
    CHECK(look(t, "nowhere.example", "alice") == 0);
    CHECK(look(t, "other.example", "x") == 1);
    CHECK_STR(pw, "y");
}

TEST(netrc_first_matching_entry_and_default)
{
    static const char t[] = "machine h login bob password b\n"
                            "machine h password any\n"
                            "machine h login alice password a\n"
                            "default login anonymous password guest\n";

    CHECK(look(t, "h", "alice") == 1);
    CHECK_STR(pw, "any"); /* an entry without login is for every user */
    CHECK(look(t, "h", "bob") == 1);
    CHECK_STR(pw, "b");
    CHECK(look(t, "elsewhere", "anonymous") == 1);
    CHECK_STR(pw, "guest");
    CHECK(look(t, "elsewhere", "alice") == 0);
    CHECK(look("machine h login alice\n", "h", "alice") == 0); /* no password */
    CHECK(look("", "h", "alice") == 0);
    CHECK(look("machine", "h", "alice") == 0);
    CHECK(look("default password", "h", "alice") == 0); /* a keyword at the end: no value */
    CHECK(look("machine h password a password", "h", "alice") == 1);
    CHECK_STR(pw, "a");
}

TEST(netrc_quotes_commas_macros_account)
{
    static const char t[] = "macdef init\npassword nope\nmachine h password macro\n\n"
                            "machine h,login alice,account password,password \"a b\\\"c\"\n";

    CHECK(look(t, "h", "alice") == 1);
    CHECK_STR(pw, "a b\"c");
    /* a macro with CRLF line ends ends at an empty line too */
    CHECK(look("macdef m\r\nmachine h password no\r\n\r\nmachine h password yes\r\n", "h", "u") ==
          1);
    CHECK_STR(pw, "yes");
}

TEST(netrc_is_bounded_by_length_and_token_size)
{
    static const char t[] = "machine h password secretXXXX";
    char *big = malloc(NETRC_TOKEN_MAX + 64);

    CHECK(netrc_lookup(t, strlen(t) - 4, "h", "u", pw, sizeof pw) == 1);
    CHECK_STR(pw, "secret"); /* the length given is the end: nothing beyond is read */
    /* a NUL byte is data, never the end of a keyword, a name or a password */
    CHECK(netrc_lookup("machine h\0x password p", 22, "h", "u", pw, sizeof pw) == 0);
    CHECK(netrc_lookup("machine h password p\0q", 22, "h", "u", pw, sizeof pw) == -1);
    CHECK(big != NULL);
    memcpy(big, "machine h password ", 19);
    memset(big + 19, 'p', NETRC_TOKEN_MAX);
    big[19 + NETRC_TOKEN_MAX] = '\0';
    CHECK(look(big, "h", "u") == 1);
    CHECK(strlen(pw) == NETRC_TOKEN_MAX);
    CHECK(netrc_lookup(big, strlen(big), "h", "u", pw, 100) == -1); /* pw too small */
    big[19 + NETRC_TOKEN_MAX] = 'p';
    big[20 + NETRC_TOKEN_MAX] = '\0';
    CHECK(look(big, "h", "u") == -1); /* never a cut password */
    free(big);
}
