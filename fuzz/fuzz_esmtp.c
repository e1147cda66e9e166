/*
 * fuzz_esmtp — an LMTP/SMTP client session (src/deliver/esmtp.h on
 * src/net.h) against a server whose whole output is the fuzz input: the
 * greeting and LHLO/EHLO reply with its extensions (esmtp_start), then two
 * transactions (esmtp_send; the second starts with RSET), read through
 * net.c's buffered reader in pieces of pseudo-random size.
 *
 * Input: byte 0 picks the chunking; byte 1: bit 0 LMTP, bits 1-2 the
 * number of recipients less one (1..4), bit 3 an 8-bit message, bit 4 SMTP
 * AUTH (esmtp_set_auth, the strongest mechanism offered; the fake server is
 * a Unix socket, so the secret may go out). The rest is the server's
 * output.
 *
 * Invariants (abort on violation):
 *  - each call returns 0 or -1, never with ERR_INTERNAL;
 *  - after esmtp_start: up only on success; only known extension bits;
 *    AUTH's mechanisms printable and bounded;
 *  - after esmtp_send returning 0: MAIL's and every recipient's code is
 *    200..599 and their texts are printable (quoted); the connection is
 *    still up; after -1 it is down;
 *  - data_sent only if MAIL was accepted.
 */
#include <string.h>

#include "esmtp.h"
#include "harness.h"

static const char message[] = "Subject: fuzz\n\n.a dot\n\xc3\xa9\nend";
static size_t msg_off;

static ssize_t rd(void *ctx, void *buf, size_t len, struct err *e)
{
    size_t n = sizeof message - 1 - msg_off;

    (void)ctx, (void)e;
    if (n > len) n = len;
    memcpy(buf, message + msg_off, n);
    msg_off += n;
    return (ssize_t)n;
}

static void check_text(const char *t)
{
    size_t n = strlen(t);

    FUZZ_CHECK(n < ESMTP_TEXT_MAX);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(t[i] >= ' ' && t[i] < 0x7f);
}

static void check_result(const struct esmtp_result *r, size_t nrcpt)
{
    FUZZ_CHECK(r->mail.code >= 200 && r->mail.code <= 599);
    check_text(r->mail.text);
    for (size_t i = 0; i < nrcpt; i++) {
        FUZZ_CHECK(r->rcpt[i].code >= 200 && r->rcpt[i].code <= 599);
        check_text(r->rcpt[i].text);
    }
    if (r->data_sent) FUZZ_CHECK(r->mail.code / 100 == 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const rcpt[] = {"a@example.org", "b", "c@example.org", "d"};
    struct fake_server f;
    struct esmtp s;
    struct err e;
    struct esmtp_envelope env = {.sender = "s@example.org", .rcpt = rcpt};
    struct esmtp_result res;
    int rc;

    if (size < 2) return 0;
    if (esmtp_init(&s, data[1] & 1, "127.0.0.1:24", "fuzz.example", 1000, &e) < 0) abort();
    if (fake_server_open(&f, data + 2, size - 2, data[0]) < 0) return 0;
    env.nrcpt = 1 + ((data[1] >> 1) & 3);
    env.body8 = (data[1] >> 3) & 1;
    env.size = sizeof message;
    if ((data[1] >> 4) & 1 && esmtp_set_auth(&s, "fuzzuser", "fuzz secret", -1, &e) < 0) abort();
    s.c = f.net;
    err_clear(&e);
    rc = esmtp_start(&s, &e);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc < 0 ? (!s.up && e.kind != ERR_INTERNAL) : s.up);
    FUZZ_CHECK((s.ext & ~127u) == 0);
    FUZZ_CHECK(strlen(s.mechs) < sizeof s.mechs);
    for (const char *p = s.mechs; *p; p++) FUZZ_CHECK(*p >= ' ' && *p < 0x7f);
    for (int round = 0; rc == 0 && round < 2; round++) {
        msg_off = 0;
        err_clear(&e);
        rc = esmtp_send(&s, &env, rd, NULL, &res, &e);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            FUZZ_CHECK(s.up);
            check_result(&res, env.nrcpt);
        } else {
            FUZZ_CHECK(!s.up && e.kind != ERR_INTERNAL);
        }
    }
    f.net = s.c; /* closed by esmtp on failure: the harness must not close it twice */
    esmtp_free(&s);
    fake_server_close(&f);
    return 0;
}
