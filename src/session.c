/*
 * session — one account's run. See session.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "connect.h"
#include "deliver.h"
#include "fault.h"
#include "listing.h"
#include "log.h"
#include "net.h"
#include "plan.h"
#include "pop3.h"
#include "progress.h"
#include "received.h"
#include "secret.h"
#include "session.h"
#include "state.h"
#include "stop.h"

struct session {
    const struct account *a;
    const struct session_opts *o;
    struct session_result *res;
    struct err *e;
    struct net_conn net;
    struct pop3 pop;
    struct connection conn; /* the connect sequence's view of net and pop */
    struct state st;
    struct sink sink;
    int have_state, have_sink;
    char *secret;
    struct listing ls;                /* the server's STAT, LIST and UIDL */
    unsigned long cur_num;            /* message being received */
    unsigned cur_writes;              /* chunks of it written so far */
    uint64_t cur_bytes;               /* bytes of its body written so far */
    int pipelining;                   /* pipeline RETR/DELE (account setting and CAPA) */
    int quit_sent;                    /* QUIT went out behind the last DELEs (or RETR) */
    int listing_sent;                 /* the listing went out behind PASS */
    int sizes_each;                   /* no LIST: a LIST n goes out before each RETR n */
    unsigned long guess_lo, guess_hi; /* messages RETRed ahead of the listing */
    unsigned long recv_msgs;          /* received whole this run, for the progress line */
    uint64_t recv_bytes;
    char local_host[256]; /* for Received: */
};

/* ---- local side: state and sink ---------------------------------------- */

static uint32_t tag_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A line the MDA wrote to its stderr: passed on, named and made safe. */
static void mda_said(void *ctx, const char *line, size_t len)
{
    log_relay((const char *)ctx, "MDA: ", line, len);
}

void session_state_key(const struct account *a, char *buf, size_t len)
{
    state_key(buf, len, a->user, a->host, conf_port(a));
}

/* Before connecting: one run per account at a time, and a sink that can
 * be opened. */
static int lock_local(struct session *s)
{
    char key[1024], tag[16];

    session_state_key(s->a, key, sizeof key);
    if (state_lock(&s->st, s->o->state_dir, key, s->e) < 0) return -1;
    s->have_state = 1;
    snprintf(tag, sizeof tag, "%08x", tag_hash(key));
    if (s->o->check) return 0; /* --check touches nothing local */
    struct deliver_ctx c = {
        .tag = tag, .mda_stderr = mda_said, .mda_stderr_ctx = (void *)s->a->name};
    if (deliver_open(&s->sink, s->a, &c, s->e) < 0) return -1;
    s->have_sink = 1;
    return 0;
}

/* Load the seen-state and finish what a previous run left in the sink.
 * Called while the server prepares the listing. */
static int open_local(struct session *s)
{
    if (state_load(&s->st, s->e) < 0) return -1;
    if (s->st.dropped)
        log_warn(s->a->name,
                 "state %s: ignored %u damaged line%s (those messages may be "
                 "fetched again)",
                 s->st.path, s->st.dropped, s->st.dropped == 1 ? "" : "s");
    if (!s->have_sink) return 0; /* --check */
    return s->sink.ops->recover(&s->sink, s->st.names, s->st.nnames, s->e);
}

/* ---- connecting and logging in ------------------------------------------ */

/* What a fetch shows of the connect sequence: -v the connection and TLS,
 * -vv the server's certificate too (once per connection). */
static void seen_connected(void *ctx, const struct net_conn *c, unsigned port)
{
    const struct account *a = ctx;

    log_info(a->name, "connected to %s [%s] port %u", a->host, c->peer, port);
}

static void seen_certificate(const struct account *a, const struct tls_peer_info *pi)
{
    log_info(a->name, "certificate: subject %s; issuer %s", pi->subject, pi->issuer);
    log_info(a->name, "certificate: names %s; SHA-256 %s", pi->names[0] ? pi->names : "(none)",
             pi->fingerprint);
    if (pi->why.kind == ERR_NONE)
        log_info(a->name, "certificate: trusted (%s)", pi->basis);
    else
        log_info(a->name, "certificate: accepted (%s), though %s", pi->basis, pi->why.msg);
}

static void seen_tls(void *ctx, const struct net_conn *c, const struct tls_peer_info *pi)
{
    const struct account *a = ctx;
    char desc[128];

    if (!a->tls_verify && !a->tls_fingerprint)
        log_warn(a->name, "tls_verify is off: the server's identity is not checked");
    tls_describe(c, desc, sizeof desc);
    log_info(a->name, "%s", desc);
    if (log_get_level() >= LOG_TRACE) seen_certificate(a, pi);
}

static int connect_server(struct session *s)
{
    const struct account *a = s->a;
    struct connect_observer ob = {.ctx = (void *)a, .connected = seen_connected, .tls = seen_tls};
    struct connect_params cp = {.use = CONNECT_STRICT, .ob = &ob};

    if (log_get_level() >= LOG_TRACE) {
        cp.trace = log_trace;
        cp.trace_ctx = (void *)a->name;
    }
    return connect_open(&s->conn, &s->net, &s->pop, a, &cp, s->e);
}

/* Some servers reveal capabilities (UIDL, PIPELINING, EXPIRE for this
 * user) only after login: is it worth asking again? */
static int capa_again(const struct pop3_capa *c)
{
    return c->known && (c->marked_user || !c->uidl || !c->top || !c->pipelining);
}

static int capa_after_login(struct session *s)
{
    struct pop3_capa before = s->pop.capa;

    if (!capa_again(&before)) return 0;
    if (pop3_capa(&s->pop, s->e) < 0) return -1;
    if (!s->pop.capa.known) s->pop.capa = before;
    return 0;
}

static int will_pipeline(const struct session *s)
{
    return s->a->pipelining == PIPELINING_ON ||
           (s->a->pipelining == PIPELINING_AUTO && s->pop.capa.pipelining);
}

static const char *const listing_cmds[] = {"STAT", "LIST", "UIDL", NULL};
static const char *const listing_no_list[] = {"STAT", "UIDL", NULL};

/* The listing to pipeline. Every message's size (one LIST) is needed for
 * max_size, for --check and for the progress line's byte count of a first
 * run. Once a run has left a state, few messages are new in a typical run:
 * each fetched message's size comes from a LIST n pipelined right before
 * its RETR, and the whole mailbox's LIST (tens of bytes per message, read
 * at every run) is not asked for. */
static const char *const *pipelined_listing(struct session *s)
{
    s->sizes_each = s->st.have_main && !s->a->max_size && !s->o->check;
    return s->sizes_each ? listing_no_list : listing_cmds;
}

/* The listing rides behind USER/PASS when nothing after login could
 * change the decision to pipeline it. */
static int login(struct session *s)
{
    struct auth_info ai = {.encrypted = s->net.ssl != NULL,
                           .untrusted = !connect_secret_ok(&s->conn),
                           .test_nonce = FAULT_TEST_NONCE(),
                           .pipeline = will_pipeline(s)};
    int rc;

    if (ai.pipeline && !capa_again(&s->pop.capa)) ai.then = pipelined_listing(s);
    rc = auth_login(&s->pop, s->a, s->secret, &ai, s->e);
    s->listing_sent = ai.then_sent;
    secret_free(s->secret);
    s->secret = NULL;
    if (rc < 0) return -1;
    log_info(s->a->name, "logged in as %s (%s)", s->a->user, ai.mechanism);
    return capa_after_login(s);
}

/* ---- the listing (listing.c reads it; here: what is asked for, when) -- */

/* RETR, DELE or LIST n of message index i (numbered from 1 on the wire). */
static int send_numbered(struct session *s, const char *verb, unsigned long i)
{
    char cmd[40];

    snprintf(cmd, sizeof cmd, "%s %lu", verb, i + 1);
    return pop3_send(&s->pop, cmd, NULL, s->e);
}

/* RETR of message index i, behind its LIST n when the listing had no sizes. */
static int send_retr(struct session *s, unsigned long i)
{
    if (s->sizes_each && send_numbered(s, "LIST", i) < 0) return -1;
    return send_numbered(s, "RETR", i);
}

/* While LIST and UIDL are on their way, RETR the messages the state
 * suggests are new. Mail is appended: when the state remembers n
 * messages, the new ones most likely start at number n + 1. Up to
 * GUESS_MAX of them are asked for at once, in order; the listing still
 * decides (fetch_all reads and drops a guessed message the plan does not
 * fetch). A right guess saves the round trip from UIDL to the first RETR.
 * Not with max_size or max_messages, which may leave new mail on the
 * server unread, not with EXPIRE 0 (a RETR is a deletion there), and not
 * for --check. */
#define GUESS_MAX 64

static int guess_new(struct session *s)
{
    unsigned long n = s->st.nents;

    if (s->o->check || s->a->max_size || s->a->max_messages || s->pop.capa.expire == 0 ||
        s->ls.count <= n)
        return 0;
    s->guess_lo = n;
    s->guess_hi = s->ls.count - n < GUESS_MAX ? s->ls.count : n + GUESS_MAX;
    for (unsigned long i = s->guess_lo; i < s->guess_hi; i++)
        if (send_retr(s, i) < 0) return -1;
    return pop3_flush(&s->pop, s->e);
}

/* STAT, LIST, UIDL: with pipelining sent together (perhaps already
 * behind PASS), one round trip. */
static int read_listing(struct session *s)
{
    int ahead = s->pipelining; /* also when the listing went out behind PASS */

    if (ahead && !s->listing_sent)
        for (const char *const *c = pipelined_listing(s); *c; c++)
            if (pop3_send(&s->pop, *c, NULL, s->e) < 0) return -1;
    if (ahead && pop3_flush(&s->pop, s->e) < 0) return -1;
    /* the server works on the listing meanwhile */
    if (open_local(s) < 0) return -1;
    if (listing_stat(&s->ls, ahead, s->e) < 0) return -1;
    s->res->listed = s->ls.count;
    s->res->have_listing = 1;
    if (ahead && guess_new(s) < 0) return -1;
    if (s->ls.count == 0 && !ahead) {
        s->ls.have_uidl = 1;
        return 0;
    }
    if ((!s->sizes_each && listing_list(&s->ls, ahead, s->e) < 0) ||
        listing_uidl(&s->ls, ahead, s->e) < 0)
        return -1;
    if (s->ls.count == 0) s->ls.have_uidl = 1;
    if (!s->ls.have_uidl && (s->a->keep.mode != KEEP_OFF || s->o->check)) {
        err_set(s->e, ERR_PROTOCOL,
                "%s does not support UIDL, so popfetch cannot tell new "
                "messages from old ones",
                s->a->host);
        err_hint(s->e, "with this server use `keep off` (fetch and delete everything)");
        return -1;
    }
    return listing_cover(&s->ls, s->e);
}

/* ---- planning --------------------------------------------------------- */

static void policy_of(const struct account *a, struct plan_policy *p)
{
    memset(p, 0, sizeof *p);
    p->keep = a->keep.mode == KEEP_OFF  ? PLAN_KEEP_OFF
              : a->keep.mode == KEEP_ON ? PLAN_KEEP_ON
                                        : PLAN_KEEP_FOR;
    p->keep_seconds = a->keep.seconds;
    p->fetch_all = a->fetch_all;
    p->max_size = a->max_size;
    p->max_messages = a->max_messages;
    p->now = time(NULL);
}

/* Tell the user once about each message too big to fetch, and remember
 * that we told them (it is not "seen": raising max_size fetches it). */
static int report_too_big(struct session *s)
{
    for (unsigned long i = 0; i < s->ls.count; i++) {
        if (s->ls.plan[i].action != PLAN_TOO_BIG || s->ls.plan[i].reported_big) continue;
        log_warn(s->a->name,
                 "message %lu is %llu bytes, more than max_size; it stays on the "
                 "server",
                 i + 1, (unsigned long long)s->ls.plan[i].size);
        if (!s->o->check && s->ls.msgs[i].uidl_len &&
            state_add(&s->st, listing_uidl_of(&s->ls, i), s->ls.msgs[i].uidl_len, STATE_SKIPPED,
                      time(NULL), NULL, s->e) < 0)
            return -1;
    }
    return s->o->check ? 0 : state_commit(&s->st, s->e);
}

/* CAPA EXPIRE: the server deletes mail on its own after N days. */
static void warn_expire(struct session *s)
{
    long days = s->pop.capa.expire;
    const struct keep_setting *k = &s->a->keep;

    if (days < 0 || k->mode == KEEP_OFF) return;
    if (days == 0)
        log_warn(s->a->name,
                 "%s deletes every message once it is retrieved (EXPIRE 0), "
                 "whatever `keep` says",
                 s->a->host);
    else if (k->mode == KEEP_ON || k->seconds > (unsigned long)days * 86400UL)
        log_warn(s->a->name,
                 "%s deletes messages after %ld days (EXPIRE), sooner than `keep` "
                 "asks",
                 s->a->host, days);
}

static int make_plan(struct session *s)
{
    struct plan_policy p;
    struct plan_summary sum;

    policy_of(s->a, &p); /* sizes and what the state knows are in s->plan already */
    plan_make(&p, s->ls.plan, s->ls.count, &sum);
    s->res->waiting = sum.over_limit;
    s->res->new_messages = sum.fetch + sum.over_limit;
    for (unsigned long i = 0; i < s->ls.count; i++)
        if (s->ls.plan[i].action == PLAN_TOO_BIG) s->res->too_big++;
    log_info(s->a->name, "%lu message%s on the server, %lu to fetch", s->ls.count,
             s->ls.count == 1 ? "" : "s", sum.fetch);
    if (sum.fetch && !s->o->check) {
        uint64_t bytes = 0;
        for (unsigned long i = 0; i < s->ls.count; i++)
            if (plan_fetches(s->ls.plan[i].action)) bytes += s->ls.plan[i].size;
        progress_start(s->a->name, sum.fetch, bytes);
    }
    warn_expire(s);
    return report_too_big(s);
}

/* ---- fetching ---------------------------------------------------------
 *
 * A queue of commands in flight, answered strictly in order: RETR for the
 * messages to fetch (each behind its LIST n when sizes_each), DELE for
 * those to delete. With PIPELINING up to
 * FETCH_WINDOW RETRs are outstanding (otherwise one command at a time),
 * and QUIT follows the last DELEs (the last RETR when the plan deletes
 * nothing) without waiting for their answers.
 * Commands are tiny (a full window, each RETR behind its LIST n, is about
 * 8 KiB), so what is in flight
 * stays far below what the socket buffers hold and neither side can block
 * the other on writing.
 * Ended messages are made durable in groups of up to FETCH_GROUP messages
 * or FETCH_GROUP_BYTES (sink sync, one journal fsync, renames, one
 * directory fsync); only then is their DELE queued. The byte bound keeps
 * large messages from piling up behind one barrier at the end: each group
 * of big ones is made durable while the next is still arriving. mbox and
 * MDA sinks record each message at once. */

#define FETCH_WINDOW      256
#define FETCH_GROUP       64
#define FETCH_GROUP_BYTES (4UL << 20)
#define FETCH_QUEUE       (2 * FETCH_WINDOW + FETCH_GROUP)

enum flight_cmd { FL_RETR, FL_DELE, FL_LIST };

struct flight {
    unsigned long i; /* message index */
    enum flight_cmd cmd;
};

struct fetcher {
    struct flight q[FETCH_QUEUE];
    size_t head, n;       /* the FIFO */
    unsigned retrs;       /* RETRs in it */
    unsigned long unsent; /* messages to fetch whose RETR is not yet queued */
    unsigned long next;   /* next message to consider */
    unsigned window;      /* RETRs allowed in flight */
    size_t group_max;     /* deliveries per durability barrier */
    unsigned long group[FETCH_GROUP];
    char names[FETCH_GROUP][DELIVER_NAME_MAX];
    size_t ng;
    uint64_t gbytes; /* the group's size as LIST (n) gave it, each capped at the bound */
    unsigned long deletable[2 * FETCH_GROUP]; /* durable, DELE not yet queued */
    size_t nd, dpos;
    int deletes_none; /* no message is deleted: no DELE, no EXPIRE 0 */
};

static void push(struct fetcher *f, unsigned long i, enum flight_cmd cmd)
{
    f->q[(f->head + f->n) % FETCH_QUEUE] = (struct flight){.i = i, .cmd = cmd};
    f->n++;
}

/* The answers send_retr asked for. */
static void push_retr(const struct session *s, struct fetcher *f, unsigned long i)
{
    if (s->sizes_each) push(f, i, FL_LIST);
    push(f, i, FL_RETR);
    f->retrs++;
}

static int queue_dele(struct session *s, struct fetcher *f, unsigned long i)
{
    if (send_numbered(s, "DELE", i) < 0) return -1;
    push(f, i, FL_DELE);
    return 0;
}

static int queue_retr(struct session *s, struct fetcher *f, unsigned long i)
{
    if (send_retr(s, i) < 0) return -1;
    push_retr(s, f, i);
    f->unsent--;
    return 0;
}

/* May one more command go out now? Without pipelining only when nothing
 * is in flight (RFC 2449 §6.6). */
static int may_send(const struct session *s, const struct fetcher *f)
{
    return s->pipelining ? f->n < FETCH_QUEUE : f->n == 0;
}

/* Does message i still need its command: a RETR (unless guess_new sent
 * it already) or a DELE of a message deleted unread? */
static int needs_cmd(const struct session *s, unsigned long i)
{
    enum plan_action act = s->ls.plan[i].action;

    if (plan_fetches(act)) return i < s->guess_lo || i >= s->guess_hi;
    return plan_deletes(act);
}

/* Queue the DELEs of durable messages, then RETRs (and DELEs of messages
 * deleted unread) up to the window. */
static int fill(struct session *s, struct fetcher *f)
{
    while (f->dpos < f->nd && may_send(s, f))
        if (queue_dele(s, f, f->deletable[f->dpos++]) < 0) return -1;
    if (f->dpos == f->nd) f->dpos = f->nd = 0;
    while (f->retrs < f->window && f->n + 2 <= FETCH_QUEUE - FETCH_GROUP && may_send(s, f)) {
        while (f->next < s->ls.count && !needs_cmd(s, f->next)) f->next++;
        if (f->next >= s->ls.count) break;
        int rc = plan_fetches(s->ls.plan[f->next].action) ? queue_retr(s, f, f->next)
                                                          : queue_dele(s, f, f->next);
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
static int queue_quit(struct session *s, const struct fetcher *f)
{
    int all_queued = f->next >= s->ls.count && f->unsent == 0;
    int no_dele_to_come = f->deletes_none || (!f->retrs && !f->ng && f->dpos == f->nd);

    if (!s->pipelining || s->quit_sent || !all_queued || !no_dele_to_come) return 0;
    s->quit_sent = 1;
    return pop3_send(&s->pop, "QUIT", NULL, s->e);
}

static int dele_reply(struct session *s, unsigned long i)
{
    struct pop3_reply r;

    if (pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    FAULT_POINT("after-dele", i + 1);
    if (r.status == POP3_OK)
        s->res->deleted++;
    else
        log_warn(s->a->name, "%s refused to delete message %lu: %s", s->a->host, i + 1, r.text);
    return 0;
}

/* A message that could not be delivered stays on the server; go on. */
static void delivery_failed(struct session *s, unsigned long num, const struct err *why)
{
    struct err shown = *why;

    s->res->failed++;
    err_prefix(&shown, "message %lu was not delivered (it stays on the server)", num);
    log_error(s->a->name, &shown);
}

/* Make the group durable in the sink, record it, publish it, then queue
 * the DELEs its policy asks for (unless `dele` is 0: the session is ending). */
static int commit_group(struct session *s, struct fetcher *f, int dele)
{
    struct sink *k = &s->sink;

    if (f->ng == 0) return 0;
    if (f->dpos) { /* keep what is still to be queued at the front */
        memmove(f->deletable, f->deletable + f->dpos, (f->nd - f->dpos) * sizeof f->deletable[0]);
        f->nd -= f->dpos;
        f->dpos = 0;
    }
    if (f->nd + f->ng > sizeof f->deletable / sizeof f->deletable[0])
        return err_set(s->e, ERR_INTERNAL, "too many deletions waiting");
    if (k->ops->sync(k, s->e) < 0) return -1;
    for (size_t j = 0; j < f->ng; j++) {
        unsigned long i = f->group[j];
        const char *uidl = listing_uidl_of(&s->ls, i);
        if (uidl && state_add(&s->st, uidl, s->ls.msgs[i].uidl_len, STATE_DELIVERED, time(NULL),
                              f->names[j][0] ? f->names[j] : NULL, s->e) < 0)
            return -1;
    }
    if (state_commit(&s->st, s->e) < 0) return -1;
    for (size_t j = 0; j < f->ng; j++) FAULT_POINT("after-journal", f->group[j] + 1);
    for (size_t j = 0; j < f->ng; j++)
        if (k->ops->publish(k, f->names[j], s->e) < 0) return -1;
    if (k->ops->publish_sync(k, s->e) < 0) return -1;
    for (size_t j = 0; j < f->ng; j++) {
        unsigned long i = f->group[j];
        FAULT_POINT("after-publish", i + 1);
        s->res->fetched++;
        s->res->bytes += s->ls.plan[i].size; /* what was received (receive()) */
        if (!plan_deletes(s->ls.plan[i].action)) s->res->kept++;
        if (dele && plan_deletes(s->ls.plan[i].action)) f->deletable[f->nd++] = i;
    }
    f->ng = 0;
    f->gbytes = 0;
    return 0;
}

/* Prepend the Received: trace field (received.h). */
static int write_received(struct session *s, const struct deliver_msg *m, struct err *e)
{
    char buf[RECEIVED_MAX];
    struct received_info ri = {
        .server = s->a->host,
        .server_ip = s->net.peer,
        .local = s->local_host,
        .tls = s->net.ssl != NULL,
        .account = s->a->name,
        .user = s->a->user,
        .uidl = m->uidl,
        .when = (long long)time(NULL),
    };
    size_t n = received_format(buf, sizeof buf, &ri);

    return s->sink.ops->write(&s->sink, (const unsigned char *)buf, n, e);
}

/* The body stream's writer: into the sink (with a crash point after the
 * first chunk, for the fault-injection tests). */
static int write_body(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct session *s = ctx;
    int rc = s->sink.ops->write(&s->sink, buf, len, e);

    s->cur_bytes += len;
    if (++s->cur_writes == 1) FAULT_POINT("mid-message", s->cur_num);
    return rc;
}

/* What the server's own words allow a body to decode to: twice the size
 * LIST gave and 1 MiB of slack, so that a server lying about sizes is
 * caught. Without a size (LIST n refused) the whole mailbox's size from
 * STAT bounds it. Both are at most 2^62 (pop3_parse_list_line,
 * pop3_parse_stat). */
static uint64_t listed_limit(const struct session *s, unsigned long i)
{
    return (s->ls.msgs[i].have_size ? s->ls.plan[i].size : s->ls.total) * 2 + (1 << 20);
}

/* The most a body may decode to: the smaller of listed_limit() and the
 * user's max_message_bytes, which the server cannot raise (a LIST of 2^62
 * bytes must not let it fill the disk). */
static uint64_t body_limit(const struct session *s, unsigned long i)
{
    uint64_t listed = listed_limit(s, i);

    return listed < s->a->max_message_bytes ? listed : s->a->max_message_bytes;
}

/* pop3_body() failed on message index i: if the body grew past
 * max_message_bytes (not past what LIST promised, which stays a protocol
 * error), say so. The rest of the body was not read, so the session ends
 * here either way; the message stays on the server. */
static int body_failed(struct session *s, unsigned long i)
{
    uint64_t max = s->a->max_message_bytes;

    if (s->pop.body_bytes <= body_limit(s, i) || max > listed_limit(s, i)) return -1;
    if (plan_fetches(s->ls.plan[i].action)) s->res->failed++;
    err_set(s->e, ERR_DELIVERY,
            "message %lu is larger than max_message_bytes (%llu bytes): not delivered, it "
            "stays on the server",
            i + 1, (unsigned long long)max);
    err_hint(s->e, "raise max_message_bytes to fetch it, or set max_size below it to leave "
                   "such messages on the server without downloading them");
    return -1;
}

/* Read the answer to RETR into the sink. 1 = ended (its name in `name`),
 * 0 = failed but the session goes on, -1 = the session cannot go on. */
static int receive(struct session *s, unsigned long i, char name[DELIVER_NAME_MAX])
{
    struct deliver_msg m = {
        .num = i + 1, .uidl = listing_uidl_of(&s->ls, i), .size = s->ls.plan[i].size};
    struct sink *k = &s->sink;
    struct pop3_reply r;
    struct err werr;
    char what[32];
    int rc = 0;

    err_clear(&werr);
    if (pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    if (r.status != POP3_OK) {
        snprintf(what, sizeof what, "RETR %lu", m.num);
        pop3_fail(&s->pop, &r, what, &werr);
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    s->cur_num = m.num;
    s->cur_writes = 0;
    s->cur_bytes = 0;
    if (k->ops->begin(k, &m, &werr) < 0 ||
        (s->a->received_header && (rc = write_received(s, &m, &werr)) < 0)) {
        if (rc < 0) k->ops->abort(k);
        if (pop3_body(&s->pop, NULL, NULL, 0, &werr, s->e) < 0) return -1; /* discard */
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    rc = pop3_body(&s->pop, write_body, s, body_limit(s, i), &werr, s->e);
    if (rc != 0) {
        k->ops->abort(k);
        if (rc < 0) return body_failed(s, i);
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    if (k->ops->end(k, name, &werr) < 0) {
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    /* From here on its size is what really came (the summary, the progress
     * line and the group bound count it), not what LIST claimed. */
    s->ls.plan[i].size = s->cur_bytes;
    FAULT_POINT("after-tmp", m.num);
    return 1;
}

/* A guessed RETR (guess_new) of a message the plan does not fetch: read
 * the answer and drop it. */
static int drop_guessed(struct session *s, unsigned long i)
{
    struct pop3_reply r;
    struct err ignored;

    if (pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    if (r.status != POP3_OK) return 0;
    if (pop3_body(&s->pop, NULL, NULL, body_limit(s, i), &ignored, s->e) < 0)
        return body_failed(s, i);
    return 0;
}

/* The RETRs guess_new sent are the first commands in flight. */
static void queue_guessed(struct session *s, struct fetcher *f)
{
    for (unsigned long i = s->guess_lo; i < s->guess_hi; i++) {
        push_retr(s, f, i);
        if (plan_fetches(s->ls.plan[i].action)) f->unsent--;
    }
}

/* Answer the command at the head of the queue. */
static int answer_one(struct session *s, struct fetcher *f)
{
    struct flight x = f->q[f->head];
    int rc;

    f->head = (f->head + 1) % FETCH_QUEUE;
    f->n--;
    if (x.cmd == FL_DELE) return dele_reply(s, x.i);
    if (x.cmd == FL_LIST) return listing_list_one(&s->ls, x.i, s->e);
    f->retrs--;
    rc = plan_fetches(s->ls.plan[x.i].action) ? receive(s, x.i, f->names[f->ng])
                                              : drop_guessed(s, x.i);
    if (rc < 0) return rc;
    if (rc == 1) {
        progress_update(++s->recv_msgs, s->recv_bytes += s->ls.plan[x.i].size);
        f->group[f->ng++] = x.i;
        f->gbytes +=
            s->ls.plan[x.i].size < FETCH_GROUP_BYTES ? s->ls.plan[x.i].size : FETCH_GROUP_BYTES;
    }
    /* also after a failed message: the group may be complete now */
    if (f->ng && (f->ng >= f->group_max || f->gbytes >= FETCH_GROUP_BYTES || !more_to_fetch(f)))
        return commit_group(s, f, 1);
    return 0;
}

static int fetch_all(struct session *s)
{
    struct fetcher *f = calloc(1, sizeof *f);
    int rc = 0;

    if (!f) return err_set(s->e, ERR_INTERNAL, "out of memory");
    f->window = s->pipelining ? FETCH_WINDOW : 1;
    f->group_max = s->sink.one_at_a_time ? 1 : FETCH_GROUP;
    /* EXPIRE 0: QUIT deletes what was RETRed, so it must wait for durability */
    f->deletes_none = s->pop.capa.expire != 0;
    for (unsigned long i = 0; i < s->ls.count; i++) {
        f->unsent += plan_fetches(s->ls.plan[i].action) != 0;
        if (plan_deletes(s->ls.plan[i].action)) f->deletes_none = 0;
    }
    queue_guessed(s, f);
    while (rc == 0) {
        if (stop_requested()) {
            rc = net_interrupted(s->e);
            break;
        }
        if (fill(s, f) < 0 || queue_quit(s, f) < 0 || pop3_flush(&s->pop, s->e) < 0) {
            rc = -1;
            break;
        }
        if (f->n == 0) {
            if (f->ng == 0) break;
            rc = commit_group(s, f, 1); /* then its DELEs */
            continue;
        }
        rc = answer_one(s, f);
    }
    if (rc < 0 && f->ng) {
        /* The connection or the sink failed: keep what is whole. Nothing
         * more is deleted; the next run sees these as fetched. */
        struct err keep = *s->e;
        if (commit_group(s, f, 0) < 0) log_warn(s->a->name, "%s", s->e->msg);
        *s->e = keep;
    }
    free(f);
    return rc;
}

static void quit(struct session *s)
{
    struct pop3_reply r;
    struct err e;

    if ((!s->quit_sent && pop3_send(&s->pop, "QUIT", NULL, &e) < 0) ||
        pop3_reply(&s->pop, &r, &e) < 0) {
        log_warn(s->a->name,
                 "no answer to QUIT (%s); deletions may not have been committed, "
                 "the next run will retry them",
                 e.msg);
        return;
    }
    FAULT_POINT("after-quit", 0);
    if (r.status != POP3_OK)
        log_warn(s->a->name, "%s could not commit all deletions: %s", s->a->host, r.text);
    else
        s->res->quit_ok = 1;
}

/* ---- the run ------------------------------------------------------------ */

static int run(struct session *s)
{
    if (lock_local(s) < 0) return -1;
    if (auth_needs_secret(s->a) && secret_get(s->a, &s->secret, s->e) < 0) return -1;
    if (connect_server(s) < 0) return -1;
    if (tls_version_name(&s->net))
        snprintf(s->res->tls_version, sizeof s->res->tls_version, "%s", tls_version_name(&s->net));
    if (login(s) < 0) return -1;
    s->pipelining = will_pipeline(s);
    s->res->login_delay = s->pop.capa.login_delay;
    if (read_listing(s) < 0 || make_plan(s) < 0) return -1;
    if (!s->o->check && fetch_all(s) < 0) return -1;
    quit(s);
    return 0;
}

static void cleanup(struct session *s, int clean)
{
    struct err e;

    secret_free(s->secret);
    net_close(&s->net);
    if (s->have_sink) s->sink.ops->close(&s->sink);
    if (s->have_state) {
        /* Every journaled delivery was published (or the run stopped before
         * publishing it, and then the journal keeps its name for recovery). */
        if (clean && !s->o->check && state_settle(&s->st, s->ls.have_uidl, &e) < 0)
            log_warn(s->a->name, "%s", e.msg);
        state_close(&s->st);
    }
    listing_free(&s->ls);
}

int session_run(const struct account *a, const struct session_opts *o, struct session_result *res)
{
    struct session s;
    int64_t t0 = net_now_ms();
    int rc;

    memset(res, 0, sizeof *res);
    memset(&s, 0, sizeof s);
    net_init(&s.net);
    s.a = a;
    s.o = o;
    s.res = res;
    s.e = &res->err;
    listing_init(&s.ls, &s.pop, &s.st);
    res->login_delay = -1;
    if (gethostname(s.local_host, sizeof s.local_host - 1) < 0) strcpy(s.local_host, "localhost");
    rc = run(&s);
    memcpy(res->server_reply, s.pop.last_err, sizeof res->server_reply);
    if (rc < 0 && s.e->kind == ERR_INTERRUPTED)
        err_hint(s.e, "what was delivered whole is recorded; nothing else was deleted, and the "
                      "next run goes on from there");
    cleanup(&s, rc == 0);
    res->ms = net_now_ms() - t0;
    return rc;
}
