/* The Windows backend (src/win32), in one process and across processes: a named
 * file mapping and its named mutex, kernel-owned lifetime, WAIT_ABANDONED as
 * CSHM_OWNER_DIED, sizes above 4 GiB, UTF-8 keys as UTF-16 names, native-name
 * limits, Global\. Runs on Windows and under Wine (CI); where Wine and Windows
 * differ, the test says which it asserts. Non-ASCII text is written as byte escapes
 * so the source encoding cannot matter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "support.h"

/* How long an attacher waits for a segment still being built (keytype_default.c). */
extern unsigned cshm__ready_wait_ms;

/* A handle on a native name, recorded for the leftover check. */
static cshm *native_handle(const char *native) {
  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_set_native_key(h, native, CSHM_KEY_DEFAULT), CSHM_OK);
  ts_record_native(native);
  return h;
}

/* A native name unique to this run: prefix + "cshm_w32_<pid>_<n>_" + label. */
static const char *unique_native(const char *prefix, const char *label) {
  static char names[32][512];
  static unsigned n;
  char *out = names[n % 32];
  snprintf(out, sizeof names[0], "%scshm_w32_%d_%u_%s", prefix, ts_pid(), n, label);
  n++;
  return out;
}

static bool under_wine(void) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* UTF-16 of UTF-8 s (exact: fails on invalid input). */
static void widen(const char *s, wchar_t *out, int cap) {
  assert_true(MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, cap) > 0);
}

/* Whether the mapping named `native` exists, looked at with the raw API. */
static bool mapping_exists(const char *native) {
  wchar_t name[600];
  widen(native, name, 600);
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
  if (h != NULL)
    CloseHandle(h);
  return h != NULL;
}

static DWORD protection_of(const void *p) {
  MEMORY_BASIC_INFORMATION mbi;
  assert_int_equal(VirtualQuery(p, &mbi, sizeof mbi), sizeof mbi);
  return mbi.Protect;
}

static ts_child spawn(const char *stop_at, const char *const argv[]) {
  ts_child c;
  assert_true(ts_spawn(&c, stop_at, false, argv));
  return c;
}

/* ==== segments ==================================================================== */

/* create and attach: the exact size on both sides (Windows rounds sections to pages;
 * cshm's size comes from the header), page-aligned data at 64 KiB, shared bytes. */
static void create_and_attach_share_exact_size(void **state) {
  (void)state;
  const char *key = ts_key("exact");
  cshm *a = new_handle(key), *b = new_handle(key);
  EXPECT_RC(a, cshm_create(a, 100, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(a), 100);
  EXPECT_RC(b, cshm_attach(b, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(b), 100);
  assert_int_equal((uintptr_t)cshm_data(a) % 65536, 0);
  assert_int_equal((uintptr_t)cshm_data(b) % 65536, 0);
  memcpy(cshm_data(a), "through the mapping", sizeof "through the mapping");
  assert_string_equal(cshm_const_data(b), "through the mapping");
  assert_string_equal(cshm_native_key(a), cshm_native_key(b));
  EXPECT_CONTAINS(cshm_native_key(a), "Local\\cshm_");
  cshm_free(b);
  cshm_free(a);
}

/* create on a name some process has open: CSHM_EEXIST (ERROR_ALREADY_EXISTS: the
 * handle it returns has the old size and is closed); with OR_ATTACH the existing
 * segment is attached with its own size; NO_RECLAIM changes nothing (no orphans). */
static void create_existing_is_eexist_or_attaches(void **state) {
  (void)state;
  const char *key = ts_key("exists");
  cshm *a = new_handle(key), *b = new_handle(key);
  EXPECT_RC(a, cshm_create(a, 4096, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(b, cshm_create(b, 8192, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(b), "open in some process");
  EXPECT_RC(b, cshm_create_ex(b, 8192, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, NULL),
            CSHM_EEXIST);
  assert_false(cshm_is_attached(b));
  bool created = true;
  EXPECT_RC(b, cshm_create_ex(b, 8192, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &created),
            CSHM_OK);
  assert_false(created);
  assert_int_equal(cshm_size(b), 4096);
  cshm_free(b);
  cshm_free(a);

  /* Once nobody has it open, the name is free again: create makes a new one. */
  cshm *c = new_handle(key);
  EXPECT_RC(c, cshm_create_ex(c, 8192, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &created),
            CSHM_OK);
  assert_true(created);
  assert_int_equal(cshm_size(c), 8192);
  cshm_free(c);
}

/* A read-only attachment maps its data read-only (the header read-write: waiters
 * register there) and still locks: the lock is the mutex, outside the mapping. A read-only creator's data pages are
 * read-only too, its header page is not. */
static void read_only_attachment_can_lock(void **state) {
  (void)state;
  const char *key = ts_key("ro");
  cshm *w = new_handle(key), *r = new_handle(key);
  EXPECT_RC(w, cshm_create(w, 5000, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(r, cshm_attach(r, CSHM_READ_ONLY), CSHM_OK);
  assert_int_equal(protection_of(cshm_const_data(r)), PAGE_READONLY);
  assert_int_equal(protection_of(cshm_data(w)), PAGE_READWRITE);
  EXPECT_RC(r, cshm_lock(r), CSHM_OK);
  /* A helper (another process) finds it taken, through its own read-only handle. */
  assert_int_equal(ts_run((const char *const[]){key, "attach-ro", "try-lock?CSHM_EBUSY", NULL}),
                   0);
  EXPECT_RC(r, cshm_unlock(r), CSHM_OK);
  assert_int_equal(
      ts_run((const char *const[]){key, "attach-ro", "try-lock", "unlock", NULL}), 0);
  cshm_free(r);
  cshm_free(w);

  const char *key2 = ts_key("ro-creator");
  cshm *c = new_handle(key2);
  EXPECT_RC(c, cshm_create(c, 5000, CSHM_READ_ONLY), CSHM_OK);
  assert_int_equal(protection_of(cshm_const_data(c)), PAGE_READONLY);
  assert_int_equal(protection_of((const char *)cshm_const_data(c) - 65536), PAGE_READWRITE);
  EXPECT_RC(c, cshm_lock(c), CSHM_OK);
  EXPECT_RC(c, cshm_unlock(c), CSHM_OK);
  cshm_free(c);
}

/* ==== lifetime ==================================================================== */

/* Kernel-owned: the segment lives while any process has it open - its creator may
 * die - and is gone (CSHM_ENOENT) once the last handle closes. cshm_remove() has
 * nothing to do (CSHM_ENOTSUP), whether the segment exists or not. */
static void kernel_owned_lifetime(void **state) {
  (void)state;
  const char *key = ts_key("lifetime");
  const char *native;
  ts_child c = spawn(NULL, (const char *const[]){key, "create:4096", "write:from the helper",
                                                 "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  cshm *h = new_handle(key);
  native = cshm_native_key(h);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_OK);
  ts_kill(&c); /* the creator dies; our handle keeps the segment */
  assert_string_equal(cshm_const_data(h), "from the helper");
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_DEFAULT), CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_remove");
  EXPECT_CONTAINS(cshm_last_error_string(), "last handle");
  assert_true(mapping_exists(native));

  /* Another process attaches and leaves; then we detach, the last one. */
  assert_int_equal(ts_run((const char *const[]){key, "attach", "expect:from the helper",
                                                "write:reply", "detach", NULL}),
                   0);
  assert_string_equal(cshm_const_data(h), "reply");
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(mapping_exists(native));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_ENOENT);
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_DEFAULT), CSHM_ENOTSUP);
  cshm_free(h);
}

/* cshm_inspect: the exact size, the creator, attached = 1 (it exists, so some process
 * has it open: Windows has no orphans), the lock state unknown (telling would mean
 * taking the mutex). It changes nothing: the lock stays free, no handle stays. */
static void inspect_describes_without_holding(void **state) {
  (void)state;
  const char *key = ts_key("inspect");
  cshm *h = new_handle(key), *p = new_handle(key);
  cshm_info info;
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_ENOENT);
  EXPECT_RC(h, cshm_create(h, 12345, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  memset(&info, 0xff, sizeof info);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.size, 12345);
  assert_int_equal(info.format_major, 1);
  assert_int_equal(info.creator_pid, (uint32_t)ts_pid());
  assert_int_equal(info.attached, 1);
  assert_int_equal(info.locked, -1); /* the mutex cannot be asked without taking it */
  assert_int_equal(info.lock_owner, 0);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_ENOENT); /* inspect held nothing */
  cshm_free(p);
  cshm_free(h);
}

/* A creator killed while its mapping is named but not READY: an attacher that got in
 * then reports CSHM_ECORRUPT after its bounded wait; once the creator is gone the name
 * is gone with it (nothing stale: the next create works and its lock is clean). */
static void creator_killed_before_ready_leaves_nothing(void **state) {
  (void)state;
  const char *key = ts_key("half-made");
  unsigned saved = cshm__ready_wait_ms;
  cshm__ready_wait_ms = 200;
  ts_child c = spawn("create_before_ready", (const char *const[]){key, "create:4096", NULL});
  assert_true(ts_expect(&c, "create_before_ready"));
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  EXPECT_CONTAINS(cshm_error_string(h), "still being built");
  ts_kill(&c);
  cshm__ready_wait_ms = saved;
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);

  /* Resumed instead, the creator finishes: the waiting attacher gets the segment. */
  const char *key2 = ts_key("resumed");
  c = spawn("create_before_ready",
            (const char *const[]){key2, "create:4096", "write:done", "signal", NULL});
  assert_true(ts_expect(&c, "create_before_ready"));
  ts_resume(&c);
  assert_true(ts_expect(&c, "signal"));
  cshm *g = new_handle(key2);
  EXPECT_RC(g, cshm_attach(g, CSHM_READ_ONLY), CSHM_OK);
  assert_string_equal(cshm_const_data(g), "done");
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  cshm_free(g);
}

/* ==== the lock ==================================================================== */

/* Windows mutexes recurse per thread; the held-lock registry makes a relock
 * CSHM_EDEADLK through this handle or any other handle of the segment. */
static void relock_through_another_handle_is_edeadlk(void **state) {
  (void)state;
  const char *key = ts_key("edeadlk");
  cshm *a = new_handle(key), *b = new_handle(key);
  EXPECT_RC(a, cshm_create(a, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(b, cshm_attach(b, CSHM_READ_ONLY), CSHM_OK);
  EXPECT_RC(a, cshm_lock(a), CSHM_OK);
  EXPECT_RC(a, cshm_lock(a), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_lock(b), CSHM_EDEADLK);
  EXPECT_CONTAINS(cshm_error_string(b), "another handle");
  EXPECT_RC(b, cshm_try_lock(b), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_lock_timeout(b, 10), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_unlock(b), CSHM_EINVAL);
  EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
  /* Released once, it is free: the mutex did not count the refused relocks. */
  assert_int_equal(ts_run((const char *const[]){key, "attach", "try-lock", "unlock", NULL}), 0);
  EXPECT_RC(b, cshm_lock(b), CSHM_OK);
  EXPECT_RC(a, cshm_try_lock(a), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_unlock(b), CSHM_OK);
  cshm_free(b);
  cshm_free(a);
}

/* Try and timeout against another process's lock: CSHM_EBUSY, CSHM_ETIMEDOUT; after
 * it unlocks, the lock is ours. */
static void try_and_timeout_against_another_process(void **state) {
  (void)state;
  const char *key = ts_key("timeout");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  ts_child c = spawn(NULL, (const char *const[]){key, "attach", "lock", "signal", "unlock",
                                                 "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, 0), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_lock_timeout(h, 30), CSHM_ETIMEDOUT);
  ts_resume(&c);
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(h, cshm_lock_timeout(h, CSHM_INFINITE), CSHM_OK);
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

typedef struct holder_ctx {
  const char *key;
  HANDLE locked, release;
  int rc;
} holder_ctx;

static DWORD WINAPI hold_lock(LPVOID arg) {
  holder_ctx *x = arg;
  cshm *h;
  if ((x->rc = cshm_new(&h, x->key)) != CSHM_OK)
    return 1;
  if ((x->rc = cshm_attach(h, CSHM_READ_WRITE)) == CSHM_OK && (x->rc = cshm_lock(h)) == CSHM_OK) {
    SetEvent(x->locked);
    WaitForSingleObject(x->release, INFINITE);
    x->rc = cshm_unlock(h);
  }
  SetEvent(x->locked);
  cshm_free(h);
  return 0;
}

/* Two handles in two threads exclude each other as two processes do. */
static void threads_exclude_each_other(void **state) {
  (void)state;
  holder_ctx x = {ts_key("threads"), CreateEventW(NULL, FALSE, FALSE, NULL),
                  CreateEventW(NULL, FALSE, FALSE, NULL), -99};
  cshm *h = new_handle(x.key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  HANDLE t = CreateThread(NULL, 0, hold_lock, &x, 0, NULL);
  assert_non_null(t);
  WaitForSingleObject(x.locked, INFINITE);
  assert_int_equal(x.rc, CSHM_OK);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, 20), CSHM_ETIMEDOUT);
  SetEvent(x.release);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  WaitForSingleObject(t, INFINITE);
  assert_int_equal(x.rc, CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  CloseHandle(t);
  CloseHandle(x.locked);
  CloseHandle(x.release);
  cshm_free(h);
}

/* A helper killed with TerminateProcess while it holds the lock: the next locker gets
 * it with CSHM_OWNER_DIED (WAIT_ABANDONED), by lock, try_lock and lock_timeout alike;
 * afterwards the mutex is an ordinary one again. */
static void owner_killed_holding_the_lock_is_reported(void **state) {
  (void)state;
  const char *key = ts_key("owner-died");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  for (int how = 0; how < 3; how++) {
    ts_child c = spawn(NULL, (const char *const[]){key, how == 1 ? "attach-ro" : "attach",
                                                   "lock", "signal", NULL});
    assert_true(ts_expect(&c, "signal"));
    EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
    ts_kill(&c);
    int rc = how == 0 ? cshm_lock(h) : how == 1 ? cshm_try_lock(h) : cshm_lock_timeout(h, 5000);
    EXPECT_RC(h, rc, CSHM_OWNER_DIED);
    assert_int_equal(cshm_error(h), CSHM_OWNER_DIED);
    EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
    EXPECT_RC(h, cshm_lock(h), CSHM_OK);
    EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  }
  /* Between two other processes: one dies holding it, the next one is told. */
  ts_child c = spawn(NULL, (const char *const[]){key, "attach", "lock", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  ts_kill(&c);
  assert_int_equal(
      ts_run((const char *const[]){key, "attach", "lock?CSHM_OWNER_DIED", "unlock", NULL}), 0);
  cshm_free(h);
}

/* A mutex can outlive its mapping (a process keeps a handle to it). A new segment of
 * the name then reuses it; had its owner died holding it, the new segment's first
 * locker must not hear about that: create clears the abandoned state. */
static void recreated_segment_does_not_inherit_an_abandoned_lock(void **state) {
  (void)state;
  const char *key = ts_key("stale-mutex");
  cshm *h = new_handle(key);
  char lock_name[600];
  snprintf(lock_name, sizeof lock_name, "%s_lock", cshm_native_key(h));
  ts_child c = spawn(NULL, (const char *const[]){key, "create:64", "lock", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  wchar_t wlock[600];
  widen(lock_name, wlock, 600);
  HANDLE raw = OpenMutexW(SYNCHRONIZE, FALSE, wlock); /* keeps the mutex, not the mapping */
  assert_non_null(raw);
  ts_kill(&c);
  assert_false(mapping_exists(cshm_native_key(h)));
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  CloseHandle(raw);
  cshm_free(h);
}

/* ==== sizes ======================================================================= */

/* More than 4 GiB: the size goes to CreateFileMappingW as two DWORDs. Either the
 * segment is made, exact and usable to its last byte from another attachment, or
 * the request fails cleanly with CSHM_ENOMEM. */
static void larger_than_4_gib(void **state) {
  (void)state;
  const char *key = ts_key("big");
  const size_t size = ((size_t)4 << 30) + 12345; /* header area + size: high DWORD 1 */
  cshm *h = new_handle(key);
  int rc = cshm_create(h, size, CSHM_READ_WRITE);
  if (rc == CSHM_ENOMEM) {
    print_message("a %llu-byte segment was declined: %s\n", (unsigned long long)size,
                  cshm_error_string(h));
    assert_false(cshm_is_attached(h));
    cshm_free(h);
    return;
  }
  EXPECT_RC(h, rc, CSHM_OK);
  assert_int_equal(cshm_size(h), size);
  unsigned char *data = cshm_data(h);
  data[0] = 0x11;
  data[size - 1] = 0x5a;
  cshm *r = new_handle(key);
  EXPECT_RC(r, cshm_attach(r, CSHM_READ_ONLY), CSHM_OK);
  assert_int_equal(cshm_size(r), size);
  const unsigned char *seen = cshm_const_data(r);
  assert_int_equal(seen[0], 0x11);
  assert_int_equal(seen[size - 1], 0x5a);
  cshm *p = new_handle(key);
  cshm_info info;
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.size, size);
  cshm_free(p);
  cshm_free(r);
  cshm_free(h);
}

/* A size no machine commits: CSHM_ENOMEM (ERROR_COMMITMENT_LIMIT on Windows,
 * ERROR_NOT_ENOUGH_MEMORY under Wine), with the call named. */
static void absurd_size_is_enomem(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("absurd"));
  EXPECT_RC(h, cshm_create(h, (size_t)1 << 50, CSHM_READ_WRITE), CSHM_ENOMEM);
  EXPECT_CONTAINS(cshm_error_string(h), "CreateFileMappingW");
  EXPECT_CONTAINS(cshm_error_string(h), "(error ");
  assert_false(cshm_is_attached(h));
  assert_false(mapping_exists(cshm_native_key(h)));
  cshm_free(h);
}

/* ==== names ======================================================================= */

/* A non-ASCII key is one UTF-16 name in every process: create here, attach from the
 * helper (its arguments travel as UTF-16 and back), text both ways. */
static void non_ascii_key_round_trips(void **state) {
  (void)state;
  /* "Noël-日本語-😀" (U+1F600 needs a surrogate pair in UTF-16) */
  const char *key = ts_key("No\xc3\xabl-\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e-\xf0\x9f\x98\x80");
  cshm *h = new_handle(key);
  assert_string_equal(cshm_key(h), key);
  EXPECT_RC(h, cshm_create(h, 256, CSHM_READ_WRITE), CSHM_OK);
  memcpy(cshm_data(h), "Gr\xc3\xbc\xc3\x9f" "e", sizeof "Gr\xc3\xbc\xc3\x9f" "e");
  assert_int_equal(ts_run((const char *const[]){key, "attach", "expect:Gr\xc3\xbc\xc3\x9f" "e",
                                                "write:\xe3\x81\x8a\xe3\x81\xaf\xe3\x82\x88\xe3"
                                                "\x81\x86",
                                                NULL}),
                   0);
  assert_string_equal(cshm_const_data(h), "\xe3\x81\x8a\xe3\x81\xaf\xe3\x82\x88\xe3\x81\x86");
  cshm_free(h);

  /* A native name with non-ASCII characters is the exact UTF-16 object name. */
  static const char label_utf8[] = "\xc3\xbcn\xc3\xaf-\xf0\x9f\x98\x80"; /* "ünï-😀" */
  static const wchar_t label[] = {0x00FC, L'n', 0x00EF, L'-', 0xD83D, 0xDE00, 0};
  const char *native = unique_native("Local\\", label_utf8);
  cshm *n = native_handle(native);
  EXPECT_RC(n, cshm_create(n, 64, CSHM_READ_WRITE), CSHM_OK);
  wchar_t expect[600];
  size_t ascii = strlen(native) - strlen(label_utf8);
  for (size_t i = 0; i < ascii; i++)
    expect[i] = (wchar_t)native[i];
  memcpy(expect + ascii, label, sizeof label);
  HANDLE raw = OpenFileMappingW(FILE_MAP_READ, FALSE, expect);
  if (raw == NULL)
    print_error("no mapping named as expected (error %lu)\n", GetLastError());
  assert_non_null(raw);
  CloseHandle(raw);
  cshm_free(n);
}

/* Windows native keys: an optional "Local\" or "Global\" prefix, no other "\", at
 * most 254 UTF-16 code units so that the mutex's "_lock" fits MAX_PATH; the error
 * names the limit. */
static void native_keys_are_validated(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  static const char *const bad[] = {"Local\\", "Global\\", "Local\\a\\b", "a\\b", "\\a",
                                    "local\\a", "Session\\1\\a", "Global\\\\a"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("native key \"%s\"\n", bad[i]);
    EXPECT_RC(h, cshm_set_native_key(h, bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
    EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_native_key");
  }
  static const char *const good[] = {"Local\\a", "Global\\a", "a", "/cshm_posix_style",
                                     "Local\\a/b", "Local\\Global"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    EXPECT_RC(h, cshm_set_native_key(h, good[i], CSHM_KEY_DEFAULT), CSHM_OK);

  char name[1024];
  memcpy(name, "Local\\", 6);
  memset(name + 6, 'n', 254 - 6);
  name[254] = '\0';
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_OK);
  name[254] = 'n';
  name[255] = '\0';
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "254 UTF-16 code units");
  EXPECT_CONTAINS(cshm_error_string(h), "MAX_PATH");
  EXPECT_CONTAINS(cshm_error_string(h), "has 255");

  /* Code units, not bytes: 127 characters above U+FFFF are 254 units (508 bytes). */
  size_t o = 0;
  for (int i = 0; i < 127; i++, o += 4)
    memcpy(name + o, "\xf0\x9f\x98\x80", 4);
  name[o] = '\0';
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_OK);
  memcpy(name + o, "x", 2);
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "has 255");

  /* The longest name works as an object name, mutex suffix included. */
  const char *longest = unique_native("Local\\", "");
  memset(name, 0, sizeof name);
  snprintf(name, sizeof name, "%s", longest);
  memset(name + strlen(name), 'L', 254 - strlen(name));
  cshm *l = native_handle(name);
  EXPECT_RC(l, cshm_create(l, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(l, cshm_lock(l), CSHM_OK);
  EXPECT_RC(l, cshm_unlock(l), CSHM_OK);
  cshm_free(l);

  /* Derived names are always "Local\" + a stem that fits. */
  EXPECT_RC(h, cshm_set_key(h, "my_shared_memory"), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "Local\\cshm_myshare_2p5koc4w43euvfwl");
  cshm_free(h);
}

/* A name that belongs to another kind of object (kernel object types share one
 * namespace: ERROR_INVALID_HANDLE): create says CSHM_EEXIST, attach CSHM_ECORRUPT. */
static void name_of_another_object_type(void **state) {
  (void)state;
  const char *native = unique_native("Local\\", "event");
  wchar_t wname[600];
  widen(native, wname, 600);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, wname);
  assert_non_null(ev);
  cshm *h = native_handle(native);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(h), "another kind of object");
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT); /* no mutex "..._lock" */
  CloseHandle(ev);

  /* The lock's name taken by an event: create refuses, and leaves no mapping. */
  char lock_name[600];
  snprintf(lock_name, sizeof lock_name, "%s_lock", native);
  widen(lock_name, wname, 600);
  ev = CreateEventW(NULL, TRUE, FALSE, wname);
  assert_non_null(ev);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(h), "_lock");
  assert_false(mapping_exists(native));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  CloseHandle(ev);
  cshm_free(h);
}

/* Global\: creating a file mapping there needs SeCreateGlobalPrivilege on Windows;
 * without it cshm says CSHM_EPERM and names the privilege. Wine does not enforce the
 * privilege: under Wine the create succeeds even with the privilege disabled, and
 * that is what is asserted there. The privilege is disabled on an impersonation
 * token of this thread only. */
static void global_namespace_and_its_privilege(void **state) {
  (void)state;
  const char *native = unique_native("Global\\", "global");
  cshm *h = native_handle(native);

  assert_true(ImpersonateSelf(SecurityImpersonation));
  HANDLE token;
  assert_true(OpenThreadToken(GetCurrentThread(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, TRUE,
                              &token));
  TOKEN_PRIVILEGES tp = {1, {{{0, 0}, 0}}};
  assert_true(LookupPrivilegeValueW(NULL, L"SeCreateGlobalPrivilege", &tp.Privileges[0].Luid));
  tp.Privileges[0].Attributes = 0; /* disabled */
  assert_true(AdjustTokenPrivileges(token, FALSE, &tp, 0, NULL, NULL));
  int rc = cshm_create(h, 4096, CSHM_READ_WRITE);
  RevertToSelf();
  CloseHandle(token);
  if (under_wine()) {
    print_message("Wine: Global\\ created without SeCreateGlobalPrivilege (not enforced)\n");
    EXPECT_RC(h, rc, CSHM_OK);
    EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  } else {
    EXPECT_RC(h, rc, CSHM_EPERM);
    EXPECT_CONTAINS(cshm_error_string(h), "SeCreateGlobalPrivilege");
  }

  /* With the process's own token: Wine's holds the privilege (enabled), as an
   * administrator's or a service's does on Windows. */
  HANDLE self;
  BOOL held = FALSE;
  PRIVILEGE_SET ps = {1, PRIVILEGE_SET_ALL_NECESSARY, {{{0, 0}, 0}}};
  assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &self));
  assert_true(LookupPrivilegeValueW(NULL, L"SeCreateGlobalPrivilege", &ps.Privilege[0].Luid));
  assert_true(PrivilegeCheck(self, &ps, &held));
  CloseHandle(self);
  rc = cshm_create(h, 4096, CSHM_READ_WRITE);
  EXPECT_RC(h, rc, held || under_wine() ? CSHM_OK : CSHM_EPERM);
  if (rc == CSHM_OK) {
    cshm *a = native_handle(native);
    EXPECT_RC(a, cshm_attach(a, CSHM_READ_ONLY), CSHM_OK);
    EXPECT_RC(a, cshm_lock(a), CSHM_OK);
    EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
    cshm_free(a);
  }
  cshm_free(h);
}

/* ==== what Windows does not have ================================================== */

/* cshm_wait() and the event word sleep on named semaphores beside the mutex,
 * "..._cv" and "..._ev": there while the segment is, gone with it. Permits left in
 * one that outlived its segment (a handle kept it) are drained by the next create;
 * a name taken by another kind of object makes the waits fail with CSHM_ELOCK
 * (holding the lock again) while the segment itself works. */
static HANDLE open_semaphore(const char *native, const char *suffix) {
  char name[600];
  wchar_t wname[600];
  snprintf(name, sizeof name, "%s%s", native, suffix);
  widen(name, wname, 600);
  return OpenSemaphoreW(SYNCHRONIZE | SEMAPHORE_MODIFY_STATE, FALSE, wname);
}

static void wait_semaphores_beside_the_mapping(void **state) {
  (void)state;
  const char *key = ts_key("semaphores");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  HANDLE cv = open_semaphore(cshm_native_key(h), "_cv");
  HANDLE ev = open_semaphore(cshm_native_key(h), "_ev");
  assert_non_null(cv);
  assert_non_null(ev);
  CloseHandle(ev);
  assert_true(ReleaseSemaphore(cv, 5, NULL)); /* stale permits: spurious wake-ups only */
  /* The waiter takes them, finds cond_seq unchanged each time, and times out. */
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_wait(h, 30), CSHM_ETIMEDOUT);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  assert_true(ReleaseSemaphore(cv, 3, NULL)); /* left for the segment's end */
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(mapping_exists(cshm_native_key(h)));
  /* cv kept "_cv" alive, with its permits: the next create drains them. */
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(WaitForSingleObject(cv, 0), WAIT_TIMEOUT);
  CloseHandle(cv);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_null(open_semaphore(cshm_native_key(h), "_cv")); /* gone with the segment */
  assert_null(open_semaphore(cshm_native_key(h), "_ev"));

  /* "_cv" squatted by a mutex: waits fail, the rest works. */
  char name[600];
  wchar_t wname[600];
  snprintf(name, sizeof name, "%s_cv", cshm_native_key(h));
  widen(name, wname, 600);
  HANDLE squatter = CreateMutexW(NULL, FALSE, wname);
  assert_non_null(squatter);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_wait(h, 30), CSHM_ELOCK);
  EXPECT_CONTAINS(cshm_error_string(h), "_cv");
  EXPECT_RC(h, cshm_lock(h), CSHM_EDEADLK); /* held again */
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  uint32_t v;
  EXPECT_RC(h, cshm_event_value(h, &v), CSHM_OK);
  EXPECT_RC(h, cshm_event_signal(h), CSHM_OK); /* "_ev" is fine */
  EXPECT_RC(h, cshm_event_wait(h, v, 0), CSHM_OK);
  EXPECT_RC(h, cshm_notify_all(h), CSHM_OK); /* nobody registered: no semaphore needed */
  cshm_free(h);
  CloseHandle(squatter);
}

/* No application groups; permission bits are ignored (the creator's default DACL
 * applies): 0 does not stop the creator's own attach. */
static void unsupported_and_ignored(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_set_app_group("group.com.example"), CSHM_ENOTSUP);
  const char *key = ts_key("perms");
  cshm *h = new_handle(key), *a = new_handle(key);
  EXPECT_RC(h, cshm_set_permissions(h, 0), CSHM_OK);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(a, cshm_set_permissions(a, 0600), CSHM_OK);
  EXPECT_RC(a, cshm_attach(a, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(a, cshm_lock(a), CSHM_OK);
  EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
  cshm_free(a);
  cshm_free(h);
}

static int count_one(const char *native, void *ctx) {
  (void)native;
  ++*(int *)ctx;
  return 0;
}

static void list_is_not_supported(void **state) {
  (void)state;
  int n = 0;
  EXPECT_RC(NULL, cshm_list(count_one, &n), CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_list");
  assert_int_equal(n, 0);
}

/* Every segment this suite made is gone: no handle was left open. */
static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_and_attach_share_exact_size),
      cmocka_unit_test(create_existing_is_eexist_or_attaches),
      cmocka_unit_test(read_only_attachment_can_lock),
      cmocka_unit_test(kernel_owned_lifetime),
      cmocka_unit_test(inspect_describes_without_holding),
      cmocka_unit_test(creator_killed_before_ready_leaves_nothing),
      cmocka_unit_test(relock_through_another_handle_is_edeadlk),
      cmocka_unit_test(try_and_timeout_against_another_process),
      cmocka_unit_test(threads_exclude_each_other),
      cmocka_unit_test(owner_killed_holding_the_lock_is_reported),
      cmocka_unit_test(recreated_segment_does_not_inherit_an_abandoned_lock),
      cmocka_unit_test(larger_than_4_gib),
      cmocka_unit_test(absurd_size_is_enomem),
      cmocka_unit_test(non_ascii_key_round_trips),
      cmocka_unit_test(native_keys_are_validated),
      cmocka_unit_test(name_of_another_object_type),
      cmocka_unit_test(global_namespace_and_its_privilege),
      cmocka_unit_test(unsupported_and_ignored),
      cmocka_unit_test(list_is_not_supported),
      cmocka_unit_test(wait_semaphores_beside_the_mapping),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("win32", tests, NULL, NULL);
}
