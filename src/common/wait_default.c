/* Waiting and notifying for the default key type (issue 13): a condition variable on
 * the segment's lock and a lock-free event word, both 32-bit sequence counters in
 * the header (format.h, minor 1), slept on with the backend's cshm__sys_word_wait().
 *
 * No lost wake-up. A waiter registers (cond_waiters++) and then the kernel compares
 * the sequence with the one it saw under the lock; a notifier increments the
 * sequence and then looks at the registrations. Both steps are sequentially
 * consistent, so either the notifier sees the registration (and wakes) or the
 * waiter's compare sees the new sequence (and does not sleep). With nobody
 * registered a notify is one atomic increment: no system call.
 *
 * A dead lock owner. A waiter does not sleep on the lock, so a process that dies
 * holding it (a notifier killed in its critical section) would leave the waiters
 * asleep until their timeouts. They sleep in slices instead and, after each,
 * try-lock: CSHM_OWNER_DIED means this waiter now holds the lock and must repair;
 * a free lock is given back at once; a live owner is not disturbed. */
#include <stdbool.h>
#include <stdint.h>

#include "atomic.h"
#include "deadline.h"
#include "format.h"
#include "handle.h"
#include "keytype.h"
#include "sys.h"
#include "testpoint.h"

/* How often a waiter in cshm_wait() looks for a dead lock owner, in ms (a variable
 * so that the tests can make it long: a lost wake-up must then show as a timeout,
 * not as a check that happens to find the notification). */
unsigned cshm__wait_check_ms = 50;
#define OWNER_CHECK_MS ((uint32_t)cshm__wait_check_ms)

static cshm__header *header_of(cshm *h) { return (cshm__header *)h->view.base; }


static uint32_t min_ms(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Whether the lock's owner died, without disturbing a live owner: 1 when the owner
 * died (the calling thread holds the lock now), 0 when not, a negative code when
 * the lock was free and could not be given back (the calling thread holds it). */
static int owner_died(cshm *h, cshm__diag *d) {
  cshm__diag ignored;
  int rc = cshm__sys_lock(h->seg, 0, &ignored);
  if (rc == CSHM_OWNER_DIED)
    return 1;
  if (rc == CSHM_OK && (rc = cshm__sys_unlock(h->seg, d)) < 0)
    return rc;
  return 0; /* free (given back), held by a live owner, or not checkable now */
}

/* Sleeps, the lock released, until cond_seq moves from `seq` or `ms` elapse. Returns
 * CSHM_OK (notified or spuriously woken), CSHM_ETIMEDOUT, the backend's error, or,
 * with *held set, CSHM_OWNER_DIED or an error from giving a free lock back. */
static int sleep_on_cond(cshm *h, uint32_t seq, uint64_t start, uint32_t ms, bool *held,
                         cshm__diag *d) {
  cshm__header *hd = header_of(h);
  uint64_t next_check = start + OWNER_CHECK_MS;
  for (;;) {
    if (cshm__atomic_load_acquire(&hd->cond_seq) != seq)
      return CSHM_OK;
    uint32_t left = cshm__ms_left(start, ms);
    if (left == 0)
      return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "no notification within %u ms", ms);
    cshm__test_point("wait_sleeping");
    int rc = cshm__sys_word_wait(h->seg, CSHM__WORD_COND, seq, min_ms(left, OWNER_CHECK_MS), d);
    if (rc < 0 && rc != CSHM_ETIMEDOUT)
      return rc;
    /* Not woken before the deadline: a timeout, even if a notify raced it (as
     * pthread_cond_timedwait may). A wake-up the kernel lost shows as this. */
    if (rc == CSHM_ETIMEDOUT && cshm__ms_left(start, ms) == 0)
      return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "no notification within %u ms", ms);
    uint64_t now = cshm__sys_now_ms();
    if (now >= next_check && cshm__atomic_load_acquire(&hd->cond_seq) == seq) {
      next_check = now + OWNER_CHECK_MS;
      if ((rc = owner_died(h, d)) != 0) {
        *held = true;
        return rc > 0 ? CSHM_OWNER_DIED : rc;
      }
    }
  }
}

static int cond_wait(cshm *h, uint32_t ms, bool *held, cshm__diag *d) {
  cshm__header *hd = header_of(h);
  const uint64_t start = cshm__sys_now_ms();
  /* Read under the lock: a notify that follows a change of the predicate made after
   * this point increments it past `seq`. */
  const uint32_t seq = cshm__atomic_load_acquire(&hd->cond_seq);
  cshm__test_point("wait_before_register");
  cshm__atomic_fetch_add_seq_cst(&hd->cond_waiters, 1);
  cshm__test_point("wait_registered");
  int rc = cshm__sys_unlock(h->seg, d);
  if (rc < 0) {
    cshm__atomic_fetch_add_seq_cst(&hd->cond_waiters, UINT32_MAX); /* -1 */
    *held = true;
    return rc;
  }
  *held = false;
  cshm__test_point("wait_unlocked");
  rc = sleep_on_cond(h, seq, start, ms, held, d);
  cshm__atomic_fetch_add_seq_cst(&hd->cond_waiters, UINT32_MAX);
  if (*held)
    return rc; /* the owner-death check took the lock */
  cshm__diag relock;
  int lrc = cshm__sys_lock(h->seg, CSHM_INFINITE, &relock);
  if (lrc < 0) {
    *d = relock;
    return lrc;
  }
  *held = true;
  return lrc == CSHM_OWNER_DIED ? CSHM_OWNER_DIED : rc;
}

static int notify(cshm *h, bool all, cshm__diag *d) {
  cshm__header *hd = header_of(h);
  cshm__test_point("notify_before_signal");
  cshm__atomic_fetch_add_seq_cst(&hd->cond_seq, 1);
  cshm__test_point("notify_before_wake");
  if (cshm__atomic_load_seq_cst(&hd->cond_waiters) == 0)
    return CSHM_OK;
  return cshm__sys_word_wake(h->seg, CSHM__WORD_COND, all, d);
}

static int event_value(cshm *h, uint32_t *out, cshm__diag *d) {
  (void)d;
  *out = cshm__atomic_load_acquire(&header_of(h)->event_seq);
  return CSHM_OK;
}

static int event_signal(cshm *h, cshm__diag *d) {
  cshm__header *hd = header_of(h);
  cshm__atomic_fetch_add_seq_cst(&hd->event_seq, 1);
  cshm__test_point("event_signal_before_wake");
  if (cshm__atomic_load_seq_cst(&hd->event_waiters) == 0)
    return CSHM_OK;
  return cshm__sys_word_wake(h->seg, CSHM__WORD_EVENT, true, d);
}

static int event_wait(cshm *h, uint32_t seen, uint32_t ms, cshm__diag *d) {
  cshm__header *hd = header_of(h);
  const uint64_t start = cshm__sys_now_ms();
  for (;;) {
    if (cshm__atomic_load_acquire(&hd->event_seq) != seen)
      return CSHM_OK;
    uint32_t left = cshm__ms_left(start, ms);
    if (left == 0)
      return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "no event within %u ms", ms);
    cshm__atomic_fetch_add_seq_cst(&hd->event_waiters, 1);
    cshm__test_point("event_wait_registered");
    int rc = cshm__sys_word_wait(h->seg, CSHM__WORD_EVENT, seen, left, d);
    cshm__atomic_fetch_add_seq_cst(&hd->event_waiters, UINT32_MAX);
    if (rc < 0 && rc != CSHM_ETIMEDOUT)
      return rc;
    /* Not woken before the deadline: a timeout even if a signal raced it, as in
     * cond_wait (a lost wake-up shows as this). */
    if (rc == CSHM_ETIMEDOUT && cshm__ms_left(start, ms) == 0)
      return cshm__diag_set(d, CSHM_ETIMEDOUT, NULL, "no event within %u ms", ms);
  }
}

static const cshm__wait_ops wait_ops_default = {
    cond_wait, notify, event_value, event_signal, event_wait,
};

const cshm__wait_ops *cshm__wait_ops_of(const cshm__keytype *kt) {
  return kt == &cshm__keytype_default ? &wait_ops_default : NULL;
}
