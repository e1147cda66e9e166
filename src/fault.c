/*
 * fault — crash points for the fault-injection build. See fault.h.
 */
#include "fault.h"

#ifdef POPFETCH_FAULTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fault_point(const char *name, unsigned long n)
{
    const char *want = getenv("POPFETCH_CRASH_AT");
    size_t len = strlen(name);

    if (!want || strncmp(want, name, len) != 0 || want[len] != ':') return;
    if (strtoul(want + len + 1, NULL, 10) != n) return;
    kill(getpid(), SIGKILL);
    _exit(137);
}
#else
typedef int fault_translation_unit_is_not_empty;
#endif
