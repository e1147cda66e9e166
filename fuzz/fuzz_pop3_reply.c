/*
 * fuzz_pop3_reply — the pure POP3 reply parsers of src/pop3.h: status lines
 * (pop3_parse_reply, pop3_code_is) and CAPA listings (pop3_capa_reset,
 * pop3_capa_line, pop3_capa_has_sasl).
 *
 * Input: server lines separated by LF (a CR before the LF is dropped, as
 * net_getline does). Every line goes through pop3_parse_reply and, as one
 * CAPA listing, through pop3_capa_line.
 *
 * Invariants (abort on violation):
 *  - a line parses iff it starts with +OK / -ERR (any case) followed by the
 *    end or a space, or is "+" / "+ ..."; the status matches the prefix;
 *  - the response code is upper case, at most 63 bytes of %x21-7E without
 *    ']', present only if the text after the status starts with '[', and
 *    pop3_code_is() accepts the code itself and each hierarchical prefix;
 *  - the text is NUL-terminated, printable ASCII, shorter than its buffer;
 *  - the SASL list is upper case printable words separated by single
 *    spaces, NUL-terminated in its buffer, and pop3_capa_has_sasl() finds
 *    every word in it; implementation is printable; expire and login_delay
 *    are -2 (NEVER), -1 or a number below 1.1 * 10^9.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "harness.h"
#include "pop3.h"

static int printable(const char *s, size_t max)
{
    size_t n = strnlen(s, max);

    if (n == max) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

static int starts_word(const char *l, size_t len, const char *w)
{
    size_t n = strlen(w);

    return len >= n && strncasecmp(l, w, n) == 0 && (len == n || l[n] == ' ');
}

static void check_reply(const char *line, size_t len)
{
    struct pop3_reply r;
    int rc, ok = starts_word(line, len, "+OK"), er = starts_word(line, len, "-ERR");
    int cont = !ok && len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ');

    memset(&r, 0xa5, sizeof r);
    rc = pop3_parse_reply(line, len, &r);
    FUZZ_CHECK((rc == 0) == (ok || er || cont));
    if (rc < 0) return;
    FUZZ_CHECK(r.status == (ok ? POP3_OK : er ? POP3_ERR : POP3_CONT));
    FUZZ_CHECK(printable(r.text, sizeof r.text));
    FUZZ_CHECK(printable(r.code, sizeof r.code));
    if (r.code[0]) {
        size_t skip = ok ? 3 : 4, n = strlen(r.code);
        char prefix[sizeof r.code];

        FUZZ_CHECK(!cont);
        while (skip < len && line[skip] == ' ') skip++;
        FUZZ_CHECK(skip < len && line[skip] == '[');
        FUZZ_CHECK(len > skip + n + 1 && line[skip + n + 1] == ']');
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)r.code[i];
            FUZZ_CHECK(c > 0x20 && c < 0x7f && c != ']' && !islower(c));
            FUZZ_CHECK(toupper((unsigned char)line[skip + 1 + i]) == c);
        }
        FUZZ_CHECK(pop3_code_is(&r, r.code));
        for (size_t i = 1; i < n; i++) {
            if (r.code[i] != '/') continue;
            memcpy(prefix, r.code, i);
            prefix[i] = '\0';
            FUZZ_CHECK(pop3_code_is(&r, prefix));
        }
    }
}

static void check_capa(const struct pop3_capa *c)
{
    size_t n = strnlen(c->sasl, sizeof c->sasl);
    const char *s = c->sasl;

    FUZZ_CHECK(n < sizeof c->sasl);
    FUZZ_CHECK(printable(c->implementation, sizeof c->implementation));
    FUZZ_CHECK(c->expire >= -2 && c->expire <= 1100000000L);
    FUZZ_CHECK(c->login_delay >= -2 && c->login_delay <= 1100000000L);
    if (n == 0) return;
    FUZZ_CHECK(c->sasl_listed);
    FUZZ_CHECK(s[0] != ' ' && s[n - 1] != ' ');
    while (*s) {
        char word[sizeof c->sasl];
        size_t l = strcspn(s, " ");

        for (size_t i = 0; i < l; i++) {
            unsigned char ch = (unsigned char)s[i];
            FUZZ_CHECK(ch > 0x20 && ch < 0x7f && !islower(ch));
        }
        memcpy(word, s, l);
        word[l] = '\0';
        FUZZ_CHECK(pop3_capa_has_sasl(c, word));
        s += l;
        if (*s) {
            s++;
            FUZZ_CHECK(*s && *s != ' '); /* single spaces between words */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pop3_capa capa;
    size_t pos = 0;

    pop3_capa_reset(&capa);
    while (pos <= size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : size - pos, l = n;
        char *line;

        if (l > 0 && data[pos + l - 1] == '\r') l--;
        /* An exact-size copy, not NUL-terminated (as in the read buffer),
         * so ASan sees any read past the line. */
        line = malloc(l ? l : 1);
        if (!line) abort();
        if (l) memcpy(line, data + pos, l);
        check_reply(line, l);
        pop3_capa_line(&capa, line, l);
        check_capa(&capa);
        free(line);
        pos += n + 1;
    }
    pop3_capa_has_sasl(&capa, "");
    pop3_capa_has_sasl(&capa, "SCRAM-SHA-256");
    return 0;
}
