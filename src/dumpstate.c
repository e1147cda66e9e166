/*
 * dumpstate — `--dump-state`: each account's seen-state as text. See
 * dumpstate.h.
 */
#include <stdio.h>

#include "dumpstate.h"
#include "exitcode.h"
#include "log.h"
#include "session.h"
#include "state.h"

/* The journal's records that mark nothing seen (intents, recipients). */
static void print_aside(char kind, const struct state_intent *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%c %lld %s %s\n", kind, (long long)r[i].when, r[i].uidl,
               r[i].note[0] ? r[i].note : "-");
}

static void print_state(const char *name, const struct state *s)
{
    size_t n = state_count(s), nin, nr, nnames;
    const struct state_intent *in = state_intents(s, &nin), *r = state_recipients(s, &nr);

    state_pending_names(s, &nnames);
    printf("# account %s: %s\n", name, state_path(s));
    for (size_t i = 0; i < n; i++) {
        const struct state_entry *ent = state_entry_at(s, i);
        char buf[STATE_UIDL_MAX + 1];
        printf("%c %lu %s\n", state_entry_status(ent), (unsigned long)state_entry_time(s, ent),
               state_uidl(s, ent, buf));
    }
    print_aside(STATE_INTENT, in, nin);
    print_aside(STATE_RECIPIENT, r, nr);
    printf("# %zu UIDL%s, %zu intent%s, %zu recipient record%s, %zu Maildir rename%s to "
           "finish, %u damaged line%s skipped\n",
           n, n == 1 ? "" : "s", nin, nin == 1 ? "" : "s", nr, nr == 1 ? "" : "s", nnames,
           nnames == 1 ? "" : "s", state_dropped(s), state_dropped(s) == 1 ? "" : "s");
}

/* One account: 0, or the exit status of its failure (shown). */
static int dump_one(const struct cli_options *o, const struct account *a)
{
    char key[1024], old[1024];
    struct state *s = NULL;
    struct err e;

    session_state_key(a, key, sizeof key);
    session_old_state_key(a, old, sizeof old);
    if (state_peek(&s, cli_state_dir(o, a), key, old, &e) < 0 || state_load(s, &e) < 0) {
        state_close(s);
        log_error(a->name, &e);
        return exitcode_for_err(e.kind);
    }
    state_unlock(s);
    print_state(a->name, s);
    state_close(s);
    return EXIT_MAIL;
}

int dumpstate_run(struct config *cfg, const struct cli_options *o)
{
    int rc = EXIT_MAIL;

    for (size_t n = 0; n < cfg->naccounts; n++) {
        struct account *a = &cfg->accounts[n];
        int one;

        if (!cli_wants(o, a)) continue;
        cli_apply(o, a);
        one = dump_one(o, a);
        if (rc == EXIT_MAIL) rc = one;
    }
    if (fflush(stdout) != 0 && rc == EXIT_MAIL) rc = EXIT_INTERNAL;
    return rc;
}
