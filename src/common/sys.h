/* The OS contract: what each backend (src/posix, src/win32) provides to the front end.
 *
 * Rules for every function here:
 * - The backend translates its own OS errors (errno, GetLastError()) into CSHM_E*
 *   codes and fills the cshm__diag with the failing step and the OS's text; the front
 *   end never reads errno.
 * - Nothing here takes or returns an OS type: a segment is an opaque pointer.
 * - Preconditions are the front end's to check; they are asserted, not handled.
 * - Every error path leaves nothing behind: no object, no mapping, no descriptor.
 */
#ifndef CSHM_COMMON_SYS_H
#define CSHM_COMMON_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cshm/cshm.h"
#include "diag.h"

/* An attached segment of the default key type, as the backend keeps it. */
typedef struct cshm__sys_segment cshm__sys_segment;

/* The mapping of an attached segment. */
typedef struct cshm__segment_view {
  void *base;           /* the header: start of the mapping */
  size_t length;        /* bytes mapped: the object size as the OS reports it */
  bool exact_length;    /* the OS reports the exact object size */
  bool lockable;        /* false: this process may not take the lock (it may only read) */
} cshm__segment_view;

/* Writes a new segment's header into `base` (`length` bytes mapped read-write) before
 * its name is published. Returns CSHM_OK or a code that aborts the create. */
typedef int (*cshm__segment_init_fn)(void *ctx, void *base, size_t length, cshm__diag *d);

typedef struct cshm__create_request {
  const char *native;        /* a name cshm__sys_native_name_check() accepted */
  uint64_t total;            /* header area + user size; overflow-checked by the caller */
  uint64_t data_offset;      /* where the data starts (read-only protection) */
  unsigned perms;            /* applied exactly */
  unsigned flags;            /* CSHM_CREATE_NO_RECLAIM, CSHM_CREATE_RESERVE */
  cshm_access access;        /* how the creator maps the data */
  cshm__segment_init_fn init;
  void *init_ctx;
} cshm__create_request;

/* Creates and attaches a segment. Postconditions on CSHM_OK: the name refers to the
 * new object, which is fully initialised (init returned CSHM_OK and the READY state
 * is set) - no attacher can ever see it half-made; this process counts as a holder.
 * Without CSHM_CREATE_NO_RECLAIM an orphan under the name (no live holder, not being
 * created) is replaced; a live segment never is.
 * Returns CSHM_OK; CSHM_EEXIST (a live segment, or an orphan with NO_RECLAIM);
 * CSHM_EPERM; CSHM_ENOMEM (memory or space: checked before sizing); CSHM_ESIZE
 * (larger than the OS allows); the init function's code; CSHM_EUNKNOWN. */
int cshm__sys_segment_create(const cshm__create_request *rq, cshm__sys_segment **out,
                             cshm__segment_view *view, cshm__diag *d);

typedef struct cshm__open_request {
  const char *native;
  cshm_access access;
  unsigned perms;            /* the handle's permissions: the owner check of cshm_attach */
  uint64_t data_offset;      /* mapped read-only from here on with CSHM_READ_ONLY */
} cshm__open_request;

/* Opens and maps an existing segment and counts this process as a holder. The header
 * is NOT validated: the caller validates view->base before trusting anything in it.
 * Postcondition on CSHM_OK: the name referred to the opened object after this process
 * became a holder (a segment removed meanwhile is retried, then CSHM_ENOENT).
 * Returns CSHM_OK; CSHM_ENOENT; CSHM_EPERM (no access; owned by another user while
 * perms grant nobody else access); CSHM_ECORRUPT (smaller than a header);
 * CSHM_ENOMEM; CSHM_EUNKNOWN. */
int cshm__sys_segment_open(const cshm__open_request *rq, cshm__sys_segment **out,
                           cshm__segment_view *view, cshm__diag *d);

/* Unmaps, stops counting this process as a holder and frees `s`. With may_remove, a
 * holder that finds itself the last one removes the name, if the name still refers
 * to this object (Unix). Without it (a forked child's inherited handle, a failed
 * attach) it only unmaps and closes. It never touches the lock. */
void cshm__sys_segment_close(cshm__sys_segment *s, bool may_remove);

/* Removes the name now (cshm_remove). Returns CSHM_OK; CSHM_ENOENT; CSHM_EPERM;
 * CSHM_ENOTSUP (Windows); CSHM_EUNKNOWN. */
int cshm__sys_segment_remove(const char *native, cshm__diag *d);

/* Reads the first `cap` bytes of the object named `native` into buf without
 * counting as a holder and without disturbing holders or the lock (Windows must open
 * and map the header briefly), and tells whether any process holds it.
 * Postconditions on CSHM_OK: *length is the object's size as the OS reports it;
 * *holders is 1 (someone holds it), 0 (nobody: an orphan) or -1 (cannot tell).
 * Returns CSHM_OK; CSHM_ENOENT; CSHM_EPERM; CSHM_ECORRUPT (not a regular object);
 * CSHM_EUNKNOWN. */
int cshm__sys_segment_probe(const char *native, void *buf, size_t cap, size_t *length,
                            int *holders, cshm__diag *d);

/* Calls fn for every default-key-type name in the OS namespace (cshm_list).
 * Returns CSHM_OK, CSHM_ENOTSUP where the OS cannot list, or an OS error. */
int cshm__sys_segment_list(int (*fn)(const char *native, void *ctx), void *ctx, cshm__diag *d);

/* Checks a native name of the default key type for this OS. Returns CSHM_OK or
 * CSHM_EKEY with *d naming the limit. */
int cshm__sys_native_name_check(const char *native, cshm__diag *d);

/* Writes the default native name for a stem (name.h) into out; cap >= 64. */
void cshm__sys_default_name(const char *stem, char *out, size_t cap);

/* Sets the application group that prefixes native names (Apple sandbox: cshm_set_app_group).
 * Returns CSHM_OK; CSHM_EKEY (too long, bad characters); CSHM_ENOTSUP where the
 * backend has no such names. */
int cshm__sys_set_app_group(const char *group, cshm__diag *d);

/* ---- the lock in the header -------------------------------------------------- */

/* Identifies the lock mechanism, architecture, C library and lock size: a segment
 * whose header carries another value is refused (CSHM_EVERSION). */
uint32_t cshm__sys_lock_abi(void);

/* Initialises the lock area (CSHM__LOCK_CAPACITY bytes in the header) of a new
 * segment, unlocked. Returns CSHM_OK or CSHM_ELOCK. */
int cshm__sys_lock_init(void *lock_area, cshm__diag *d);

/* Takes the lock of an attached segment whose header was validated, waiting at
 * most `ms` milliseconds (0: do not wait; CSHM_INFINITE: forever). Precondition:
 * the calling thread does not hold it. Returns CSHM_OK; CSHM_OWNER_DIED (held; the
 * backend made it consistent); CSHM_ETIMEDOUT; CSHM_ELOCK. A lock in the header
 * (Linux, portable profile) enters no kernel uncontended; a kernel object's lock
 * (Windows named mutex) is one system call. */
int cshm__sys_lock(cshm__sys_segment *s, uint32_t ms, cshm__diag *d);

/* The state of the lock in a copy of a lock area (cshm_info.locked):
 * CSHM_LOCK_HELD; CSHM_LOCK_FREE; CSHM_LOCK_OWNER_DIED (its owner died holding it,
 * as the mechanism can tell from the copy: the next locker gets CSHM_OWNER_DIED);
 * CSHM_LOCK_UNKNOWN (a lock outside the segment). *owner is the holder's OS thread
 * id, 0 when free, dead or not recorded by the mechanism. Disturbs nothing. */
int cshm__sys_lock_held(const void *lock_area, uint32_t *owner);

/* True when cshm__sys_lock() itself returns CSHM_EDEADLK to a thread that holds the
 * lock already, through any handle (an error-checking mutex that records its owner):
 * the front end then keeps no record of held locks for the default key type. */
bool cshm__sys_lock_reports_relock(void);

/* Releases the lock the calling thread holds. Returns CSHM_OK or CSHM_ELOCK. */
int cshm__sys_unlock(cshm__sys_segment *s, cshm__diag *d);

/* ---- waiting on a header word (issue 13) -------------------------------------- */

/* The 32-bit header words a thread can sleep on (format.h, minor 1): cond_seq
 * (cshm_wait), event_seq (the event word), and the portable profile's lock word (its
 * low 32 bits: the word's address on little-endian). cshm__word_address() (word.h)
 * turns one into its address in a mapped header. */
typedef enum { CSHM__WORD_COND, CSHM__WORD_EVENT, CSHM__WORD_LOCK } cshm__word;

/* Sleeps while the header's 32-bit word `which` equals `expected`, at most `ms`
 * milliseconds (0: do not sleep, only compare; CSHM_INFINITE: forever) on a
 * monotonic clock. The compare and the sleep are atomic against
 * cshm__sys_word_wake(): a wake after the word changed from `expected` is never lost.
 * Precondition: `s` is attached and its header validated (any minor). It may return
 * early (a spurious wake-up, a signal): the caller re-checks the word and its own
 * deadline. It neither reads nor changes the *_waiters counts: the caller keeps them.
 * Returns CSHM_OK (woken, spuriously woken, or the word differs from `expected`);
 * CSHM_ETIMEDOUT (ms elapsed and the word still equalled `expected` when last
 * looked at); CSHM_ELOCK (the OS refused; *d says why); CSHM_ENOTSUP (a backend
 * without the primitive). */
int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d);

/* Wakes one (all = false) or every (all = true) thread of any process sleeping in
 * cshm__sys_word_wait() on the word `which` of this segment. The caller has changed
 * the word first (a sleeper that wakes finds it different) and calls this only when
 * the word's *_waiters count is not 0 (the hot path makes no system call). A backend
 * whose sleepers wait for permits (Windows) reads that count: how many to release.
 * Waking nobody is not an error. Returns CSHM_OK; CSHM_ELOCK; CSHM_ENOTSUP. */
int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d);

/* Milliseconds on a monotonic clock (any origin): the deadlines of the waits. */
uint64_t cshm__sys_now_ms(void);

/* ---- process ------------------------------------------------------------------ */

/* The calling process's id, as the OS numbers it. */
uint32_t cshm__sys_pid(void);

/* An id of the calling process's PID namespace; 0 when the OS has none or it is
 * unknown. Robust-mutex owner ids collide across namespaces. */
uint64_t cshm__sys_pid_namespace(void);

/* A counter that changes in a child after fork(); constant where there is no fork.
 * Cheap: read on every call to detect handles inherited through fork. */
unsigned cshm__sys_fork_generation(void);

/* Sleeps about ms milliseconds. */
void cshm__sys_sleep_ms(unsigned ms);

/* Fills buf with n unpredictable bytes. Returns CSHM_OK or CSHM_EUNKNOWN. */
int cshm__sys_random(void *buf, size_t n, cshm__diag *d);

/* The OS error text of a platform error number into buf (thread-safe). */
void cshm__sys_error_text(int os_error, char *buf, size_t cap);

#endif
