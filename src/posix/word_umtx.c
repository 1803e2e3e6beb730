/* Sleeping on a header word (sys.h) on FreeBSD. UNVERIFIED: written against
 * _umtx_op(2) and <sys/umtx.h>, compiled and run only on FreeBSD CI, never on the
 * machine this was written on.
 *
 * UMTX_OP_WAIT_UINT and UMTX_OP_WAKE, not their _PRIVATE variants: the word is in a
 * shared mapping and the sleepers are in other processes, so the kernel must key the
 * wait on the memory object. The timeout is a struct _umtx_time on CLOCK_MONOTONIC,
 * relative (no UMTX_ABSTIME), passed with its size in uaddr as _umtx_op(2) says. */
#include <errno.h>
#include <limits.h>
#include <sys/types.h>
#include <sys/umtx.h>
#include <time.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "posix.h"
#include "sys.h"
#include "word.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int timed_out(cshm__diag *d) {
  return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the word did not change");
}

int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (ms == 0)
    return cshm__atomic_load_acquire(word) == expected ? timed_out(d) : CSHM_OK;
  const int64_t deadline = ms == CSHM_INFINITE ? INT64_MAX : now_ns() + (int64_t)ms * 1000000;
  for (;;) {
    int rc;
    if (deadline == INT64_MAX) {
      rc = _umtx_op((void *)(uintptr_t)word, UMTX_OP_WAIT_UINT, (u_long)expected, NULL, NULL);
    } else {
      int64_t left = deadline - now_ns();
      if (left <= 0)
        return timed_out(d);
      struct _umtx_time t = {0};
      t._timeout.tv_sec = (time_t)(left / 1000000000);
      t._timeout.tv_nsec = (long)(left % 1000000000);
      t._flags = 0; /* relative */
      t._clockid = CLOCK_MONOTONIC;
      rc = _umtx_op((void *)(uintptr_t)word, UMTX_OP_WAIT_UINT, (u_long)expected,
                    (void *)(uintptr_t)sizeof t, &t);
    }
    if (rc == 0)
      return CSHM_OK; /* woken, or the word differed: the caller looks */
    switch (errno) {
    case EINTR: continue;
    case ETIMEDOUT: return timed_out(d);
    default: {
      int err = errno;
      cshm__posix_fail(d, err, "_umtx_op wait");
      return CSHM_ELOCK;
    }
    }
  }
}

int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (_umtx_op((void *)(uintptr_t)word, UMTX_OP_WAKE, all ? (u_long)INT_MAX : 1ul, NULL, NULL) ==
      0)
    return CSHM_OK;
  int err = errno;
  cshm__posix_fail(d, err, "_umtx_op wake");
  return CSHM_ELOCK;
}
