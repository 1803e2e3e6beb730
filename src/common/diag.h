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

/* The printf format check of a function whose format argument is `fmt` and whose
 * variadic ones start at `first`. MinGW's gcc takes a bare printf as msvcrt's: the
 * C99 printf this library gets (__USE_MINGW_ANSI_STDIO) is its gnu_printf. clang
 * has no gnu_printf (-Wignored-attributes) and checks printf as C99 everywhere, as
 * mingw-w64's own <stdio.h> decides too. */
#if defined(__MINGW32__) && !defined(__clang__)
#define CSHM__PRINTF_FORMAT(fmt, first) __attribute__((format(gnu_printf, fmt, first)))
#elif defined(__GNUC__)
#define CSHM__PRINTF_FORMAT(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define CSHM__PRINTF_FORMAT(fmt, first)
#endif

/* Records a failure detail; printf-style `why`. Either part may be NULL. Returns
 * `code` so that backends can write `return cshm__diag_set(d, CSHM_EKEY, ...)`. */
int cshm__diag_set(cshm__diag *d, int code, const char *what, const char *why_fmt, ...)
    CSHM__PRINTF_FORMAT(4, 5);

#endif
