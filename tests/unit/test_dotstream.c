/* Unit tests for the multi-line body decoder, against an independent
 * line-by-line reference, fed in 1-byte and random-sized chunks. */
#include <stdio.h>
#include <stdlib.h>

#include "dotstream.h"
#include "unit.h"

/* Reference: split at LF, drop one CR before it, strip a leading dot,
 * stop at a line that is exactly ".". Returns bytes of input used. */
static size_t reference(const unsigned char *in, size_t len, unsigned char *out, size_t *olen)
{
    size_t p = 0;

    *olen = 0;
    while (p < len) {
        const unsigned char *nl = memchr(in + p, '\n', len - p);
        size_t n = (size_t)(nl - (in + p)), l = n;
        const unsigned char *s = in + p;
        if (l > 0 && s[l - 1] == '\r') l--;
        p += n + 1;
        if (l == 1 && s[0] == '.') return p;
        if (l > 0 && s[0] == '.') {
            s++;
            l--;
        }
        memcpy(out + *olen, s, l);
        *olen += l;
        out[(*olen)++] = '\n';
    }
    return p;
}

/* Feed `in` through the decoder like pop3_body does with the net buffer:
 * chunks of `chunk` bytes (0 = random sizes), leftovers carried over. */
static size_t feed(const unsigned char *in, size_t len, size_t chunk, unsigned char *out,
                   size_t *olen, int *done)
{
    unsigned char *buf = malloc(len + 16);
    size_t have = 0, given = 0, used_total = 0;
    struct dotstream d;

    dotstream_init(&d);
    *olen = 0;
    while (!d.done && given <= len) {
        size_t step = chunk ? chunk : (size_t)(rand() % 300) + 1, o, used;
        if (step > len - given) step = len - given;
        memcpy(buf + have, in + given, step);
        have += step;
        given += step;
        used = dotstream_decode(&d, buf, have, &o);
        memcpy(out + *olen, buf, o);
        *olen += o;
        used_total += used;
        memmove(buf, buf + used, have - used);
        have -= used;
        if (given == len && !d.done) break;
    }
    *done = d.done;
    free(buf);
    return used_total;
}

static size_t random_body(unsigned char *buf, size_t max)
{
    static const char *const parts[] = {".",    "..",  "\r", "\n", "\r\n",  "a",          "From x",
                                        "\r\r", ".\r", "x.", " ",  "\r\n.", "\r\n..\r\n", "\0"};
    size_t n = 0;
    int pieces = rand() % 60;

    for (int i = 0; i < pieces && n + 16 < max; i++) {
        int k = rand() % 14;
        size_t l = k == 13 ? 1 : strlen(parts[k]);
        memcpy(buf + n, parts[k], l);
        n += l;
    }
    /* The server ends the last line, stuffs, and terminates; we mimic the
     * terminator only: bodies here may contain anything except a bare "."
     * line, which would be an earlier terminator (checked by reference). */
    memcpy(buf + n, "\r\n.\r\n+OK next\r\n", 16);
    return n + 16;
}

TEST(dotstream_unstuffs_and_converts)
{
    static const unsigned char in[] = "line one\r\n..dot\r\n..\r\nbare\rcr\r\n\r\n.\r\nAFTER";
    static const char want[] = "line one\n.dot\n.\nbare\rcr\n\n";
    unsigned char out[128];
    size_t olen, used;
    int done;

    used = feed(in, sizeof in - 1, 1, out, &olen, &done);
    CHECK(done);
    CHECK_MEM(out, olen, want, strlen(want));
    CHECK(used == sizeof in - 1 - 5); /* "AFTER" is left for the next reply */
}

TEST(dotstream_terminator_split_across_every_boundary)
{
    static const unsigned char in[] = "a\r\n.\r\n";
    unsigned char out[16];
    size_t olen;
    int done;

    for (size_t chunk = 1; chunk <= sizeof in; chunk++) {
        feed(in, sizeof in - 1, chunk, out, &olen, &done);
        CHECK(done);
        CHECK_MEM(out, olen, "a\n", 2);
    }
}

TEST(dotstream_empty_body)
{
    static const unsigned char in[] = ".\r\n";
    unsigned char out[8];
    size_t olen;
    int done;

    CHECK(feed(in, 3, 1, out, &olen, &done) == 3);
    CHECK(done);
    CHECK(olen == 0);
}

TEST(dotstream_keeps_nul_and_8bit)
{
    static const unsigned char in[] = {'a', 0, 0xff, 0x80, '\r', '\n', '.', '\r', '\n'};
    static const unsigned char want[] = {'a', 0, 0xff, 0x80, '\n'};
    unsigned char out[16];
    size_t olen;
    int done;

    feed(in, sizeof in, 2, out, &olen, &done);
    CHECK(done);
    CHECK_MEM(out, olen, want, sizeof want);
}

TEST(dotstream_truncated_stream_is_not_done)
{
    static const unsigned char in[] = "abc\r\n.\r";
    unsigned char out[16];
    size_t olen;
    int done;

    feed(in, sizeof in - 1, 1, out, &olen, &done);
    CHECK(!done);
}

TEST(dotstream_lf_only_server)
{
    static const unsigned char in[] = "x\n..y\n.\n";
    unsigned char out[16];
    size_t olen;
    int done;

    feed(in, sizeof in - 1, 3, out, &olen, &done);
    CHECK(done);
    CHECK_MEM(out, olen, "x\n.y\n", 5);
}

TEST(dotstream_matches_reference_on_random_input)
{
    unsigned char in[2048], out[2048], ref[2048];

    srand(12345);
    for (int round = 0; round < 3000; round++) {
        size_t len = random_body(in, sizeof in), olen, rlen, used, rused;
        int done;
        size_t chunk = (size_t)(round % 3 == 0 ? 1 : round % 3 == 1 ? 0 : 7);

        rused = reference(in, len, ref, &rlen);
        used = feed(in, len, chunk, out, &olen, &done);
        CHECK(done);
        CHECK(used == rused);
        CHECK_MEM(out, olen, ref, rlen);
    }
}
