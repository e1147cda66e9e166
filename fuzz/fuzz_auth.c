/*
 * fuzz_auth — logging in against a hostile server (src/auth.h): the
 * greeting and CAPA, then auth_login with each `auth` setting: mechanism
 * choice from what the server offers, USER/PASS, APOP with the greeting's
 * timestamp, and the SASL exchanges over AUTH (base64 challenges read by
 * pop3_auth_reply, decoded and answered by sasl.c, "*" cancels), all over a
 * fake server whose output arrives in pieces of pseudo-random size.
 *
 * Input: byte 0 picks the chunking; byte 1: bits 0-3 the `auth` setting
 * (enum auth_choice, mod 11), bit 4 TLS is up, bit 5 allow_plaintext;
 * the rest is the server's output (as in tests/transcripts, S: lines).
 *
 * Invariants (abort on violation):
 *  - auth_login returns 0 or -1; a failure is never ERR_INTERNAL or
 *    ERR_NONE and carries a message; success names the mechanism used;
 *  - no command line and no error message or hint holds the password
 *    unless the mechanism sends it (USER/PASS: only as the PASS argument,
 *    which the trace shows as ****) or the server itself sent it;
 *  - without TLS and without allow_plaintext, a mechanism that sends a
 *    reusable secret never succeeds;
 *  - a named mechanism is the one reported.
 * SCRAM challenges asking for more than 20000 iterations are skipped (each
 * costs a PBKDF2 run).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "harness.h"
#include "sasl.h"

#define PASSWORD "Tr0ub4dor&3-fuzz-pw"
#define NONCE    "fyko+d2lbbFgONRv9qkxdawL"

static int contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && s[i + j] == needle[j]) j++;
        if (j == k) return 1;
    }
    return 0;
}

static void trace(void *ctx, char dir, const char *line, size_t len)
{
    (void)ctx;
    FUZZ_CHECK(!memchr(line, '\n', len));
    if (dir == 'C') FUZZ_CHECK(!contains(line, len, PASSWORD));
}

/* A base64 challenge line asking SCRAM for many iterations? */
static int too_many_iterations(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos, l = n;

        if (l > 0 && data[pos + l - 1] == '\r') l--;
        if (l > 2 && data[pos] == '+' && data[pos + 1] == ' ') {
            unsigned char *raw = malloc(sasl_b64_decoded_size(l - 2) + 1);
            size_t dlen;
            if (!raw) abort();
            if (sasl_b64_decode((const char *)data + pos + 2, l - 2, raw, &dlen) == 0) {
                for (size_t i = 0; i + 1 < dlen; i++) {
                    unsigned long v = 0;
                    if (!((i == 0 || raw[i - 1] == ',') && raw[i] == 'i' && raw[i + 1] == '='))
                        continue;
                    for (size_t k = i + 2; k < dlen && raw[k] >= '0' && raw[k] <= '9'; k++)
                        if ((v = v * 10 + (unsigned long)(raw[k] - '0')) > 20000) break;
                    if (v > 20000) {
                        free(raw);
                        return 1;
                    }
                }
            }
            free(raw);
        }
        pos += n + 1;
    }
    return 0;
}

static int sends_secret(int choice)
{
    return choice == AUTH_USER || choice == AUTH_PLAIN || choice == AUTH_LOGIN ||
           choice == AUTH_XOAUTH2 || choice == AUTH_OAUTHBEARER;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fake_server f;
    struct pop3 p;
    struct account a;
    struct auth_info ai = {0};
    struct err e;
    uint8_t seed;
    int flags, rc, pw_in_input;

    if (size < 2) return 0;
    seed = data[0];
    flags = data[1];
    data += 2, size -= 2;
    if (too_many_iterations(data, size)) return 0;
    pw_in_input = contains((const char *)data, size, PASSWORD);

    conf_account_defaults(&a);
    a.name = "fuzz";
    a.host = "pop.example.org";
    a.user = "alice";
    a.auth = (flags & 15) % (AUTH_EXTERNAL + 1);
    a.allow_plaintext = (flags >> 5) & 1;
    a.tls_cert_file = "/nonexistent/cert.pem";
    ai.encrypted = (flags >> 4) & 1;
    ai.test_nonce = NONCE;

    if (fake_server_open(&f, data, size, seed) < 0) return 0;
    pop3_init(&p, &f.net);
    p.trace = trace;
    err_clear(&e);
    if (pop3_greeting(&p, &e) == 0 && pop3_capa(&p, &e) == 0) {
        err_clear(&e);
        rc = auth_login(&p, &a, PASSWORD, &ai, &e);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            FUZZ_CHECK(ai.mechanism && ai.mechanism[0]);
            FUZZ_CHECK(ai.encrypted || a.allow_plaintext || a.auth == AUTH_AUTO ||
                       !sends_secret(a.auth));
            if (a.auth == AUTH_USER) FUZZ_CHECK(!strcmp(ai.mechanism, "USER"));
            if (a.auth == AUTH_APOP) FUZZ_CHECK(!strcmp(ai.mechanism, "APOP"));
            if (a.auth >= AUTH_PLAIN) FUZZ_CHECK(strcmp(ai.mechanism, "auto") != 0);
            if (!ai.encrypted && !a.allow_plaintext)
                FUZZ_CHECK(strcmp(ai.mechanism, "USER") && strcmp(ai.mechanism, "PLAIN") &&
                           strcmp(ai.mechanism, "LOGIN") && strcmp(ai.mechanism, "XOAUTH2") &&
                           strcmp(ai.mechanism, "OAUTHBEARER"));
        } else {
            FUZZ_CHECK(e.kind != ERR_NONE && e.kind != ERR_INTERNAL && e.msg[0]);
            FUZZ_CHECK(pw_in_input || (!contains(e.msg, strlen(e.msg), PASSWORD) &&
                                       !contains(e.hint, strlen(e.hint), PASSWORD)));
        }
    }
    fake_server_close(&f);
    return 0;
}
