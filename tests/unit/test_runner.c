/* Unit tests for the runner itself: no test is ever dropped. */
#include <stdio.h>

#include "unit.h"

static size_t ran[2000];
static size_t nran;

#define RECORDER(k)                                                                                \
    static void rec_##k(void)                                                                      \
    {                                                                                              \
        ran[nran++] = k;                                                                           \
    }
RECORDER(0)
RECORDER(1)
RECORDER(2)

/* The runner's list (the same code that holds the TEST()s) keeps every test
 * past its first block and past 512, the old fixed limit that dropped the
 * 513th test and every later one in silence. */
TEST(runner_list_keeps_the_513th_test_and_every_later_one)
{
    static const unit_fn recs[3] = {rec_0, rec_1, rec_2};
    struct unit_list l = {0};
    char names[2000][8];

    for (size_t i = 0; i < 2000; i++) {
        snprintf(names[i], sizeof names[i], "t%zu", i);
        CHECK(unit_list_add(&l, names[i], recs[i % 3]) == 0);
    }
    CHECK(l.n == 2000 && l.cap >= 2000);
    nran = 0;
    for (size_t i = 0; i < l.n; i++) l.v[i].fn();
    CHECK(nran == 2000);
    CHECK(l.v[512].name == names[512] && ran[512] == 512 % 3); /* the 513th */
    CHECK(l.v[1999].name == names[1999] && ran[1999] == 1999 % 3);
    unit_list_free(&l);
    CHECK(l.v == NULL && l.n == 0 && l.cap == 0);
}
