/*
 * deliver — picks the sink for an account; the shared sink_ops of sinks
 * whose end() is final. See deliver.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "conf.h"
#include "esmtp.h"
#include "forward.h"
#include "maildir.h"
#include "mbox.h"
#include "mda.h"
#include "sasl.h"
#include "secret.h"

static int open_mbox(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                     struct err *e)
{
    struct mbox_opts o;

    mbox_opts_init(&o);
    o.dotlock = (a->mbox_locking & MBOX_LOCK_DOTLOCK) != 0;
    o.fcntl_lock = (a->mbox_locking & MBOX_LOCK_FCNTL) != 0;
    o.warn = c->warn;
    o.warn_ctx = c->warn_ctx;
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

int deliver_got(struct sink *s, const char *name, const char *rcpt, struct err *e)
{
    return s->got ? s->got(s->got_ctx, name, rcpt, e) : 0;
}

int deliver_settled(struct sink *s, const char *name, int rc, const struct err *why, struct err *e)
{
    if (!s->settled) return 0;
    if (s->settled(s->settled_ctx, name, rc, why) == 0) return 0;
    return err_set(e, ERR_INTERNAL, "%s", "the message's outcome could not be recorded");
}

int deliver_intend(struct sink *s, const char *note, struct err *e)
{
    return s->intend ? s->intend(s->intend_ctx, note, e) : 0;
}

/* `smtp_auth` as a SASL mechanism; -1 for auto. */
static int smtp_mech(int choice)
{
    switch (choice) {
    case SMTP_AUTH_PLAIN:
        return SASL_PLAIN;
    case SMTP_AUTH_LOGIN:
        return SASL_LOGIN;
    case SMTP_AUTH_CRAM_MD5:
        return SASL_CRAM_MD5;
    case SMTP_AUTH_SCRAM_SHA_1:
        return SASL_SCRAM_SHA_1;
    case SMTP_AUTH_SCRAM_SHA_256:
        return SASL_SCRAM_SHA_256;
    default:
        return -1;
    }
}

/* The SMTP relay's password: `smtp_password`, else `smtp_passwordeval` run
 * like `passwordeval`, else ~/.netrc's `machine RELAY login SMTP_USER`, else
 * the terminal's prompt naming the relay: POP3's rules (secret.c). */
static int smtp_secret(const struct account *a, char **out, struct err *e)
{
    struct secret_cmd sc = {.what = "smtp_passwordeval",
                            .cmd = a->smtp_passwordeval,
                            .timeout_s = a->passwordeval_timeout,
                            .timeout_key = "passwordeval_timeout"};
    struct esmtp relay; /* its host name, from `delivery smtp HOST[:PORT]` */
    char prompt[1024];
    struct secret_who w = {.host = relay.target, .user = a->smtp_user, .prompt = prompt};
    int rc;

    *out = NULL;
    if (a->smtp_password) {
        if (!(*out = strdup(a->smtp_password))) return err_set(e, ERR_INTERNAL, "out of memory");
        return 0;
    }
    if (a->smtp_passwordeval) return secret_eval(&sc, out, e);
    if (esmtp_init(&relay, 0, a->delivery.arg, NULL, 1000, e) < 0) return -1;
    snprintf(prompt, sizeof prompt, "Password for smtp_user %s at the SMTP relay %s", a->smtp_user,
             relay.target);
    if ((rc = secret_ask(&w, out, e)) != 1) return rc;
    err_set(e, ERR_AUTH, "no password for smtp_user %s at the SMTP relay %s", a->smtp_user,
            relay.target);
    err_hint(e,
             "set `smtp_passwordeval` or `smtp_password` in the config, or add \"machine %s "
             "login %s password ...\" to ~/.netrc",
             relay.target, a->smtp_user);
    return -1;
}

static int open_forward(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                        struct err *e)
{
    char *secret = NULL;
    int rc;
    struct forward_opts o = {
        .lmtp = a->delivery.kind == DELIVERY_LMTP,
        .target = a->delivery.arg,
        .helo = a->smtp_helo,
        .sender = a->smtp_sender,
        .recipients = a->recipients,
        .server = a->host,
        .remote_user = a->user,
        .timeout_s = (int)a->timeout,
        .connections = conf_smtp_connections(a),
        .tls = a->smtp_tls,
        .rejected = a->smtp_rejected.mode,
        .quarantine = a->smtp_rejected.dir,
        .tag = c->tag,
        .trust_file = a->smtp_tls_trust_file,
        .warn = c->warn,
        .warn_ctx = c->warn_ctx,
        .trace = c->trace,
        .trace_ctx = c->trace_ctx,
        .auth_user = a->smtp_user,
        .auth_mech = smtp_mech(a->smtp_auth),
    };

    if (a->smtp_user && smtp_secret(a, &secret, e) < 0) return -1;
    o.auth_secret = secret;
    rc = forward_open(s, &o, e);
    secret_free(secret);
    return rc;
}

int deliver_final_sync(struct sink *s, struct err *e)
{
    (void)s, (void)e;
    return 0;
}

int deliver_final_publish(struct sink *s, const char *name, struct err *e)
{
    (void)s, (void)name, (void)e;
    return 0;
}

int deliver_final_recover(struct sink *s, char *const *names, size_t n, struct err *e)
{
    (void)s, (void)names, (void)n, (void)e;
    return 0;
}

int deliver_open(struct sink *s, const struct account *a, const struct deliver_ctx *c,
                 struct err *e)
{
    switch (a->delivery.kind) {
    case DELIVERY_MBOX:
        return open_mbox(s, a, c, e);
    case DELIVERY_MDA:
        return open_mda(s, a, c, e);
    case DELIVERY_LMTP:
    case DELIVERY_SMTP:
        return open_forward(s, a, c, e);
    case DELIVERY_MAILDIR:
        return maildir_open(s, a->delivery.arg, c->tag, e);
    default:
        return err_set(e, ERR_USAGE, "account %s has no delivery", a->name);
    }
}
