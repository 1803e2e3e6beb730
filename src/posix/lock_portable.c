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
 * user cannot be checked (its tokens file is private): its owner is taken as alive.
 *
 * The lock area (128 bytes of the header, the backend's):
 *   [0, 8)   the lock word;
 *   [8, 16)  the identity of the tokens file the word's tokens come from
 *            (cshm__tokens_file_id), set by the creator; 0 in segments made before
 *            it existed, set then by the first locker. Older versions never read it:
 *            the lock ABI is unchanged, and old and new processes share the word.
 * A process whose tokens file is another (on macOS, an app-group process and a
 * plain one of the same user; a process that sees another /tmp) can neither check
 * the others' tokens nor have its own checked: it never declares an owner dead,
 * and its word holds an uncheckable token (cshm__token_unverifiable). Its crash
 * while holding the lock is then not recoverable: fail safe, never two owners. */
#include <sched.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "format.h"
#include "portable.h"
#include "sys.h"
#include "threadlocal.h"

#define TOKENS_ID_OFFSET 8u
_Static_assert(TOKENS_ID_OFFSET + sizeof(uint64_t) <= CSHM__LOCK_CAPACITY,
               "the lock word and the tokens file's identity fit the lock area");

/* Mechanism 2: the portable lock word. No architecture or C library in the id: the
 * word is the same on every little-endian 64-bit process (arm64 and Rosetta x86-64
 * on one Mac included). */
#define MECHANISM_PORTABLE_WORD 2u

/* A waiter checks the owner's liveness at most every 10 ms per owner and thread, by
 * waits and failed try-locks alike (a probe is two system calls); its sleeps are that
 * long at most. */
#define LIVENESS_EVERY_NS 10000000L

uint32_t cshm__sys_lock_abi(void) {
  const uint32_t endian = (const union { uint16_t u; uint8_t b[2]; }){.u = 1}.b[0] == 1 ? 0u : 1u;
  return MECHANISM_PORTABLE_WORD << 24 | endian << 16 | (uint32_t)sizeof(uint64_t);
}

static volatile uint64_t *tokens_id_of(void *lock_area) {
  return (volatile uint64_t *)(void *)((unsigned char *)lock_area + TOKENS_ID_OFFSET);
}

/* The tokens file is recorded here when this process has it open already; else right
 * after the segment is published (cshm__portable_lock_record_tokens): opening it
 * under the name's admin lock would cost a descriptor there. */
int cshm__sys_lock_init(void *lock_area, cshm__diag *d) {
  (void)d;
  memset(lock_area, 0, TOKENS_ID_OFFSET + sizeof(uint64_t));
  *tokens_id_of(lock_area) = cshm__tokens_file_id_if_open();
  return CSHM_OK;
}

void cshm__portable_lock_record_tokens(void *lock_area) {
  uint64_t id;
  cshm__diag ignored;
  if (cshm__atomic64_load_acquire(tokens_id_of(lock_area)) == 0 &&
      cshm__tokens_file_id(&id, &ignored) == CSHM_OK)
    cshm__atomic64_cas(tokens_id_of(lock_area), 0, id); /* else the first locker does */
}

uint64_t cshm__portable_lock_tokens_id(const void *lock_area) {
  return cshm__atomic64_load_acquire(tokens_id_of((void *)(uintptr_t)lock_area));
}

static volatile uint64_t *word_of(cshm__sys_segment *s) {
  return (volatile uint64_t *)(void *)((unsigned char *)s->base + CSHM__LOCK_OFFSET);
}

/* Whether the lock's tokens come from this process's tokens file; a segment that
 * records none yet (made by an older version) records ours. */
static bool tokens_are_ours(cshm__sys_segment *s, uint64_t mine) {
  volatile uint64_t *recorded = tokens_id_of((unsigned char *)s->base + CSHM__LOCK_OFFSET);
  uint64_t id = cshm__atomic64_load_acquire(recorded);
  if (id == 0 && !cshm__atomic64_cas(recorded, 0, mine))
    id = cshm__atomic64_load_acquire(recorded);
  return id == 0 || id == mine;
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

/* The last owner this thread probed, and when it may be probed again. A new owner
 * is probed at once; the same one at most every LIVENESS_EVERY_NS, so a loop of
 * failing try-locks makes no system call on most tries, and still finds a dead
 * owner within 10 ms of trying. */
static CSHM__THREAD_LOCAL uint64_t probed_owner;
static CSHM__THREAD_LOCAL int64_t probe_again_at;

static bool owner_dead(uint64_t owner, int64_t now) {
  if (owner == probed_owner && now < probe_again_at)
    return false;
  probed_owner = owner;
  probe_again_at = now + LIVENESS_EVERY_NS;
  return cshm__token_dead(owner);
}

/* `checkable`: the owner's token comes from our tokens file (tokens_are_ours). */
static int contended(cshm__sys_segment *s, volatile uint64_t *word, uint64_t me, uint32_t ms,
                     bool checkable, cshm__diag *d) {
  if (ms != 0) { /* try_lock fails at once (or takes a dead owner's lock) */
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
  for (;;) {
    uint64_t owner = cshm__atomic64_load_acquire(word);
    if (owner == 0) {
      if (cshm__atomic64_cas(word, 0, me))
        return CSHM_OK;
      continue;
    }
    int64_t now = now_ns();
    if (checkable && owner_dead(owner, now) && cshm__atomic64_cas(word, owner, me))
      return CSHM_OWNER_DIED;
    if (now >= deadline)
      return cshm__diag_fixed(d, CSHM_ETIMEDOUT, NULL, "the lock is held by another thread");
    /* Until the next liveness probe of this owner (or a slice, for an owner that
     * cannot be checked), or the deadline: an unlocker wakes us before. */
    int64_t until = checkable && owner == probed_owner ? probe_again_at : now + LIVENESS_EVERY_NS;
    sleep_while_owned(s, owner, until < deadline ? until : deadline);
  }
}

int cshm__sys_lock(cshm__sys_segment *s, uint32_t ms, cshm__diag *d) {
  uint64_t me, file;
  int rc = cshm__token_mine(&me, d);
  if (rc == CSHM_OK)
    rc = cshm__tokens_file_id(&file, d); /* known once a token is: no system call */
  if (rc < 0)
    return rc;
  bool checkable = tokens_are_ours(s, file);
  if (!checkable)
    me = cshm__token_unverifiable(me);
  volatile uint64_t *word = word_of(s);
  if (cshm__atomic64_cas(word, 0, me))
    return CSHM_OK;
  return contended(s, word, me, ms, checkable, d);
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
  if (word == 0)
    return CSHM_LOCK_FREE;
  /* The word names the owner's token: a released token is a dead owner, whom the
   * next locker replaces (CSHM_OWNER_DIED). Only a token of this process's own tokens
   * file can be checked (fail safe, as the lock does): another user's, or one of
   * another tokens file, or of a segment that records none, is held. The probe needs
   * a token of this process (the first look makes one). The front end confirms a
   * death on a fresh copy (keytype_default.c). */
  uint64_t mine, file, recorded;
  cshm__diag ignored;
  memcpy(&recorded, (const unsigned char *)lock_area + TOKENS_ID_OFFSET, sizeof recorded);
  if (cshm__token_mine(&mine, &ignored) < 0 || cshm__tokens_file_id(&file, &ignored) < 0 ||
      recorded != file)
    return CSHM_LOCK_HELD;
  return cshm__token_dead(word) ? CSHM_LOCK_OWNER_DIED : CSHM_LOCK_HELD;
}

/* Threads of one process share a token: the word cannot tell a relock. */
bool cshm__sys_lock_reports_relock(void) { return false; }
