/* The lock on Windows: a named mutex beside the mapping (its name + "_lock"),
 * created before the mapping, so that a mapping never exists without its lock
 * (DESIGN.md §6). The header's lock area stays unused (zero).
 *
 * - The kernel releases a mutex whose owning thread ends, crash included, and hands
 *   the next waiter WAIT_ABANDONED: that is CSHM_OWNER_DIED, and the mutex is then
 *   an ordinary, owned mutex again.
 * - Windows mutexes recurse per thread; the front end's held-lock registry turns a
 *   relock by the owning thread, through any handle, into CSHM_EDEADLK before it gets
 *   here (sys.h: the calling thread does not hold the lock).
 * - The lock is outside the mapping, so a read-only attachment can lock.
 * - Every lock and unlock is a system call (the kernel owns the mutex): unlike
 *   Linux, the uncontended lock is not free of the kernel here. */
#include "cshm/cshm.h"
#include "format.h"
#include "sys.h"
#include "win32.h"

/* Mechanism 'W' (0x57): a Windows named mutex (Linux's robust mutex is 1, the
 * portable lock word 2). The mutex lives outside the segment and the header's fields
 * are fixed-width little-endian, so x86, x64 and arm64 processes share a segment:
 * no architecture, C library or size in the id. */
#define MECHANISM_WIN32_NAMED_MUTEX 0x57u

uint32_t cshm__sys_lock_abi(void) { return MECHANISM_WIN32_NAMED_MUTEX << 24; }

int cshm__sys_lock_init(void *lock_area, cshm__diag *d) {
  (void)lock_area; /* the mutex exists already: segment.c made it first */
  (void)d;
  return CSHM_OK;
}

int cshm__sys_lock(cshm__sys_segment *s, uint32_t ms, cshm__diag *d) {
  if (s->mutex == NULL)
    return cshm__diag_set(d, CSHM_EPERM, NULL, "this process may not use the segment's lock");
  DWORD r = WaitForSingleObject(s->mutex, ms == CSHM_INFINITE ? INFINITE : (DWORD)ms);
  switch (r) {
  case WAIT_OBJECT_0: return CSHM_OK;
  case WAIT_ABANDONED: return CSHM_OWNER_DIED; /* held now; the data is the caller's to repair */
  case WAIT_TIMEOUT:
    return cshm__diag_fixed(d, CSHM_ETIMEDOUT, NULL, "the lock is held by another thread");
  default: {
    DWORD err = GetLastError();
    cshm__win32_fail(d, err, "WaitForSingleObject on the segment's mutex");
    return CSHM_ELOCK;
  }
  }
}

int cshm__sys_unlock(cshm__sys_segment *s, cshm__diag *d) {
  if (s->mutex != NULL && ReleaseMutex(s->mutex))
    return CSHM_OK;
  DWORD err = s->mutex != NULL ? GetLastError() : ERROR_INVALID_HANDLE;
  cshm__win32_fail(d, err, "ReleaseMutex on the segment's mutex");
  return CSHM_ELOCK;
}

int cshm__sys_lock_held(const void *lock_area, uint32_t *owner) {
  (void)lock_area; /* unused: the lock is the mutex */
  /* Asking the mutex would mean taking it, which disturbs its holders (and would
   * swallow an owner-died report): it cannot be told without doing so. */
  *owner = 0;
  return CSHM_LOCK_UNKNOWN;
}

/* A named mutex recurses for its owner: the front end must track held locks. */
bool cshm__sys_lock_reports_relock(void) { return false; }
