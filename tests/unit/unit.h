/*
 * unit — a very small test framework: TEST() registers a function, CHECK()
 * records a failure with file:line and stops that test. The runner prints
 * one line per failure and ends with "N passed, N failed". However many
 * tests there are, each one runs (a test that cannot be registered stops
 * the runner loudly).
 */
#ifndef POPFETCH_UNIT_H
#define POPFETCH_UNIT_H

#include <stddef.h>
#include <string.h>

typedef void (*unit_fn)(void);

/* A growing list of tests: what the runner runs, in registration order. */
struct unit_test {
    const char *name;
    unit_fn fn;
};
struct unit_list {
    struct unit_test *v;
    size_t n, cap;
};

/* Append a test; 0, or -1 (the list unchanged) when out of memory. */
int unit_list_add(struct unit_list *l, const char *name, unit_fn fn);
void unit_list_free(struct unit_list *l);

void unit_register(const char *name, unit_fn fn);
void unit_fail(const char *file, int line, const char *what);
int unit_failed_now(void);

/* A fresh empty temporary directory for the running test. */
const char *unit_tmpdir(void);

#define TEST(name)                                                                                 \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        unit_register(#name, name);                                                                \
    }                                                                                              \
    static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            unit_fail(__FILE__, __LINE__, #cond);                                                  \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            unit_fail(__FILE__, __LINE__, #a " == " #b);                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                                                \
    do {                                                                                           \
        if ((alen) != (blen) || memcmp((a), (b), (alen)) != 0) {                                   \
            unit_fail(__FILE__, __LINE__, #a " == " #b);                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
