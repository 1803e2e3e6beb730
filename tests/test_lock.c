/* The lock within one process (DESIGN.md §2): two handles in two threads exclude each
 * other exactly as two processes do, the lock belongs to the thread that took it, and a
 * thread that already holds it - through any handle - gets CSHM_EDEADLK instead of
 * Qt's warning or a self-deadlock. Owner death needs a killed process: test_process,
 * except where it meets the per-thread limit of held locks or threads waiting for the
 * lock (one helper, killed).
 *
 * Threads never call CMocka's asserts (they would longjmp across threads): they record
 * results that the main thread asserts after joining them. Ordering between threads
 * uses mutexes, condition variables and barriers, never sleeps; no thread exits while
 * holding the lock.
 *
 * The suite runs unchanged against both locks of the POSIX backend (DESIGN.md §6): the
 * Linux default build's robust, error-checking pthread mutex, and the portable
 * profile's lock word (CSHM_TEST_PORTABLE), where a waiter finds a dead owner by
 * polling its liveness token. Every promise here is the same for both; the last test
 * also checks, in the portable profile, that no name's sidecar files are left. */
#define _POSIX_C_SOURCE 200809L /* barriers under -std=c11 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "error.h"    /* cshm__test_messages_formatted */
#include "expect.h"
#include "heldlock.h" /* CSHM__HELD_MAX */
#include "support.h"

#define SEGMENT_SIZE 4096u

/* A new handle on a new segment of SEGMENT_SIZE bytes under a run-unique key. */
static cshm *make_segment(const char *label) {
  return created(ts_key(label), SEGMENT_SIZE);
}

/* Another handle on the segment of `owner`, attached with `mode`. */
static cshm *open_other(const cshm *owner, cshm_access mode) {
  return attached(cshm_key(owner), mode);
}

/* ---- one operation in another thread ---------------------------------------------- */

typedef enum { OP_LOCK, OP_TRY_LOCK, OP_LOCK_TIMEOUT } op_kind;

typedef struct probe {
  cshm *h;
  op_kind op;
  uint32_t ms;
  int rc;
  int unlock_rc; /* when the probe took the lock, it released it before exiting */
} probe;

static void *probe_main(void *arg) {
  probe *p = arg;
  switch (p->op) {
  case OP_LOCK: p->rc = cshm_lock(p->h); break;
  case OP_TRY_LOCK: p->rc = cshm_try_lock(p->h); break;
  case OP_LOCK_TIMEOUT: p->rc = cshm_lock_timeout(p->h, p->ms); break;
  }
  p->unlock_rc = p->rc >= 0 ? cshm_unlock(p->h) : CSHM_OK;
  return NULL;
}

/* Runs one lock operation on h in a new thread (which holds nothing) and returns its
 * result; a lock it got is released before the thread ends. */
static int in_other_thread(cshm *h, op_kind op, uint32_t ms) {
  probe p = {h, op, ms, CSHM_EUNKNOWN, CSHM_OK};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, probe_main, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  EXPECT_RC(h, p.unlock_rc, CSHM_OK);
  return p.rc;
}

/* ---- a thread that holds the lock until told to release it -------------------------- */

/* At most one per test, at file scope so that the teardown can still release it when
 * an assertion ends the test early (the thread must not outlive the test's frame). */
static struct holder {
  cshm *h;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool running; /* started and not yet joined */
  bool locked;  /* the thread has its lock result in lock_rc */
  bool release; /* the main thread asks it to unlock and exit */
  int lock_rc;
  int unlock_rc;
} holder = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *holder_main(void *arg) {
  (void)arg;
  int rc = cshm_lock(holder.h);
  pthread_mutex_lock(&holder.mu);
  holder.lock_rc = rc;
  holder.locked = true;
  pthread_cond_broadcast(&holder.cv);
  while (rc >= 0 && !holder.release)
    pthread_cond_wait(&holder.cv, &holder.mu);
  pthread_mutex_unlock(&holder.mu);
  holder.unlock_rc = rc >= 0 ? cshm_unlock(holder.h) : CSHM_OK;
  return NULL;
}

/* Releases and joins the holder thread if one runs; returns its unlock result. */
static int holder_join(void) {
  if (!holder.running)
    return CSHM_OK;
  pthread_mutex_lock(&holder.mu);
  holder.release = true;
  pthread_cond_broadcast(&holder.cv);
  pthread_mutex_unlock(&holder.mu);
  pthread_join(holder.thread, NULL);
  holder.running = false;
  return holder.unlock_rc;
}

/* Starts a thread that locks through h and returns once it holds the lock. */
static void holder_start(cshm *h) {
  assert_false(holder.running);
  holder.h = h;
  holder.locked = holder.release = false;
  holder.lock_rc = holder.unlock_rc = CSHM_EUNKNOWN;
  assert_int_equal(pthread_create(&holder.thread, NULL, holder_main, NULL), 0);
  holder.running = true;
  pthread_mutex_lock(&holder.mu);
  while (!holder.locked)
    pthread_cond_wait(&holder.cv, &holder.mu);
  int rc = holder.lock_rc;
  pthread_mutex_unlock(&holder.mu);
  EXPECT_RC(h, rc, CSHM_OK);
}

/* Tells the holder to unlock, waits for it, and asserts its unlock succeeded. */
static void holder_stop(void) {
  assert_true(holder.running);
  EXPECT_RC(holder.h, holder_join(), CSHM_OK);
}

/* Teardown of every test: a holder left by a failed assertion is released. */
static int release_holder(void **state) {
  (void)state;
  holder_join();
  return 0;
}

/* ---- lock and unlock ------------------------------------------------------------------ */

static void test_lock_then_unlock_succeed(void **state) {
  (void)state;
  cshm *h = make_segment("lock-unlock");
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  /* The lock is reusable: a second round works the same. */
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

/* Qt's unlock() returns false when the lock is not held; cshm says CSHM_EINVAL. */
static void test_unlock_without_lock_is_einval(void **state) {
  (void)state;
  cshm *h = make_segment("unlock-twice");
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL); /* never locked */
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL); /* unlocked twice */
  assert_int_equal(cshm_error(h), CSHM_EINVAL);
  /* The failed unlock did not break the lock. */
  EXPECT_RC(h, cshm_try_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

static void test_lock_before_attach_is_einval(void **state) {
  (void)state;
  cshm *h = NULL;
  assert_int_equal(cshm_new(&h, ts_key("lock-unattached")), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_lock_timeout(h, 10), CSHM_EINVAL);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  cshm_free(h);
}

static void test_lock_after_detach_is_einval(void **state) {
  (void)state;
  cshm *h = make_segment("lock-detached");
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_lock_timeout(h, 10), CSHM_EINVAL);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  cshm_free(h);
}

/* ---- relocking (DESIGN.md §2 deviation: Qt warns and returns true) -------------------- */

static void test_relock_through_same_handle_is_edeadlk(void **state) {
  (void)state;
  cshm *h = make_segment("relock-same");
  cshm *other = open_other(h, CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_EDEADLK);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EDEADLK);
  EXPECT_RC(h, cshm_lock_timeout(h, 10), CSHM_EDEADLK);
  /* The failed relocks left the lock held: another thread is still excluded. */
  EXPECT_RC(other, in_other_thread(other, OP_TRY_LOCK, 0), CSHM_EBUSY);
  /* It is not recursive either: one unlock releases it, a second has nothing to do. */
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  EXPECT_RC(other, in_other_thread(other, OP_TRY_LOCK, 0), CSHM_OK);
  cshm_free(other);
  cshm_free(h);
}

/* The thread's record of held locks is per segment, not per handle: a second handle
 * would otherwise self-deadlock (or recurse on Windows). lock_timeout gets a short
 * timeout so that a missed check shows as CSHM_ETIMEDOUT rather than a hang. */
static void test_relock_through_other_handle_is_edeadlk(void **state) {
  (void)state;
  cshm *a = make_segment("relock-other");
  cshm *b = open_other(a, CSHM_READ_WRITE);
  EXPECT_RC(a, cshm_lock(a), CSHM_OK);
  EXPECT_RC(b, cshm_lock(b), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_try_lock(b), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_lock_timeout(b, 10), CSHM_EDEADLK);
  /* b never held it, so b cannot release a's lock. */
  EXPECT_RC(b, cshm_unlock(b), CSHM_EINVAL);
  EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
  /* After the unlock both handles can lock in turn. */
  EXPECT_RC(b, cshm_lock(b), CSHM_OK);
  EXPECT_RC(a, cshm_try_lock(a), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_unlock(b), CSHM_OK);
  EXPECT_RC(a, cshm_lock(a), CSHM_OK);
  EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
  cshm_free(b);
  cshm_free(a);
}

/* The deadlock check must not confuse two segments: one thread can hold both. */
static void test_one_thread_holds_two_segments(void **state) {
  (void)state;
  cshm *s1 = make_segment("two-segments-1");
  cshm *s2 = make_segment("two-segments-2");
  EXPECT_RC(s1, cshm_lock(s1), CSHM_OK);
  EXPECT_RC(s2, cshm_lock(s2), CSHM_OK);
  /* Releasing one leaves the other held. */
  EXPECT_RC(s1, cshm_unlock(s1), CSHM_OK);
  EXPECT_RC(s2, cshm_try_lock(s2), CSHM_EDEADLK);
  EXPECT_RC(s1, cshm_try_lock(s1), CSHM_OK);
  EXPECT_RC(s2, cshm_unlock(s2), CSHM_OK);
  EXPECT_RC(s1, cshm_unlock(s1), CSHM_OK);
  cshm_free(s2);
  cshm_free(s1);
}

/* ---- try_lock and lock_timeout ----------------------------------------------------------- */

static void test_try_lock_is_ebusy_while_another_thread_holds(void **state) {
  (void)state;
  cshm *h = make_segment("try-busy");
  cshm *mine = open_other(h, CSHM_READ_WRITE);
  holder_start(h);
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  holder_stop();
  /* Free again: the same call now takes it. */
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_OK);
  EXPECT_RC(mine, cshm_unlock(mine), CSHM_OK);
  cshm_free(mine);
  cshm_free(h);
}

static void test_try_lock_succeeds_when_free(void **state) {
  (void)state;
  cshm *h = make_segment("try-free");
  EXPECT_RC(h, cshm_try_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

/* 0 behaves as try_lock but reports CSHM_ETIMEDOUT, not CSHM_EBUSY. */
static void test_lock_timeout_times_out_while_another_thread_holds(void **state) {
  (void)state;
  cshm *h = make_segment("timeout-busy");
  cshm *mine = open_other(h, CSHM_READ_WRITE);
  holder_start(h);
  EXPECT_RC(mine, cshm_lock_timeout(mine, 50), CSHM_ETIMEDOUT);
  EXPECT_RC(mine, cshm_lock_timeout(mine, 0), CSHM_ETIMEDOUT);
  assert_int_equal(cshm_error(mine), CSHM_ETIMEDOUT);
  holder_stop();
  cshm_free(mine);
  cshm_free(h);
}

static void test_lock_timeout_infinite_when_free(void **state) {
  (void)state;
  cshm *h = make_segment("timeout-infinite");
  EXPECT_RC(h, cshm_lock_timeout(h, CSHM_INFINITE), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  /* A finite timeout on a free lock takes it at once. */
  EXPECT_RC(h, cshm_lock_timeout(h, 50), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

/* ---- a blocked waiter ------------------------------------------------------------------ */

typedef struct waiter {
  cshm *h;
  pthread_barrier_t *go;
  int try_rc;  /* before the barrier, while the main thread holds the lock */
  int lock_rc; /* the blocking lock after it */
  int unlock_rc;
} waiter;

static void *waiter_main(void *arg) {
  waiter *w = arg;
  w->try_rc = cshm_try_lock(w->h);
  pthread_barrier_wait(w->go);
  w->lock_rc = cshm_lock(w->h);
  if (w->lock_rc >= 0) {
    /* Proof of ownership the main thread can see: it wrote this under the lock. */
    ((volatile unsigned char *)cshm_data(w->h))[0] = 0x5a;
    w->unlock_rc = cshm_unlock(w->h);
  }
  return NULL;
}

/* The waiter sees the lock held (EBUSY), then both meet at the barrier, then the main
 * thread unlocks while the waiter is in (or entering) cshm_lock: the waiter must get
 * CSHM_OK, never an error or a hang. */
static void test_waiter_gets_lock_after_holder_unlocks(void **state) {
  (void)state;
  cshm *h = make_segment("waiter");
  cshm *wh = open_other(h, CSHM_READ_WRITE);
  pthread_barrier_t go;
  assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
  waiter w = {wh, &go, CSHM_EUNKNOWN, CSHM_EUNKNOWN, CSHM_EUNKNOWN};
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
  pthread_barrier_wait(&go);
  int unlock_rc = cshm_unlock(h);
  assert_int_equal(pthread_join(t, NULL), 0);
  pthread_barrier_destroy(&go);
  EXPECT_RC(h, unlock_rc, CSHM_OK);
  EXPECT_RC(wh, w.try_rc, CSHM_EBUSY);
  EXPECT_RC(wh, w.lock_rc, CSHM_OK);
  EXPECT_RC(wh, w.unlock_rc, CSHM_OK);
  assert_int_equal(((const unsigned char *)cshm_const_data(h))[0], 0x5a);
  cshm_free(wh);
  cshm_free(h);
}

/* ---- mutual exclusion: Qt's simpleThreadedProducerConsumer ---------------------------- */

#define WORKERS 4
#define INCREMENTS 20000

typedef struct worker {
  const char *key;
  pthread_barrier_t *start;
  int rc; /* the first failure, or CSHM_OK */
  char detail[512];
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  cshm *h = NULL;
  int rc = cshm_new(&h, w->key);
  if (rc == CSHM_OK)
    rc = cshm_attach(h, CSHM_READ_WRITE);
  /* Everyone meets at the barrier, even after a failure, so nobody waits forever. */
  pthread_barrier_wait(w->start);
  uint64_t *counter = rc == CSHM_OK ? cshm_data(h) : NULL;
  for (int i = 0; rc == CSHM_OK && i < INCREMENTS; i++) {
    if ((rc = cshm_lock(h)) != CSHM_OK)
      break;
    /* A plain read-modify-write: only the lock makes it exact. */
    uint64_t v = *counter;
    *counter = v + 1;
    rc = cshm_unlock(h);
  }
  w->rc = rc;
  if (rc != CSHM_OK)
    snprintf(w->detail, sizeof w->detail, "%s",
             h != NULL ? cshm_error_string(h) : cshm_last_error_string());
  cshm_free(h);
  return NULL;
}

static void test_threads_with_own_handles_exclude_each_other(void **state) {
  (void)state;
  cshm *h = make_segment("counter");
  pthread_barrier_t start;
  assert_int_equal(pthread_barrier_init(&start, NULL, WORKERS), 0);
  worker w[WORKERS];
  pthread_t t[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i] = (worker){cshm_key(h), &start, CSHM_EUNKNOWN, ""};
    assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  pthread_barrier_destroy(&start);
  for (int i = 0; i < WORKERS; i++) {
    if (w[i].rc != CSHM_OK)
      print_error("worker %d: %s: %s\n", i, cshm_error_name(w[i].rc), w[i].detail);
    assert_int_equal(w[i].rc, CSHM_OK);
  }
  uint64_t total;
  memcpy(&total, cshm_const_data(h), sizeof total);
  assert_int_equal(total, (uint64_t)WORKERS * INCREMENTS);
  cshm_free(h);
}

/* ---- the lock belongs to the thread that took it ------------------------------------- */

static void test_only_the_locking_thread_can_unlock_or_detach(void **state) {
  (void)state;
  cshm *h = make_segment("owner-thread");
  cshm *third = open_other(h, CSHM_READ_WRITE);
  holder_start(h); /* thread A holds the lock through h */
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  /* Detaching would unmap the lock A holds (memory a robust list points into, in the
   * default build): refused, nothing changed. */
  EXPECT_RC(h, cshm_detach(h), CSHM_EBUSY);
  assert_true(cshm_is_attached(h));
  assert_non_null(cshm_data(h));
  EXPECT_RC(third, cshm_try_lock(third), CSHM_EBUSY); /* A still holds it */
  holder_stop();
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(cshm_is_attached(h));
  EXPECT_RC(third, cshm_try_lock(third), CSHM_OK);
  EXPECT_RC(third, cshm_unlock(third), CSHM_OK);
  cshm_free(third);
  cshm_free(h);
}

/* ---- detach and free release the caller's lock ------------------------------------------- */

static void test_detach_while_holding_releases_the_lock(void **state) {
  (void)state;
  cshm *h = make_segment("detach-held");
  cshm *other = open_other(h, CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  /* Same thread: proves both that the mutex was released and that the thread's record
   * of held locks forgot it (otherwise this would be CSHM_EDEADLK). */
  EXPECT_RC(other, cshm_try_lock(other), CSHM_OK);
  EXPECT_RC(other, cshm_unlock(other), CSHM_OK);
  EXPECT_RC(other, in_other_thread(other, OP_TRY_LOCK, 0), CSHM_OK);
  cshm_free(other);
  cshm_free(h);
}

static void test_free_while_holding_releases_the_lock(void **state) {
  (void)state;
  cshm *h = make_segment("free-held");
  const char *path = ts_shm_path(cshm_key(h));
  assert_non_null(path);
  char saved[1100];
  snprintf(saved, sizeof saved, "%s", path);
  cshm *other = open_other(h, CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  cshm_free(h);
  EXPECT_RC(other, cshm_try_lock(other), CSHM_OK);
  /* The segment survives the freed handle while `other` is attached. */
  assert_int_equal(access(saved, F_OK), 0);
  cshm *late = open_other(other, CSHM_READ_WRITE);
  EXPECT_RC(other, cshm_unlock(other), CSHM_OK);
  cshm_free(late);
  cshm_free(other);
  assert_int_not_equal(access(saved, F_OK), 0); /* the last detacher removed it */
}

/* ---- read-only attachments (as in Qt) ----------------------------------------------------- */

static void test_read_only_attachment_can_lock(void **state) {
  (void)state;
  cshm *rw = make_segment("read-only-lock");
  cshm *ro = open_other(rw, CSHM_READ_ONLY);
  EXPECT_RC(ro, cshm_lock(ro), CSHM_OK);
  EXPECT_RC(rw, in_other_thread(rw, OP_TRY_LOCK, 0), CSHM_EBUSY);
  EXPECT_RC(ro, cshm_unlock(ro), CSHM_OK);
  EXPECT_RC(rw, in_other_thread(rw, OP_TRY_LOCK, 0), CSHM_OK);
  cshm_free(ro);
  cshm_free(rw);
}

/* ---- error state ------------------------------------------------------------------------- */

static void test_error_state_follows_lock_results(void **state) {
  (void)state;
  cshm *h = make_segment("error-state");
  cshm *mine = open_other(h, CSHM_READ_WRITE);
  /* A failure first, so that the success below has something to clear. */
  EXPECT_RC(mine, cshm_unlock(mine), CSHM_EINVAL);
  assert_string_not_equal(cshm_error_string(mine), "");
  EXPECT_RC(mine, cshm_lock(mine), CSHM_OK);
  assert_int_equal(cshm_error(mine), CSHM_OK);
  assert_string_equal(cshm_error_string(mine), "");
  EXPECT_RC(mine, cshm_unlock(mine), CSHM_OK);

  holder_start(h);
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  assert_int_equal(cshm_error(mine), CSHM_EBUSY);
  const char *msg = cshm_error_string(mine);
  if (strstr(msg, "cshm_try_lock") == NULL)
    print_error("message: %s\n", msg);
  assert_non_null(strstr(msg, "cshm_try_lock"));
  holder_stop();
  cshm_free(mine);
  cshm_free(h);
}

/* ---- regressions: the held-lock limit and a handle another thread holds ------------- */

/* A segment whose lock was held by a helper process that was then killed: the next
 * locker is owed CSHM_OWNER_DIED. */
static cshm *make_segment_with_dead_holder(const char *label) {
  cshm *h = make_segment(label);
  ts_child c;
  if (!ts_spawn(&c, NULL, false, (const char *const[]){cshm_key(h), "attach", "lock", "signal", NULL}))
    fail_msg("could not spawn the helper (is CSHM_TEST_HELPER set?)");
  bool holding = ts_expect(&c, "signal");
  /* Reaps it: the kernel has marked the robust mutex's owner dead (default build), or
   * released the liveness token the lock word names (portable profile). */
  ts_kill(&c);
  assert_true(holding);
  return h;
}

/* A thread holding CSHM__HELD_MAX locks gets CSHM_ENOMEM for one more - without
 * touching that segment's lock: had it taken the lock (consuming its owner-died
 * state) and given it back, the report would be lost. Once a slot is free, the same
 * lock reports CSHM_OWNER_DIED. */
static void test_held_lock_limit_keeps_owner_died_report(void **state) {
  (void)state;
#if !CSHM_TEST_PORTABLE && defined(__linux__)
  /* Linux, default key type: the error-checking mutex reports a relock itself, so no
   * held-lock record is kept and there is no 64-lock limit. */
  skip();
#endif
  cshm *dead = make_segment_with_dead_holder("held-max-dead");
  cshm *held[CSHM__HELD_MAX];
  for (int i = 0; i < CSHM__HELD_MAX; i++)
    held[i] = make_segment("held-max");
  for (int i = 0; i < CSHM__HELD_MAX; i++)
    EXPECT_RC(held[i], cshm_lock(held[i]), CSHM_OK);

  EXPECT_RC(dead, cshm_lock(dead), CSHM_ENOMEM);
  EXPECT_RC(dead, cshm_try_lock(dead), CSHM_ENOMEM);
  EXPECT_RC(dead, cshm_lock_timeout(dead, 10), CSHM_ENOMEM);
  EXPECT_RC(dead, cshm_unlock(dead), CSHM_EINVAL); /* not held through it */

  EXPECT_RC(held[0], cshm_unlock(held[0]), CSHM_OK);
  EXPECT_RC(dead, cshm_lock(dead), CSHM_OWNER_DIED);
  /* Full again: the freed slot is taken by `dead`. */
  EXPECT_RC(held[0], cshm_lock(held[0]), CSHM_ENOMEM);
  EXPECT_RC(dead, cshm_unlock(dead), CSHM_OK);

  for (int i = 1; i < CSHM__HELD_MAX; i++)
    EXPECT_RC(held[i], cshm_unlock(held[i]), CSHM_OK);
  /* The death was reported once: the lock is plain again. */
  EXPECT_RC(dead, cshm_lock(dead), CSHM_OK);
  EXPECT_RC(dead, cshm_unlock(dead), CSHM_OK);
  for (int i = 0; i < CSHM__HELD_MAX; i++)
    cshm_free(held[i]);
  cshm_free(dead);
}

/* A thread that waits for the lock through its own handle, then releases it. */
typedef struct dead_waiter {
  cshm *h;
  int lock_rc;
  int unlock_rc;
} dead_waiter;

static void *dead_waiter_main(void *arg) {
  dead_waiter *w = arg;
  w->lock_rc = cshm_lock(w->h);
  w->unlock_rc = w->lock_rc >= 0 ? cshm_unlock(w->h) : CSHM_OK;
  return NULL;
}

/* The crash test with waiters (issue 5): two threads wait for a lock whose holder, a
 * helper process, is then killed. Exactly one of them is told CSHM_OWNER_DIED (the
 * robust mutex's EOWNERDEAD; in the portable profile, the waiter that swaps the dead
 * token for its own), the other then gets the lock with CSHM_OK; afterwards the lock
 * is plain again. Whether the threads already wait when the kill lands or start
 * waiting after it, the outcome is the same. */
static void test_threads_waiting_when_holder_dies_see_it_once(void **state) {
  (void)state;
  cshm *h = make_segment("dead-while-waiting");
  dead_waiter w[2] = {{open_other(h, CSHM_READ_WRITE), CSHM_EUNKNOWN, CSHM_EUNKNOWN},
                      {open_other(h, CSHM_READ_WRITE), CSHM_EUNKNOWN, CSHM_EUNKNOWN}};
  ts_child c;
  if (!ts_spawn(&c, NULL, false, (const char *const[]){cshm_key(h), "attach", "lock", "signal", NULL}))
    fail_msg("could not spawn the helper (is CSHM_TEST_HELPER set?)");
  if (!ts_expect(&c, "signal")) {
    ts_kill(&c);
    fail_msg("the helper did not take the lock");
  }
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, dead_waiter_main, &w[i]) != 0) {
      ts_kill(&c); /* lets a started waiter finish */
      for (int j = 0; j < i; j++)
        pthread_join(t[j], NULL);
      fail_msg("pthread_create");
    }
  ts_kill(&c);
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  for (int i = 0; i < 2; i++) {
    if (w[i].lock_rc != CSHM_OK && w[i].lock_rc != CSHM_OWNER_DIED)
      print_error("waiter %d: cshm_lock returned %s: %s\n", i, cshm_error_name(w[i].lock_rc),
                  cshm_error_string(w[i].h));
    EXPECT_RC(w[i].h, w[i].unlock_rc, CSHM_OK);
  }
  assert_true((w[0].lock_rc == CSHM_OWNER_DIED && w[1].lock_rc == CSHM_OK) ||
              (w[0].lock_rc == CSHM_OK && w[1].lock_rc == CSHM_OWNER_DIED));
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(w[1].h);
  cshm_free(w[0].h);
  cshm_free(h);
}

/* Thread A holds the lock through h; the main thread locking through the same h must
 * be told CSHM_EBUSY (use one handle per thread), never wait - a wait for a lock
 * recorded as this handle's would never end. Once A unlocks, h locks normally. */
static void test_lock_through_handle_another_thread_holds_is_ebusy(void **state) {
  (void)state;
  cshm *h = make_segment("handle-held-elsewhere");
  holder_start(h);
  EXPECT_RC(h, cshm_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, CSHM_INFINITE), CSHM_EBUSY);
  assert_int_equal(cshm_error(h), CSHM_EBUSY);
  holder_stop();
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

/* ---- regression: a failing lock call formats no message (issue 6) ------------------ */

/* How often each failing call runs: a polling loop's worth. */
#define POLLS 100000

/* The message a handle's failure reports: "op: strerror (key "k", native "n"): why". */
static void expected_message(char *out, size_t cap, const char *op, int code, const cshm *h,
                             const char *why) {
  snprintf(out, cap, "%s: %s (key \"%s\", native \"%s\"): %s", op, cshm_strerror(code),
           cshm_key(h), cshm_native_key(h), why);
}

/* Asserts that the handle's message and the thread's last message are both `want`. */
static void expect_messages(const cshm *h, const char *want) {
  if (strcmp(cshm_error_string(h), want) != 0 || strcmp(cshm_last_error_string(), want) != 0)
    print_error("want:   %s\nhandle: %s\nthread: %s\n", want, cshm_error_string(h),
                cshm_last_error_string());
  assert_string_equal(cshm_error_string(h), want);
  assert_string_equal(cshm_last_error_string(), want);
}

/* A polling cshm_try_lock() (and cshm_lock_timeout(h, 0)) on a lock another thread
 * holds used to format its message twice per call with snprintf - 50-90x the cost of
 * the raw mutex's trylock. Now a failure records its parts and the message is
 * composed when read: POLLS failures format nothing, and the message read afterwards
 * is the full one, on the handle and as the thread's last error - also once the
 * handle is gone, and naming the handle that failed last when two alternate. */
static void test_failing_try_lock_formats_no_message(void **state) {
  (void)state;
  cshm *h = make_segment("lazy-busy");
  cshm *mine = open_other(h, CSHM_READ_WRITE);
  cshm *other = make_segment("lazy-busy-other");
  cshm *other_mine = open_other(other, CSHM_READ_WRITE);
  holder_start(h);
  EXPECT_RC(other, cshm_lock(other), CSHM_OK); /* held by this thread: other_mine is busy */
  char timed_out[600], busy[600], busy_other[600];
  expected_message(timed_out, sizeof timed_out, "cshm_lock_timeout", CSHM_ETIMEDOUT, mine,
                   "the lock is held by another thread");
  expected_message(busy, sizeof busy, "cshm_try_lock", CSHM_EBUSY, mine,
                   "another thread holds the lock");
  expected_message(busy_other, sizeof busy_other, "cshm_try_lock", CSHM_EDEADLK, other_mine,
                   "the calling thread holds the lock through another handle");

  unsigned long before = cshm__test_messages_formatted();
  int busy_seen = 0, timeouts_seen = 0, deadlocks_seen = 0;
  for (int i = 0; i < POLLS; i++) {
    busy_seen += cshm_try_lock(mine) == CSHM_EBUSY;
    timeouts_seen += cshm_lock_timeout(mine, 0) == CSHM_ETIMEDOUT;
  }
  unsigned long formatted = cshm__test_messages_formatted() - before;
  assert_int_equal(busy_seen, POLLS);
  assert_int_equal(timeouts_seen, POLLS);
  expect_messages(mine, timed_out);
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);

  /* Two handles failing in turn: the thread's message follows the last one. */
  unsigned long before_alternating = cshm__test_messages_formatted();
  for (int i = 0; i < POLLS; i++) {
    deadlocks_seen += cshm_try_lock(other_mine) == CSHM_EDEADLK;
    busy_seen += cshm_try_lock(mine) == CSHM_EBUSY;
  }
  formatted += cshm__test_messages_formatted() - before_alternating;
  assert_int_equal(deadlocks_seen, POLLS);
  assert_int_equal(busy_seen, 2 * POLLS);
  expect_messages(mine, busy);
  EXPECT_RC(other_mine, cshm_try_lock(other_mine), CSHM_EDEADLK);
  expect_messages(other_mine, busy_other);

  /* The thread's message outlives the handle it came from. */
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  holder_stop();
  cshm_free(mine);
  assert_string_equal(cshm_last_error_string(), busy);
  if (formatted != 0)
    print_error("%lu messages formatted in %d failing calls\n", formatted, 4 * POLLS);
  assert_int_equal(formatted, 0);
  EXPECT_RC(other, cshm_unlock(other), CSHM_OK);
  cshm_free(other_mine);
  cshm_free(other);
  cshm_free(h);
}

/* A repeated failure records nothing new (the handle keeps it, the thread's last
 * message is it already), but only while nothing else became the thread's last
 * message: a failure of a call without a handle, or another thread's failure on the
 * same handle, in between must not leave the thread's message stale. */
static void *fail_try_lock_main(void *arg) {
  cshm *h = arg;
  EXPECT_RC(h, cshm_lock_timeout(h, 0), CSHM_ETIMEDOUT);
  return NULL;
}

static void test_repeated_try_lock_failure_stays_the_last(void **state) {
  (void)state;
  cshm *h = make_segment("repeat-busy");
  cshm *mine = open_other(h, CSHM_READ_WRITE);
  holder_start(h);
  char busy[600], timed_out[600];
  expected_message(busy, sizeof busy, "cshm_try_lock", CSHM_EBUSY, mine,
                   "another thread holds the lock");
  expected_message(timed_out, sizeof timed_out, "cshm_lock_timeout", CSHM_ETIMEDOUT, mine,
                   "the lock is held by another thread");
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);

  /* A failure without a handle in between. */
  assert_int_equal(cshm_try_lock(NULL), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "the handle is NULL");
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);

  /* Another handle's failure in between. */
  cshm *detached = new_handle(ts_key("repeat-busy-detached"));
  assert_int_equal(cshm_try_lock(detached), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "the handle is not attached");
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);

  /* Another thread fails on the same handle in between: the handle's message is
   * its failure, this thread's last message stays this thread's. */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fail_try_lock_main, mine), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_string_equal(cshm_error_string(mine), timed_out);
  assert_string_equal(cshm_last_error_string(), busy);
  EXPECT_RC(mine, cshm_lock_timeout(mine, 0), CSHM_ETIMEDOUT);
  expect_messages(mine, timed_out);
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);

  /* The message read in between does not change the next repeat's. */
  EXPECT_RC(mine, cshm_try_lock(mine), CSHM_EBUSY);
  expect_messages(mine, busy);
  holder_stop();
  cshm_free(mine);
  assert_string_equal(cshm_last_error_string(), busy);
  cshm_free(detached);
  cshm_free(h);
}

/* Both Qt key types (System V, POSIX semaphores) report a held lock the same lazy way:
 * cshm_try_lock and cshm_lock_timeout(h, 0) format nothing, and the message read
 * afterwards names the semaphore. Their key files go to a private $TMPDIR, checked
 * empty and removed at the end. */
static void test_failing_try_lock_formats_no_message_qt(void **state) {
  (void)state;
  char dir[] = "/tmp/cshm-test-lazy-qt-XXXXXX";
  assert_non_null(mkdtemp(dir));
  const char *saved = getenv("TMPDIR");
  char saved_copy[512];
  snprintf(saved_copy, sizeof saved_copy, "%s", saved != NULL ? saved : "");
  setenv("TMPDIR", dir, 1);
  static const cshm_key_type types[] = {CSHM_KEY_QT_LEGACY, CSHM_KEY_QT_PLATFORM_SAFE};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    char key[200];
    snprintf(key, sizeof key, "%s-%zu", ts_key("lazy-qt"), t);
    cshm *h = new_handle(key);
    EXPECT_OK(h, cshm_set_key_type(h, types[t]));
    EXPECT_OK(h, cshm_create(h, SEGMENT_SIZE, CSHM_READ_WRITE));
    cshm *mine = new_handle(key);
    EXPECT_OK(mine, cshm_set_key_type(mine, types[t]));
    EXPECT_OK(mine, cshm_attach(mine, CSHM_READ_WRITE));
    holder_start(h);
    unsigned long before = cshm__test_messages_formatted();
    int seen = 0;
    for (int i = 0; i < POLLS / 10; i++) {
      seen += cshm_try_lock(mine) == CSHM_EBUSY;
      seen += cshm_lock_timeout(mine, 0) == CSHM_ETIMEDOUT;
    }
    unsigned long formatted = cshm__test_messages_formatted() - before;
    assert_int_equal(seen, 2 * (POLLS / 10));
    char prefix[600];
    snprintf(prefix, sizeof prefix, "cshm_lock_timeout: %s (key \"%s\", native \"%s\"): ",
             cshm_strerror(CSHM_ETIMEDOUT), key, cshm_native_key(mine));
    const char *msg = cshm_error_string(mine);
    EXPECT_CONTAINS(msg, prefix);
    assert_true(strncmp(msg, prefix, strlen(prefix)) == 0);
    const char *tail = ": the lock is held";
    assert_true(strlen(msg) > strlen(prefix) + strlen(tail)); /* the semaphore's name */
    assert_string_equal(msg + strlen(msg) - strlen(tail), tail);
    assert_string_equal(cshm_last_error_string(), msg);
    assert_int_equal(formatted, 0);
    holder_stop();
    cshm_free(mine);
    cshm_free(h);
    /* Qt's POSIX objects outlive their handles (as in Qt): remove them, then none is
     * left to attach to. */
    int removed = cshm_remove(key, types[t]);
    assert_true(removed == CSHM_OK || removed == CSHM_ENOENT);
    cshm *gone = new_handle(key);
    EXPECT_OK(gone, cshm_set_key_type(gone, types[t]));
    EXPECT_RC(gone, cshm_attach(gone, CSHM_READ_WRITE), CSHM_ENOENT);
    cshm_free(gone);
  }
  if (saved != NULL)
    setenv("TMPDIR", saved_copy, 1);
  else
    unsetenv("TMPDIR");
  assert_int_equal(rmdir(dir), 0); /* empty: the key files went with their segments */
}

/* The calling thread relocking, through this handle or another one, is CSHM_EDEADLK
 * on every call: no formatting either, and the full message when read. */
static void test_failing_relock_formats_no_message(void **state) {
  (void)state;
  cshm *h = make_segment("lazy-relock");
  cshm *second = open_other(h, CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  char same[600], through_other[600];
  expected_message(same, sizeof same, "cshm_try_lock", CSHM_EDEADLK, h,
                   "the calling thread holds the lock through this handle");
  expected_message(through_other, sizeof through_other, "cshm_lock", CSHM_EDEADLK, second,
                   "the calling thread holds the lock through another handle");
  unsigned long before = cshm__test_messages_formatted();
  int seen = 0;
  for (int i = 0; i < POLLS; i++) {
    seen += cshm_try_lock(h) == CSHM_EDEADLK;
    seen += cshm_lock(second) == CSHM_EDEADLK;
  }
  unsigned long formatted = cshm__test_messages_formatted() - before;
  assert_int_equal(seen, 2 * POLLS);
  expect_messages(second, through_other);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EDEADLK);
  expect_messages(h, same);
  assert_int_equal(formatted, 0);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  /* A success clears the handle's message; the thread's last failure stays. */
  EXPECT_RC(second, cshm_try_lock(second), CSHM_OK);
  assert_string_equal(cshm_error_string(second), "");
  assert_string_equal(cshm_last_error_string(), same);
  EXPECT_RC(second, cshm_unlock(second), CSHM_OK);
  cshm_free(second);
  cshm_free(h);
}

/* Last: every segment this suite made is gone, and in the portable profile its
 * sidecar files with it. */
static void test_no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

/* Every test but the last releases a holder thread its failure may have left. */
#define LOCK_TEST(f) cmocka_unit_test_teardown(f, release_holder)

int main(void) {
  const struct CMUnitTest tests[] = {
      LOCK_TEST(test_lock_then_unlock_succeed),
      LOCK_TEST(test_unlock_without_lock_is_einval),
      LOCK_TEST(test_lock_before_attach_is_einval),
      LOCK_TEST(test_lock_after_detach_is_einval),
      LOCK_TEST(test_relock_through_same_handle_is_edeadlk),
      LOCK_TEST(test_relock_through_other_handle_is_edeadlk),
      LOCK_TEST(test_one_thread_holds_two_segments),
      LOCK_TEST(test_try_lock_is_ebusy_while_another_thread_holds),
      LOCK_TEST(test_try_lock_succeeds_when_free),
      LOCK_TEST(test_lock_timeout_times_out_while_another_thread_holds),
      LOCK_TEST(test_lock_timeout_infinite_when_free),
      LOCK_TEST(test_waiter_gets_lock_after_holder_unlocks),
      LOCK_TEST(test_threads_with_own_handles_exclude_each_other),
      LOCK_TEST(test_only_the_locking_thread_can_unlock_or_detach),
      LOCK_TEST(test_detach_while_holding_releases_the_lock),
      LOCK_TEST(test_free_while_holding_releases_the_lock),
      LOCK_TEST(test_read_only_attachment_can_lock),
      LOCK_TEST(test_error_state_follows_lock_results),
      LOCK_TEST(test_held_lock_limit_keeps_owner_died_report),
      LOCK_TEST(test_threads_waiting_when_holder_dies_see_it_once),
      LOCK_TEST(test_lock_through_handle_another_thread_holds_is_ebusy),
      LOCK_TEST(test_failing_try_lock_formats_no_message),
      LOCK_TEST(test_repeated_try_lock_failure_stays_the_last),
      LOCK_TEST(test_failing_relock_formats_no_message),
      LOCK_TEST(test_failing_try_lock_formats_no_message_qt),
      cmocka_unit_test(test_no_leftovers),
  };
  return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
