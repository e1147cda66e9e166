/*
 * fuzz_sasl_codec — the codecs under the SASL layer (src/sasl.h): base64
 * (sasl_b64_decode on hostile text, sasl_b64_encode, the size helpers) and
 * the APOP digest from a hostile greeting timestamp (sasl_apop_digest).
 *
 * Input: any bytes, used as base64 text, as binary to encode, and (up to
 * the first NUL) as an APOP timestamp.
 *
 * Invariants (abort on violation):
 *  - decode accepts only canonical padded base64 (length a multiple of 4,
 *    the standard alphabet, '=' only as 1-2 final pads, zero unused bits):
 *    then encode(decode(x)) == x; the output fits the documented
 *    sasl_b64_decoded_size(n) (buffer sized exactly: ASan catches more);
 *  - decode(encode(x)) == x, and the encoded length matches
 *    sasl_b64_encoded_size(n) - 1;
 *  - APOP: success gives 32 lower-case hex digits equal to MD5(timestamp
 *    || secret) computed here, and only for a timestamp that looks like a
 *    msg-id: '<', printable non-blank ASCII containing '@', '>', at most
 *    512 bytes; failure is ERR_PROTOCOL and leaves hex empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "harness.h"
#include "sasl.h"

static int b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Is this text plausible canonical base64 (alphabet and padding only)? */
static int shape_ok(const uint8_t *s, size_t n)
{
    size_t pad = 0;

    if (n % 4) return 0;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=') pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!b64_char(s[i])) return 0;
    return 1;
}

static void check_decode(const uint8_t *data, size_t size)
{
    size_t cap = sasl_b64_decoded_size(size), olen = 0, elen;
    unsigned char *out = malloc(cap ? cap : 1);
    char *in = malloc(size ? size : 1), *enc;
    int rc;

    if (!out || !in) abort();
    if (size) memcpy(in, data, size);
    rc = sasl_b64_decode(in, size, out, &olen);
    if (rc == 0) {
        FUZZ_CHECK(shape_ok(data, size));
        FUZZ_CHECK(olen <= cap);
        FUZZ_CHECK(size == 0 || olen + 2 >= cap);
        enc = malloc(sasl_b64_encoded_size(olen));
        if (!enc) abort();
        elen = sasl_b64_encode(out, olen, enc);
        FUZZ_CHECK(elen == size && memcmp(enc, data, size) == 0);
        free(enc);
    } else {
        FUZZ_CHECK(rc == -1 && olen == 0);
        FUZZ_CHECK(size > 0);
    }
    free(out);
    free(in);
}

static void check_encode(const uint8_t *data, size_t size)
{
    size_t esize = sasl_b64_encoded_size(size), olen;
    char *enc = malloc(esize);
    unsigned char *dec;
    size_t elen;

    if (!enc) abort();
    elen = sasl_b64_encode(data, size, enc);
    FUZZ_CHECK(elen == esize - 1 && enc[elen] == '\0');
    dec = malloc(sasl_b64_decoded_size(elen) + 1);
    if (!dec) abort();
    FUZZ_CHECK(sasl_b64_decode(enc, elen, dec, &olen) == 0);
    FUZZ_CHECK(olen == size && memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);
}

static int msg_id(const char *ts)
{
    size_t n = strlen(ts);
    int at = 0;

    if (n < 3 || n > 512 || ts[0] != '<' || ts[n - 1] != '>') return 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)ts[i];
        if (c <= 0x20 || c >= 0x7f) return 0;
        if (c == '@') at = 1;
    }
    return at;
}

static void check_apop(const uint8_t *data, size_t size)
{
    char *ts = fuzz_strndup(data, size), hex[33], want[33];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct err e;

    if (sasl_apop_digest(ts, "tanstaaf", hex, &e) == 0) {
        FUZZ_CHECK(msg_id(ts));
        FUZZ_CHECK(ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1);
        FUZZ_CHECK(EVP_DigestUpdate(ctx, ts, strlen(ts)) == 1);
        FUZZ_CHECK(EVP_DigestUpdate(ctx, "tanstaaf", 8) == 1);
        FUZZ_CHECK(EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 16);
        for (unsigned i = 0; i < 16; i++) snprintf(want + 2 * i, 3, "%02x", md[i]);
        FUZZ_CHECK(strcmp(hex, want) == 0);
    } else {
        FUZZ_CHECK(e.kind == ERR_PROTOCOL && hex[0] == '\0');
    }
    EVP_MD_CTX_free(ctx);
    free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    check_encode(data, size);
    check_apop(data, size);
    return 0;
}
