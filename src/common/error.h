/* Composing the detail messages of cshm_error_string()/cshm_last_error_string(). */
#ifndef CSHM_COMMON_ERROR_H
#define CSHM_COMMON_ERROR_H

#include <stddef.h>

#include "diag.h"

#define CSHM__MESSAGE_MAX 768

/* "op: message (key "k", native "n"): what: why"; key, native and d may be NULL. */
void cshm__format_message(char *out, size_t cap, const char *op, int code, const char *key,
                          const char *native, const cshm__diag *d);

/* Records a failure of a call without a handle in the thread's last message. Returns code. */
int cshm__fail_global(const char *op, int code, const char *key, const cshm__diag *d);

/* Copies a handle's message into the thread's last message. */
void cshm__set_last_message(const char *message);

#endif
