/*
 * fuzz_dotstream — the POP3 multi-line body decoder (src/dotstream.h,
 * dotstream_decode) fed as pop3_body feeds it: chunks of pseudo-random size
 * (from the first input byte), held-back bytes handed in again in front of
 * the next chunk.
 *
 * Input: byte 0 picks the chunking, the rest is the server's byte stream.
 *
 * Invariants (abort on violation), against an independent line-by-line
 * reference decoder (split at LF, drop one CR before it, strip one leading
 * dot, stop at a line that is exactly "."):
 *  - output never exceeds input; never more than two bytes held back;
 *  - when the reference sees the terminator, the decoder is done at exactly
 *    the same input offset with exactly the same output, out_bytes agrees,
 *    and nothing after the terminator was touched;
 *  - when it does not, the decoder is not done and its output is a prefix of
 *    the reference output (complete lines at least).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dotstream.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *ref, *buf, *got, *before;
    size_t rlen, rplen, rend, have = 0, given = 0, glen = 0, consumed = 0;
    uint32_t rng;
    int rdone;
    struct dotstream d;

    if (size < 1) return 0;
    rng = data[0] * 2246822519u + 1;
    data++, size--;
    ref = malloc(size + 1);
    buf = malloc(size + 3);
    got = malloc(size + 1);
    before = malloc(size + 3);
    rdone = fuzz_dot_reference(data, size, ref, &rlen, &rplen, &rend);

    dotstream_init(&d);
    while (!d.done) {
        size_t step = 1 + fuzz_rand(&rng) % 97, out, used;

        if (step > size - given) step = size - given;
        memcpy(buf + have, data + given, step);
        have += step;
        given += step;
        memcpy(before, buf, have);
        used = dotstream_decode(&d, buf, have, &out);
        FUZZ_CHECK(used <= have);
        /* Held-back bytes (and anything after the terminator) are untouched. */
        FUZZ_CHECK(memcmp(buf + used, before + used, have - used) == 0);
        FUZZ_CHECK(out <= used);
        memcpy(got + glen, buf, out);
        glen += out;
        consumed += used;
        if (!d.done) FUZZ_CHECK(have - used <= 2);
        memmove(buf, buf + used, have - used);
        have -= used;
        if (given == size) {
            /* A last call with nothing new must not change anything. */
            if (!d.done && have > 0) {
                used = dotstream_decode(&d, buf, have, &out);
                FUZZ_CHECK(used == 0 && out == 0);
            }
            break;
        }
    }
    FUZZ_CHECK(d.out_bytes == glen);
    FUZZ_CHECK(glen <= consumed);
    if (rdone) {
        FUZZ_CHECK(d.done);
        FUZZ_CHECK(consumed == rend);
        FUZZ_CHECK(glen == rlen && memcmp(got, ref, rlen) == 0);
    } else {
        FUZZ_CHECK(!d.done);
        FUZZ_CHECK(glen >= rlen && glen <= rplen);
        FUZZ_CHECK(memcmp(got, ref, glen) == 0);
        FUZZ_CHECK(consumed + 2 >= size);
    }
    free(ref);
    free(buf);
    free(got);
    free(before);
    return 0;
}
