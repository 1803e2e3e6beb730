/** @file
 * cshm: named shared-memory segments with a cross-process lock.
 *
 * The semantics are those of Qt's QSharedMemory, without Qt, with the deviations
 * listed below. Everything here is a contract: tools outside the project compile
 * against these names.
 *
 * Conventions
 * - Every function that can fail returns an int: CSHM_OK (0) on success, a negative
 *   CSHM_E* code on failure. The lock functions may also return CSHM_OWNER_DIED
 *   (positive): success, the lock is held, and its previous owner died holding it.
 * - A handle (cshm *) is not thread-safe: use one handle per thread. Two handles,
 *   in two threads or two processes, exclude each other through the lock.
 * - The lock is owned by the thread that took it.
 * - cshm_error() and cshm_error_string() report the last result on a handle;
 *   cshm_last_error_string() reports the last failure of the calling thread, for
 *   functions that take no handle (cshm_new, cshm_remove, cshm_native_key_for).
 * - Keys are UTF-8. Native keys are OS object names, used verbatim.
 *
 * Deviations from Qt (every OS, every key type)
 * - Relocking a lock the calling thread already holds, through this or any other
 *   handle of the same segment, returns CSHM_EDEADLK (Qt warns and returns true).
 * - create() replaces an orphan (a segment no live process uses) unless
 *   CSHM_CREATE_NO_RECLAIM is given; lock() reports a dead owner (CSHM_OWNER_DIED).
 * - create/attach/detach do not take the user lock (default key type).
 * - A read-only attachment can lock (as in Qt): only its data pages are read-only.
 *   A process that may only read the object gets a fully read-only mapping, and
 *   cshm_lock() returns CSHM_EPERM.
 * - Detach and free release the calling thread's lock first. If another thread holds
 *   the lock through the handle, cshm_detach() returns CSHM_EBUSY and cshm_free()
 *   leaks the mapping and its descriptor instead of unmapping memory the lock still
 *   points into (on Unix the process then stays a holder until it exits).
 * - fork(): a handle belongs to the process that opened it. In a child, every call
 *   on an inherited handle except cshm_free() returns CSHM_EINVAL; cshm_free() there
 *   only unmaps (never removes, never unlocks).
 * - Permissions are applied exactly (the umask does not apply). Attach refuses a
 *   segment owned by another user (CSHM_EPERM) unless the handle's permissions grant
 *   group or other access: a squatter cannot pre-create a name and catch your data.
 * - Every process that can lock a segment is trusted not to corrupt its header.
 *
 * Ownership (default key type)
 * - Unix: every attached process holds a shared kernel file lock on the segment; the
 *   process that detaches as the last holder removes the name. A crash never skews
 *   the count. A segment whose last user crashed survives (its data can still be
 *   attached) and is replaced by the next create(). A process that may only read
 *   the object never removes it. A forked child closes its copies of the
 *   descriptors as soon as it runs (an atfork handler), so it does not keep a
 *   segment alive; a parent that detaches last within those first microseconds
 *   leaves an orphan, which the next create() replaces.
 * - Windows: the kernel owns the segment; it lives while any handle is open.
 */
#ifndef CSHM_CSHM_H
#define CSHM_CSHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cshm/cshm_config.h"
#include "cshm/cshm_export.h"
#include "cshm/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The error codes: XX(NAME, value, message). Values are the same on every OS. The
 * first eight map one to one to Qt's QSharedMemory::SharedMemoryError values. */
#define CSHM_ERRNO_MAP(XX)                                                      \
  XX(EPERM, -1, "permission denied")                    /* PermissionDenied */   \
  XX(ESIZE, -2, "invalid size")                         /* InvalidSize */        \
  XX(EKEY, -3, "invalid key")                           /* KeyError */           \
  XX(EEXIST, -4, "segment already exists")              /* AlreadyExists */      \
  XX(ENOENT, -5, "segment not found")                   /* NotFound */           \
  XX(ELOCK, -6, "lock error")                           /* LockError */          \
  XX(ENOMEM, -7, "out of resources")                    /* OutOfResources */     \
  XX(EUNKNOWN, -8, "unknown error")                     /* UnknownError */       \
  XX(EINVAL, -9, "invalid argument or state")                                    \
  XX(EBUSY, -10, "busy")                                                         \
  XX(ETIMEDOUT, -11, "timed out")                                                \
  XX(EDEADLK, -12, "lock already held by this thread")                           \
  XX(ECORRUPT, -13, "segment header is corrupt")                                 \
  XX(EVERSION, -14, "segment format or lock ABI not supported by this build")    \
  XX(ENOTSUP, -15, "not supported")

typedef enum {
  CSHM_OK = 0,
  CSHM_OWNER_DIED = 1, /**< success: lock held, its previous owner died holding it */
#define CSHM__XX(name, value, msg) CSHM_##name = value,
  CSHM_ERRNO_MAP(CSHM__XX)
#undef CSHM__XX
} cshm_code;

/** Pass to cshm_lock_timeout() or cshm_attach_timeout() to wait forever. */
#define CSHM_INFINITE UINT32_MAX

/** Opaque handle. */
typedef struct cshm cshm;

typedef enum { CSHM_READ_ONLY = 0, CSHM_READ_WRITE = 1 } cshm_access;

typedef enum {
  CSHM_KEY_DEFAULT = 0,      /**< cshm's own format on this OS (header + in-segment lock) */
  CSHM_KEY_QT_LEGACY,        /**< QSharedMemory(QString)/setKey(), Qt 4.4-6.x default build:
                                System V on Linux/macOS, Qt's legacy names on Windows */
  CSHM_KEY_QT_LEGACY_POSIX,  /**< the same legacy key in a POSIX-IPC Qt build (QT_POSIX_IPC,
                                macOS sandbox): "/qipc_sharedmemory_..." */
  CSHM_KEY_QT_PLATFORM_SAFE  /**< Qt >= 6.6 QSharedMemory::platformSafeKey() for this OS */
} cshm_key_type;

/** Flags of cshm_create_ex(). */
enum {
  CSHM_CREATE_OR_ATTACH = 1u,  /**< attach if it exists (then *created = false) */
  CSHM_CREATE_NO_RECLAIM = 2u, /**< Qt-strict: an orphan makes create fail with CSHM_EEXIST */
  CSHM_CREATE_RESERVE = 4u     /**< commit the backing store now (O(size)): CSHM_ENOMEM now,
                                  never SIGBUS later */
};

/** Flags of cshm_attach_ex(). */
enum {
  CSHM_ATTACH_WAIT = 1u, /**< wait (within the timeout) for the segment to be created */
  CSHM_ATTACH_KEEP = 2u  /**< leave it as found: an orphan is not removed by this handle */
};

/* ---- version ---------------------------------------------------------------- */

/** The library's version as CSHM_VERSION_HEX (0xMMmmpp) and as "M.m.p". */
CSHM_EXTERN unsigned cshm_version(void);
CSHM_EXTERN const char *cshm_version_string(void);

/* ---- handle life cycle -------------------------------------------------------- */

/** Creates an unattached handle in *out, with the default key type and permissions
 * 0600, and sets its key when key is not NULL (as cshm_set_key()).
 * Returns CSHM_OK; CSHM_EINVAL (out is NULL); CSHM_ENOMEM; or the codes of
 * cshm_set_key() (CSHM_EKEY), in which case *out is NULL. The detail goes to
 * cshm_last_error_string(). Qt: QSharedMemory(key) cannot fail. */
CSHM_EXTERN int cshm_new(cshm **out, const char *key);

/** Detaches (releasing a lock the calling thread holds) and frees the handle. NULL is
 * fine. If another thread holds the lock through this handle (or held it and exited),
 * the mapping and its descriptor are leaked rather than unmapped: on Unix the process
 * stays counted as a holder, so the segment outlives it only until it exits. In a
 * forked child it only unmaps and closes. */
CSHM_EXTERN void cshm_free(cshm *h);

/* ---- keys --------------------------------------------------------------------- */

/** Sets the key (UTF-8) and derives the native key for the handle's key type, after
 * detaching if attached. The default derivation is frozen (README, "Names").
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, forked child); CSHM_EKEY (key NULL or empty,
 * invalid UTF-8); CSHM_ENOTSUP (key type not implemented on this build); or the codes
 * of cshm_detach(). An invalid key leaves the handle without a key. Qt: setKey()
 * accepts empty keys and invalid UTF-16; it never fails. */
CSHM_EXTERN int cshm_set_key(cshm *h, const char *key);

/** Sets the key type and re-derives the native key from the key, after detaching.
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, t out of range, forked child);
 * CSHM_ENOTSUP (type not implemented here); the codes of cshm_set_key(). When only a
 * native key is set, it is kept and re-validated for the new type (CSHM_EKEY). */
CSHM_EXTERN int cshm_set_key_type(cshm *h, cshm_key_type t);

/** Sets an OS object name, used verbatim, and the key type, after detaching if
 * attached; the key becomes NULL. Names are validated per platform with errors that
 * name the limit: Linux "/" + 1..255 bytes without another "/"; macOS at most 31 bytes
 * including "/"; Windows an optional "Local\" or "Global\" prefix, no other "\".
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, t out of range, forked child: nothing
 * changed); CSHM_EKEY (native NULL, empty, not UTF-8, invalid, too long); CSHM_ENOTSUP
 * (key type not implemented on this build); or the codes of cshm_detach(). As with
 * cshm_set_key(), a rejected name leaves the handle detached, with neither a key nor
 * a native key. Qt: setNativeKey() never fails. */
CSHM_EXTERN int cshm_set_native_key(cshm *h, const char *native, cshm_key_type t);

/** The key given to cshm_new()/cshm_set_key(); NULL when none was set or only a
 * native key was. Valid until the key changes or the handle is freed. */
CSHM_EXTERN const char *cshm_key(const cshm *h);

/** The native key (OS object name); NULL when none is set. */
CSHM_EXTERN const char *cshm_native_key(const cshm *h);

/** The handle's key type; CSHM_KEY_DEFAULT for NULL. */
CSHM_EXTERN cshm_key_type cshm_get_key_type(const cshm *h);

/** Writes the native key that `key` derives to for type t into buf (len bytes,
 * including the NUL). Returns CSHM_OK; CSHM_EINVAL (buf NULL, len too small, t out
 * of range); CSHM_EKEY; CSHM_ENOTSUP. */
CSHM_EXTERN int cshm_native_key_for(char *buf, size_t len, const char *key,
                                    cshm_key_type t);

/** Sets the application group (Apple App Sandbox: "group.com.example.app" or
 * "<TeamID>.com.example.app") whose prefix every default native name then carries:
 * "<group>/<stem>", shortened to fit macOS's 31 bytes (keeping at least 12
 * characters of the key's hash), and where the sidecar files live (the group's
 * container). Process-wide: set it once, before any handle exists. NULL or "" clears.
 * Returns CSHM_OK; CSHM_EKEY (longer than 18 bytes, not printable ASCII, or a "/");
 * CSHM_ENOTSUP (builds without the portable POSIX profile: Linux default, Windows).
 * Not in Qt (Qt takes the native key verbatim). */
CSHM_EXTERN int cshm_set_app_group(const char *group);

/** Sets the POSIX permission bits (0..0777) that cshm_create() applies exactly, and
 * that cshm_attach() uses to decide whether a segment owned by another user may be
 * attached (only if mode grants group or other access). Default 0600. Takes effect
 * at the next create/attach. A mode without owner write (0444, 0400) binds the
 * creator's user too, root excepted: the creating handle keeps read-write access and
 * the lock, later attaches get what the mode grants (CSHM_READ_ONLY, and then
 * cshm_lock gives CSHM_EPERM), and such an orphan can be reclaimed only by a user who
 * may write it. Returns CSHM_OK; CSHM_EINVAL (h NULL, bits outside 0777, forked
 * child). Windows ignores the bits. Qt: fixed 0600. */
CSHM_EXTERN int cshm_set_permissions(cshm *h, unsigned mode);

/* ---- segments ----------------------------------------------------------------- */

/** Creates a segment of `size` bytes (all zero) under the handle's native key and
 * attaches to it with `mode`. An orphan (a segment no live process uses) under the
 * name is replaced. Same as cshm_create_ex(h, size, mode, 0, NULL).
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, already attached, mode invalid, forked child);
 * CSHM_EKEY (no key set); CSHM_ESIZE (0, or too large to map); CSHM_EEXIST (a live
 * segment has the name, whichever key made it; with CSHM_CREATE_NO_RECLAIM, any
 * segment; or the name kept being taken and freed by others); CSHM_EPERM;
 * CSHM_ENOMEM (no memory or tmpfs space); CSHM_ELOCK (the lock could not be
 * initialised); CSHM_ENOTSUP (key type); CSHM_EUNKNOWN; for CSHM_KEY_QT_LEGACY only,
 * CSHM_EBUSY (Qt's key file or semaphore kept being replaced by others meanwhile).
 * (An orphan made for another key that derives the same name is replaced;
 * cshm_attach() tells such a live segment apart with CSHM_EKEY.)
 * Qt: size must be > 0; an orphan makes create() fail (POSIX) until removed.
 * The Qt key types on Unix take Qt's lock around the create, as Qt does; the lock
 * has no time limit there: System V waits while a live process holds it (a dead
 * holder's is released by the kernel); the POSIX types make the semaphore anew, so
 * only a process that opened that new semaphore in the meantime can delay them. */
CSHM_EXTERN int cshm_create(cshm *h, size_t size, cshm_access mode);

/** cshm_create() with flags (CSHM_CREATE_*). With CSHM_CREATE_OR_ATTACH an existing
 * segment is attached instead (its size is kept and `size` is ignored, 0 included);
 * *created (if not NULL) tells which happened. CSHM_CREATE_NO_RECLAIM fails with CSHM_EEXIST
 * on an orphan. CSHM_CREATE_RESERVE commits the whole backing store now (costs
 * O(size)); without it only the header page is touched, and a later write can fault
 * (SIGBUS) if the memory file system fills up in between - cshm checks free space
 * first, best effort. Returns the codes of cshm_create() and of cshm_attach();
 * CSHM_EINVAL for unknown flags. */
CSHM_EXTERN int cshm_create_ex(cshm *h, size_t size, cshm_access mode,
                               unsigned flags, bool *created);

/** Attaches to an existing segment. CSHM_READ_ONLY maps the data read-only (writes
 * fault); the lock still works. Returns CSHM_OK; CSHM_EINVAL (h NULL, already
 * attached, mode invalid, forked child); CSHM_EKEY (no key set; the segment was
 * made for another key); CSHM_ENOENT; CSHM_EPERM (no access, or owned by another
 * user and the handle's permissions grant nobody else access); CSHM_ECORRUPT (the
 * header is invalid); CSHM_EVERSION (other format major or lock ABI); CSHM_ENOTSUP
 * (creator in another PID namespace, key type); CSHM_ENOMEM; CSHM_EUNKNOWN.
 * Same as cshm_attach_timeout(h, mode, CSHM_INFINITE): with the Qt key types on Unix
 * it waits as long as another process holds Qt's lock (as Qt's attach() does). */
CSHM_EXTERN int cshm_attach(cshm *h, cshm_access mode);

/** As cshm_attach(), waiting at most `ms` milliseconds (a monotonic clock) for a lock
 * that attaching takes. 0 does not wait; CSHM_INFINITE waits forever.
 * - The default key type takes no user lock at attach: nothing waits for a lock
 *   holder, and `ms` does not apply (the short internal steps that serialise
 *   attach with create and with the last detacher are not bounded by it).
 * - The Qt key types on Unix take Qt's semaphore around the attach, as Qt does:
 *   while another process holds the lock, attach waits for it up to `ms`. A POSIX
 *   semaphore whose holder died stays taken: attach then times out (Qt's attach
 *   waits forever there). CSHM_KEY_QT_LEGACY (System V): the handle keeps `ms` as
 *   the bound of the wait its detach makes for the lock (see cshm_detach()).
 * - The Qt key types on Windows take Qt's semaphore around the attach too: attach
 *   waits for it up to `ms`; one whose holder died stays taken, so attach then times
 *   out (Qt's attach waits forever there).
 * Returns the codes of cshm_attach(), and CSHM_ETIMEDOUT (the lock stayed held for
 * `ms`; the handle stays unattached). Not in Qt. */
CSHM_EXTERN int cshm_attach_timeout(cshm *h, cshm_access mode, uint32_t ms);

/** cshm_attach_timeout() with flags (CSHM_ATTACH_*); `ms` bounds the whole call.
 * - CSHM_ATTACH_WAIT: a segment that does not exist yet is waited for: the name is
 *   looked up again after 1 ms, then less and less often, at most 50 ms apart,
 *   until it appears or `ms` has passed (CSHM_ENOENT then). With 0 it is one look;
 *   with CSHM_INFINITE it waits until the segment appears.
 * - CSHM_ATTACH_KEEP: leave the segment as it was found. An orphan (it exists and
 *   no process is attached to it just before this one attaches: a crashed
 *   application's data) is not removed when this handle detaches, even as its only
 *   holder: one look leaves it in place (the next create still replaces it). A
 *   segment in use is removed by its last detacher as usual, this handle included,
 *   so an observer that outlives the application does not leave an orphan behind.
 *   Finding out costs a look at the segment first (as cshm_inspect()); a process
 *   that attaches or leaves between that look and the attach can make the guess
 *   wrong. For CSHM_KEY_QT_LEGACY a kept orphan keeps Qt's segment and key file.
 *   No effect on Windows, where the kernel removes a segment with its last handle,
 *   and on the Qt POSIX types, whose detach removes nothing anyway.
 * Returns the codes of cshm_attach_timeout(); CSHM_EINVAL for unknown flags;
 * CSHM_ENOENT (with CSHM_ATTACH_WAIT: it did not appear within `ms`). Not in Qt. */
CSHM_EXTERN int cshm_attach_ex(cshm *h, cshm_access mode, unsigned flags, uint32_t ms);

/** Detaches, first releasing a lock the calling thread holds through this handle.
 * On Unix (default key type) the last detacher removes the segment's name.
 * Qt key types on Unix: the POSIX types (CSHM_KEY_QT_LEGACY_POSIX,
 * CSHM_KEY_QT_PLATFORM_SAFE) remove nothing at detach and take no lock, so a dead
 * lock holder cannot block them (Qt's detach waits for the lock there, forever).
 * CSHM_KEY_QT_LEGACY takes Qt's lock, as Qt does, to decide whether it is the last
 * user (a dead holder's lock is released by the kernel: SEM_UNDO). It waits for a live
 * holder as long as the attach was allowed to (cshm_attach_timeout(); forever after
 * cshm_attach() and cshm_create()); past that bound it detaches without removing
 * anything: the segment, if nobody else uses it, is an orphan that the next create
 * reclaims, and a semaphore this handle owns is left to the next creator.
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, not attached, forked child); CSHM_EBUSY
 * (another thread holds the lock through this handle; nothing changed).
 * Qt: detach() returns false when not attached; it also drops the lock silently. */
CSHM_EXTERN int cshm_detach(cshm *h);

/** True when the handle is attached. */
CSHM_EXTERN bool cshm_is_attached(const cshm *h);

/** Removes the segment named by `key` (type t) now, whoever uses it: existing
 * attachments keep their memory, later attaches fail with CSHM_ENOENT, and a later
 * create makes a new segment. A detacher of the old segment never removes the new
 * one. Returns CSHM_OK; CSHM_EKEY; CSHM_EINVAL (t out of range); CSHM_ENOENT;
 * CSHM_EPERM; CSHM_EBUSY (the name kept being replaced); CSHM_ENOTSUP (Windows: the
 * kernel owns segments). Two removals racing a re-create may remove the new segment's
 * name. Not in Qt. */
CSHM_EXTERN int cshm_remove(const char *key, cshm_key_type t);

/** Removes the segment whose OS object name is `native` (key type t), as
 * cshm_remove() does for a key: for an orphan whose key is unknown, by the name
 * cshm_list() reports (or that cshm_native_key_for() derives). It removes exactly
 * what cshm_remove() removes for a key that derives `native` (with its semaphore,
 * for the Qt key types), whoever uses it, and validates the name as
 * cshm_set_native_key() does.
 * Returns CSHM_OK; CSHM_EKEY (native NULL, empty, not UTF-8, or not a valid native
 * name here: the message names the limit); CSHM_EINVAL (t out of range);
 * CSHM_ENOENT; CSHM_EPERM; CSHM_EBUSY (the name kept being replaced); CSHM_ENOTSUP
 * (Windows: the kernel owns segments; a key type not implemented on this build).
 * The detail goes to cshm_last_error_string(). Not in Qt. */
CSHM_EXTERN int cshm_remove_native(const char *native, cshm_key_type t);

/** The values of cshm_info.locked. */
typedef enum {
  CSHM_LOCK_UNKNOWN = -1,   /**< cannot be told without taking the lock (Windows) */
  CSHM_LOCK_FREE = 0,       /**< nobody holds it */
  CSHM_LOCK_HELD = 1,       /**< a live thread holds it (or one that cannot be checked:
                               another user's process in the portable profile) */
  CSHM_LOCK_OWNER_DIED = 2  /**< its owner died holding it: the next lock takes it and
                               returns CSHM_OWNER_DIED (default key type, Linux and
                               the portable profile: told from the lock in the header) */
} cshm_lock_state;

/** What cshm_inspect() tells about a segment. */
typedef struct cshm_info {
  uint64_t size;          /**< exact data size */
  unsigned format_major;  /**< segment format version */
  unsigned format_minor;
  uint32_t creator_pid;   /**< process that created it (may have exited) */
  int locked;             /**< a cshm_lock_state: CSHM_LOCK_HELD (1), CSHM_LOCK_FREE (0),
                             CSHM_LOCK_OWNER_DIED (2), CSHM_LOCK_UNKNOWN (-1) */
  uint32_t lock_owner;    /**< OS thread id holding it; 0 when free, when its owner died,
                             or not recorded */
  int attached;           /**< 1: some process is attached; 0: none (an orphan, which
                             the next create replaces); -1: unknown on this OS */
} cshm_info;

/** Describes the segment named by the handle's key (or native key) without attaching
 * and without disturbing its holders or its lock. The handle must not be attached.
 * Returns CSHM_OK; CSHM_EINVAL (h or out NULL, attached, forked child); CSHM_EKEY (no
 * key set; made for another key); CSHM_ENOENT; CSHM_EPERM; CSHM_ECORRUPT;
 * CSHM_EVERSION; CSHM_ENOTSUP (key type). Not in Qt. */
CSHM_EXTERN int cshm_inspect(cshm *h, cshm_info *out);

/** Calls fn(native_name, ctx) for each default-key-type segment name present in the
 * OS's namespace (Linux: the cshm_* objects of /dev/shm), in no particular order,
 * until fn returns nonzero. Returns CSHM_OK; CSHM_EINVAL (fn NULL); CSHM_ENOTSUP
 * where the OS cannot list its shared-memory objects (macOS, Windows); CSHM_EPERM;
 * CSHM_EUNKNOWN. Not in Qt. */
CSHM_EXTERN int cshm_list(int (*fn)(const char *native, void *ctx), void *ctx);

/* ---- lock --------------------------------------------------------------------- */

/** Takes the segment's lock, waiting as long as needed.
 * Returns CSHM_OK; CSHM_OWNER_DIED (lock held; its previous owner died holding it:
 * the data may be inconsistent); CSHM_EDEADLK (the calling thread holds it already,
 * through this or another handle); CSHM_EBUSY (another thread holds it through this
 * same handle: use one handle per thread); CSHM_EINVAL (h NULL, not attached, forked
 * child); CSHM_EPERM (the process may only read the segment); CSHM_ENOMEM (the thread
 * holds 64 segments' locks already; not on Linux with the default key type, whose
 * mutex detects relocking itself); CSHM_ELOCK.
 * A thread that exits holding the lock: on Linux the next locker gets
 * CSHM_OWNER_DIED; in the portable profile (macOS, FreeBSD) owner death is known per
 * process, so the lock stays held until the whole process ends (waiters time out).
 * The exited thread's handle can only be freed, which leaks its mapping and its
 * descriptor: the process stays a holder of the segment until it exits.
 * Qt: lock() twice warns and returns true; owner death deadlocks (POSIX, Windows). */
CSHM_EXTERN int cshm_lock(cshm *h);

/** As cshm_lock(), without waiting: CSHM_EBUSY when another thread holds the lock.
 * Not in Qt. */
CSHM_EXTERN int cshm_try_lock(cshm *h);

/** As cshm_lock(), waiting at most `ms` milliseconds (a monotonic clock) before
 * returning CSHM_ETIMEDOUT. 0 behaves as cshm_try_lock() but returns CSHM_ETIMEDOUT;
 * CSHM_INFINITE waits forever. Not in Qt. */
CSHM_EXTERN int cshm_lock_timeout(cshm *h, uint32_t ms);

/** Releases the lock held by the calling thread through this handle.
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, not attached, not held by the calling thread
 * through this handle, forked child); CSHM_ELOCK. Qt: returns false, sets no error. */
CSHM_EXTERN int cshm_unlock(cshm *h);

/* ---- waiting and notifying ------------------------------------------------------ */

/** Waits for a notification on the segment, as a condition variable whose mutex is
 * the segment's lock: the calling thread holds the lock through h; the call releases
 * it and starts sleeping atomically (a cshm_notify_one() or cshm_notify_all() made
 * after the release, by any thread of any process, is never lost), sleeps until
 * notified, woken spuriously or `ms` milliseconds elapse (a monotonic clock; 0: do
 * not sleep; CSHM_INFINITE: no limit), then takes the lock again. As with
 * pthread_cond_timedwait(), re-taking the lock is not bounded by `ms`, and a return
 * says nothing about the data: re-check your predicate in a loop.
 *
 * Returns, with the lock held again: CSHM_OK (notified, or woken spuriously);
 * CSHM_ETIMEDOUT (`ms` elapsed before a wake-up; a notify racing the deadline may
 * end as this); CSHM_OWNER_DIED (a process
 * died holding the lock, while this thread waited or as it re-took it: repair the
 * data; a waiter checks about every 50 ms, so a notifier killed holding the lock
 * turns into this even without a notification). Returns, with the lock still held
 * (nothing was released): CSHM_EINVAL (not attached; forked child; the calling thread
 * does not hold the lock through h); CSHM_EPERM (the process may only read the
 * segment); CSHM_ENOTSUP (the Qt key types, for which cshm has no notification: Qt
 * has none either; its nearest tool is a QSystemSemaphore beside the segment).
 * CSHM_EINVAL also for h NULL. CSHM_ELOCK: the OS refused; cshm_unlock() then tells
 * whether the lock is still held (CSHM_EINVAL if not).
 *
 * A waiter killed while waiting leaves a count in the header one too high: later
 * notifications then make a system call that was not needed, nothing worse (never a
 * lost wake-up). A waiter killed before it released the lock is a dead lock owner
 * like any other (the next locker gets CSHM_OWNER_DIED). A notifier killed before it
 * notified has notified nobody: waiters wait for their timeout or the next
 * notification. Segments of format 1.0 (earlier versions) work: their zeroed
 * reserved bytes are a valid start; earlier versions ignore the words this uses.
 * Not in Qt. */
CSHM_EXTERN int cshm_wait(cshm *h, uint32_t ms);

/** Wakes at least one thread (of any process) waiting in cshm_wait() on the segment,
 * if any waits; the lock may be held or not (hold it while changing the predicate the
 * waiters test, as with any condition variable). With no waiter it is one atomic
 * increment and no system call. The kernel chooses whom it wakes: a thread that
 * started waiting after this notify (a higher-priority one, say) may take the wake-up;
 * a thread that waited before it then returns within its next owner check (50 ms),
 * never later. Returns CSHM_OK; CSHM_EINVAL (h NULL, not attached, forked child);
 * CSHM_EPERM (the process may only read the segment); CSHM_ENOTSUP (the Qt key
 * types); CSHM_ELOCK (the OS refused the wake). Not in Qt. */
CSHM_EXTERN int cshm_notify_one(cshm *h);

/** As cshm_notify_one(), waking every thread waiting in cshm_wait() on the segment.
 * Returns the codes of cshm_notify_one(). Not in Qt. */
CSHM_EXTERN int cshm_notify_all(cshm *h);

/** Reads the segment's event word: a 32-bit sequence number that every
 * cshm_event_signal() increments (wrapping), for lock-free one-way signalling. Pass
 * it to cshm_event_wait(). Needs no lock. Returns CSHM_OK and sets *out; CSHM_EINVAL
 * (h or out NULL, not attached, forked child); CSHM_ENOTSUP (the Qt key types). Not
 * in Qt (its nearest tool is a QSystemSemaphore). */
CSHM_EXTERN int cshm_event_value(cshm *h, uint32_t *out);

/** Increments the event word and wakes every thread of any process waiting in
 * cshm_event_wait(). Needs no lock; with no waiter it makes no system call.
 * Returns CSHM_OK; CSHM_EINVAL (h NULL, not attached, forked child); CSHM_EPERM (the
 * process may only read the segment); CSHM_ENOTSUP (the Qt key types); CSHM_ELOCK
 * (the OS refused the wake). Not in Qt. */
CSHM_EXTERN int cshm_event_signal(cshm *h);

/** Waits until the event word differs from `seen` (a value cshm_event_value() gave),
 * at most `ms` milliseconds (0: only look; CSHM_INFINITE: no limit). Returns at once
 * when it differs already, so a signal between reading the value and waiting is never
 * lost. Needs no lock and does not touch it. Returns CSHM_OK (the word differs from
 * `seen`); CSHM_ETIMEDOUT (`ms` elapsed before a wake-up; a signal racing the deadline
 * may end as this: cshm_event_value() tells); CSHM_EINVAL (h NULL, not attached, forked child);
 * CSHM_EPERM (the process may only read the segment: it cannot register as a
 * waiter); CSHM_ENOTSUP (the Qt key types); CSHM_ELOCK (the OS refused). A waiter
 * killed while waiting costs later signals one unneeded system call; 2^32 signals
 * between two looks are indistinguishable from none. Not in Qt. */
CSHM_EXTERN int cshm_event_wait(cshm *h, uint32_t seen, uint32_t ms);

/* ---- memory ------------------------------------------------------------------- */

/** The first byte of the segment's data (page-aligned); NULL when not attached. With
 * CSHM_READ_ONLY the pages are read-only: writing through the pointer faults. */
CSHM_EXTERN void *cshm_data(cshm *h);
CSHM_EXTERN const void *cshm_const_data(const cshm *h);

/** The exact size given to create() (default key type); 0 when not attached.
 * Qt: page-rounded on Windows and macOS. */
CSHM_EXTERN size_t cshm_size(const cshm *h);

/* ---- errors ------------------------------------------------------------------- */

/** The last result on this handle (CSHM_OK, CSHM_OWNER_DIED or a CSHM_E* code);
 * CSHM_EINVAL for NULL. */
CSHM_EXTERN int cshm_error(const cshm *h);

/** The detail of the handle's last failure: operation, key, native key, and the OS
 * error text; "" after a success. Valid until the next call on the handle. */
CSHM_EXTERN const char *cshm_error_string(const cshm *h);

/** The same detail for the calling thread's last failed call (thread-local), so that
 * calls without a handle can be explained. Valid until the thread's next failure. */
CSHM_EXTERN const char *cshm_last_error_string(void);

/** The message of a code ("segment not found"), or "unknown error code" for others. */
CSHM_EXTERN const char *cshm_strerror(int code);

/** The name of a code ("CSHM_ENOENT"), or "CSHM_E?" for others. */
CSHM_EXTERN const char *cshm_error_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* CSHM_CSHM_H */
