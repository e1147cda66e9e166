/* Unit tests for the sink interface as every sink keeps it: a sink whose
 * end() is final (mbox, MDA) says so itself (one_at_a_time, set by its open
 * whatever the struct held) and takes the shared do-nothing sync, publish,
 * publish_sync and recover; Maildir, whose end() only stages, says the
 * opposite. */
#include <stdio.h>

#include "deliver.h"
#include "maildir.h"
#include "mbox.h"
#include "mda.h"
#include "unit.h"

/* The steps after end() succeed and do nothing for a final sink. */
static int final_steps_do_nothing(struct sink *s)
{
    char *const names[] = {"name"};
    struct err e;

    return s->ops->sync == deliver_final_sync && s->ops->publish == deliver_final_publish &&
           s->ops->publish_sync == deliver_final_sync && s->ops->recover == deliver_final_recover &&
           s->ops->sync(s, &e) == 0 && s->ops->publish(s, "name", &e) == 0 &&
           s->ops->publish_sync(s, &e) == 0 && s->ops->recover(s, names, 1, &e) == 0;
}

TEST(deliver_each_sink_says_whether_its_end_is_final)
{
    const char *dir = unit_tmpdir();
    char path[600];
    struct mbox_opts mo;
    struct mda_opts ma = {.command = "/bin/cat", .spool_dir = dir};
    struct sink s;
    struct err e;

    memset(&s, 0, sizeof s);
    mbox_opts_init(&mo);
    mo.spool_dir = dir;
    snprintf(path, sizeof path, "%s/mbox", dir);
    CHECK(mbox_open(&s, path, &mo, &e) == 0);
    CHECK(s.one_at_a_time == 1);
    CHECK(final_steps_do_nothing(&s));
    s.ops->close(&s);

    memset(&s, 0, sizeof s);
    CHECK(mda_open(&s, &ma, &e) == 0);
    CHECK(s.one_at_a_time == 1);
    CHECK(final_steps_do_nothing(&s));
    s.ops->close(&s);

    memset(&s, 0, sizeof s);
    s.one_at_a_time = 1;
    snprintf(path, sizeof path, "%s/Maildir", dir);
    CHECK(maildir_open(&s, path, "ab12", &e) == 0);
    CHECK(s.one_at_a_time == 0);
    CHECK(s.ops->sync != deliver_final_sync && s.ops->recover != deliver_final_recover);
    s.ops->close(&s);
}
