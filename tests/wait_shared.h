/* What test_wait.c and the helper's wait ops share: the layout of the segment's data
 * (every field changed under the segment's lock). */
#ifndef CSHM_TESTS_WAIT_SHARED_H
#define CSHM_TESTS_WAIT_SHARED_H

#include <stdint.h>

/* The producer/consumer ring: one slot, so every record is a hand-over. */
#define WAIT_RING_SLOTS 1u

typedef struct wait_shared {
  uint32_t head, tail;            /* records produced, consumed */
  uint32_t slots[WAIT_RING_SLOTS];
  uint32_t turn;                  /* ping-pong: whose turn (turn % 2) */
  uint32_t go;                    /* set once: the waiters' predicate */
  uint32_t ready, woken;          /* notify_all: waiters registered, waiters woken */
  uint32_t bad;                   /* a record out of order */
} wait_shared;

/* The testing build's owner-death check period of cshm_wait() (wait_default.c). */
extern unsigned cshm__wait_check_ms;

#endif
