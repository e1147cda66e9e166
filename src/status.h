/*
 * status — each account's status file, DIR/ACCOUNT.status: after every
 * run, the run's JSON object (result.h) plus what programs want to know
 * across runs: when the account last succeeded, how many runs in a row
 * have failed and since when, and running totals (runs by outcome,
 * messages and bytes fetched) for the metrics file. `popfetch --status`
 * reads them back.
 *
 * DIR is the account's `status_dir`, by default its state directory; it is
 * created with mode 0700 and must keep fileperm.h's rule, like the state
 * directory. The file is replaced atomically (atomicfile.h: a new
 * ACCOUNT.status.tmp renamed over it, not flushed: a crash may lose the
 * last update, see there), mode 0600,
 * never through a symbolic link; two runs that end at once update it one
 * after the other (flock on the directory). A file that is not a status
 * (damaged, or from a newer popfetch) is never trusted: reading reports it
 * damaged, and the next update starts the history afresh.
 *
 * A run "fails" as result_failed() says (any exit status but 0, 1, 13).
 * Nothing here prints.
 */
#ifndef POPFETCH_STATUS_H
#define POPFETCH_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "result.h"

#define STATUS_FILE_MAX (64 * 1024)

/* What a status file says, as far as programs need it. */
struct status_record {
    int have;                           /* a status was read (or written) */
    int damaged;                        /* there was a file, but not a status: ignored */
    char outcome[16];                   /* of the last run */
    int exit_status;                    /* of the last run */
    int64_t last_run_ms;                /* when the last run started */
    double duration;                    /* seconds the last run took */
    int64_t last_success_ms;            /* when the last run that did not fail started; 0 never */
    unsigned long consecutive_failures; /* failed runs since */
    int64_t failing_since_ms;           /* when the first of those started; 0 when none */
    int64_t next_poll_ms;               /* the daemon's next poll; 0 = none */
    uint64_t runs[RESULT_OUTCOMES];     /* runs by outcome, result_outcome_name()'s order */
    uint64_t fetched_total, bytes_total;
};

/* Read DIR/ACCOUNT.status. No file is no error (rec->have 0); a file that
 * is not a status sets rec->damaged. -1 when it cannot be read at all. */
int status_read(const char *dir, const char *account, struct status_record *rec, struct err *e);

/* The status file's text as it is (for free()): 0, or 1 when there is
 * none, or -1. The caller checks it with status_parse(). */
int status_read_text(const char *dir, const char *account, char **text, size_t *len, struct err *e);

/* Record a run of account a (outcome o; next_poll_ms 0 = none): the old
 * file's history carried on, the new file written. *rec gets the new
 * record; rec->damaged says the old file was not a status. */
int status_update(const char *dir, const struct account *a, const struct run_outcome *o,
                  int64_t next_poll_ms, struct status_record *rec, struct err *e);

/* Parse a status file's text (for tests and fuzzing): 0 and *rec, or -1
 * when it is not a status. */
int status_parse(const char *text, size_t len, struct status_record *rec);

#endif
