/* The public API's edges: every bad input and wrong state returns the documented code
 * (include/cshm/cshm.h), the error table is the contract DESIGN.md §2 fixes, messages
 * name what failed, and keys derive the frozen names of DESIGN.md §5. Almost all of
 * it runs in one process; the few segments it makes use ts_key() names.
 * Non-ASCII keys are written as byte escapes so the source encoding cannot matter. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* clock_gettime, for the watchdog */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#endif

#include "cshm/cshm.h"
#include "expect.h"
#include "support.h"

/* The default native name of a stem on this OS (DESIGN.md §5). */
#ifdef _WIN32
#define NATIVE(stem) "Local\\" stem
#else
#define NATIVE(stem) "/" stem
#endif

#ifdef _WIN32
/* Whether a segment of `key` exists (Windows: some process has it open); attaching
 * for a moment does not keep it alive. */
static bool segment_exists(const char *key) {
  cshm *probe = NULL;
  if (cshm_new(&probe, key) != CSHM_OK)
    return false;
  int rc = cshm_attach(probe, CSHM_READ_ONLY);
  cshm_free(probe);
  return rc == CSHM_OK;
}
#endif

/* Keys every key-accepting function must refuse (DESIGN.md §5): empty, and invalid
 * UTF-8 of each kind (stray continuation, truncated sequence, overlong, surrogate,
 * above U+10FFFF, a byte that never occurs). NULL is tested separately. */
static const char *const bad_keys[] = {
    "",
    "\x80",
    "abc\xc3",
    "\xc0\xaf",
    "\xed\xa0\x80",
    "\xf4\x90\x80\x80",
    "key\xff",
};
#define N_BAD_KEYS (sizeof bad_keys / sizeof bad_keys[0])

/* ==== NULL handle ================================================================ */

/* cshm_new needs somewhere to put the handle. */
static void new_with_null_out_is_einval(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_new(NULL, "key"), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_new");
  EXPECT_RC(NULL, cshm_new(NULL, NULL), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_new");
}

/* Each call on a NULL handle, wrapped so one table can run them all. */
static int null_set_key(void) { return cshm_set_key(NULL, "key"); }
static int null_set_key_type(void) { return cshm_set_key_type(NULL, CSHM_KEY_DEFAULT); }
static int null_set_native_key(void) {
  return cshm_set_native_key(NULL, "/cshm_native", CSHM_KEY_DEFAULT);
}
static int null_set_permissions(void) { return cshm_set_permissions(NULL, 0600); }
static int null_create(void) { return cshm_create(NULL, 4096, CSHM_READ_WRITE); }
static int null_create_ex(void) {
  return cshm_create_ex(NULL, 4096, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL);
}
static int null_attach(void) { return cshm_attach(NULL, CSHM_READ_WRITE); }
static int null_attach_timeout(void) { return cshm_attach_timeout(NULL, CSHM_READ_WRITE, 10); }
static int null_detach(void) { return cshm_detach(NULL); }
static int null_lock(void) { return cshm_lock(NULL); }
static int null_try_lock(void) { return cshm_try_lock(NULL); }
static int null_lock_timeout(void) { return cshm_lock_timeout(NULL, 10); }
static int null_unlock(void) { return cshm_unlock(NULL); }

/* Every operation documents CSHM_EINVAL for a NULL handle, and its failure must be
 * explained in the thread's message, which names the function. */
static void null_handle_operations_are_einval(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int (*call)(void);
  } ops[] = {
      {"cshm_set_key", null_set_key},
      {"cshm_set_key_type", null_set_key_type},
      {"cshm_set_native_key", null_set_native_key},
      {"cshm_set_permissions", null_set_permissions},
      {"cshm_create", null_create},
      {"cshm_create_ex", null_create_ex},
      {"cshm_attach", null_attach},
      {"cshm_attach_timeout", null_attach_timeout},
      {"cshm_detach", null_detach},
      {"cshm_lock", null_lock},
      {"cshm_try_lock", null_try_lock},
      {"cshm_lock_timeout", null_lock_timeout},
      {"cshm_unlock", null_unlock},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    print_message("NULL handle: %s\n", ops[i].name);
    EXPECT_RC(NULL, ops[i].call(), CSHM_EINVAL);
    EXPECT_CONTAINS(cshm_last_error_string(), ops[i].name);
    EXPECT_CONTAINS(cshm_last_error_string(), "NULL");
  }
}

/* The accessors answer for a NULL handle instead of crashing; cshm_free(NULL) is a
 * no-op, like free(). */
static void null_handle_accessors_answer_empty(void **state) {
  (void)state;
  cshm_free(NULL);
  assert_null(cshm_key(NULL));
  assert_null(cshm_native_key(NULL));
  assert_int_equal(cshm_get_key_type(NULL), CSHM_KEY_DEFAULT);
  assert_false(cshm_is_attached(NULL));
  assert_null(cshm_data(NULL));
  assert_null(cshm_const_data(NULL));
  assert_int_equal(cshm_size(NULL), 0);
}

/* cshm_error(NULL) is documented as CSHM_EINVAL, and the message is never NULL or
 * empty, so a caller can print it unconditionally. */
static void null_handle_error_is_einval_with_a_message(void **state) {
  (void)state;
  assert_int_equal(cshm_error(NULL), CSHM_EINVAL);
  assert_non_null(cshm_error_string(NULL));
  assert_true(strlen(cshm_error_string(NULL)) > 0);
}

/* *created is written even when the handle is NULL: a caller reading it after a
 * failure must not see a stale true. */
static void null_handle_create_ex_clears_created(void **state) {
  (void)state;
  bool created = true;
  EXPECT_RC(NULL, cshm_create_ex(NULL, 4096, CSHM_READ_WRITE, 0, &created), CSHM_EINVAL);
  assert_false(created);
}

/* ==== a new handle (Qt's `constructor` and `nativeKey` tests) ====================== */

/* QSharedMemory's constructor: not attached, no data, size 0, NoError, empty error
 * string, empty key. cshm: key and native key NULL, default type. */
static void new_handle_without_key_is_empty(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  assert_null(cshm_const_data(h));
  assert_int_equal(cshm_size(h), 0);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_error_string(h), "");
  assert_null(cshm_key(h));
  assert_null(cshm_native_key(h));
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_DEFAULT);
  cshm_free(h);
}

/* With a key the handle is just as unattached, and reports that key. */
static void new_handle_with_key_is_unattached(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  assert_int_equal(cshm_size(h), 0);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_non_null(cshm_native_key(h));
  cshm_free(h);
}

/* Qt: detach() on a fresh QSharedMemory returns false; cshm says CSHM_EINVAL and
 * records it on the handle. */
static void new_handle_detach_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_detach(h), CSHM_EINVAL);
  assert_int_equal(cshm_error(h), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_detach");
  cshm_free(h);

  h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_detach(h), CSHM_EINVAL);
  cshm_free(h);
}

/* ==== wrong states ================================================================ */

/* A second create or attach on an attached handle is a state error, and it leaves
 * the existing attachment alone. */
static void create_or_attach_when_attached_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("attached-twice"));
  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_OK);
  void *data = cshm_data(h);

  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "already attached");
  EXPECT_RC(h, cshm_create_ex(h, 100, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL),
            CSHM_EINVAL);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EINVAL);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_EINVAL);

  assert_true(cshm_is_attached(h));
  assert_ptr_equal(cshm_data(h), data);
  assert_int_equal(cshm_size(h), 100);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  cshm_free(h);
}

/* Detach, the lock functions and unlock need an attachment; a key alone is not one. */
static void detach_lock_unlock_when_not_attached_are_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("never-attached"));
  EXPECT_RC(h, cshm_detach(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_lock(h), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "not attached");
  EXPECT_RC(h, cshm_try_lock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_lock_timeout(h, 0), CSHM_EINVAL);
  EXPECT_RC(h, cshm_lock_timeout(h, CSHM_INFINITE), CSHM_EINVAL);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  assert_int_equal(cshm_error(h), CSHM_EINVAL);
  cshm_free(h);
}

/* Unlocking a lock this handle does not hold is an error (Qt returns false); it must
 * not release anything: the lock can still be taken and released once. */
static void unlock_when_not_locked_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("unlock-unlocked"));
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_unlock");
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  cshm_free(h);
}

/* Without a key there is no name to create or attach: CSHM_EKEY. */
static void create_or_attach_without_key_is_ekey(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_create");
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL),
            CSHM_EKEY);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_attach");
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_EKEY);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* cshm_access has two values; anything else is a bad argument, for create and attach. */
static void invalid_access_mode_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("bad-mode"));
  static const cshm_access modes[] = {(cshm_access)2, (cshm_access)7, (cshm_access)-1};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    EXPECT_RC(h, cshm_create(h, 4096, modes[i]), CSHM_EINVAL);
    EXPECT_RC(h, cshm_create_ex(h, 4096, modes[i], CSHM_CREATE_OR_ATTACH, NULL), CSHM_EINVAL);
    EXPECT_RC(h, cshm_attach(h, modes[i]), CSHM_EINVAL);
    EXPECT_CONTAINS(cshm_error_string(h), "mode");
  }
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* Flags this version does not know are refused rather than ignored. */
static void unknown_create_flags_are_einval(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("bad-flags"));
  static const unsigned flags[] = {8u, 8u | CSHM_CREATE_OR_ATTACH, 0x80000000u, ~0u};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, flags[i], NULL), CSHM_EINVAL);
    EXPECT_CONTAINS(cshm_error_string(h), "flags");
  }
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* Size 0 is InvalidSize, as in Qt; so is a size that with the header cannot be
 * mapped (overflow checked before any system call, so nothing is made). */
static void bad_sizes_are_esize(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("bad-size"));
  EXPECT_RC(h, cshm_create(h, 0, CSHM_READ_WRITE), CSHM_ESIZE);
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL), CSHM_ESIZE);
  EXPECT_RC(h, cshm_create(h, SIZE_MAX, CSHM_READ_WRITE), CSHM_ESIZE);
  /* The smallest size whose sum with the 64 KiB data offset overflows size_t. */
  EXPECT_RC(h, cshm_create(h, SIZE_MAX - 65535, CSHM_READ_WRITE), CSHM_ESIZE);
  EXPECT_RC(h, cshm_create_ex(h, SIZE_MAX, CSHM_READ_ONLY, CSHM_CREATE_RESERVE, NULL),
            CSHM_ESIZE);
  assert_false(cshm_is_attached(h));
#ifdef _WIN32
  assert_false(segment_exists(cshm_key(h)));
#else
  assert_int_equal(access(ts_shm_path(cshm_key(h)), F_OK), -1);
#endif
  cshm_free(h);
}

/* *created is false after every kind of failure, whatever it held before. */
static void created_is_false_after_a_failure(void **state) {
  (void)state;
  cshm *keyless = new_handle(NULL);
  cshm *h = new_handle(ts_key("created-flag"));
  bool created = true;
  EXPECT_RC(keyless, cshm_create_ex(keyless, 4096, CSHM_READ_WRITE, 0, &created), CSHM_EKEY);
  assert_false(created);
  created = true;
  EXPECT_RC(h, cshm_create_ex(h, 4096, (cshm_access)7, 0, &created), CSHM_EINVAL);
  assert_false(created);
  created = true;
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, 8u, &created), CSHM_EINVAL);
  assert_false(created);
  created = true;
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &created),
            CSHM_ESIZE);
  assert_false(created);
  created = true;
  EXPECT_RC(h, cshm_create_ex(h, SIZE_MAX, CSHM_READ_WRITE, 0, &created), CSHM_ESIZE);
  assert_false(created);

  /* And after an already-attached failure, while a segment exists. */
  EXPECT_RC(h, cshm_create_ex(h, 64, CSHM_READ_WRITE, 0, &created), CSHM_OK);
  assert_true(created);
  EXPECT_RC(h, cshm_create_ex(h, 64, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &created),
            CSHM_EINVAL);
  assert_false(created);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  cshm_free(h);
  cshm_free(keyless);
}

/* cshm_set_key detaches first (as Qt's setKey): the handle ends unattached with the
 * new key, and as the last holder it removed the old segment's name. */
static void set_key_detaches_first(void **state) {
  (void)state;
  const char *old_key = ts_key("set-key-old");
  const char *new_key = ts_key("set-key-new");
#ifdef _WIN32
  cshm *h = new_handle(old_key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  assert_true(segment_exists(old_key));
  EXPECT_RC(h, cshm_set_key(h, new_key), CSHM_OK);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  assert_string_equal(cshm_key(h), new_key);
  assert_false(segment_exists(old_key)); /* its last handle closed */
#else
  char old_path[1100];
  snprintf(old_path, sizeof old_path, "%s", ts_shm_path(old_key));
  cshm *h = new_handle(old_key);
  EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(access(old_path, F_OK), 0);
  EXPECT_RC(h, cshm_set_key(h, new_key), CSHM_OK);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  assert_string_equal(cshm_key(h), new_key);
  assert_int_equal(access(old_path, F_OK), -1);
#endif
  cshm_free(h);
}

/* ==== keys ======================================================================== */

/* cshm_new refuses empty and invalid UTF-8 keys, and then leaves no handle. (A NULL
 * key is allowed there: it means "no key yet".) */
static void new_rejects_bad_keys(void **state) {
  (void)state;
  static int sentinel;
  for (size_t i = 0; i < N_BAD_KEYS; i++) {
    cshm *h = (cshm *)(void *)&sentinel;
    EXPECT_RC(NULL, cshm_new(&h, bad_keys[i]), CSHM_EKEY);
    assert_null(h);
    EXPECT_CONTAINS(cshm_last_error_string(), cshm_strerror(CSHM_EKEY));
  }
}

/* cshm_set_key refuses NULL, empty and invalid UTF-8 keys, and the handle then has no
 * key at all (documented: "On failure the handle keeps no key"), so the old name
 * cannot be used by mistake. */
static void set_key_rejects_bad_keys_and_forgets_the_key(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_key(h, NULL), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_key");
  assert_null(cshm_key(h));
  assert_null(cshm_native_key(h));
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EKEY);

  for (size_t i = 0; i < N_BAD_KEYS; i++) {
    EXPECT_RC(h, cshm_set_key(h, "my_shared_memory"), CSHM_OK);
    EXPECT_RC(h, cshm_set_key(h, bad_keys[i]), CSHM_EKEY);
    assert_int_equal(cshm_error(h), CSHM_EKEY);
    assert_null(cshm_key(h));
    assert_null(cshm_native_key(h));
  }
  cshm_free(h);
}

/* The functions without a handle refuse the same keys, and explain it in the
 * thread's message. */
static void native_key_for_and_remove_reject_bad_keys(void **state) {
  (void)state;
  char buf[256];
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, NULL, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_native_key_for");
  EXPECT_RC(NULL, cshm_remove(NULL, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_remove");
  for (size_t i = 0; i < N_BAD_KEYS; i++) {
    EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, bad_keys[i], CSHM_KEY_DEFAULT),
              CSHM_EKEY);
    EXPECT_CONTAINS(cshm_last_error_string(), "cshm_native_key_for");
    EXPECT_RC(NULL, cshm_remove(bad_keys[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
    EXPECT_CONTAINS(cshm_last_error_string(), "cshm_remove");
  }
}

/* cshm_remove: an out-of-range type is a bad argument; a key with no segment is
 * NotFound. */
static void remove_bad_type_and_missing_segment(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_remove("my_shared_memory", (cshm_key_type)99), CSHM_EINVAL);
#ifdef _WIN32
  /* The kernel owns segments: there is no removal by name. */
  EXPECT_RC(NULL, cshm_remove(ts_key("remove-missing"), CSHM_KEY_DEFAULT), CSHM_ENOTSUP);
#else
  EXPECT_RC(NULL, cshm_remove(ts_key("remove-missing"), CSHM_KEY_DEFAULT), CSHM_ENOENT);
#endif
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_remove");
}

/* The frozen test vectors of DESIGN.md §5, through the handle and through
 * cshm_native_key_for. cshm_key() returns the key as given. */
static const struct {
  const char *key, *native;
} vectors[] = {
    {"my_shared_memory", NATIVE("cshm_myshare_2p5koc4w43euvfwl")},
    {"MySharedMemory", NATIVE("cshm_myshare_gwlbjxbot3dljvwz")},
    {"Hello, world!", NATIVE("cshm_hellowo_sq5halig6ncztlxb")},
    {"No\xc3\xabl", NATIVE("cshm_nol_65feslll2woxleiu")},
    {"a", NATIVE("cshm_a_q336in72uwt7zyk5")},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\xad\xe3\x83\xbc",
     NATIVE("cshm_t36hsq5lxv436h4s")},
};

static void key_and_native_key_follow_the_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    cshm *h = new_handle(vectors[i].key);
    assert_string_equal(cshm_key(h), vectors[i].key);
    assert_string_equal(cshm_native_key(h), vectors[i].native);
    assert_int_equal(cshm_get_key_type(h), CSHM_KEY_DEFAULT);

    /* The same through cshm_set_key on a handle made without a key. */
    cshm *g = new_handle(NULL);
    EXPECT_RC(g, cshm_set_key(g, vectors[i].key), CSHM_OK);
    assert_int_equal(cshm_error(g), CSHM_OK);
    assert_string_equal(cshm_key(g), vectors[i].key);
    assert_string_equal(cshm_native_key(g), vectors[i].native);

    char buf[64];
    EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, vectors[i].key, CSHM_KEY_DEFAULT),
              CSHM_OK);
    assert_string_equal(buf, vectors[i].native);
    cshm_free(g);
    cshm_free(h);
  }
}

/* Qt's `nativeKey` test: after setNativeKey, key() is empty and nativeKey() is the
 * name given, verbatim. */
static void set_native_key_clears_the_key(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_native_key(h, NATIVE("cshm_api_native_test"), CSHM_KEY_DEFAULT), CSHM_OK);
  assert_null(cshm_key(h));
  assert_string_equal(cshm_native_key(h), NATIVE("cshm_api_native_test"));
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_DEFAULT);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_false(cshm_is_attached(h));

  /* Setting a key afterwards replaces the native key with the derived one. */
  EXPECT_RC(h, cshm_set_key(h, "my_shared_memory"), CSHM_OK);
  assert_string_equal(cshm_native_key(h), NATIVE("cshm_myshare_2p5koc4w43euvfwl"));
  cshm_free(h);
}

/* Native keys that are not names at all: NULL, empty, invalid UTF-8; and a key type
 * out of range. */
static void set_native_key_rejects_bad_arguments(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_set_native_key(h, NULL, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_native_key");
  EXPECT_RC(h, cshm_set_native_key(h, "", CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_RC(h, cshm_set_native_key(h, "/bad\xff", CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_RC(h, cshm_set_native_key(h, "/\xc3", CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_RC(h, cshm_set_native_key(h, "/cshm_ok", (cshm_key_type)99), CSHM_EINVAL);
  EXPECT_RC(h, cshm_set_native_key(h, "/cshm_ok", (cshm_key_type)4), CSHM_EINVAL);
  assert_null(cshm_native_key(h));
  cshm_free(h);
}

/* A rejected native key behaves as a rejected cshm_set_key(): the handle detaches
 * first and is left with no key and no native key, whatever was wrong with the name
 * (NULL, empty, invalid UTF-8, or refused by the platform's rules). */
static void set_native_key_rejected_detaches_and_clears(void **state) {
  (void)state;
#ifdef _WIN32
  const char *refused = "Local\\a\\b"; /* a second "\\" */
#else
  const char *refused = "/a/b"; /* a second "/" */
#endif
  const char *bad[] = {NULL, "", "/bad\xff", refused};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *key = ts_key("native-rejected");
    cshm *h = new_handle(key);
    EXPECT_RC(h, cshm_create(h, 64, CSHM_READ_WRITE), CSHM_OK);
    EXPECT_RC(h, cshm_set_native_key(h, bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
    assert_false(cshm_is_attached(h));
    assert_null(cshm_data(h));
    assert_null(cshm_key(h));
    assert_null(cshm_native_key(h));
    /* It detached as the last holder: the segment is gone. */
    cshm *probe = new_handle(key);
    EXPECT_RC(probe, cshm_attach(probe, CSHM_READ_ONLY), CSHM_ENOENT);
    cshm_free(probe);
    /* With no key, nothing can be attached until a key is set. */
    EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EKEY);
    cshm_free(h);
  }
}

#ifndef CSHM_TEST_PORTABLE
#define CSHM_TEST_PORTABLE 0
#endif

#if defined(__linux__) && !CSHM_TEST_PORTABLE
/* Linux: "/" + 1..255 bytes, no other "/", not "." or "..", with an error that names
 * the limit (DESIGN.md §5). */
static void linux_native_keys_are_validated(void **state) {
  (void)state;
  char longest[258], too_long[259];
  longest[0] = too_long[0] = '/';
  memset(longest + 1, 'n', 255);
  longest[256] = '\0';
  memset(too_long + 1, 'n', 256);
  too_long[257] = '\0';

  cshm *h = new_handle(NULL);
  static const char *const bad[] = {"noslash", "/", "/a/b", "/a/", "//a", "/.", "/.."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("native key \"%s\"\n", bad[i]);
    EXPECT_RC(h, cshm_set_native_key(h, bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
    EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_native_key");
  }
  EXPECT_RC(h, cshm_set_native_key(h, too_long, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "255");

  EXPECT_RC(h, cshm_set_native_key(h, longest, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_string_equal(cshm_native_key(h), longest);
  EXPECT_RC(h, cshm_set_native_key(h, "/a", CSHM_KEY_DEFAULT), CSHM_OK);
  EXPECT_RC(h, cshm_set_native_key(h, "/...", CSHM_KEY_DEFAULT), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "/...");
  cshm_free(h);
}
#endif

#if CSHM_TEST_PORTABLE
/* The portable profile takes macOS's names: at most 31 bytes with the "/", or the
 * sandbox form "<app-group-id>/<name>" within the same budget. */
static void macos_native_keys_are_validated(void **state) {
  (void)state;
  char longest[32], too_long[33];
  longest[0] = too_long[0] = '/';
  memset(longest + 1, 'n', 30);
  longest[31] = '\0';
  memset(too_long + 1, 'n', 31);
  too_long[32] = '\0';
  cshm *h = new_handle(NULL);
  static const char *const bad[] = {"noslash", "/", "/a/b", "a/", "/.", "/.."};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("native key \"%s\"\n", bad[i]);
    EXPECT_RC(h, cshm_set_native_key(h, bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
  }
  EXPECT_RC(h, cshm_set_native_key(h, too_long, CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_CONTAINS(cshm_error_string(h), "31");
  EXPECT_RC(h, cshm_set_native_key(h, longest, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_string_equal(cshm_native_key(h), longest);
  EXPECT_RC(h, cshm_set_native_key(h, "group.com.example/seg", CSHM_KEY_DEFAULT), CSHM_OK);
  cshm_free(h);
}
#endif

/* Qt's `uniqueKey`: two keys give the same native key exactly when they are the same
 * string. "Noël" and "Nol" share the readable part, so only the hash tells them
 * apart; NFC and NFD spellings are different keys (no normalisation). */
static void native_keys_differ_exactly_when_keys_differ(void **state) {
  (void)state;
  static const struct {
    const char *a, *b;
  } pairs[] = {
      {"1", "1"},
      {"1", "2"},
      {"No\xc3\xabl", "Nol"},
      {"\xc3\xa9", "e"},
      {"\xc3\xa9", "e\xcc\x81"},
      {"MySharedMemory", "mysharedmemory"},
      {"my_shared_memory", "my_shared_memorY"},
      {"abcdefgh1", "abcdefgh2"},
  };
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    char na[64], nb[64];
    EXPECT_RC(NULL, cshm_native_key_for(na, sizeof na, pairs[i].a, CSHM_KEY_DEFAULT), CSHM_OK);
    EXPECT_RC(NULL, cshm_native_key_for(nb, sizeof nb, pairs[i].b, CSHM_KEY_DEFAULT), CSHM_OK);
    bool same_key = strcmp(pairs[i].a, pairs[i].b) == 0;
    bool same_native = strcmp(na, nb) == 0;
    print_message("\"%s\" -> %s, \"%s\" -> %s\n", pairs[i].a, na, pairs[i].b, nb);
    assert_int_equal(same_native, same_key);
  }
}

/* cshm_native_key_for writes into exactly strlen+1 bytes, refuses one byte less, a
 * NULL buffer and an out-of-range key type. */
static void native_key_for_checks_its_buffer_and_type(void **state) {
  (void)state;
  const char *want = NATIVE("cshm_myshare_2p5koc4w43euvfwl");
  size_t need = strlen(want) + 1;
  char buf[64];
  memset(buf, 'x', sizeof buf);
  EXPECT_RC(NULL, cshm_native_key_for(buf, need, "my_shared_memory", CSHM_KEY_DEFAULT),
            CSHM_OK);
  assert_string_equal(buf, want);
  assert_int_equal(buf[need], 'x'); /* nothing written past len */

  EXPECT_RC(NULL, cshm_native_key_for(buf, need - 1, "my_shared_memory", CSHM_KEY_DEFAULT),
            CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_native_key_for");
  EXPECT_RC(NULL, cshm_native_key_for(buf, 0, "my_shared_memory", CSHM_KEY_DEFAULT),
            CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_native_key_for(NULL, sizeof buf, "my_shared_memory", CSHM_KEY_DEFAULT),
            CSHM_EINVAL);
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, "my_shared_memory", (cshm_key_type)99),
            CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_last_error_string(), "cshm_native_key_for");
}

/* ==== key types =================================================================== */

/* The Qt key types: on Unix tests/interop runs them against real Qt; on Windows
 * tests/test_win32_qt.c runs them, and Qt has no POSIX IPC there: that type says
 * CSHM_ENOTSUP every way in, and a handle asked to switch to it keeps its type, key
 * and native key. A key Qt's name cannot hold leaves the handle as it was. */
static void qt_key_types_per_os(void **state) {
#ifdef _WIN32
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_string_equal(cshm_native_key(h),
                      "qipc_sharedmemory_mysharedmemoryd3faa70b96e6c94a96cbd5270f2f9f4a8f14fdcd");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  assert_string_equal(cshm_native_key(h), "shm_my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_LEGACY_POSIX), CSHM_ENOTSUP);
  EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_key_type");
  EXPECT_CONTAINS(cshm_error_string(h), "POSIX");
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_QT_PLATFORM_SAFE);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_string_equal(cshm_native_key(h), "shm_my_shared_memory");

  cshm *n = new_handle(NULL);
  EXPECT_RC(n, cshm_set_native_key(n, NATIVE("cshm_api_native_test"), CSHM_KEY_DEFAULT), CSHM_OK);
  EXPECT_RC(n, cshm_set_key_type(n, CSHM_KEY_QT_LEGACY_POSIX), CSHM_ENOTSUP);
  assert_int_equal(cshm_get_key_type(n), CSHM_KEY_DEFAULT);
  assert_string_equal(cshm_native_key(n), NATIVE("cshm_api_native_test"));
  EXPECT_RC(n, cshm_set_native_key(n, "/qipc_sharedmemory_x", CSHM_KEY_QT_LEGACY_POSIX),
            CSHM_ENOTSUP);
  char buf[256];
  EXPECT_RC(NULL,
            cshm_native_key_for(buf, sizeof buf, "my_shared_memory", CSHM_KEY_QT_LEGACY_POSIX),
            CSHM_ENOTSUP);
  static const cshm_key_type qt_types[] = {CSHM_KEY_QT_LEGACY, CSHM_KEY_QT_LEGACY_POSIX,
                                           CSHM_KEY_QT_PLATFORM_SAFE};
  for (size_t i = 0; i < sizeof qt_types / sizeof qt_types[0]; i++)
    EXPECT_RC(NULL, cshm_remove("my_shared_memory", qt_types[i]), CSHM_ENOTSUP);

  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_DEFAULT), CSHM_OK);
  EXPECT_RC(h, cshm_set_key(h, "a\\b"), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_EKEY);
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_DEFAULT);
  cshm_free(n);
  cshm_free(h);
#else
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_OK);
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_QT_PLATFORM_SAFE);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_string_equal(cshm_native_key(h), "/my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_LEGACY_POSIX), CSHM_OK);
  assert_string_equal(cshm_native_key(h),
                      "/qipc_sharedmemory_mysharedmemoryd3faa70b96e6c94a96cbd5270f2f9f4a8f14fdcd");
  /* A key Qt's name cannot hold leaves the handle as it was. */
  EXPECT_RC(h, cshm_set_key(h, "a/b"), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE), CSHM_EKEY);
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_QT_LEGACY_POSIX);
  cshm_free(h);
#endif
}

/* A type out of range is a bad argument and changes nothing. */
static void set_key_type_out_of_range_is_einval(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, (cshm_key_type)99), CSHM_EINVAL);
  EXPECT_RC(h, cshm_set_key_type(h, (cshm_key_type)4), CSHM_EINVAL);
  assert_int_equal(cshm_get_key_type(h), CSHM_KEY_DEFAULT);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_string_equal(cshm_native_key(h), NATIVE("cshm_myshare_2p5koc4w43euvfwl"));
  cshm_free(h);
}

/* Re-selecting the default type re-derives the same name, and keeps a native key
 * set alone (with the key still NULL). */
static void set_key_type_default_keeps_the_keys(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_key(h), "my_shared_memory");
  assert_string_equal(cshm_native_key(h), NATIVE("cshm_myshare_2p5koc4w43euvfwl"));

  EXPECT_RC(h, cshm_set_native_key(h, NATIVE("cshm_api_native_test"), CSHM_KEY_DEFAULT), CSHM_OK);
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_null(cshm_key(h));
  assert_string_equal(cshm_native_key(h), NATIVE("cshm_api_native_test"));

  cshm *keyless = new_handle(NULL);
  EXPECT_RC(keyless, cshm_set_key_type(keyless, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_null(cshm_key(keyless));
  assert_null(cshm_native_key(keyless));
  cshm_free(keyless);
  cshm_free(h);
}

/* ==== permissions ================================================================= */

/* Only the nine permission bits are accepted: setuid, setgid, sticky and anything
 * above are refused. */
static void set_permissions_accepts_only_0777(void **state) {
  (void)state;
  cshm *h = new_handle(NULL);
  static const unsigned bad[] = {01000u, 02000u, 04000u, 04755u, 010000u, ~0u};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    EXPECT_RC(h, cshm_set_permissions(h, bad[i]), CSHM_EINVAL);
    EXPECT_CONTAINS(cshm_error_string(h), "cshm_set_permissions");
  }
  static const unsigned good[] = {0u, 0644u, 0777u, 0600u};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    EXPECT_RC(h, cshm_set_permissions(h, good[i]), CSHM_OK);
    assert_int_equal(cshm_error(h), CSHM_OK);
  }
  cshm_free(h);
}

/* ==== error table ================================================================= */

static const struct {
  int code;
  const char *name;
} code_names[] = {
    {CSHM_OWNER_DIED, "CSHM_OWNER_DIED"},
    {CSHM_OK, "CSHM_OK"},
    {CSHM_EPERM, "CSHM_EPERM"},
    {CSHM_ESIZE, "CSHM_ESIZE"},
    {CSHM_EKEY, "CSHM_EKEY"},
    {CSHM_EEXIST, "CSHM_EEXIST"},
    {CSHM_ENOENT, "CSHM_ENOENT"},
    {CSHM_ELOCK, "CSHM_ELOCK"},
    {CSHM_ENOMEM, "CSHM_ENOMEM"},
    {CSHM_EUNKNOWN, "CSHM_EUNKNOWN"},
    {CSHM_EINVAL, "CSHM_EINVAL"},
    {CSHM_EBUSY, "CSHM_EBUSY"},
    {CSHM_ETIMEDOUT, "CSHM_ETIMEDOUT"},
    {CSHM_EDEADLK, "CSHM_EDEADLK"},
    {CSHM_ECORRUPT, "CSHM_ECORRUPT"},
    {CSHM_EVERSION, "CSHM_EVERSION"},
    {CSHM_ENOTSUP, "CSHM_ENOTSUP"},
};
#define N_CODES (sizeof code_names / sizeof code_names[0])

/* The values are fixed on every OS (they are a binary contract); the first eight
 * errors are Qt's SharedMemoryError order, so a Qt error maps by negation. */
static void error_values_are_the_contract(void **state) {
  (void)state;
  assert_int_equal(CSHM_OWNER_DIED, 1);
  assert_int_equal(CSHM_OK, 0);
  assert_int_equal(CSHM_EPERM, -1);     /* QSharedMemory::PermissionDenied = 1 */
  assert_int_equal(CSHM_ESIZE, -2);     /* InvalidSize */
  assert_int_equal(CSHM_EKEY, -3);      /* KeyError */
  assert_int_equal(CSHM_EEXIST, -4);    /* AlreadyExists */
  assert_int_equal(CSHM_ENOENT, -5);    /* NotFound */
  assert_int_equal(CSHM_ELOCK, -6);     /* LockError */
  assert_int_equal(CSHM_ENOMEM, -7);    /* OutOfResources */
  assert_int_equal(CSHM_EUNKNOWN, -8);  /* UnknownError */
  assert_int_equal(CSHM_EINVAL, -9);
  assert_int_equal(CSHM_EBUSY, -10);
  assert_int_equal(CSHM_ETIMEDOUT, -11);
  assert_int_equal(CSHM_EDEADLK, -12);
  assert_int_equal(CSHM_ECORRUPT, -13);
  assert_int_equal(CSHM_EVERSION, -14);
  assert_int_equal(CSHM_ENOTSUP, -15);
}

/* Every code has its literal name. */
static void error_names_are_literal(void **state) {
  (void)state;
  for (size_t i = 0; i < N_CODES; i++)
    assert_string_equal(cshm_error_name(code_names[i].code), code_names[i].name);
  /* Together the table covers 1 down to -15 without a gap. */
  for (int c = 1; c >= -15; c--)
    assert_string_not_equal(cshm_error_name(c), "CSHM_E?");
}

/* Every code has a message of its own: non-empty, not the unknown-code text, and
 * different from every other code's. */
static void strerror_is_distinct_per_code(void **state) {
  (void)state;
  for (size_t i = 0; i < N_CODES; i++) {
    const char *m = cshm_strerror(code_names[i].code);
    assert_non_null(m);
    assert_true(strlen(m) > 0);
    assert_string_not_equal(m, "unknown error code");
    for (size_t j = 0; j < i; j++) {
      if (strcmp(m, cshm_strerror(code_names[j].code)) == 0)
        print_error("%s and %s share the message \"%s\"\n", code_names[i].name,
                    code_names[j].name, m);
      assert_string_not_equal(m, cshm_strerror(code_names[j].code));
    }
  }
}

/* Codes outside the table get a recognisable placeholder, never NULL. */
static void unknown_codes_have_placeholders(void **state) {
  (void)state;
  static const int unknown[] = {-16, 2, 1000, -1000, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    assert_string_equal(cshm_error_name(unknown[i]), "CSHM_E?");
    assert_string_equal(cshm_strerror(unknown[i]), "unknown error code");
  }
}

/* ==== messages ==================================================================== */

/* A failed attach explains itself: the operation, the key, the native name, and the
 * OS's own text (DESIGN.md §2 "detail: operation, key, native key, OS error text").
 * The thread's message is the same text. */
static void failed_attach_message_has_the_detail(void **state) {
  (void)state;
  const char *key = ts_key("attach-missing");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  assert_int_equal(cshm_error(h), CSHM_ENOENT);
  const char *msg = cshm_error_string(h);
  print_message("message: %s\n", msg);
  EXPECT_CONTAINS(msg, "cshm_attach");
  EXPECT_CONTAINS(msg, key);
  EXPECT_CONTAINS(msg, cshm_native_key(h));
#ifdef __linux__
  EXPECT_CONTAINS(msg, "No such file or directory");
#elif defined(_WIN32)
  EXPECT_CONTAINS(msg, "(error 2)"); /* ERROR_FILE_NOT_FOUND, in the system's words */
#endif
  assert_string_equal(cshm_last_error_string(), msg);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* cshm_error reports the LAST result: a success after a failure clears both the code
 * and the message. */
static void success_clears_the_error(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("error-cleared"));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_ENOENT);
  assert_true(strlen(cshm_error_string(h)) > 0);
  EXPECT_RC(h, cshm_set_permissions(h, 0600), CSHM_OK);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_error_string(h), "");

  /* A state error is recorded the same way, and cleared the same way. */
  EXPECT_RC(h, cshm_unlock(h), CSHM_EINVAL);
  assert_int_equal(cshm_error(h), CSHM_EINVAL);
  EXPECT_RC(h, cshm_set_key_type(h, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_error_string(h), "");
  cshm_free(h);
}

/* A handle failure also becomes the thread's last message, for code that only has
 * the return value at hand; the code's own message is part of it. */
static void last_error_string_follows_handle_failures(void **state) {
  (void)state;
  cshm *h = new_handle("my_shared_memory");
  EXPECT_RC(h, cshm_create(h, 0, CSHM_READ_WRITE), CSHM_ESIZE);
  assert_string_equal(cshm_last_error_string(), cshm_error_string(h));
  EXPECT_CONTAINS(cshm_error_string(h), cshm_strerror(CSHM_ESIZE));
  EXPECT_CONTAINS(cshm_error_string(h), "my_shared_memory");

  EXPECT_RC(h, cshm_set_permissions(h, 01000), CSHM_EINVAL);
  assert_string_equal(cshm_last_error_string(), cshm_error_string(h));
  EXPECT_CONTAINS(cshm_error_string(h), cshm_strerror(CSHM_EINVAL));
  cshm_free(h);
}

/* ==== version ===================================================================== */

/* The run-time version is the header's: a mismatch means a stale library. */
static void version_matches_the_header(void **state) {
  (void)state;
  assert_int_equal(cshm_version(), CSHM_VERSION_HEX);
  assert_string_equal(cshm_version_string(), CSHM_VERSION_STRING);
  char expect[32];
  snprintf(expect, sizeof expect, "%u.%u.%u", cshm_version() >> 16, (cshm_version() >> 8) & 0xffu,
           cshm_version() & 0xffu);
  assert_string_equal(cshm_version_string(), expect);
}

/* ==== attach with a timeout ======================================================== */

/* The default key type takes no user lock at attach: a held lock delays nothing,
 * whatever the timeout (0 included); the access mode is checked as cshm_attach's. */
static void attach_timeout_default_type_ignores_the_lock(void **state) {
  (void)state;
  const char *key = ts_key("attach-timeout");
  cshm *a, *b;
  EXPECT_OK(NULL, cshm_new(&a, key));
  EXPECT_OK(NULL, cshm_new(&b, key));
  EXPECT_RC(b, cshm_attach_timeout(b, CSHM_READ_WRITE, 0), CSHM_ENOENT);
  EXPECT_OK(a, cshm_create(a, 64, CSHM_READ_WRITE));
  EXPECT_OK(a, cshm_lock(a));
  EXPECT_RC(b, cshm_attach_timeout(b, (cshm_access)7, 0), CSHM_EINVAL);
  EXPECT_OK(b, cshm_attach_timeout(b, CSHM_READ_ONLY, 0));
  EXPECT_RC(b, cshm_attach_timeout(b, CSHM_READ_ONLY, 0), CSHM_EINVAL); /* attached */
  EXPECT_OK(b, cshm_detach(b));
  EXPECT_OK(b, cshm_attach_timeout(b, CSHM_READ_WRITE, CSHM_INFINITE));
  EXPECT_OK(a, cshm_unlock(a));
  cshm_free(b);
  cshm_free(a);
}

/* cshm_attach_ex: unknown flags; CSHM_ATTACH_WAIT on a name that never appears is one
 * look with 0 and CSHM_ENOENT after the bound otherwise, saying so; an existing
 * segment is attached at once with either flag. */
static void attach_ex_flags_and_a_missing_segment(void **state) {
  (void)state;
  const char *key = ts_key("attach-ex");
  cshm *h, *c;
  EXPECT_OK(NULL, cshm_new(&h, key));
  EXPECT_RC(NULL, cshm_attach_ex(NULL, CSHM_READ_ONLY, 0, 0), CSHM_EINVAL);
  EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, 4u, 0), CSHM_EINVAL);
  EXPECT_CONTAINS(cshm_error_string(h), "unknown flags");
  EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, 0, 0), CSHM_ENOENT);
  EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, CSHM_ATTACH_WAIT, 0), CSHM_ENOENT);
  EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, CSHM_ATTACH_WAIT, 20), CSHM_ENOENT);
  EXPECT_CONTAINS(cshm_error_string(h), "did not appear within 20 ms");
  assert_false(cshm_is_attached(h));

  EXPECT_OK(NULL, cshm_new(&c, key));
  EXPECT_OK(c, cshm_create(c, 64, CSHM_READ_WRITE));
  EXPECT_OK(h, cshm_attach_ex(h, CSHM_READ_WRITE, CSHM_ATTACH_WAIT, CSHM_INFINITE));
  EXPECT_OK(h, cshm_detach(h));
  EXPECT_OK(h, cshm_attach_ex(h, CSHM_READ_ONLY, CSHM_ATTACH_WAIT | CSHM_ATTACH_KEEP, 0));
  EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, 0, 0), CSHM_EINVAL); /* attached */
  cshm_free(h);
  cshm_free(c);
}

#ifndef _WIN32
typedef struct late_creator {
  const char *key;
  cshm *h;
  int rc;
} late_creator;

static void *create_late(void *arg) {
  late_creator *c = arg;
  nanosleep(&(struct timespec){0, 20000000L}, NULL); /* likely after the first look; either order passes */
  c->rc = cshm_new(&c->h, c->key);
  if (c->rc == CSHM_OK)
    c->rc = cshm_create(c->h, 64, CSHM_READ_WRITE);
  return NULL;
}

/* CSHM_ATTACH_WAIT returns once another thread (as another process would) creates
 * the segment. The bound is a watchdog, not a timing assertion. */
static void attach_wait_sees_the_segment_appear(void **state) {
  (void)state;
  late_creator c = {ts_key("attach-wait"), NULL, CSHM_EUNKNOWN};
  cshm *h;
  EXPECT_OK(NULL, cshm_new(&h, c.key));
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, create_late, &c), 0);
  EXPECT_OK(h, cshm_attach_ex(h, CSHM_READ_ONLY, CSHM_ATTACH_WAIT, 60000));
  pthread_join(t, NULL);
  assert_int_equal(c.rc, CSHM_OK);
  assert_int_equal(cshm_size(h), 64);
  cshm_free(h);
  cshm_free(c.h);
}
#endif

#ifndef _WIN32
/* A watchdog, not a timing assertion: a call that should return but hangs fails the
 * test after this long instead of hanging the suite. */
#define WATCHDOG_MS 30000

/* A call run in its own thread, so that the test can stop waiting for it. */
typedef struct bounded_call {
  void (*fn)(void *);
  void *arg;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
} bounded_call;

static void *bounded_main(void *p) {
  bounded_call *c = p;
  c->fn(c->arg);
  pthread_mutex_lock(&c->mu);
  c->done = true;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* Runs fn(arg) and returns whether it returned within WATCHDOG_MS. A call that hangs
 * is left behind in its thread (and its bounded_call leaked: the thread uses it). */
static bool returns(void (*fn)(void *), void *arg) {
  bounded_call *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->fn = fn;
  c->arg = arg;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, bounded_main, c), 0);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WATCHDOG_MS / 1000;
  pthread_mutex_lock(&c->mu);
  while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0) {
  }
  bool done = c->done;
  pthread_mutex_unlock(&c->mu);
  if (!done) {
    pthread_detach(t);
    return false;
  }
  pthread_join(t, NULL);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  free(c);
  return true;
}

typedef struct detach_then_free {
  cshm *detach, *free;
  int rc;
} detach_then_free;

static void run_detach_then_free(void *p) {
  detach_then_free *x = p;
  x->rc = x->detach != NULL ? cshm_detach(x->detach) : CSHM_OK;
  cshm_free(x->free);
}

/* A helper (another process) attaches to `key` of type `type`, takes the lock and
 * stops there; the caller kills or resumes it. */
static void spawn_holder(ts_child *c, const char *key, const char *type, const char *after) {
  const char *argv[] = {key, type, "attach", "lock", "signal", after, NULL};
  assert_true(ts_spawn(c, NULL, false, argv));
  assert_true(ts_expect(c, "signal"));
}

/* The Qt POSIX types: a lock holder SIGKILLed keeps the semaphore taken (no undo).
 * Detach and free of this process's handles must still return - they remove nothing,
 * so they take no lock - and after cshm_remove() the name is free again. A timed
 * attach times out on the taken semaphore instead of waiting forever. */
static void qt_posix_detach_returns_after_a_killed_holder(void **state) {
  (void)state;
  static const struct {
    cshm_key_type type;
    const char *helper_op;
  } types[] = {{CSHM_KEY_QT_PLATFORM_SAFE, "qt-platform-safe"},
               {CSHM_KEY_QT_LEGACY_POSIX, "qt-legacy-posix"}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    print_message("%s\n", types[i].helper_op);
    const char *key = ts_key("qt-posix-killed");
    cshm *a, *b, *late;
    EXPECT_OK(NULL, cshm_new(&a, key));
    EXPECT_OK(NULL, cshm_new(&b, key));
    EXPECT_OK(NULL, cshm_new(&late, key));
    EXPECT_OK(a, cshm_set_key_type(a, types[i].type));
    EXPECT_OK(b, cshm_set_key_type(b, types[i].type));
    EXPECT_OK(late, cshm_set_key_type(late, types[i].type));
    EXPECT_OK(a, cshm_create(a, 64, CSHM_READ_WRITE));
    EXPECT_OK(b, cshm_attach(b, CSHM_READ_WRITE));
    ts_child holder;
    spawn_holder(&holder, key, types[i].helper_op, NULL);
    ts_kill(&holder);
    EXPECT_RC(a, cshm_lock_timeout(a, 0), CSHM_ETIMEDOUT); /* still taken: no undo */
    EXPECT_RC(late, cshm_attach_timeout(late, CSHM_READ_WRITE, 0), CSHM_ETIMEDOUT);
    EXPECT_RC(late, cshm_attach_timeout(late, CSHM_READ_WRITE, 20), CSHM_ETIMEDOUT);
    EXPECT_CONTAINS(cshm_error_string(late), "Qt's lock");
    assert_false(cshm_is_attached(late));
    detach_then_free x = {a, b, CSHM_EUNKNOWN};
    if (!returns(run_detach_then_free, &x))
      fail_msg("cshm_detach/cshm_free waited for the dead holder's semaphore");
    assert_int_equal(x.rc, CSHM_OK);
    cshm_free(a); /* detached: freeing it waits for nothing either */
    EXPECT_OK(NULL, cshm_remove(key, types[i].type)); /* the README's recovery */
    EXPECT_OK(late, cshm_create(late, 64, CSHM_READ_WRITE));
    EXPECT_OK(late, cshm_try_lock(late));
    EXPECT_OK(late, cshm_unlock(late));
    cshm_free(late);
    EXPECT_OK(NULL, cshm_remove(key, types[i].type));
  }
}

/* CSHM_KEY_QT_LEGACY takes Qt's lock at attach: while another process holds it,
 * cshm_attach_timeout() gives up with CSHM_ETIMEDOUT (0: without waiting), and the
 * handle stays unattached; once it is released the same handle attaches. A handle
 * attached with a timeout detaches within that bound while the lock is held (it then
 * removes nothing: the holder is still attached). */
static void qt_legacy_attach_timeout_while_held(void **state) {
  (void)state;
  const char *key = ts_key("qt-sysv-held");
  cshm *a, *b, *bounded;
  EXPECT_OK(NULL, cshm_new(&a, key));
  EXPECT_OK(NULL, cshm_new(&b, key));
  EXPECT_OK(NULL, cshm_new(&bounded, key));
  EXPECT_OK(a, cshm_set_key_type(a, CSHM_KEY_QT_LEGACY));
  EXPECT_OK(b, cshm_set_key_type(b, CSHM_KEY_QT_LEGACY));
  EXPECT_OK(bounded, cshm_set_key_type(bounded, CSHM_KEY_QT_LEGACY));
  EXPECT_OK(a, cshm_create(a, 64, CSHM_READ_WRITE));
  EXPECT_OK(bounded, cshm_attach_timeout(bounded, CSHM_READ_WRITE, 50));
  ts_child holder;
  spawn_holder(&holder, key, "qt-legacy", "unlock");
  EXPECT_RC(b, cshm_attach_timeout(b, CSHM_READ_WRITE, 0), CSHM_ETIMEDOUT);
  EXPECT_RC(b, cshm_attach_timeout(b, CSHM_READ_ONLY, 20), CSHM_ETIMEDOUT);
  EXPECT_CONTAINS(cshm_error_string(b), "Qt's lock");
  assert_false(cshm_is_attached(b));
  detach_then_free x = {bounded, NULL, CSHM_EUNKNOWN};
  if (!returns(run_detach_then_free, &x))
    fail_msg("the detach of a handle attached with a timeout waited for a live holder");
  assert_int_equal(x.rc, CSHM_OK);
  ts_resume(&holder);
  assert_int_equal(ts_wait(&holder), 0); /* it unlocked and detached */
  EXPECT_OK(b, cshm_attach_timeout(b, CSHM_READ_WRITE, CSHM_INFINITE));
  EXPECT_OK(b, cshm_try_lock(b));
  EXPECT_OK(b, cshm_unlock(b));
  cshm_free(b);
  cshm_free(bounded);
  cshm_free(a); /* the last one out removes segment, semaphore and key files */
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_QT_LEGACY), CSHM_ENOENT);
}
#endif

/* ==== cleanup ===================================================================== */

/* Every segment this suite made is gone. */
static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(new_with_null_out_is_einval),
      cmocka_unit_test(null_handle_operations_are_einval),
      cmocka_unit_test(attach_timeout_default_type_ignores_the_lock),
      cmocka_unit_test(attach_ex_flags_and_a_missing_segment),
#ifndef _WIN32
      cmocka_unit_test(attach_wait_sees_the_segment_appear),
#endif
#ifndef _WIN32
      cmocka_unit_test(qt_posix_detach_returns_after_a_killed_holder),
      cmocka_unit_test(qt_legacy_attach_timeout_while_held),
#endif
      cmocka_unit_test(null_handle_accessors_answer_empty),
      cmocka_unit_test(null_handle_error_is_einval_with_a_message),
      cmocka_unit_test(null_handle_create_ex_clears_created),
      cmocka_unit_test(new_handle_without_key_is_empty),
      cmocka_unit_test(new_handle_with_key_is_unattached),
      cmocka_unit_test(new_handle_detach_is_einval),
      cmocka_unit_test(create_or_attach_when_attached_is_einval),
      cmocka_unit_test(detach_lock_unlock_when_not_attached_are_einval),
      cmocka_unit_test(unlock_when_not_locked_is_einval),
      cmocka_unit_test(create_or_attach_without_key_is_ekey),
      cmocka_unit_test(invalid_access_mode_is_einval),
      cmocka_unit_test(unknown_create_flags_are_einval),
      cmocka_unit_test(bad_sizes_are_esize),
      cmocka_unit_test(created_is_false_after_a_failure),
      cmocka_unit_test(set_key_detaches_first),
      cmocka_unit_test(new_rejects_bad_keys),
      cmocka_unit_test(set_key_rejects_bad_keys_and_forgets_the_key),
      cmocka_unit_test(native_key_for_and_remove_reject_bad_keys),
      cmocka_unit_test(remove_bad_type_and_missing_segment),
      cmocka_unit_test(key_and_native_key_follow_the_vectors),
      cmocka_unit_test(set_native_key_clears_the_key),
      cmocka_unit_test(set_native_key_rejects_bad_arguments),
      cmocka_unit_test(set_native_key_rejected_detaches_and_clears),
#if CSHM_TEST_PORTABLE
      cmocka_unit_test(macos_native_keys_are_validated),
#endif
#if defined(__linux__) && !CSHM_TEST_PORTABLE
      cmocka_unit_test(linux_native_keys_are_validated),
#endif
      cmocka_unit_test(native_keys_differ_exactly_when_keys_differ),
      cmocka_unit_test(native_key_for_checks_its_buffer_and_type),
      cmocka_unit_test(qt_key_types_per_os),
      cmocka_unit_test(set_key_type_out_of_range_is_einval),
      cmocka_unit_test(set_key_type_default_keeps_the_keys),
      cmocka_unit_test(set_permissions_accepts_only_0777),
      cmocka_unit_test(error_values_are_the_contract),
      cmocka_unit_test(error_names_are_literal),
      cmocka_unit_test(strerror_is_distinct_per_code),
      cmocka_unit_test(unknown_codes_have_placeholders),
      cmocka_unit_test(failed_attach_message_has_the_detail),
      cmocka_unit_test(success_clears_the_error),
      cmocka_unit_test(last_error_string_follows_handle_failures),
      cmocka_unit_test(version_matches_the_header),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
