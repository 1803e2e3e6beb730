/* Qt's names, byte for byte (research/qt.md §2):
 * - the worked examples of §2.5 for every OS flavour, through the pure derivations
 *   (qt_names.h: macOS and Windows rules are checked here, on Linux) and through the
 *   public API (cshm_native_key_for) for this OS;
 * - the limits (197/198 letters for System V, the POSIX name lengths) and native-key
 *   validation per key type;
 * - a differential test: thousands of generated keys (letters, digits, punctuation,
 *   spaces, control characters, non-ASCII, around the 197/198-letter limit), under
 *   every kind of $TMPDIR (unset, empty, plain, trailing "/", symlink, "/", missing,
 *   relative, "..", not UTF-8), whose names from real Qt 5 and Qt 6
 *   QSharedMemory::nativeKey() and from cshm_native_key_for() must be byte-identical.
 *   Qt >= 6.6 is not in Debian: the POSIX and platform-safe names have vectors only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "peer.h"
#include "qt_names.h"

#define HEX "d3faa70b96e6c94a96cbd5270f2f9f4a8f14fdcd" /* SHA-1("my_shared_memory") */
#define NAME_CAP (PATH_MAX + 1024)

static char g_dir[PATH_MAX];  /* a private directory for this run */
static char g_real[PATH_MAX]; /* its canonical path */
static char g_tmp[PATH_MAX];  /* realpath("/tmp") */

static void set_tmpdir(const char *value) {
  if (value == NULL)
    unsetenv("TMPDIR");
  else
    setenv("TMPDIR", value, 1);
}

static void expect_name(cshm_key_type t, const char *key, const char *want) {
  char buf[NAME_CAP];
  int rc = cshm_native_key_for(buf, sizeof buf, key, t);
  if (rc != CSHM_OK)
    print_error("%s\n", cshm_last_error_string());
  assert_int_equal(rc, CSHM_OK);
  assert_string_equal(buf, want);
}

static void expect_refused(cshm_key_type t, const char *key) {
  char buf[NAME_CAP];
  assert_int_equal(cshm_native_key_for(buf, sizeof buf, key, t), CSHM_EKEY);
}

/* ---- §2.5 through the public API (Linux) ------------------------------------------ */

static void test_vectors_public_api(void **state) {
  (void)state;
  char want[NAME_CAP];
  set_tmpdir(NULL);
  snprintf(want, sizeof want, "%s/qipc_sharedmemory_mysharedmemory" HEX, g_tmp);
  expect_name(CSHM_KEY_QT_LEGACY, "my_shared_memory", want);
  /* [EMP-6.4] "Hello World 123 ÄÖ/x" */
  snprintf(want, sizeof want, "%s/qipc_sharedmemory_HelloWorldxa56c2de1ae1af52e9dd0ec339d1999f918744be3",
           g_tmp);
  expect_name(CSHM_KEY_QT_LEGACY, "Hello World 123 \xc3\x84\xc3\x96/x", want);
  set_tmpdir(g_dir);
  snprintf(want, sizeof want, "%s/qipc_sharedmemory_mysharedmemory" HEX, g_real);
  expect_name(CSHM_KEY_QT_LEGACY, "my_shared_memory", want);
  expect_name(CSHM_KEY_QT_LEGACY_POSIX, "my_shared_memory", "/qipc_sharedmemory_mysharedmemory" HEX);
  expect_name(CSHM_KEY_QT_PLATFORM_SAFE, "my_shared_memory", "/my_shared_memory");
  /* uniqueKey: "Noël" and "Nol" differ (the hash covers the whole key). */
  char a[NAME_CAP], b[NAME_CAP];
  assert_int_equal(cshm_native_key_for(a, sizeof a, "No\xc3\xabl", CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_int_equal(cshm_native_key_for(b, sizeof b, "Nol", CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_string_not_equal(a, b);
  /* A handle reports the same names, and keeps its key. */
  cshm *h;
  assert_int_equal(cshm_new(&h, NULL), CSHM_OK);
  assert_int_equal(cshm_set_key_type(h, CSHM_KEY_QT_LEGACY_POSIX), CSHM_OK);
  assert_int_equal(cshm_set_key(h, "my_shared_memory"), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "/qipc_sharedmemory_mysharedmemory" HEX);
  assert_int_equal(cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "/my_shared_memory");
  assert_string_equal(cshm_key(h), "my_shared_memory");
  cshm_free(h);
}

/* ---- §2.5 through the pure derivations, every OS flavour ---------------------------- */

typedef size_t (*derive_fn)(const char *key, cshm__qt_object obj, cshm__qt_os os, char *out,
                            size_t cap);

static void expect_pure(size_t len, const char *got, const char *want) {
  assert_string_equal(got, want);
  assert_int_equal(len, strlen(want));
}

static void test_vectors_every_os(void **state) {
  (void)state;
  char out[NAME_CAP];
  const char *k = "my_shared_memory";
  char hex[CSHM__QT_HEX_LEN + 1];
  cshm__qt_sha1_hex(k, hex);
  assert_string_equal(hex, HEX);
  assert_int_equal(cshm__qt_letter_count(k), 14);

  /* System V, with Qt's temporary directory as given (tempPath() may be "" or "/"). */
  expect_pure(cshm__qt_legacy_sysv_name("/tmp", k, CSHM__QT_MEMORY, out, sizeof out), out,
              "/tmp/qipc_sharedmemory_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_sysv_name("/tmp", k, CSHM__QT_SEMAPHORE, out, sizeof out), out,
              "/tmp/qipc_systemsem_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_sysv_name("", k, CSHM__QT_MEMORY, out, sizeof out), out,
              "/qipc_sharedmemory_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_sysv_name("/", k, CSHM__QT_MEMORY, out, sizeof out), out,
              "//qipc_sharedmemory_mysharedmemory" HEX);

  /* Legacy POSIX: Linux; macOS (29 hex characters, one name for both; sandboxed: the
   * key verbatim); Windows legacy (no namespace prefix). */
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_UNIX, false, out, sizeof out),
              out, "/qipc_sharedmemory_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_SEMAPHORE, CSHM__QT_OS_UNIX, false, out, sizeof out),
              out, "/qipc_systemsem_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_APPLE, false, out, sizeof out),
              out, "/d3faa70b96e6c94a96cbd5270f2f9");
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_SEMAPHORE, CSHM__QT_OS_APPLE, false, out, sizeof out),
              out, "/d3faa70b96e6c94a96cbd5270f2f9");
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_APPLE, true, out, sizeof out),
              out, "my_shared_memory");
  expect_pure(cshm__qt_legacy_posix_name(k, CSHM__QT_SEMAPHORE, CSHM__QT_OS_APPLE, true, out, sizeof out),
              out, "my_shared_memory");
  expect_pure(cshm__qt_legacy_windows_name(k, CSHM__QT_MEMORY, out, sizeof out), out,
              "qipc_sharedmemory_mysharedmemory" HEX);
  expect_pure(cshm__qt_legacy_windows_name(k, CSHM__QT_SEMAPHORE, out, sizeof out), out,
              "qipc_systemsem_mysharedmemory" HEX);

  /* Qt >= 6.6 platformSafeKey() and its lock's semaphore. */
  expect_pure(cshm__qt_platform_safe_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_UNIX, out, sizeof out), out,
              "/my_shared_memory");
  expect_pure(cshm__qt_platform_safe_name(k, CSHM__QT_SEMAPHORE, CSHM__QT_OS_UNIX, out, sizeof out), out,
              "/my_shared_memory");
  expect_pure(cshm__qt_platform_safe_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_APPLE, out, sizeof out), out,
              "/my_shared_memory");
  expect_pure(cshm__qt_platform_safe_name(k, CSHM__QT_MEMORY, CSHM__QT_OS_WINDOWS, out, sizeof out), out,
              "shm_my_shared_memory");
  expect_pure(cshm__qt_platform_safe_name(k, CSHM__QT_SEMAPHORE, CSHM__QT_OS_WINDOWS, out, sizeof out),
              out, "shm_my_shared_memory_sem");
  expect_pure(cshm__qt_platform_safe_name("Global\\foo", CSHM__QT_MEMORY, CSHM__QT_OS_WINDOWS, out, sizeof out),
              out, "Global\\shm_foo");
  expect_pure(cshm__qt_platform_safe_name("Local\\foo", CSHM__QT_SEMAPHORE, CSHM__QT_OS_WINDOWS, out, sizeof out),
              out, "Local\\shm_foo_sem");
  expect_pure(cshm__qt_platform_safe_name("local\\foo", CSHM__QT_MEMORY, CSHM__QT_OS_WINDOWS, out, sizeof out),
              out, "shm_local\\foo"); /* QString::startsWith is case-sensitive */
}

/* macOS keeps 29 UTF-16 units; Windows MAX_PATH units (the semaphore 255 + "_sem"). */
static void test_truncation_in_utf16_units(void **state) {
  (void)state;
  char out[NAME_CAP], key[1024];
  expect_pure(cshm__qt_platform_safe_name("abcdefghijklmnopqrstuvwxyz0123456789", CSHM__QT_MEMORY,
                                          CSHM__QT_OS_APPLE, out, sizeof out),
              out, "/abcdefghijklmnopqrstuvwxyz012");
  /* "é" is one unit (two bytes); "😀" two units (four bytes). */
  expect_pure(cshm__qt_platform_safe_name("\xc3\xa9" "bcdefghijklmnopqrstuvwxyz0123456789", CSHM__QT_MEMORY,
                                          CSHM__QT_OS_APPLE, out, sizeof out),
              out, "/\xc3\xa9" "bcdefghijklmnopqrstuvwxyz012");
  /* 27 units + an emoji: 29 units exactly; 28 + an emoji: the pair is cut, Qt's UTF-8
   * encoder writes the lone high surrogate as '?'. */
  expect_pure(cshm__qt_platform_safe_name("abcdefghijklmnopqrstuvwxyz0\xf0\x9f\x98\x80tail", CSHM__QT_MEMORY,
                                          CSHM__QT_OS_APPLE, out, sizeof out),
              out, "/abcdefghijklmnopqrstuvwxyz0\xf0\x9f\x98\x80");
  expect_pure(cshm__qt_platform_safe_name("abcdefghijklmnopqrstuvwxyz01\xf0\x9f\x98\x80tail", CSHM__QT_MEMORY,
                                          CSHM__QT_OS_APPLE, out, sizeof out),
              out, "/abcdefghijklmnopqrstuvwxyz01?");
  assert_int_equal(cshm__qt_utf16_length("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"), 5);
  memset(key, 'a', 300);
  key[300] = '\0';
  size_t n = cshm__qt_platform_safe_name(key, CSHM__QT_MEMORY, CSHM__QT_OS_WINDOWS, out, sizeof out);
  assert_int_equal(n, CSHM__QT_WIN_MAX_PATH);
  assert_memory_equal(out, "shm_aaaa", 8);
  n = cshm__qt_platform_safe_name(key, CSHM__QT_SEMAPHORE, CSHM__QT_OS_WINDOWS, out, sizeof out);
  assert_int_equal(n, CSHM__QT_WIN_MAX_PATH - 5 + 4);
  assert_string_equal(out + n - 5, "a_sem");
  /* Bounded output, snprintf-style length. */
  assert_int_equal(cshm__qt_legacy_stem("my_shared_memory", CSHM__QT_MEMORY, out, 5),
                   strlen("qipc_sharedmemory_mysharedmemory" HEX));
  assert_string_equal(out, "qipc");
}

/* ---- limits and native keys ------------------------------------------------------- */

/* A key with `letters` ASCII letters and a few other characters between them. */
static void key_with_letters(char *out, size_t letters) {
  static const char others[] = "1_ \xc3\xa9-";
  char *o = out;
  for (size_t i = 0; i < letters; i++) {
    *o++ = (char)('a' + i % 26);
    if (i % 10 == 9)
      for (const char *p = others; *p; p++)
        *o++ = *p;
  }
  *o = '\0';
}

static void test_limits(void **state) {
  (void)state;
  char key[2048], buf[NAME_CAP];
  set_tmpdir(g_dir);
  /* System V: the key file's name is 18 + letters + 40 bytes, at most NAME_MAX (255):
   * 197 letters work (as in Qt), 198 do not (Qt: KeyError at create). */
  key_with_letters(key, 197);
  assert_int_equal(cshm_native_key_for(buf, sizeof buf, key, CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_int_equal(strlen(strrchr(buf, '/') + 1), 255);
  key_with_letters(key, 198);
  expect_refused(CSHM_KEY_QT_LEGACY, key);
  assert_non_null(strstr(cshm_last_error_string(), "198 ASCII letters"));
  /* Legacy POSIX on Linux: the semaphore's file "sem.qipc_systemsem_" + letters + 40
   * bytes bounds it: 196 letters. */
  key_with_letters(key, 196);
  assert_int_equal(cshm_native_key_for(buf, sizeof buf, key, CSHM_KEY_QT_LEGACY_POSIX), CSHM_OK);
  key_with_letters(key, 197);
  expect_refused(CSHM_KEY_QT_LEGACY_POSIX, key);
  /* Platform-safe: "/" + key names the semaphore too: at most 251 bytes, no "/". */
  memset(key, 'k', 251);
  key[251] = '\0';
  assert_int_equal(cshm_native_key_for(buf, sizeof buf, key, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  strcat(key, "k");
  expect_refused(CSHM_KEY_QT_PLATFORM_SAFE, key);
  expect_refused(CSHM_KEY_QT_PLATFORM_SAFE, "a/b");
  expect_refused(CSHM_KEY_QT_PLATFORM_SAFE, ".");
  expect_refused(CSHM_KEY_QT_PLATFORM_SAFE, "..");
  /* Keys are UTF-8 for every type. */
  expect_refused(CSHM_KEY_QT_LEGACY, "bad\xff");
  expect_refused(CSHM_KEY_QT_PLATFORM_SAFE, "");
  /* The buffer must hold the name. */
  assert_int_equal(cshm_native_key_for(buf, 10, "my_shared_memory", CSHM_KEY_QT_LEGACY), CSHM_EINVAL);
}

static void test_native_keys(void **state) {
  (void)state;
  cshm *h;
  char name[512];
  assert_int_equal(cshm_new(&h, NULL), CSHM_OK);
  /* System V: an absolute path of a file, each component within NAME_MAX. */
  assert_int_equal(cshm_set_native_key(h, "/tmp/a-key-file", CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_null(cshm_key(h));
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_QT_LEGACY);
  assert_int_equal(cshm_set_native_key(h, "relative", CSHM_KEY_QT_LEGACY), CSHM_EKEY);
  assert_int_equal(cshm_set_native_key(h, "/tmp/dir/", CSHM_KEY_QT_LEGACY), CSHM_EKEY);
  snprintf(name, sizeof name, "/tmp/%0256d", 0);
  assert_int_equal(cshm_set_native_key(h, name, CSHM_KEY_QT_LEGACY), CSHM_EKEY);
  /* POSIX: "/" + at most 251 bytes (the name is the semaphore's too), one "/". */
  for (cshm_key_type t = CSHM_KEY_QT_LEGACY_POSIX; t <= CSHM_KEY_QT_PLATFORM_SAFE; t++) {
    assert_int_equal(cshm_set_native_key(h, "/qipc_sharedmemory_x", t), CSHM_OK);
    assert_int_equal(cshm_set_native_key(h, "noslash", t), CSHM_EKEY);
    assert_int_equal(cshm_set_native_key(h, "/a/b", t), CSHM_EKEY);
    assert_int_equal(cshm_set_native_key(h, "/", t), CSHM_EKEY);
    assert_int_equal(cshm_set_native_key(h, "/..", t), CSHM_EKEY);
    snprintf(name, sizeof name, "/%0251d", 0);
    assert_int_equal(cshm_set_native_key(h, name, t), CSHM_OK);
    snprintf(name, sizeof name, "/%0252d", 0);
    assert_int_equal(cshm_set_native_key(h, name, t), CSHM_EKEY);
  }
  /* Switching type re-validates a native key: a POSIX name is also an absolute path. */
  assert_int_equal(cshm_set_native_key(h, "/qipc_x", CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  assert_int_equal(cshm_set_key_type(h, CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_int_equal(cshm_set_native_key(h, "/tmp/x", CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_int_equal(cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_EKEY);
  cshm_free(h);
}

/* ---- the differential test against real Qt ------------------------------------------ */

#define N_RANDOM 3000

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)((rng_state >> 11) % n);
}

static const char *const non_ascii[] = {
    "\xc3\xa9", "\xc3\x84", "\xc3\x96", "\xc3\x9f", "\xc3\xb1", "\xe2\x82\xac", "\xe6\x97\xa5",
    "\xe6\x9c\xac", "\xe8\xaa\x9e", "\xe3\x82\xad", "\xf0\x9f\x98\x80", "\xf0\x9f\x9a\x80",
    "\xc2\xa0", "\xcc\x81", "\xce\xa9", "\xc7\x85", "\xef\xac\x80", "\xef\xbb\xbf", "\xd7\x90",
    "\xf0\x90\x80\x80", "\xef\xbf\xbd", "\xe2\x80\xae"};
static const char punctuation[] = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

static void append_piece(char **o) {
  uint32_t r = rnd(100);
  if (r < 40) {
    *(*o)++ = (char)(rnd(2) ? 'a' + rnd(26) : 'A' + rnd(26));
  } else if (r < 55) {
    *(*o)++ = (char)('0' + rnd(10));
  } else if (r < 75) {
    *(*o)++ = punctuation[rnd(sizeof punctuation - 1)];
  } else if (r < 80) {
    static const char controls[] = "\t\n\r\x01\x1f\x7f";
    *(*o)++ = controls[rnd(sizeof controls - 1)];
  } else {
    const char *p = non_ascii[rnd(sizeof non_ascii / sizeof non_ascii[0])];
    size_t n = strlen(p);
    memcpy(*o, p, n);
    *o += n;
  }
}

/* Anything but an ASCII letter. */
static void append_other(char **o) {
  uint32_t r = rnd(3);
  if (r == 0) {
    *(*o)++ = (char)('0' + rnd(10));
  } else if (r == 1) {
    *(*o)++ = punctuation[rnd(sizeof punctuation - 1)];
  } else {
    const char *p = non_ascii[rnd(sizeof non_ascii / sizeof non_ascii[0])];
    size_t n = strlen(p);
    memcpy(*o, p, n);
    *o += n;
  }
}

typedef struct keyset {
  size_t count;
  char **keys;
} keyset;

static void add_key(keyset *ks, const char *k) {
  ks->keys = realloc(ks->keys, (ks->count + 1) * sizeof *ks->keys);
  assert_non_null(ks->keys);
  ks->keys[ks->count] = strdup(k);
  assert_non_null(ks->keys[ks->count]);
  ks->count++;
}

static keyset make_keys(void) {
  keyset ks = {0, NULL};
  static const char *const fixed[] = {
      "my_shared_memory", "Hello World 123 \xc3\x84\xc3\x96/x", "No\xc3\xabl", "Nol", "/", "\\", "a/b",
      "..", ".", "Global\\x", "Local\\x", "1234", "_", " ", "\xf0\x9f\x98\x80", "qipc_sharedmemory_x"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    add_key(&ks, fixed[i]);
  char key[4096];
  for (int i = 0; i < N_RANDOM; i++) {
    char *o = key;
    for (uint32_t n = 1 + rnd(40); n > 0; n--)
      append_piece(&o);
    *o = '\0';
    add_key(&ks, key);
  }
  /* Around the System V limit: 190..205 letters, alone or with other characters. */
  for (size_t letters = 190; letters <= 205; letters++)
    for (int variant = 0; variant < 3; variant++) {
      char *o = key;
      for (size_t i = 0; i < letters; i++) {
        *o++ = (char)(rnd(2) ? 'a' + rnd(26) : 'A' + rnd(26));
        if (variant > 0 && rnd(4) == 0)
          append_other(&o);
      }
      *o = '\0';
      add_key(&ks, key);
    }
  return ks;
}

static void free_keys(keyset *ks) {
  for (size_t i = 0; i < ks->count; i++)
    free(ks->keys[i]);
  free(ks->keys);
}

typedef struct tmpdir_case {
  const char *label;
  char value[PATH_MAX + 32];
  bool unset;
} tmpdir_case;

static size_t tmpdir_cases(tmpdir_case *c) {
  size_t n = 0;
  c[n++] = (tmpdir_case){"unset", "", true};
  c[n++] = (tmpdir_case){"empty", "", false};
  c[n] = (tmpdir_case){"plain", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s", g_dir);
  c[n] = (tmpdir_case){"trailing slash", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/", g_dir);
  c[n] = (tmpdir_case){"symlink", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/link", g_real);
  c[n] = (tmpdir_case){"symlink and slashes", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/link//", g_real);
  c[n++] = (tmpdir_case){"root", "/", false};
  c[n] = (tmpdir_case){"missing", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/missing", g_dir);
  c[n++] = (tmpdir_case){"relative", ".", false};
  c[n] = (tmpdir_case){"dot-dot", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/sub/../sub/..", g_dir);
  c[n] = (tmpdir_case){"not UTF-8", "", false};
  snprintf(c[n++].value, sizeof c->value, "%s/l\xe9", g_dir);
  return n;
}

/* The names of every key from one Qt probe under one $TMPDIR, compared with cshm's.
 * Returns the number of mismatches; *refused counts keys cshm refuses (CSHM_EKEY),
 * each of which must have a key-file name over NAME_MAX in Qt. */
static size_t compare_with_qt(const char *probe, const char *label, const keyset *ks,
                              const char *keys_file, const tmpdir_case *tc, size_t *refused) {
  set_tmpdir(tc->unset ? NULL : tc->value);
  peer p;
  const char *argv[] = {probe, "names", keys_file, NULL};
  assert_true(peer_start(&p, label, argv, tc->unset ? NULL : tc->value, keys_file));
  size_t bad = 0;
  static char qt[1 << 15], mine[NAME_CAP];
  for (size_t i = 0; i < ks->count; i++) {
    const char *line = peer_wait(&p);
    assert_false(starts_with(line, "<"));
    unhex(line, qt, sizeof qt);
    int rc = cshm_native_key_for(mine, sizeof mine, ks->keys[i], CSHM_KEY_QT_LEGACY);
    const char *base = strrchr(qt, '/') != NULL ? strrchr(qt, '/') + 1 : qt;
    bool ok = rc == CSHM_OK ? strcmp(qt, mine) == 0 && strlen(base) <= 255
                            : rc == CSHM_EKEY && strlen(base) > 255;
    if (rc == CSHM_EKEY)
      (*refused)++;
    if (!ok && bad++ < 5)
      print_error("%s, TMPDIR %s: key %s: Qt \"%s\", cshm %s \"%s\"\n", label, tc->label,
                  hex_str(ks->keys[i]), qt, cshm_error_name(rc), rc == CSHM_OK ? mine : "");
  }
  assert_string_equal(peer_wait(&p), "<eof>");
  assert_int_equal(peer_stop(&p), 0);
  return bad;
}

static void differential(const char *probe, const char *label) {
  keyset ks = make_keys();
  char keys_file[PATH_MAX + 16];
  snprintf(keys_file, sizeof keys_file, "%s/keys", g_real);
  FILE *f = fopen(keys_file, "w");
  assert_non_null(f);
  for (size_t i = 0; i < ks.count; i++)
    fprintf(f, "%s\n", hex_str(ks.keys[i]));
  fclose(f);
  tmpdir_case cases[16];
  size_t ncases = tmpdir_cases(cases);
  size_t bad = 0, refused = 0;
  for (size_t c = 0; c < ncases; c++)
    bad += compare_with_qt(probe, label, &ks, keys_file, &cases[c], &refused);
  print_message("%s: %zu keys x %zu $TMPDIR cases: %zu names compared, %zu mismatches "
                "(%zu refused by cshm, all over Qt's NAME_MAX)\n",
                label, ks.count, ncases, ks.count * ncases, bad, refused);
  unlink(keys_file);
  free_keys(&ks);
  set_tmpdir(g_dir);
  assert_int_equal(bad, 0);
}

#ifdef CSHM_QT5_PROBE
static void test_differential_qt5(void **state) {
  (void)state;
  differential(CSHM_QT5_PROBE, "Qt 5");
}
#endif
#ifdef CSHM_QT6_PROBE
static void test_differential_qt6(void **state) {
  (void)state;
  differential(CSHM_QT6_PROBE, "Qt 6");
}
#endif

/* ---- fixture ---------------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/cshm-qt-names-XXXXXX");
  if (mkdtemp(g_dir) == NULL || realpath(g_dir, g_real) == NULL || realpath("/tmp/", g_tmp) == NULL)
    return -1;
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/link", g_real);
  if (symlink(g_real, path) != 0)
    return -1;
  snprintf(path, sizeof path, "%s/sub", g_real);
  if (mkdir(path, 0700) != 0)
    return -1;
  snprintf(path, sizeof path, "%s/l\xe9", g_real);
  if (mkdir(path, 0700) != 0)
    return -1;
  set_tmpdir(g_dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char path[PATH_MAX + 16];
  const char *const entries[] = {"link", "sub", "l\xe9"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", g_real, entries[i]);
    if (unlink(path) != 0 && rmdir(path) != 0)
      return -1;
  }
  return rmdir(g_real) == 0 ? 0 : -1; /* fails when anything else was left */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_public_api),
      cmocka_unit_test(test_vectors_every_os),
      cmocka_unit_test(test_truncation_in_utf16_units),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_native_keys),
#ifdef CSHM_QT5_PROBE
      cmocka_unit_test(test_differential_qt5),
#endif
#ifdef CSHM_QT6_PROBE
      cmocka_unit_test(test_differential_qt6),
#endif
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
