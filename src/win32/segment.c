/* Segments of the default key type on Windows: a named, paging-file-backed file
 * mapping ("Local\cshm_...") and its lock, a named mutex ("..._lock").
 *
 * Lifetime is the kernel's (DESIGN.md §3): a mapping lives while any handle to it
 * is open, and process exit - a crash included - closes every handle. So there are
 * no orphans to reclaim, nothing is ever stale, a detacher never removes anything,
 * and cshm_remove() has nothing to do (CSHM_ENOTSUP).
 *
 * Order: the mutex is created (or opened) before the mapping and closed after it,
 * and every process that holds the mapping holds the mutex too: a mapping never
 * exists without its lock. The semaphores of cshm_wait() and the event word
 * ("_cv", "_ev": word.c) are made or opened at create (once the mapping is known to
 * be new) and at attach (before the mapping: a segment of an earlier version has
 * none until then), and closed after the mapping.
 *
 * READY: a mapping is visible under its name as soon as CreateFileMappingW returns,
 * before its header is written. An attacher that comes in between sees the state
 * BUILDING and waits (bounded) for READY in the front end; a creator that dies
 * there takes the mapping with it, unless the attacher already holds it, which then
 * reports CSHM_ECORRUPT after the wait.
 *
 * Sizes: the creator asks for exactly header area + size (split into two DWORDs),
 * committed at once (SEC_COMMIT): CSHM_ENOMEM now, never a fault later, so
 * CSHM_CREATE_RESERVE changes nothing here. (Wine charges no commit: its sections
 * are sparse files, and only a size beyond its own limits fails.) The exact size
 * always comes from the header; the kernel's size of the section (NtQuerySection)
 * only bounds what an attacher may read, since it may be rounded up to the page size
 * (Wine rounds it).
 *
 * Security: NULL security attributes, i.e. the default DACL of the creator's token
 * (never a NULL DACL). cshm_set_permissions() bits are ignored on Windows, and attach
 * does not compare the object's owner with the caller (DESIGN.md §2's squatter
 * check): another user's objects are reachable only where their DACL grants it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "format.h"
#include "sys.h"
#include "win32.h"

/* ---- the section's size --------------------------------------------------------- */

/* NtQuerySection (ntdll; documented as ZwQuerySection for drivers): the size of a
 * section, which Win32 does not expose. The handle needs SECTION_QUERY. */
typedef struct section_basic_information {
  PVOID base;
  ULONG attributes;
  LARGE_INTEGER size;
} section_basic_information;

typedef LONG(NTAPI *nt_query_section_fn)(HANDLE section, int info_class, PVOID info,
                                         SIZE_T length, PSIZE_T returned);

static int section_size(HANDLE mapping, const char *native, uint64_t *size, cshm__diag *d) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  /* Through void (*)(void), the one function type every other converts from. */
  nt_query_section_fn query =
      ntdll != NULL ? (nt_query_section_fn)(void (*)(void))GetProcAddress(ntdll, "NtQuerySection")
                    : NULL;
  if (query == NULL)
    return cshm__diag_set(d, CSHM_ENOTSUP, "NtQuerySection", "not found in ntdll.dll");
  section_basic_information info;
  memset(&info, 0, sizeof info);
  LONG status = query(mapping, 0 /* SectionBasicInformation */, &info, sizeof info, NULL);
  if (status < 0)
    return cshm__diag_set(d, CSHM_EUNKNOWN, NULL, "NtQuerySection %s: NTSTATUS 0x%08lx", native,
                          (unsigned long)status);
  if (info.size.QuadPart < 0)
    return cshm__diag_set(d, CSHM_ECORRUPT, native, "the section reports a negative size");
  *size = (uint64_t)info.size.QuadPart;
  return CSHM_OK;
}

static bool is_global(const char *native) { return strncmp(native, "Global\\", 7) == 0; }

/* `words`: the semaphores cshm__win32_words_open() opened, taken over. */
static cshm__sys_segment *segment_new(HANDLE mapping, HANDLE mutex, const cshm__sys_segment *words,
                                      void *base, size_t length) {
  cshm__sys_segment *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->mapping = mapping;
    s->mutex = mutex;
    s->cond = words->cond;
    s->event = words->event;
    s->words_error = words->words_error;
    s->base = base;
    s->length = length;
  }
  return s;
}

/* ---- create ----------------------------------------------------------------------- */

/* A mutex that outlived an earlier segment of the same name (someone still had a
 * handle) may be in the abandoned state: taking and releasing it clears that, so the
 * new segment's first locker is not told about a death that concerned the old one.
 * Nobody else can hold it now: no one is attached to the new mapping yet. */
static void clear_abandoned(HANDLE mutex) {
  DWORD r = WaitForSingleObject(mutex, 0);
  if (r == WAIT_OBJECT_0 || r == WAIT_ABANDONED)
    ReleaseMutex(mutex);
}

/* The code and detail for a failed CreateMutexW/CreateFileMappingW of `native` +
 * `suffix`. Only a file mapping needs SeCreateGlobalPrivilege in Global\: a mutex
 * refused there is someone else's. */
static int create_fail(cshm__diag *d, DWORD err, const char *call, const char *native,
                       const char *suffix) {
  if (err == ERROR_INVALID_HANDLE)
    return cshm__diag_set(d, CSHM_EEXIST, NULL,
                          "%s %s%s: the name belongs to another kind of object (a mutex, event, "
                          "semaphore...)",
                          call, native, suffix);
  int code = cshm__win32_fail(d, err, "%s %s%s", call, native, suffix);
  if (code == CSHM_EPERM && is_global(native) && suffix[0] == '\0') {
    char os[sizeof d->why];
    memcpy(os, d->why, sizeof os);
    cshm__diag_set(d, CSHM_EPERM, d->what,
                   "creating a segment in Global\\ needs SeCreateGlobalPrivilege "
                   "(administrators and services hold it): %s",
                   os);
  }
  return code;
}

int cshm__sys_segment_create(const cshm__create_request *rq, cshm__sys_segment **out,
                             cshm__segment_view *view, cshm__diag *d) {
  wchar_t wname[CSHM__WIN32_WNAME_CAP], wlock[CSHM__WIN32_WNAME_CAP];
  int rc = cshm__win32_names(rq->native, wname, wlock, d);
  if (rc < 0)
    return rc;
  if (rq->total > (uint64_t)SIZE_MAX)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "%llu bytes cannot be mapped by this process",
                          (unsigned long long)rq->total);

  /* The lock first: a mapping never exists without it. */
  HANDLE mutex = CreateMutexW(NULL, FALSE, wlock);
  DWORD err = GetLastError();
  if (mutex == NULL)
    return create_fail(d, err, "CreateMutexW", rq->native, CSHM__WIN32_LOCK_SUFFIX);
  bool mutex_existed = err == ERROR_ALREADY_EXISTS;

  HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_COMMIT,
                                      (DWORD)(rq->total >> 32), (DWORD)(rq->total & 0xFFFFFFFFu),
                                      wname);
  err = GetLastError();
  if (mapping == NULL) {
    rc = create_fail(d, err, "CreateFileMappingW", rq->native, "");
    CloseHandle(mutex);
    return rc;
  }
  if (err == ERROR_ALREADY_EXISTS) {
    /* Its handle has the existing mapping's size, not ours: never use it. */
    CloseHandle(mapping);
    CloseHandle(mutex);
    return cshm__diag_set(d, CSHM_EEXIST, rq->native,
                          "a segment of this name is open in some process (on Windows a segment "
                          "lives while any process has it open)");
  }
  if (mutex_existed)
    clear_abandoned(mutex);
  /* Not before: a live segment's semaphores must not be drained of their permits. */
  cshm__sys_segment words = {0};
  cshm__win32_words_open(&words, wname, true);

  void *base = MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, (SIZE_T)rq->total);
  if (base == NULL) {
    rc = cshm__win32_fail(d, GetLastError(), "MapViewOfFile %s (%llu bytes)", rq->native,
                          (unsigned long long)rq->total);
    CloseHandle(mapping);
    cshm__win32_words_close(&words);
    CloseHandle(mutex);
    return rc;
  }
  /* The name is visible already: attachers wait for the READY that init publishes. */
  if ((rc = rq->init(rq->init_ctx, base, (size_t)rq->total, d)) < 0) {
    UnmapViewOfFile(base);
    CloseHandle(mapping);
    cshm__win32_words_close(&words);
    CloseHandle(mutex);
    return rc;
  }
  DWORD old;
  if (rq->access == CSHM_READ_ONLY &&
      !VirtualProtect((unsigned char *)base + rq->data_offset,
                      (SIZE_T)(rq->total - rq->data_offset), PAGE_READONLY, &old)) {
    rc = cshm__win32_fail(d, GetLastError(), "VirtualProtect %s read-only", rq->native);
    UnmapViewOfFile(base);
    CloseHandle(mapping);
    cshm__win32_words_close(&words);
    CloseHandle(mutex);
    return rc;
  }
  cshm__sys_segment *s = segment_new(mapping, mutex, &words, base, (size_t)rq->total);
  if (s == NULL) {
    UnmapViewOfFile(base);
    CloseHandle(mapping);
    cshm__win32_words_close(&words);
    CloseHandle(mutex);
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  }
  view->base = base;
  view->length = (size_t)rq->total; /* what we asked the kernel for, exactly */
  view->exact_length = true;
  view->lockable = true;
  *out = s;
  return CSHM_OK;
}

/* ---- attach ----------------------------------------------------------------------- */

/* The code and detail for a failed OpenMutexW/OpenFileMappingW: a name that belongs
 * to another kind of object is not a cshm segment. */
static int open_fail(cshm__diag *d, DWORD err, const char *native, const char *suffix) {
  if (err == ERROR_INVALID_HANDLE)
    return cshm__diag_set(d, CSHM_ECORRUPT, NULL,
                          "open %s%s: the name belongs to another kind of object", native,
                          suffix);
  /* A missing mutex means a missing segment: name the segment. */
  if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
    suffix = "";
  return cshm__win32_fail(d, err, "open %s%s", native, suffix);
}

/* A read-only attachment mapped read-write: its data (from data_offset, bounded by
 * the section's size) made read-only, so that writes fault as on Unix. */
static int protect_data(void *base, uint64_t size, const cshm__open_request *rq, DWORD map_access,
                        cshm__diag *d) {
  DWORD old;
  if (rq->access != CSHM_READ_ONLY || (map_access & FILE_MAP_WRITE) == 0 ||
      size <= rq->data_offset)
    return CSHM_OK;
  if (VirtualProtect((unsigned char *)base + rq->data_offset, (SIZE_T)(size - rq->data_offset),
                     PAGE_READONLY, &old))
    return CSHM_OK;
  return cshm__win32_fail(d, GetLastError(), "VirtualProtect %s read-only", rq->native);
}

int cshm__sys_segment_open(const cshm__open_request *rq, cshm__sys_segment **out,
                           cshm__segment_view *view, cshm__diag *d) {
  wchar_t wname[CSHM__WIN32_WNAME_CAP], wlock[CSHM__WIN32_WNAME_CAP];
  int rc = cshm__win32_names(rq->native, wname, wlock, d);
  if (rc < 0)
    return rc;
  /* The lock first: holding it keeps it the mapping's for as long as we are attached. */
  HANDLE mutex = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, wlock);
  if (mutex == NULL) {
    DWORD err = GetLastError();
    /* A reader the DACL does not let lock still reads (cshm_lock: CSHM_EPERM). */
    if (!(err == ERROR_ACCESS_DENIED && rq->access == CSHM_READ_ONLY))
      return open_fail(d, err, rq->native, CSHM__WIN32_LOCK_SUFFIX);
  }
  /* Made here when missing: a segment of an earlier version has none. */
  cshm__sys_segment words = {0};
  cshm__win32_words_open(&words, wname, false);
  /* Read-write even for a read-only attachment, whose data alone is then protected:
   * cshm_wait() and the event word register in the header. A reader that the DACL
   * grants no write maps everything read-only and may not lock (lockable). */
  DWORD map_access = FILE_MAP_READ | FILE_MAP_WRITE;
  HANDLE mapping = OpenFileMappingW(map_access | SECTION_QUERY, FALSE, wname);
  if (mapping == NULL && rq->access == CSHM_READ_ONLY && GetLastError() == ERROR_ACCESS_DENIED) {
    map_access = FILE_MAP_READ;
    mapping = OpenFileMappingW(map_access | SECTION_QUERY, FALSE, wname);
  }
  if (mapping == NULL) {
    /* Not found while its mutex exists: a creator before its mapping, or the last
     * holder closing. Either way there is no segment to attach. */
    rc = open_fail(d, GetLastError(), rq->native, "");
    cshm__win32_words_close(&words);
    if (mutex != NULL)
      CloseHandle(mutex);
    return rc;
  }
  uint64_t size;
  void *base = NULL;
  if ((rc = section_size(mapping, rq->native, &size, d)) < 0)
    ;
  else if (size < CSHM__HEADER_SIZE)
    rc = cshm__diag_set(d, CSHM_ECORRUPT, rq->native,
                        "an object of %llu bytes has no valid header", (unsigned long long)size);
  else if (size > (uint64_t)SIZE_MAX)
    rc = cshm__diag_set(d, CSHM_ENOMEM, rq->native,
                        "%llu bytes do not fit this process's address space",
                        (unsigned long long)size);
  else if ((base = MapViewOfFile(mapping, map_access, 0, 0, (SIZE_T)size)) == NULL)
    rc = cshm__win32_fail(d, GetLastError(), "MapViewOfFile %s (%llu bytes)", rq->native,
                          (unsigned long long)size);
  else if (rc == CSHM_OK)
    rc = protect_data(base, size, rq, map_access, d);
  cshm__sys_segment *s = NULL;
  if (rc == CSHM_OK && (s = segment_new(mapping, mutex, &words, base, (size_t)size)) == NULL)
    rc = cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  if (rc < 0) {
    if (base != NULL)
      UnmapViewOfFile(base);
    CloseHandle(mapping);
    cshm__win32_words_close(&words);
    if (mutex != NULL)
      CloseHandle(mutex);
    return rc;
  }
  view->base = base;
  view->length = (size_t)size;
  view->exact_length = false; /* the section's size may be page-rounded */
  /* The lock is the mutex, outside the mapping, but a waiter registers in the header. */
  view->lockable = mutex != NULL && (map_access & FILE_MAP_WRITE) != 0;
  *out = s;
  return CSHM_OK;
}

/* ---- detach, remove, probe, list -------------------------------------------------- */

void cshm__sys_segment_close(cshm__sys_segment *s, bool may_remove) {
  (void)may_remove; /* the kernel removes the name with the last handle */
  if (s->base != NULL)
    UnmapViewOfFile(s->base);
  if (s->mapping != NULL)
    CloseHandle(s->mapping);
  cshm__win32_words_close(s); /* after the mapping too */
  if (s->mutex != NULL) /* after the mapping: never a mapping without its lock */
    CloseHandle(s->mutex);
  free(s);
}

int cshm__sys_segment_remove(const char *native, cshm__diag *d) {
  (void)native;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "Windows owns segments: one lives while any process has it open and "
                        "goes with the last handle; it cannot be removed by name");
}

int cshm__sys_segment_probe(const char *native, void *buf, size_t cap, size_t *length,
                            int *holders, cshm__diag *d) {
  wchar_t wname[CSHM__WIN32_WNAME_CAP], wlock[CSHM__WIN32_WNAME_CAP];
  int rc = cshm__win32_names(native, wname, wlock, d);
  if (rc < 0)
    return rc;
  /* Read-only and only for a moment: nobody's lock or view is touched. */
  HANDLE mapping = OpenFileMappingW(FILE_MAP_READ | SECTION_QUERY, FALSE, wname);
  if (mapping == NULL)
    return open_fail(d, GetLastError(), native, "");
  uint64_t size;
  if ((rc = section_size(mapping, native, &size, d)) == CSHM_OK && size > (uint64_t)SIZE_MAX)
    rc = cshm__diag_set(d, CSHM_ECORRUPT, native, "%llu bytes: larger than this process can map",
                        (unsigned long long)size);
  size_t n = 0;
  if (rc == CSHM_OK && (n = cap < size ? cap : (size_t)size) > 0) {
    /* Map the header only. */
    void *view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, (SIZE_T)n);
    if (view == NULL) {
      rc = cshm__win32_fail(d, GetLastError(), "MapViewOfFile %s", native);
    } else {
      memcpy(buf, view, n);
      UnmapViewOfFile(view);
    }
  }
  CloseHandle(mapping);
  if (rc < 0)
    return rc;
  if (n < cap)
    memset((unsigned char *)buf + n, 0, cap - n);
  *length = (size_t)size; /* may be page-rounded: the front end only bounds by it */
  /* It exists, so some process holds a handle to it: on Windows there are no orphans. */
  *holders = 1;
  return CSHM_OK;
}

int cshm__sys_segment_list(int (*fn)(const char *native, void *ctx), void *ctx, cshm__diag *d) {
  (void)fn;
  (void)ctx;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "Windows has no listing of named file mappings for programs");
}
