/*
 * fuzz_import — the seen-UIDL importers (src/migrate/import.h): import_parse for
 * fetchmail's .fetchids, mpop's UIDL file and getmail's oldmail-* files,
 * then import_matches on every entry; and import_parse_spec.
 *
 * Input: byte 0 picks the format (0 fetchmail, 1 mpop, 2 getmail; other
 * values: all three in turn); the rest is the file's bytes, given in a
 * buffer of exactly len + 1 bytes as the contract asks.
 *
 * Invariants (abort on violation):
 *  - failure only for NUL bytes in a fetchmail or mpop file (ERR_USAGE);
 *  - every entry's UIDL is 1..255 bytes of %x21-7E and lies inside the
 *    text; fetchmail and mpop entries have a non-empty user and host inside
 *    the text (fetchmail's user has no space, its host neither space nor
 *    '@'); getmail entries have neither and a time >= 0;
 *  - entries + skipped lines never exceed the number of lines;
 *  - import_matches holds for an entry's own user and host;
 *  - import_parse_spec accepts exactly "fetchmail:", "mpop:" or "getmail:"
 *    followed by a non-empty path, which it points to.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "import.h"

static int inside(const char *p, const char *text, size_t len)
{
    return p >= text && p <= text + len;
}

static int word_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return 0;
    return 1;
}

static void run(enum import_format fmt, const uint8_t *data, size_t size)
{
    struct import_list l;
    struct err e;
    char *text = malloc(size + 1);
    size_t lines = 1;
    int has_nul = memchr(data, '\0', size) != NULL;

    if (!text) abort();
    if (size) memcpy(text, data, size);
    text[size] = 'X'; /* the byte after the text is the parser's to use */
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    if (import_parse(fmt, text, size, &l, &e) < 0) {
        FUZZ_CHECK(fmt != IMPORT_GETMAIL && has_nul && e.kind == ERR_USAGE);
        import_free(&l);
        return;
    }
    FUZZ_CHECK(l.text == text);
    FUZZ_CHECK(fmt == IMPORT_GETMAIL || !has_nul);
    FUZZ_CHECK(l.n + l.skipped <= lines);
    for (size_t i = 0; i < l.n; i++) {
        const struct import_entry *ent = &l.v[i];

        FUZZ_CHECK(inside(ent->uidl, text, size) && word_ok(ent->uidl));
        if (fmt == IMPORT_GETMAIL) {
            FUZZ_CHECK(!ent->user && !ent->host && ent->when >= 0);
            FUZZ_CHECK(import_matches(ent, "anyone", "any.host"));
            continue;
        }
        FUZZ_CHECK(ent->user && ent->host && ent->when == 0);
        FUZZ_CHECK(inside(ent->user, text, size) && inside(ent->host, text, size));
        FUZZ_CHECK(ent->user[0] && ent->host[0]);
        if (fmt == IMPORT_FETCHMAIL) {
            FUZZ_CHECK(!strchr(ent->user, ' ') && !strchr(ent->host, ' '));
            FUZZ_CHECK(!strchr(ent->host, '@'));
        }
        FUZZ_CHECK(import_matches(ent, ent->user, ent->host));
    }
    import_free(&l);
}

static void spec(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"fetchmail:", "mpop:", "getmail:"};
    char *s = fuzz_strndup(data, size);
    enum import_format f;
    const char *path = NULL;
    struct err e;
    int want = -1;

    for (int i = 0; i < 3; i++) {
        size_t n = strlen(names[i]);
        if (!strncmp(s, names[i], n) && s[n]) want = i;
    }
    if (import_parse_spec(s, &f, &path, &e) == 0) {
        FUZZ_CHECK(want >= 0 && (int)f == want);
        FUZZ_CHECK(path == s + strlen(names[want]));
    } else {
        FUZZ_CHECK(want < 0 && e.kind == ERR_USAGE);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sel;

    if (size < 1) return 0;
    sel = data[0];
    data++, size--;
    if (sel <= IMPORT_GETMAIL) {
        run((enum import_format)sel, data, size);
    } else {
        run(IMPORT_FETCHMAIL, data, size);
        run(IMPORT_MPOP, data, size);
        run(IMPORT_GETMAIL, data, size);
    }
    spec(data, size > 300 ? 300 : size);
    return 0;
}
