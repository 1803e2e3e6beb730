/* Atomics on memory shared between processes.
 *
 * Only 32-bit words, which are lock-free everywhere this library builds; a 64-bit
 * atomic could fall back to libatomic's per-process lock and silently stop excluding
 * other processes. MSVC gets intrinsics instead of <stdatomic.h> (see below). */
#ifndef CSHM_COMMON_ATOMIC_H
#define CSHM_COMMON_ATOMIC_H

#include <stdint.h>

#if defined(_MSC_VER)
/* MSVC, and clang in MSVC mode too, so that the clang-cl builds of CI
 * (.ci/steps/52-msvc-syntax.sh) compile what cl.exe compiles. Not <stdatomic.h>:
 * cl has it only from VS 2022 17.5, and then behind /experimental:c11atomics. A
 * plain volatile access is not enough either: on ARM64 cl defaults to
 * /volatile:iso, where volatile orders nothing between threads, and
 * _ReadWriteBarrier() only holds back the compiler. So, as MSVC's own <atomic>
 * does: the access with __iso_volatile_load32/__iso_volatile_store32 (exactly one
 * 32-bit access, whatever /volatile says), then a barrier where the processor
 * needs one. The interlocked intrinsics without a suffix are full barriers on
 * every target: stronger than acq_rel, as the C11 branch asks. */
#include <intrin.h>
#define CSHM__ATOMIC_MSVC 1
#if defined(_M_ARM64) || defined(_M_ARM64EC)
/* ARM64 reorders loads and stores: dmb ish (0xB, as <atomic> writes it) keeps the
 * load before what follows it and the store after what precedes it. */
#define CSHM__ATOMIC_BARRIER() __dmb(0xB)
#elif defined(_M_X64) || defined(_M_IX86)
/* x86 keeps loads with loads and stores with stores (TSO): only the compiler could
 * move them. */
#define CSHM__ATOMIC_BARRIER() _ReadWriteBarrier()
#else
#error "cshm: no atomics written for this MSVC target"
#endif
static inline uint32_t cshm__atomic_load_acquire(const volatile uint32_t *p) {
  uint32_t v = (uint32_t)__iso_volatile_load32((const volatile int *)p);
  CSHM__ATOMIC_BARRIER();
  return v;
}
static inline void cshm__atomic_store_release(volatile uint32_t *p, uint32_t v) {
  CSHM__ATOMIC_BARRIER();
  __iso_volatile_store32((volatile int *)p, (int)v);
}
/* Returns the value seen before: equal to `expect` when the swap happened. */
static inline uint32_t cshm__atomic_cas(volatile uint32_t *p, uint32_t expect, uint32_t desired) {
  return (uint32_t)_InterlockedCompareExchange((volatile long *)p, (long)desired, (long)expect);
}
static inline uint32_t cshm__atomic_exchange(volatile uint32_t *p, uint32_t v) {
  return (uint32_t)_InterlockedExchange((volatile long *)p, (long)v);
}
/* A counter in this process's memory: returns the incremented value. */
static inline uint64_t cshm__atomic64_increment(volatile uint64_t *p) {
  return (uint64_t)_InterlockedIncrement64((volatile __int64 *)p);
}
/* Sequentially consistent: the wait/notify Dekker pairs (wait_default.c) need it. */
static inline uint32_t cshm__atomic_fetch_add_seq_cst(volatile uint32_t *p, uint32_t v) {
  return (uint32_t)_InterlockedExchangeAdd((volatile long *)p, (long)v);
}
static inline uint32_t cshm__atomic_load_seq_cst(const volatile uint32_t *p) {
  return (uint32_t)_InterlockedCompareExchange((volatile long *)(uintptr_t)p, 0, 0);
}
static inline void cshm__atomic_fence_seq_cst(void) {
  volatile long x = 0;
  _InterlockedOr(&x, 0); /* a locked instruction: a full barrier */
}
#else
#include <stdatomic.h>
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
static inline uint32_t cshm__atomic_load_acquire(const volatile uint32_t *p) {
  return atomic_load_explicit((const volatile _Atomic uint32_t *)p, memory_order_acquire);
}
static inline void cshm__atomic_store_release(volatile uint32_t *p, uint32_t v) {
  atomic_store_explicit((volatile _Atomic uint32_t *)p, v, memory_order_release);
}
/* Returns the value seen before: equal to `expect` when the swap happened. */
static inline uint32_t cshm__atomic_cas(volatile uint32_t *p, uint32_t expect, uint32_t desired) {
  atomic_compare_exchange_strong_explicit((volatile _Atomic uint32_t *)p, &expect, desired,
                                          memory_order_acq_rel, memory_order_acquire);
  return expect;
}
static inline uint32_t cshm__atomic_exchange(volatile uint32_t *p, uint32_t v) {
  return atomic_exchange_explicit((volatile _Atomic uint32_t *)p, v, memory_order_acq_rel);
}
/* Sequentially consistent, for the Dekker pairs of wait/notify (wait_default.c) and
 * of the portable lock's sleepers: "I registered, then I look at the word" against
 * "I changed the word, then I look at the registrations" - one of the two sees the
 * other's write, so no wake-up is lost. Returns the value before the addition. */
static inline uint32_t cshm__atomic_fetch_add_seq_cst(volatile uint32_t *p, uint32_t v) {
  return atomic_fetch_add_explicit((volatile _Atomic uint32_t *)p, v, memory_order_seq_cst);
}
static inline uint32_t cshm__atomic_load_seq_cst(const volatile uint32_t *p) {
  return atomic_load_explicit((const volatile _Atomic uint32_t *)p, memory_order_seq_cst);
}
static inline void cshm__atomic_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }

/* 64-bit words only where the target has lock-free 64-bit atomics: a libatomic
 * fallback would lock per process and stop excluding other processes. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && sizeof(long long) == sizeof(uint64_t),
               "64-bit atomics must be lock-free");
static inline uint64_t cshm__atomic64_load_acquire(const volatile uint64_t *p) {
  return atomic_load_explicit((const volatile _Atomic uint64_t *)p, memory_order_acquire);
}
static inline void cshm__atomic64_store_release(volatile uint64_t *p, uint64_t v) {
  atomic_store_explicit((volatile _Atomic uint64_t *)p, v, memory_order_release);
}
/* A counter in this process's memory: returns the incremented value. */
static inline uint64_t cshm__atomic64_increment(volatile uint64_t *p) {
  return atomic_fetch_add_explicit((volatile _Atomic uint64_t *)p, 1, memory_order_relaxed) + 1;
}
/* True when *p held `expect` and now holds `desired`. */
static inline int cshm__atomic64_cas(volatile uint64_t *p, uint64_t expect, uint64_t desired) {
  return atomic_compare_exchange_strong_explicit((volatile _Atomic uint64_t *)p, &expect,
                                                 desired, memory_order_acquire,
                                                 memory_order_relaxed);
}
#endif

#endif
