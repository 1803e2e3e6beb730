/* Composing the detail messages of cshm_error_string()/cshm_last_error_string().
 *
 * A failure is recorded as its parts and composed into text only when read:
 * formatting costs a microsecond, and a loop polling cshm_try_lock() meets failures
 * it never reads (issue 6). */
#ifndef CSHM_COMMON_ERROR_H
#define CSHM_COMMON_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "threadlocal.h"

#define CSHM__MESSAGE_MAX 768

/* A failure's message: "op: message (key "k", native "n"): what: why". The parts
 * point at string literals or at strings that outlive the record (a handle's keys
 * and attachment: every operation that changes them records a new result). */
typedef struct cshm__message {
  const char *op; /* NULL: no failure (the text is "") */
  int code;
  const char *key, *native; /* NULL when absent */
  const char *what, *why;   /* NULL or "" when absent */
  bool composed;            /* text holds the message; the parts are stale */
  uint64_t id;              /* unique in the process per failure recorded (0: none) */
  char text[CSHM__MESSAGE_MAX];
} cshm__message;

/* Forgets the failure: the text is "". */
void cshm__message_clear(cshm__message *m);

/* Records a failure's parts under a new id, copying nothing. A detail that is not
 * fixed text lives in the caller's buffers: it is composed at once. */
void cshm__message_record(cshm__message *m, const char *op, int code, const char *key,
                          const char *native, const cshm__diag *d);

/* The id of the handle's failure the calling thread's last message is (0: none). */
extern CSHM__THREAD_LOCAL_FAST uint64_t cshm__last_message_id;

/* True when recording this failure into m and making it the thread's last message
 * would change nothing: m records these very parts, and the thread took it last (a
 * polling loop). Only pointers are compared: the strings they point at stay
 * unchanged while a record stands, and fixed text is never in a caller's buffers.
 * Inline, so that the parts the caller knows are compared as constants. */
static inline bool cshm__message_repeats(const cshm__message *m, const char *op, int code,
                                         const char *key, const char *native,
                                         const cshm__diag *d) {
  return cshm__diag_is_fixed(d) && m->op == op && m->code == code && m->key == key &&
         m->native == native && m->what == d->what_fixed && m->why == d->why_fixed &&
         m->id == cshm__last_message_id;
}

/* The text, composed on the first call after a record. */
const char *cshm__message_text(cshm__message *m);

/* Makes `m` (a handle's) the calling thread's last message. Nothing to do when it is
 * the failure (the id) the thread took last. Else the parts that are not literals are
 * copied, unless they were copied from the same strings last time: `source` names the
 * version of the strings `m` points at (0: none), so that handles failing in turn
 * copy nothing. */
void cshm__set_last_message(const cshm__message *m, uint64_t source);

/* A new `source` value, unique in the process (never 0): a handle takes one whenever
 * its keys or its attachment change. */
uint64_t cshm__message_source_new(void);

/* Records a failure of a call without a handle in the thread's last message (composed
 * at once: the key is the caller's). Returns code. */
int cshm__fail_global(const char *op, int code, const char *key, const cshm__diag *d);

/* cshm__fail_global() for a call that names its object by native name (may be NULL). */
int cshm__fail_global_native(const char *op, int code, const char *native, const cshm__diag *d);

/* Testing builds only: how many times the calling thread formatted (snprintf'd) a
 * message or a failure detail. */
unsigned long cshm__test_messages_formatted(void);

#endif
