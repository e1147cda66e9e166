/*
 * session — one account's run. See session.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "capamemo.h"
#include "connect.h"
#include "deliver.h"
#include "fault.h"
#include "fetch.h"
#include "listing.h"
#include "log.h"
#include "monotime.h"
#include "net.h"
#include "oauth2.h"
#include "plan.h"
#include "pop3.h"
#include "progress.h"
#include "secret.h"
#include "session.h"
#include "state.h"
#include "tls.h"

struct session {
    const struct account *a;
    const struct session_opts *o;
    struct session_result *res;
    struct err *e;
    struct net_conn net;
    struct pop3 pop;
    struct connection conn; /* the connect sequence's view of net and pop */
    struct state *st;       /* locked (lock_local) until cleanup */
    struct sink sink;
    int have_sink;
    char *secret;
    int token_fresh;          /* the OAuth2 token was obtained for this run (not reused) */
    int secret_sent;          /* the login got as far as sending it */
    struct listing ls;        /* the server's STAT, LIST and UIDL */
    int pipelining;           /* pipeline RETR/DELE (account setting and CAPA) */
    int quit_sent;            /* QUIT went out behind the last DELEs (or RETR) */
    int listing_sent;         /* the listing went out behind PASS */
    int sizes_each;           /* no LIST: a LIST n goes out before each RETR n */
    struct fetch_ahead ahead; /* messages RETRed ahead of the listing */
    struct capamemo memo;     /* the CAPA remembered from the last poll (capamemo.h) */
    char local_host[256];     /* for Received: */
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

/* A sink's warning (a recipient the LMTP/SMTP server refused, a lock
 * broken, an mbox intent settled). */
static void sink_warn(void *ctx, const char *msg)
{
    log_warn((const char *)ctx, "%s", msg);
}

void session_state_key(const struct account *a, char *buf, size_t len)
{
    char id[1024];

    if (a->state_key)
        snprintf(id, sizeof id, "%s", a->state_key);
    else
        snprintf(id, sizeof id, "%s@%s", a->user, a->host);
    state_key(buf, len, id);
}

void session_old_state_key(const struct account *a, char *buf, size_t len)
{
    char id[1024];

    snprintf(id, sizeof id, "%s@%s:%u", a->user, a->host, conf_port(a));
    state_key(buf, len, id);
}

int session_state_lock(const struct account *a, const char *dir, struct state **st, struct err *e)
{
    char key[1024], old[1024];
    int moved;

    session_state_key(a, key, sizeof key);
    session_old_state_key(a, old, sizeof old);
    if (state_lock(st, dir, key, e) < 0) return -1;
    if ((moved = state_adopt(*st, old, e)) < 0) {
        state_close(*st);
        *st = NULL;
        return -1;
    }
    if (moved) log_info(a->name, "state %s/%s.* moved to %s", dir, old, state_path(*st));
    return 0;
}

/* Before connecting: one run per account at a time, and a sink that can
 * be opened. */
static int lock_local(struct session *s)
{
    char key[1024], tag[16];

    session_state_key(s->a, key, sizeof key);
    if (s->o->check) { /* --check touches nothing local: reads, creates nothing */
        char old[1024];
        session_old_state_key(s->a, old, sizeof old);
        if (state_peek(&s->st, s->o->state_dir, key, old, s->e) < 0) return -1;
        s->ls.st = s->st;
        return 0;
    }
    if (session_state_lock(s->a, s->o->state_dir, &s->st, s->e) < 0) return -1;
    s->ls.st = s->st; /* each UIDL is looked up in it as the listing arrives */
    snprintf(tag, sizeof tag, "%08x", tag_hash(key));
    struct deliver_ctx c = {
        .tag = tag,
        .mda_stderr = mda_said,
        .mda_stderr_ctx = (void *)s->a->name,
        .warn = sink_warn,
        .warn_ctx = (void *)s->a->name,
        .trace = log_get_level() >= LOG_TRACE ? log_trace : NULL,
        .trace_ctx = (void *)s->a->name,
    };
    if (deliver_open(&s->sink, s->a, &c, s->e) < 0) return -1;
    s->have_sink = 1;
    return 0;
}

typedef int (*settle_fn)(struct sink *, const char *, const char *, struct err *);

/* Ask the sink about each journal record of a message not yet delivered;
 * one it says is there (1) is recorded as delivered. Counts those in
 * *found; commits them at once. */
static int settle_records(struct session *s, const struct state_intent *r, size_t n,
                          settle_fn settle, size_t *found)
{
    *found = 0;
    for (size_t i = 0; settle && i < n; i++) {
        size_t len = strlen(r[i].uidl);
        const struct state_entry *ent = state_lookup(s->st, r[i].uidl, len);
        int rc;
        if (ent && state_entry_status(ent) == STATE_DELIVERED) continue;
        if ((rc = settle(&s->sink, r[i].uidl, r[i].note, s->e)) < 0) return -1;
        if (rc == 0) continue;
        if (state_add(s->st, r[i].uidl, len, STATE_DELIVERED, r[i].when, NULL, s->e) < 0) return -1;
        (*found)++;
    }
    return *found ? state_commit(s->st, s->e) : 0;
}

/* Intents in the journal with no record after them: a run was killed
 * while the sink made a message final. The sink says whether the message
 * is there (then it is recorded, and never delivered again) or not (then
 * what was left of it is gone, and it will be fetched again). */
static int recover_intents(struct session *s)
{
    size_t n, found;
    const struct state_intent *in = state_intents(s->st, &n);

    if (settle_records(s, in, n, s->sink.ops->recover_intent, &found) < 0) return -1;
    if (found)
        log_info(s->a->name, "%zu message%s delivered by a run that was stopped now recorded",
                 found, found == 1 ? "" : "s");
    return 0;
}

/* Recipient records of messages not yet delivered: a forwarding sink
 * learns who has each already (and leaves them out when it comes again);
 * one that every recipient now has is recorded as delivered. */
static int recover_recipients(struct session *s)
{
    size_t n, found;
    const struct state_intent *r = state_recipients(s->st, &n);

    return settle_records(s, r, n, s->sink.ops->recover_recipient, &found);
}

/* Load the seen-state and finish what a previous run left in the sink.
 * Called while the server prepares the listing. */
static int open_local(struct session *s)
{
    unsigned dropped;
    char *const *names;
    size_t nnames;

    if (state_load(s->st, s->e) < 0) return -1;
    if ((dropped = state_dropped(s->st)))
        log_warn(s->a->name,
                 "state %s: ignored %u damaged line%s (those messages may be "
                 "fetched again)",
                 state_path(s->st), dropped, dropped == 1 ? "" : "s");
    if (!s->have_sink) return 0; /* --check */
    names = state_pending_names(s->st, &nnames);
    if (s->sink.ops->recover(&s->sink, names, nnames, s->e) < 0) return -1;
    if (recover_intents(s) < 0) return -1;
    return recover_recipients(s);
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

static void seen_note(void *ctx, const char *msg)
{
    const struct account *a = ctx;

    log_warn(a->name, "%s", msg);
}

static int connect_server(struct session *s)
{
    const struct account *a = s->a;
    struct connect_observer ob = {
        .ctx = (void *)a, .connected = seen_connected, .tls = seen_tls, .note = seen_note};
    struct connect_params cp = {.use = CONNECT_STRICT, .ob = &ob, .memo = &s->memo};
    const char *v;
    int rc;

    if (log_get_level() >= LOG_TRACE) {
        cp.trace = log_trace;
        cp.trace_ctx = (void *)a->name;
    }
    rc = connect_open(&s->conn, &s->net, &s->pop, a, &cp, s->e);
    v = tls_version_name(&s->net); /* for --json, also when the login fails */
    if (rc == 0 && v) snprintf(s->res->tls_version, sizeof s->res->tls_version, "%s", v);
    if (rc == 0 && s->conn.capa_remembered)
        log_info(a->name, "capabilities as %s announced them at the last poll (no CAPA)", a->host);
    return rc;
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

/* With pipelining, do sizes come per message? Every message's size (one
 * LIST) is needed for max_size, for --check and for the progress line's
 * byte count of a first run. Once a run has left a state, few messages are
 * new in a typical run: each fetched message's size comes from a LIST n
 * pipelined right before its RETR, and the whole mailbox's LIST (tens of
 * bytes per message, read at every run) is not asked for. */
static int sizes_per_message(const struct session *s)
{
    return state_has_file(s->st) && !s->a->max_size && !s->o->check;
}

/* The listing to pipeline: without LIST when sizes come per message. */
static const char *const *pipelined_listing(int sizes_each)
{
    return sizes_each ? listing_no_list : listing_cmds;
}

/* The password, or with `oauth2` an access token (refreshed when due, under
 * the account's lock, which this run holds). force: the server refused the
 * one we had. */
static int get_secret(struct session *s, int force)
{
    char key[1024];
    struct oauth2_ctx c = {.a = s->a, .state_dir = s->o->state_dir, .key = key};
    struct oauth2_info info;
    int rc;

    if (!s->a->oauth2) return secret_get(s->a, &s->secret, s->e);
    session_state_key(s->a, key, sizeof key);
    if (log_get_level() >= LOG_TRACE) {
        c.trace = log_trace;
        c.trace_ctx = (void *)s->a->name;
    }
    rc = oauth2_login_token(&c, force, &s->secret, &info, s->e);
    s->token_fresh = info.fresh;
    if (rc == 0 && info.fresh) log_info(s->a->name, "OAuth2: got a new access token");
    return rc;
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

    if (ai.pipeline && !capa_again(&s->pop.capa)) ai.then = pipelined_listing(sizes_per_message(s));
    rc = auth_login(&s->pop, s->a, s->secret, &ai, s->e);
    /* the secret went to the server (a refusal is the server's verdict on it) */
    s->secret_sent = ai.mechanism && (ai.encrypted || s->a->allow_plaintext);
    s->listing_sent = ai.then_sent;
    if (!s->conn.capa_remembered || rc == 0) { /* else perhaps tried again (memo_failed) */
        secret_free(s->secret);
        s->secret = NULL;
    }
    if (rc < 0) return -1;
    log_info(s->a->name, "logged in as %s (%s)", s->a->user, ai.mechanism);
    return capa_after_login(s);
}

static void forget_memo(struct session *s)
{
    char key[1024];
    struct err e;

    s->memo.have = 0;
    if (s->o->check) return; /* --check removes nothing */
    session_state_key(s->a, key, sizeof key);
    if (capamemo_forget(s->o->state_dir, key, &e) < 0) log_warn(s->a->name, "%s", e.msg);
}

/* A login that failed on remembered capabilities, for a reason they may
 * have caused: a -ERR that is not the server's verdict on the secret (a
 * mechanism or USER no longer offered, a command refused), or a refusal
 * before the secret was sent. A wrong password (ERR_AUTH once the secret
 * went out) or a busy mailbox is not one: that failure stands, as it
 * would have with CAPA asked. */
static int memo_failed(const struct session *s)
{
    enum err_kind k = s->e->kind;

    return s->conn.capa_remembered &&
           (k == ERR_SERVER || k == ERR_PROTOCOL || (k == ERR_AUTH && !s->secret_sent));
}

/* Connect and log in. Remembered capabilities that the login disproves
 * are forgotten and the login tried once more on a new connection, after
 * a CAPA. A saved OAuth2 token the server refuses (revoked, or expired
 * early) is refreshed once and tried on a new connection. */
static int connect_and_login(struct session *s)
{
    int rc;

    if (connect_server(s) < 0) return -1;
    rc = login(s);
    if (rc < 0 && s->conn.capa_remembered) {
        int again = memo_failed(s);
        forget_memo(s);
        if (again) {
            log_info(s->a->name, "login failed (%s); asking CAPA and trying again", s->e->msg);
            net_close(&s->net);
            err_clear(s->e);
            rc = connect_server(s) < 0 ? -1 : login(s);
        }
    }
    secret_free(s->secret);
    s->secret = NULL;
    if (rc == 0) return 0;
    if (!s->a->oauth2 || s->token_fresh || !s->secret_sent || s->e->kind != ERR_AUTH) return -1;
    log_info(s->a->name, "the server refused the saved OAuth2 token (%s); refreshing it",
             s->e->msg);
    net_close(&s->net);
    err_clear(s->e);
    if (get_secret(s, 1) < 0 || connect_server(s) < 0) return -1;
    return login(s);
}

/* ---- the listing (listing.c reads it; here: what is asked for, when) -- */

/* While LIST and UIDL are on their way, RETR the messages the state
 * suggests are new (fetch_guess). Not with max_size or max_messages,
 * which may leave new mail on the server unread, not with EXPIRE 0 (a
 * RETR is a deletion there), and not for --check. */
static int guess_new(struct session *s)
{
    struct fetch_rules r = {.pipelining = s->pipelining, .sizes_each = s->sizes_each};

    if (s->o->check || s->a->max_size || s->a->max_messages || s->pop.capa.expire == 0) return 0;
    return fetch_guess(&s->pop, &r, state_count(s->st), s->ls.count, &s->ahead, s->e);
}

/* STAT, LIST, UIDL: with pipelining sent together (perhaps already
 * behind PASS), one round trip. */
static int read_listing(struct session *s)
{
    int ahead = s->pipelining; /* also when the listing went out behind PASS */

    if (ahead && !s->listing_sent)
        for (const char *const *c = pipelined_listing(s->sizes_each); *c; c++)
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
    /* keep on without fetch-all leaves every message delivered before:
     * the listing keeps no item for them (issue 20) */
    s->ls.leave_seen = s->a->keep.mode == KEEP_ON && !s->a->fetch_all;
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
 * that we told them (it is not "seen": raising max_size fetches it). Not
 * silenced by -q; told only when the line reached someone (not a closed
 * stderr, not /dev/null): else the next run tells again. */
static int report_too_big(struct session *s)
{
    for (unsigned long k = 0; k < listing_items(&s->ls); k++) { /* a message without one is left */
        const struct plan_item *it = &s->ls.plan[k];
        unsigned long i = listing_index(&s->ls, k);
        if (it->action != PLAN_TOO_BIG || (it->flags & PLAN_REPORTED_BIG)) continue;
        if (!log_warn_seen(s->a->name,
                           "message %lu is %s%llu bytes, more than max_size; it stays on the "
                           "server",
                           i + 1, plan_item_size(it) == PLAN_SIZE_MAX ? "at least " : "",
                           (unsigned long long)plan_item_size(it)))
            continue;
        if (!s->o->check && listing_record(&s->ls, i, STATE_SKIPPED, time(NULL), NULL, s->e) < 0)
            return -1;
    }
    return s->o->check ? 0 : state_commit(s->st, s->e);
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
    p.first_seen = listing_first_seen;
    p.ctx = &s->ls;
    plan_make(&p, s->ls.plan, listing_items(&s->ls), &sum);
    sum.leave += listing_left(&s->ls); /* decided as the listing arrived */
    s->res->waiting = sum.over_limit;
    s->res->new_messages = sum.fetch + sum.over_limit;
    for (unsigned long k = 0; k < listing_items(&s->ls); k++)
        if (s->ls.plan[k].action == PLAN_TOO_BIG) s->res->too_big++;
    log_info(s->a->name, "%lu message%s on the server, %lu to fetch", s->ls.count,
             s->ls.count == 1 ? "" : "s", sum.fetch);
    if (sum.fetch && !s->o->check) {
        uint64_t bytes = 0;
        for (unsigned long k = 0; k < listing_items(&s->ls); k++)
            if (plan_fetches(s->ls.plan[k].action)) bytes += plan_item_size(&s->ls.plan[k]);
        progress_start(s->a->name, sum.fetch, bytes);
    }
    warn_expire(s);
    return report_too_big(s);
}

/* ---- fetching (fetch.c) -------------------------------------------------- */

static void not_delivered(void *ctx, unsigned long num, const struct err *why)
{
    const struct session *s = ctx;

    (void)num;
    log_error(s->a->name, why);
}

static void fetch_warn(void *ctx, const char *msg)
{
    const struct session *s = ctx;

    log_warn(s->a->name, "%s", msg);
}

static void fetch_progress(void *ctx, unsigned long msgs, uint64_t bytes)
{
    (void)ctx;
    progress_update(msgs, bytes);
}

static int fetch(struct session *s)
{
    const struct fetch_observer ob = {
        .ctx = s, .not_delivered = not_delivered, .warn = fetch_warn, .progress = fetch_progress};
    const struct fetch_job job = {
        .pop = &s->pop,
        .ls = &s->ls,
        .sink = &s->sink,
        .st = s->st,
        .a = s->a,
        .local_host = s->local_host,
        .rules = {.pipelining = s->pipelining, .sizes_each = s->sizes_each},
        .ahead = s->ahead,
        .ob = &ob,
    };
    struct fetch_result r;
    int rc = fetch_messages(&job, &r, s->e);

    s->res->fetched += r.fetched;
    s->res->kept += r.kept;
    s->res->deleted += r.deleted;
    s->res->failed += r.failed;
    s->res->bytes += r.bytes;
    s->quit_sent = r.quit_sent;
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
        s->res->quit_unanswered = 1;
        return;
    }
    FAULT_POINT("after-quit", 0);
    if (r.status != POP3_OK)
        log_warn(s->a->name, "%s could not commit all deletions: %s", s->a->host, r.text);
    else
        s->res->quit_ok = 1;
}

/* ---- the run ------------------------------------------------------------ */

/* The capabilities remembered from the last poll (none is no error). */
static void load_memo(struct session *s)
{
    char key[1024];
    struct err e;

    session_state_key(s->a, key, sizeof key);
    if (capamemo_load(&s->memo, s->o->state_dir, key, &e) < 0)
        log_info(s->a->name, "capabilities not remembered: %s", e.msg);
}

/* After the run: a CAPA the server sent over a trusted TLS connection is
 * remembered when the run succeeded without a -ERR; a remembered one is
 * forgotten when the run failed or met a -ERR (capamemo.h). */
static void settle_memo(struct session *s, int rc)
{
    char key[1024];
    struct err e;

    if (s->o->check) return; /* creates nothing */
    if (s->conn.capa_remembered) {
        if (rc < 0 || s->pop.last_err[0]) forget_memo(s);
        return;
    }
    if (rc < 0 || s->pop.last_err[0] || !s->conn.learnt.have) return;
    session_state_key(s->a, key, sizeof key);
    if (capamemo_save(&s->conn.learnt, s->o->state_dir, key, &e) < 0)
        log_info(s->a->name, "capabilities not remembered: %s", e.msg);
}

static int run(struct session *s)
{
    if (lock_local(s) < 0) return -1;
    load_memo(s);
    if (auth_needs_secret(s->a) && get_secret(s, 0) < 0) return -1;
    if (connect_and_login(s) < 0) return -1;
    s->pipelining = will_pipeline(s);
    s->sizes_each = s->pipelining && sizes_per_message(s);
    s->res->login_delay = s->pop.capa.login_delay;
    if (read_listing(s) < 0 || make_plan(s) < 0) return -1;
    if (!s->o->check && fetch(s) < 0) return -1;
    quit(s);
    return 0;
}

static void cleanup(struct session *s, int clean)
{
    struct err e;
    int have_uidl = s->ls.have_uidl;

    secret_free(s->secret);
    net_close(&s->net);
    if (s->have_sink) s->sink.ops->close(&s->sink);
    listing_free(&s->ls); /* before a compaction's own memory (issue 20) */
    if (s->st) {
        /* Every journaled delivery was published (or the run stopped before
         * publishing it, and then the journal keeps its name for recovery). */
        if (clean && !s->o->check && state_settle(s->st, have_uidl, &e) < 0)
            log_warn(s->a->name, "%s", e.msg);
        state_close(s->st);
    }
}

int session_run(const struct account *a, const struct session_opts *o, struct session_result *res)
{
    struct session s;
    int64_t t0 = monotime_ms();
    int rc;

    memset(res, 0, sizeof *res);
    memset(&s, 0, sizeof s);
    net_init(&s.net);
    s.a = a;
    s.o = o;
    s.res = res;
    s.e = &res->err;
    listing_init(&s.ls, &s.pop, NULL); /* its state: once locked */
    res->login_delay = -1;
    if (gethostname(s.local_host, sizeof s.local_host - 1) < 0) strcpy(s.local_host, "localhost");
    rc = run(&s);
    memcpy(res->server_reply, s.pop.last_err, sizeof res->server_reply);
    if (s.st) settle_memo(&s, rc); /* under the account's lock */
    if (rc < 0 && s.e->kind == ERR_INTERRUPTED)
        err_hint(s.e, "what was delivered whole is recorded; nothing else was deleted, and the "
                      "next run goes on from there");
    cleanup(&s, rc == 0);
    res->ms = monotime_ms() - t0;
    return rc;
}
