/*
 * fetch — the pipelined fetch engine. See fetch.h.
 *
 * A queue of commands in flight, answered strictly in order: RETR for the
 * messages to fetch (each behind its LIST n when sizes_each), DELE for
 * those to delete. With pipelining up to `window` RETRs are outstanding
 * (otherwise one command at a time), and QUIT follows the last DELEs (the
 * last RETR when the plan deletes nothing) without waiting for their
 * answers.
 * Commands are tiny (a full window, each RETR behind its LIST n, is at
 * most 28 KiB: "LIST 2000000" and "RETR 2000000" a message), below the
 * 64 KiB a TCP receive window holds even unscaled, so what is in flight
 * fits in the socket buffers and neither side can block the other on
 * writing. (1024 rather than 256: the server then answers in longer runs;
 * bench H's first run of 300,000 took 10% less time, 11.6 s against 12.9.)
 * Ended messages are made durable in groups of up to group_max messages
 * or group_bytes (sink sync, one journal fsync, renames, one directory
 * fsync); only then is their DELE queued. The byte bound keeps large
 * messages from piling up behind one barrier at the end: each group of big
 * ones is made durable while the next is still arriving. The time bound
 * (FETCH_GROUP_MS after the group's first message ended, checked as each
 * message ends and as each chunk of a body arrives) does the same on a
 * slow link: what is whole is committed while a large message is still
 * coming, so progress survives any rate of kills. A sink whose end() is
 * final (mbox, MDA) has each message's record written to the journal as
 * soon as end() returns (a write(), which a kill -9 cannot undo); the
 * group's one fsync still comes before any of its DELEs. A deferred sink
 * (LMTP/SMTP over several connections, deliver.h) hands a message on at
 * end(); its record is written when the sink settles it (delivered), or it
 * counts as not delivered then; the group's sync() settles every message
 * of the group, so its commit, its fsync and its DELEs see only delivered
 * ones.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "fetch.h"
#include "monotime.h"
#include "net.h"
#include "plan.h"
#include "received.h"
#include "stop.h"

#define FETCH_QUEUE (2 * FETCH_WINDOW + FETCH_GROUP)

enum flight_cmd { FL_RETR, FL_DELE, FL_LIST };

struct flight {
    unsigned long i; /* message index */
    enum flight_cmd cmd;
};

struct fetcher {
    struct fetch_job j;
    struct fetch_result *res;
    struct err *e;
    struct flight q[FETCH_QUEUE];
    size_t head, n;       /* the FIFO */
    unsigned retrs;       /* RETRs in it */
    unsigned long unsent; /* messages to fetch whose RETR is not yet queued */
    unsigned long next;   /* next message to consider */
    unsigned window;      /* RETRs allowed in flight */
    size_t group_max;     /* deliveries per durability barrier */
    uint64_t group_bytes; /* bytes per durability barrier */
    unsigned long group[FETCH_GROUP];
    char names[FETCH_GROUP][DELIVER_NAME_MAX];
    unsigned char gstate[FETCH_GROUP]; /* deferred sink: 0 outcome due, 1 delivered, 2 not */
    size_t ng;
    uint64_t gbytes;  /* the group's size as LIST (n) gave it, each capped at the bound */
    long long gstart; /* monotime_ms() when the group's first message ended */
    int final_end;    /* the sink's end() is final: record each message at once */
    int late_failed;  /* a commit made while a body arrived failed (error in *e) */
    unsigned long deletable[2 * FETCH_GROUP]; /* durable, DELE not yet queued */
    size_t nd, dpos;
    int deletes_none;        /* no message is deleted: no DELE, no EXPIRE 0 */
    unsigned long cur_num;   /* message being received */
    unsigned long cur_i;     /* ... its index */
    unsigned cur_writes;     /* chunks of it written so far */
    uint64_t cur_bytes;      /* bytes of its body written so far */
    unsigned long recv_msgs; /* received whole this run, for the progress line */
    uint64_t recv_bytes;
    int stopping;            /* the sink asked for no more messages (DELIVER_STOP) */
    unsigned long not_tried; /* messages to fetch left untried because of it */
};

/* ---- sending ------------------------------------------------------------ */

/* RETR, DELE or LIST n of message index i (numbered from 1 on the wire). */
static int send_numbered(struct pop3 *pop, const char *verb, unsigned long i, struct err *e)
{
    char cmd[40];

    snprintf(cmd, sizeof cmd, "%s %lu", verb, i + 1);
    return pop3_send(pop, cmd, NULL, e);
}

/* RETR of message index i, behind its LIST n when the listing had no sizes. */
static int send_retr(struct pop3 *pop, int sizes_each, unsigned long i, struct err *e)
{
    if (sizes_each && send_numbered(pop, "LIST", i, e) < 0) return -1;
    return send_numbered(pop, "RETR", i, e);
}

int fetch_guess(struct pop3 *pop, const struct fetch_rules *r, unsigned long remembered,
                unsigned long count, struct fetch_ahead *ahead, struct err *e)
{
    ahead->lo = ahead->hi = 0;
    if (count <= remembered) return 0;
    ahead->lo = remembered;
    ahead->hi = count - remembered < FETCH_GUESS_MAX ? count : remembered + FETCH_GUESS_MAX;
    for (unsigned long i = ahead->lo; i < ahead->hi; i++)
        if (send_retr(pop, r->sizes_each, i, e) < 0) return -1;
    return pop3_flush(pop, e);
}

/* ---- the queue in flight ------------------------------------------------- */

static void push(struct fetcher *f, unsigned long i, enum flight_cmd cmd)
{
    f->q[(f->head + f->n) % FETCH_QUEUE] = (struct flight){.i = i, .cmd = cmd};
    f->n++;
}

/* The answers send_retr asked for. */
static void push_retr(struct fetcher *f, unsigned long i)
{
    if (f->j.rules.sizes_each) push(f, i, FL_LIST);
    push(f, i, FL_RETR);
    f->retrs++;
}

static int queue_dele(struct fetcher *f, unsigned long i)
{
    if (send_numbered(f->j.pop, "DELE", i, f->e) < 0) return -1;
    push(f, i, FL_DELE);
    return 0;
}

static int queue_retr(struct fetcher *f, unsigned long i)
{
    if (send_retr(f->j.pop, f->j.rules.sizes_each, i, f->e) < 0) return -1;
    push_retr(f, i);
    f->unsent--;
    return 0;
}

/* May one more command go out now? Without pipelining only when nothing
 * is in flight (RFC 2449 §6.6). */
static int may_send(const struct fetcher *f)
{
    return f->j.rules.pipelining ? f->n < FETCH_QUEUE : f->n == 0;
}

/* Does message i still need its command: a RETR (unless fetch_guess sent
 * it already) or a DELE of a message deleted unread? */
static int needs_cmd(const struct fetcher *f, unsigned long i)
{
    enum plan_action act = listing_action(f->j.ls, i);

    if (plan_fetches(act)) return i < f->j.ahead.lo || i >= f->j.ahead.hi;
    return plan_deletes(act);
}

/* Is it time to top up the RETRs? Once at most half the window is in
 * flight: the other half then goes out in one write. Topping up at every
 * answer would send each RETR in a TLS record of its own and wake the
 * server once a message (300,000 records and wake-ups in a first run of
 * bench H), where half a window still keeps the link busy. */
static int refill_due(const struct fetcher *f)
{
    return f->retrs <= f->window / 2;
}

/* Queue the DELEs of durable messages, then RETRs (and DELEs of messages
 * deleted unread) up to the window, in batches (refill_due); no more RETRs
 * once the sink asked for a pause. */
static int fill(struct fetcher *f)
{
    const struct listing *ls = f->j.ls;

    while (f->dpos < f->nd && may_send(f))
        if (queue_dele(f, f->deletable[f->dpos++]) < 0) return -1;
    if (f->dpos == f->nd) f->dpos = f->nd = 0;
    if (!refill_due(f)) return 0;
    while (f->retrs < f->window && f->n + 2 <= FETCH_QUEUE - FETCH_GROUP && may_send(f)) {
        while (f->next < ls->count && (!needs_cmd(f, f->next) ||
                                       (f->stopping && plan_fetches(listing_action(ls, f->next)))))
            f->next++;
        if (f->next >= ls->count) break;
        int rc = plan_fetches(listing_action(ls, f->next)) ? queue_retr(f, f->next)
                                                           : queue_dele(f, f->next);
        if (rc < 0) return -1;
        f->next++;
    }
    return 0;
}

static int more_to_fetch(const struct fetcher *f)
{
    return f->retrs || f->unsent;
}

/* Once every command of the run is queued, QUIT may follow at once:
 * behind the last DELEs, or behind the last RETR when nothing is deleted,
 * neither by DELE nor by the server's EXPIRE 0 (then the server's QUIT
 * overlaps our last durability barrier). */
static int queue_quit(struct fetcher *f)
{
    int all_queued = f->next >= f->j.ls->count && f->unsent == 0;
    int no_dele_to_come = f->deletes_none || (!f->retrs && !f->ng && f->dpos == f->nd);

    if (!f->j.rules.pipelining || f->res->quit_sent || !all_queued || !no_dele_to_come) return 0;
    f->res->quit_sent = 1;
    return pop3_send(f->j.pop, "QUIT", NULL, f->e);
}

/* ---- reporting ----------------------------------------------------------- */

static void warn(const struct fetcher *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(const struct fetcher *f, const char *fmt, ...)
{
    const struct fetch_observer *ob = f->j.ob;
    char msg[ERR_MSG_MAX];
    va_list ap;

    if (!ob || !ob->warn) return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ob->warn(ob->ctx, msg);
}

/* A message that could not be delivered stays on the server; go on. */
static void delivery_failed(struct fetcher *f, unsigned long num, const struct err *why)
{
    const struct fetch_observer *ob = f->j.ob;
    struct err shown = *why;

    f->res->failed++;
    err_prefix(&shown, "message %lu was not delivered (it stays on the server)", num);
    if (ob && ob->not_delivered) ob->not_delivered(ob->ctx, num, &shown);
}

static int dele_reply(struct fetcher *f, unsigned long i)
{
    struct pop3_reply r;

    if (pop3_reply(f->j.pop, &r, f->e) < 0) return -1;
    FAULT_POINT("after-dele", i + 1);
    if (r.status == POP3_OK)
        f->res->deleted++;
    else
        warn(f, "%s refused to delete message %lu: %s", f->j.a->host, i + 1, r.text);
    return 0;
}

/* ---- durability ---------------------------------------------------------- */

/* The group could not be made durable or recorded (the disk full): its
 * messages failed and stay on the server; their files go when nothing of
 * them was recorded (the next run fetches them again), else the next
 * run's recovery settles them. Said once: the group is gone. */
static int group_lost(struct fetcher *f, int recorded)
{
    struct sink *k = f->j.sink;

    f->res->failed += f->ng;
    for (size_t j = 0; j < f->ng && !recorded && k->ops->discard; j++)
        if (f->names[j][0]) k->ops->discard(k, f->names[j]);
    f->ng = 0;
    f->gbytes = 0;
    return -1;
}

/* Make the group durable in the sink, record it, publish it, then queue
 * the DELEs its policy asks for (unless `dele` is 0: the session is ending). */
static int commit_group(struct fetcher *f, int dele)
{
    struct sink *k = f->j.sink;
    struct listing *ls = f->j.ls;
    int rc;

    if (f->ng == 0) return 0;
    if (f->dpos) { /* keep what is still to be queued at the front */
        memmove(f->deletable, f->deletable + f->dpos, (f->nd - f->dpos) * sizeof f->deletable[0]);
        f->nd -= f->dpos;
        f->dpos = 0;
    }
    if (f->nd + f->ng > sizeof f->deletable / sizeof f->deletable[0])
        return err_set(f->e, ERR_INTERNAL, "too many deletions waiting");
    if (k->ops->sync(k, f->e) < 0) return group_lost(f, 0);
    if (f->late_failed) return -1; /* a settled message could not be recorded */
    for (size_t j = 0; j < f->ng && !f->final_end; j++) { /* final: recorded at end() */
        if (listing_record(ls, f->group[j], STATE_DELIVERED, time(NULL),
                           f->names[j][0] ? f->names[j] : NULL, f->e) < 0)
            return -1;
    }
    if ((rc = state_commit(f->j.st, f->e)) < 0) return group_lost(f, rc != STATE_NOT_RECORDED);
    for (size_t j = 0; j < f->ng; j++) FAULT_POINT("after-journal", f->group[j] + 1);
    for (size_t j = 0; j < f->ng; j++)
        if (f->gstate[j] != 2 && k->ops->publish(k, f->names[j], f->e) < 0) return -1;
    if (k->ops->publish_sync(k, f->e) < 0) return -1;
    for (size_t j = 0; j < f->ng; j++) {
        unsigned long i = f->group[j];
        if (f->gstate[j] == 2) continue; /* a deferred sink's refusal: reported when settled */
        FAULT_POINT("after-publish", i + 1);
        f->res->fetched++;
        const struct plan_item *it = listing_item(ls, i); /* it was fetched: it has one */
        f->res->bytes += plan_item_size(it);              /* what was received (receive()) */
        if (!plan_deletes(it->action)) f->res->kept++;
        if (dele && plan_deletes(it->action)) f->deletable[f->nd++] = i;
    }
    f->ng = 0;
    f->gbytes = 0;
    return 0;
}

/* ---- receiving ----------------------------------------------------------- */

/* Prepend the Received: trace field (received.h). */
static int write_received(struct fetcher *f, const struct deliver_msg *m, struct err *e)
{
    const struct account *a = f->j.a;
    const struct net_conn *net = f->j.pop->net;
    char buf[RECEIVED_MAX];
    struct received_info ri = {
        .server = a->host,
        .server_ip = net->peer,
        .local = f->j.local_host,
        .tls = net->ssl != NULL,
        .account = a->name,
        .user = a->user,
        .uidl = m->uidl,
        .when = (long long)time(NULL),
    };
    size_t n = received_format(buf, sizeof buf, &ri);

    return f->j.sink->ops->write(f->j.sink, (const unsigned char *)buf, n, e);
}

/* Has the group been open for FETCH_GROUP_MS? */
static int group_old(const struct fetcher *f)
{
    return f->ng && monotime_ms() - f->gstart >= FETCH_GROUP_MS;
}

/* The body stream's writer: into the sink (with a crash point after the
 * first chunk, for the fault-injection tests). While a long body arrives,
 * the group of messages ended before it is committed once it is old
 * enough; if that fails, the run ends after this body. */
static int write_body(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct fetcher *f = ctx;
    int rc = f->j.sink->ops->write(f->j.sink, buf, len, e);

    f->cur_bytes += len;
    if (++f->cur_writes == 1) FAULT_POINT("mid-message", f->cur_num);
    if (!f->late_failed && group_old(f) && f->nd - f->dpos + f->ng <= FETCH_GROUP &&
        commit_group(f, 1) < 0)
        f->late_failed = 1;
    return rc;
}

/* What the server's own words allow a body to decode to: twice the size
 * LIST gave and 1 MiB of slack, so that a server lying about sizes is
 * caught. Without a size (LIST n refused) the whole mailbox's size from
 * STAT bounds it. Both are at most 2^62 (pop3_parse_list_line,
 * pop3_parse_stat). */
static uint64_t listed_limit(const struct fetcher *f, unsigned long i)
{
    const struct listing *ls = f->j.ls;

    const struct plan_item *it = listing_item(ls, i);

    /* a size held as PLAN_SIZE_MAX may be larger: the mailbox's bounds it
     * (so does a guessed RETR of a message the listing left: no item) */
    if (!it || !(it->flags & PLAN_HAVE_SIZE) || plan_item_size(it) == PLAN_SIZE_MAX)
        return ls->total * 2 + (1 << 20);
    return (uint64_t)plan_item_size(it) * 2 + (1 << 20);
}

/* The most a body may decode to: the smaller of listed_limit() and the
 * user's max_message_bytes, which the server cannot raise (a LIST of 2^62
 * bytes must not let it fill the disk). */
static uint64_t body_limit(const struct fetcher *f, unsigned long i)
{
    uint64_t listed = listed_limit(f, i);

    return listed < f->j.a->max_message_bytes ? listed : f->j.a->max_message_bytes;
}

/* pop3_body() failed on message index i: if the body grew past
 * max_message_bytes (not past what LIST promised, which stays a protocol
 * error), say so. The rest of the body was not read, so the session ends
 * here either way; the message stays on the server. */
static int body_failed(struct fetcher *f, unsigned long i)
{
    uint64_t max = f->j.a->max_message_bytes;

    if (f->j.pop->body_bytes <= body_limit(f, i) || max > listed_limit(f, i)) return -1;
    if (plan_fetches(listing_action(f->j.ls, i))) f->res->failed++;
    err_set(f->e, ERR_DELIVERY,
            "message %lu is larger than max_message_bytes (%llu bytes): not delivered, it "
            "stays on the server",
            i + 1, (unsigned long long)max);
    err_hint(f->e, "raise max_message_bytes to fetch it, or set max_size below it to leave "
                   "such messages on the server without downloading them");
    return -1;
}

/* A final sink accepted message index i: its record goes into the
 * journal now (written, not yet fsynced: commit_group does that). */
static int record_now(struct fetcher *f, unsigned long i)
{
    const struct listing *ls = f->j.ls;

    if (!(listing_item(ls, i)->flags & PLAN_HAVE_UIDL)) return 0;
    if (listing_record(ls, i, STATE_DELIVERED, time(NULL), NULL, f->e) < 0 ||
        state_write(f->j.st, f->e) < 0)
        return -1;
    FAULT_POINT("after-record", i + 1);
    return 0;
}

/* The sink is about to make the message being received final: its
 * intent goes into the journal first (deliver.h), durably. A power cut
 * after the sink's own fsync must find the intent on disk: without it the
 * message would be in the sink, recorded nowhere, and delivered again.
 * So the open group is committed first (its records are the only ones not
 * yet fsynced; its DELEs may then go out), then the intent is written and
 * fsynced alone: one journal fsync per message, beside the sink's own. */
static int intend(void *ctx, const char *note, struct err *e)
{
    struct fetcher *f = ctx;
    const struct listing *ls = f->j.ls;
    char buf[LISTING_UIDL_BUF];
    const char *uidl = listing_uidl_of(ls, f->cur_i, buf);

    if (!uidl) return 0;
    if (f->ng && commit_group(f, 1) < 0) {
        f->late_failed = 1; /* the run ends with that error (receive) */
        *e = *f->e;
        return -1;
    }
    if (state_intend(f->j.st, uidl, strlen(uidl), time(NULL), note, e) < 0) return -1;
    FAULT_POINT("after-intent", f->cur_num);
    return state_commit(f->j.st, e) < 0 ? -1 : 0;
}

/* The sink delivered the message being received to one of its
 * recipients, not to all: a recipient record goes into the journal now
 * (deliver.h). */
static int got(void *ctx, const char *name, const char *rcpt, struct err *e)
{
    struct fetcher *f = ctx;
    const struct listing *ls = f->j.ls;
    unsigned long i = f->cur_i;
    const char *uidl;
    char buf[LISTING_UIDL_BUF];
    size_t j;

    if (name) {
        for (j = 0; j < f->ng && strcmp(f->names[j], name) != 0; j++) continue;
        if (j == f->ng) return err_set(e, ERR_INTERNAL, "no message %s is being delivered", name);
        i = f->group[j];
    }
    if (!(uidl = listing_uidl_of(ls, i, buf))) return 0;
    return state_got(f->j.st, uidl, strlen(uidl), time(NULL), rcpt, e);
}

static void stop_asking(struct fetcher *f);

/* The sink did not deliver message num (its end() or, for a deferred
 * sink, its later outcome): reported; DELIVER_STOP stops asking for more.
 * -1 (the error in f->e) when the sink's own login was refused (SMTP
 * AUTH): nothing can be delivered, the run ends with that error. */
static int sink_refused(struct fetcher *f, unsigned long num, int rc, const struct err *why)
{
    delivery_failed(f, num, why);
    if (why->kind == ERR_AUTH) {
        *f->e = *why;
        return -1;
    }
    if (rc == DELIVER_STOP && !f->stopping) stop_asking(f);
    return 0;
}

/* A deferred sink's word on a message of the open group (deliver.h):
 * delivered, its record is written now; else it failed, stays on the
 * server and is neither recorded nor deleted. */
static int settled(void *ctx, const char *name, int rc, const struct err *why)
{
    struct fetcher *f = ctx;
    size_t j;

    for (j = 0; j < f->ng && (f->gstate[j] || strcmp(f->names[j], name) != 0); j++) continue;
    if (j == f->ng) {
        err_set(f->e, ERR_INTERNAL, "the delivery settled an unknown message %s", name);
        f->late_failed = 1;
        return -1;
    }
    f->gstate[j] = rc == 0 ? 1 : 2;
    if (rc == 0) {
        if (record_now(f, f->group[j]) < 0) {
            f->late_failed = 1;
            return -1;
        }
        return 0;
    }
    if (sink_refused(f, f->group[j] + 1, rc, why) < 0) f->late_failed = 1;
    return 0;
}

/* The sink asked for no more messages (DELIVER_STOP): no RETR goes out
 * any more; those not yet sent are not tried (those in flight are read
 * and dropped as they come, answer_one). */
static void stop_asking(struct fetcher *f)
{
    f->stopping = 1;
    f->not_tried += f->unsent;
    f->unsent = 0;
}

/* The sink takes message m: begun, its Received: line written. 1 = the
 * body may follow; 0 = refused, the body read and dropped, the message
 * counted failed; -1 = the session cannot go on. */
static int open_message(struct fetcher *f, const struct deliver_msg *m, struct err *werr)
{
    struct sink *k = f->j.sink;
    int rc = 0;

    if (k->ops->begin(k, m, werr) >= 0 &&
        (!f->j.a->received_header || (rc = write_received(f, m, werr)) >= 0))
        return 1;
    if (rc < 0) k->ops->abort(k);
    if (pop3_body(f->j.pop, NULL, NULL, 0, werr, f->e) < 0) return -1; /* discard */
    delivery_failed(f, m->num, werr);
    return 0;
}

/* Message index i's body reached the sink whole: end() makes it final (or
 * deferred: deliver.h) and a final one's record goes into the journal.
 * Returns as receive() does. */
static int close_message(struct fetcher *f, unsigned long i, struct plan_item *it,
                         char name[DELIVER_NAME_MAX], struct err *werr)
{
    struct sink *k = f->j.sink;
    int rc;

    if ((rc = k->ops->end(k, name, werr)) < 0) {
        if (f->late_failed) return -1; /* the group before it could not be committed */
        return sink_refused(f, i + 1, rc, werr);
    }
    /* From here on its size is what really came (the summary, the progress
     * line and the group bound count it), not what LIST claimed. */
    plan_item_set_size(it, f->cur_bytes);
    FAULT_POINT("after-tmp", i + 1);
    if (f->late_failed) return -1; /* an earlier message could not be recorded */
    /* a deferred sink's end() without a name was final (deliver.h) */
    if (f->final_end && (!k->deferred || !name[0]) && record_now(f, i) < 0) return -1;
    return 1;
}

/* Read the answer to RETR into the sink. 1 = ended (its name in `name`),
 * 0 = failed but the session goes on, -1 = the session cannot go on. */
static int receive(struct fetcher *f, unsigned long i, char name[DELIVER_NAME_MAX])
{
    struct listing *ls = f->j.ls;
    char ubuf[LISTING_UIDL_BUF];                /* the sink's m.uidl: for as long as it receives */
    struct plan_item *it = listing_item(ls, i); /* a message to fetch has one */
    struct deliver_msg m = {
        .num = i + 1, .uidl = listing_uidl_of(ls, i, ubuf), .size = plan_item_size(it)};
    struct pop3_reply r;
    struct err werr;
    char what[32];
    int rc;

    err_clear(&werr);
    if (pop3_reply(f->j.pop, &r, f->e) < 0) return -1;
    if (r.status != POP3_OK) {
        snprintf(what, sizeof what, "RETR %lu", m.num);
        pop3_fail(f->j.pop, &r, what, &werr);
        delivery_failed(f, m.num, &werr);
        return 0;
    }
    f->cur_num = m.num;
    f->cur_i = i;
    f->cur_writes = 0;
    f->cur_bytes = 0;
    if ((rc = open_message(f, &m, &werr)) <= 0) return rc;
    rc = pop3_body(f->j.pop, write_body, f, body_limit(f, i), &werr, f->e);
    if (rc == 0 && !f->late_failed) return close_message(f, i, it, name, &werr);
    f->j.sink->ops->abort(f->j.sink);
    if (f->late_failed) return -1;
    if (rc < 0) return body_failed(f, i);
    delivery_failed(f, m.num, &werr); /* the sink refused the body */
    return 0;
}

/* A guessed RETR (fetch_guess) of a message the plan does not fetch: read
 * the answer and drop it. */
static int drop_guessed(struct fetcher *f, unsigned long i)
{
    struct pop3_reply r;
    struct err ignored;

    if (pop3_reply(f->j.pop, &r, f->e) < 0) return -1;
    if (r.status != POP3_OK) return 0;
    if (pop3_body(f->j.pop, NULL, NULL, body_limit(f, i), &ignored, f->e) < 0)
        return body_failed(f, i);
    return 0;
}

/* The RETRs fetch_guess sent are the first commands in flight. */
static void queue_guessed(struct fetcher *f)
{
    for (unsigned long i = f->j.ahead.lo; i < f->j.ahead.hi; i++) {
        push_retr(f, i);
        if (plan_fetches(listing_action(f->j.ls, i))) f->unsent--;
    }
}

static void progress(struct fetcher *f, uint64_t size)
{
    const struct fetch_observer *ob = f->j.ob;

    f->recv_bytes += size;
    ++f->recv_msgs;
    if (ob && ob->progress) ob->progress(ob->ctx, f->recv_msgs, f->recv_bytes);
}

/* Answer the command at the head of the queue. */
static int answer_one(struct fetcher *f)
{
    struct flight x = f->q[f->head];
    const struct plan_item *it;
    enum plan_action act;
    char name[DELIVER_NAME_MAX];
    int rc;

    f->head = (f->head + 1) % FETCH_QUEUE;
    f->n--;
    if (x.cmd == FL_DELE) return dele_reply(f, x.i);
    if (x.cmd == FL_LIST) return listing_list_one(f->j.ls, x.i, f->e);
    f->retrs--;
    it = listing_item(f->j.ls, x.i); /* NULL: a guessed RETR of a message left */
    act = it ? (enum plan_action)it->action : PLAN_LEAVE;
    /* into `name`, not the group's slot: the group may be committed while
     * the body arrives (write_body) */
    if (f->stopping && plan_fetches(act)) f->not_tried++;
    rc = plan_fetches(act) && !f->stopping ? receive(f, x.i, name) : drop_guessed(f, x.i);
    if (rc < 0) return rc;
    if (rc == 1) {
        progress(f, plan_item_size(it));
        if (f->ng == 0) f->gstart = monotime_ms();
        memcpy(f->names[f->ng], name, DELIVER_NAME_MAX);
        f->gstate[f->ng] = name[0] || !f->j.sink->deferred ? 0 : 1; /* 1: settled at end() */
        f->group[f->ng++] = x.i;
        f->gbytes += plan_item_size(it) < f->group_bytes ? plan_item_size(it) : f->group_bytes;
    }
    /* also after a failed message: the group may be complete now */
    if (f->ng &&
        (f->ng >= f->group_max || f->gbytes >= f->group_bytes || !more_to_fetch(f) || group_old(f)))
        return commit_group(f, 1);
    return 0;
}

/* ---- the run --------------------------------------------------------------- */

static unsigned bounded(unsigned v, unsigned dflt, unsigned max)
{
    return v == 0 ? dflt : v < max ? v : max;
}

static void setup(struct fetcher *f)
{
    const struct fetch_rules *r = &f->j.rules;
    const struct listing *ls = f->j.ls;

    f->window = r->pipelining ? bounded(r->window, FETCH_WINDOW, FETCH_WINDOW) : 1;
    f->group_max = bounded(r->group_max, FETCH_GROUP, FETCH_GROUP);
    f->final_end = f->j.sink->one_at_a_time;
    f->group_bytes = r->group_bytes ? r->group_bytes : FETCH_GROUP_BYTES;
    /* EXPIRE 0: QUIT deletes what was RETRed, so it must wait for durability */
    f->deletes_none = f->j.pop->capa.expire != 0;
    for (unsigned long k = 0; k < listing_items(ls); k++) { /* a message without one is left */
        f->unsent += plan_fetches(ls->plan[k].action) != 0;
        if (plan_deletes(ls->plan[k].action)) f->deletes_none = 0;
    }
}

static int run(struct fetcher *f)
{
    int rc = 0;

    queue_guessed(f);
    while (rc == 0) {
        if (stop_requested()) {
            rc = net_interrupted(f->e);
            break;
        }
        if (fill(f) < 0 || queue_quit(f) < 0 || pop3_flush(f->j.pop, f->e) < 0) {
            rc = -1;
            break;
        }
        if (f->n == 0) {
            if (f->ng == 0) break;
            rc = commit_group(f, 1); /* then its DELEs */
            continue;
        }
        rc = answer_one(f);
    }
    if (rc < 0 && f->ng) {
        /* The connection or the sink failed: keep what is whole. Nothing
         * more is deleted; the next run sees these as fetched. */
        struct err keep = *f->e;
        if (commit_group(f, 0) < 0) warn(f, "%s", f->e->msg);
        *f->e = keep;
    }
    if (f->not_tried) {
        f->res->failed += f->not_tried;
        warn(f,
             "%lu more message%s not tried in this run (the delivery asked for a pause): %s on "
             "the server for the next run",
             f->not_tried, f->not_tried == 1 ? "" : "s",
             f->not_tried == 1 ? "it stays" : "they stay");
    }
    return rc;
}

int fetch_messages(const struct fetch_job *job, struct fetch_result *res, struct err *e)
{
    struct fetcher *f;
    int rc;

    memset(res, 0, sizeof *res);
    if (!(f = calloc(1, sizeof *f))) return err_set(e, ERR_INTERNAL, "out of memory");
    f->j = *job;
    f->res = res;
    f->e = e;
    setup(f);
    if (job->sink->ops->recover_intent) {
        job->sink->intend = intend;
        job->sink->intend_ctx = f;
    }
    if (job->sink->ops->recover_recipient) {
        job->sink->got = got;
        job->sink->got_ctx = f;
    }
    job->sink->settled = settled;
    job->sink->settled_ctx = f;
    rc = run(f);
    job->sink->intend = NULL;
    job->sink->intend_ctx = NULL;
    job->sink->got = NULL;
    job->sink->got_ctx = NULL;
    job->sink->settled = NULL;
    job->sink->settled_ctx = NULL;
    free(f);
    return rc;
}
