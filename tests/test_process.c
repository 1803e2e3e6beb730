/* Cross-process behaviour (DESIGN.md §2 fork rules, §3 ownership invariants, §8 crash
 * tests): the parent and helper processes (tests/helper.c) share segments; crash
 * windows are hit through the library's test points, never with sleeps.
 *
 * Every test uses its own ts_key(). Children come from spawn() and handles from
 * handle(), so that the per-test teardown can kill and reap any child and free any
 * handle a failed assertion left behind; the last test checks that nothing is left
 * in /dev/shm.
 *
 * The suite runs against both builds of the POSIX backend. In the portable profile
 * (CSHM_TEST_PORTABLE: the macOS code paths built on Linux, DESIGN.md §3 and §6)
 * every change of a name happens under the name's admin lock (a sidecar file), not
 * through an anonymous object published at the end: a creator or a last detacher
 * stopped at a test point holds that lock, so the others BLOCK instead of seeing the
 * name empty or gone. Such tests run the blocking call in a thread, resume the
 * helper, and assert the outcome; each one says where the profiles differ. Holders
 * are counted per user there (the sidecars live in the user's directory), and every
 * name's sidecars must be gone with it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, setenv, kill under -std=c11 */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "support.h"

/* ---- helpers -------------------------------------------------------------------- */

#define MAX_KIDS 8
#define MAX_HANDLES 8

static ts_child kids[MAX_KIDS];
static int kid_count;
static cshm *handles[MAX_HANDLES];
static int handle_count;

/* A new handle for `key`, freed by the teardown. */
static cshm *handle(const char *key) {
  assert_true(handle_count < MAX_HANDLES);
  cshm *h = NULL;
  EXPECT_OK(NULL, cshm_new(&h, key));
  handles[handle_count++] = h;
  return h;
}

/* Spawns the helper with argv (key first); the teardown reaps it if the test does not. */
static ts_child *spawn(const char *stop_at, bool as_nobody, const char *const argv[]) {
  assert_true(kid_count < MAX_KIDS);
  ts_child *c = &kids[kid_count];
  if (!ts_spawn(c, stop_at, as_nobody, argv))
    fail_msg("could not spawn the helper (is CSHM_TEST_HELPER set?)");
  kid_count++;
  return c;
}

static void expect_line(ts_child *c, const char *line) {
  if (!ts_expect(c, line))
    fail_msg("the helper did not report \"%s\"", line);
}

/* ---- a call in another thread ------------------------------------------------------ */

/* A library call that may block - in the portable profile, on a name's admin lock
 * that a stopped helper holds - run in its own thread so the test can resume the
 * helper. The thread never asserts: the test reads rc and detail after joining. */
typedef enum { CALL_ATTACH, CALL_CREATE, CALL_DETACH, CALL_REMOVE } call_kind;

typedef struct call {
  call_kind kind;
  cshm *h;         /* CALL_ATTACH, CALL_CREATE, CALL_DETACH */
  const char *key; /* CALL_REMOVE */
  pthread_t thread;
  bool running; /* started and not yet joined */
  int rc;
  char detail[512];
} call;

#define MAX_CALLS 4
static call calls[MAX_CALLS];
static int call_count;

static void *call_main(void *arg) {
  call *c = arg;
  switch (c->kind) {
  case CALL_ATTACH: c->rc = cshm_attach(c->h, CSHM_READ_WRITE); break;
  case CALL_CREATE: c->rc = cshm_create(c->h, 4096, CSHM_READ_WRITE); break;
  case CALL_DETACH: c->rc = cshm_detach(c->h); break;
  case CALL_REMOVE: c->rc = cshm_remove(c->key, CSHM_KEY_DEFAULT); break;
  }
  snprintf(c->detail, sizeof c->detail, "%s",
           c->rc >= 0 ? "" : c->h != NULL ? cshm_error_string(c->h) : cshm_last_error_string());
  return NULL;
}

/* Starts the call in a new thread; the teardown joins it if the test does not. */
static call *call_start(call_kind kind, cshm *h, const char *key) {
  assert_true(call_count < MAX_CALLS);
  call *c = &calls[call_count++];
  *c = (call){.kind = kind, .h = h, .key = key, .rc = CSHM_EUNKNOWN};
  assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
  c->running = true;
  return c;
}

/* Waits for the call and asserts it returned `want`. */
static void call_expect(call *c, int want) {
  assert_true(c->running);
  assert_int_equal(pthread_join(c->thread, NULL), 0);
  c->running = false;
  if (c->rc != want)
    print_message("the call in a thread returned %s, expected %s: %s\n", cshm_error_name(c->rc),
                  cshm_error_name(want), c->detail);
  assert_int_equal(c->rc, want);
}

/* ts_wait()/ts_kill() close ctl once the child is reaped: ctl >= 0 means "still ours".
 * Children go first: a call still running in a thread waits for a lock one of them
 * holds. */
static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < kid_count; i++)
    if (kids[i].ctl >= 0)
      ts_kill(&kids[i]);
  kid_count = 0;
  for (int i = 0; i < call_count; i++)
    if (calls[i].running)
      pthread_join(calls[i].thread, NULL);
  call_count = 0;
  for (int i = 0; i < handle_count; i++)
    cshm_free(handles[i]);
  handle_count = 0;
  return 0;
}

/* 0 when the segment's name is present in /dev/shm, else access()'s errno. */
static int name_errno(const char *key) {
  const char *path = ts_shm_path(key);
  assert_non_null(path);
  return access(path, F_OK) == 0 ? 0 : errno;
}

static bool exists(const char *key) { return name_errno(key) == 0; }

static bool all_zero(const cshm *h) {
  const unsigned char *p = cshm_const_data(h);
  if (p == NULL)
    return false;
  for (size_t i = 0; i < cshm_size(h); i++)
    if (p[i] != 0)
      return false;
  return true;
}

static void put_text(cshm *h, const char *text) {
  assert_true(cshm_size(h) > strlen(text));
  memcpy(cshm_data(h), text, strlen(text) + 1);
}

static void assert_text(const cshm *h, const char *text) {
  assert_non_null(cshm_const_data(h));
  assert_string_equal((const char *)cshm_const_data(h), text);
}

/* Leaves an orphan under `key`: a helper creates it, writes `text`, and is killed
 * while nobody else holds the segment. */
static void make_orphan(const char *key, const char *text) {
  char write_op[64];
  snprintf(write_op, sizeof write_op, "write:%s", text);
  ts_child *c = spawn(NULL, false, (const char *[]){key, "create:4096", write_op, "signal", NULL});
  expect_line(c, "signal");
  ts_kill(c);
  assert_true(exists(key));
}

/* ---- sharing data ----------------------------------------------------------------- */

/* What one process writes, the other reads, in both directions. */
static void test_producer_consumer(void **state) {
  (void)state;
  const char *key = ts_key("prodcons");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "from the parent");
  assert_int_equal(ts_run((const char *[]){key, "attach", "expect:from the parent",
                                           "write:from the helper", NULL}),
                   0);
  assert_text(h, "from the helper");
  /* The helper's detach was not the last: the parent still holds the segment. */
  assert_true(exists(key));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- the lock across processes ------------------------------------------------------ */

/* A lock held by another process excludes this one until that process unlocks. */
static void test_lock_excludes_other_process(void **state) {
  (void)state;
  const char *key = ts_key("exclude");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", "unlock",
                                                    "signal", NULL});
  expect_line(c, "signal"); /* the helper holds the lock */
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, 1), CSHM_ETIMEDOUT);
  ts_resume(c);
  expect_line(c, "signal"); /* the helper has unlocked */
  EXPECT_OK(h, cshm_try_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  EXPECT_OK(h, cshm_detach(h));
}

/* A process that exits normally while holding the lock releases it on the way
 * (detach and free unlock first): the next locker gets CSHM_OK, not OWNER_DIED. */
static void test_exit_while_locked_releases(void **state) {
  (void)state;
  const char *key = ts_key("exitlocked");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  assert_int_equal(ts_run((const char *[]){key, "attach", "lock", NULL}), 0); /* by cshm_free */
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  assert_int_equal(ts_run((const char *[]){key, "attach", "lock", "detach", NULL}), 0);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
}

/* Holder killed: the next locker gets the lock and is told (CSHM_OWNER_DIED); the
 * mutex is usable again afterwards. */
static void test_killed_holder_reports_owner_died(void **state) {
  (void)state;
  const char *key = ts_key("ownerdied");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", NULL});
  expect_line(c, "signal");
  ts_kill(c);
  EXPECT_RC(h, cshm_lock(h), CSHM_OWNER_DIED);
  /* OWNER_DIED is success: the parent holds the lock now. */
  assert_int_equal(ts_run((const char *[]){key, "attach", "try-lock?CSHM_EBUSY", NULL}), 0);
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Owner death is reported to whichever process locks next, here another helper;
 * after it, the lock is plain again for everyone. */
static void test_owner_died_seen_by_other_process(void **state) {
  (void)state;
  const char *key = ts_key("ownerdied2");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", NULL});
  expect_line(c, "signal");
  ts_kill(c);
  assert_int_equal(ts_run((const char *[]){key, "attach", "lock?CSHM_OWNER_DIED", "unlock", NULL}),
                   0);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
}

/* A process already waiting for the lock when its holder dies gets it, with
 * CSHM_OWNER_DIED (whether it was blocked yet or not, the outcome is the same). */
static void test_waiter_wakes_with_owner_died(void **state) {
  (void)state;
  const char *key = ts_key("waiter");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *holder = spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", NULL});
  expect_line(holder, "signal");
  ts_child *waiter =
      spawn(NULL, false, (const char *[]){key, "attach", "lock?CSHM_OWNER_DIED", "unlock", NULL});
  ts_kill(holder);
  assert_int_equal(ts_wait(waiter), 0);
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
}

/* ---- crashed creators: orphans ---------------------------------------------------- */

/* As Qt documents, a segment survives a crash of its last user and its data can be
 * attached; the attacher then detaches as the last holder and removes it. */
static void test_orphan_survives_and_attaches(void **state) {
  (void)state;
  const char *key = ts_key("orphanattach");
  make_orphan(key, "orphan");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_WRITE));
  assert_int_equal(cshm_size(h), 4096);
  assert_text(h, "orphan");
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* create() replaces an orphan: a new, zeroed segment of the size asked for. */
static void test_create_reclaims_orphan(void **state) {
  (void)state;
  const char *key = ts_key("reclaim");
  make_orphan(key, "orphan");
  cshm *h = handle(key);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 8192, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  assert_int_equal(cshm_size(h), 8192);
  assert_true(all_zero(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* CSHM_CREATE_NO_RECLAIM (Qt-strict): an orphan makes create fail, in any process,
 * and stays in place. */
static void test_no_reclaim_refuses_orphan(void **state) {
  (void)state;
  const char *key = ts_key("noreclaim");
  make_orphan(key, "orphan");
  assert_int_equal(ts_run((const char *[]){key, "create-no-reclaim:4096?CSHM_EEXIST", NULL}), 0);
  cshm *h = handle(key);
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, NULL),
            CSHM_EEXIST);
  assert_true(exists(key));
  /* The orphan is untouched: its data is still there. */
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_ONLY));
  assert_text(h, "orphan");
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* A creator killed right after publishing (nobody else attached) leaves an orphan,
 * which the next create replaces. */
static void test_creator_killed_after_publish_is_orphan(void **state) {
  (void)state;
  const char *key = ts_key("afterpublish");
  ts_child *c = spawn("create_after_publish", false, (const char *[]){key, "create:4096", NULL});
  expect_line(c, "create_after_publish");
  ts_kill(c);
  assert_true(exists(key));
  cshm *h = handle(key);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- creators in the middle of creating (invariants 1 and 2) ------------------- */

/* Stopped before its segment is published, a creator has nothing under the name:
 * attach finds nothing, the parent's create makes its own, and the stopped creator,
 * resumed, fails with EEXIST (a live segment is never reclaimed). */
static void stopped_creator_loses(const char *point) {
  const char *key = ts_key(point);
  ts_child *c = spawn(point, false, (const char *[]){key, "create:4096?CSHM_EEXIST", NULL});
  expect_line(c, point);
  assert_int_equal(name_errno(key), ENOENT);
  cshm *h = handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  put_text(h, "parent's");
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  assert_text(h, "parent's"); /* the loser did not replace or disturb ours */
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Portable profile (by design): macOS has no anonymous objects to publish at the
 * end, so the name is taken from the start - under the name's admin lock, which the
 * stopped creator holds until its segment is READY and held. An attach meanwhile
 * BLOCKS (it never sees the object half-made) and, once the creator is resumed,
 * attaches to the creator's complete segment; a create then fails with EEXIST. */
static void stopped_creator_wins(const char *point) {
  const char *key = ts_key(point);
  ts_child *c = spawn(point, false, (const char *[]){key, "create:4096", "write:creator's",
                                                    "signal", NULL});
  expect_line(c, point);
  assert_true(exists(key)); /* named already: the admin lock hides it until it is done */
  cshm *h = handle(key);
  call *attach = call_start(CALL_ATTACH, h, NULL);
  ts_resume(c);
  call_expect(attach, CSHM_OK);
  assert_int_equal(cshm_size(h), 4096);
  expect_line(c, "signal"); /* the creator has written: the same segment */
  assert_text(h, "creator's");
  cshm *b = handle(key);
  EXPECT_RC(b, cshm_create(b, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  assert_true(exists(key)); /* we hold it still */
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
}

static void test_stopped_before_ready_is_invisible(void **state) {
  (void)state;
if (CSHM_TEST_PORTABLE)
    stopped_creator_wins("create_before_ready");
  else
    stopped_creator_loses("create_before_ready");
}

static void test_stopped_before_publish_is_invisible(void **state) {
  (void)state;
if (CSHM_TEST_PORTABLE)
    stopped_creator_wins("create_before_publish");
  else
    stopped_creator_loses("create_before_publish");
}

/* A creator killed before publishing leaves nothing behind (its object was
 * anonymous): the name is free and the next create makes a new segment. */
static void killed_creator_leaves_nothing(const char *point) {
  const char *key = ts_key(point);
  ts_child *c = spawn(point, false, (const char *[]){key, "create:4096", NULL});
  expect_line(c, point);
  ts_kill(c);
  assert_false(exists(key));
  cshm *h = handle(key);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, &created));
  assert_true(created);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Portable profile (by design): the name was taken before the object was READY, so a
 * creator killed before it finished leaves an object behind - one this user's cshm
 * made (its liveness sidecar exists) that nobody holds. Killed before READY, it was
 * never completed: attach says CSHM_ENOENT (at once: no creator can be at work, the
 * admin lock is free) and leaves it. Killed once READY but still inside create
 * (create_before_publish), it is a complete orphan, as if killed just after: inspect
 * describes it, unheld. Either way the next create replaces it (created == true; not
 * with CSHM_CREATE_NO_RECLAIM, which keeps orphans), and the last detach leaves
 * nothing - no object, no sidecar. */
static void killed_creator_leaves_orphan(const char *point, bool ready) {
  const char *key = ts_key(point);
  ts_child *c = spawn(point, false, (const char *[]){key, "create:4096", NULL});
  expect_line(c, point);
  ts_kill(c);
  assert_true(exists(key));
  cshm *h = handle(key);
  if (ready) {
    cshm_info info;
    EXPECT_OK(h, cshm_inspect(h, &info));
    assert_int_equal(info.size, 4096);
    assert_int_equal(info.attached, 0);
  } else {
    EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
    assert_false(cshm_is_attached(h));
    assert_true(exists(key));
  }
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, NULL),
            CSHM_EEXIST);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 8192, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  assert_int_equal(cshm_size(h), 8192);
  assert_true(all_zero(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
}

static void test_killed_before_ready_leaves_nothing(void **state) {
  (void)state;
if (CSHM_TEST_PORTABLE)
    killed_creator_leaves_orphan("create_before_ready", false);
  else
    killed_creator_leaves_nothing("create_before_ready");
}

static void test_killed_before_publish_leaves_nothing(void **state) {
  (void)state;
if (CSHM_TEST_PORTABLE)
    killed_creator_leaves_orphan("create_before_publish", true);
  else
    killed_creator_leaves_nothing("create_before_publish");
}

/* Published but still inside create: the segment is attachable (it is READY), and
 * it is live, so create fails with EEXIST - also once its creator is killed, since
 * the parent now holds it; the parent's detach, as the last holder, removes it. */
static void test_published_segment_with_live_holder_is_kept(void **state) {
  (void)state;
  const char *key = ts_key("livepublished");
  ts_child *c = spawn("create_after_publish", false, (const char *[]){key, "create:4096", NULL});
  expect_line(c, "create_after_publish");
  cshm *a = handle(key);
  EXPECT_OK(a, cshm_attach(a, CSHM_READ_WRITE));
  assert_int_equal(cshm_size(a), 4096);
  cshm *b = handle(key);
  EXPECT_RC(b, cshm_create(b, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  ts_kill(c);
  EXPECT_RC(b, cshm_create(b, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_true(exists(key));
  EXPECT_OK(a, cshm_detach(a));
  assert_false(exists(key));
}

/* ---- reclaimers in the middle of reclaiming --------------------------------------- */

/* While one process holds an orphan exclusively to replace it, another create fails
 * with EEXIST (one of two racing creators wins); the reclaimer then publishes a new,
 * zeroed segment, which it removes as its last holder.
 * Portable profile (by design): the reclaimer holds the name's admin lock, so the
 * other create BLOCKS until the reclaimer's new segment is READY and held - and then
 * fails with EEXIST all the same: a live segment is never reclaimed. */
static void test_reclaim_in_progress(void **state) {
  (void)state;
  const char *key = ts_key("reclaiming");
  make_orphan(key, "orphan");
  ts_child *c = spawn("reclaim_before_unlink", false,
                      (const char *[]){key, "create:4096", "expect:", "signal", NULL});
  expect_line(c, "reclaim_before_unlink");
  cshm *h = handle(key);
#if CSHM_TEST_PORTABLE
  call *create = call_start(CALL_CREATE, h, NULL);
  ts_resume(c);
  expect_line(c, "signal"); /* the helper's create succeeded */
  call_expect(create, CSHM_EEXIST);
  assert_false(cshm_is_attached(h));
  assert_true(exists(key));
#else
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_true(exists(key));
  ts_resume(c);
  expect_line(c, "signal"); /* the helper's create succeeded */
#endif
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_WRITE));
  assert_int_equal(cshm_size(h), 4096);
  assert_true(all_zero(h)); /* the new segment, not the orphan */
  EXPECT_OK(h, cshm_detach(h));
  assert_true(exists(key)); /* the helper still holds it */
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  assert_false(exists(key));
}

/* A reclaimer killed while it holds the orphan exclusively leaves the orphan as it
 * was (the kernel drops its lock); the next create replaces it. */
static void test_reclaimer_killed_leaves_orphan(void **state) {
  (void)state;
  const char *key = ts_key("reclaimkilled");
  make_orphan(key, "orphan");
  ts_child *c = spawn("reclaim_before_unlink", false, (const char *[]){key, "create:4096", NULL});
  expect_line(c, "reclaim_before_unlink");
  ts_kill(c);
  assert_true(exists(key));
  cshm *h = handle(key);
  bool created = false;
  EXPECT_OK(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  assert_true(all_zero(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- attach racing the last detach (invariant 3) ---------------------------------- */

/* An attacher that opened the object just before the last holder removed it
 * re-checks the link count after taking its lock, and reports ENOENT.
 * Portable profile (by design): attach and the last detach both run under the name's
 * admin lock, and attach_before_lock is reached with it held - so the attacher comes
 * first: the detach BLOCKS until the attacher holds the segment, then finds a holder
 * left and removes nothing; the attacher, now the last holder, removes it. */
static void test_attach_after_open_loses_to_last_detach(void **state) {
  (void)state;
  const char *key = ts_key("attachrace");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
#if CSHM_TEST_PORTABLE
  put_text(h, "kept");
  ts_child *c = spawn("attach_before_lock", false,
                      (const char *[]){key, "attach", "expect:kept", "signal", "detach", NULL});
  expect_line(c, "attach_before_lock");
  call *detach = call_start(CALL_DETACH, h, NULL);
  ts_resume(c);
  expect_line(c, "signal"); /* attached, and saw our data */
  call_expect(detach, CSHM_OK);
  assert_true(exists(key)); /* the attacher holds it */
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  assert_false(exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
#else
  ts_child *c = spawn("attach_before_lock", false, (const char *[]){key, "attach?CSHM_ENOENT", NULL});
  expect_line(c, "attach_before_lock");
  EXPECT_OK(h, cshm_detach(h)); /* the only holder: removes the name */
  assert_false(exists(key));
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0);
  assert_false(exists(key));
#endif
}

/* The other order: the last holder has taken its lock exclusively (about to unlink)
 * when an attacher opens the object; the attacher waits for the lock, finds the
 * object removed, and reports ENOENT.
 * Portable profile (by design): the last detacher holds the name's admin lock, and
 * the attacher waits for it BEFORE attach_before_lock; it gets there once the
 * detacher is done, finds no object, and reports ENOENT. */
static void test_last_detach_beats_attach_in_progress(void **state) {
  (void)state;
  const char *key = ts_key("detachrace");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *last = spawn("detach_before_unlink", false,
                         (const char *[]){key, "attach", "signal", "detach", NULL});
  expect_line(last, "signal");
  EXPECT_OK(h, cshm_detach(h)); /* not the last: the helper holds it */
  assert_true(exists(key));
  ts_resume(last);
  expect_line(last, "detach_before_unlink");
  ts_child *att = spawn("attach_before_lock", false, (const char *[]){key, "attach?CSHM_ENOENT", NULL});
#if CSHM_TEST_PORTABLE
  ts_resume(last); /* the attacher waits for the admin lock it holds */
  assert_int_equal(ts_wait(last), 0);
  assert_false(exists(key));
  expect_line(att, "attach_before_lock");
  ts_resume(att);
#else
  expect_line(att, "attach_before_lock");
  ts_resume(att); /* blocks on the lock, or finds the object gone */
  ts_resume(last);
  assert_int_equal(ts_wait(last), 0);
#endif
  assert_int_equal(ts_wait(att), 0);
  assert_false(exists(key));
}

/* The last holder killed after taking its lock exclusively, before unlinking,
 * leaves an orphan; create replaces it. */
static void test_last_detacher_killed_leaves_orphan(void **state) {
  (void)state;
  const char *key = ts_key("detachkilled");
  ts_child *c = spawn("detach_before_unlink", false,
                      (const char *[]){key, "create:4096", "write:left", "detach", NULL});
  expect_line(c, "detach_before_unlink");
  ts_kill(c);
  assert_true(exists(key));
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_ONLY));
  assert_text(h, "left");
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- forced removal racing old holders (invariant 5) ------------------------------ */

/* After cshm_remove and a re-create, the old segment's holders keep their memory and
 * their detaches (whoever is last) never remove the new segment. */
static void remove_then_recreate(const char *label, bool helper_detaches_last) {
  const char *key = ts_key(label);
  cshm *old = handle(key);
  EXPECT_OK(old, cshm_create(old, 4096, CSHM_READ_WRITE));
  put_text(old, "old");
  ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "expect:old", "signal",
                                                    "expect:old", "detach", NULL});
  expect_line(c, "signal");
  EXPECT_OK(NULL, cshm_remove(key, CSHM_KEY_DEFAULT));
  assert_false(exists(key));
  cshm *probe = handle(key);
  EXPECT_RC(probe, cshm_attach(probe, CSHM_READ_WRITE), CSHM_ENOENT);
  assert_text(old, "old"); /* existing attachments keep their memory */

  cshm *fresh = handle(key);
  bool created = false;
  EXPECT_OK(fresh, cshm_create_ex(fresh, 4096, CSHM_READ_WRITE, 0, &created));
  assert_true(created);
  put_text(fresh, "new");
  assert_text(old, "old");

  if (helper_detaches_last) {
    EXPECT_OK(old, cshm_detach(old));
    ts_resume(c);
    assert_int_equal(ts_wait(c), 0);
  } else {
    ts_resume(c);
    assert_int_equal(ts_wait(c), 0);
    EXPECT_OK(old, cshm_detach(old));
  }
  assert_true(exists(key));
  assert_int_equal(ts_run((const char *[]){key, "attach", "expect:new", NULL}), 0);
  EXPECT_OK(fresh, cshm_detach(fresh));
  assert_false(exists(key));
}

static void test_remove_recreate_helper_detaches_last(void **state) {
  (void)state;
  remove_then_recreate("removehelper", true);
}

static void test_remove_recreate_parent_detaches_last(void **state) {
  (void)state;
  remove_then_recreate("removeparent", false);
}

/* ---- fork (DESIGN.md §2) ------------------------------------------------------------ */

/* Runs in the forked child: every call on the inherited handle except cshm_free
 * returns CSHM_EINVAL. Returns the
 * number of the first check that failed, 0 when all held. */
static int forked_child_checks(cshm *h, const char *key) {
  int check = 0;
#define CHILD_CHECK(cond)                                                      \
  do {                                                                         \
    check++;                                                                   \
    if (!(cond)) {                                                             \
      fprintf(stderr, "forked child: check %d failed: %s\n", check, #cond);    \
      return check;                                                            \
    }                                                                          \
  } while (0)
  CHILD_CHECK(cshm_lock(h) == CSHM_EINVAL);
  CHILD_CHECK(cshm_try_lock(h) == CSHM_EINVAL);
  CHILD_CHECK(cshm_lock_timeout(h, 1) == CSHM_EINVAL);
  CHILD_CHECK(cshm_unlock(h) == CSHM_EINVAL);
  CHILD_CHECK(cshm_detach(h) == CSHM_EINVAL);
  CHILD_CHECK(cshm_attach(h, CSHM_READ_WRITE) == CSHM_EINVAL);
  CHILD_CHECK(cshm_create(h, 4096, CSHM_READ_WRITE) == CSHM_EINVAL);
  CHILD_CHECK(cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL) == CSHM_EINVAL);
  CHILD_CHECK(cshm_set_key(h, key) == CSHM_EINVAL);
  CHILD_CHECK(cshm_set_key_type(h, CSHM_KEY_DEFAULT) == CSHM_EINVAL);
  CHILD_CHECK(cshm_set_permissions(h, 0600) == CSHM_EINVAL);
  CHILD_CHECK(!cshm_is_attached(h));
  CHILD_CHECK(cshm_data(h) == NULL);
  CHILD_CHECK(cshm_const_data(h) == NULL);
  CHILD_CHECK(cshm_size(h) == 0);
  /* Only unmaps and closes: never unlinks, never unlocks. */
  cshm_free(h);
  return 0;
#undef CHILD_CHECK
}

static void test_fork_child_cannot_use_inherited_handle(void **state) {
  (void)state;
  const char *key = ts_key("fork");
  /* One handle only: were the child's free to convert the (shared) OFD lock to
   * exclusive, it would find itself the last holder and unlink. */
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "forked");
  EXPECT_OK(h, cshm_lock(h));
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(forked_child_checks(h, key));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0); /* else: the number of the failed check */

  assert_true(exists(key));
  assert_true(cshm_is_attached(h));
  assert_text(h, "forked");
  /* The parent still holds the lock. */
  assert_int_equal(ts_run((const char *[]){key, "attach", "try-lock?CSHM_EBUSY", "expect:forked",
                                           NULL}),
                   0);
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Reads one byte from fd (the other process's go-ahead). */
static bool await_byte(int fd) {
  char b;
  ssize_t n;
  while ((n = read(fd, &b, 1)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

static bool send_byte(int fd) { return write(fd, "g", 1) == 1; }

/* Runs in the forked child: a handle the child opens itself is the child's, and
 * the parent's lock is another process's lock: EBUSY while the parent holds it (not
 * EDEADLK: the child's thread holds nothing), then the child can take it. */
static int forked_child_own_handle(const char *key, int to_parent, int from_parent) {
  cshm *own = NULL;
  int rc = cshm_new(&own, key);
  if (rc == CSHM_OK)
    rc = cshm_attach(own, CSHM_READ_WRITE);
  if (rc != CSHM_OK) {
    fprintf(stderr, "forked child: attach: %s\n", cshm_error_name(rc));
    cshm_free(own);
    return 1;
  }
  int status = 0;
  rc = cshm_try_lock(own);
  if (rc != CSHM_EBUSY) {
    fprintf(stderr, "forked child: try_lock while the parent holds the lock returned %s, "
                    "expected CSHM_EBUSY: %s\n", cshm_error_name(rc), cshm_error_string(own));
    status = 2;
  }
  if (rc == CSHM_OK)
    cshm_unlock(own);
  if (!send_byte(to_parent) || !await_byte(from_parent)) { /* the parent unlocks */
    cshm_free(own);
    return 3;
  }
  rc = cshm_lock(own);
  if (rc != CSHM_OK) {
    fprintf(stderr, "forked child: lock after the parent unlocked returned %s, expected "
                    "CSHM_OK: %s\n", cshm_error_name(rc), cshm_error_string(own));
    status = status != 0 ? status : 4;
  } else if ((rc = cshm_unlock(own)) != CSHM_OK) {
    status = status != 0 ? status : 5;
  }
  cshm_free(own);
  return status;
}

static void test_fork_child_own_handle_is_independent(void **state) {
  (void)state;
  const char *key = ts_key("forkown");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  EXPECT_OK(h, cshm_lock(h));
  int up[2], down[2];
  assert_int_equal(pipe(up), 0);
  assert_int_equal(pipe(down), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    int status = forked_child_own_handle(key, up[1], down[0]);
    cshm_free(h); /* the inherited handle: only unmaps and closes */
    _exit(status);
  }
  close(up[1]);
  close(down[0]);
  /* No assertion until the child is reaped: a failure must not leave it waiting. */
  bool child_tried = await_byte(up[0]);
  int unlock_rc = cshm_unlock(h);
  bool sent = send_byte(down[1]);
  close(up[0]);
  close(down[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  EXPECT_OK(h, unlock_rc);
  assert_true(child_tried);
  assert_true(sent);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0); /* 2: try_lock was not EBUSY; 4: lock failed */
  assert_true(exists(key));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- regressions: a forked child is never a holder --------------------------------- */

/* A forked child that keeps its inherited handles as they are (it neither frees nor
 * uses them) and waits for a byte on a pipe. fork_idle_child() returns once the child
 * runs (so its atfork handler has run): the header documents that a parent detaching
 * in the microseconds before may leave an orphan. */
typedef struct idle_child {
  int to_child;       /* write a byte (or close) to let it exit */
  int from_child;     /* it says it runs */
  bool child_running; /* it said so */
} idle_child;

static pid_t fork_idle_child(idle_child *c) {
  int up[2], down[2];
  assert_int_equal(pipe(up), 0);
  assert_int_equal(pipe(down), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    bool released = send_byte(up[1]) && await_byte(down[0]);
    _exit(released ? 0 : 1);
  }
  close(up[1]);
  close(down[0]);
  c->to_child = down[1];
  c->from_child = up[0];
  c->child_running = await_byte(up[0]);
  return pid;
}

/* Closes the pipes (which lets the child exit if it still waits) and reaps it. */
static int reap_idle_child(pid_t pid, idle_child *c) {
  close(c->to_child);
  close(c->from_child);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  return status;
}

/* The parent, the only real holder, detaches while a forked child that inherited its
 * handle still lives: the name goes at once. A child counted as a holder - through
 * anything it inherited that keeps the parent's shared lock alive - would make the
 * parent's detach leave the segment behind as an orphan. */
static void test_forked_child_does_not_keep_segment_alive(void **state) {
  (void)state;
  const char *key = ts_key("forknotholder");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  idle_child go;
  pid_t pid = fork_idle_child(&go);
  /* No assertion until the child is reaped: a failure must not leave it waiting. */
  int detach_rc = cshm_detach(h);
  int gone_errno = name_errno(key);
  cshm *probe = handle(key);
  int attach_rc = cshm_attach(probe, CSHM_READ_WRITE);
  bool sent = send_byte(go.to_child);
  int status = reap_idle_child(pid, &go);
  assert_true(go.child_running);
  EXPECT_OK(h, detach_rc);
  assert_int_equal(gone_errno, ENOENT);
  EXPECT_RC(probe, attach_rc, CSHM_ENOENT);
  assert_true(sent);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_false(exists(key));
}

/* The same with another process as the last holder: the parent detaches first (a
 * helper still holds the segment), then the helper detaches and must find nobody
 * left - the forked child, alive with its inherited handle, is not a holder. */
static void test_forked_child_does_not_block_last_detacher(void **state) {
  (void)state;
  const char *key = ts_key("forklastother");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *other = spawn(NULL, false, (const char *[]){key, "attach", "signal", "detach", NULL});
  expect_line(other, "signal");
  idle_child go;
  pid_t pid = fork_idle_child(&go);
  /* No assertion until the child is reaped: a failure must not leave it waiting. */
  int detach_rc = cshm_detach(h);
  int kept_errno = name_errno(key); /* the helper still holds it: present */
  ts_resume(other);
  int other_status = ts_wait(other);
  int gone_errno = name_errno(key);
  bool sent = send_byte(go.to_child);
  int status = reap_idle_child(pid, &go);
  if (gone_errno == 0) /* leaked: report it here, not again in no_leftovers */
    cshm_remove(key, CSHM_KEY_DEFAULT);
  assert_true(go.child_running);
  EXPECT_OK(h, detach_rc);
  assert_int_equal(kept_errno, 0);
  assert_int_equal(other_status, 0);
  assert_int_equal(gone_errno, ENOENT);
  assert_true(sent);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A child that frees its inherited handle only unmaps and closes: the parent is still
 * attached, the name stays, and a new handle attaches and sees the parent's data. */
static void test_forked_child_free_does_not_remove_segment(void **state) {
  (void)state;
  const char *key = ts_key("forkfree");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "parent's");
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    cshm_free(h);
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(exists(key));
  assert_true(cshm_is_attached(h));
  cshm *late = handle(key);
  EXPECT_OK(late, cshm_attach(late, CSHM_READ_WRITE));
  assert_text(late, "parent's");
  EXPECT_OK(late, cshm_detach(late));
  assert_true(exists(key)); /* the parent still holds it */
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- regressions: a fork in another thread during a reclaim ------------------------ */

#if !CSHM_TEST_PORTABLE
/* The reclaimer process of test_fork_during_reclaim_pins_nothing: one thread creates
 * on `key` (an orphan) and stops at reclaim_before_unlink, holding the orphan's
 * exclusive lock through a descriptor of its own; the main thread waits for a byte on
 * `go`, forks a child that writes its pid to `report` (so the test knows the child
 * runs, past its atfork handlers) and only waits (read on `hold`, then _exit), and
 * waits to be killed. */
typedef struct reclaimer_args {
  const char *key;
} reclaimer_args;

static void *reclaimer_thread(void *arg) {
  const reclaimer_args *a = arg;
  cshm *h = NULL;
  if (cshm_new(&h, a->key) == CSHM_OK)
    cshm_create(h, 4096, CSHM_READ_WRITE); /* stops at the test point */
  return NULL;
}

static void run_reclaimer(const char *key, int ctl, int go, int hold, int report) {
  char fd_text[16];
  snprintf(fd_text, sizeof fd_text, "%d", ctl);
  setenv("CSHM_TEST_FD", fd_text, 1);
  setenv("CSHM_TEST_STOP", "reclaim_before_unlink", 1);
  static reclaimer_args a;
  a.key = key;
  pthread_t t;
  if (pthread_create(&t, NULL, reclaimer_thread, &a) != 0 || !await_byte(go))
    _exit(10);
  pid_t child = fork();
  if (child == 0) {
    pid_t me = getpid();
    if (write(report, &me, sizeof me) != (ssize_t)sizeof me)
      _exit(1);
    char b;
    while (read(hold, &b, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  if (child < 0)
    _exit(11);
  for (;;)
    pause();
}

/* A reclaimer holds an orphan exclusively through a descriptor of its own (its
 * create is stopped at reclaim_before_unlink) when another of its threads forks; the
 * forked child lives on. The reclaimer is then killed: the kernel must drop its lock,
 * as it does for a reclaimer killed without a child (the orphan is left as it was).
 * A child holding a copy of that descriptor would keep the exclusive lock alive: the
 * orphan would look held (inspect: attached), create would fail with EEXIST, attach
 * would wait forever. Create and inspect do not wait, so a regression fails rather
 * than hangs. */
static void test_fork_during_reclaim_pins_nothing(void **state) {
  (void)state;
  const char *key = ts_key("reclaimfork");
  make_orphan(key, "orphan");
  int sv[2], go[2], hold[2], report[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(pipe2(go, O_CLOEXEC), 0);
  assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
  assert_int_equal(pipe2(report, O_CLOEXEC), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(sv[0]);
    close(go[1]);
    close(hold[1]);
    close(report[0]);
    run_reclaimer(key, sv[1], go[0], hold[0], report[1]);
  }
  close(sv[1]);
  close(go[0]);
  close(hold[0]);
  close(report[1]);
  assert_true(kid_count < MAX_KIDS);
  ts_child *reclaimer = &kids[kid_count++];
  *reclaimer = (ts_child){.pid = pid, .ctl = sv[0]};
  bool stopped = ts_expect(reclaimer, "reclaim_before_unlink");
  bool sent = stopped && send_byte(go[1]);
  pid_t grandchild = -1;
  bool reported = sent && read(report[0], &grandchild, sizeof grandchild) ==
                              (ssize_t)sizeof grandchild;
  ts_kill(reclaimer); /* the reclaimer dies; its forked child lives on */

  /* No assertion until the grandchild is gone: a failure must not leave it waiting. */
  cshm_info info = {.attached = -2};
  cshm *probe = handle(key);
  int inspect_rc = cshm_inspect(probe, &info);
  cshm *h = handle(key);
  bool created = false;
  int create_rc = cshm_create_ex(h, 4096, CSHM_READ_WRITE, 0, &created);
  char detail[512];
  snprintf(detail, sizeof detail, "%s", cshm_error_string(h));
  close(hold[1]); /* lets the grandchild exit */
  if (grandchild > 0)
    kill(grandchild, SIGKILL); /* reparented: not ours to reap */
  close(go[1]);
  close(report[0]);

  assert_true(stopped);
  assert_true(sent);
  assert_true(reported);
  if (create_rc != CSHM_OK)
    print_message("create returned %s: %s\n", cshm_error_name(create_rc), detail);
  EXPECT_OK(probe, inspect_rc);
  assert_int_equal(info.attached, 0); /* the orphan, unheld again */
  assert_int_equal(create_rc, CSHM_OK);
  assert_true(created);
  assert_true(all_zero(h)); /* a new segment, not the orphan */
  assert_int_equal(ts_run((const char *[]){key, "attach", "detach", NULL}), 0);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}
#endif

/* ---- regressions: cshm_remove against a last detacher ------------------------------ */

#if !CSHM_TEST_PORTABLE
typedef struct remover {
  const char *key;
  pthread_mutex_t mu;
  bool done;
  int rc;
  char detail[512];
} remover;

static void *remover_main(void *arg) {
  remover *r = arg;
  int rc = cshm_remove(r->key, CSHM_KEY_DEFAULT);
  pthread_mutex_lock(&r->mu);
  r->rc = rc;
  snprintf(r->detail, sizeof r->detail, "%s", rc < 0 ? cshm_last_error_string() : "");
  r->done = true;
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

static bool remover_done(remover *r) {
  pthread_mutex_lock(&r->mu);
  bool done = r->done;
  pthread_mutex_unlock(&r->mu);
  return done;
}

/* True when /proc/locks shows a blocked OFD lock request ("->") on the object st
 * describes; also true when /proc/locks cannot be read (nothing to wait for then). */
static bool ofd_waiter_on(const struct stat *st) {
  FILE *f = fopen("/proc/locks", "re");
  if (f == NULL)
    return true;
  char needle[64], line[256];
  snprintf(needle, sizeof needle, " %02x:%02x:%lu ", major(st->st_dev), minor(st->st_dev),
           (unsigned long)st->st_ino);
  bool found = false;
  while (!found && fgets(line, sizeof line, f) != NULL)
    found = strstr(line, "->") != NULL && strstr(line, "OFDLCK") != NULL &&
            strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

/* The last detacher (a helper) holds the object exclusively and is about to unlink
 * when cshm_remove starts: remove must wait for it rather than unlink under it (the
 * detacher's check of the name and its unlink would then race a re-create), and then
 * finds the name gone: CSHM_ENOENT, the detacher removed it. The helper is resumed
 * only once the remover is seen blocked on the object's lock in /proc/locks, or has
 * finished (which it must not: it would have removed the name itself, CSHM_OK) -
 * an observed state, not a sleep. */
static void test_remove_waits_for_last_detacher(void **state) {
  (void)state;
  const char *key = ts_key("removewaits");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "detached");
  ts_child *last = spawn("detach_before_unlink", false,
                         (const char *[]){key, "attach", "expect:detached", "signal", "detach",
                                          NULL});
  expect_line(last, "signal");
  EXPECT_OK(h, cshm_detach(h)); /* not the last: the helper holds it */
  assert_true(exists(key));
  ts_resume(last);
  expect_line(last, "detach_before_unlink"); /* holds it exclusively, name not yet gone */
  struct stat st;
  assert_int_equal(stat(ts_shm_path(key), &st), 0);

  remover r = {.key = key, .mu = PTHREAD_MUTEX_INITIALIZER, .done = false, .rc = CSHM_EUNKNOWN};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, remover_main, &r), 0);
  while (!remover_done(&r) && !ofd_waiter_on(&st))
    sched_yield();
  bool finished_early = remover_done(&r);
  ts_resume(last); /* let the detacher unlink: the remover waits on it */
  assert_int_equal(pthread_join(t, NULL), 0);
  if (r.rc != CSHM_ENOENT)
    print_message("cshm_remove returned %s, expected CSHM_ENOENT: %s\n", cshm_error_name(r.rc),
                  r.detail);
  assert_int_equal(r.rc, CSHM_ENOENT);
  assert_false(finished_early);
  assert_int_equal(ts_wait(last), 0);
  assert_false(exists(key));
}
#else
/* Portable profile: the same race, without /proc/locks or OFD locks (Linux default
 * only; macOS has neither). The last detacher stopped at detach_before_unlink holds
 * the name's admin lock, which cshm_remove takes too: started now, the remover waits
 * for it and then finds the name gone - CSHM_ENOENT, never CSHM_OK (which would mean
 * it unlinked under the detacher). Whether the remover is already blocked when the
 * detacher is resumed cannot be observed here; the outcome is the same. */
static void test_remove_waits_for_last_detacher(void **state) {
  (void)state;
  const char *key = ts_key("removewaits");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "detached");
  ts_child *last = spawn("detach_before_unlink", false,
                         (const char *[]){key, "attach", "expect:detached", "signal", "detach",
                                          NULL});
  expect_line(last, "signal");
  EXPECT_OK(h, cshm_detach(h)); /* not the last: the helper holds it */
  assert_true(exists(key));
  ts_resume(last);
  expect_line(last, "detach_before_unlink"); /* holds the admin lock, name not yet gone */
  assert_true(exists(key));
  call *remove = call_start(CALL_REMOVE, NULL, key);
  ts_resume(last);
  call_expect(remove, CSHM_ENOENT);
  assert_int_equal(ts_wait(last), 0);
  assert_false(exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
}
#endif

/* ---- another user (DESIGN.md §2 permissions) -------------------------------------- */

/* True when helpers can run as "nobody"; skips the test otherwise. */
static void need_root_and_nobody(void) {
  if (geteuid() != 0) {
    print_message("skipped: running a helper as another user needs root\n");
    skip();
  }
  if (getpwnam("nobody") == NULL) {
    print_message("skipped: there is no user \"nobody\"\n");
    skip();
  }
}

/* Default permissions 0600: another user cannot attach at all. */
static void test_other_user_denied_by_default(void **state) {
  (void)state;
  need_root_and_nobody();
  const char *key = ts_key("nobody600");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c = spawn(NULL, true, (const char *[]){key, "attach?CSHM_EPERM", NULL});
  assert_int_equal(ts_wait(c), 0);
  c = spawn(NULL, true, (const char *[]){key, "perms:644", "attach-ro?CSHM_EPERM", NULL});
  assert_int_equal(ts_wait(c), 0);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* 0644: another user may only read. It gets a fully read-only mapping and cannot
 * lock; a read-write attach is refused; and without permissions that grant others
 * access it refuses the segment itself (owned by another user). The same in the
 * portable profile: a reader never removes a segment, whatever its own user's
 * holder count says. */
static void test_other_user_read_only(void **state) {
  (void)state;
  need_root_and_nobody();
  const char *key = ts_key("nobody644");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_set_permissions(h, 0644));
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "readable");
  ts_child *c = spawn(NULL, true, (const char *[]){key, "perms:644", "attach-ro", "expect:readable",
                                                   "lock?CSHM_EPERM", "try-lock?CSHM_EPERM", NULL});
  assert_int_equal(ts_wait(c), 0);
  c = spawn(NULL, true, (const char *[]){key, "perms:644", "attach?CSHM_EPERM", NULL});
  assert_int_equal(ts_wait(c), 0);
  c = spawn(NULL, true, (const char *[]){key, "attach-ro?CSHM_EPERM", NULL});
  assert_int_equal(ts_wait(c), 0);
  /* The read-only visitor's detach never removed our segment. */
  assert_true(exists(key));
  assert_text(h, "readable");
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* A squatter (another user) pre-creates the name with 0666 and holds its lock:
 * attach with the default permissions refuses it, create does not replace it; only a
 * handle whose permissions grant others access attaches - and the squatter's lock
 * is never taken from it (try_lock EBUSY) while it lives.
 * Portable profile (by design): holders are counted per user - the liveness sidecars
 * live in each user's own directory, and another user's liveness token cannot be
 * checked. So create finds an object this user's cshm never made (EEXIST, not
 * replaced); the other user's lock counts as held while it is held (its owner is
 * taken as alive: never stolen); and the squatter, the last holder of ITS user,
 * removes its segment's name when it detaches although we are still attached - we
 * keep the memory, and our own detach then finds nothing of ours to remove. Safe for
 * the rules that matter: a live lock is never stolen and a live segment of the same
 * user is never removed. (Its mode there is the umask's: see test_segment.) */
static void test_squatter_refused_by_default(void **state) {
  (void)state;
  need_root_and_nobody();
  const char *key = ts_key("squatter");
  ts_child *c = spawn(NULL, true, (const char *[]){key, "perms:666", "create:4096",
                                                   "write:bait", "lock", "signal", NULL});
  expect_line(c, "signal");
  cshm *h = handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EPERM);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_EPERM);
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EEXIST); /* it is live */
  EXPECT_OK(h, cshm_set_permissions(h, 0666));
  EXPECT_OK(h, cshm_attach(h, CSHM_READ_WRITE));
  assert_text(h, "bait");
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY); /* the squatter holds it */
  ts_resume(c);
  assert_int_equal(ts_wait(c), 0); /* its cshm_free unlocked and detached */
#if CSHM_TEST_PORTABLE
  assert_false(exists(key)); /* the last holder of its user removed the name */
#else
  assert_true(exists(key)); /* the squatter was not the last holder */
#endif
  assert_text(h, "bait");
  EXPECT_OK(h, cshm_lock(h));
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
}

/* ---- many processes ---------------------------------------------------------------- */

/* Four helpers and the parent lock and unlock concurrently: no error, no deadlock;
 * the last detach removes the segment. */
static void test_many_processes_contend(void **state) {
  (void)state;
  const char *key = ts_key("many");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c[4];
  for (int i = 0; i < 4; i++)
    c[i] = spawn(NULL, false, (const char *[]){key, "attach", "pairs:20000", NULL});
  for (int i = 0; i < 20000; i++) {
    int rc = cshm_lock(h);
    if (rc != CSHM_OK)
      EXPECT_OK(h, rc);
    rc = cshm_unlock(h);
    if (rc != CSHM_OK)
      EXPECT_OK(h, rc);
  }
  for (int i = 0; i < 4; i++)
    assert_int_equal(ts_wait(c[i]), 0);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- regressions: environments, fork windows, try-lock (portable profile) ---------- */

/* Waits up to `ms` for the helper to exit and returns its status; a helper still
 * running then - blocked where it must not block - is killed and reaped, and -2 is
 * returned (a failed test, never a hung suite). */
static int wait_bounded(ts_child *c, unsigned ms) {
  unsigned long long deadline = ts_now_ms() + ms;
  int status = 0;
  for (;;) {
    pid_t got = waitpid(c->pid, &status, WNOHANG);
    if (got == c->pid) {
      close(c->ctl);
      c->ctl = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (got < 0 && errno != EINTR)
      return -1;
    if (ts_now_ms() >= deadline) {
      print_message("helper %d still running after %u ms: killed\n", (int)c->pid, ms);
      ts_kill(c);
      return -2;
    }
    ts_sleep_ms(10);
  }
}

/* The same for a forked child (not a ts_child). */
static int waitpid_bounded(pid_t pid, unsigned ms) {
  unsigned long long deadline = ts_now_ms() + ms;
  int status = 0;
  for (;;) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (got < 0 && errno != EINTR)
      return -1;
    if (ts_now_ms() >= deadline) {
      print_message("forked child %d still running after %u ms: killed\n", (int)pid, ms);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -2;
    }
    ts_sleep_ms(10);
  }
}

/* A private directory of this test (mode 0700), and its removal with everything in it
 * (two levels: the portable profile's "<dir>/cshm/..." files). */
static void make_private_dir(char *dir, size_t cap) {
  snprintf(dir, cap, "/tmp/cshm-test-env-%d-XXXXXX", ts_pid());
  assert_non_null(mkdtemp(dir));
}

static void remove_tree(const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0 && depth > 0)
      remove_tree(path, depth - 1);
  }
  closedir(d);
  rmdir(dir);
}

/* "env:NAME=DIR" for the helper. */
static void env_op(char *buf, size_t cap, const char *name, const char *dir) {
  snprintf(buf, cap, "env:%s=%s", name, dir);
}

/* Issue: the sidecar directory came from $XDG_RUNTIME_DIR (else /tmp/cshm-<uid>), so
 * a process of the same user with another environment used other token, admin and
 * liveness files. Holding the lock here, a helper with its own XDG_RUNTIME_DIR, HOME
 * and TMPDIR must see the owner alive: CSHM_ETIMEDOUT, not CSHM_OWNER_DIED. */
static void test_other_environment_sees_owner_alive(void **state) {
  (void)state;
  const char *key = ts_key("otherenv-lock");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  EXPECT_OK(h, cshm_lock(h));
  char dir[128], xdg[160], home[160], tmp[160];
  make_private_dir(dir, sizeof dir);
  env_op(xdg, sizeof xdg, "XDG_RUNTIME_DIR", dir);
  env_op(home, sizeof home, "HOME", dir);
  env_op(tmp, sizeof tmp, "TMPDIR", dir);
  ts_child *c = spawn(NULL, false,
                      (const char *[]){key, xdg, home, tmp, "attach",
                                       "lock-timeout:50?CSHM_ETIMEDOUT",
                                       "try-lock?CSHM_EBUSY", "detach", NULL});
  int status = wait_bounded(c, 60000);
  int unlock_rc = cshm_unlock(h);
  remove_tree(dir, 2);
  assert_int_equal(status, 0);
  EXPECT_OK(h, unlock_rc);
  assert_true(exists(key)); /* the helper's detach: we still hold it */
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* The same issue on the holder count: a helper with another environment attaches and
 * detaches while we are attached; its detach must not remove the segment. */
static void test_other_environment_detach_keeps_segment(void **state) {
  (void)state;
  const char *key = ts_key("otherenv-detach");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  put_text(h, "still mine");
  char dir[128], xdg[160], home[160], tmp[160];
  make_private_dir(dir, sizeof dir);
  env_op(xdg, sizeof xdg, "XDG_RUNTIME_DIR", dir);
  env_op(home, sizeof home, "HOME", dir);
  env_op(tmp, sizeof tmp, "TMPDIR", dir);
  int status = ts_run((const char *[]){key, xdg, home, tmp, "attach", "expect:still mine",
                                       "detach", NULL});
  int kept_errno = name_errno(key);
  cshm *other = handle(key);
  int attach_rc = cshm_attach(other, CSHM_READ_WRITE);
  remove_tree(dir, 2);
  assert_int_equal(status, 0);
  assert_int_equal(kept_errno, 0);
  EXPECT_OK(other, attach_rc);
  assert_text(other, "still mine");
  EXPECT_OK(other, cshm_detach(other));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Fail-safe owner death (portable profile): a process whose tokens file is not the
 * one the segment's lock word refers to (on macOS: an app-group process and a plain
 * one; here the testing build's CSHM_TEST_SIDECAR_DIR) cannot probe the owner's
 * token, and must take the owner as alive - both ways round - and, since it cannot
 * count the other holders either, its detach must not remove the segment. */
static void test_foreign_tokens_file_never_declares_owner_dead(void **state) {
  (void)state;
#if !CSHM_TEST_PORTABLE
  skip(); /* the robust mutex: the kernel knows the owner */
#endif
  const char *key = ts_key("foreigntokens");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  char dir[128], side[200];
  make_private_dir(dir, sizeof dir);
  snprintf(side, sizeof side, "env:CSHM_TEST_SIDECAR_DIR=%s/cshm", dir);
  /* We hold it: the helper waits and must time out. */
  EXPECT_OK(h, cshm_lock(h));
  ts_child *waiter = spawn(NULL, false,
                           (const char *[]){key, side, "attach", "lock-timeout:50?CSHM_ETIMEDOUT",
                                            "try-lock?CSHM_EBUSY", "detach", NULL});
  int waiter_status = wait_bounded(waiter, 60000);
  int unlock_rc = cshm_unlock(h);
  int kept_errno = name_errno(key);
  /* The helper holds it: we wait and must time out. */
  ts_child *holder = spawn(NULL, false, (const char *[]){key, side, "attach", "lock", "signal",
                                                          "unlock", "detach", NULL});
  bool holding = ts_expect(holder, "signal");
  int timeout_rc = cshm_lock_timeout(h, 50);
  int try_rc = cshm_try_lock(h);
  if (holding)
    ts_resume(holder);
  int holder_status = wait_bounded(holder, 60000);
  int kept_after_holder = name_errno(key);
  remove_tree(dir, 2);
  assert_int_equal(waiter_status, 0);
  EXPECT_OK(h, unlock_rc);
  assert_int_equal(kept_errno, 0);
  assert_true(holding);
  EXPECT_RC(h, timeout_rc, CSHM_ETIMEDOUT);
  EXPECT_RC(h, try_rc, CSHM_EBUSY);
  assert_int_equal(holder_status, 0);
  assert_int_equal(kept_after_holder, 0);
  EXPECT_OK(h, cshm_lock(h)); /* plain: nobody died */
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* A test point in this process: a thread of ours stops at `point` (CSHM_TEST_STOP)
 * and says so on the socket pair; the environment is set only while no other thread
 * runs, and cleared by stop_here_clear(). */
typedef struct stop_here {
  int sv[2];
} stop_here;

static void stop_here_arm(stop_here *s, const char *point) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->sv), 0);
  char fd[16];
  snprintf(fd, sizeof fd, "%d", s->sv[1]);
  setenv("CSHM_TEST_FD", fd, 1);
  setenv("CSHM_TEST_STOP", point, 1);
}

/* Waits until the thread reports `point`; the environment is cleared again (the
 * stopped thread reads it no more until resumed). */
static bool stop_here_reached(stop_here *s, const char *point) {
  ts_child c = {.pid = 0, .ctl = s->sv[0]};
  struct pollfd p = {.fd = s->sv[0], .events = POLLIN};
  bool reached = poll(&p, 1, 30000) == 1 && ts_expect(&c, point);
  if (!reached)
    print_message("no thread reached the test point \"%s\" within 30 s\n", point);
  unsetenv("CSHM_TEST_STOP");
  unsetenv("CSHM_TEST_FD");
  return reached;
}

static void stop_here_resume(stop_here *s) {
  if (write(s->sv[0], "g", 1) != 1)
    perror("resume thread");
}

static void stop_here_close(stop_here *s) {
  close(s->sv[0]);
  close(s->sv[1]);
}

/* A lock_timeout in a thread. */
typedef struct timed_locker {
  cshm *h;
  int rc;
} timed_locker;

static void *timed_locker_main(void *arg) {
  timed_locker *t = arg;
  t->rc = cshm_lock_timeout(t->h, 120000);
  if (t->rc >= 0)
    cshm_unlock(t->h);
  return NULL;
}

/* In a forked child: a new handle on a new segment, created, locked, unlocked. */
static int forked_child_locks(const char *key) {
  cshm *own;
  if (cshm_new(&own, key) != CSHM_OK)
    return 2;
  if (cshm_create(own, 4096, CSHM_READ_WRITE) != CSHM_OK) {
    fprintf(stderr, "forked child: create: %s\n", cshm_error_string(own));
    return 3;
  }
  int rc = cshm_lock(own);
  if (rc != CSHM_OK) {
    fprintf(stderr, "forked child: lock: %s\n", cshm_error_string(own));
    return 4;
  }
  rc = cshm_unlock(own);
  cshm_free(own);
  return rc == CSHM_OK ? 0 : 5;
}

/* Issue: a child forked while another thread waits for a lock - probing its owner's
 * liveness token - deadlocked on its first lock (the tokens mutex was copied locked).
 * A helper holds the lock; our waiter is stopped inside the probe (test point
 * "lock_probe_owner"), the main thread forks, and the child's create+lock on a new
 * segment must complete. */
static void test_fork_while_a_thread_probes_the_owner(void **state) {
  (void)state;
#if !CSHM_TEST_PORTABLE
  skip(); /* no liveness probe: the robust mutex waits in the kernel */
#endif
  const char *key = ts_key("forkprobe");
  const char *child_key = ts_key("forkprobe-child");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *holder =
      spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", "unlock", "detach", NULL});
  expect_line(holder, "signal");
  stop_here stop;
  stop_here_arm(&stop, "lock_probe_owner");
  timed_locker t = {h, CSHM_EUNKNOWN};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, timed_locker_main, &t), 0);
  bool reached = stop_here_reached(&stop, "lock_probe_owner");
  /* No assertion until the thread is joined and the child reaped. */
  int status = -3;
  if (reached) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
      _exit(forked_child_locks(child_key));
    status = pid > 0 ? waitpid_bounded(pid, 30000) : -4;
  }
  stop_here_resume(&stop);
  ts_resume(holder); /* unlocks: the waiter gets the lock */
  int holder_status = wait_bounded(holder, 60000);
  pthread_join(thread, NULL);
  stop_here_close(&stop);
  if (status != 0)
    cshm_remove(child_key, CSHM_KEY_DEFAULT); /* what a killed child left */
  assert_true(reached);
  assert_int_equal(status, 0);
  assert_int_equal(holder_status, 0);
  EXPECT_OK(h, t.rc);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
  assert_false(exists(child_key));
}

/* Issue: a child forked while a thread attaches (holding the name's admin lock)
 * kept that flock for its lifetime, and every other process's attach, create or
 * detach of the name blocked. A thread stops inside attach (test point
 * "attach_before_lock", the admin lock held), the main thread forks an idle child
 * that stays alive, the attach finishes; then a helper's attach+detach of the name
 * must complete. */
static void test_fork_during_attach_does_not_keep_admin_lock(void **state) {
  (void)state;
#if !CSHM_TEST_PORTABLE
  skip(); /* no admin lock: Linux publishes with linkat */
#endif
  const char *key = ts_key("forkadmin");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  cshm *a = handle(key);
  stop_here stop;
  stop_here_arm(&stop, "attach_before_lock");
  call *attach = call_start(CALL_ATTACH, a, NULL);
  bool reached = stop_here_reached(&stop, "attach_before_lock");
  idle_child go = {-1, -1, false};
  pid_t pid = -1;
  if (reached)
    pid = fork_idle_child(&go);
  stop_here_resume(&stop);
  pthread_join(attach->thread, NULL);
  attach->running = false;
  stop_here_close(&stop);
  int helper_status = -3;
  if (pid > 0) {
    ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "detach", NULL});
    helper_status = wait_bounded(c, 30000);
  }
  int child_status = pid > 0 ? reap_idle_child(pid, &go) : -1;
  assert_true(reached);
  assert_true(go.child_running);
  EXPECT_OK(a, attach->rc);
  assert_int_equal(helper_status, 0);
  assert_true(WIFEXITED(child_status));
  EXPECT_OK(a, cshm_detach(a));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* Issue (hot path): a failing try_lock probed the owner's liveness every time. The
 * probe is rate-limited now; a dead owner must still be reported to try_lock, by a
 * later try. The helper holds the lock while we fail many tries, then is killed;
 * try_lock must report CSHM_OWNER_DIED within a bounded number of tries. */
static void test_try_lock_reports_dead_owner_eventually(void **state) {
  (void)state;
  const char *key = ts_key("trydead");
  cshm *h = handle(key);
  EXPECT_OK(h, cshm_create(h, 4096, CSHM_READ_WRITE));
  ts_child *c = spawn(NULL, false, (const char *[]){key, "attach", "lock", "signal", NULL});
  expect_line(c, "signal");
  for (int i = 0; i < 1000; i++) {
    int rc = cshm_try_lock(h);
    if (rc != CSHM_EBUSY)
      EXPECT_RC(h, rc, CSHM_EBUSY);
  }
  ts_kill(c);
  int rc = CSHM_EBUSY;
  for (int i = 0; i < 2000 && rc == CSHM_EBUSY; i++) {
    rc = cshm_try_lock(h);
    if (rc == CSHM_EBUSY)
      ts_sleep_ms(5);
  }
  EXPECT_RC(h, rc, CSHM_OWNER_DIED);
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_try_lock(h)); /* reported once */
  EXPECT_OK(h, cshm_unlock(h));
  EXPECT_OK(h, cshm_detach(h));
  assert_false(exists(key));
}

/* ---- last: nothing left behind ---------------------------------------------------- */

/* Nothing is left under any name the suite used: no object, and in the portable
 * profile no sidecar either. */
static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_producer_consumer),
      T(test_lock_excludes_other_process),
      T(test_exit_while_locked_releases),
      T(test_killed_holder_reports_owner_died),
      T(test_owner_died_seen_by_other_process),
      T(test_waiter_wakes_with_owner_died),
      T(test_orphan_survives_and_attaches),
      T(test_create_reclaims_orphan),
      T(test_no_reclaim_refuses_orphan),
      T(test_creator_killed_after_publish_is_orphan),
      T(test_stopped_before_ready_is_invisible),
      T(test_stopped_before_publish_is_invisible),
      T(test_killed_before_ready_leaves_nothing),
      T(test_killed_before_publish_leaves_nothing),
      T(test_published_segment_with_live_holder_is_kept),
      T(test_reclaim_in_progress),
      T(test_reclaimer_killed_leaves_orphan),
      T(test_attach_after_open_loses_to_last_detach),
      T(test_last_detach_beats_attach_in_progress),
      T(test_last_detacher_killed_leaves_orphan),
      T(test_remove_recreate_helper_detaches_last),
      T(test_remove_recreate_parent_detaches_last),
      T(test_fork_child_cannot_use_inherited_handle),
      T(test_fork_child_own_handle_is_independent),
      T(test_forked_child_does_not_keep_segment_alive),
      T(test_forked_child_does_not_block_last_detacher),
      T(test_forked_child_free_does_not_remove_segment),
#if !CSHM_TEST_PORTABLE
      T(test_fork_during_reclaim_pins_nothing),
#endif
      T(test_remove_waits_for_last_detacher),
      T(test_other_user_denied_by_default),
      T(test_other_user_read_only),
      T(test_squatter_refused_by_default),
      T(test_many_processes_contend),
      T(test_other_environment_sees_owner_alive),
      T(test_other_environment_detach_keeps_segment),
      T(test_foreign_tokens_file_never_declares_owner_dead),
      T(test_fork_while_a_thread_probes_the_owner),
      T(test_fork_during_attach_does_not_keep_admin_lock),
      T(test_try_lock_reports_dead_owner_eventually),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("process", tests, NULL, NULL);
}
