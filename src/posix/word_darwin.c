/* Sleeping on a header word (sys.h) on macOS. UNVERIFIED: written against Apple's
 * <os/os_sync_wait_on_address.h> (macOS 14.4+), compiled and run only on macOS CI,
 * never on the machine this was written on.
 *
 * macOS 14.4 and later: os_sync_wait_on_address_with_timeout() and
 * os_sync_wake_by_address_{any,all}() with the _SHARED flags (the sleepers are in
 * other processes: the kernel must key the wait on the memory object, not on this
 * process's address). The timeout is relative, in nanoseconds of the given clock.
 * Older macOS has no public address wait: the documented fallback polls the word
 * with bounded backoff (50 us doubling to 1 ms), and a wake is a no-op (a poller
 * sees the change by itself). */
#include <errno.h>
#include <os/clock.h>
#include <os/os_sync_wait_on_address.h>
#include <time.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "posix.h"
#include "sys.h"
#include "word.h"

#define POLL_MIN_NS 50000L
#define POLL_MAX_NS 1000000L

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int timed_out(cshm__diag *d) {
  return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the word did not change");
}

/* Before macOS 14.4: polls until the word changes or the deadline passes. */
static int poll_word(volatile uint32_t *word, uint32_t expected, int64_t deadline,
                     cshm__diag *d) {
  long pause = POLL_MIN_NS;
  while (cshm__atomic_load_acquire(word) == expected) {
    int64_t left = deadline - now_ns();
    if (left <= 0)
      return timed_out(d);
    struct timespec ts = {0, left < pause ? (long)left : pause};
    nanosleep(&ts, NULL);
    pause = pause * 2 > POLL_MAX_NS ? POLL_MAX_NS : pause * 2;
  }
  return CSHM_OK;
}

int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (ms == 0)
    return cshm__atomic_load_acquire(word) == expected ? timed_out(d) : CSHM_OK;
  const int64_t deadline = ms == CSHM_INFINITE ? INT64_MAX : now_ns() + (int64_t)ms * 1000000;
  if (__builtin_available(macOS 14.4, *)) {
    for (;;) {
      int rc;
      if (deadline == INT64_MAX) {
        rc = os_sync_wait_on_address((void *)(uintptr_t)word, expected, sizeof *word,
                                     OS_SYNC_WAIT_ON_ADDRESS_SHARED);
      } else {
        int64_t left = deadline - now_ns();
        if (left <= 0)
          return timed_out(d);
        rc = os_sync_wait_on_address_with_timeout((void *)(uintptr_t)word, expected,
                                                  sizeof *word, OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                                                  OS_CLOCK_MACH_ABSOLUTE_TIME, (uint64_t)left);
      }
      if (rc >= 0)
        return CSHM_OK; /* woken, or the word differed: the caller looks */
      switch (errno) {
      case EINTR: continue;
      case ETIMEDOUT: return timed_out(d);
      default: {
        int err = errno;
        cshm__posix_fail(d, err, "os_sync_wait_on_address");
        return CSHM_ELOCK;
      }
      }
    }
  }
  return poll_word(word, expected, deadline, d);
}

int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d) {
  volatile uint32_t *word = cshm__word_address(s->base, which);
  if (__builtin_available(macOS 14.4, *)) {
    void *addr = (void *)(uintptr_t)word;
    int rc = all ? os_sync_wake_by_address_all(addr, sizeof *word, OS_SYNC_WAKE_BY_ADDRESS_SHARED)
                 : os_sync_wake_by_address_any(addr, sizeof *word, OS_SYNC_WAKE_BY_ADDRESS_SHARED);
    if (rc == 0 || errno == ENOENT) /* ENOENT: nobody was waiting */
      return CSHM_OK;
    int err = errno;
    cshm__posix_fail(d, err, "os_sync_wake_by_address");
    return CSHM_ELOCK;
  }
  return CSHM_OK; /* the fallback polls: nothing to wake */
}
