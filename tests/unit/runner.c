/*
 * runner — runs every registered unit test (optionally only those whose
 * name contains argv[1]) and prints "N passed, N failed" last.
 *
 * The list of tests grows as TEST() constructors register them: there is no
 * fixed maximum. A test that cannot be registered (out of memory) stops the
 * runner before any test runs, loudly: a test must never be dropped in
 * silence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static struct unit_list tests;
static int failed_now;
static char tmpdir[256];

int unit_list_add(struct unit_list *l, const char *name, unit_fn fn)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct unit_test *v;

        if (cap > SIZE_MAX / sizeof *v) return -1;
        v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = name;
    l->v[l->n].fn = fn;
    l->n++;
    return 0;
}

void unit_list_free(struct unit_list *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void unit_register(const char *name, unit_fn fn)
{
    if (unit_list_add(&tests, name, fn) < 0) {
        fprintf(stderr, "unit: cannot register test %s (out of memory): stopping\n", name);
        printf("0 passed, 1 failed\n");
        exit(1);
    }
}

void unit_fail(const char *file, int line, const char *what)
{
    failed_now = 1;
    printf("  %s:%d: check failed: %s\n", file, line, what);
}

int unit_failed_now(void)
{
    return failed_now;
}

const char *unit_tmpdir(void)
{
    char cmd[300];

    if (tmpdir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) perror("rm");
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pfunit.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
    return tmpdir;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;

    for (size_t i = 0; i < tests.n; i++) {
        if (argc > 1 && !strstr(tests.v[i].name, argv[1])) continue;
        failed_now = 0;
        tests.v[i].fn();
        if (failed_now) {
            printf("not ok %s\n", tests.v[i].name);
            failed++;
        } else {
            printf("ok %s\n", tests.v[i].name);
            passed++;
        }
    }
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) perror("rm");
    }
    unit_list_free(&tests);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
