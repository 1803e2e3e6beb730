/* The portable lock (DESIGN.md §6): no robust mutex, yet fast and crash-aware.
 *
 * A 64-bit word in the header: 0 when free, else the owner process's liveness token
 * (tokens.c). Taking a free lock is one compare-and-swap, releasing it one store: no
 * system call. A waiter sleeps on the word's low 32 bits (cshm__sys_word_wait:
 * futex, os_sync_wait_on_address, _umtx_op), counted in the header's lock_sleepers,
 * so that an unlocker wakes it only when someone sleeps; it sleeps in slices of
 * LIVENESS_EVERY and then checks whether the owner's process is gone; if it is, the
 * waiter swaps the dead token for its own and reports CSHM_OWNER_DIED. An unlocker
 * of an older cshm does not wake sleepers: they then see the free lock within one
 * slice. Threads of one
 * process share a token: the word excludes them from each other like processes, and
 * the front end's held-lock registry tells a thread that relocks. A token of another
 * user cannot be checked (its tokens file is private): its owner is taken as alive. */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "format.h"
#include "portable.h"
#include "sys.h"

_Static_assert(sizeof(uint64_t) <= CSHM__LOCK_CAPACITY, "the lock word fits the header");

/* Mechanism 2: the portable lock word. No architecture or C library in the id: the
 * word is the same on every little-endian 64-bit process (arm64 and Rosetta x86-64
 * on one Mac included). */
#define MECHANISM_PORTABLE_WORD 2u

/* A waiter checks the owner's liveness at most every 10 ms: its sleeps are that long
 * at most. */
#define LIVENESS_EVERY_NS 10000000L

uint32_t cshm__sys_lock_abi(void) {
  const uint32_t endian = (const union { uint16_t u; uint8_t b[2]; }){.u = 1}.b[0] == 1 ? 0u : 1u;
  return MECHANISM_PORTABLE_WORD << 24 | endian << 16 | (uint32_t)sizeof(uint64_t);
}

int cshm__sys_lock_init(void *lock_area, cshm__diag *d) {
  (void)d;
  memset(lock_area, 0, sizeof(uint64_t));
  return CSHM_OK;
}

static volatile uint64_t *word_of(cshm__sys_segment *s) {
  return (volatile uint64_t *)(void *)((unsigned char *)s->base + CSHM__LOCK_OFFSET);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps while the lock word still holds `owner`, until `until` (ns, now_ns()) at
 * most. Registered in lock_sleepers first: an unlocker stores 0 and then looks at
 * lock_sleepers (both sequentially consistent), so either it sees this sleeper and
 * wakes it, or the kernel's compare sees the free word. The low 32 bits of a token
 * (slot and generation) are never 0. A failed sleep only makes this a poll. */
static void sleep_while_owned(cshm__sys_segment *s, uint64_t owner, int64_t until) {
  cshm__header *hd = s->base;
  int64_t left = until - now_ns();
  if (left <= 0)
    return;
  uint32_t ms = (uint32_t)((left + 999999) / 1000000); /* rounded up: at least 1 */
  cshm__diag ignored;
  cshm__atomic_fetch_add_seq_cst(&hd->lock_sleepers, 1);
  cshm__sys_word_wait(s, CSHM__WORD_LOCK, (uint32_t)owner, ms, &ignored);
  cshm__atomic_fetch_add_seq_cst(&hd->lock_sleepers, UINT32_MAX); /* -1 */
}

/* Before sleeping: poll the word for a few microseconds (an owner in a short critical
 * section on another core releases it sooner than any sleep could return: nanosleep
 * sleeps at least the timer slack, 50 us by default on Linux), then yield a few
 * times (an owner preempted on this core runs). */
#define SPIN_ROUNDS 128
#define YIELD_ROUNDS 8

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int contended(cshm__sys_segment *s, volatile uint64_t *word, uint64_t me, uint32_t ms,
                     cshm__diag *d) {
  if (ms != 0) { /* try_lock must look at the owner's liveness at once */
    for (int i = 0; i < SPIN_ROUNDS + YIELD_ROUNDS; i++) {
      if (cshm__atomic64_load_acquire(word) == 0 && cshm__atomic64_cas(word, 0, me))
        return CSHM_OK;
      if (i < SPIN_ROUNDS)
        cpu_relax();
      else
        sched_yield();
    }
  }
  const int64_t start = now_ns();
  const int64_t deadline = ms == CSHM_INFINITE ? INT64_MAX : start + (int64_t)ms * 1000000;
  int64_t next_check = start; /* check at once: try_lock must see a dead owner too */
  for (;;) {
    uint64_t owner = cshm__atomic64_load_acquire(word);
    if (owner == 0) {
      if (cshm__atomic64_cas(word, 0, me))
        return CSHM_OK;
      continue;
    }
    int64_t now = now_ns();
    if (now >= next_check) {
      if (cshm__token_dead(owner) && cshm__atomic64_cas(word, owner, me))
        return CSHM_OWNER_DIED;
      next_check = now + LIVENESS_EVERY_NS;
    }
    if (now >= deadline)
      return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "the lock is held by another thread");
    sleep_while_owned(s, owner, next_check < deadline ? next_check : deadline);
  }
}

int cshm__sys_lock(cshm__sys_segment *s, uint32_t ms, cshm__diag *d) {
  uint64_t me;
  int rc = cshm__token_mine(&me, d);
  if (rc < 0)
    return rc;
  volatile uint64_t *word = word_of(s);
  if (cshm__atomic64_cas(word, 0, me))
    return CSHM_OK;
  return contended(s, word, me, ms, d);
}

int cshm__sys_unlock(cshm__sys_segment *s, cshm__diag *d) {
  cshm__header *hd = s->base;
  cshm__atomic64_store_release(word_of(s), 0);
  cshm__atomic_fence_seq_cst(); /* the store before the look at lock_sleepers */
  if (cshm__atomic_load_seq_cst(&hd->lock_sleepers) != 0) {
    /* The lock is free whatever the wake says: a failed wake only leaves a sleeper
     * until its slice ends, so it is not reported. */
    cshm__sys_word_wake(s, CSHM__WORD_LOCK, false, d);
  }
  return CSHM_OK;
}

int cshm__sys_lock_held(const void *lock_area, uint32_t *owner) {
  uint64_t word;
  memcpy(&word, lock_area, sizeof word);
  *owner = 0; /* the owner is a process token, not a thread id */
  return word != 0;
}

/* Threads of one process share a token: the word cannot tell a relock. */
bool cshm__sys_lock_reports_relock(void) { return false; }
