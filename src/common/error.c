/* The error table and the detail messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "atomic.h"
#include "compiler.h"
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

#ifdef CSHM_TESTING
static CSHM__THREAD_LOCAL unsigned long formatted;
unsigned long cshm__test_messages_formatted(void) { return formatted; }
#define COUNT_FORMATTING() (formatted++)
#else
#define COUNT_FORMATTING() ((void)0)
#endif

/* ---- details ------------------------------------------------------------------------ */

int cshm__diag_set(cshm__diag *d, int code, const char *what, const char *why_fmt, ...) {
  if (d == NULL)
    return code;
  COUNT_FORMATTING();
  d->what_fixed = NULL;
  d->why_fixed = NULL;
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

/* ---- messages ------------------------------------------------------------------------ */

#define DETAIL_MAX ((int)sizeof((cshm__diag *)0)->what - 1)
_Static_assert(sizeof((cshm__diag *)0)->what == sizeof((cshm__diag *)0)->why, "one cut");

/* "op: message (key "k", native "n"): what: why", cut to cap. */
static void compose(char *out, size_t cap, const cshm__message *m) {
  COUNT_FORMATTING();
  int n = snprintf(out, cap, "%s: %s", m->op, cshm_strerror(m->code));
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
  if (m->key != NULL)
    CSHM__APPEND(" (key \"%s\"", m->key);
  if (m->native != NULL)
    CSHM__APPEND("%snative \"%s\"", m->key != NULL ? ", " : " (", m->native);
  if (m->key != NULL || m->native != NULL)
    CSHM__APPEND(")");
  /* Each part as long as a detail's buffer holds, fixed text too: the same message
   * whichever way the detail was kept. */
  if (m->what != NULL && m->what[0] != '\0')
    CSHM__APPEND(": %.*s", DETAIL_MAX, m->what);
  if (m->why != NULL && m->why[0] != '\0')
    CSHM__APPEND(": %.*s", DETAIL_MAX, m->why);
#undef CSHM__APPEND
}

/* Unique in the process, never 0: the message ids and the string sources. */
static uint64_t unique_id(void) {
  static volatile uint64_t last_id;
  return cshm__atomic64_increment(&last_id);
}

void cshm__message_clear(cshm__message *m) {
  m->op = NULL;
  m->composed = true;
  m->id = 0;
  m->text[0] = '\0';
}

void cshm__message_record(cshm__message *m, const char *op, int code, const char *key,
                          const char *native, const cshm__diag *d) {
  m->op = op;
  m->code = code;
  m->key = key;
  m->native = native;
  m->what = d != NULL ? cshm__diag_what(d) : NULL;
  m->why = d != NULL ? cshm__diag_why(d) : NULL;
  m->composed = false;
  m->id = unique_id();
  if (d != NULL && !cshm__diag_is_fixed(d))
    cshm__message_text(m); /* the detail is in the caller's buffers: now or never */
}

const char *cshm__message_text(cshm__message *m) {
  if (!m->composed) {
    if (m->op != NULL)
      compose(m->text, sizeof m->text, m);
    else
      m->text[0] = '\0';
    m->composed = true;
  }
  return m->text;
}

uint64_t cshm__message_source_new(void) { return unique_id(); }

/* ---- the thread's last message ---------------------------------------------------------- */

/* The last message and the copies of the parts that were not literals: the strings
 * they came from may be gone when the message is read. The copies are cut to the
 * message's size in all: a longer part could not show in the text anyway. */
typedef struct last_failure {
  cshm__message m;
  uint64_t source;         /* the strings the copies came from (0: none) */
  const char *what_source; /* the `what` they came from */
  const char *key, *native, *what; /* in copies, or NULL */
  char copies[CSHM__MESSAGE_MAX + 3]; /* and the three parts' NULs */
} last_failure;

static CSHM__THREAD_LOCAL last_failure last;
CSHM__THREAD_LOCAL_FAST uint64_t cshm__last_message_id;

const char *cshm_last_error_string(void) { return cshm__message_text(&last.m); }

/* Copies s (NULL: none) after the copies made so far, at most *left characters. */
static const char *copy_part(const char *s, size_t *used, size_t *left) {
  if (s == NULL)
    return NULL;
  char *out = last.copies + *used;
  size_t n = strlen(s);
  if (n > *left)
    n = *left;
  memcpy(out, s, n);
  out[n] = '\0';
  *used += n + 1;
  *left -= n;
  return out;
}

/* The slow paths of cshm__set_last_message(). */
CSHM__NOINLINE static void take_text(const cshm__message *m) {
  memcpy(last.m.text, m->text, strlen(m->text) + 1);
  last.m.op = m->op;
  last.m.composed = true;
}

CSHM__NOINLINE static void take_parts(const cshm__message *m, uint64_t source) {
  if (source == 0 || source != last.source || m->what != last.what_source) {
    size_t used = 0, left = CSHM__MESSAGE_MAX;
    last.key = copy_part(m->key, &used, &left);
    last.native = copy_part(m->native, &used, &left);
    last.what = copy_part(m->what, &used, &left);
    last.source = source;
    last.what_source = m->what;
  }
  last.m.op = m->op;
  last.m.code = m->code;
  last.m.key = last.key;
  last.m.native = last.native;
  last.m.what = last.what;
  last.m.why = m->why; /* a literal */
  last.m.composed = false;
}

void cshm__set_last_message(const cshm__message *m, uint64_t source) {
  if (m->id == cshm__last_message_id)
    return; /* the thread's last message is this failure already */
  cshm__last_message_id = m->id;
  if (m->composed)
    take_text(m);
  else
    take_parts(m, source);
}

static int fail_global(const char *op, int code, const char *key, const char *native,
                       const cshm__diag *d) {
  const cshm__message m = {.op = op, .code = code, .key = key, .native = native,
                           .what = cshm__diag_what(d), .why = cshm__diag_why(d)};
  compose(last.m.text, sizeof last.m.text, &m);
  last.m.op = op;
  last.m.composed = true;
  cshm__last_message_id = 0; /* no handle's failure */
  return code;
}

int cshm__fail_global(const char *op, int code, const char *key, const cshm__diag *d) {
  return fail_global(op, code, key, NULL, d);
}

int cshm__fail_global_native(const char *op, int code, const char *native, const cshm__diag *d) {
  return fail_global(op, code, NULL, native, d);
}
