/* Waiting on a header word (sys.h, issue 13) on Windows: NOT IMPLEMENTED YET.
 *
 * The contract (notes/wait-design.md): a named semaphore per word beside the mutex
 * ("<mapping name>_cv" for CSHM__WORD_COND, "_ev" for CSHM__WORD_EVENT), created
 * with the mapping and opened at attach; a wake releases as many permits as the
 * word's *_waiters field says (one for a wake-one). The portable lock word is not
 * used on Windows (its lock is a named mutex). Until then both calls answer
 * CSHM_ENOTSUP, so cshm_wait() and cshm_event_wait() return CSHM_ENOTSUP (holding
 * the lock again) and a notify with a registered waiter does too. */
#include <windows.h>

#include "cshm/cshm.h"
#include "sys.h"
#include "win32.h"

static int not_yet(cshm__diag *d) {
  return cshm__diag_set(d, CSHM_ENOTSUP, "wait/notify",
                        "not implemented on Windows in this version of cshm");
}

int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d) {
  (void)s, (void)which, (void)expected, (void)ms;
  return not_yet(d);
}

int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d) {
  (void)s, (void)which, (void)all;
  return not_yet(d);
}
