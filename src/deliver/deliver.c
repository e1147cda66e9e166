/*
 * deliver — picks the sink for an account. See deliver.h.
 */
#include "deliver.h"
#include "conf.h"
#include "maildir.h"
#include "mbox.h"
#include "mda.h"

static int open_mbox(struct sink *s, const struct account *a, struct err *e)
{
    struct mbox_opts o;

    mbox_opts_init(&o);
    o.dotlock = (a->mbox_locking & MBOX_LOCK_DOTLOCK) != 0;
    o.fcntl_lock = (a->mbox_locking & MBOX_LOCK_FCNTL) != 0;
    return mbox_open(s, a->delivery.arg, &o, e);
}

static int open_mda(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                    struct err *e)
{
    struct mda_opts o = {
        .command = a->delivery.arg,
        .timeout_s = (int)a->mda_timeout,
        .account = a->name,
        .remote_user = a->user,
        .server = a->host,
        .stderr_line = c->mda_stderr,
        .stderr_ctx = c->mda_stderr_ctx,
    };

    return mda_open(s, &o, e);
}

int deliver_open(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                 struct err *e)
{
    switch (a->delivery.kind) {
    case DELIVERY_MBOX:
        s->one_at_a_time = 1;
        return open_mbox(s, a, e);
    case DELIVERY_MDA:
        s->one_at_a_time = 1;
        return open_mda(s, a, c, e);
    case DELIVERY_MAILDIR:
        return maildir_open(s, a->delivery.arg, c->tag, e);
    default:
        return err_set(e, ERR_USAGE, "account %s has no delivery", a->name);
    }
}
