/*
 * runner — runs every registered unit test (optionally only those whose
 * name contains argv[1]) and prints "N passed, N failed" last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#define MAX_TESTS 512

static struct {
    const char *name;
    unit_fn fn;
} tests[MAX_TESTS];
static int ntests, failed_now;
static char tmpdir[256];

void unit_register(const char *name, unit_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
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

    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        failed_now = 0;
        tests[i].fn();
        if (failed_now) {
            printf("not ok %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok %s\n", tests[i].name);
            passed++;
        }
    }
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) perror("rm");
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
