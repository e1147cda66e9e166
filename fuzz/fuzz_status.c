/*
 * fuzz_status — a status file's text (src/status.h: status_parse), which
 * popfetch reads back from disk before every update and for --status.
 *
 * Input: the file's bytes, in a heap buffer of exactly their length (no
 * terminating NUL), so ASan catches any read past it.
 *
 * Invariants (abort on violation):
 *  - the result is 0 or -1, the same when asked again; -1 leaves the
 *    record empty (have 0);
 *  - an accepted record is sane: a known outcome, an exit status from 0 to
 *    255, times after the epoch or 0, a duration that is not negative,
 *    and the same record when parsed again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "status.h"

static void check_sane(const struct status_record *r)
{
    FUZZ_CHECK(r->have);
    FUZZ_CHECK(result_outcome_index(r->outcome) >= 0);
    FUZZ_CHECK(r->exit_status >= 0 && r->exit_status <= 255);
    FUZZ_CHECK(r->last_run_ms > 0);
    FUZZ_CHECK(r->last_success_ms >= 0 && r->failing_since_ms >= 0 && r->next_poll_ms >= 0);
    FUZZ_CHECK(r->duration >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    struct status_record r, again;
    int rc;

    FUZZ_CHECK(text != NULL);
    if (size) memcpy(text, data, size);
    rc = status_parse(text, size, &r);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(status_parse(text, size, &again) == rc);
    if (rc < 0) FUZZ_CHECK(!r.have);
    if (rc == 0) {
        check_sane(&r);
        FUZZ_CHECK(memcmp(&r, &again, sizeof r) == 0);
    }
    free(text);
    return 0;
}
