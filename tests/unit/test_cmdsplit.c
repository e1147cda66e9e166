/* Unit tests for command splitting (cmdsplit.c): words, quoting,
 * substitution of %F %T %U %H (a hostile value stays in one word), and the
 * commands refused. */
#include <stdio.h>

#include "cmdsplit.h"
#include "unit.h"

/* ---- helpers -------------------------------------------------------------- */

static int argv_is(char **argv, const char *const *want, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!argv[i] || strcmp(argv[i], want[i]) != 0) return 0;
    return argv[n] == NULL;
}

static int split_is(const char *cmd, const struct cmdsplit_vars *v, const char *const *want,
                    size_t n)
{
    char **argv;
    struct err e;
    int ok;

    if (cmdsplit_argv(cmd, v, &argv, &e) < 0) return 0;
    ok = argv_is(argv, want, n);
    cmdsplit_free(argv);
    return ok;
}

static int split_fails(const char *cmd, const char *what)
{
    char **argv = (char **)1;
    struct err e;

    return cmdsplit_argv(cmd, NULL, &argv, &e) < 0 && argv == NULL && e.kind == ERR_USAGE &&
           strstr(e.msg, what) != NULL && e.hint[0];
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(cmdsplit_words_and_substitutions)
{
    struct cmdsplit_vars v = {"alice@example.org", "bob", "alice", "pop.example.org"};
    static const char *const w1[] = {"/usr/bin/procmail", "-d", "bob"};
    static const char *const w2[] = {
        "deliver", "-f", "alice@example.org", "-a", "alice@pop.example.org", "100%", "%F"};
    static const char *const w3[] = {"a", "b c", "d \"e\" \\ $ ` \\x", "f g", "h\\i", ""};
    static const char *const w4[] = {"x-bob-y", "'bob'", "\"alice\""};
    static const char *const w5[] = {"cmd", "joined"};

    CHECK(split_is("/usr/bin/procmail -d %T", &v, w1, N(w1)));
    CHECK(split_is("  deliver\t-f '%F' -a \"%U@%H\" 100%% \\%F  ", &v, w2, N(w2)));
    CHECK(split_is("a 'b c' \"d \\\"e\\\" \\\\ \\$ \\` \\x\" f\\ g h\\\\i ''", &v, w3, N(w3)));
    CHECK(split_is("x-%T-y \"'%T'\" '\"%U\"'", &v, w4, N(w4)));
    CHECK(split_is("cmd \\\njoi\"\\\n\"ned", &v, w5, N(w5)));
}

TEST(cmdsplit_hostile_values_stay_in_one_word)
{
    static const char *const hostile[] = {
        "\"; rm -rf / $(x)", "a\nb c", "' \" \\", "`id` | mail x", "", "%T %%", "-oQ/tmp",
    };

    for (size_t i = 0; i < N(hostile); i++) {
        struct cmdsplit_vars v = {hostile[i], "bob", "alice", hostile[i]};
        const char *const want[] = {"procmail", "-f", hostile[i], "-d", "bob"};
        char quoted[300];
        const char *const want2[] = {"x", quoted};
        CHECK(split_is("procmail -f %F -d %T", &v, want, N(want)));
        CHECK(split_is("procmail -f '%F' -d \"%T\"", &v, want, N(want)));
        snprintf(quoted, sizeof quoted, "<%s|%s>", hostile[i], hostile[i]);
        CHECK(split_is("x '<'%F\"|\"%H'>'", &v, want2, N(want2)));
    }
}

TEST(cmdsplit_rejects_bad_commands)
{
    CHECK(split_fails("", "empty"));
    CHECK(split_fails(" \t\n", "empty"));
    CHECK(split_fails("procmail -d %X", "unknown %X"));
    CHECK(split_fails("procmail -d %", "lone %"));
    CHECK(split_fails("procmail 'unclosed", "unbalanced '"));
    CHECK(split_fails("procmail \"unclosed \\\"", "unbalanced \""));
    CHECK(split_fails("procmail \\", "backslash"));
    CHECK(split_fails("procmail; rm -rf /", "';'"));
    CHECK(split_fails("cat > file", "'>'"));
    CHECK(split_fails("echo $HOME", "'$'"));
    CHECK(split_fails("a | b", "'|'"));
}
