/* What support.c needs from the OS: support_posix.c and support_win32.c provide it.
 * Not for the suites: they use support.h. */
#ifndef CSHM_TESTS_SUPPORT_OS_H
#define CSHM_TESTS_SUPPORT_OS_H

#include <stdbool.h>

/* Unpredictable bits for the run's keys (falls back to something pid-based). */
unsigned ts__os_random(void);

/* When the segment named `native` (default key type) still exists, prints it and
 * removes it where the OS can, and returns true. */
bool ts__os_leftover(const char *native);

#endif
