/* Sleeping on a header word (sys.h) on Linux, in both profiles: futex(2).
 *
 * FUTEX_WAIT and FUTEX_WAKE, not their _PRIVATE variants: the word is in a shared
 * mapping and the sleepers are in other processes, so the kernel must key the futex
 * on the object and offset, not on this process's address. In the portable profile
 * this file stands in for macOS's os_sync_wait_on_address (word_darwin.c) and
 * FreeBSD's _umtx_op (word_umtx.c): the one place that build may name a futex. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "posix.h"
#include "sys.h"
#include "word.h"

static long futex(volatile uint32_t *addr, int op, uint32_t val, const struct timespec *timeout) {
  return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (ms == 0) /* only compare: no system call */
    return cshm__atomic_load_acquire(word) == expected
               ? cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the word did not change")
               : CSHM_OK;
  const int64_t deadline = ms == CSHM_INFINITE ? INT64_MAX : now_ns() + (int64_t)ms * 1000000;
  for (;;) {
    struct timespec rel, *timeout = NULL; /* FUTEX_WAIT's timeout is relative (monotonic) */
    if (deadline != INT64_MAX) {
      int64_t left = deadline - now_ns();
      if (left <= 0)
        return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the word did not change");
      rel.tv_sec = (time_t)(left / 1000000000);
      rel.tv_nsec = (long)(left % 1000000000);
      timeout = &rel;
    }
    if (futex(word, FUTEX_WAIT, expected, timeout) == 0)
      return CSHM_OK; /* woken (or spuriously): the caller looks at the word */
    switch (errno) {
    case EAGAIN: return CSHM_OK; /* the word differs from `expected` already */
    case EINTR: continue;        /* a signal handler ran: sleep for the time left */
    case ETIMEDOUT: return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the word did not change");
    default: {
      int err = errno;
      cshm__posix_fail(d, err, "futex wait");
      return CSHM_ELOCK;
    }
    }
  }
}

int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (futex(word, FUTEX_WAKE, all ? (uint32_t)INT_MAX : 1u, NULL) >= 0)
    return CSHM_OK;
  int err = errno;
  cshm__posix_fail(d, err, "futex wake");
  return CSHM_ELOCK;
}
