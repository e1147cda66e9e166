/*
 * metrics — the Prometheus text file of `--metrics FILE`, in the
 * convention of node_exporter's textfile collector: every account in the
 * config that has a status file (status.h), from what that file says, and
 * the time the file was written; replaced atomically (atomicfile.h), mode
 * 0644 so that an exporter running as another user can read it.
 *
 * Metrics (each with HELP and TYPE; names and labels are documented in
 * popfetch(1), METRICS):
 *   popfetch_runs_total{account,outcome}              counter
 *   popfetch_messages_fetched_total{account}          counter
 *   popfetch_bytes_fetched_total{account}             counter
 *   popfetch_last_run_timestamp_seconds{account}      gauge
 *   popfetch_last_run_duration_seconds{account}       gauge
 *   popfetch_last_run_exit_status{account}            gauge
 *   popfetch_last_success_timestamp_seconds{account}  gauge (absent: never)
 *   popfetch_consecutive_failures{account}            gauge
 *   popfetch_next_poll_timestamp_seconds{account}     gauge (daemon only)
 *   popfetch_metrics_timestamp_seconds                gauge
 * Nothing here prints.
 */
#ifndef POPFETCH_METRICS_H
#define POPFETCH_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "status.h"

struct metrics_account {
    const char *name;
    struct status_record rec; /* rec.have 0: left out */
};

/* The file's text (for free()), or NULL when out of memory; now_ms is the
 * time of writing. */
char *metrics_render(const struct metrics_account *list, size_t n, int64_t now_ms);

/* Render and replace path with it. The directory must exist; a symbolic
 * link at path is replaced, never written through. */
int metrics_write(const char *path, const struct metrics_account *list, size_t n, int64_t now_ms,
                  struct err *e);

#endif
