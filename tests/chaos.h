/* The segment the chaos test's workers share (tests/test_chaos.c, helper.c's
 * "chaos:ID" op). Every field is written under the lock only; volatile keeps a
 * critical section's stores in program order, so a worker killed anywhere leaves a
 * journal the next locker can roll back. */
#ifndef CSHM_TESTS_CHAOS_H
#define CSHM_TESTS_CHAOS_H

#include <stdint.h>

#define CHAOS_MAX_WORKERS 16

typedef struct chaos_journal {
  uint32_t active; /* set last when a critical section starts, cleared when it ends */
  uint32_t worker;
  uint64_t old_counter;
  uint64_t old_completed;
} chaos_journal;

typedef struct chaos_state {
  uint32_t stop;                            /* the parent's order to finish */
  uint32_t pad;
  uint64_t counter;                         /* incremented once per critical section */
  uint64_t completed[CHAOS_MAX_WORKERS];    /* critical sections each worker finished */
  uint64_t owner_died;                      /* CSHM_OWNER_DIED announcements */
  uint64_t repairs;                         /* interrupted sections rolled back */
  uint64_t violations;                      /* a dirty journal behind a plain CSHM_OK */
  chaos_journal journal;
} chaos_state;

/* The next locker's duty after CSHM_OWNER_DIED (and the check after CSHM_OK): roll
 * an interrupted critical section back. Returns 1 when it repaired one. */
static inline int chaos_repair(volatile chaos_state *s) {
  if (!s->journal.active)
    return 0;
  uint32_t w = s->journal.worker % CHAOS_MAX_WORKERS;
  s->counter = s->journal.old_counter;
  s->completed[w] = s->journal.old_completed;
  s->journal.active = 0;
  return 1;
}

#endif
