/* Waiting and notifying (issue 13): cshm_wait/cshm_notify_* (a condition variable on
 * the segment's lock) and the event word, across processes through the helper
 * (tests/helper.c), within one process through threads (for TSan), with processes
 * killed at named points (testpoint.h), and every bad input with its exact code.
 *
 * No timing assertions: a wait that must not time out has a generous timeout (10 s
 * or more), so that a lost wake-up shows as CSHM_ETIMEDOUT, and the helpers that look
 * for lost wake-ups make cshm_wait's periodic owner check (cshm__wait_check_ms) an
 * hour long, so that the check cannot find a notification the wake-up lost. Polling
 * loops only pace (ts_sleep_ms) and are bounded by a deadline.
 *
 * Runs unchanged against both POSIX profiles: the Linux robust mutex and the
 * portable lock word (whose waiters sleep on the word through the same primitive),
 * and on Windows (a named semaphore per word, src/win32/word.c; the helper killed
 * with TerminateProcess while holding the named mutex: WAIT_ABANDONED). Only the
 * fork test is POSIX's; threads are pthreads or Win32 threads. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "cshm/cshm.h"
#include "atomic.h"
#include "expect.h"
#include "format.h"
#include "support.h"
#include "wait_shared.h"

#define SEGMENT_SIZE 4096u
#define RECORDS "10000"
#define NO_OWNER_CHECK "check-ms:3600000" /* a lost wake-up must time out */

/* The header of an attached default-key-type segment (read-only peeking at counts). */
static const volatile cshm__header *header_of(const cshm *h) {
  return (const volatile cshm__header *)(const void *)((const unsigned char *)cshm_const_data(h) -
                                                       CSHM__DATA_OFFSET);
}

static volatile wait_shared *data_of(cshm *h) { return cshm_data(h); }

/* A header count other threads and processes change with atomics. */
static uint32_t peek(const volatile uint32_t *p) { return cshm__atomic_load_acquire(p); }

/* Polls (paced, bounded by 60 s) until `cond` holds, then asserts it. */
#define POLL_UNTIL(cond)                                                                 \
  do {                                                                                   \
    for (unsigned long long until_ = ts_now_ms() + 60000; !(cond) && ts_now_ms() < until_;) \
      ts_sleep_ms(1);                                                                    \
    assert_true(cond);                                                                   \
  } while (0)

static bool spawn(ts_child *c, const char *stop_at, const char *const argv[]) {
  return ts_spawn(c, stop_at, false, argv);
}

/* A thread running fn(arg): a pthread, or a Win32 thread (support_win32.c: the UCRT
 * has no pthreads, and <windows.h> does not mix with atomic.h's MSVC intrinsics). */
typedef struct test_thread {
#ifdef _WIN32
  ts_win32_thread *t;
#else
  pthread_t id;
#endif
} test_thread;

static bool thread_start(test_thread *t, void *(*fn)(void *), void *arg) {
#ifdef _WIN32
  return (t->t = ts_win32_thread_start(fn, arg)) != NULL;
#else
  return pthread_create(&t->id, NULL, fn, arg) == 0;
#endif
}

static bool thread_join(test_thread *t) {
#ifdef _WIN32
  return ts_win32_thread_join(t->t);
#else
  return pthread_join(t->id, NULL) == 0;
#endif
}

/* ---- across processes ------------------------------------------------------------- */

/* 10 000 records through a one-slot ring between two processes: every record a
 * hand-over through wait/notify, in order, none lost, no wait timed out. */
static void test_producer_consumer_across_processes(void **state) {
  (void)state;
  const char *key = ts_key("prodcons");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child consumer, producer;
  assert_true(spawn(&consumer, NULL,
                    (const char *const[]){key, "attach", NO_OWNER_CHECK, "consume:" RECORDS,
                                          "detach", NULL}));
  assert_true(spawn(&producer, NULL,
                    (const char *const[]){key, "attach", NO_OWNER_CHECK, "produce:" RECORDS,
                                          "detach", NULL}));
  assert_int_equal(ts_wait(&producer), 0);
  assert_int_equal(ts_wait(&consumer), 0);
  volatile wait_shared *w = data_of(h);
  assert_int_equal(w->head, 10000);
  assert_int_equal(w->tail, 10000);
  assert_int_equal(w->bad, 0);
  assert_int_equal(peek(&header_of(h)->cond_waiters), 0); /* every waiter unregistered */
  cshm_free(h);
}

/* Lost wake-up stress: 20 000 turns of ping-pong, each notify made outside the lock
 * so that it races the other player's registration; no wait may time out. */
static void test_pingpong_loses_no_wakeup(void **state) {
  (void)state;
  const char *key = ts_key("pingpong");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child a, b;
  assert_true(spawn(&a, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK,
                                                    "pingpong:0,10000", "detach", NULL}));
  assert_true(spawn(&b, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK,
                                                    "pingpong:1,10000", "detach", NULL}));
  assert_int_equal(ts_wait(&a), 0);
  assert_int_equal(ts_wait(&b), 0);
  assert_int_equal(data_of(h)->turn, 20000);
  cshm_free(h);
}

/* Spawns n waiters ("ready", then cshm_wait until go, then "woken") and waits until
 * all n are registered in cshm_wait. */
static void spawn_waiters(const char *key, ts_child *c, int n, const char *check, cshm *h) {
  for (int i = 0; i < n; i++)
    assert_true(spawn(&c[i], NULL,
                      (const char *const[]){key, "attach", check, "lock", "ready", "wait-go:20000",
                                            "woken", "unlock", "detach", NULL}));
  POLL_UNTIL(peek(&header_of(h)->cond_waiters) == (uint32_t)n && data_of(h)->ready == (uint32_t)n);
}

/* One cshm_notify_all() wakes every one of 4 waiting processes (which never look
 * again by themselves: a notify_one would leave three to time out). */
static void test_notify_all_wakes_every_waiter(void **state) {
  (void)state;
  const char *key = ts_key("notify-all");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child c[4];
  spawn_waiters(key, c, 4, NO_OWNER_CHECK, h);
  EXPECT_OK(h, cshm_lock(h));
  data_of(h)->go = 1;
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_notify_all(h));
  for (int i = 0; i < 4; i++)
    assert_int_equal(ts_wait(&c[i]), 0);
  assert_int_equal(data_of(h)->woken, 4);
  cshm_free(h);
}

/* cshm_notify_one() wakes one of two waiters (the other, with no owner check, stays
 * until a second notify). */
static void test_notify_one_wakes_one_waiter(void **state) {
  (void)state;
  const char *key = ts_key("notify-one");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child c[2];
  spawn_waiters(key, c, 2, NO_OWNER_CHECK, h);
  EXPECT_OK(h, cshm_lock(h));
  data_of(h)->go = 1;
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_notify_one(h));
  POLL_UNTIL(data_of(h)->woken >= 1);
  EXPECT_OK(h, cshm_notify_one(h));
  for (int i = 0; i < 2; i++)
    assert_int_equal(ts_wait(&c[i]), 0);
  assert_int_equal(data_of(h)->woken, 2);
  cshm_free(h);
}

/* After a kill: the segment still works - a waiter process and a notifier process
 * hand over go, and the waiter returns CSHM_OK. */
static void assert_wait_notify_works(const char *key) {
  ts_child waiter;
  assert_true(spawn(&waiter, NULL, (const char *const[]){key, "attach", "lock", "wait-go:20000",
                                                         "unlock", "detach", NULL}));
  const char *const notifier[] = {key, "attach", "lock", "set-go", "unlock", "notify-all",
                                  "detach", NULL};
  /* The waiter may register before or after: either way go is set and notified. */
  assert_int_equal(ts_run(notifier), 0);
  assert_int_equal(ts_wait(&waiter), 0);
}

/* A waiter killed at a named point: the survivor's lock says whether it died holding
 * the lock, and wait/notify go on working. */
static void kill_waiter_at(const char *point, int survivor_lock_rc, uint32_t stale_waiters) {
  const char *key = ts_key(point);
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child c;
  assert_true(spawn(&c, point, (const char *const[]){key, "attach", "lock", "wait:60000", NULL}));
  assert_true(ts_expect(&c, point));
  ts_kill(&c);
  assert_int_equal(peek(&header_of(h)->cond_waiters), stale_waiters); /* documented: too high */
  EXPECT_RC(h, cshm_lock(h), survivor_lock_rc);
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_notify_all(h)); /* a stale registration costs a wake call, no more */
  assert_wait_notify_works(key);
  cshm_free(h);
}

static void test_waiter_killed_before_registering(void **state) {
  (void)state;
  kill_waiter_at("wait_before_register", CSHM_OWNER_DIED, 0);
}

static void test_waiter_killed_registered_holding_the_lock(void **state) {
  (void)state;
  kill_waiter_at("wait_registered", CSHM_OWNER_DIED, 1);
}

static void test_waiter_killed_after_releasing_the_lock(void **state) {
  (void)state;
  kill_waiter_at("wait_unlocked", CSHM_OK, 1);
}

static void test_waiter_killed_before_sleeping(void **state) {
  (void)state;
  kill_waiter_at("wait_sleeping", CSHM_OK, 1);
}

/* Killed while asleep in the kernel: registered, the lock free, no test point. */
static void test_waiter_killed_while_sleeping(void **state) {
  (void)state;
  const char *key = ts_key("waiter-asleep");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child c;
  assert_true(spawn(&c, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK, "lock",
                                                    "wait:60000", NULL}));
  POLL_UNTIL(peek(&header_of(h)->cond_waiters) == 1);
  EXPECT_OK(h, cshm_lock(h)); /* the waiter released it: it is asleep or about to be */
  EXPECT_OK(h, cshm_unlock(h));
  ts_kill(&c);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  assert_wait_notify_works(key);
  cshm_free(h);
}

/* A notifier killed at a named point while it holds the lock: the waiter (with the
 * default owner check) returns CSHM_OWNER_DIED holding the lock, notified or not. */
static void kill_notifier_at(const char *point) {
  const char *key = ts_key(point);
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child waiter, notifier;
  assert_true(spawn(&waiter, NULL,
                    (const char *const[]){key, "attach", "lock", "wait-go:60000?CSHM_OWNER_DIED",
                                          "unlock", "detach", NULL}));
  POLL_UNTIL(peek(&header_of(h)->cond_waiters) == 1);
  assert_true(spawn(&notifier, point,
                    (const char *const[]){key, "attach", "lock", "notify-all", NULL}));
  assert_true(ts_expect(&notifier, point));
  ts_kill(&notifier);
  assert_int_equal(ts_wait(&waiter), 0);
  EXPECT_OK(h, cshm_lock(h)); /* the waiter repaired and released it */
  EXPECT_OK(h, cshm_unlock(h));
  assert_wait_notify_works(key);
  cshm_free(h);
}

static void test_notifier_killed_holding_the_lock_before_notifying(void **state) {
  (void)state;
  kill_notifier_at("notify_before_signal");
}

static void test_notifier_killed_holding_the_lock_before_waking(void **state) {
  (void)state;
  kill_notifier_at("notify_before_wake");
}

/* A notifier killed before notifying, not holding the lock, sent nothing: the waiter
 * times out (holding the lock again). */
static void test_notifier_killed_without_the_lock_sends_nothing(void **state) {
  (void)state;
  const char *key = ts_key("notifier-unlocked");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child notifier;
  assert_true(spawn(&notifier, "notify_before_signal",
                    (const char *const[]){key, "attach", "notify-one", NULL}));
  assert_true(ts_expect(&notifier, "notify_before_signal"));
  ts_kill(&notifier);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_RC(h, cshm_wait(h, 200), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_lock(h), CSHM_EDEADLK); /* held again */
  EXPECT_OK(h, cshm_unlock(h));
  cshm_free(h);
}

/* ---- timeouts and the event word ------------------------------------------------- */

static void test_wait_times_out_holding_the_lock(void **state) {
  (void)state;
  cshm *h = created(ts_key("timeout"), SEGMENT_SIZE);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_RC(h, cshm_wait(h, 0), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_lock(h), CSHM_EDEADLK);
  EXPECT_RC(h, cshm_wait(h, 20), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EDEADLK);
  assert_int_equal(cshm_error(h), CSHM_EDEADLK);
  EXPECT_OK(h, cshm_unlock(h));
  assert_int_equal(peek(&header_of(h)->cond_waiters), 0);
  /* Another handle can take it: the wait gave nothing away twice. */
  cshm *o = attached(cshm_key(h), CSHM_READ_WRITE);
  EXPECT_OK(o, cshm_try_lock(o));
  EXPECT_OK(o, cshm_unlock(o));
  cshm_free(o);
  cshm_free(h);
}

static void test_notify_without_waiters_succeeds(void **state) {
  (void)state;
  cshm *h = created(ts_key("notify-nobody"), SEGMENT_SIZE);
  uint32_t seq = peek(&header_of(h)->cond_seq);
  EXPECT_OK(h, cshm_notify_one(h));
  EXPECT_OK(h, cshm_notify_all(h));
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_notify_one(h)); /* under the lock too */
  EXPECT_OK(h, cshm_unlock(h));
  assert_int_equal(peek(&header_of(h)->cond_seq), seq + 3);
  cshm_free(h);
}

static void test_event_word_in_one_process(void **state) {
  (void)state;
  cshm *h = created(ts_key("event"), SEGMENT_SIZE);
  uint32_t v = 0xdeadbeef;
  EXPECT_OK(h, cshm_event_value(h, &v));
  assert_int_equal(v, 0);
  EXPECT_RC(h, cshm_event_wait(h, v, 0), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_event_wait(h, v, 20), CSHM_ETIMEDOUT);
  EXPECT_OK(h, cshm_event_signal(h));
  EXPECT_OK(h, cshm_event_wait(h, v, 0)); /* changed: at once */
  EXPECT_OK(h, cshm_event_wait(h, v, CSHM_INFINITE));
  uint32_t w;
  EXPECT_OK(h, cshm_event_value(h, &w));
  assert_int_equal(w, v + 1);
  EXPECT_RC(h, cshm_event_wait(h, w, 1), CSHM_ETIMEDOUT);
  /* Needs no lock, and leaves it alone. */
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_event_signal(h));
  EXPECT_OK(h, cshm_event_wait(h, w, 0));
  EXPECT_OK(h, cshm_unlock(h));
  assert_int_equal(peek(&header_of(h)->event_waiters), 0);
  cshm_free(h);
}

/* A signal from another process wakes a process sleeping in cshm_event_wait(), in
 * both directions. */
static void test_event_signal_across_processes(void **state) {
  (void)state;
  const char *key = ts_key("event-x");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child c;
  assert_true(spawn(&c, NULL, (const char *const[]){key, "attach", "event-wait:60000", "detach",
                                                    NULL}));
  POLL_UNTIL(peek(&header_of(h)->event_waiters) == 1);
  EXPECT_OK(h, cshm_event_signal(h));
  assert_int_equal(ts_wait(&c), 0);
  uint32_t v;
  EXPECT_OK(h, cshm_event_value(h, &v));
  assert_true(spawn(&c, NULL, (const char *const[]){key, "attach", "event-signal", "detach",
                                                    NULL}));
  EXPECT_OK(h, cshm_event_wait(h, v, 60000));
  assert_int_equal(ts_wait(&c), 0);
  assert_int_equal(peek(&header_of(h)->event_waiters), 0);
  cshm_free(h);
}

/* Event word stress: 10 000 signals, each racing the other process's registration
 * in cshm_event_wait(); none may time out, each is seen exactly once. */
static void test_event_word_loses_no_wakeup(void **state) {
  (void)state;
  const char *key = ts_key("event-stress");
  cshm *h = created(key, SEGMENT_SIZE);
  ts_child a, b;
  assert_true(spawn(&b, NULL, (const char *const[]){key, "attach", "event-pong:10000", "detach",
                                                    NULL}));
  assert_true(spawn(&a, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK,
                                                    "event-ping:10000", "detach", NULL}));
  assert_int_equal(ts_wait(&a), 0);
  assert_int_equal(ts_wait(&b), 0);
  assert_int_equal(data_of(h)->turn, 10000);
  uint32_t v;
  EXPECT_OK(h, cshm_event_value(h, &v));
  assert_int_equal(v, 10000);
  cshm_free(h);
}

/* ---- threads of one process (TSan sees these) -------------------------------------- */

typedef struct player {
  cshm *h;
  uint32_t role, turns;
  int rc;
} player;

static void *player_main(void *arg) {
  player *p = arg;
  volatile wait_shared *w = cshm_data(p->h);
  p->rc = CSHM_OK;
  for (uint32_t i = 0; i < p->turns && p->rc == CSHM_OK; i++) {
    if ((p->rc = cshm_lock(p->h)) != CSHM_OK)
      break;
    while (w->turn % 2 != p->role && p->rc == CSHM_OK)
      p->rc = cshm_wait(p->h, 10000);
    if (p->rc == CSHM_OK)
      w->turn++;
    int urc = cshm_unlock(p->h);
    if (p->rc == CSHM_OK)
      p->rc = urc;
    if (p->rc == CSHM_OK)
      p->rc = cshm_notify_one(p->h);
  }
  return NULL;
}

static void test_pingpong_between_threads(void **state) {
  (void)state;
  const char *key = ts_key("threads");
  cshm *h = created(key, SEGMENT_SIZE);
  cshm__wait_check_ms = 3600000;
  player p[2];
  test_thread t[2];
  for (uint32_t i = 0; i < 2; i++) {
    p[i] = (player){attached(key, CSHM_READ_WRITE), i, 2000, CSHM_EUNKNOWN};
    assert_true(thread_start(&t[i], player_main, &p[i]));
  }
  for (int i = 0; i < 2; i++) {
    assert_true(thread_join(&t[i]));
    assert_int_equal(p[i].rc, CSHM_OK);
    cshm_free(p[i].h);
  }
  cshm__wait_check_ms = 50;
  assert_int_equal(data_of(h)->turn, 4000);
  cshm_free(h);
}

/* The portable lock's waiter sleeps on the lock word, registered in lock_sleepers
 * (it used to poll with backoff), and the unlock wakes it. The Linux robust mutex
 * sleeps in the kernel by itself: lock_sleepers stays 0 there. */
typedef struct locker {
  cshm *h;
  int rc;
} locker;

static void *locker_main(void *arg) {
  locker *l = arg;
  l->rc = cshm_lock_timeout(l->h, 60000);
  if (l->rc == CSHM_OK)
    cshm_unlock(l->h);
  return NULL;
}

static void test_portable_lock_waiter_sleeps_on_the_word(void **state) {
  (void)state;
  cshm *h = created(ts_key("lock-sleeper"), SEGMENT_SIZE);
  ts_child holder;
  assert_true(spawn(&holder, NULL,
                    (const char *const[]){cshm_key(h), "attach", "lock", "signal", "unlock", NULL}));
  assert_true(ts_expect(&holder, "signal"));
  locker l = {h, CSHM_EUNKNOWN};
  test_thread t;
  assert_true(thread_start(&t, locker_main, &l));
  if (CSHM_TEST_PORTABLE)
    POLL_UNTIL(peek(&header_of(h)->lock_sleepers) == 1);
  ts_resume(&holder);
  assert_int_equal(ts_wait(&holder), 0);
  assert_true(thread_join(&t));
  assert_int_equal(l.rc, CSHM_OK);
  assert_int_equal(peek(&header_of(h)->lock_sleepers), 0);
  cshm_free(h);
}

/* A read-only attachment waits and uses the event word like a read-write one: the
 * registrations are in the header, which it may write (its data it may not). On
 * Windows the whole view used to be read-only: the registration faulted. */
static void test_read_only_attachment_waits(void **state) {
  (void)state;
  const char *key = ts_key("read-only");
  cshm *h = created(key, SEGMENT_SIZE);
  cshm *r = attached(key, CSHM_READ_ONLY);
  uint32_t v;
  EXPECT_OK(r, cshm_event_value(r, &v));
  EXPECT_RC(r, cshm_event_wait(r, v, 20), CSHM_ETIMEDOUT);
  EXPECT_OK(r, cshm_lock(r));
  EXPECT_RC(r, cshm_wait(r, 20), CSHM_ETIMEDOUT);
  EXPECT_OK(r, cshm_unlock(r));
  EXPECT_OK(r, cshm_notify_all(r));
  EXPECT_OK(r, cshm_event_signal(r));
  EXPECT_OK(h, cshm_event_wait(h, v, 0)); /* the reader's signal counted */
  assert_int_equal(peek(&header_of(h)->cond_waiters), 0);
  assert_int_equal(peek(&header_of(h)->event_waiters), 0);
  /* Woken across processes too. */
  ts_child c;
  assert_true(spawn(&c, NULL, (const char *const[]){key, "attach-ro", "event-wait:60000",
                                                    "detach", NULL}));
  POLL_UNTIL(peek(&header_of(h)->event_waiters) == 1);
  EXPECT_OK(h, cshm_event_signal(h));
  assert_int_equal(ts_wait(&c), 0);
  cshm_free(r);
  cshm_free(h);
}

/* ---- bad input and state ----------------------------------------------------------- */

static void test_null_handle_is_einval(void **state) {
  (void)state;
  uint32_t v;
  EXPECT_RC(NULL, cshm_wait(NULL, 0), CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_notify_one(NULL), CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_notify_all(NULL), CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_event_value(NULL, &v), CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_event_signal(NULL), CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_event_wait(NULL, 0, 0), CSHM_EINVAL);
}

static void test_not_attached_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("unattached"));
  uint32_t v;
  EXPECT_RC(h, cshm_wait(h, 0), CSHM_EINVAL);
  EXPECT_RC(h, cshm_notify_one(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_notify_all(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_event_value(h, &v), CSHM_EINVAL);
  EXPECT_RC(h, cshm_event_signal(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_event_wait(h, 0, 0), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "not attached");
  cshm_free(h);
}

static void test_wait_without_the_lock_is_einval(void **state) {
  (void)state;
  cshm *h = created(ts_key("no-lock"), SEGMENT_SIZE);
  cshm *o = attached(cshm_key(h), CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_wait(h, 0), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "not held");
  EXPECT_OK(o, cshm_lock(o)); /* held through another handle is not held through h */
  EXPECT_RC(h, cshm_wait(h, 0), CSHM_EINVAL);
  EXPECT_OK(o, cshm_unlock(o));
  assert_int_equal(peek(&header_of(h)->cond_waiters), 0);
  uint32_t v;
  EXPECT_RC(h, cshm_event_value(h, NULL), CSHM_EINVAL);
  EXPECT_OK(h, cshm_event_value(h, &v));
  cshm_free(o);
  cshm_free(h);
}

static void test_qt_key_types_are_enotsup(void **state) {
  (void)state;
  static const cshm_key_type types[] = {CSHM_KEY_QT_LEGACY, CSHM_KEY_QT_PLATFORM_SAFE,
#ifndef _WIN32 /* Qt has no POSIX IPC on Windows: the type cannot be set there */
                                        CSHM_KEY_QT_LEGACY_POSIX
#endif
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    const char *key = ts_key("qt");
    cshm *h = new_handle(key);
    EXPECT_OK(h, cshm_set_key_type(h, types[i]));
    uint32_t v;
    EXPECT_RC(h, cshm_wait(h, 0), CSHM_ENOTSUP);
    EXPECT_RC(h, cshm_notify_one(h), CSHM_ENOTSUP);
    EXPECT_RC(h, cshm_notify_all(h), CSHM_ENOTSUP);
    EXPECT_RC(h, cshm_event_value(h, &v), CSHM_ENOTSUP);
    EXPECT_RC(h, cshm_event_signal(h), CSHM_ENOTSUP);
    EXPECT_RC(h, cshm_event_wait(h, 0, 0), CSHM_ENOTSUP);
    /* Attached and locked, too. */
    EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
    EXPECT_OK(h, cshm_lock(h));
    EXPECT_RC(h, cshm_wait(h, 0), CSHM_ENOTSUP);
    EXPECT_CONTAINS(cshm_error_string(h), "QSystemSemaphore");
    EXPECT_RC(h, cshm_lock(h), CSHM_EDEADLK); /* still held */
    EXPECT_OK(h, cshm_unlock(h));
    EXPECT_RC(h, cshm_event_signal(h), CSHM_ENOTSUP);
    EXPECT_OK(h, cshm_detach(h));
    cshm_free(h);
#ifndef _WIN32
    /* The Qt POSIX types' objects outlive their last detach, as in Qt: remove them.
     * System V's went with its last detach (on Windows the kernel's, with the last
     * handle: cshm_remove is CSHM_ENOTSUP there). */
    int rc = cshm_remove(key, types[i]);
    assert_true(rc == CSHM_OK || (types[i] == CSHM_KEY_QT_LEGACY && rc == CSHM_ENOENT));
#endif
    cshm *gone = new_handle(key);
    EXPECT_OK(gone, cshm_set_key_type(gone, types[i]));
    EXPECT_RC(gone, cshm_attach_timeout(gone, CSHM_READ_ONLY, 0), CSHM_ENOENT);
    cshm_free(gone);
  }
}

#ifndef _WIN32
static void test_forked_child_is_einval(void **state) {
  (void)state;
  cshm *h = created(ts_key("fork"), SEGMENT_SIZE);
  EXPECT_OK(h, cshm_lock(h));
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uint32_t v;
    int ok = cshm_wait(h, 0) == CSHM_EINVAL && cshm_notify_one(h) == CSHM_EINVAL &&
             cshm_notify_all(h) == CSHM_EINVAL && cshm_event_value(h, &v) == CSHM_EINVAL &&
             cshm_event_signal(h) == CSHM_EINVAL && cshm_event_wait(h, 0, 0) == CSHM_EINVAL;
    _exit(ok ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EXPECT_OK(h, cshm_unlock(h));
  assert_int_equal(peek(&header_of(h)->cond_waiters), 0);
  cshm_free(h);
}
#endif

/* ---- format 1.0 segments ------------------------------------------------------------ */

/* A segment whose header says minor 0, with zeros where minor 1 keeps its words (as
 * an earlier version makes it): attach, wait/notify across processes and the event
 * word all work. */
static void test_minor_0_segment_works(void **state) {
  (void)state;
  const char *key = ts_key("minor0");
  cshm *maker = created(key, SEGMENT_SIZE);
  /* Spoil the live header in place, before anyone else attaches. */
  cshm__header *hd = (cshm__header *)(void *)((unsigned char *)cshm_data(maker) - CSHM__DATA_OFFSET);
  hd->minor = 0;
  memset((unsigned char *)hd + offsetof(cshm__header, cond_seq), 0,
         CSHM__LOCK_OFFSET - offsetof(cshm__header, cond_seq));
  cshm *h = new_handle(key);
  cshm_info info;
  EXPECT_OK(h, cshm_inspect(h, &info));
  assert_int_equal(info.format_minor, 0);
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_WRITE));
  ts_child a, b;
  assert_true(spawn(&a, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK,
                                                    "pingpong:0,500", "detach", NULL}));
  assert_true(spawn(&b, NULL, (const char *const[]){key, "attach", NO_OWNER_CHECK,
                                                    "pingpong:1,500", "detach", NULL}));
  assert_int_equal(ts_wait(&a), 0);
  assert_int_equal(ts_wait(&b), 0);
  assert_int_equal(data_of(h)->turn, 1000);
  assert_wait_notify_works(key);
  uint32_t v;
  EXPECT_OK(h, cshm_event_value(h, &v));
  assert_int_equal(v, 0);
  EXPECT_OK(h, cshm_event_signal(h));
  EXPECT_OK(h, cshm_event_wait(h, v, 0));
  cshm_free(h);
  cshm_free(maker);
}

static void test_no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_producer_consumer_across_processes),
      cmocka_unit_test(test_pingpong_loses_no_wakeup),
      cmocka_unit_test(test_notify_all_wakes_every_waiter),
      cmocka_unit_test(test_notify_one_wakes_one_waiter),
      cmocka_unit_test(test_waiter_killed_before_registering),
      cmocka_unit_test(test_waiter_killed_registered_holding_the_lock),
      cmocka_unit_test(test_waiter_killed_after_releasing_the_lock),
      cmocka_unit_test(test_waiter_killed_before_sleeping),
      cmocka_unit_test(test_waiter_killed_while_sleeping),
      cmocka_unit_test(test_notifier_killed_holding_the_lock_before_notifying),
      cmocka_unit_test(test_notifier_killed_holding_the_lock_before_waking),
      cmocka_unit_test(test_notifier_killed_without_the_lock_sends_nothing),
      cmocka_unit_test(test_wait_times_out_holding_the_lock),
      cmocka_unit_test(test_notify_without_waiters_succeeds),
      cmocka_unit_test(test_event_word_in_one_process),
      cmocka_unit_test(test_event_signal_across_processes),
      cmocka_unit_test(test_event_word_loses_no_wakeup),
      cmocka_unit_test(test_pingpong_between_threads),
      cmocka_unit_test(test_portable_lock_waiter_sleeps_on_the_word),
      cmocka_unit_test(test_read_only_attachment_waits),
      cmocka_unit_test(test_null_handle_is_einval),
      cmocka_unit_test(test_not_attached_is_einval),
      cmocka_unit_test(test_wait_without_the_lock_is_einval),
      cmocka_unit_test(test_qt_key_types_are_enotsup),
#ifndef _WIN32
      cmocka_unit_test(test_forked_child_is_einval),
#endif
      cmocka_unit_test(test_minor_0_segment_works),
      cmocka_unit_test(test_no_leftovers),
  };
  return cmocka_run_group_tests_name("wait", tests, NULL, NULL);
}
