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

struct fwd {
    struct esmtp s;
    struct spool sp;
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

static int envelope_sender(struct fwd *f, char *buf, size_t len, struct err *e)
{
    char found[HEADER_SENDER_MAX + 1];
    ssize_t n;

    if (f->sender) {
        snprintf(buf, len, "%s", f->sender);
        return 0;
    }
    n = header_envelope_sender(spool_field, &f->sp, found, sizeof found);
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

/* Open the connection if needed and run one transaction; reopen once when
 * a kept connection turns out to have dropped before the message went out. */
static int hand_over(struct fwd *f, const struct esmtp_envelope *env, struct esmtp_result *res,
                     struct err *e)
{
    for (int attempt = 0;; attempt++) {
        int reused = f->s.up;

        if (!f->s.up && esmtp_open(&f->s, e) < 0) return -1;
        if (env->size && f->s.size_max && env->size > f->s.size_max) {
            err_set(e, ERR_DELIVERY,
                    "the message (%llu bytes) is larger than the %s server %s accepts (SIZE "
                    "%llu): it stays on the server",
                    (unsigned long long)env->size, f->s.lmtp ? "LMTP" : "SMTP", f->s.target,
                    (unsigned long long)f->s.size_max);
            return -2;
        }
        if (env->utf8 && !(f->s.ext & ESMTP_SMTPUTF8)) {
            err_set(e, ERR_DELIVERY,
                    "a recipient address is not ASCII and the server does not offer "
                    "SMTPUTF8: it stays on the server");
            return -2;
        }
        if (spool_rewind(&f->sp, e) < 0) return -3;
        if (esmtp_send(&f->s, env, read_spool, &f->sp, res, e) == 0) return 0;
        if (res->data_sent || !reused || attempt > 0) return -1;
    }
}

static int class_of(int code)
{
    return code / 100;
}

static void warn_refused(struct fwd *f, size_t i, const struct esmtp_reply *r, const char *why)
{
    char msg[ERR_MSG_MAX];

    if (!f->warn) return;
    snprintf(msg, sizeof msg, "%s was not delivered to %s (%s): %s", why, f->rcpt[i],
             class_of(r->code) == 4 ? "a temporary refusal" : "refused", r->text);
    f->warn(f->warn_ctx, msg);
}

/* What the replies mean (see forward.h): 0 delivered, -1 temporary
 * failure, -2 permanent. */
static int judge(struct fwd *f, const struct esmtp_result *res, struct err *e)
{
    size_t ok = 0, temp = 0, i;

    for (i = 0; i < f->nrcpt; i++) {
        ok += class_of(res->rcpt[i].code) == 2;
        temp += class_of(res->rcpt[i].code) == 4;
    }
    if (ok == f->nrcpt) return 0;
    if (ok > 0) {
        for (i = 0; i < f->nrcpt; i++)
            if (class_of(res->rcpt[i].code) != 2)
                warn_refused(f, i, &res->rcpt[i], "the message (delivered to the others)");
        return 0;
    }
    for (i = 0; temp && class_of(res->rcpt[i].code) != 4; i++) continue;
    err_set(e, ERR_DELIVERY, "the %s server %s %s for %s: %s", f->s.lmtp ? "LMTP" : "SMTP",
            f->s.target,
            temp ? "refused it for now (it is retried on the next run)" : "refused it permanently",
            f->rcpt[i], res->rcpt[i].text);
    if (!temp)
        err_hint(e, "the message stays on the server (smtp_rejected keep); see the server's "
                    "reply");
    return temp ? -1 : -2;
}

static int deliver(struct fwd *f, struct err *e)
{
    char sender[FWD_ADDR_MAX + 400], xf[400];
    struct esmtp_envelope env = {.rcpt = f->rcpt, .nrcpt = f->nrcpt, .utf8 = f->utf8};
    struct esmtp_result res;
    int rc;

    memset(&res, 0, sizeof res);
    if (spool_flush(&f->sp, e) < 0) return -3;
    if (envelope_sender(f, sender, sizeof sender, e) < 0) return -3;
    xforward_attrs(f, xf, sizeof xf);
    env.sender = sender;
    env.size = spool_size(&f->sp) + f->lines + (f->last_lf ? 0 : 2);
    env.body8 = f->body8;
    env.xf = xf;
    if ((rc = hand_over(f, &env, &res, e)) < 0) {
        if (rc == -1 && res.data_sent)
            err_hint(e, "the server may have the message already: the next run delivers it "
                        "again (a duplicate rather than a loss)");
        return rc;
    }
    return judge(f, &res, e);
}

/* ---- the sink --------------------------------------------------------------------------- */

static int fw_begin(struct sink *k, const struct deliver_msg *m, struct err *e)
{
    struct fwd *f = k->impl;

    (void)m;
    f->lines = 0, f->body8 = 0, f->last_lf = 1;
    return spool_reset(&f->sp, e);
}

static int fw_write(struct sink *k, const unsigned char *buf, size_t len, struct err *e)
{
    struct fwd *f = k->impl;
    const unsigned char *p = buf, *end = buf + len;

    if (len == 0) return 0;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) p++, f->lines++;
    f->body8 |= header_8bit(buf, len);
    f->last_lf = buf[len - 1] == '\n';
    return spool_write(&f->sp, buf, len, e);
}

static void fw_abort(struct sink *k)
{
    struct fwd *f = k->impl;
    struct err ignored;

    spool_reset(&f->sp, &ignored);
}

/* The whole spooled message into the quarantine Maildir, durably. */
static int quarantine(struct fwd *f, struct err *e)
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
    if (spool_rewind(&f->sp, e) < 0 || q->ops->begin(q, &m, e) < 0) return -1;
    while ((n = spool_read(&f->sp, buf, sizeof buf, e)) > 0)
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
static int rejected(struct fwd *f, struct err *e)
{
    char msg[ERR_MSG_MAX + 128];
    struct err qe;

    if (f->rejected == REJECTED_KEEP) return -1;
    if (f->rejected == REJECTED_QUARANTINE && quarantine(f, &qe) < 0) {
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

static int fw_end(struct sink *k, char name[DELIVER_NAME_MAX], struct err *e)
{
    struct fwd *f = k->impl;
    int rc;

    name[0] = '\0';
    if (f->temp_in_row >= FORWARD_TEMP_MAX) {
        *e = f->last_temp;
        err_prefix(e, "not tried after %d temporary failures in a row", f->temp_in_row);
        fw_abort(k);
        return -1;
    }
    rc = deliver(f, e);
    /* The server has it and the journal does not yet: a kill here makes
     * the next run deliver this one message again (forward.h). */
    if (rc == 0) FAULT_POINT("after-forward", ++f->accepted);
    if (rc == -2) rc = rejected(f, e) == 0 ? 0 : -2;
    fw_abort(k);
    if (rc == -1) {
        f->temp_in_row++;
        f->last_temp = *e;
    } else {
        f->temp_in_row = 0;
    }
    return rc < 0 ? -1 : 0;
}

static void fw_close(struct sink *k)
{
    struct fwd *f = k->impl;

    if (!f) return;
    esmtp_close(&f->s);
    esmtp_free(&f->s);
    if (f->q_open) f->q.ops->close(&f->q);
    free(f->quarantine), free(f->tag);
    spool_close(&f->sp);
    free(f->rcpt_buf), free(f->sender), free(f->server), free(f->remote_user);
    free(f);
    k->impl = NULL;
}

static const struct sink_ops forward_ops = {
    .begin = fw_begin,
    .write = fw_write,
    .end = fw_end,
    .abort = fw_abort,
    .sync = deliver_final_sync, /* end() is final: the rest has nothing to do */
    .publish = deliver_final_publish,
    .publish_sync = deliver_final_sync,
    .recover = deliver_final_recover,
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

int forward_open(struct sink *k, const struct forward_opts *o, struct err *e)
{
    struct fwd *f = calloc(1, sizeof *f);
    char host[256] = "";

    k->ops = &forward_ops;
    k->impl = f;
    k->one_at_a_time = 1;
    if (!f) return err_set(e, ERR_INTERNAL, "out of memory");
    f->sp.fd = -1;
    net_init(&f->s.c);
    if (!o->helo && gethostname(host, sizeof host - 1) < 0) host[0] = '\0';
    if (esmtp_init(&f->s, o->lmtp, o->target, o->helo ? o->helo : host,
                   (o->timeout_s > 0 ? o->timeout_s : 60) * 1000, e) < 0 ||
        split_recipients(f, o->recipients, e) < 0) {
        fw_close(k);
        return -1;
    }
    f->s.trace = o->trace, f->s.trace_ctx = o->trace_ctx;
    f->s.tls_mode = o->tls;
    f->s.tls = (struct tls_opts){.verify = 1, .trust_file = o->trust_file, .min_version = 12};
    if (o->auth_user && esmtp_set_auth(&f->s, o->auth_user, o->auth_secret, o->auth_mech, e) < 0) {
        fw_close(k);
        return -1;
    }
    if (copy_opts(f, o) < 0) {
        fw_close(k);
        return err_set(e, ERR_INTERNAL, "out of memory");
    }
    if (spool_open(&f->sp, o->spool_dir, e) < 0) {
        fw_close(k);
        return -1;
    }
    return 0;
}
