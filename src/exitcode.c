/*
 * exitcode — error kinds and results to exit codes. See exitcode.h.
 */
#include "exitcode.h"

int exitcode_for_err(enum err_kind k)
{
    switch (k) {
    case ERR_NONE:
        return EXIT_MAIL;
    case ERR_CONNECT:
    case ERR_TLS:
        return EXIT_CONNECT;
    case ERR_DNS:
        return EXIT_DNS;
    case ERR_AUTH:
        return EXIT_AUTH;
    case ERR_PROTOCOL:
        return EXIT_PROTOCOL;
    case ERR_SERVER:
    case ERR_TIMEOUT:
        return EXIT_SERVER;
    case ERR_BUSY:
        return EXIT_BUSY;
    case ERR_USAGE:
        return EXIT_USAGE;
    case ERR_CONFIG_PERM:
        return EXIT_PERM;
    case ERR_LOCKED:
        return EXIT_LOCKED;
    case ERR_DELIVERY:
    case ERR_LOCAL:
        return EXIT_DELIVERY;
    case ERR_LIMIT:
        return EXIT_LIMIT;
    case ERR_INTERRUPTED:
    case ERR_INTERNAL:
        return EXIT_INTERNAL;
    }
    return EXIT_INTERNAL;
}

int exitcode_for_result(const struct session_result *r)
{
    if (r->err.kind != ERR_NONE) return exitcode_for_err(r->err.kind);
    if (r->failed) return EXIT_DELIVERY;
    if (r->waiting) return EXIT_LIMIT;
    return r->fetched ? EXIT_MAIL : EXIT_NOMAIL;
}

int exitcode_combine(int overall, int status)
{
    if (overall > EXIT_NOMAIL) return overall;
    if (status > EXIT_NOMAIL) return status;
    return (overall == EXIT_MAIL || status == EXIT_MAIL) ? EXIT_MAIL : EXIT_NOMAIL;
}
