/*
 * received — the Received: trace field. See received.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "received.h"
#include "version.h"

#define RECEIVED_VALUE_MAX 200 /* longest value kept from any one source */

/* A host name or address as a domain-ish token: letters, digits, . - : _
 * only; anything else becomes '_'. Empty input gives "unknown". */
static void token(char *out, size_t len, const char *in)
{
    size_t o = 0;

    for (; in && *in && o + 1 < len && o < RECEIVED_VALUE_MAX; in++) {
        unsigned char c = (unsigned char)*in;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '-' || c == ':' || c == '_';
        out[o++] = ok ? (char)c : '_';
    }
    if (o == 0) o = (size_t)snprintf(out, len, "unknown");
    out[o] = '\0';
}

/* Text for inside a comment: printable ASCII and space, with ( ) \ escaped by a
 * backslash (RFC 5322 quoted-pair); other bytes become '?'. */
static void comment_text(char *out, size_t len, const char *in)
{
    size_t o = 0, n = 0;

    for (; in && *in && o + 3 < len && n < RECEIVED_VALUE_MAX; in++, n++) {
        unsigned char c = (unsigned char)*in;
        if (c == '(' || c == ')' || c == '\\') out[o++] = '\\';
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[o] = '\0';
}

size_t received_uidl_mark(char *buf, size_t len, const char *uidl)
{
    char text[2 * RECEIVED_VALUE_MAX + 8];
    int n;

    comment_text(text, sizeof text, uidl);
    n = snprintf(buf, len, ", uidl %s);", text);
    if (n < 0) n = 0;
    if ((size_t)n >= len) n = len ? (int)len - 1 : 0;
    return (size_t)n;
}

size_t received_format(char *buf, size_t len, const struct received_info *ri)
{
    char server[RECEIVED_VALUE_MAX + 16], ip[RECEIVED_VALUE_MAX + 16];
    char local[RECEIVED_VALUE_MAX + 16], host[256];
    char account[2 * RECEIVED_VALUE_MAX + 8], user[2 * RECEIVED_VALUE_MAX + 8];
    char uidl[2 * RECEIVED_VALUE_MAX + 8], date[64];
    time_t t = (time_t)ri->when;
    struct tm tm;
    int n;

    if (!ri->local) {
        if (gethostname(host, sizeof host) < 0) host[0] = '\0';
        host[sizeof host - 1] = '\0';
    }
    token(server, sizeof server, ri->server);
    token(ip, sizeof ip, ri->server_ip && *ri->server_ip ? ri->server_ip : "unknown");
    token(local, sizeof local, ri->local ? ri->local : host);
    comment_text(account, sizeof account, ri->account);
    comment_text(user, sizeof user, ri->user);
    comment_text(uidl, sizeof uidl, ri->uidl ? ri->uidl : "none");
    if (!localtime_r(&t, &tm) || !strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm))
        snprintf(date, sizeof date, "Thu, 01 Jan 1970 00:00:00 +0000");
    n = snprintf(buf, len,
                 "Received: from %s (%s [%s])\n"
                 "\tby %s with %s (popfetch %s)\n"
                 "\t(account %s, user %s, uidl %s);\n"
                 "\t%s\n",
                 server, server, ip, local, ri->tls ? "POP3S" : "POP3", POPFETCH_VERSION, account,
                 user, uidl, date);
    if (n < 0) n = 0;
    if ((size_t)n >= len) n = len ? (int)len - 1 : 0;
    return (size_t)n;
}
