/*
 * session — one account's run. See session.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "deliver.h"
#include "fault.h"
#include "log.h"
#include "net.h"
#include "plan.h"
#include "pop3.h"
#include "received.h"
#include "secret.h"
#include "session.h"
#include "state.h"
#include "tls.h"

#define SESSION_MAX_MESSAGES 10000000UL

struct msg {
    uint64_t size;
    uint32_t uidl_off; /* into the session's pool */
    uint16_t uidl_len; /* 0 = no UIDL */
    uint8_t have_size;
};

struct session {
    const struct account *a;
    const struct session_opts *o;
    struct session_result *res;
    struct err *e;
    struct net_conn net;
    struct pop3 pop;
    struct state st;
    struct sink sink;
    int have_state, have_sink;
    char *secret;
    struct msg *msgs;
    unsigned long count; /* messages on the server (STAT) */
    char *pool;
    size_t pool_len, pool_cap;
    int have_uidl;
    unsigned long cur_num; /* message being received */
    unsigned cur_writes;   /* chunks of it written so far */
    struct plan_item *plan;
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

static int open_local(struct session *s)
{
    char key[1024], tag[16];

    state_key(key, sizeof key, s->a->user, s->a->host, conf_port(s->a));
    if (state_open(&s->st, s->o->state_dir, key, s->e) < 0) return -1;
    s->have_state = 1;
    if (s->st.dropped)
        log_warn(s->a->name,
                 "state for %s: ignored %u damaged line%s (those messages may be "
                 "fetched again)",
                 key, s->st.dropped, s->st.dropped == 1 ? "" : "s");
    snprintf(tag, sizeof tag, "%08x", tag_hash(key));
    if (s->o->check) return 0; /* --check touches nothing local */
    struct deliver_ctx c = {
        .tag = tag, .mda_stderr = mda_said, .mda_stderr_ctx = (void *)s->a->name};
    if (deliver_open(&s->sink, s->a, &c, s->e) < 0) return -1;
    s->have_sink = 1;
    return s->sink.ops->recover(&s->sink, s->st.names, s->st.nnames, s->e);
}

/* ---- connecting and logging in ------------------------------------------ */

static void tls_options(const struct account *a, struct tls_opts *t)
{
    t->verify = a->tls_verify;
    t->trust_file = a->tls_trust_file;
    t->fingerprint = a->tls_fingerprint;
    t->min_version = a->tls_min_version;
    t->cert_file = a->tls_cert_file;
    t->key_file = a->tls_key_file;
}

static int start_tls(struct session *s)
{
    struct tls_opts t;
    char desc[128];

    tls_options(s->a, &t);
    if (!t.verify && !t.fingerprint)
        log_warn(s->a->name, "tls_verify is off: the server's identity is not checked");
    if (tls_start(&s->net, &t, s->e) < 0) return -1;
    tls_describe(&s->net, desc, sizeof desc);
    log_info(s->a->name, "%s", desc);
    return 0;
}

static int stls(struct session *s)
{
    struct pop3_reply r;

    if (!s->pop.capa.stls) {
        err_set(s->e, ERR_TLS, "%s does not offer STLS; refusing to continue without TLS",
                s->a->host);
        err_hint(s->e, "someone may be stripping STLS; or use `tls implicit` (port 995)");
        return -1;
    }
    if (pop3_simple(&s->pop, "STLS", "STLS", &r, s->e) < 0) {
        if (s->e->kind == ERR_SERVER) s->e->kind = ERR_TLS;
        return -1;
    }
    /* Anything already sent after the +OK did not come through TLS. */
    if (net_has_pending_input(&s->net))
        return err_set(s->e, ERR_TLS,
                       "%s sent data right after agreeing to STLS (possible "
                       "injection attack); refusing to continue",
                       s->a->host);
    if (start_tls(s) < 0) return -1;
    return pop3_capa(&s->pop, s->e);
}

static int connect_server(struct session *s)
{
    const struct account *a = s->a;
    unsigned port = conf_port(a);

    net_init(&s->net);
    if (net_connect(&s->net, a->host, port, (int)a->timeout * 1000, s->e) < 0) return -1;
    log_info(a->name, "connected to %s [%s] port %u", a->host, s->net.peer, port);
    pop3_init(&s->pop, &s->net);
    if (log_get_level() >= LOG_TRACE) {
        s->pop.trace = log_trace;
        s->pop.trace_ctx = (void *)a->name;
    }
    if (a->tls == TLS_IMPLICIT && start_tls(s) < 0) return -1;
    if (pop3_greeting(&s->pop, s->e) < 0 || pop3_capa(&s->pop, s->e) < 0) return -1;
    if (a->tls == TLS_STARTTLS && stls(s) < 0) return -1;
    return 0;
}

/* Some servers reveal capabilities (UIDL, PIPELINING, EXPIRE for this
 * user) only after login: ask again when they hinted at that. */
static int capa_after_login(struct session *s)
{
    struct pop3_capa before = s->pop.capa;

    if (!before.known || (!before.marked_user && before.uidl && before.top && before.pipelining))
        return 0;
    if (pop3_capa(&s->pop, s->e) < 0) return -1;
    if (!s->pop.capa.known) s->pop.capa = before;
    return 0;
}

static int login(struct session *s)
{
    struct auth_info ai = {.encrypted = s->net.ssl != NULL, .test_nonce = FAULT_TEST_NONCE()};
    int rc = auth_login(&s->pop, s->a, s->secret, &ai, s->e);

    secret_free(s->secret);
    s->secret = NULL;
    if (rc < 0) return -1;
    log_info(s->a->name, "logged in as %s (%s)", s->a->user, ai.mechanism);
    return capa_after_login(s);
}

/* ---- the listing ------------------------------------------------------ */

static int listing_error(struct session *s, const char *what, const char *line, size_t len)
{
    char shown[120];

    err_quote(shown, sizeof shown, line, len);
    return err_set(s->e, ERR_PROTOCOL, "%s sent an impossible %s line: \"%s\"", s->a->host, what,
                   shown);
}

static int stat_mailbox(struct session *s)
{
    struct pop3_reply r;
    unsigned long n;
    uint64_t total;

    if (pop3_simple(&s->pop, "STAT", "STAT", &r, s->e) < 0) return -1;
    if (pop3_parse_stat(r.text, strlen(r.text), &n, &total) < 0)
        return listing_error(s, "STAT", r.text, strlen(r.text));
    if (n > SESSION_MAX_MESSAGES)
        return err_set(s->e, ERR_PROTOCOL, "%s claims %lu messages, more than popfetch handles",
                       s->a->host, n);
    s->count = n;
    s->res->listed = n;
    if (n && !(s->msgs = calloc(n, sizeof *s->msgs)))
        return err_set(s->e, ERR_INTERNAL, "out of memory");
    return 0;
}

static int read_list(struct session *s)
{
    struct pop3_reply r;
    const char *line;
    size_t len;
    int rc;

    if (pop3_simple(&s->pop, "LIST", "LIST", &r, s->e) < 0) return -1;
    while ((rc = pop3_list_line(&s->pop, &line, &len, s->e)) == 1) {
        unsigned long n;
        uint64_t size;
        if (pop3_parse_list_line(line, len, &n, &size) < 0 || n > s->count ||
            s->msgs[n - 1].have_size)
            return listing_error(s, "LIST", line, len);
        s->msgs[n - 1].size = size;
        s->msgs[n - 1].have_size = 1;
    }
    if (rc < 0) return -1;
    for (unsigned long i = 0; i < s->count; i++)
        if (!s->msgs[i].have_size)
            return err_set(s->e, ERR_PROTOCOL, "%s left message %lu out of LIST", s->a->host,
                           i + 1);
    return 0;
}

static int pool_add(struct session *s, const char *uid, size_t len, uint32_t *off)
{
    if (s->pool_len + len + 1 > s->pool_cap) {
        size_t ncap = s->pool_cap ? s->pool_cap * 2 : 65536;
        char *n;
        while (ncap < s->pool_len + len + 1) ncap *= 2;
        if (ncap > UINT32_MAX || !(n = realloc(s->pool, ncap))) return -1;
        s->pool = n;
        s->pool_cap = ncap;
    }
    *off = (uint32_t)s->pool_len;
    memcpy(s->pool + s->pool_len, uid, len);
    s->pool[s->pool_len + len] = '\0';
    s->pool_len += len + 1;
    return 0;
}

static int read_uidl(struct session *s)
{
    struct pop3_reply r;
    const char *line, *uid;
    size_t len, uidlen;
    int rc;

    if (pop3_send(&s->pop, "UIDL", NULL, s->e) < 0 || pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    if (r.status != POP3_OK) return 0; /* no UIDL: s->have_uidl stays 0 */
    while ((rc = pop3_list_line(&s->pop, &line, &len, s->e)) == 1) {
        unsigned long n;
        if (pop3_parse_uidl_line(line, len, &n, &uid, &uidlen) < 0 || n > s->count ||
            s->msgs[n - 1].uidl_len)
            return listing_error(s, "UIDL", line, len);
        if (pool_add(s, uid, uidlen, &s->msgs[n - 1].uidl_off) < 0)
            return err_set(s->e, ERR_INTERNAL, "out of memory");
        s->msgs[n - 1].uidl_len = (uint16_t)uidlen;
    }
    if (rc < 0) return -1;
    for (unsigned long i = 0; i < s->count; i++)
        if (!s->msgs[i].uidl_len)
            return err_set(s->e, ERR_PROTOCOL, "%s left message %lu out of UIDL", s->a->host,
                           i + 1);
    s->have_uidl = 1;
    return 0;
}

static int read_listing(struct session *s)
{
    if (stat_mailbox(s) < 0) return -1;
    if (s->count == 0) {
        s->have_uidl = 1;
        return 0;
    }
    if (read_list(s) < 0 || read_uidl(s) < 0) return -1;
    if (!s->have_uidl && (s->a->keep.mode != KEEP_OFF || s->o->check)) {
        err_set(s->e, ERR_PROTOCOL,
                "%s does not support UIDL, so popfetch cannot tell new "
                "messages from old ones",
                s->a->host);
        err_hint(s->e, "with this server use `keep off` (fetch and delete everything)");
        return -1;
    }
    return 0;
}

/* ---- planning --------------------------------------------------------- */

static const char *msg_uidl(const struct session *s, unsigned long i)
{
    return s->msgs[i].uidl_len ? s->pool + s->msgs[i].uidl_off : NULL;
}

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
    for (unsigned long i = 0; i < s->count; i++) {
        if (s->plan[i].action != PLAN_TOO_BIG || s->plan[i].reported_big) continue;
        log_warn(s->a->name,
                 "message %lu is %llu bytes, more than max_size; it stays on the "
                 "server",
                 i + 1, (unsigned long long)s->msgs[i].size);
        if (!s->o->check && s->msgs[i].uidl_len &&
            state_add(&s->st, msg_uidl(s, i), s->msgs[i].uidl_len, STATE_SKIPPED, time(NULL), NULL,
                      s->e) < 0)
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

    policy_of(s->a, &p);
    if (s->count && !(s->plan = calloc(s->count, sizeof *s->plan)))
        return err_set(s->e, ERR_INTERNAL, "out of memory");
    for (unsigned long i = 0; i < s->count; i++) {
        const struct state_entry *ent =
            s->msgs[i].uidl_len ? state_lookup(&s->st, msg_uidl(s, i), s->msgs[i].uidl_len) : NULL;
        s->plan[i].size = s->msgs[i].size;
        if (ent) {
            state_mark_listed(&s->st, ent);
            s->plan[i].seen = ent->status == STATE_DELIVERED;
            s->plan[i].reported_big = ent->status == STATE_SKIPPED;
            s->plan[i].first_seen = ent->first_seen;
        }
    }
    plan_make(&p, s->plan, s->count, &sum);
    s->res->waiting = sum.over_limit;
    s->res->new_messages = sum.fetch + sum.over_limit;
    log_info(s->a->name, "%lu message%s on the server, %lu to fetch", s->count,
             s->count == 1 ? "" : "s", sum.fetch);
    warn_expire(s);
    return report_too_big(s);
}

/* ---- fetching --------------------------------------------------------- */

static int dele(struct session *s, unsigned long num)
{
    struct pop3_reply r;
    char cmd[32];

    snprintf(cmd, sizeof cmd, "DELE %lu", num);
    if (pop3_send(&s->pop, cmd, NULL, s->e) < 0 || pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    FAULT_POINT("after-dele", num);
    if (r.status == POP3_OK)
        s->res->deleted++;
    else
        log_warn(s->a->name, "%s refused to delete message %lu: %s", s->a->host, num, r.text);
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

/* Make one ended message durable in state and visible in the sink. */
static int commit_message(struct session *s, unsigned long i, const char *name)
{
    struct sink *k = &s->sink;
    const char *uidl = msg_uidl(s, i);

    if (k->ops->sync(k, s->e) < 0) return -1;
    if (uidl && (state_add(&s->st, uidl, s->msgs[i].uidl_len, STATE_DELIVERED, time(NULL),
                           name[0] ? name : NULL, s->e) < 0 ||
                 state_commit(&s->st, s->e) < 0))
        return -1;
    FAULT_POINT("after-journal", i + 1);
    if (k->ops->publish(k, name, s->e) < 0 || k->ops->publish_sync(k, s->e) < 0) return -1;
    FAULT_POINT("after-publish", i + 1);
    return 0;
}

/* The body stream's writer: into the sink (with a crash point after the
 * first chunk, for the fault-injection tests). */
static int write_body(void *ctx, const unsigned char *buf, size_t len, struct err *e)
{
    struct session *s = ctx;
    int rc = s->sink.ops->write(&s->sink, buf, len, e);

    if (++s->cur_writes == 1) FAULT_POINT("mid-message", s->cur_num);
    return rc;
}

/* Prepend the Received: trace field (received.h). */
static int write_received(struct session *s, const struct deliver_msg *m, struct err *e)
{
    char buf[RECEIVED_MAX];
    struct received_info ri = {
        .server = s->a->host,
        .server_ip = s->net.peer,
        .tls = s->net.ssl != NULL,
        .account = s->a->name,
        .user = s->a->user,
        .uidl = m->uidl,
        .when = (long long)time(NULL),
    };
    size_t n = received_format(buf, sizeof buf, &ri);

    return s->sink.ops->write(&s->sink, (const unsigned char *)buf, n, e);
}

/* RETR one message into the sink. 1 = delivered, 0 = failed but the
 * session goes on, -1 = the session cannot go on. */
static int fetch_one(struct session *s, unsigned long i)
{
    struct deliver_msg m = {.num = i + 1, .uidl = msg_uidl(s, i), .size = s->msgs[i].size};
    struct sink *k = &s->sink;
    struct pop3_reply r;
    struct err werr;
    char cmd[32], name[DELIVER_NAME_MAX];
    int rc;

    err_clear(&werr);
    snprintf(cmd, sizeof cmd, "RETR %lu", m.num);
    if (pop3_send(&s->pop, cmd, NULL, s->e) < 0 || pop3_reply(&s->pop, &r, s->e) < 0) return -1;
    if (r.status != POP3_OK) {
        pop3_fail(&s->pop, &r, cmd, &werr);
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    if (k->ops->begin(k, &m, &werr) < 0) {
        rc = pop3_body(&s->pop, NULL, NULL, 0, &werr, s->e); /* discard */
        if (rc < 0) return -1;
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    s->cur_num = m.num;
    s->cur_writes = 0;
    if (s->a->received_header && write_received(s, &m, &werr) < 0) {
        k->ops->abort(k);
        if (pop3_body(&s->pop, NULL, NULL, 0, &werr, s->e) < 0) return -1; /* discard */
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    rc = pop3_body(&s->pop, write_body, s, m.size * 2 + (1 << 20), &werr, s->e);
    if (rc != 0) {
        k->ops->abort(k);
        if (rc < 0) return -1;
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    if (k->ops->end(k, name, &werr) < 0) {
        delivery_failed(s, m.num, &werr);
        return 0;
    }
    FAULT_POINT("after-tmp", m.num);
    if (commit_message(s, i, name) < 0) return -1;
    s->res->fetched++;
    s->res->bytes += m.size;
    return 1;
}

static int fetch_all(struct session *s)
{
    for (unsigned long i = 0; i < s->count; i++) {
        enum plan_action act = s->plan[i].action;
        int rc = 1;

        if (plan_fetches(act) && (rc = fetch_one(s, i)) < 0) return -1;
        if (rc == 1 && plan_deletes(act) && dele(s, i + 1) < 0) return -1;
    }
    return 0;
}

static void quit(struct session *s)
{
    struct pop3_reply r;
    struct err e;

    if (pop3_send(&s->pop, "QUIT", NULL, &e) < 0 || pop3_reply(&s->pop, &r, &e) < 0) {
        log_warn(s->a->name,
                 "no answer to QUIT (%s); deletions may not have been committed, "
                 "the next run will retry them",
                 e.msg);
        return;
    }
    FAULT_POINT("after-quit", 0);
    if (r.status != POP3_OK)
        log_warn(s->a->name, "%s could not commit all deletions: %s", s->a->host, r.text);
}

/* ---- the run ------------------------------------------------------------ */

static int run(struct session *s)
{
    if (open_local(s) < 0) return -1;
    if (auth_needs_secret(s->a) && secret_get(s->a, &s->secret, s->e) < 0) return -1;
    if (connect_server(s) < 0 || login(s) < 0) return -1;
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
        if (clean && !s->o->check && state_compact(&s->st, s->have_uidl, &e) < 0)
            log_warn(s->a->name, "%s", e.msg);
        state_close(&s->st);
    }
    free(s->msgs);
    free(s->pool);
    free(s->plan);
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
    rc = run(&s);
    cleanup(&s, rc == 0);
    res->ms = net_now_ms() - t0;
    return rc;
}
