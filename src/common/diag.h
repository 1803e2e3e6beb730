/* Failure detail passed from the OS layer to the front end.
 *
 * A backend that fails fills a cshm__diag with what it was doing and the OS's own
 * words (it translates errno/GetLastError() itself). Two ways:
 * - cshm__diag_set() formats into the buffers: for the OS's error text, rare paths;
 * - cshm__diag_fixed() only points at text that outlives the call: for failures a
 *   caller meets in a loop (a held lock), which must copy and format nothing. The
 *   front end composes the message only when someone reads it. */
#ifndef CSHM_COMMON_DIAG_H
#define CSHM_COMMON_DIAG_H

#include <stddef.h>

typedef struct cshm__diag {
  char what[160]; /* the failing step, e.g. "open /dev/shm/cshm_x" or "header" */
  char why[160];  /* the OS error text, or the reason in words */
  /* Set by cshm__diag_fixed() instead of the buffers; NULL when the buffers hold the
   * detail (whoever writes the buffers sets these to NULL). */
  const char *what_fixed;
  const char *why_fixed;
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

/* Records a failure detail without copying or formatting it. `why` must be a string
 * literal; `what` a literal or a string of the handle's attachment that stays
 * unchanged while the handle is attached (a semaphore's name). Either may be NULL.
 * Returns `code`. Inline: it is on the path of every failing try-lock. */
static inline int cshm__diag_fixed(cshm__diag *d, int code, const char *what, const char *why) {
  if (d != NULL) {
    d->what_fixed = what != NULL ? what : "";
    d->why_fixed = why != NULL ? why : "";
  }
  return code;
}

/* True when the detail is fixed text (cshm__diag_fixed), which outlives the call. */
static inline int cshm__diag_is_fixed(const cshm__diag *d) { return d->why_fixed != NULL; }

/* The detail's two parts, wherever they are kept. */
static inline const char *cshm__diag_what(const cshm__diag *d) {
  return d->what_fixed != NULL ? d->what_fixed : d->what;
}
static inline const char *cshm__diag_why(const cshm__diag *d) {
  return d->why_fixed != NULL ? d->why_fixed : d->why;
}

#endif
