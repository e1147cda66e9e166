/* Unit tests for fetch.c, the pipelined fetch engine, over a fake
 * transport: a scripted POP3 server in a thread on a socket pair, which
 * answers STAT, LIST, LIST n, UIDL, RETR n, DELE n and QUIT and keeps every
 * byte it received. A recording sink notes, at each step, how many bytes
 * the client had written by then (net_conn.bytes_out), so the tests can say
 * exactly what the server had been sent when a body began, when a group
 * became durable and when QUIT went out. A real seen-state in a temporary
 * directory. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "plan.h"
#include "unit.h"

#define MAXMSG  16
#define BODYMAX 4096
#define GOTMAX  (64 * 1024)

/* ---- the scripted server --------------------------------------------------- */

struct server {
    int fd;
    pthread_t th;
    unsigned long count;    /* messages in the mailbox */
    size_t body_size;       /* each body (LF line ends) is about this long */
    unsigned long retr_err; /* RETR of this message is answered -ERR (0 = none) */
    int hold_dele;          /* answer DELEs only once QUIT has arrived */
    unsigned held;          /* DELE answers held back */
    unsigned most_waiting;  /* most commands that had arrived unanswered at once */
    char got[GOTMAX];       /* every byte received, in order */
    size_t glen;
};

/* Message n's text as a reader sees it (LF line ends). */
static size_t body_of(unsigned long n, size_t size, char *buf)
{
    size_t len = (size_t)snprintf(buf, BODYMAX, "Subject: message %lu\n\n..a dotted line\n", n);

    for (int k = 0; len < size && len + 64 < BODYMAX; k++)
        len += (size_t)snprintf(buf + len, BODYMAX - len, "line %d of message %lu\n", k, n);
    return len;
}

/* The same on the wire: CRLF, dot-stuffed (its size as LIST gives it). */
static size_t wire_of(unsigned long n, size_t size, char *buf)
{
    char text[BODYMAX];
    size_t len = body_of(n, size, text), o = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.' && (i == 0 || text[i - 1] == '\n')) buf[o++] = '.';
        if (text[i] == '\n') buf[o++] = '\r';
        buf[o++] = text[i];
    }
    return o;
}

static void say(const struct server *s, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t w = send(s->fd, text, len, MSG_NOSIGNAL);
        if (w <= 0) return; /* the client is gone */
        text += w;
        len -= (size_t)w;
    }
}

static void sayf(const struct server *s, const char *fmt, unsigned long a, unsigned long b)
{
    char line[128];
    int n = snprintf(line, sizeof line, fmt, a, b);

    say(s, line, (size_t)n);
}

static void answer(struct server *s, const char *cmd)
{
    char wire[2 * BODYMAX];
    unsigned long n = 0, total = 0;

    if (sscanf(cmd, "%*s %lu", &n) == 1 && (n < 1 || n > s->count)) {
        say(s, "-ERR no such message\r\n", 22);
        return;
    }
    if (!strcmp(cmd, "STAT")) {
        for (unsigned long i = 1; i <= s->count; i++) total += wire_of(i, s->body_size, wire);
        sayf(s, "+OK %lu %lu\r\n", s->count, total);
    } else if (!strcmp(cmd, "LIST") || !strcmp(cmd, "UIDL")) {
        say(s, "+OK\r\n", 5);
        for (unsigned long i = 1; i <= s->count; i++)
            sayf(s, cmd[0] == 'L' ? "%lu %lu\r\n" : "%lu uid-%lu\r\n", i,
                 cmd[0] == 'L' ? wire_of(i, s->body_size, wire) : i);
        say(s, ".\r\n", 3);
    } else if (!strncmp(cmd, "LIST ", 5)) {
        sayf(s, "+OK %lu %lu\r\n", n, wire_of(n, s->body_size, wire));
    } else if (!strncmp(cmd, "RETR ", 5) && n == s->retr_err) {
        say(s, "-ERR [SYS/TEMP] cannot read that one\r\n", 38);
    } else if (!strncmp(cmd, "RETR ", 5)) {
        size_t len = wire_of(n, s->body_size, wire);
        say(s, "+OK\r\n", 5);
        say(s, wire, len);
        say(s, ".\r\n", 3);
    } else if (!strncmp(cmd, "DELE ", 5)) {
        if (s->hold_dele)
            s->held++;
        else
            say(s, "+OK deleted\r\n", 13);
    } else if (!strcmp(cmd, "QUIT")) {
        for (; s->held; s->held--) say(s, "+OK deleted\r\n", 13);
        say(s, "+OK bye\r\n", 9);
    } else {
        say(s, "-ERR unknown command\r\n", 22);
    }
}

/* Read commands until the client closes; answer each as it arrives. */
static void *serve(void *arg)
{
    struct server *s = arg;
    size_t done = 0;

    for (;;) {
        ssize_t r = read(s->fd, s->got + s->glen, GOTMAX - 1 - s->glen);
        unsigned waiting = 0;
        char *nl;

        if (r <= 0) break;
        s->glen += (size_t)r;
        s->got[s->glen] = '\0';
        for (const char *p = s->got + done; (p = strstr(p, "\r\n")); p += 2) waiting++;
        if (waiting > s->most_waiting) s->most_waiting = waiting;
        while ((nl = strstr(s->got + done, "\r\n"))) {
            char cmd[64];
            size_t len = (size_t)(nl - (s->got + done));

            snprintf(cmd, sizeof cmd, "%.*s", (int)len, s->got + done);
            done += len + 2;
            answer(s, cmd);
        }
    }
    return NULL;
}

/* ---- the recording sink ---------------------------------------------------- */

struct rec {
    const struct net_conn *net; /* the client's side */
    char journal[512];          /* the state's journal file */
    unsigned long cur;
    char body[MAXMSG + 1][BODYMAX]; /* what each message's body was, whole */
    size_t blen[MAXMSG + 1];
    uint64_t size[MAXMSG + 1];         /* the size begin() was given */
    uint64_t begin_out[MAXMSG + 1];    /* bytes the client had sent when its body began */
    uint64_t durable_out[MAXMSG + 1];  /* ... when its group was published; 0 = never */
    int journaled[MAXMSG + 1];         /* its record was in the journal when published */
    unsigned long pending[MAXMSG + 1]; /* ended, not yet synced */
    size_t npending;
    unsigned long group[MAXMSG + 1][MAXMSG + 1]; /* each sync's messages, 0-terminated */
    size_t ngroups;
    unsigned long failed[MAXMSG + 1]; /* what the observer was told was not delivered */
    size_t nfailed;
    int final;                          /* plays a sink whose end() is final (no names recorded) */
    unsigned long stop_at;              /* end() of this message asks for a pause (DELIVER_STOP) */
    int intent_durable[MAXMSG + 1];     /* its intent was fsynced when end() went on */
    int in_journal_at_next[MAXMSG + 1]; /* its record was in the journal when the next began */
    /* a deferred sink (LMTP over connections): outcomes come later */
    unsigned long refuse_at;              /* this message's outcome is a refusal */
    int settled[MAXMSG + 1];              /* its outcome was given */
    int in_journal_at_settle[MAXMSG + 1]; /* its record was in the journal right after */
    int settled_in_end[MAXMSG + 1];       /* given from a later end(), not from sync */
};

/* Is message n's record in the journal file (fsynced or not)? */
static int rec_in_journal(const struct rec *r, unsigned long n, const char *name)
{
    char text[GOTMAX], want[64];
    FILE *f = fopen(r->journal, "r");
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;

    if (f) fclose(f);
    text[len] = '\0';
    snprintf(want, sizeof want, " uid-%lu %s\n", n, r->final ? "-" : name);
    return strstr(text, want) != NULL;
}

static struct rec *rec_of(struct sink *k)
{
    return k->impl;
}

static int rec_begin(struct sink *k, const struct deliver_msg *m, struct err *e)
{
    struct rec *r = rec_of(k);

    (void)e;
    if (m->num > 1) r->in_journal_at_next[m->num - 1] = rec_in_journal(r, m->num - 1, "");
    r->cur = m->num;
    r->size[m->num] = m->size;
    r->begin_out[m->num] = r->net->bytes_out;
    r->blen[m->num] = 0;
    return 0;
}

static int rec_write(struct sink *k, const unsigned char *buf, size_t len, struct err *e)
{
    struct rec *r = rec_of(k);

    if (r->blen[r->cur] + len > BODYMAX) return err_set(e, ERR_DELIVERY, "too long");
    memcpy(r->body[r->cur] + r->blen[r->cur], buf, len);
    r->blen[r->cur] += len;
    return 0;
}

static int rec_end(struct sink *k, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct rec *r = rec_of(k);

    if (r->cur == r->stop_at) {
        err_set(e, ERR_DELIVERY, "busy");
        return DELIVER_STOP;
    }
    snprintf(name, DELIVER_NAME_MAX, "m%lu", r->cur);
    r->pending[r->npending++] = r->cur;
    return 0;
}

static void rec_abort(struct sink *k)
{
    (void)k;
}

static int rec_sync(struct sink *k, struct err *e)
{
    struct rec *r = rec_of(k);

    (void)e;
    memcpy(r->group[r->ngroups++], r->pending, r->npending * sizeof r->pending[0]);
    return 0;
}

/* Published: its journal record must be durable by now. */
static int rec_publish(struct sink *k, const char *name, struct err *e)
{
    struct rec *r = rec_of(k);
    unsigned long n = strtoul(name + 1, NULL, 10);

    (void)e;
    r->journaled[n] = rec_in_journal(r, n, name);
    return 0;
}

static int rec_publish_sync(struct sink *k, struct err *e)
{
    struct rec *r = rec_of(k);

    (void)e;
    for (size_t i = 0; i < r->npending; i++) r->durable_out[r->pending[i]] = r->net->bytes_out;
    r->npending = 0;
    return 0;
}

/* Size of the file at path when it was last fsynced (test_state.c's
 * fsync); -1 if it does not exist. */
long long unit_synced_size(const char *path);

/* As rec_end, for a sink that writes intents (an mbox): the intent first,
 * and it must be on disk, fsynced, before the message is made final. */
static int rec_end_intending(struct sink *k, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct rec *r = rec_of(k);
    struct stat st;

    if (deliver_intend(k, "test:note", e) < 0) return -1;
    r->intent_durable[r->cur] =
        stat(r->journal, &st) == 0 && unit_synced_size(r->journal) == (long long)st.st_size;
    return rec_end(k, name, e);
}

static int rec_recover_intent(struct sink *k, const char *uidl, const char *note, struct err *e)
{
    (void)k, (void)uidl, (void)note, (void)e;
    return 0;
}

/* A deferred sink's outcome for message n: delivered, or refused at
 * refuse_at. */
static int rec_settle(struct sink *k, unsigned long n, struct err *e)
{
    struct rec *r = rec_of(k);
    char name[32];
    struct err why;
    int rc = 0;

    err_clear(&why);
    snprintf(name, sizeof name, "m%lu", n);
    if (n == r->refuse_at) {
        err_set(&why, ERR_DELIVERY, "refused for now");
        rc = -1;
    }
    r->settled[n] = 1;
    if (deliver_settled(k, name, rc, &why, e) < 0) return -1;
    r->in_journal_at_settle[n] = rec_in_journal(r, n, name);
    return 0;
}

/* As rec_end, deferred: the message before this one is settled now (its
 * connection is needed again), this one stays due. */
static int rec_end_deferred(struct sink *k, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct rec *r = rec_of(k);
    unsigned long before = r->cur - 1;

    if (before >= 1 && !r->settled[before] && r->npending &&
        r->pending[r->npending - 1] == before) {
        r->settled_in_end[before] = 1;
        if (rec_settle(k, before, e) < 0) return -1;
    }
    return rec_end(k, name, e);
}

/* Every message still due is settled, then recorded as one group. */
static int rec_sync_deferred(struct sink *k, struct err *e)
{
    struct rec *r = rec_of(k);

    for (size_t i = 0; i < r->npending; i++)
        if (!r->settled[r->pending[i]] && rec_settle(k, r->pending[i], e) < 0) return -1;
    return rec_sync(k, e);
}

static const struct sink_ops rec_deferred_ops = {
    .begin = rec_begin,
    .write = rec_write,
    .end = rec_end_deferred,
    .abort = rec_abort,
    .sync = rec_sync_deferred,
    .publish = rec_publish,
    .publish_sync = rec_publish_sync,
};

static const struct sink_ops rec_ops = {
    .begin = rec_begin,
    .write = rec_write,
    .end = rec_end,
    .abort = rec_abort,
    .sync = rec_sync,
    .publish = rec_publish,
    .publish_sync = rec_publish_sync,
};

static const struct sink_ops rec_intending_ops = {
    .begin = rec_begin,
    .write = rec_write,
    .end = rec_end_intending,
    .abort = rec_abort,
    .sync = rec_sync,
    .publish = rec_publish,
    .publish_sync = rec_publish_sync,
    .recover_intent = rec_recover_intent,
};

static void rec_not_delivered(void *ctx, unsigned long num, const struct err *why)
{
    struct rec *r = ctx;

    (void)why;
    if (r->nfailed < MAXMSG) r->failed[r->nfailed++] = num;
}

/* ---- a run ----------------------------------------------------------------- */

struct rig {
    struct server srv;
    struct net_conn net;
    struct pop3 pop;
    struct state *st;
    struct listing ls;
    struct rec rec;
    struct sink sink;
    struct account a;
    struct fetch_rules rules;
    int keep;            /* enum plan_keep */
    long expire;         /* CAPA EXPIRE (-1: not announced) */
    uint64_t seen;       /* bit n: uid-n recorded as delivered before the listing */
    unsigned long items; /* the listing's items */
    struct fetch_result res;
    struct err e;
    int rc;
    uint64_t listed_out; /* bytes the client sent before the fetch began */
};

static void rig_init(struct rig *r, unsigned long count, size_t body_size)
{
    memset(r, 0, sizeof *r);
    r->srv.count = count;
    r->srv.body_size = body_size;
    r->rules.pipelining = 1;
    r->keep = PLAN_KEEP_OFF;
    r->expire = -1;
}

static int rig_connect(struct rig *r)
{
    const char *dir = unit_tmpdir();
    int sv[2];

    /* non-blocking, as net_connect() leaves a socket: waits are net.c's, timed */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        return -1;
    net_init(&r->net);
    r->net.fd = sv[0];
    r->net.timeout_ms = 2000; /* a client that waits for what never comes fails */
    r->net.rbuf = malloc(NET_RBUF_SIZE);
    snprintf(r->net.host, sizeof r->net.host, "pop.test");
    snprintf(r->net.peer, sizeof r->net.peer, "127.0.0.1");
    r->srv.fd = sv[1];
    if (!r->net.rbuf || pthread_create(&r->srv.th, NULL, serve, &r->srv) != 0) return -1;
    pop3_init(&r->pop, &r->net);
    r->pop.capa.expire = r->expire;
    conf_account_defaults(&r->a);
    r->a.name = "test";
    r->a.host = "pop.test";
    r->a.user = "u";
    r->a.received_header = 0; /* the bodies as the server sent them */
    r->rec.net = &r->net;
    snprintf(r->rec.journal, sizeof r->rec.journal, "%s/k.journal", dir);
    r->sink.ops = &rec_ops;
    r->sink.impl = &r->rec;
    return state_open(&r->st, dir, "k", &r->e);
}

/* The listing (STAT, LIST unless sizes come per message, UIDL), the plan,
 * the engine, then QUIT if the engine did not send it. */
static int rig_list_and_fetch(struct rig *r)
{
    struct plan_policy p = {.keep = r->keep, .now = 1000};
    struct plan_summary sum;
    struct fetch_observer ob = {.ctx = &r->rec, .not_delivered = rec_not_delivered};
    struct fetch_job job = {.pop = &r->pop,
                            .ls = &r->ls,
                            .sink = &r->sink,
                            .st = r->st,
                            .a = &r->a,
                            .local_host = "client.test",
                            .rules = r->rules,
                            .ob = &ob};
    struct pop3_reply reply;

    for (unsigned long n = 1; n < 64; n++) {
        char u[32];
        int len = snprintf(u, sizeof u, "uid-%lu", n);
        if ((r->seen >> n & 1) &&
            state_add(r->st, u, (size_t)len, STATE_DELIVERED, 500, NULL, &r->e) < 0)
            return -1;
    }
    listing_init(&r->ls, &r->pop, r->st);
    r->ls.leave_seen = r->keep == PLAN_KEEP_ON; /* as a session sets it */
    if (listing_stat(&r->ls, 0, &r->e) < 0 ||
        (!r->rules.sizes_each && listing_list(&r->ls, 0, &r->e) < 0) ||
        listing_uidl(&r->ls, 0, &r->e) < 0 || listing_cover(&r->ls, &r->e) < 0)
        return -1;
    plan_make(&p, r->ls.plan, listing_items(&r->ls), &sum);
    r->items = listing_items(&r->ls);
    r->listed_out = r->net.bytes_out;
    if (fetch_messages(&job, &r->res, &r->e) < 0) return -1;
    if (!r->res.quit_sent && pop3_send(&r->pop, "QUIT", NULL, &r->e) < 0) return -1;
    return pop3_reply(&r->pop, &reply, &r->e);
}

static void rig_run(struct rig *r)
{
    r->rc = rig_connect(r) < 0 ? -1 : rig_list_and_fetch(r);
    net_close(&r->net); /* the server reads the end and stops */
    if (r->srv.th) pthread_join(r->srv.th, NULL);
    close(r->srv.fd);
    listing_free(&r->ls);
}

/* ---- reading what the server received --------------------------------------- */

/* Offset of the first line `cmd` at or after `from`, or -1. */
static long offset_of(const struct server *s, size_t from, const char *cmd)
{
    char line[64];
    const char *p = s->got + from;

    snprintf(line, sizeof line, "%s\r\n", cmd);
    while ((p = strstr(p, line)) && p != s->got && p[-1] != '\n') p++;
    return p ? (long)(p - s->got) : -1;
}

static long offset_of_n(const struct server *s, const char *verb, unsigned long n)
{
    char cmd[32];

    snprintf(cmd, sizeof cmd, "%s %lu", verb, n);
    return offset_of(s, 0, cmd);
}

/* RETRs of message n or later among the first `upto` bytes received: what
 * was in flight when message n's answer was being read (no RETR is sent
 * twice, and they go out in order). */
static unsigned retrs_from(const struct server *s, uint64_t upto, unsigned long n)
{
    unsigned c = 0;

    for (unsigned long m = n; m <= s->count; m++) {
        long off = offset_of_n(s, "RETR", m);
        c += off >= 0 && (uint64_t)off < upto;
    }
    return c;
}

/* The commands the fetch sent (after the listing), one per line, as text. */
static const char *fetch_cmds(const struct rig *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s", r->srv.got + r->listed_out);
    for (char *p = buf; (p = strstr(p, "\r\n"));) memmove(p, p + 1, strlen(p + 1) + 1);
    return buf;
}

/* Does the seen-state hold message n's UIDL? */
static int recorded(struct rig *r, unsigned long n)
{
    char uidl[32];
    int len = snprintf(uidl, sizeof uidl, "uid-%lu", n);

    return state_lookup(r->st, uidl, (size_t)len) != NULL;
}

static int body_ok(const struct rig *r, unsigned long n)
{
    char want[BODYMAX];
    size_t len = body_of(n, r->srv.body_size, want);

    return r->rec.blen[n] == len && memcmp(r->rec.body[n], want, len) == 0;
}

/* ---- the tests --------------------------------------------------------------- */

TEST(fetch_keeps_at_most_window_retrs_in_flight)
{
    static struct rig r;
    unsigned most = 0;

    rig_init(&r, 10, 300);
    r.keep = PLAN_KEEP_ON;
    r.rules.window = 3;
    rig_run(&r);
    CHECK(r.rc == 0);
    CHECK(r.res.fetched == 10 && r.res.failed == 0 && r.res.deleted == 0);
    for (unsigned long n = 1; n <= 10; n++) {
        unsigned k = retrs_from(&r.srv, r.rec.begin_out[n], n);
        CHECK(body_ok(&r, n));
        CHECK(k >= 1 && k <= 3);
        if (k > most) most = k;
    }
    CHECK(most == 3); /* it did pipeline, up to the window */
    CHECK(r.srv.most_waiting > 1);
    state_close(r.st);
}

/* RETRs go out in batches: once half the window has been answered, the
 * other half in one write, not a RETR behind each answer (each a TLS record
 * and a wake-up of the server). Never fewer than half a window in flight
 * while messages remain. */
TEST(fetch_sends_retrs_in_batches_of_half_a_window)
{
    static struct rig r;
    unsigned writes = 0;

    rig_init(&r, 16, 300);
    r.keep = PLAN_KEEP_ON;
    r.rules.window = 4;
    rig_run(&r);
    CHECK(r.rc == 0);
    CHECK(r.res.fetched == 16 && r.res.failed == 0);
    for (unsigned long n = 2; n <= 16; n++) {
        unsigned k = retrs_from(&r.srv, r.rec.begin_out[n], n);
        CHECK(body_ok(&r, n));
        CHECK(k <= 4 && (n > 14 || k >= 3));
        writes += r.rec.begin_out[n] != r.rec.begin_out[n - 1];
    }
    CHECK(writes <= 7); /* the 12 RETRs after the first window, 2 a write */
    state_close(r.st);
}

TEST(fetch_without_pipelining_sends_one_command_at_a_time)
{
    static struct rig r;
    char cmds[GOTMAX];

    rig_init(&r, 4, 200);
    r.rules.pipelining = 0;
    rig_run(&r);
    CHECK(r.rc == 0);
    CHECK(r.res.fetched == 4 && r.res.deleted == 4 && !r.res.quit_sent);
    for (unsigned long n = 1; n <= 4; n++) {
        char last[32];
        int len = snprintf(last, sizeof last, "RETR %lu\r\n", n);
        /* when its body began, the last thing the server got was its RETR */
        CHECK(r.rec.begin_out[n] >= (uint64_t)len);
        CHECK(!memcmp(r.srv.got + r.rec.begin_out[n] - (uint64_t)len, last, (size_t)len));
    }
    CHECK_STR(fetch_cmds(&r, cmds, sizeof cmds),
              "RETR 1\nRETR 2\nRETR 3\nRETR 4\nDELE 1\nDELE 2\nDELE 3\nDELE 4\nQUIT\n");
    CHECK(r.srv.most_waiting == 1); /* each command waited for the answer before it */
    state_close(r.st);
}

TEST(fetch_err_to_one_retr_fails_only_that_message)
{
    static struct rig r;

    rig_init(&r, 5, 200);
    r.srv.retr_err = 3;
    rig_run(&r);
    CHECK(r.rc == 0);
    CHECK(r.res.fetched == 4 && r.res.failed == 1 && r.res.deleted == 4);
    CHECK(r.rec.nfailed == 1 && r.rec.failed[0] == 3);
    for (unsigned long n = 1; n <= 5; n++) {
        int seen = recorded(&r, n);
        if (n == 3) {
            CHECK(r.rec.begin_out[3] == 0 && !seen); /* never began, never recorded */
            CHECK(offset_of_n(&r.srv, "DELE", 3) < 0);
        } else {
            CHECK(body_ok(&r, n) && seen); /* each body is its own: answers matched */
            CHECK(offset_of_n(&r.srv, "DELE", n) > 0);
        }
    }
    state_close(r.st);
}

TEST(fetch_sends_list_n_in_front_of_each_retr_when_sizes_come_per_message)
{
    static struct rig r;
    char cmds[GOTMAX], wire[2 * BODYMAX];

    rig_init(&r, 4, 200);
    r.keep = PLAN_KEEP_ON;
    r.rules.sizes_each = 1;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.fetched == 4);
    CHECK(offset_of(&r.srv, 0, "LIST") < 0); /* no whole-mailbox LIST */
    CHECK_STR(fetch_cmds(&r, cmds, sizeof cmds),
              "LIST 1\nRETR 1\nLIST 2\nRETR 2\nLIST 3\nRETR 3\nLIST 4\nRETR 4\nQUIT\n");
    for (unsigned long n = 1; n <= 4; n++) /* each size came from its own LIST n */
        CHECK(body_ok(&r, n) && r.rec.size[n] == wire_of(n, 200, wire));
    state_close(r.st);
}

/* Issue 20: under keep on, a listing without LIST keeps items only for
 * the messages to fetch; the messages delivered before (here 2, 5 and 6)
 * get no command and no record, the others are fetched in order. */
TEST(fetch_keep_on_fetches_only_the_new_of_a_sparse_listing)
{
    static struct rig r;
    char cmds[GOTMAX], wire[2 * BODYMAX];

    rig_init(&r, 8, 200);
    r.keep = PLAN_KEEP_ON;
    r.rules.sizes_each = 1;
    r.seen = 1u << 2 | 1u << 5 | 1u << 6;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.fetched == 5 && r.res.failed == 0);
    CHECK(r.items == 5);
    CHECK_STR(fetch_cmds(&r, cmds, sizeof cmds),
              "LIST 1\nRETR 1\nLIST 3\nRETR 3\nLIST 4\nRETR 4\nLIST 7\nRETR 7\nLIST 8\nRETR "
              "8\nQUIT\n");
    for (unsigned long n = 1; n <= 8; n++) {
        CHECK(recorded(&r, n));
        if (n != 2 && n != 5 && n != 6)
            CHECK(body_ok(&r, n) && r.rec.size[n] == wire_of(n, 200, wire));
    }
    state_close(r.st);
}

/* Every DELE went out after its message's group was durable: synced,
 * journaled (the record in the file) and published. */
static int deles_after_durable(const struct rig *r)
{
    for (unsigned long n = 1; n <= r->srv.count; n++) {
        long off = offset_of_n(&r->srv, "DELE", n);
        if (off < 0) return 0;
        if (!r->rec.durable_out[n] || !r->rec.journaled[n]) return 0;
        if ((uint64_t)off < r->rec.durable_out[n]) return 0;
    }
    return 1;
}

TEST(fetch_groups_end_by_count_and_at_the_end)
{
    static struct rig r;

    rig_init(&r, 5, 200);
    r.rules.group_max = 2;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.fetched == 5 && r.res.deleted == 5);
    CHECK(r.rec.ngroups == 3);
    CHECK(r.rec.group[0][0] == 1 && r.rec.group[0][1] == 2 && r.rec.group[0][2] == 0);
    CHECK(r.rec.group[1][0] == 3 && r.rec.group[1][1] == 4 && r.rec.group[1][2] == 0);
    CHECK(r.rec.group[2][0] == 5 && r.rec.group[2][1] == 0);
    CHECK(deles_after_durable(&r));
    state_close(r.st);
}

TEST(fetch_groups_end_by_bytes)
{
    static struct rig r;

    rig_init(&r, 7, 1000); /* each body is 1000 to 1030 bytes */
    r.rules.group_bytes = 2500;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.fetched == 7 && r.res.deleted == 7);
    CHECK(r.rec.ngroups == 3);
    CHECK(r.rec.group[0][0] == 1 && r.rec.group[0][2] == 3 && r.rec.group[0][3] == 0);
    CHECK(r.rec.group[1][0] == 4 && r.rec.group[1][2] == 6 && r.rec.group[1][3] == 0);
    CHECK(r.rec.group[2][0] == 7 && r.rec.group[2][1] == 0);
    CHECK(deles_after_durable(&r));
    state_close(r.st);
}

/* A sink whose end() is final (MDA, mbox): each record is in the journal
 * file before the next message begins (a kill -9 cannot lose it), and the
 * messages still share one fsync before their DELEs. */
TEST(fetch_sink_whose_end_is_final_records_each_message_at_once)
{
    static struct rig r;

    rig_init(&r, 3, 200);
    r.sink.one_at_a_time = 1;
    r.rec.final = 1;
    r.rules.group_max = 0;
    rig_run(&r); /* rig_connect sets ops and impl, not one_at_a_time */
    CHECK(r.rc == 0 && r.res.fetched == 3);
    CHECK(r.rec.in_journal_at_next[1] && r.rec.in_journal_at_next[2]);
    CHECK(r.rec.ngroups == 1);
    CHECK(r.rec.group[0][0] == 1 && r.rec.group[0][2] == 3 && r.rec.group[0][3] == 0);
    CHECK(deles_after_durable(&r));
    state_close(r.st);
}

/* A deferred sink (LMTP over several connections): end() hands the
 * message on, its outcome comes later, from a later end() or at sync. A
 * delivered message's record is in the journal as soon as its outcome is
 * given, and durable before its DELE; the refused one (3) is neither
 * recorded nor deleted, and is reported as not delivered. */
TEST(fetch_deferred_sink_outcomes_settled_later_dele_only_for_the_delivered)
{
    static struct rig r;
    char cmds[GOTMAX];

    rig_init(&r, 5, 200);
    r.rules.window = 2;
    r.rc = rig_connect(&r);
    CHECK(r.rc == 0);
    r.sink.ops = &rec_deferred_ops;
    r.sink.one_at_a_time = 1;
    r.sink.deferred = 1;
    r.rec.final = 1;
    r.rec.refuse_at = 3;
    r.rc = rig_list_and_fetch(&r);
    net_close(&r.net);
    pthread_join(r.srv.th, NULL);
    close(r.srv.fd);
    listing_free(&r.ls);
    CHECK(r.rc == 0 && r.res.fetched == 4 && r.res.deleted == 4 && r.res.failed == 1);
    CHECK(r.rec.nfailed == 1 && r.rec.failed[0] == 3);
    CHECK(!recorded(&r, 3) && offset_of_n(&r.srv, "DELE", 3) < 0);
    for (unsigned long n = 1; n <= 5; n++) {
        CHECK(r.rec.settled[n]);
        if (n == 3) continue;
        CHECK(recorded(&r, n) && r.rec.in_journal_at_settle[n]);
        CHECK(r.rec.durable_out[n] &&
              (uint64_t)offset_of_n(&r.srv, "DELE", n) >= r.rec.durable_out[n]);
    }
    /* some outcomes came from a later end(), the last one at sync */
    CHECK(r.rec.settled_in_end[1] && !r.rec.settled_in_end[5]);
    CHECK(strstr(fetch_cmds(&r, cmds, sizeof cmds), "DELE 3\n") == NULL);
    state_close(r.st);
}

/* A sink that asks for a pause (DELIVER_STOP) at message 2: the RETR
 * already in flight (3) is read and dropped, no RETR goes out after it,
 * what was delivered is made durable and deleted, QUIT ends the run, and
 * the rest count as not delivered. */
TEST(fetch_sink_asking_for_a_pause_gets_no_more_messages)
{
    static struct rig r;
    char cmds[GOTMAX];

    rig_init(&r, 6, 200);
    r.rules.window = 2;
    r.rec.stop_at = 2;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.quit_sent);
    CHECK(r.res.fetched == 1 && r.res.deleted == 1 && r.res.failed == 5);
    CHECK(r.rec.nfailed == 1 && r.rec.failed[0] == 2);
    CHECK(r.rec.begin_out[3] == 0 && !recorded(&r, 3) && !recorded(&r, 2) && recorded(&r, 1));
    CHECK_STR(fetch_cmds(&r, cmds, sizeof cmds), "RETR 1\nRETR 2\nRETR 3\nDELE 1\nQUIT\n");
    CHECK(r.rec.journaled[1] && r.rec.durable_out[1] &&
          (uint64_t)offset_of_n(&r.srv, "DELE", 1) >= r.rec.durable_out[1]);
    state_close(r.st);
}

/* A sink that writes intents (mbox): each intent is fsynced before the
 * message is made final, so that a power cut after the sink's own fsync
 * finds it (and recovery records the message instead of delivering it
 * again); the records of the messages before it are durable by then too. */
TEST(fetch_intent_is_durable_before_the_sink_makes_a_message_final)
{
    static struct rig r;

    rig_init(&r, 4, 200);
    r.rules.group_max = 0;
    r.rc = rig_connect(&r);
    CHECK(r.rc == 0);
    r.sink.ops = &rec_intending_ops;
    r.sink.one_at_a_time = 1;
    r.rec.final = 1;
    r.rc = rig_list_and_fetch(&r);
    net_close(&r.net);
    pthread_join(r.srv.th, NULL);
    close(r.srv.fd);
    listing_free(&r.ls);
    CHECK(r.rc == 0 && r.res.fetched == 4 && r.res.deleted == 4);
    for (unsigned long n = 1; n <= 4; n++) CHECK(r.rec.intent_durable[n] && recorded(&r, n));
    state_close(r.st);
}

/* The server answers no DELE before QUIT has come: a client that waited
 * for the DELE answers before sending QUIT would time out. */
TEST(fetch_quit_follows_the_last_dele_without_waiting_for_answers)
{
    static struct rig r;
    char cmds[GOTMAX];

    rig_init(&r, 3, 200);
    r.srv.hold_dele = 1;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.quit_sent && r.res.fetched == 3 && r.res.deleted == 3);
    CHECK_STR(fetch_cmds(&r, cmds, sizeof cmds),
              "RETR 1\nRETR 2\nRETR 3\nDELE 1\nDELE 2\nDELE 3\nQUIT\n");
    CHECK(deles_after_durable(&r));
    state_close(r.st);
}

TEST(fetch_quit_follows_the_last_retr_when_nothing_is_deleted)
{
    static struct rig r;
    long quit;

    rig_init(&r, 3, 200);
    r.keep = PLAN_KEEP_ON;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.quit_sent && r.res.fetched == 3);
    quit = offset_of(&r.srv, r.listed_out, "QUIT");
    CHECK(quit == offset_of_n(&r.srv, "RETR", 3) + 8);
    CHECK((uint64_t)quit < r.rec.begin_out[1]); /* out before the first body was read */
    state_close(r.st);
}

/* EXPIRE 0: the server deletes what was RETRed at QUIT, so QUIT waits until
 * the last message is durable. */
TEST(fetch_quit_waits_for_durability_under_expire_0)
{
    static struct rig r;
    long quit;

    rig_init(&r, 3, 200);
    r.keep = PLAN_KEEP_ON;
    r.expire = 0;
    rig_run(&r);
    CHECK(r.rc == 0 && r.res.quit_sent && r.res.fetched == 3);
    quit = offset_of(&r.srv, r.listed_out, "QUIT");
    CHECK(quit > 0 && r.rec.durable_out[3] && (uint64_t)quit >= r.rec.durable_out[3]);
    CHECK(offset_of(&r.srv, 0, "DELE 1") < 0);
    state_close(r.st);
}
