/* The Qt key types on Windows (DESIGN.md §2, research/qt.md §2.1-§2.3, §3.4, §3.5, §4):
 * Qt's Windows backend, as QSharedMemory uses it in Qt 4.4 to 6.x.
 *
 * - CSHM_KEY_QT_LEGACY (QSharedMemory(QString)/setKey(), every Qt on Windows): the
 *   file mapping "qipc_sharedmemory_<letters><sha1>" and the lock's semaphore
 *   "qipc_systemsem_<letters><sha1>" (qt_names.h), with no "Local\" or "Global\": the
 *   session's namespace, which is where an unprefixed name goes.
 * - CSHM_KEY_QT_PLATFORM_SAFE (Qt >= 6.6 platformSafeKey()): "shm_" + key, a leading
 *   "Local\" or "Global\" of the key kept in front, cut to MAX_PATH (260) UTF-16 code
 *   units; the semaphore is that name cut to MAX_PATH - 5 units + "_sem"
 *   (QSharedMemoryPrivate::semaphoreNativeKey()).
 * - A native key (either type) is Qt >= 6.6's QNativeIpcKey(name, Windows): it names
 *   the mapping, and its semaphore is name.left(255) + "_sem". (Qt 5.15 and 6.0-6.5
 *   have no lock at all for a native key.)
 * - CSHM_KEY_QT_LEGACY_POSIX: Qt has no POSIX IPC on Windows
 *   (isKeyTypeSupported(PosixRealtime) is false, legacyNativeKey(k, PosixRealtime) is
 *   empty): every operation is CSHM_ENOTSUP.
 *
 * The mapping: CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, size),
 * committed at once, zero-filled by the kernel; no header (data at offset 0, Qt's raw
 * layout). The size is what Qt's size() reports: VirtualQuery's RegionSize of the
 * view, the requested size rounded up to the page size (4 KiB) - for the creator too,
 * as Qt's create() ends in its attach(). Lifetime is the kernel's: the mapping lives
 * while any process has a handle to it, so there is nothing to reclaim, create() on a
 * name some process has open is CSHM_EEXIST, and cshm_remove() is CSHM_ENOTSUP.
 *
 * The lock: Qt's QSystemSemaphore, a named semaphore with initial count 1. P is
 * WaitForSingleObject (try: 0 ms, timeout: the milliseconds), V is ReleaseSemaphore.
 * The semaphore is opened, or created if missing, at every create and attach (Qt's
 * CreateSemaphore ignores the access mode on Windows) and held with the mapping until
 * detach, closed after the mapping. A semaphore has no owner, so:
 * - owner death cannot be reported, and a holder that dies leaves the count at 0: the
 *   lock stays taken for as long as any other process keeps a handle to the semaphore
 *   (Qt deadlocks there: research/qt.md §4, §5.3). cshm_try_lock()/cshm_lock_timeout()
 *   see it busy; it is freed - and the name's next create starts afresh - once every
 *   process has closed the segment.
 * - relocking through any handle is the front end's CSHM_EDEADLK: the held-lock
 *   identity is a hash of the semaphore's name (without "Local\", which names the same
 *   object; in session 0 without "Global\" either).
 *
 * create and attach hold the lock around the operation, as Qt's do (they wait while
 * any process holds it; cshm_attach_timeout() bounds attach's wait by its ms: a
 * holder that died then gives CSHM_ETIMEDOUT instead of Qt's hang); a thread that
 * holds it through another handle does not wait for itself.
 *
 * Not copied from Qt:
 * - detach does not take the lock. Qt's does, but on Windows it guards nothing (the
 *   kernel counts handles: there is no last-detacher check), and waiting there would
 *   hang cshm_detach() and cshm_free() forever behind a holder that died.
 * - create() on a live name and attach() on a missing one fail at once, before the
 *   semaphore is waited for (attach makes no semaphore then).
 * - The semaphore's maximum count is 1 (Qt: MAXLONG): an unlock of a lock nobody holds
 *   - never done by Qt or cshm - fails (ERROR_TOO_MANY_POSTS) instead of letting two
 *   processes in. Where Qt made the semaphore, its maximum applies.
 * - Handles ask for what they use: the mapping FILE_MAP_READ (| FILE_MAP_WRITE), not
 *   Qt's FILE_MAP_ALL_ACCESS (which a read-only attach of Qt's also asks for); the
 *   semaphore SYNCHRONIZE | SEMAPHORE_MODIFY_STATE.
 * - Windows documents object names as limited to MAX_PATH (260) characters. Qt's own
 *   platformSafeKey() cuts names there; its legacy names are not checked (a key with
 *   more than 202 ASCII letters makes a longer one). cshm refuses names over MAX_PATH
 *   with CSHM_EKEY, and names that Qt's cut would end in half a surrogate pair (the
 *   UTF-16 name would hold a lone surrogate, which no UTF-8 key can name).
 *
 * cshm_inspect(): the size Qt would report (a view mapped and unmapped at once),
 * attached 1 (a mapping that exists is open somewhere), format 0.0 and no creator (no
 * header), and whether the lock is held - the semaphore's count, read with
 * NtQuerySemaphore without taking it (-1 where that cannot be asked).
 *
 * Security: NULL security attributes (the creator's default DACL), as Qt's;
 * cshm_set_permissions() bits are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "handle.h"
#include "heldlock.h"
#include "keytype.h"
#include "qt_names.h"
#include "sha1.h"
#include "win32.h"

#ifndef SEMAPHORE_QUERY_STATE
#define SEMAPHORE_QUERY_STATE 0x0001
#endif

#define NAME_UNITS_MAX CSHM__QT_WIN_MAX_PATH       /* 260 */
#define SEM_SUFFIX "_sem"                           /* QSharedMemoryPrivate::semaphoreNativeKey */
#define SEM_CUT (CSHM__QT_WIN_MAX_PATH - 4 - 1)     /* nativeKey.left(MAX_PATH - 4 - 1) */
#define WNAME_CAP (CSHM__QT_WIN_MAX_PATH + 1)      /* 260 units and the NUL */

/* An attached Qt segment (h->seg). */
typedef struct qt_win {
  HANDLE mapping;
  HANDLE sem;
  void *addr;
  size_t size;
  char shm_name[CSHM__NATIVE_MAX];
  char sem_name[CSHM__NATIVE_MAX];
  wchar_t wshm[WNAME_CAP];
  wchar_t wsem[WNAME_CAP];
} qt_win;

static qt_win *state_of(const cshm *h) { return (qt_win *)(void *)h->seg; }

/* ---- names ---------------------------------------------------------------------- */

/* The length of the UTF-8 sequence that starts with c (valid input). */
static size_t seq_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* True when the first `units` UTF-16 code units of s end inside a surrogate pair. */
static bool cuts_pair(const char *s, size_t units) {
  size_t used = 0;
  for (const char *p = s; *p; p += seq_len((unsigned char)*p)) {
    size_t u = seq_len((unsigned char)*p) == 4 ? 2 : 1;
    if (used + u > units)
      return used < units;
    used += u;
  }
  return false;
}

static const char *skip_namespace(const char *name) {
  if (strncmp(name, "Local\\", 6) == 0)
    return name + 6;
  if (strncmp(name, "Global\\", 7) == 0)
    return name + 7;
  return name;
}

/* A Windows object name of a Qt key type: an optional "Local\" or "Global\" (so
 * spelled), then a name without "\", at most MAX_PATH UTF-16 code units in all. */
static int check_object_name(const char *name, const char *what, cshm__diag *d) {
  const char *rest = skip_namespace(name);
  if (rest[0] == '\0')
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows %s needs a name after its \"Local\\\" or \"Global\\\" prefix",
                          what);
  if (strchr(rest, '\\') != NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows %s has no \"\\\" other than that of an optional \"Local\\\" "
                          "or \"Global\\\" prefix: \"%s\"",
                          what, name);
  size_t units = cshm__qt_utf16_length(name);
  if (units > NAME_UNITS_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows %s has at most MAX_PATH (%d) UTF-16 code units; this one "
                          "has %zu",
                          what, NAME_UNITS_MAX, units);
  return CSHM_OK;
}

/* A mapping's name whose semaphore is name.left(255) + "_sem" (a native key, a
 * platform-safe name). */
static int check_names(const char *name, const char *what, cshm__diag *d) {
  int rc = check_object_name(name, what, d);
  if (rc < 0)
    return rc;
  if (cuts_pair(name, SEM_CUT))
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "Qt names the lock's semaphore after the first %d UTF-16 code units "
                          "of the %s, which end inside a surrogate pair here (a character "
                          "above U+FFFF): no UTF-8 name can be that semaphore's",
                          SEM_CUT, what);
  return CSHM_OK;
}

static int check_native(const char *native, cshm__diag *d) {
  return check_names(native, "native key", d);
}

static int derive_legacy(const char *key, char *out, cshm__diag *d) {
  /* ASCII only: bytes are UTF-16 units. The memory's prefix is the longer one. */
  size_t len = cshm__qt_legacy_windows_name(key, CSHM__QT_MEMORY, out, CSHM__NATIVE_MAX);
  if (len > NAME_UNITS_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a key has at most %d ASCII letters (this one %zu): Qt's name would "
                          "have %zu characters, over MAX_PATH (%d)",
                          NAME_UNITS_MAX - (int)(sizeof CSHM__QT_SHM_PREFIX - 1) -
                              CSHM__QT_HEX_LEN,
                          cshm__qt_letter_count(key), len, NAME_UNITS_MAX);
  return CSHM_OK;
}

static int derive_platform_safe(const char *key, char *out, cshm__diag *d) {
  /* Qt: prefix + "shm_" + payload, truncated to MAX_PATH units. Where that cut falls
   * inside a surrogate pair, Qt's name ends in a lone surrogate. */
  const char *payload = skip_namespace(key);
  size_t prefix = (size_t)(payload - key);
  size_t need = strlen(key) + 5;
  char *full = malloc(need);
  if (full == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  snprintf(full, need, "%.*sshm_%s", (int)prefix, key, payload);
  bool cut_inside = cuts_pair(full, NAME_UNITS_MAX);
  free(full);
  if (cut_inside)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "Qt cuts the name to MAX_PATH (%d) UTF-16 code units, inside a "
                          "surrogate pair here (a character above U+FFFF): its name would end "
                          "in half a character, which no UTF-8 key can name",
                          NAME_UNITS_MAX);
  size_t len = cshm__qt_platform_safe_name(key, CSHM__QT_MEMORY, CSHM__QT_OS_WINDOWS, out,
                                           CSHM__NATIVE_MAX);
  if (len >= CSHM__NATIVE_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the name would have %zu bytes", len);
  return check_names(out, "name", d);
}

/* The semaphore behind the handle's lock (qt.md §2.3). */
static void semaphore_name(const cshm *h, char *out, size_t cap) {
  if (h->key != NULL && h->type == CSHM_KEY_QT_LEGACY) {
    cshm__qt_legacy_windows_name(h->key, CSHM__QT_SEMAPHORE, out, cap);
  } else if (h->key != NULL) {
    cshm__qt_platform_safe_name(h->key, CSHM__QT_SEMAPHORE, CSHM__QT_OS_WINDOWS, out, cap);
  } else {
    size_t n = cshm__qt_left_utf16(h->native, SEM_CUT, out, cap);
    if (n + sizeof SEM_SUFFIX <= cap)
      memcpy(out + n, SEM_SUFFIX, sizeof SEM_SUFFIX);
  }
}

/* The held-lock identity: the semaphore's name as the object manager resolves it. */
static void identity_of(const qt_win *q, cshm__identity *id) {
  const char *name = q->sem_name;
  DWORD session = 1;
  if (strncmp(name, "Local\\", 6) == 0)
    name += 6; /* Local\X is the session's X */
  else if (strncmp(name, "Global\\", 7) == 0 &&
           ProcessIdToSessionId(GetCurrentProcessId(), &session) && session == 0)
    name += 7; /* session 0's own namespace is the global one */
  cshm__sha1_ctx c;
  uint8_t digest[CSHM__SHA1_LEN];
  cshm__sha1_init(&c);
  cshm__sha1_update(&c, "qt:win32-semaphore", sizeof "qt:win32-semaphore");
  cshm__sha1_update(&c, name, strlen(name));
  cshm__sha1_final(&c, digest);
  memcpy(&id->a, digest, 8);
  memcpy(&id->b, digest + 8, 8);
}

static int state_new(const cshm *h, qt_win **out, cshm__diag *d) {
  qt_win *q = calloc(1, sizeof *q);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  snprintf(q->shm_name, sizeof q->shm_name, "%s", h->native);
  semaphore_name(h, q->sem_name, sizeof q->sem_name);
  if (cshm__win32_utf8_to_utf16(q->shm_name, q->wshm, WNAME_CAP) < 0 ||
      cshm__win32_utf8_to_utf16(q->sem_name, q->wsem, WNAME_CAP) < 0) {
    /* The names were checked when the key was set. */
    int rc = cshm__diag_set(d, CSHM_EKEY, NULL, "\"%s\" or \"%s\" is no Windows object name",
                            q->shm_name, q->sem_name);
    free(q);
    return rc;
  }
  *out = q;
  return CSHM_OK;
}

/* ---- the semaphore -------------------------------------------------------------- */

/* Qt's QSystemSemaphore handle(): opens the semaphore, or makes it (count 1). */
static int sem_open_qt(qt_win *q, bool creating, cshm__diag *d) {
  q->sem = CreateSemaphoreExW(NULL, 1, 1, q->wsem, 0, SYNCHRONIZE | SEMAPHORE_MODIFY_STATE);
  if (q->sem != NULL)
    return CSHM_OK;
  DWORD err = GetLastError();
  if (err == ERROR_INVALID_HANDLE)
    return cshm__diag_set(d, creating ? CSHM_EEXIST : CSHM_ECORRUPT, NULL,
                          "%s: not Qt's lock, another kind of object (mutex, event...)",
                          q->sem_name);
  int code = cshm__win32_fail(d, err, "CreateSemaphoreExW %s (Qt's lock)", q->sem_name);
  return code == CSHM_ENOENT ? CSHM_EKEY : code; /* a path Windows cannot resolve */
}

/* P, waiting at most ms (CSHM_INFINITE: forever; 0: not at all). */
static int sem_p(qt_win *q, uint32_t ms, cshm__diag *d) {
  DWORD r = WaitForSingleObject(q->sem, ms == CSHM_INFINITE ? INFINITE : (DWORD)ms);
  if (r == WAIT_OBJECT_0)
    return CSHM_OK;
  if (r == WAIT_TIMEOUT)
    return cshm__diag_fixed(d, CSHM_ETIMEDOUT, q->sem_name,
                            "Qt's lock is held: by a live process, or by one that died holding "
                            "it (a semaphore then stays taken)");
  cshm__win32_fail(d, GetLastError(), "WaitForSingleObject on %s", q->sem_name);
  return CSHM_ELOCK;
}

static int sem_v(qt_win *q, cshm__diag *d) {
  if (ReleaseSemaphore(q->sem, 1, NULL))
    return CSHM_OK;
  DWORD err = GetLastError();
  if (err == ERROR_TOO_MANY_POSTS)
    cshm__diag_set(d, CSHM_ELOCK, q->sem_name,
                   "ReleaseSemaphore: at its maximum: a process released a lock it did not hold");
  else
    cshm__win32_fail(d, err, "ReleaseSemaphore %s", q->sem_name);
  return CSHM_ELOCK;
}

/* Takes the lock around create/attach, waiting at most ms, unless the calling thread
 * holds it already through another handle (a semaphore does not recurse: it would
 * wait for itself). */
static int enter(qt_win *q, uint32_t ms, bool *locked, cshm__diag *d) {
  cshm__identity id;
  identity_of(q, &id);
  *locked = false;
  if (cshm__held_contains(&id))
    return CSHM_OK;
  int rc = sem_p(q, ms, d);
  *locked = rc == CSHM_OK;
  return rc;
}

static void leave(qt_win *q, bool locked) {
  cshm__diag ignored;
  if (locked)
    sem_v(q, &ignored);
}

/* ---- segments ------------------------------------------------------------------- */

/* Drops a failed attempt: the view, the mapping, then the lock and the semaphore. */
static void abandon(qt_win *q, bool locked) {
  if (q->addr != NULL)
    UnmapViewOfFile(q->addr);
  if (q->mapping != NULL)
    CloseHandle(q->mapping);
  leave(q, locked);
  if (q->sem != NULL)
    CloseHandle(q->sem);
  free(q);
}

static void adopt(cshm *h, qt_win *q) {
  h->seg = (cshm__sys_segment *)(void *)q;
  h->view.base = q->addr;
  h->view.length = q->size;
  h->view.exact_length = false; /* page-rounded, as Qt reports it */
  h->view.lockable = true;      /* the semaphore is outside the mapping */
  h->data = q->addr;
  h->size = q->size;
  identity_of(q, &h->identity);
}

/* Qt's attach(): maps the whole mapping and takes its size from VirtualQuery. */
static int map_view(qt_win *q, cshm_access mode, cshm__diag *d) {
  DWORD access = mode == CSHM_READ_WRITE ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ;
  q->addr = MapViewOfFile(q->mapping, access, 0, 0, 0);
  if (q->addr == NULL)
    return cshm__win32_fail(d, GetLastError(), "MapViewOfFile %s", q->shm_name);
  MEMORY_BASIC_INFORMATION info;
  if (VirtualQuery(q->addr, &info, sizeof info) != sizeof info)
    return cshm__win32_fail(d, GetLastError(), "VirtualQuery of %s: size query failed",
                            q->shm_name);
  q->size = (size_t)info.RegionSize;
  return CSHM_OK;
}

/* Opens the mapping for `access`. ERROR_INVALID_HANDLE: another kind of object. */
static HANDLE open_mapping(const qt_win *q, DWORD access, DWORD *err) {
  HANDLE m = OpenFileMappingW(access, FALSE, q->wshm);
  *err = m == NULL ? GetLastError() : ERROR_SUCCESS;
  return m;
}

static int open_fail(const qt_win *q, DWORD err, cshm__diag *d) {
  if (err == ERROR_INVALID_HANDLE)
    return cshm__diag_set(d, CSHM_ECORRUPT, NULL,
                          "open %s: the name belongs to another kind of object", q->shm_name);
  return cshm__win32_fail(d, err, "OpenFileMappingW %s", q->shm_name);
}

static int another_kind(const qt_win *q, const char *call, cshm__diag *d) {
  return cshm__diag_set(d, CSHM_EEXIST, NULL,
                        "%s %s: the name belongs to another kind of object", call,
                        q->shm_name);
}

static int eexist(const qt_win *q, cshm__diag *d) {
  return cshm__diag_set(d, CSHM_EEXIST, q->shm_name,
                        "a segment of this name is open in some process (on Windows a segment "
                        "lives while any process has it open)");
}

/* Creates a new mapping and attaches. CSHM_EEXIST when a mapping of the name exists
 * (create-or-attach then attaches) or another kind of object holds the name. */
static int create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  /* CSHM_CREATE_NO_RECLAIM: there are no orphans; CSHM_CREATE_RESERVE: PAGE_READWRITE
   * sections are committed at once. Neither changes anything. */
  (void)flags;
  if (size == 0)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "the size is 0");
  if ((uint64_t)size > (uint64_t)INT64_MAX)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "%zu bytes cannot be a mapping's size", size);
  qt_win *q;
  int rc = state_new(h, &q, d);
  if (rc < 0)
    return rc;
  /* A live name fails at once, without waiting for Qt's lock. */
  DWORD err;
  HANDLE existing = open_mapping(q, FILE_MAP_READ, &err);
  if (existing != NULL || err == ERROR_ACCESS_DENIED || err == ERROR_INVALID_HANDLE) {
    if (existing != NULL)
      CloseHandle(existing);
    rc = err != ERROR_INVALID_HANDLE ? eexist(q, d) : another_kind(q, "CreateFileMappingW", d);
    free(q);
    return rc;
  }
  bool locked = false;
  if ((rc = sem_open_qt(q, true, d)) < 0 || (rc = enter(q, CSHM_INFINITE, &locked, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  uint64_t total = (uint64_t)size;
  q->mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                  (DWORD)(total >> 32), (DWORD)(total & 0xFFFFFFFFu), q->wshm);
  err = GetLastError();
  if (q->mapping == NULL) {
    if (err == ERROR_INVALID_HANDLE) {
      rc = another_kind(q, "CreateFileMappingW", d);
    } else {
      rc = cshm__win32_fail(d, err, "CreateFileMappingW %s (%llu bytes)", q->shm_name,
                            (unsigned long long)size);
      if (rc == CSHM_EPERM && strncmp(q->shm_name, "Global\\", 7) == 0) {
        char what[sizeof d->what], os[sizeof d->why];
        memcpy(what, d->what, sizeof what);
        memcpy(os, d->why, sizeof os);
        cshm__diag_set(d, CSHM_EPERM, what,
                       "creating a segment in Global\\ needs SeCreateGlobalPrivilege "
                       "(administrators and services hold it): %s",
                       os);
      }
    }
    abandon(q, locked);
    return rc;
  }
  if (err == ERROR_ALREADY_EXISTS) {
    /* Made between our look and now; this handle has the other segment's size. */
    rc = eexist(q, d);
    abandon(q, locked);
    return rc;
  }
  if ((rc = map_view(q, mode, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  leave(q, locked);
  adopt(h, q);
  return CSHM_OK;
}

/* Qt's attach() waits for the lock forever; cshm_attach_timeout() bounds it by ms. */
static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  qt_win *q;
  int rc = state_new(h, &q, d);
  if (rc < 0)
    return rc;
  /* The mapping first: a missing one is CSHM_ENOENT before any semaphore is made. */
  DWORD err;
  q->mapping = open_mapping(
      q, mode == CSHM_READ_WRITE ? FILE_MAP_READ | FILE_MAP_WRITE : FILE_MAP_READ, &err);
  if (q->mapping == NULL) {
    rc = open_fail(q, err, d);
    free(q);
    return rc;
  }
  bool locked = false;
  if ((rc = sem_open_qt(q, false, d)) < 0 || (rc = enter(q, ms, &locked, d)) < 0 ||
      (rc = map_view(q, mode, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  leave(q, locked);
  adopt(h, q);
  return CSHM_OK;
}

static void detach(cshm *h, bool forked_child) {
  (void)forked_child; /* no fork on Windows */
  qt_win *q = state_of(h);
  /* No lock here: see the top of the file. */
  UnmapViewOfFile(q->addr);
  CloseHandle(q->mapping);
  CloseHandle(q->sem); /* after the mapping: never a mapping of ours without its lock */
  free(q);
}

static int lock(cshm *h, uint32_t ms, cshm__diag *d) { return sem_p(state_of(h), ms, d); }

static int unlock(cshm *h, cshm__diag *d) { return sem_v(state_of(h), d); }

static int remove_segment(const char *native, cshm__diag *d) {
  (void)native;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "Windows owns segments: one lives while any process has it open and "
                        "goes with the last handle; it cannot be removed by name");
}

/* NtQuerySemaphore (ntdll): the count, without taking the semaphore. */
typedef LONG(NTAPI *nt_query_semaphore_fn)(HANDLE semaphore, int info_class, PVOID info,
                                           ULONG length, PULONG returned);

/* 1 when Qt's lock is held (count 0), 0 when free or when there is no semaphore (the
 * next locker makes it), -1 when it cannot be told. */
static int semaphore_taken(const qt_win *q) {
  HANDLE s = OpenSemaphoreW(SEMAPHORE_QUERY_STATE, FALSE, q->wsem);
  if (s == NULL)
    return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : -1;
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  nt_query_semaphore_fn query =
      ntdll != NULL
          ? (nt_query_semaphore_fn)(void (*)(void))GetProcAddress(ntdll, "NtQuerySemaphore")
          : NULL;
  LONG counts[2] = {0, 0}; /* SEMAPHORE_BASIC_INFORMATION: current, maximum */
  int taken = -1;
  if (query != NULL && query(s, 0 /* SemaphoreBasicInformation */, counts, sizeof counts,
                             NULL) >= 0)
    taken = counts[0] == 0;
  CloseHandle(s);
  return taken;
}

static int inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  qt_win *q;
  int rc = state_new(h, &q, d);
  if (rc < 0)
    return rc;
  /* Read-only and only for a moment: nobody's lock or view is touched. */
  DWORD err;
  q->mapping = open_mapping(q, FILE_MAP_READ, &err);
  rc = q->mapping == NULL ? open_fail(q, err, d) : map_view(q, CSHM_READ_ONLY, d);
  if (rc == CSHM_OK) {
    memset(out, 0, sizeof *out); /* no header: format 0.0, no creator recorded */
    out->size = (uint64_t)q->size;
    out->attached = 1; /* it exists, so some process has it open: no orphans here */
    out->locked = semaphore_taken(q);
    out->lock_owner = 0; /* a semaphore has no owner */
  }
  if (q->addr != NULL)
    UnmapViewOfFile(q->addr);
  if (q->mapping != NULL)
    CloseHandle(q->mapping);
  free(q);
  return rc;
}

static const cshm__keytype keytype_qt_legacy = {
    "qt-legacy", derive_legacy, check_native, create, attach, detach, lock, unlock,
    remove_segment, inspect,
};

static const cshm__keytype keytype_qt_platform_safe = {
    "qt-platform-safe", derive_platform_safe, check_native, create, attach, detach, lock, unlock,
    remove_segment, inspect,
};

/* ---- CSHM_KEY_QT_LEGACY_POSIX: no such thing on Windows --------------------------- */

static int no_posix(cshm__diag *d) {
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "Qt has no POSIX IPC on Windows: use CSHM_KEY_QT_LEGACY or "
                        "CSHM_KEY_QT_PLATFORM_SAFE (isKeyTypeSupported(PosixRealtime) is false)");
}
static int posix_derive(const char *key, char *out, cshm__diag *d) {
  (void)key, (void)out;
  return no_posix(d);
}
static int posix_check_native(const char *native, cshm__diag *d) {
  (void)native;
  return no_posix(d);
}
static int posix_create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  (void)h, (void)size, (void)mode, (void)flags;
  return no_posix(d);
}
static int posix_attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  (void)h, (void)mode, (void)ms;
  return no_posix(d);
}
static void posix_detach(cshm *h, bool forked_child) { (void)h, (void)forked_child; }
static int posix_lock(cshm *h, uint32_t ms, cshm__diag *d) {
  (void)h, (void)ms;
  return no_posix(d);
}
static int posix_unlock(cshm *h, cshm__diag *d) {
  (void)h;
  return no_posix(d);
}
static int posix_remove(const char *native, cshm__diag *d) {
  (void)native;
  return no_posix(d);
}
static int posix_inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  (void)h, (void)out;
  return no_posix(d);
}

static const cshm__keytype keytype_qt_legacy_posix = {
    "qt-legacy-posix", posix_derive, posix_check_native, posix_create, posix_attach,
    posix_detach, posix_lock, posix_unlock, posix_remove, posix_inspect,
};

/* keytype.c: indexed by cshm_key_type - CSHM_KEY_QT_LEGACY. */
extern const cshm__keytype *const cshm__keytype_qt[3];
const cshm__keytype *const cshm__keytype_qt[3] = {
    &keytype_qt_legacy,
    &keytype_qt_legacy_posix,
    &keytype_qt_platform_safe,
};
