/* The suites' assertions on cshm calls (CMocka): each compares exactly and, when it
 * fails, prints what the log needs to explain why - where, the call, the code names
 * and cshm's messages. Include it after <cmocka.h> (its asserts and print_error). */
#ifndef CSHM_TESTS_EXPECT_H
#define CSHM_TESTS_EXPECT_H

#include <stddef.h>
#include <string.h>

#include "cshm/cshm.h"

/* What EXPECT_RC prints on a mismatch: both codes, and both messages - the handle's
 * (h may be NULL: a call without a handle) and the thread's last error. */
static inline void expect__rc_mismatch(const char *file, int line, const char *call, int rc,
                                       int want, const cshm *h) {
  print_error("%s:%d: %s returned %s (%d), expected %s (%d)\n  handle: %s\n  thread: %s\n",
              file, line, call, cshm_error_name(rc), rc, cshm_error_name(want), want,
              h != NULL ? cshm_error_string(h) : "(no handle)", cshm_last_error_string());
}

/* Asserts that `call` returned exactly `want`. h is the handle the call used, or NULL
 * for a call reported through the thread's last error; it is evaluated after the
 * call, and only when the code differs. */
#define EXPECT_RC(h, call, want)                                                         \
  do {                                                                                   \
    int rc_ = (call);                                                                    \
    int want_ = (int)(want);                                                             \
    if (rc_ != want_)                                                                    \
      expect__rc_mismatch(__FILE__, __LINE__, #call, rc_, want_, (h));                   \
    assert_int_equal(rc_, want_);                                                        \
  } while (0)

#define EXPECT_OK(h, call) EXPECT_RC(h, call, CSHM_OK)

/* Asserts that `haystack` is a string containing `needle`, printing both when it
 * does not. */
#define EXPECT_CONTAINS(haystack, needle)                                                \
  do {                                                                                   \
    const char *hay_ = (haystack);                                                       \
    const char *needle_ = (needle);                                                      \
    assert_non_null(hay_);                                                               \
    if (strstr(hay_, needle_) == NULL)                                                   \
      print_error("%s:%d: \"%s\" not found in:\n%s\n", __FILE__, __LINE__, needle_, hay_); \
    assert_non_null(strstr(hay_, needle_));                                              \
  } while (0)

/* ---- handles that must come into being ------------------------------------------ */

/* A new handle with `key` (may be NULL); fails the test when cshm_new fails. */
static inline cshm *new_handle(const char *key) {
  cshm *h = NULL;
  EXPECT_OK(NULL, cshm_new(&h, key));
  assert_non_null(h);
  return h;
}

/* A handle that created (read-write) a segment of `size` bytes under `key`. */
static inline cshm *created(const char *key, size_t size) {
  cshm *h = new_handle(key);
  EXPECT_OK(h, cshm_create(h, size, CSHM_READ_WRITE));
  return h;
}

/* A handle attached to the segment of `key` with `mode`. */
static inline cshm *attached(const char *key, cshm_access mode) {
  cshm *h = new_handle(key);
  EXPECT_OK(h, cshm_attach(h, mode));
  return h;
}

#endif
