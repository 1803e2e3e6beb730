/* errno -> CSHM codes and messages. Built without _GNU_SOURCE for the XSI strerror_r. */
#undef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "posix.h"
#include "sys.h"

void cshm__sys_error_text(int os_error, char *buf, size_t cap) {
  if (strerror_r(os_error, buf, cap) != 0)
    snprintf(buf, cap, "error %d", os_error);
}

int cshm__posix_code(int err) {
  switch (err) {
  case EACCES:
  case EPERM:
  case EROFS: return CSHM_EPERM;
  case ENOENT: return CSHM_ENOENT;
  case EEXIST: return CSHM_EEXIST;
  case ENOMEM:
  case ENOSPC:
  case EMFILE:
  case ENFILE:
  case EAGAIN:
#ifdef EDQUOT /* not in every libc's strict POSIX mode */
  case EDQUOT:
#endif
    return CSHM_ENOMEM;
  case EFBIG:
  case EOVERFLOW: return CSHM_ESIZE;
  case ENAMETOOLONG:
  case EISDIR: return CSHM_EKEY;
  case EOPNOTSUPP: return CSHM_ENOTSUP;
  default: return CSHM_EUNKNOWN;
  }
}

int cshm__posix_fail(cshm__diag *d, int err, const char *what_fmt, ...) {
  va_list ap;
  va_start(ap, what_fmt);
  vsnprintf(d->what, sizeof d->what, what_fmt, ap);
  va_end(ap);
  cshm__sys_error_text(err, d->why, sizeof d->why);
  d->what_fixed = d->why_fixed = NULL; /* the buffers hold the detail */
  return cshm__posix_code(err);
}
