/*
 * fetchmailrc — ~/.fetchmailrc into popfetch config text: the entry points
 * of fetchmailrc.h. Owns the checks on the input as a whole (size, NUL
 * bytes), running the stages in order and freeing what they made: the lexer
 * (fmrc_lex.c, fetchmail's rcfile_l.l) feeds the parser (fmrc_parse.c,
 * rcfile_y.y), which records each entry and user plus notes for what
 * popfetch cannot carry; the writer (fmrc_write.c) merges each user with the
 * `defaults` entry before it and writes one account per user. fmrc_mem.c
 * holds their memory and output; fmrc.h is their shared header and contract.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fetchmailrc.h"
#include "fmrc.h"
#include "textfile.h"

int fetchmailrc_convert(const char *name, const char *text, size_t len, char **out, struct err *e)
{
    struct fm ps = {.name = name, .e = e, .line = 1, .pending = -1, .defaults = FM_NONE};
    struct fm_out o = {0};
    const char *nul;
    int rc = -1;

    *out = NULL;
    if (!text) text = "", len = 0;
    ps.p = text;
    ps.end = text + len;
    if (len > FETCHMAILRC_MAX_BYTES)
        return err_set(e, ERR_USAGE, "%s: larger than %d MiB: not a fetchmail rc file", name,
                       FETCHMAILRC_MAX_BYTES >> 20);
    if (len && (nul = memchr(text, '\0', len))) {
        int line = 1;
        for (const char *s = text; s < nul; s++) line += *s == '\n';
        return err_set(e, ERR_USAGE, "%s:%d: NUL byte: not a fetchmail rc file", name, line);
    }
    if (fmrc_parse_file(&ps) == 0 && fmrc_write_config(&ps, &o) == 0) {
        *out = o.p;
        o.p = NULL;
        rc = 0;
    }
    fmrc_out_release(&o);
    free(ps.names);
    free(ps.entries);
    free(ps.users);
    fmrc_arena_free(ps.arena);
    return rc;
}

int fetchmailrc_convert_file(const char *path, char **out, struct err *e)
{
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    if (textfile_read(path, FETCHMAILRC_MAX_BYTES, "fetchmailrc", &text, &len, NULL, e) < 0)
        return -1;
    rc = fetchmailrc_convert(path, text, len, out, e);
    textfile_free(text, len);
    return rc;
}

void fetchmailrc_free(char *out)
{
    if (!out) return;
    OPENSSL_cleanse(out, strlen(out));
    free(out);
}
