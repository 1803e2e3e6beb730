/* The Qt key types on Windows (src/win32/qt_win32.c; research/qt.md §2.1-§2.5, §3.4,
 * §3.5, §4): Qt's names byte for byte (§2.5's Windows vectors and more), the objects
 * they name looked at with the raw API (a file mapping with the data at offset 0, a
 * named semaphore as the lock), page-rounded sizes as Qt's size() reports them, the
 * lock across processes, relocking, the kernel-owned lifetime, and what a holder that
 * dies does to a semaphore (it stays taken: Qt's known deadlock).
 *
 * No Qt for Windows is available here: the other side of every exchange is a cshm
 * process (tests/helper.c) speaking Qt's protocol, and the names are checked against
 * the vectors. Runs under Wine in CI; where Wine and Windows could differ, the test
 * says what it asserts. Non-ASCII text is written as byte escapes. */
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
#include "qt_names.h"
#include "support.h"

#define HEX "d3faa70b96e6c94a96cbd5270f2f9f4a8f14fdcd" /* SHA-1("my_shared_memory") */

#define EXPECT_RC(h, call, want)                                                          \
  do {                                                                                    \
    int rc_ = (call);                                                                     \
    int want_ = (want);                                                                   \
    if (rc_ != want_)                                                                     \
      print_error("%s:%d: %s returned %s, want %s\n  handle: %s\n  thread: %s\n",         \
                  __FILE__, __LINE__, #call, cshm_error_name(rc_), cshm_error_name(want_), \
                  (h) != NULL ? cshm_error_string(h) : "(no handle)",                     \
                  cshm_last_error_string());                                              \
    assert_int_equal(rc_, want_);                                                         \
  } while (0)

#define EXPECT_CONTAINS(haystack, needle)                                                 \
  do {                                                                                    \
    const char *hay_ = (haystack);                                                        \
    const char *needle_ = (needle);                                                       \
    assert_non_null(hay_);                                                                \
    if (strstr(hay_, needle_) == NULL)                                                    \
      print_error("%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, hay_,    \
                  needle_);                                                               \
    assert_non_null(strstr(hay_, needle_));                                               \
  } while (0)

/* ---- helpers --------------------------------------------------------------------- */

/* The semaphore names this suite may have made, checked by no_leftovers. */
static char *semaphores[256];
static int semaphore_count;

static void record_semaphore(const char *name) {
  for (int i = 0; i < semaphore_count; i++)
    if (strcmp(semaphores[i], name) == 0)
      return;
  assert_true(semaphore_count < 256);
  semaphores[semaphore_count] = malloc(strlen(name) + 1);
  assert_non_null(semaphores[semaphore_count]);
  memcpy(semaphores[semaphore_count++], name, strlen(name) + 1);
}

/* UTF-16 of UTF-8 s (exact: fails on invalid input). */
static void widen(const char *s, wchar_t *out, int cap) {
  assert_true(MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, cap) > 0);
}

static bool mapping_exists(const char *name) {
  wchar_t w[1024];
  widen(name, w, 1024);
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, w);
  if (h != NULL)
    CloseHandle(h);
  return h != NULL;
}

static bool semaphore_exists(const char *name) {
  wchar_t w[1024];
  widen(name, w, 1024);
  HANDLE h = OpenSemaphoreW(SYNCHRONIZE, FALSE, w);
  if (h != NULL)
    CloseHandle(h);
  return h != NULL;
}

static size_t page_size(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwPageSize;
}

/* Qt's semaphore for a key of type t (the pure derivations; the vectors pin them). */
static const char *semaphore_of(const char *key, cshm_key_type t) {
  static char names[16][1100];
  static unsigned n;
  char *out = names[n++ % 16];
  if (t == CSHM_KEY_QT_LEGACY)
    cshm__qt_legacy_windows_name(key, CSHM__QT_SEMAPHORE, out, sizeof names[0]);
  else
    cshm__qt_platform_safe_name(key, CSHM__QT_SEMAPHORE, CSHM__QT_OS_WINDOWS, out,
                                sizeof names[0]);
  return out;
}

/* A handle of key type t on `key`; its mapping and semaphore are recorded. */
static cshm *qt_handle(const char *key, cshm_key_type t) {
  cshm *h = NULL;
  EXPECT_RC(NULL, cshm_new(&h, key), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, t), CSHM_OK);
  assert_string_equal(cshm_key(h), key);
  ts_record_native(cshm_native_key(h));
  record_semaphore(semaphore_of(key, t));
  return h;
}

static ts_child spawn(const char *const argv[]) {
  ts_child c;
  assert_true(ts_spawn(&c, NULL, false, argv));
  return c;
}

static void expect_name(cshm_key_type t, const char *key, const char *want) {
  char buf[1100];
  int rc = cshm_native_key_for(buf, sizeof buf, key, t);
  EXPECT_RC(NULL, rc, CSHM_OK);
  assert_string_equal(buf, want);
}

static void expect_semaphore(cshm_key_type t, const char *key, const char *want) {
  assert_string_equal(semaphore_of(key, t), want);
}

/* "Local\" + key, kept for the life of the process. */
static const char *local_key(const char *key) {
  static char keys[8][600];
  static unsigned n;
  char *out = keys[n++ % 8];
  snprintf(out, sizeof keys[0], "Local\\%s", key);
  return out;
}

/* ==== names ======================================================================= */

/* research/qt.md §2.5's Windows rows, and §2.1's rules: the ASCII letters of the key in
 * order (digits, punctuation, "\" and non-ASCII dropped), the SHA-1 of its UTF-8,
 * no "Local\" or "Global\" for legacy names. */
static void legacy_names_follow_the_vectors(void **state) {
  (void)state;
  const cshm_key_type L = CSHM_KEY_QT_LEGACY;
  expect_name(L, "my_shared_memory", "qipc_sharedmemory_mysharedmemory" HEX);
  expect_semaphore(L, "my_shared_memory", "qipc_systemsem_mysharedmemory" HEX);
  /* [EMP-6.4]'s key: letters only, in order. */
  expect_name(L, "Hello World 123 \xc3\x84\xc3\x96/x",
              "qipc_sharedmemory_HelloWorldxa56c2de1ae1af52e9dd0ec339d1999f918744be3");
  expect_name(L, "a_b-c.d 1/2\\E~Z",
              "qipc_sharedmemory_abcdEZadcd2afe4fd8c83bd20579191cd54674a0c33bc6");
  /* Non-ASCII: dropped from the letters, hashed with the rest ("No\xc3\xabl" and "Nol"
   * differ: Qt's uniqueKey row). */
  expect_name(L, "No\xc3\xabl", "qipc_sharedmemory_Nolf74a492d6bd59d7591144462d27aa3e29d1701c1");
  expect_name(L, "Nol", "qipc_sharedmemory_Nol48ec124f85b2a18e06f1729acc335f760d458771");
  expect_name(L, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\xad\xe3\x83\xbc",
              "qipc_sharedmemory_9efc7943abbd79bf1f9283845e755b8872c9911c");
  /* A namespace in the key is not kept: its letters are. */
  expect_name(L, "Global\\foo",
              "qipc_sharedmemory_Globalfoo6a5c37acb0e0182f445f509441a73d0850e49c46");
  expect_semaphore(L, "Global\\foo",
                   "qipc_systemsem_Globalfoo6a5c37acb0e0182f445f509441a73d0850e49c46");

  /* A handle reports the same, and keeps its key. */
  cshm *h = NULL;
  EXPECT_RC(NULL, cshm_new(&h, NULL), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, L), CSHM_OK);
  EXPECT_RC(h, cshm_set_key(h, "my_shared_memory"), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "qipc_sharedmemory_mysharedmemory" HEX);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_int_equal(cshm_get_key_type(h), L);
  cshm_free(h);

  /* MAX_PATH: "qipc_sharedmemory_" (18) + letters + 40 hex <= 260, so 202 letters;
   * digits and the rest do not count. */
  char key[1024];
  memset(key, 'q', 202);
  memset(key + 202, '7', 500);
  key[702] = '\0';
  char buf[1100];
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, key, L), CSHM_OK);
  assert_int_equal(strlen(buf), 260);
  memset(key, 'q', 203);
  key[203] = '\0';
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, key, L), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "MAX_PATH (260)");
  EXPECT_CONTAINS(cshm_last_error_string(), "at most 202 ASCII letters");
}

/* Qt >= 6.6 platformSafeKey() on Windows: "shm_" + key, a leading "Local\" or
 * "Global\" (so spelled) kept in front, cut to MAX_PATH units; the lock's semaphore is
 * that name cut to MAX_PATH - 5 units + "_sem". */
static void platform_safe_names_follow_the_vectors(void **state) {
  (void)state;
  const cshm_key_type P = CSHM_KEY_QT_PLATFORM_SAFE;
  expect_name(P, "my_shared_memory", "shm_my_shared_memory");
  expect_semaphore(P, "my_shared_memory", "shm_my_shared_memory_sem");
  expect_name(P, "Global\\foo", "Global\\shm_foo");
  expect_semaphore(P, "Global\\foo", "Global\\shm_foo_sem");
  expect_name(P, "Local\\foo", "Local\\shm_foo");
  expect_name(P, "Local\\", "Local\\shm_");
  expect_name(P, "No\xc3\xabl \xe6\x97\xa5-\xf0\x9f\x98\x80",
              "shm_No\xc3\xabl \xe6\x97\xa5-\xf0\x9f\x98\x80");
  /* Not a prefix ("local\" is not "Local\"): the "\" stays in the name, which Windows
   * would resolve as a directory: refused. */
  char buf[1100];
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, "local\\foo", P), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "\\");
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, "Global\\a\\b", P), CSHM_EKEY);

  /* MAX_PATH: cut to 260 units; the semaphore to 255 + "_sem". */
  char key[1024], want[1024];
  memset(key, 'k', 300);
  key[300] = '\0';
  snprintf(want, sizeof want, "shm_%.256s", key);
  expect_name(P, key, want);
  snprintf(want, sizeof want, "shm_%.251s_sem", key);
  expect_semaphore(P, key, want);
  memcpy(key, "Global\\", 7);
  memset(key + 7, 'k', 300);
  key[307] = '\0';
  char expect[1024];
  snprintf(expect, sizeof expect, "Global\\shm_%.249s", key + 7);
  expect_name(P, key, expect);
  assert_int_equal(strlen(expect), 260);

  /* Units, not bytes: U+1F600 is two units. 256 'a' + it: the cut falls after the 'a's
   * (260 units), cleanly. 255 'a' + it: the cut falls inside the pair - Qt's UTF-16
   * name would end in a lone surrogate, which no UTF-8 key names: refused. */
  memset(key, 'a', 256);
  memcpy(key + 256, "\xf0\x9f\x98\x80", sizeof "\xf0\x9f\x98\x80");
  snprintf(want, sizeof want, "shm_%.256s", key);
  expect_name(P, key, want);
  memset(key, 'a', 255);
  memcpy(key + 255, "\xf0\x9f\x98\x80", sizeof "\xf0\x9f\x98\x80");
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, key, P), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "surrogate");
  /* The same for the semaphore's cut at 255 units: "shm_" + 250 'a' is 254 units. */
  memset(key, 'a', 250);
  memcpy(key + 250, "\xf0\x9f\x98\x80", sizeof "\xf0\x9f\x98\x80");
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, key, P), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "surrogate");
  memset(key, 'a', 251);
  memcpy(key + 251, "\xf0\x9f\x98\x80", sizeof "\xf0\x9f\x98\x80");
  snprintf(want, sizeof want, "shm_%s", key);
  expect_name(P, key, want);
  snprintf(want, sizeof want, "shm_%.251s_sem", key);
  expect_semaphore(P, key, want);
}

/* Native keys for the Qt types are Qt >= 6.6's QNativeIpcKey(name, Windows): an
 * optional "Local\"/"Global\", no other "\", at most MAX_PATH units; the semaphore is
 * name.left(255) + "_sem". CSHM_KEY_QT_LEGACY_POSIX does not exist on Windows. */
static void native_keys_and_legacy_posix(void **state) {
  (void)state;
  cshm *h = NULL;
  EXPECT_RC(NULL, cshm_new(&h, NULL), CSHM_OK);
  static const char *const good[] = {"Local\\x", "Global\\x", "x", "qipc_sharedmemory_x",
                                     "/x"};
  static const char *const bad[] = {"Local\\", "a\\b", "local\\x", "Global\\a\\b"};
  const cshm_key_type types[] = {CSHM_KEY_QT_LEGACY, CSHM_KEY_QT_PLATFORM_SAFE};
  for (size_t t = 0; t < 2; t++) {
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
      EXPECT_RC(h, cshm_set_native_key(h, good[i], types[t]), CSHM_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
      EXPECT_RC(h, cshm_set_native_key(h, bad[i], types[t]), CSHM_EKEY);
    char name[1024];
    memset(name, 'n', 260);
    name[260] = '\0';
    EXPECT_RC(h, cshm_set_native_key(h, name, types[t]), CSHM_OK);
    assert_null(cshm_key(h));
    name[260] = 'n';
    name[261] = '\0';
    EXPECT_RC(h, cshm_set_native_key(h, name, types[t]), CSHM_EKEY);
    EXPECT_CONTAINS(cshm_error_string(h), "MAX_PATH (260)");
    EXPECT_CONTAINS(cshm_error_string(h), "has 261");
    /* The semaphore's cut (255 units) inside a surrogate pair. */
    memset(name, 'n', 254);
    memcpy(name + 254, "\xf0\x9f\x98\x80", sizeof "\xf0\x9f\x98\x80");
    EXPECT_RC(h, cshm_set_native_key(h, name, types[t]), CSHM_EKEY);
    EXPECT_CONTAINS(cshm_error_string(h), "surrogate");
  }

  /* Legacy POSIX: Qt has none on Windows. A handle asked to switch keeps what it had. */
  EXPECT_RC(h, cshm_set_native_key(h, "Local\\x", CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_LEGACY_POSIX), CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_error_string(h), "no POSIX IPC on Windows");
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_QT_PLATFORM_SAFE);
  assert_string_equal(cshm_native_key(h), "Local\\x");
  EXPECT_RC(h, cshm_set_native_key(h, "/qipc_sharedmemory_x", CSHM_KEY_QT_LEGACY_POSIX),
            CSHM_ENOTSUP);
  char buf[256];
  EXPECT_RC(NULL,
            cshm_native_key_for(buf, sizeof buf, "my_shared_memory", CSHM_KEY_QT_LEGACY_POSIX),
            CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_last_error_string(), "use CSHM_KEY_QT_LEGACY or CSHM_KEY_QT_PLATFORM_SAFE");
  EXPECT_RC(NULL, cshm_remove("my_shared_memory", CSHM_KEY_QT_LEGACY_POSIX), CSHM_ENOTSUP);
  cshm_free(h);
}

/* ==== segments ==================================================================== */

/* Legacy, both directions across processes: the objects are Qt's (mapping
 * "qipc_sharedmemory_...", semaphore "qipc_systemsem_...", in the session's namespace:
 * "Local\" + the name is the same object), the data starts at offset 0 of the
 * mapping (no header), and both sides report the same page-rounded size. */
static void legacy_segments_across_processes(void **state) {
  (void)state;
  const size_t page = page_size();
  const char *key = ts_key("legacy");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY);
  char native[600];
  snprintf(native, sizeof native, "%s", cshm_native_key(h));
  EXPECT_CONTAINS(native, "qipc_sharedmemory_cshmtest");
  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(h), page); /* Qt's size(): VirtualQuery's RegionSize */
  assert_true(mapping_exists(native));
  assert_true(mapping_exists(local_key(native)));
  assert_true(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));
  assert_false(mapping_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));

  /* Fresh memory is zero; bytes written at cshm_data() are at offset 0 of the
   * mapping, as a Qt process would see them through data(). */
  const unsigned char *p = cshm_const_data(h);
  for (size_t i = 0; i < page; i++)
    assert_int_equal(p[i], 0);
  memcpy(cshm_data(h), "from cshm", sizeof "from cshm");
  wchar_t wname[600];
  widen(native, wname, 600);
  HANDLE raw = OpenFileMappingW(FILE_MAP_READ, FALSE, wname);
  assert_non_null(raw);
  const char *view = MapViewOfFile(raw, FILE_MAP_READ, 0, 0, 0);
  assert_non_null(view);
  assert_string_equal(view, "from cshm");
  UnmapViewOfFile(view);
  CloseHandle(raw);

  char size_op[64];
  snprintf(size_op, sizeof size_op, "size:%zu", page);
  assert_int_equal(ts_run((const char *const[]){key, "qt-legacy", "attach", size_op,
                                                "expect:from cshm", "write:from the helper",
                                                NULL}),
                   0);
  assert_string_equal(cshm_const_data(h), "from the helper");
  cshm_free(h);
  assert_false(mapping_exists(native));
  assert_false(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));

  /* The other way: the helper creates 5000 bytes (two pages), we attach. */
  const char *key2 = ts_key("legacy-back");
  cshm *a = qt_handle(key2, CSHM_KEY_QT_LEGACY);
  ts_child c = spawn((const char *const[]){key2, "qt-legacy", "create:5000",
                                           "write:made by the helper", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(a, cshm_attach(a, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(a), (5000 + page - 1) / page * page);
  assert_string_equal(cshm_const_data(a), "made by the helper");
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  assert_string_equal(cshm_const_data(a), "made by the helper"); /* ours keeps it */
  cshm_free(a);
}

/* Platform-safe, both directions, with and without "Local\": "Local\shm_K" and
 * "shm_K" are one object (and "..._sem" one semaphore). */
static void platform_safe_segments_across_processes(void **state) {
  (void)state;
  const size_t page = page_size();
  const char *key = ts_key("safe");
  cshm *h = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  char want[600];
  snprintf(want, sizeof want, "shm_%s", key);
  assert_string_equal(cshm_native_key(h), want);
  EXPECT_RC(h, cshm_create(h, page + 1, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(h), 2 * page);
  snprintf(want, sizeof want, "shm_%s_sem", key);
  assert_true(semaphore_exists(want));
  memcpy(cshm_data(h), "safe", sizeof "safe");
  char size_op[64];
  snprintf(size_op, sizeof size_op, "size:%zu", 2 * page);
  /* The helper names it with "Local\" in front: the same objects. */
  const char *lkey = local_key(key);
  record_semaphore(semaphore_of(lkey, CSHM_KEY_QT_PLATFORM_SAFE));
  assert_int_equal(ts_run((const char *const[]){lkey, "qt-platform-safe", "attach", size_op,
                                                "expect:safe", "write:safe back", NULL}),
                   0);
  assert_string_equal(cshm_const_data(h), "safe back");
  cshm_free(h);

  const char *key2 = local_key(ts_key("safe-back"));
  cshm *a = qt_handle(key2, CSHM_KEY_QT_PLATFORM_SAFE);
  EXPECT_CONTAINS(cshm_native_key(a), "Local\\shm_cshm-test-");
  ts_child c = spawn((const char *const[]){key2, "qt-platform-safe", "create:1", "write:x",
                                           "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  assert_true(semaphore_exists(semaphore_of(key2, CSHM_KEY_QT_PLATFORM_SAFE)));
  EXPECT_RC(a, cshm_attach(a, CSHM_READ_ONLY), CSHM_OK);
  assert_int_equal(cshm_size(a), page);
  assert_string_equal(cshm_const_data(a), "x");
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  cshm_free(a);
}

/* create on a name some process has open: CSHM_EEXIST (Qt: AlreadyExists); with
 * CSHM_CREATE_OR_ATTACH the existing segment is attached, with its size; nothing is
 * ever an orphan (NO_RECLAIM changes nothing). Size 0 is CSHM_ESIZE (InvalidSize). */
static void create_existing_and_sizes(void **state) {
  (void)state;
  const size_t page = page_size();
  const char *key = ts_key("exists");
  cshm *a = qt_handle(key, CSHM_KEY_QT_LEGACY), *b = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(a, cshm_create(a, 0, CSHM_READ_WRITE), CSHM_ESIZE);
  EXPECT_RC(a, cshm_create(a, page, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_size(a), page);
  EXPECT_RC(b, cshm_create(b, 3 * page, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(b), "open in some process");
  EXPECT_RC(b, cshm_create_ex(b, 3 * page, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, NULL),
            CSHM_EEXIST);
  bool created = true;
  EXPECT_RC(b, cshm_create_ex(b, 3 * page, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &created),
            CSHM_OK);
  assert_false(created);
  assert_int_equal(cshm_size(b), page);
  assert_ptr_not_equal(cshm_data(a), cshm_data(b));
  memcpy(cshm_data(a), "shared", sizeof "shared");
  assert_string_equal(cshm_const_data(b), "shared");
  cshm_free(b);
  cshm_free(a);

  /* Gone with the last handle: OR_ATTACH now creates, with the size asked for. */
  cshm *c = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(c, cshm_create_ex(c, 3 * page, CSHM_READ_WRITE,
                              CSHM_CREATE_OR_ATTACH | CSHM_CREATE_RESERVE, &created),
            CSHM_OK);
  assert_true(created);
  assert_int_equal(cshm_size(c), 3 * page);
  cshm_free(c);

  /* A size no machine commits: CSHM_ENOMEM, nothing left. */
  cshm *d = qt_handle(ts_key("absurd"), CSHM_KEY_QT_PLATFORM_SAFE);
  EXPECT_RC(d, cshm_create(d, (size_t)1 << 50, CSHM_READ_WRITE), CSHM_ENOMEM);
  assert_false(cshm_is_attached(d));
  assert_false(mapping_exists(cshm_native_key(d)));
  cshm_free(d);
}

/* Names that belong to another kind of object: create is CSHM_EEXIST, attach
 * CSHM_ECORRUPT, and nothing is left made. */
static void names_of_other_objects(void **state) {
  (void)state;
  const char *key = ts_key("other");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY);
  wchar_t w[600];
  widen(cshm_native_key(h), w, 600);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, w);
  assert_non_null(ev);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(h), "another kind of object");
  EXPECT_RC(h, cshm_create_ex(h, 64, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL),
            CSHM_ECORRUPT);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));
  CloseHandle(ev);

  /* The semaphore's name taken: create refuses before making the mapping. */
  widen(semaphore_of(key, CSHM_KEY_QT_LEGACY), w, 600);
  ev = CreateEventW(NULL, TRUE, FALSE, w);
  assert_non_null(ev);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_EEXIST);
  EXPECT_CONTAINS(cshm_error_string(h), "not Qt's lock");
  EXPECT_RC(h, cshm_create_ex(h, 64, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL),
            CSHM_EEXIST);
  assert_false(mapping_exists(cshm_native_key(h)));
  CloseHandle(ev);
  cshm_free(h);
}

/* Read-only: the whole view is read-only (Qt maps FILE_MAP_READ), and the lock - the
 * semaphore, outside the mapping - still works. */
static void read_only_attachment_can_lock(void **state) {
  (void)state;
  const char *key = ts_key("ro");
  cshm *w = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  cshm *r = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  EXPECT_RC(w, cshm_create(w, 5000, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(r, cshm_attach(r, CSHM_READ_ONLY), CSHM_OK);
  MEMORY_BASIC_INFORMATION mbi;
  assert_int_equal(VirtualQuery(cshm_const_data(r), &mbi, sizeof mbi), sizeof mbi);
  assert_int_equal(mbi.Protect, PAGE_READONLY);
  /* The helper attaches first: attach waits while the lock is held (Qt's protocol). */
  ts_child c = spawn((const char *const[]){key, "qt-platform-safe", "attach-ro", "signal",
                                           "try-lock?CSHM_EBUSY", NULL});
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(r, cshm_lock(r), CSHM_OK);
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  EXPECT_RC(r, cshm_unlock(r), CSHM_OK);
  cshm_free(r);
  cshm_free(w);
}

/* ==== the lock ==================================================================== */

/* Another process holds Qt's lock: try is CSHM_EBUSY, a timeout CSHM_ETIMEDOUT, and
 * cshm_inspect sees it taken (the semaphore's count, read without taking it); once
 * released, it is ours. */
static void lock_excludes_across_processes(void **state) {
  (void)state;
  const char *key = ts_key("lock");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY), *p = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  ts_child c = spawn((const char *const[]){key, "qt-legacy", "attach", "lock", "signal",
                                           "unlock", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, 0), CSHM_ETIMEDOUT);
  unsigned long long t0 = ts_now_ms();
  EXPECT_RC(h, cshm_lock_timeout(h, 50), CSHM_ETIMEDOUT);
  assert_true(ts_now_ms() - t0 >= 40);
  cshm_info info;
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.locked, 1);
  ts_resume(&c);
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.locked, 0);
  EXPECT_RC(h, cshm_lock_timeout(h, 5000), CSHM_OK);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.locked, 1);
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL); /* Qt: false, no error */
  cshm_free(p);
  cshm_free(h);
}

typedef struct waiter {
  const char *key;
  HANDLE done;
  int rc;
} waiter;

static DWORD WINAPI attach_in_thread(LPVOID arg) {
  waiter *w = arg;
  cshm *h = NULL;
  w->rc = cshm_new(&h, w->key);
  if (w->rc == CSHM_OK && (w->rc = cshm_set_key_type(h, CSHM_KEY_QT_LEGACY)) == CSHM_OK)
    w->rc = cshm_attach(h, CSHM_READ_WRITE);
  SetEvent(w->done);
  cshm_free(h);
  return 0;
}

/* Qt's protocol: create and attach take the lock around the operation, so they wait
 * while another process holds it (Qt's own attach() does). */
static void attach_waits_for_qts_lock(void **state) {
  (void)state;
  const char *key = ts_key("attach-waits");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  ts_child c = spawn((const char *const[]){key, "qt-legacy", "attach", "lock", "signal",
                                           "unlock", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  waiter w = {key, CreateEventW(NULL, TRUE, FALSE, NULL), -99};
  HANDLE t = CreateThread(NULL, 0, attach_in_thread, &w, 0, NULL);
  assert_non_null(t);
  assert_int_equal(WaitForSingleObject(w.done, 300), WAIT_TIMEOUT); /* waiting */
  ts_resume(&c); /* the helper unlocks */
  assert_int_equal(WaitForSingleObject(w.done, 10000), WAIT_OBJECT_0);
  assert_int_equal(w.rc, CSHM_OK);
  assert_true(ts_expect(&c, "signal"));
  ts_resume(&c);
  assert_int_equal(ts_wait(&c), 0);
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
  CloseHandle(w.done);
  cshm_free(h);
}

/* Relocking through this or any other handle of the segment is CSHM_EDEADLK - also
 * when the other handle spells the name with "Local\" (the same semaphore) - and a
 * thread holding the lock can attach another handle (Qt's object would wait for
 * itself). */
static void relock_is_edeadlk(void **state) {
  (void)state;
  const char *key = ts_key("edeadlk");
  cshm *a = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  cshm *b = qt_handle(local_key(key), CSHM_KEY_QT_PLATFORM_SAFE);
  EXPECT_RC(a, cshm_create(a, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(b, cshm_attach(b, CSHM_READ_WRITE), CSHM_OK); /* the same object */
  memcpy(cshm_data(a), "one", sizeof "one");
  assert_string_equal(cshm_const_data(b), "one");
  EXPECT_RC(a, cshm_lock(a), CSHM_OK);
  EXPECT_RC(a, cshm_lock(a), CSHM_EDEADLK);
  /* try and timeout first: a semaphore that does not know its holder would only
   * time out there, where lock() waits for itself forever. */
  EXPECT_RC(b, cshm_try_lock(b), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_lock_timeout(b, 10), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_lock(b), CSHM_EDEADLK);
  EXPECT_CONTAINS(cshm_error_string(b), "another handle");
  EXPECT_RC(b, cshm_unlock(b), CSHM_EINVAL);
  cshm *c = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  EXPECT_RC(c, cshm_attach(c, CSHM_READ_ONLY), CSHM_OK); /* no self-deadlock */
  EXPECT_RC(c, cshm_detach(c), CSHM_OK);
  EXPECT_RC(a, cshm_unlock(a), CSHM_OK);
  /* Released once, it is free (the refused relocks took nothing). */
  assert_int_equal(ts_run((const char *const[]){key, "qt-platform-safe", "attach", "try-lock",
                                                "unlock", NULL}),
                   0);
  EXPECT_RC(b, cshm_lock(b), CSHM_OK);
  EXPECT_RC(a, cshm_try_lock(a), CSHM_EDEADLK);
  EXPECT_RC(b, cshm_unlock(b), CSHM_OK);
  cshm_free(c);
  cshm_free(b);
  cshm_free(a);
}

/* A helper killed while it holds the semaphore: a semaphore has no owner and no
 * WAIT_ABANDONED, so the count stays 0 while any process keeps a handle - Qt's known
 * deadlock (research/qt.md §4, §5.3). cshm cannot report owner death here: try is
 * CSHM_EBUSY, a timeout CSHM_ETIMEDOUT, in this process and in others, forever. Our
 * detach does not wait for that lock; once the last handle is closed the semaphore
 * is gone, and the name starts afresh. */
static void killed_holder_keeps_the_semaphore(void **state) {
  (void)state;
  const char *key = ts_key("killed");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY), *p = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  ts_child c = spawn((const char *const[]){key, "qt-legacy", "attach", "lock", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  ts_kill(&c);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  EXPECT_RC(h, cshm_lock_timeout(h, 100), CSHM_ETIMEDOUT);
  EXPECT_CONTAINS(cshm_error_string(h), "stays taken");
  cshm_info info;
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.locked, 1);
  /* Another process that attaches waits in attach - forever, as Qt's attach() does
   * (both take the lock around it): it is still there after 300 ms, and is killed. */
  ts_child w = spawn((const char *const[]){key, "qt-legacy", "attach", "signal", NULL});
  HANDLE proc = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)w.pid);
  assert_non_null(proc);
  assert_int_equal(WaitForSingleObject(proc, 300), WAIT_TIMEOUT);
  CloseHandle(proc);
  ts_kill(&w);
  /* cshm_attach_timeout() bounds that wait (it used to wait forever, as cshm_attach):
   * CSHM_ETIMEDOUT, unattached; 0 only looks. */
  cshm *t = qt_handle(key, CSHM_KEY_QT_LEGACY);
  EXPECT_RC(t, cshm_attach_timeout(t, CSHM_READ_WRITE, 100), CSHM_ETIMEDOUT);
  assert_false(cshm_is_attached(t));
  EXPECT_RC(t, cshm_attach_timeout(t, CSHM_READ_ONLY, 0), CSHM_ETIMEDOUT);
  EXPECT_RC(t, cshm_attach_ex(t, CSHM_READ_WRITE, CSHM_ATTACH_WAIT, 100), CSHM_ETIMEDOUT);
  assert_false(cshm_is_attached(t));
  cshm_free(t);
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EBUSY);
  cshm_free(h); /* no wait: detach does not take the lock */
  assert_false(mapping_exists(cshm_native_key(p)));
  assert_false(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));

  /* Everyone gone: the next create makes a new semaphore, free. */
  EXPECT_RC(p, cshm_create(p, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(p, cshm_try_lock(p), CSHM_OK);
  EXPECT_RC(p, cshm_unlock(p), CSHM_OK);
  cshm_free(p);
}

/* ==== lifetime, inspect =========================================================== */

/* Kernel-owned, as Qt's Windows backend: the segment lives while any process has it
 * open - its creator may die - and goes with the last handle, semaphore included.
 * cshm_remove() has nothing to do (CSHM_ENOTSUP). */
static void kernel_owned_lifetime(void **state) {
  (void)state;
  const char *key = ts_key("lifetime");
  cshm *h = qt_handle(key, CSHM_KEY_QT_LEGACY);
  char native[600];
  snprintf(native, sizeof native, "%s", cshm_native_key(h));
  ts_child c = spawn((const char *const[]){key, "qt-legacy", "create:4096",
                                           "write:from the helper", "signal", NULL});
  assert_true(ts_expect(&c, "signal"));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_OK);
  ts_kill(&c); /* the creator dies; our handle keeps the segment */
  assert_string_equal(cshm_const_data(h), "from the helper");
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_QT_LEGACY), CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_last_error_string(), "last handle");
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_ENOTSUP);
  assert_true(mapping_exists(native));
  assert_int_equal(ts_run((const char *const[]){key, "qt-legacy", "attach",
                                                "expect:from the helper", "write:reply",
                                                "lock", "unlock", "detach", NULL}),
                   0);
  assert_string_equal(cshm_const_data(h), "reply");
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(mapping_exists(native));
  assert_false(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY)));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_ENOENT);
  assert_false(semaphore_exists(semaphore_of(key, CSHM_KEY_QT_LEGACY))); /* made none */
  cshm_free(h);
}

/* cshm_inspect for a Qt segment: what can be told without attaching - the size Qt
 * reports, attached (it exists, so some process has it open), format 0.0 (no header),
 * no creator, the lock's state (the semaphore's count) - and nothing is disturbed. */
static void inspect_tells_what_it_can(void **state) {
  (void)state;
  const char *key = ts_key("inspect");
  cshm *h = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  cshm *p = qt_handle(key, CSHM_KEY_QT_PLATFORM_SAFE);
  cshm_info info;
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_ENOENT);
  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_OK);
  memset(&info, 0xff, sizeof info);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.size, page_size());
  assert_int_equal(info.format_major, 0);
  assert_int_equal(info.format_minor, 0);
  assert_int_equal(info.creator_pid, 0);
  assert_int_equal(info.attached, 1);
  assert_int_equal(info.locked, 0);
  assert_int_equal(info.lock_owner, 0);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_OK);
  assert_int_equal(info.locked, 1);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  EXPECT_RC(p, cshm_inspect(p, &info), CSHM_ENOENT); /* inspect held nothing */
  cshm_free(p);
  cshm_free(h);
}

/* Everything this suite made is gone: every mapping (ts_leftovers) and every
 * semaphore. */
static void no_leftovers(void **state) {
  (void)state;
  int left = 0;
  for (int i = 0; i < semaphore_count; i++)
    if (semaphore_exists(semaphores[i])) {
      fprintf(stderr, "leftover semaphore: %s\n", semaphores[i]);
      left++;
    }
  assert_int_equal(left, 0);
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(legacy_names_follow_the_vectors),
      cmocka_unit_test(platform_safe_names_follow_the_vectors),
      cmocka_unit_test(native_keys_and_legacy_posix),
      cmocka_unit_test(legacy_segments_across_processes),
      cmocka_unit_test(platform_safe_segments_across_processes),
      cmocka_unit_test(create_existing_and_sizes),
      cmocka_unit_test(names_of_other_objects),
      cmocka_unit_test(read_only_attachment_can_lock),
      cmocka_unit_test(lock_excludes_across_processes),
      cmocka_unit_test(attach_waits_for_qts_lock),
      cmocka_unit_test(relock_is_edeadlk),
      cmocka_unit_test(killed_holder_keeps_the_semaphore),
      cmocka_unit_test(kernel_owned_lifetime),
      cmocka_unit_test(inspect_tells_what_it_can),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("win32_qt", tests, NULL, NULL);
}
