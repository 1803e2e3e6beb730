/* The error table and the detail messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "diag.h"
#include "error.h"
#include "threadlocal.h"

const char *cshm_strerror(int code) {
  switch (code) {
  case CSHM_OK: return "success";
  case CSHM_OWNER_DIED: return "lock acquired; its previous owner died holding it";
#define CSHM__XX(name, value, msg) case CSHM_##name: return msg;
  CSHM_ERRNO_MAP(CSHM__XX)
#undef CSHM__XX
  default: return "unknown error code";
  }
}

const char *cshm_error_name(int code) {
  switch (code) {
  case CSHM_OK: return "CSHM_OK";
  case CSHM_OWNER_DIED: return "CSHM_OWNER_DIED";
#define CSHM__XX(name, value, msg) case CSHM_##name: return "CSHM_" #name;
  CSHM_ERRNO_MAP(CSHM__XX)
#undef CSHM__XX
  default: return "CSHM_E?";
  }
}

int cshm__diag_set(cshm__diag *d, int code, const char *what, const char *why_fmt, ...) {
  if (d == NULL)
    return code;
  snprintf(d->what, sizeof d->what, "%s", what != NULL ? what : "");
  d->why[0] = '\0';
  if (why_fmt != NULL) {
    va_list ap;
    va_start(ap, why_fmt);
    vsnprintf(d->why, sizeof d->why, why_fmt, ap);
    va_end(ap);
  }
  return code;
}

static CSHM__THREAD_LOCAL char last_message[CSHM__MESSAGE_MAX];

const char *cshm_last_error_string(void) { return last_message; }

void cshm__format_message(char *out, size_t cap, const char *op, int code, const char *key,
                          const char *native, const cshm__diag *d) {
  int n = snprintf(out, cap, "%s: %s", op, cshm_strerror(code));
  if (n < 0 || (size_t)n >= cap)
    return;
  size_t used = (size_t)n;
#define CSHM__APPEND(...)                                                                      \
  do {                                                                                         \
    int m_ = snprintf(out + used, cap - used, __VA_ARGS__);                                    \
    if (m_ < 0 || (size_t)m_ >= cap - used)                                                    \
      return;                                                                                  \
    used += (size_t)m_;                                                                        \
  } while (0)
  if (key != NULL)
    CSHM__APPEND(" (key \"%s\"", key);
  if (native != NULL)
    CSHM__APPEND("%snative \"%s\"", key != NULL ? ", " : " (", native);
  if (key != NULL || native != NULL)
    CSHM__APPEND(")");
  if (d != NULL && d->what[0] != '\0')
    CSHM__APPEND(": %s", d->what);
  if (d != NULL && d->why[0] != '\0')
    CSHM__APPEND(": %s", d->why);
#undef CSHM__APPEND
}

int cshm__fail_global(const char *op, int code, const char *key, const cshm__diag *d) {
  cshm__format_message(last_message, sizeof last_message, op, code, key, NULL, d);
  return code;
}

void cshm__set_last_message(const char *message) {
  snprintf(last_message, sizeof last_message, "%s", message);
}
