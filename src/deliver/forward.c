/*
 * forward — the LMTP and SMTP sinks: spool, envelope, hand over, judge the
 * replies. See forward.h.
 */
#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "fault.h"
#include "esmtp.h"
#include "conf.h"
#include "header.h"
#include "maildir.h"
#include "spool.h"

#define FWD_ADDR_MAX 320
#define FWD_WORD_MAX 255 /* an escaped recipient in a journal record */

/* A recipient who has a message whose delivery is not finished (a
 * recipient record, state.h). */
struct fwd_got {
    char *uidl;
    char *rcpt; /* escaped (rcpt_word) */
};

/* One message: being spooled (fwd.cur), or handed to a connection whose
 * replies are due (fwd_conn.m). */
struct fwd_msg {
    struct spool sp;
    char *uidl;                      /* NULL: none */
    const char *act[ESMTP_RCPT_MAX]; /* its recipients still without it */
    size_t nact;
    char name[32]; /* the fetch engine's name for it (deliver.h: deferred) */
};

/* One connection to the server, and the message whose replies it owes. */
struct fwd_conn {
    struct esmtp s;
    struct fwd_msg m;
    struct esmtp_result res; /* what the server said about m so far */
    int busy;                /* m's replies are due */
};

struct fwd {
    struct fwd_conn *conn; /* smtp_connections of them, opened when first needed */
    size_t nconn;
    size_t rr;          /* the connection the next message goes to (round robin) */
    unsigned long seq;  /* names handed out */
    struct fwd_msg cur; /* the message being spooled */
    char *rcpt_buf;
    const char *rcpt[ESMTP_RCPT_MAX];
    size_t nrcpt;
    int utf8;     /* a recipient is not ASCII */
    char *sender; /* smtp_sender, "" for <>; NULL = from the message */
    char *server, *remote_user;
    uint64_t lines; /* LFs in the message: each goes out as CRLF */
    int body8;
    int last_lf;
    int temp_in_row; /* temporary failures in a row */
    struct err last_temp;
    void (*warn)(void *ctx, const char *msg);
    void *warn_ctx;
    int rejected;     /* enum rejected_mode */
    char *quarantine; /* its Maildir */
    char *tag;
    struct sink q; /* the quarantine Maildir, opened when first needed */
    int q_open;
    unsigned long accepted; /* messages the server took in this run (fault points) */
    struct fwd_got *got;    /* who has which unfinished message */
    size_t ngot;
    struct esmtp *s; /* the connection of the message being judged (its target, lmtp) */
};

/* ---- the envelope ------------------------------------------------------------------------ */

/* "user@" + the server's name, an address literal in brackets. */
static int domain_of(const char *server, char *buf, size_t len)
{
    unsigned char a[16];
    int n;

    if (inet_pton(AF_INET, server, a) == 1)
        n = snprintf(buf, len, "[%s]", server);
    else if (inet_pton(AF_INET6, server, a) == 1)
        n = snprintf(buf, len, "[IPv6:%s]", server);
    else
        n = snprintf(buf, len, "%s", server);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

ssize_t forward_complete_sender(const char *found, ssize_t flen, const char *server,
                                const char *remote_user, char *buf, size_t len)
{
    char dom[300];
    int n;

    if (domain_of(server, dom, sizeof dom) < 0) return -1;
    if (flen == 0) {
        buf[0] = '\0';
        return 0;
    }
    if (flen < 0)
        n = snprintf(buf, len, "%s@%s", remote_user, dom);
    else if (strchr(found, '@'))
        n = snprintf(buf, len, "%s", found);
    else
        n = snprintf(buf, len, "%s@%s", found, dom);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

static int envelope_sender(struct fwd *f, struct fwd_msg *m, char *buf, size_t len, struct err *e)
{
    char found[HEADER_SENDER_MAX + 1];
    ssize_t n;

    if (f->sender) {
        snprintf(buf, len, "%s", f->sender);
        return 0;
    }
    n = header_envelope_sender(spool_field, &m->sp, found, sizeof found);
    if (forward_complete_sender(found, n, f->server, f->remote_user, buf, len) < 0)
        return err_set(e, ERR_DELIVERY, "the message's sender address is too long");
    return 0;
}

/* XFORWARD's attributes: the POP3 server as the origin (RFC-less, Postfix's
 * XFORWARD_README): NAME is the server's name, ADDR an address when the
 * name is one, PROTO POP3. */
static void xforward_attrs(const struct fwd *f, char *buf, size_t len)
{
    char dom[300];
    int literal = domain_of(f->server, dom, sizeof dom) > 0 && dom[0] == '[';

    if (literal)
        snprintf(buf, len, "NAME=[UNAVAILABLE] ADDR=%s PROTO=SMTP", f->server);
    else
        snprintf(buf, len, "NAME=%s ADDR=[UNAVAILABLE] PROTO=SMTP", f->server);
}

/* ---- talking to the server ------------------------------------------------------------- */

static ssize_t read_spool(void *ctx, void *buf, size_t len, struct err *e)
{
    return spool_read(ctx, buf, len, e);
}

/* Open the connection if needed and start one transaction (the message up
 * to its end line; the replies after it stay due, c->s.pending); reopen
 * once when a kept connection turns out to have dropped before the message
 * went out. -1 a failure (res->data_sent: the server may have it), -2
 * refused before sending (SIZE, SMTPUTF8), -3 a local failure. */
static int hand_over(struct fwd_conn *c, const struct esmtp_envelope *env, struct esmtp_result *res,
                     struct err *e)
{
    struct esmtp *s = &c->s;

    for (int attempt = 0;; attempt++) {
        int reused = s->up;

        if (!s->up && esmtp_open(s, e) < 0) return -1;
        if (env->size && s->size_max && env->size > s->size_max) {
            err_set(e, ERR_DELIVERY,
                    "the message (%llu bytes) is larger than the %s server %s accepts (SIZE "
                    "%llu): it stays on the server",
                    (unsigned long long)env->size, s->lmtp ? "LMTP" : "SMTP", s->target,
                    (unsigned long long)s->size_max);
            return -2;
        }
        if (env->utf8 && !(s->ext & ESMTP_SMTPUTF8)) {
            err_set(e, ERR_DELIVERY,
                    "a recipient address is not ASCII and the server does not offer "
                    "SMTPUTF8: it stays on the server");
            return -2;
        }
        if (spool_rewind(&c->m.sp, e) < 0) return -3;
        if (esmtp_send_start(s, env, read_spool, &c->m.sp, res, e) == 0) return 0;
        if (res->data_sent || !reused || attempt > 0) return -1;
    }
}

static int class_of(int code)
{
    return code / 100;
}

static void warn_refused(struct fwd *f, const struct fwd_msg *m, size_t i,
                         const struct esmtp_reply *r, const char *why)
{
    char msg[ERR_MSG_MAX];

    if (!f->warn) return;
    snprintf(msg, sizeof msg, "%s was not delivered to %s (%s): %s", why, m->act[i],
             class_of(r->code) == 4 ? "a temporary refusal" : "refused", r->text);
    f->warn(f->warn_ctx, msg);
}

/* A recipient as a journal word: bytes outside '!'..'~', '/' and '%' as
 * %XX. -1 if it does not fit. */
static int rcpt_word(const char *rcpt, char *buf, size_t len)
{
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)rcpt; *p; p++) {
        int plain = *p > 0x20 && *p < 0x7f && *p != '/' && *p != '%';
        if (o + (plain ? 1 : 3) >= len) return -1;
        if (plain)
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, len - o, "%%%02X", *p);
    }
    buf[o] = '\0';
    return 0;
}

static int has_got(const struct fwd *f, const char *uidl, const char *word)
{
    for (size_t i = 0; i < f->ngot; i++)
        if (!strcmp(f->got[i].uidl, uidl) && !strcmp(f->got[i].rcpt, word)) return 1;
    return 0;
}

static int remember_got(struct fwd *f, const char *uidl, const char *word)
{
    struct fwd_got *n;

    if (has_got(f, uidl, word)) return 0;
    if (!(n = realloc(f->got, (f->ngot + 1) * sizeof *n))) return -1;
    f->got = n;
    n[f->ngot].uidl = strdup(uidl);
    n[f->ngot].rcpt = strdup(word);
    if (!n[f->ngot].uidl || !n[f->ngot].rcpt) {
        free(n[f->ngot].uidl), free(n[f->ngot].rcpt);
        return -1;
    }
    f->ngot++;
    return 0;
}

/* Which of the recipients lack the message `uidl` (all when NULL) into
 * m->act. */
static void still_without(struct fwd *f, struct fwd_msg *m, const char *uidl)
{
    char word[FWD_WORD_MAX + 1];

    m->nact = 0;
    for (size_t i = 0; i < f->nrcpt; i++)
        if (!uidl || rcpt_word(f->rcpt[i], word, sizeof word) < 0 || !has_got(f, uidl, word))
            m->act[m->nact++] = f->rcpt[i];
}

/* Some recipients accepted the message, others did not: each that has it
 * is recorded (a recipient record, written at once), so that the next run
 * sends it only to the others. */
static int record_got(struct fwd *f, const struct fwd_msg *m, struct sink *k,
                      const struct esmtp_result *res, struct err *e)
{
    char word[FWD_WORD_MAX + 1];

    for (size_t i = 0; i < m->nact; i++) {
        if (class_of(res->rcpt[i].code) != 2) continue;
        if (rcpt_word(m->act[i], word, sizeof word) < 0)
            return err_set(e, ERR_DELIVERY, "the recipient address %s is too long to remember",
                           m->act[i]);
        if (deliver_got(k, m->name[0] ? m->name : NULL, word, e) < 0) return -3;
        if (remember_got(f, m->uidl, word) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    }
    return 0;
}

/* The recipients that have it, for a message: "; a, b have it". */
static void name_got(const struct fwd_msg *m, const struct esmtp_result *res, struct err *e)
{
    size_t n = strlen(e->msg), first = 1;

    for (size_t i = 0; i < m->nact && n < sizeof e->msg; i++) {
        if (class_of(res->rcpt[i].code) != 2) continue;
        snprintf(e->msg + n, sizeof e->msg - n, "%s%s", first ? "; delivered to " : ", ",
                 m->act[i]);
        n = strlen(e->msg), first = 0;
    }
    if (!first && n < sizeof e->msg)
        snprintf(e->msg + n, sizeof e->msg - n, " (they do not get it again)");
}

/* What the replies mean (see forward.h): 0 delivered, -1 temporary
 * failure, -2 permanent, -3 a local failure. */
static int judge(struct fwd *f, const struct fwd_msg *m, struct sink *k,
                 const struct esmtp_result *res, struct err *e)
{
    size_t ok = 0, temp = 0, i, named;

    for (i = 0; i < m->nact; i++) {
        ok += class_of(res->rcpt[i].code) == 2;
        temp += class_of(res->rcpt[i].code) == 4;
    }
    if (ok == m->nact) return 0;
    if (ok > 0 && !m->uidl) { /* no UIDL to remember who has it by: done */
        for (i = 0; i < m->nact; i++)
            if (class_of(res->rcpt[i].code) != 2)
                warn_refused(f, m, i, &res->rcpt[i], "the message (delivered to the others)");
        return 0;
    }
    if (ok > 0 && record_got(f, m, k, res, e) < 0) return -3;
    for (i = 0; class_of(res->rcpt[i].code) == 2 || (temp && class_of(res->rcpt[i].code) != 4); i++)
        continue;
    named = i;
    for (i = 0; i < m->nact; i++)
        if (i != named && class_of(res->rcpt[i].code) != 2)
            warn_refused(f, m, i, &res->rcpt[i], "the message");
    err_set(e, ERR_DELIVERY, "the %s server %s %s for %s: %s", f->s->lmtp ? "LMTP" : "SMTP",
            f->s->target,
            temp ? "refused it for now (it is retried on the next run)" : "refused it permanently",
            m->act[named], res->rcpt[named].text);
    if (ok) name_got(m, res, e);
    if (!temp)
        err_hint(e, "the message stays on the server (smtp_rejected keep); see the server's "
                    "reply");
    return temp ? -1 : -2;
}

/* ---- the sink --------------------------------------------------------------------------- */

/* The message on connection c is done with: its spool emptied. */
static void msg_done(struct fwd_conn *c)
{
    struct err ignored;

    c->busy = 0;
    c->m.name[0] = '\0';
    free(c->m.uidl);
    c->m.uidl = NULL;
    spool_reset(&c->m.sp, &ignored);
}

/* Start the message on c (spooled in c->m): 0 handed over, its replies
 * due (c->busy); 1 done already (res holds the answers); else as
 * hand_over. */
static int start_msg(struct fwd *f, struct fwd_conn *c, struct err *e)
{
    struct esmtp_result *res = &c->res;
    char sender[FWD_ADDR_MAX + 400], xf[400];
    struct esmtp_envelope env = {.rcpt = c->m.act, .nrcpt = c->m.nact, .utf8 = f->utf8};
    int rc;

    memset(res, 0, sizeof *res);
    if (spool_flush(&c->m.sp, e) < 0) return -3;
    if (envelope_sender(f, &c->m, sender, sizeof sender, e) < 0) return -3;
    xforward_attrs(f, xf, sizeof xf);
    env.sender = sender;
    env.size = spool_size(&c->m.sp) + f->lines + (f->last_lf ? 0 : 2);
    env.body8 = f->body8;
    env.xf = xf;
    if ((rc = hand_over(c, &env, res, e)) < 0) {
        if (rc == -1 && res->data_sent)
            err_hint(e, "the server may have the message already: the next run delivers it "
                        "again (a duplicate rather than a loss)");
        return rc;
    }
    return c->s.pending ? 0 : 1;
}

/* The whole spooled message into the quarantine Maildir, durably. */
static int quarantine(struct fwd *f, struct spool *sp, struct err *e)
{
    unsigned char buf[16384];
    char name[DELIVER_NAME_MAX];
    struct sink *q = &f->q;
    struct deliver_msg m = {0};
    ssize_t n;

    if (!f->q_open) {
        if (maildir_open(q, f->quarantine, f->tag, e) < 0) return -1;
        f->q_open = 1;
    }
    if (spool_rewind(sp, e) < 0 || q->ops->begin(q, &m, e) < 0) return -1;
    while ((n = spool_read(sp, buf, sizeof buf, e)) > 0)
        if (q->ops->write(q, buf, (size_t)n, e) < 0) break;
    if (n != 0) {
        q->ops->abort(q);
        return -1;
    }
    if (q->ops->end(q, name, e) < 0 || q->ops->sync(q, e) < 0 || q->ops->publish(q, name, e) < 0 ||
        q->ops->publish_sync(q, e) < 0)
        return -1;
    return 0;
}

/* A permanent refusal (in e) by smtp_rejected: 0 if the message is done
 * with (quarantined or deleted), -1 if it stays on the server. */
static int rejected(struct fwd *f, struct spool *sp, struct err *e)
{
    char msg[ERR_MSG_MAX + 128];
    struct err qe;

    if (f->rejected == REJECTED_KEEP) return -1;
    if (f->rejected == REJECTED_QUARANTINE && quarantine(f, sp, &qe) < 0) {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, "; and it could not be quarantined: %s", qe.msg);
        err_hint(e, "the message stays on the server");
        return -1;
    }
    snprintf(msg, sizeof msg, "%s; %s", e->msg,
             f->rejected == REJECTED_DELETE ? "dropped (smtp_rejected delete)"
                                            : "filed into the quarantine Maildir");
    if (f->rejected == REJECTED_QUARANTINE) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, " %s", f->quarantine);
    }
    if (f->warn) f->warn(f->warn_ctx, msg);
    return 0;
}

/* What a message's result rc (0 delivered, -1 temporary, -2 permanent,
 * -3 local) comes to for the engine: 0 delivered (or done with by
 * smtp_rejected), -1 not delivered, DELIVER_STOP not delivered and the
 * server is to be left alone. */
static int outcome(struct fwd *f, struct fwd_conn *c, int rc, struct err *e)
{
    size_t n;

    /* The server has it and the journal does not yet: a kill here makes
     * the next run deliver it again (forward.h). */
    if (rc == 0) FAULT_POINT("after-forward", ++f->accepted);
    if (rc == -2) rc = rejected(f, &c->m.sp, e) == 0 ? 0 : -2;
    if (rc != -1) {
        f->temp_in_row = 0;
        return rc < 0 ? -1 : 0;
    }
    f->last_temp = *e;
    if (++f->temp_in_row < FORWARD_TEMP_MAX) return -1;
    n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n,
             "; %d temporary failures in a row: the %s server is not asked again in this run",
             f->temp_in_row, c->s.lmtp ? "LMTP" : "SMTP");
    return DELIVER_STOP;
}

/* The replies to the message on connection c: read, judged, and told to
 * the fetch engine (deliver_settled). -1 only when that could not be
 * recorded (e set). */
static int settle(struct fwd *f, struct sink *k, struct fwd_conn *c, struct err *e)
{
    struct err why;
    int rc;

    if (!c->busy) return 0;
    err_clear(&why);
    f->s = &c->s;
    if (esmtp_send_finish(&c->s, &c->res, &why) < 0) {
        err_hint(&why, "the server may have the message already: the next run delivers it "
                       "again (a duplicate rather than a loss)");
        rc = -1;
    } else
        rc = judge(f, &c->m, k, &c->res, &why);
    rc = outcome(f, c, rc, &why);
    rc = deliver_settled(k, c->m.name, rc, &why, e);
    msg_done(c);
    return rc;
}

/* The messages whose replies have arrived are settled now, without
 * waiting: the sooner a message is recorded, the fewer a kill delivers
 * twice (forward.h). */
static int settle_ready(struct fwd *f, struct sink *k, struct err *e)
{
    for (size_t i = 0; i < f->nconn; i++)
        if (f->conn[i].busy && net_has_pending_input(&f->conn[i].s.c) &&
            settle(f, k, &f->conn[i], e) < 0)
            return -1;
    return 0;
}

static int fw_begin(struct sink *k, const struct deliver_msg *m, struct err *e)
{
    struct fwd *f = k->impl;

    if (settle_ready(f, k, e) < 0) return -1;
    free(f->cur.uidl);
    f->cur.uidl = NULL;
    if (m->uidl && !(f->cur.uidl = strdup(m->uidl)))
        return err_set(e, ERR_INTERNAL, "out of memory");
    still_without(f, &f->cur, f->cur.uidl);
    f->lines = 0, f->body8 = 0, f->last_lf = 1;
    return spool_reset(&f->cur.sp, e);
}

static int fw_write(struct sink *k, const unsigned char *buf, size_t len, struct err *e)
{
    struct fwd *f = k->impl;
    const unsigned char *p = buf, *end = buf + len;

    if (len == 0) return 0;
    if (settle_ready(f, k, e) < 0) return -1;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) p++, f->lines++;
    f->body8 |= header_8bit(buf, len);
    f->last_lf = buf[len - 1] == '\n';
    return spool_write(&f->cur.sp, buf, len, e);
}

static void fw_abort(struct sink *k)
{
    struct fwd *f = k->impl;
    struct err ignored;

    spool_reset(&f->cur.sp, &ignored);
}

/* The next connection in turn, its earlier message settled. */
static struct fwd_conn *free_conn(struct fwd *f, struct sink *k, struct err *e)
{
    struct fwd_conn *c = &f->conn[f->rr];

    f->rr = (f->rr + 1) % f->nconn;
    return settle(f, k, c, e) < 0 ? NULL : c;
}

/* The message being spooled moves to connection c (c's empty spool comes
 * back for the next one). */
static void move_to(struct fwd *f, struct fwd_conn *c)
{
    struct fwd_msg t = c->m;

    c->m = f->cur;
    f->cur = t;
    f->cur.uidl = NULL;
    c->m.name[0] = '\0';
}

/* end(): the message goes to the next connection in turn (whose earlier
 * message is settled first), up to its end line; its replies are read
 * when that connection is needed again or at sync (deliver.h: deferred).
 * An outcome known at once (refused before the end line, a failure) is
 * end()'s own, with no name. */
static int fw_end(struct sink *k, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct fwd *f = k->impl;
    struct fwd_conn *c;
    int rc;

    name[0] = '\0';
    if (f->cur.nact == 0) { /* every recipient got it in earlier runs (the recipients changed) */
        fw_abort(k);
        return 0;
    }
    if (settle_ready(f, k, e) < 0 || !(c = free_conn(f, k, e))) {
        fw_abort(k);
        return -1;
    }
    if (f->temp_in_row >= FORWARD_TEMP_MAX) { /* the server asked for a pause */
        *e = f->last_temp;
        err_prefix(e, "not tried after %d temporary failures in a row", f->temp_in_row);
        fw_abort(k);
        return DELIVER_STOP;
    }
    move_to(f, c);
    snprintf(c->m.name, sizeof c->m.name, "fwd.%lu", ++f->seq);
    if ((rc = start_msg(f, c, e)) == 0) {
        c->busy = 1;
        snprintf(name, DELIVER_NAME_MAX, "%s", c->m.name);
        return 0;
    }
    c->m.name[0] = '\0'; /* settled here: end()'s own outcome */
    f->s = &c->s;
    if (rc == 1) rc = judge(f, &c->m, k, &c->res, e);
    rc = outcome(f, c, rc, e);
    msg_done(c);
    return rc;
}

/* Every message handed over is settled. */
static int fw_sync(struct sink *k, struct err *e)
{
    struct fwd *f = k->impl;
    int rc = 0;

    for (size_t i = 0; i < f->nconn; i++)
        if (settle(f, k, &f->conn[(f->rr + i) % f->nconn], e) < 0) rc = -1;
    return rc;
}

/* A recipient record from an earlier run: 1 when every recipient now has
 * the message. */
static int fw_recover_recipient(struct sink *k, const char *uidl, const char *rcpt, struct err *e)
{
    struct fwd *f = k->impl;
    struct fwd_msg probe;

    if (remember_got(f, uidl, rcpt) < 0) return err_set(e, ERR_INTERNAL, "out of memory");
    still_without(f, &probe, uidl);
    return probe.nact == 0;
}

static void msg_free(struct fwd_msg *m)
{
    free(m->uidl);
    m->uidl = NULL;
    spool_close(&m->sp);
}

static void fw_close(struct sink *k)
{
    struct fwd *f = k->impl;

    if (!f) return;
    for (size_t i = 0; i < f->ngot; i++) free(f->got[i].uidl), free(f->got[i].rcpt);
    free(f->got);
    for (size_t i = 0; f->conn && i < f->nconn; i++) {
        esmtp_close(&f->conn[i].s);
        esmtp_free(&f->conn[i].s);
        msg_free(&f->conn[i].m);
    }
    free(f->conn);
    msg_free(&f->cur);
    if (f->q_open) f->q.ops->close(&f->q);
    free(f->quarantine), free(f->tag);
    free(f->rcpt_buf), free(f->sender), free(f->server), free(f->remote_user);
    free(f);
    k->impl = NULL;
}

static const struct sink_ops forward_ops = {
    .begin = fw_begin,
    .write = fw_write,
    .end = fw_end,
    .abort = fw_abort,
    .sync = fw_sync, /* the messages handed over are settled; nothing to publish */
    .publish = deliver_final_publish,
    .publish_sync = deliver_final_sync,
    .recover = deliver_final_recover,
    .recover_recipient = fw_recover_recipient,
    .close = fw_close,
};

/* ---- opening ----------------------------------------------------------------------------- */

static char *login_name(void)
{
    struct passwd pw, *res = NULL;
    char buf[4096];

    if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
        return strdup(res->pw_name);
    return NULL;
}

/* `recipient`'s words (conf.c checked each) into f->rcpt. */
static int split_recipients(struct fwd *f, const char *list, struct err *e)
{
    char *save = NULL;

    f->rcpt_buf = list ? strdup(list) : login_name();
    if (!f->rcpt_buf)
        return err_set(e, list ? ERR_INTERNAL : ERR_USAGE,
                       list ? "out of memory" : "no recipient: set `recipient`");
    for (char *w = strtok_r(f->rcpt_buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (f->nrcpt == ESMTP_RCPT_MAX)
            return err_set(e, ERR_USAGE, "more than %d recipients", ESMTP_RCPT_MAX);
        f->utf8 |= header_8bit(w, strlen(w));
        f->rcpt[f->nrcpt++] = w;
    }
    return f->nrcpt ? 0 : err_set(e, ERR_USAGE, "no recipient: set `recipient`");
}

static int copy_opts(struct fwd *f, const struct forward_opts *o)
{
    f->server = strdup(o->server ? o->server : "localhost");
    f->remote_user = strdup(o->remote_user ? o->remote_user : "");
    if (o->sender) f->sender = strdup(strcmp(o->sender, "<>") ? o->sender : "");
    f->warn = o->warn, f->warn_ctx = o->warn_ctx;
    f->rejected = o->rejected;
    f->quarantine = strdup(o->quarantine ? o->quarantine : "");
    f->tag = strdup(o->tag ? o->tag : "0");
    return f->server && f->remote_user && (f->sender || !o->sender) && f->quarantine && f->tag ? 0
                                                                                               : -1;
}

/* One connection's settings (forward_open); id: its number from 1 in the
 * -vv trace when there are several, else 0. */
static int conn_init(struct fwd_conn *c, const struct forward_opts *o, const char *helo,
                     unsigned id, struct err *e)
{
    c->m.sp.fd = -1;
    net_init(&c->s.c);
    if (esmtp_init(&c->s, o->lmtp, o->target, helo, (o->timeout_s > 0 ? o->timeout_s : 60) * 1000,
                   e) < 0)
        return -1;
    c->s.trace = o->trace, c->s.trace_ctx = o->trace_ctx, c->s.trace_id = id;
    c->s.tls_mode = o->tls;
    c->s.tls = (struct tls_opts){.verify = 1, .trust_file = o->trust_file, .min_version = 12};
    if (o->auth_user && esmtp_set_auth(&c->s, o->auth_user, o->auth_secret, o->auth_mech, e) < 0)
        return -1;
    return spool_open(&c->m.sp, o->spool_dir, e);
}

/* How many connections: smtp_connections, else FORWARD_LMTP_CONNS for
 * LMTP and 1 for SMTP (forward.h). */
static size_t conn_count(const struct forward_opts *o)
{
    unsigned n = o->connections ? o->connections : o->lmtp ? FORWARD_LMTP_CONNS : 1;

    return n < FORWARD_CONNS_MAX ? n : FORWARD_CONNS_MAX;
}

int forward_open(struct sink *k, const struct forward_opts *o, struct err *e)
{
    struct fwd *f = calloc(1, sizeof *f);
    char host[256] = "";

    k->ops = &forward_ops;
    k->impl = f;
    k->one_at_a_time = 1;
    k->deferred = 1;
    if (!f) return err_set(e, ERR_INTERNAL, "out of memory");
    f->cur.sp.fd = -1;
    f->nconn = conn_count(o);
    if (!(f->conn = calloc(f->nconn, sizeof *f->conn))) {
        f->nconn = 0;
        fw_close(k);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < f->nconn; i++) f->conn[i].m.sp.fd = -1;
    if (!o->helo && gethostname(host, sizeof host - 1) < 0) host[0] = '\0';
    for (size_t i = 0; i < f->nconn; i++)
        if (conn_init(&f->conn[i], o, o->helo ? o->helo : host, f->nconn > 1 ? (unsigned)i + 1 : 0,
                      e) < 0) {
            fw_close(k);
            return -1;
        }
    if (split_recipients(f, o->recipients, e) < 0) {
        fw_close(k);
        return -1;
    }
    if (copy_opts(f, o) < 0) {
        fw_close(k);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (spool_open(&f->cur.sp, o->spool_dir, e) < 0) {
        fw_close(k);
        return -1;
    }
    f->s = &f->conn[0].s;
    return 0;
}
