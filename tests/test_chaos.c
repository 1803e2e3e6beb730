/* Chaos (issue 6): workers increment a counter under the lock, journaling each
 * critical section in the segment; a killer kills random workers (many die inside
 * the lock) and starts new ones. Asserted: no deadlock (the run ends), every
 * interrupted section is announced to the next locker by CSHM_OWNER_DIED and rolled
 * back from the journal (no dirty journal is ever found behind a plain CSHM_OK), the
 * counter equals the sum of the workers' completed sections, no worker fails on its
 * own, and nothing is left after the last detach. Runs the same on every backend
 * (SIGKILL on POSIX, TerminateProcess on Windows). CSHM_CHAOS_SECONDS sets the
 * duration (default 8). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"
#include "cshm/cshm.h"
#include "expect.h"
#include "support.h"

#define WORKERS 4

static uint32_t rng_state;

static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static bool start_worker(ts_child *c, const char *key, unsigned id) {
  char op[32];
  snprintf(op, sizeof op, "chaos:%u", id);
  const char *argv[] = {key, "attach", op, "detach", NULL};
  return ts_spawn(c, NULL, false, argv);
}

static void chaos(void **state) {
  (void)state;
  char seconds_text[32];
  unsigned long long duration_ms =
      (ts_getenv("CSHM_CHAOS_SECONDS", seconds_text, sizeof seconds_text)
           ? strtoull(seconds_text, NULL, 10)
           : 8u) * 1000u;
  rng_state = (uint32_t)ts_now_ms() ^ ((uint32_t)ts_pid() << 16) ^ 0x9e3779b9u;
  if (rng_state == 0)
    rng_state = 1;
  printf("chaos: seed %u, %llu ms, %d workers\n", rng_state, duration_ms, WORKERS);

  const char *key = ts_key("chaos");
  cshm *h = created(key, sizeof(chaos_state));
  volatile chaos_state *s = cshm_data(h);

  ts_child workers[WORKERS];
  for (unsigned i = 0; i < WORKERS; i++)
    assert_true(start_worker(&workers[i], key, i));

  unsigned kills = 0;
  unsigned long long end = ts_now_ms() + duration_ms;
  while (ts_now_ms() < end) {
    ts_sleep_ms(1 + rng() % 20);
    unsigned victim = rng() % WORKERS;
    ts_kill(&workers[victim]);
    kills++;
    assert_true(start_worker(&workers[victim], key, victim));
  }

  /* Stop: the workers finish their section, see the flag, unlock and detach. */
  int rc = cshm_lock(h);
  assert_true(rc == CSHM_OK || rc == CSHM_OWNER_DIED);
  if (rc == CSHM_OWNER_DIED) {
    s->owner_died++;
    s->repairs += (uint64_t)chaos_repair(s);
  } else if (chaos_repair(s)) {
    s->violations++;
  }
  s->stop = 1;
  EXPECT_OK(h, cshm_unlock(h));
  int failures = 0;
  for (unsigned i = 0; i < WORKERS; i++)
    failures += ts_wait(&workers[i]) != 0;

  EXPECT_OK(h, cshm_lock(h));
  uint64_t sum = 0;
  for (unsigned i = 0; i < WORKERS; i++)
    sum += s->completed[i];
  printf("chaos: %u kills, %llu critical sections, %llu owner deaths reported, %llu repairs, "
         "%llu violations, %d worker failures\n",
         kills, (unsigned long long)s->counter, (unsigned long long)s->owner_died,
         (unsigned long long)s->repairs, (unsigned long long)s->violations, failures);
  assert_int_equal(s->violations, 0);
  assert_int_equal(s->journal.active, 0);
  assert_int_equal(s->counter, sum);
  assert_int_equal(failures, 0);
  assert_true(s->repairs <= s->owner_died);
  assert_true(s->owner_died <= kills);
  assert_true(s->counter > 0);
  EXPECT_OK(h, cshm_unlock(h));
  cshm_free(h);
}

static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(chaos),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("chaos", tests, NULL, NULL);
}
