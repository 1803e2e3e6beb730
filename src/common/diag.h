/* Failure detail passed from the OS layer to the front end.
 *
 * A backend that fails fills a cshm__diag with what it was doing and the OS's own
 * words (it translates errno/GetLastError() itself); the front end only copies these
 * strings into the handle's message. */
#ifndef CSHM_COMMON_DIAG_H
#define CSHM_COMMON_DIAG_H

#include <stddef.h>

typedef struct cshm__diag {
  char what[160]; /* the failing step, e.g. "open /dev/shm/cshm_x" or "header" */
  char why[160];  /* the OS error text, or the reason in words */
} cshm__diag;

/* Records a failure detail; printf-style `why`. Either part may be NULL. Returns
 * `code` so that backends can write `return cshm__diag_set(d, CSHM_EKEY, ...)`. */
int cshm__diag_set(cshm__diag *d, int code, const char *what, const char *why_fmt, ...)
#if defined(__MINGW32__)
    __attribute__((format(gnu_printf, 4, 5))) /* MinGW: the C99 printf, not msvcrt's */
#elif defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
