/*
 * result — one account's run as data for programs: its outcome in a word
 * (the exit status's class: "mail", "no-mail", "auth", "tls", ...) and the
 * JSON object that --json prints, one line per account and run, and that
 * the account's status file keeps (status.h). The object's fields are
 * documented in popfetch(1) (JSON OUTPUT) and checked by the JSON Schema
 * contrib/popfetch-result.schema.json; `result_schema_version` changes when
 * a field changes meaning or goes away (new fields may be added).
 *
 * Every string in the object is valid UTF-8: text that came from the
 * server (its last -ERR line) is escaped already (pop3.h), and any other
 * text that is not UTF-8 (a host name from the config) is escaped here,
 * control and 8-bit bytes as \xNN. Nothing here prints except
 * result_print(), which writes one whole line with one write(2).
 */
#ifndef POPFETCH_RESULT_H
#define POPFETCH_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "err.h"
#include "session.h"

#define RESULT_SCHEMA_VERSION 1

/* One run of one account as the process that ran it saw it. Plain data:
 * a run in a child process hands it to its parent as bytes. */
struct run_outcome {
    struct session_result r;
    int check;            /* a --check run: counts only */
    int status;           /* the run's exit status (exitcode.h) */
    int64_t started_ms;   /* wall clock, milliseconds since the epoch */
    int64_t next_poll_ms; /* daemon: the next poll (wall clock ms), 0 = none */
};

/* The outcome's class: "mail", "no-mail", "limit", or the failure: "connect",
 * "tls", "dns", "auth", "protocol", "server", "timeout", "busy", "usage",
 * "permission", "locked", "delivery", "local", "interrupted", "internal". */
const char *result_outcome(const struct run_outcome *o);

/* Those words in that order: the i-th (NULL past the last), and the index
 * of one (-1 if it is none of them). */
#define RESULT_OUTCOMES 18
const char *result_outcome_name(size_t i);
int result_outcome_index(const char *name);

/* Did the run fail (any status but 0 mail, 1 no mail, 13 more mail waits)? */
int result_failed(int status);

/* The wall clock in milliseconds since the epoch. */
int64_t result_now_ms(void);

/* ms since the epoch as RFC 3339 UTC with milliseconds,
 * "2026-12-06T11:15:00.123Z". */
void result_time(char *buf, size_t len, int64_t ms);

/* Parse what result_time() wrote (with or without the milliseconds); -1
 * if it is not that. */
int result_parse_time(const char *s, int64_t *ms);

/* A JSON string of s, which need not be UTF-8 (escaped when it is not). */
json_t *result_text(const char *s);

/* The run's object (a new reference, NULL when out of memory).
 * next_poll_ms: when the daemon polls the account next, 0 = not known. */
json_t *result_json(const struct account *a, const struct run_outcome *o, int64_t next_poll_ms);

/* Write obj as one line (compact JSON and "\n") to fd with one write(2).
 * ERR_LOCAL when it cannot be written. */
int result_print(int fd, const json_t *obj, struct err *e);

#endif
