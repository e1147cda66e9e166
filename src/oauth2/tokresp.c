/*
 * tokresp — the provider's JSON answers, checked. See tokresp.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "tokresp.h"

static const char *const secret_members[] = {"access_token",  "refresh_token", "id_token",
                                             "device_code",   "code",          "client_secret",
                                             "code_verifier", "token",         NULL};

static int is_secret(const char *key)
{
    for (const char *const *s = secret_members; *s; s++)
        if (!strcmp(*s, key)) return 1;
    return 0;
}

/* One JSON object, duplicate keys refused; NULL if the body is not one. */
static json_t *load_object(const char *body, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);

    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int bad_member(struct err *e, const char *name, const char *why)
{
    return err_set(e, ERR_PROTOCOL, "the provider's answer has a bad `%s` (%s)", name, why);
}

/* A secret string member: printable ASCII without spaces, 1..max bytes,
 * copied into a fresh buffer (*out NULL when the member is absent). */
static int take_secret(json_t *o, const char *name, size_t max, char **out, struct err *e)
{
    json_t *v = json_object_get(o, name);
    const char *s;
    size_t n;

    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v)) return bad_member(e, name, "not a string");
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > max) return bad_member(e, name, n ? "too long" : "empty");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return bad_member(e, name, "a byte that is not printable ASCII");
    if (!(*out = malloc(n + 1))) return err_set(e, ERR_INTERNAL, "out of memory");
    memcpy(*out, s, n + 1);
    return 0;
}

/* A text member shown to the user: made printable, cut to max. 0 absent,
 * 1 copied, -1 not a string. */
static int take_text(json_t *o, const char *name, char *dst, size_t max, struct err *e)
{
    json_t *v = json_object_get(o, name);

    dst[0] = '\0';
    if (!v) return 0;
    if (!json_is_string(v)) return bad_member(e, name, "not a string");
    err_quote(dst, max, json_string_value(v), json_string_length(v));
    return 1;
}

/* A count of seconds: a JSON integer or a decimal string; -1 if absent. */
static int take_seconds(json_t *o, const char *name, long long max, long long *out, struct err *e)
{
    json_t *v = json_object_get(o, name);
    long long n = 0;

    *out = -1;
    if (!v) return 0;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0 || len > 12) return bad_member(e, name, "not a number of seconds");
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)s[i]))
                return bad_member(e, name, "not a number of seconds");
            n = n * 10 + (s[i] - '0');
        }
    } else {
        return bad_member(e, name, "not a number");
    }
    if (n < 0) return bad_member(e, name, "negative");
    *out = n > max ? max : n;
    return 0;
}

/* An RFC 6749 5.2 error in o: 1 if there, 0 if not, -1 malformed. */
static int take_error(json_t *o, struct tokresp *t, struct err *e)
{
    json_t *v = json_object_get(o, "error");
    const char *s;

    if (!v) return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) >= sizeof t->error)
        return bad_member(e, "error", "not a short string");
    s = json_string_value(v);
    for (size_t i = 0; i < json_string_length(v); i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return bad_member(e, "error", "not printable");
    snprintf(t->error, sizeof t->error, "%s", s);
    if (take_text(o, "error_description", t->error_description, sizeof t->error_description, e) < 0)
        return -1;
    return 1;
}

/* A failure status without an OAuth error, or a body that is no JSON
 * object. The start of the body is quoted only for a failure status (an
 * error page): a successful answer cut short may hold a token. */
static int unusable(int status, const char *body, size_t len, int json, struct err *e)
{
    char shown[120];

    if (status >= 300) {
        err_quote(shown, sizeof shown, body, len);
        return err_set(e, ERR_SERVER, "the provider answered HTTP %d%s: \"%s\"", status,
                       json ? " without an OAuth error" : "", shown);
    }
    return err_set(e, ERR_PROTOCOL, "the provider's answer is not a JSON object (%zu bytes)", len);
}

/* Start with every field empty, nothing to free. */
static void tokresp_init(struct tokresp *t)
{
    memset(t, 0, sizeof *t);
    t->expires_in = -1;
}

static int token_members(json_t *o, struct tokresp *t, struct err *e)
{
    json_t *type = json_object_get(o, "token_type");

    if (type && (!json_is_string(type) || strcasecmp(json_string_value(type), "bearer") != 0)) {
        char shown[40];
        if (json_is_string(type))
            err_quote(shown, sizeof shown, json_string_value(type), json_string_length(type));
        return err_set(e, ERR_PROTOCOL, "the provider issued a token of type \"%s\", not Bearer",
                       json_is_string(type) ? shown : "?");
    }
    if (take_secret(o, "access_token", TOKRESP_TOKEN_MAX, &t->access_token, e) < 0 ||
        take_secret(o, "refresh_token", TOKRESP_TOKEN_MAX, &t->refresh_token, e) < 0 ||
        take_seconds(o, "expires_in", TOKRESP_EXPIRY_MAX, &t->expires_in, e) < 0)
        return -1;
    if (!t->access_token) return bad_member(e, "access_token", "missing");
    return 0;
}

int tokresp_parse(int status, const char *body, size_t len, struct tokresp *t, struct err *e)
{
    json_t *o = load_object(body, len);
    int rc;

    tokresp_init(t);
    if (!o) return unusable(status, body, len, 0, e);
    rc = take_error(o, t, e);
    if (rc == 0 && status >= 300) rc = unusable(status, body, len, 1, e);
    if (rc == 0) rc = token_members(o, t, e);
    json_decref(o);
    if (rc < 0) tokresp_free(t);
    return rc;
}

void tokresp_free(struct tokresp *t)
{
    if (t->access_token) {
        OPENSSL_cleanse(t->access_token, strlen(t->access_token));
        free(t->access_token);
    }
    if (t->refresh_token) {
        OPENSSL_cleanse(t->refresh_token, strlen(t->refresh_token));
        free(t->refresh_token);
    }
    t->access_token = t->refresh_token = NULL;
}

/* ---- device authorization ------------------------------------------------ */

static int device_members(json_t *o, struct tokresp_device *d, struct err *e)
{
    int uri;

    if (take_secret(o, "device_code", TOKRESP_TOKEN_MAX, &d->device_code, e) < 0) return -1;
    if (!d->device_code) return bad_member(e, "device_code", "missing");
    if ((uri = take_text(o, "user_code", d->user_code, sizeof d->user_code, e)) < 0) return -1;
    if (uri == 0 || !d->user_code[0]) return bad_member(e, "user_code", "missing");
    uri = take_text(o, "verification_uri", d->verification_uri, sizeof d->verification_uri, e);
    if (uri == 0) /* Google's name for it */
        uri = take_text(o, "verification_url", d->verification_uri, sizeof d->verification_uri, e);
    if (uri < 0) return -1;
    if (uri == 0 || !d->verification_uri[0]) return bad_member(e, "verification_uri", "missing");
    if (take_text(o, "verification_uri_complete", d->verification_uri_complete,
                  sizeof d->verification_uri_complete, e) < 0 ||
        take_text(o, "message", d->message, sizeof d->message, e) < 0 ||
        take_seconds(o, "expires_in", 86400, &d->expires_in, e) < 0 ||
        take_seconds(o, "interval", 300, &d->interval, e) < 0)
        return -1;
    if (d->expires_in <= 0) d->expires_in = 1800;
    if (d->interval < 0) d->interval = 5; /* RFC 8628 3.2 */
    if (d->interval == 0) d->interval = 1;
    return 0;
}

int tokresp_parse_device(int status, const char *body, size_t len, struct tokresp_device *d,
                         struct tokresp *err_out, struct err *e)
{
    json_t *o = load_object(body, len);
    int rc;

    memset(d, 0, sizeof *d);
    tokresp_init(err_out);
    if (!o) return unusable(status, body, len, 0, e);
    rc = take_error(o, err_out, e);
    if (rc == 0 && status >= 300) rc = unusable(status, body, len, 1, e);
    if (rc == 0) rc = device_members(o, d, e);
    json_decref(o);
    if (rc < 0) tokresp_device_free(d);
    return rc;
}

void tokresp_device_free(struct tokresp_device *d)
{
    if (d->device_code) {
        OPENSSL_cleanse(d->device_code, strlen(d->device_code));
        free(d->device_code);
    }
    d->device_code = NULL;
}

/* ---- the trace ----------------------------------------------------------- */

/* Replace the secret members' values, at any depth. */
static void mask(json_t *j, int depth)
{
    if (depth > 16) return;
    if (json_is_object(j)) {
        for (void *it = json_object_iter(j); it; it = json_object_iter_next(j, it)) {
            json_t *v = json_object_iter_value(it);
            if (is_secret(json_object_iter_key(it)) && !json_is_null(v))
                json_object_iter_set_new(j, it, json_string("****"));
            else
                mask(v, depth + 1);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) mask(json_array_get(j, i), depth + 1);
    }
}

void tokresp_masked(const char *body, size_t len, char *out, size_t max)
{
    json_error_t je;
    json_t *j;
    size_t n;

    if (max == 0) return;
    j = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!j || !json_is_object(j)) {
        snprintf(out, max, "(%zu bytes, not a JSON object)", len);
        json_decref(j);
        return;
    }
    mask(j, 0);
    n = json_dumpb(j, out, max - 1, JSON_COMPACT);
    if (n > max - 1) { /* too long: dump it whole, show the start */
        char *all = malloc(n + 1);
        size_t m = all ? json_dumpb(j, all, n + 1, JSON_COMPACT) : 0;
        n = max > 4 ? max - 4 : 0;
        if (m > n && all)
            memcpy(out, all, n);
        else
            n = 0;
        if (max > 4) {
            memcpy(out + n, "...", 3);
            n += 3;
        }
        free(all); /* masked: nothing secret in it */
    }
    json_decref(j);
    out[n] = '\0';
}
