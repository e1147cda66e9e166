/*
 * fault — named crash points for the fault-injection build.
 *
 * The test build (make check) also compiles build/popfetch-faults with
 * POPFETCH_FAULTS defined; there, FAULT_POINT("after-journal", 7) kills the
 * process with SIGKILL when the environment holds
 * POPFETCH_CRASH_AT=after-journal:7, as a power cut or `kill -9` would.
 * In the release build FAULT_POINT compiles to nothing.
 */
#ifndef POPFETCH_FAULT_H
#define POPFETCH_FAULT_H

#include <stdlib.h>

#ifdef POPFETCH_FAULTS
void fault_point(const char *name, unsigned long n);
#define FAULT_POINT(name, n) fault_point((name), (n))
/* A fixed SCRAM client nonce from POPFETCH_TEST_SCRAM_NONCE, so scripted
 * servers can replay RFC test vectors. */
#define FAULT_TEST_NONCE() getenv("POPFETCH_TEST_SCRAM_NONCE")
#else
#define FAULT_POINT(name, n) ((void)0)
#define FAULT_TEST_NONCE()   ((const char *)0)
#endif

#endif
