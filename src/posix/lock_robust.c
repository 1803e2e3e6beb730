/* The lock in the header on Linux: a robust, error-checking, process-shared mutex.
 * Uncontended it is one atomic instruction each way (glibc keeps the thread id in the
 * thread's control block, so no gettid call either); the kernel is entered only
 * under contention. A holder that dies hands the next locker EOWNERDEAD. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "cshm/cshm.h"
#include "format.h"
#include "posix.h"
#include "sys.h"

_Static_assert(sizeof(pthread_mutex_t) <= CSHM__LOCK_CAPACITY, "the mutex fits the header");

/* Mechanism 1: glibc robust pthread mutex. */
#define MECHANISM_ROBUST_MUTEX 1u

static uint32_t arch_code(void) {
#if defined(__x86_64__)
  return 1;
#elif defined(__aarch64__)
  return 2;
#elif defined(__i386__)
  return 3;
#elif defined(__arm__)
  return 4;
#elif defined(__riscv) && __riscv_xlen == 64
  return 5;
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  return 6;
#elif defined(__s390x__)
  return 7;
#else
  return 0xff;
#endif
}

static uint32_t libc_code(void) {
#if defined(__GLIBC__)
  return 1;
#else
  return 2; /* musl and others: their mutex layouts differ from glibc's */
#endif
}

uint32_t cshm__sys_lock_abi(void) {
  return MECHANISM_ROBUST_MUTEX << 24 | arch_code() << 16 | libc_code() << 8 |
         (uint32_t)sizeof(pthread_mutex_t);
}

static int pthread_fail(cshm__diag *d, int err, const char *what) {
  char os[sizeof d->why]; /* not d->why itself: snprintf from a buffer into itself */
  cshm__sys_error_text(err, os, sizeof os);
  return cshm__diag_set(d, CSHM_ELOCK, what, "%s", os);
}

int cshm__sys_lock_init(void *lock_area, cshm__diag *d) {
  pthread_mutexattr_t attr;
  int err = pthread_mutexattr_init(&attr);
  if (err != 0)
    return pthread_fail(d, err, "pthread_mutexattr_init");
  if ((err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) != 0 ||
      (err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) != 0 ||
      (err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK)) != 0 ||
      (err = pthread_mutex_init((pthread_mutex_t *)lock_area, &attr)) != 0) {
    pthread_mutexattr_destroy(&attr);
    return pthread_fail(d, err, "pthread_mutex_init");
  }
  pthread_mutexattr_destroy(&attr);
  return CSHM_OK;
}

static pthread_mutex_t *mutex_of(cshm__sys_segment *s) {
  return (pthread_mutex_t *)((unsigned char *)s->base + CSHM__LOCK_OFFSET);
}

static int timed_lock(pthread_mutex_t *m, uint32_t ms) {
  struct timespec deadline;
#if defined(CSHM_HAVE_CLOCKLOCK)
  const clockid_t clock = CLOCK_MONOTONIC;
#else
  /* No pthread_mutex_clocklock (glibc < 2.30): the deadline is on the wall clock,
   * and a clock step shortens or stretches the wait. */
  const clockid_t clock = CLOCK_REALTIME;
#endif
  clock_gettime(clock, &deadline);
  deadline.tv_sec += (time_t)(ms / 1000);
  deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
#if defined(CSHM_HAVE_CLOCKLOCK)
  return pthread_mutex_clocklock(m, clock, &deadline);
#else
  return pthread_mutex_timedlock(m, &deadline);
#endif
}

/* Waits for the lock: forever, or at most ms > 0 milliseconds. */
__attribute__((noinline)) static int wait_lock(pthread_mutex_t *m, uint32_t ms) {
  return ms == CSHM_INFINITE ? pthread_mutex_lock(m) : timed_lock(m, ms);
}

/* The lock's rarer results: an owner died, a relock, an error. Out of line, as is
 * wait_lock(): a try-lock polling a held lock only pays for the trylock. */
__attribute__((noinline)) static int lock_result(pthread_mutex_t *m, int err, cshm__diag *d) {
  switch (err) {
  case EOWNERDEAD:
    /* We own it now; the data is the caller's to repair. Mark the mutex usable again
     * so that one death does not poison the segment forever. */
    if ((err = pthread_mutex_consistent(m)) != 0)
      return pthread_fail(d, err, "pthread_mutex_consistent");
    return CSHM_OWNER_DIED;
  case EDEADLK:
    return cshm__diag_fixed(d, CSHM_EDEADLK, NULL,
                            "the calling thread holds the lock through another handle");
  default: return pthread_fail(d, err, "pthread_mutex_lock");
  }
}

int cshm__sys_lock(cshm__sys_segment *s, uint32_t ms, cshm__diag *d) {
  pthread_mutex_t *m = mutex_of(s);
  int err = ms == 0 ? pthread_mutex_trylock(m) : wait_lock(m, ms);
  if (err == 0)
    return CSHM_OK;
  if (err == EBUSY || err == ETIMEDOUT)
    return cshm__diag_fixed(d, CSHM_ETIMEDOUT, NULL, "the lock is held by another thread");
  return lock_result(m, err, d);
}

int cshm__sys_unlock(cshm__sys_segment *s, cshm__diag *d) {
  int err = pthread_mutex_unlock(mutex_of(s));
  return err == 0 ? CSHM_OK : pthread_fail(d, err, "pthread_mutex_unlock");
}

/* The futex word of a robust mutex (linux/futex.h): the owner's TID and two flags. */
#define FUTEX_WORD_OWNER_DIED 0x40000000u
#define FUTEX_WORD_TID_MASK 0x3fffffffu

int cshm__sys_lock_held(const void *lock_area, uint32_t *owner) {
#if defined(__GLIBC__)
  /* glibc keeps the futex word in __data.__lock. When a thread dies holding a robust
   * mutex, the kernel (walking the dead thread's robust list at exit, or at exec)
   * clears the TID and sets FUTEX_OWNER_DIED, keeping FUTEX_WAITERS; the next locker
   * clears the flag as it takes the mutex (EOWNERDEAD). So a word with no TID and
   * that flag is exactly "owner died, not taken since", told from the copy alone.
   * A TID is not checked for liveness: the kernel marks every dead owner itself, and
   * asking whether the TID still runs would only add errors - a holder that unlocked
   * and exited after the copy was taken would look dead, and a reused TID alive. */
  const pthread_mutex_t *m = lock_area;
  uint32_t word = (uint32_t)m->__data.__lock;
  *owner = word & FUTEX_WORD_TID_MASK;
  if (*owner != 0)
    return CSHM_LOCK_HELD;
  return (word & FUTEX_WORD_OWNER_DIED) != 0 ? CSHM_LOCK_OWNER_DIED : CSHM_LOCK_FREE;
#else
  (void)lock_area;
  *owner = 0; /* other C libraries keep the owner elsewhere: unknown */
  return CSHM_LOCK_UNKNOWN;
#endif
}

/* The mutex is error-checking: relocking by its owner is EDEADLK, whatever handle. */
bool cshm__sys_lock_reports_relock(void) { return true; }
