/* The Qt key types on Unix (DESIGN.md §2, research/qt.md §2-§4): what qt_sysv.c
 * (CSHM_KEY_QT_LEGACY: System V), qt_posix.c (CSHM_KEY_QT_LEGACY_POSIX and
 * CSHM_KEY_QT_PLATFORM_SAFE: POSIX IPC) and qt_common.c share.
 *
 * These key types have no header: the data starts at offset 0 and the size is what
 * the OS reports, as in Qt. The lock is Qt's semaphore, so owner death cannot be
 * reported (System V's SEM_UNDO releases a dead holder's lock silently; a POSIX
 * semaphore stays taken). */
#ifndef CSHM_POSIX_QT_H
#define CSHM_POSIX_QT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "handle.h"
#include "heldlock.h"
#include "keytype.h"
#include "qt_names.h"

/* The tables, indexed by cshm_key_type - CSHM_KEY_QT_LEGACY (keytype.c). */
extern const cshm__keytype cshm__keytype_qt_legacy;        /* qt_sysv.c */
extern const cshm__keytype cshm__keytype_qt_legacy_posix;  /* qt_posix.c */
extern const cshm__keytype cshm__keytype_qt_platform_safe; /* qt_posix.c */

/* The Qt naming rules of the OS this is built for. */
#ifdef __APPLE__
#define CSHM__QT_THIS_OS CSHM__QT_OS_APPLE
#else
#define CSHM__QT_THIS_OS CSHM__QT_OS_UNIX
#endif

/* Linux's own facilities (the default Linux profile, built with _GNU_SOURCE): timed
 * semaphore waits, O_CLOEXEC and fchmod on shm descriptors, sem_getvalue. The
 * portable profile uses only what macOS offers, even on Linux. */
#if defined(__linux__) && defined(_GNU_SOURCE)
#define CSHM__QT_LINUX 1
#else
#define CSHM__QT_LINUX 0
#endif

/* QDir::tempPath() of Qt 5.15 and 6.x on Unix, into out (cap bytes): $TMPDIR, or /tmp
 * when it is unset or empty (macOS: the user's temporary directory), made canonical
 * by realpath() - symlinks resolved, trailing "/" dropped - and "" when that fails
 * (a missing directory: Qt then names key files in "/"). A $TMPDIR that is not
 * UTF-8 gives "" as well (Qt decodes it to U+FFFD and finds no such directory).
 * Returns CSHM_OK or CSHM_EKEY (longer than cap). */
int cshm__qt_temp_path(char *out, size_t cap, cshm__diag *d);

/* The held-lock identity of a Qt lock: a hash of its namespace ("sysv", "posix") and
 * the semaphore's name, so that every handle of one segment in a process shares it. */
void cshm__qt_identity(const char *ns, const char *name, cshm__identity *id);

/* True when the calling thread holds the lock of `id` through another handle: create,
 * attach and detach then skip taking Qt's semaphore (they already hold it), instead
 * of deadlocking on it. */
bool cshm__qt_held_by_me(const cshm__identity *id);

/* A monotonic deadline `ms` from now (CSHM_INFINITE: none). */
typedef struct cshm__qt_deadline {
  bool infinite;
  int64_t at_ns;
} cshm__qt_deadline;

cshm__qt_deadline cshm__qt_deadline_in(uint32_t ms);

/* Nanoseconds left before the deadline (0 when passed; INT64_MAX when infinite). */
int64_t cshm__qt_ns_left(const cshm__qt_deadline *dl);

/* Sleeps for a polling step of a lock wait: 50 us, doubling per call up to 5 ms, and
 * never past the deadline. *step is the state (start at 0). */
void cshm__qt_poll_pause(const cshm__qt_deadline *dl, unsigned *step);

#endif
