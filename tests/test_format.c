/* Unit tests of the segment header (src/common/format.c, DESIGN.md §4): creation,
 * every check of cshm__header_validate() with its exact code, the order of the
 * checks, a deterministic mutation loop, and that validation reads no byte past
 * `len` (run under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "format.h"

#define USER_SIZE 4096u
#define LOCK_ABI 0x12345678u
#define PID 4242u
#define PIDNS UINT64_C(4026531836)
#define MAPPED ((size_t)CSHM__DATA_OFFSET + USER_SIZE)

/* Room for a header followed by bytes that are not part of it, aligned as the
 * header is (a mapping is page-aligned; the state word must be 4-byte aligned). */
typedef union seg {
  cshm__header h;
  unsigned char b[512];
} seg;

static const uint8_t key_a[CSHM__SHA1_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                                              0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
                                              0x32, 0x10, 0x0f, 0x1e, 0x2d, 0x3c};
static const uint8_t key_b[CSHM__SHA1_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                                              0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54,
                                              0x32, 0x10, 0x0f, 0x1e, 0x2d, 0x3d};
static const uint8_t nonce_a[CSHM__NONCE_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                                                 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
                                                 0xac, 0xad, 0xae, 0xaf};

#define SENTINEL 0xA5

/* A valid, READY header made for key (NULL: by native key). */
static void make_valid(seg *s, const uint8_t *key) {
  memset(s, 0, sizeof *s);
  cshm__header_init(&s->h, USER_SIZE, LOCK_ABI, key, nonce_a, PID, PIDNS);
  s->h.state = CSHM__STATE_READY;
}

/* What this build, attaching by key_a in the creator's PID namespace, expects. */
static cshm__header_expect expect_default(void) {
  cshm__header_expect e;
  memset(&e, 0, sizeof e);
  e.mapped_len = MAPPED;
  e.exact_len = 1;
  e.lock_abi = LOCK_ABI;
  e.pid_namespace = PIDNS;
  e.key_sha1 = key_a;
  return e;
}

static int is_sentinel(const void *p, size_t n) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != SENTINEL) return 0;
  return 1;
}

/* Validates and checks the code; on failure, that *d names the header and its why
 * contains `why` (when not NULL) and that *out was not written; on success, that
 * *out says what the bytes say. */
static void check_at(const char *file, int line, const void *bytes, size_t len,
                     const cshm__header_expect *e, int want, const char *why) {
  cshm__header_info info;
  cshm__diag d;
  memset(&info, SENTINEL, sizeof info);
  memset(&d, 0, sizeof d);
  int rc = cshm__header_validate(bytes, len, e, &info, &d);
  if (rc != want) {
    print_error("%s:%d: got %d, want %d (why: \"%s\")\n", file, line, rc, want, d.why);
    fail();
  }
  if (want != CSHM_OK) {
    if (strcmp(d.what, "header") != 0 || d.why[0] == '\0' ||
        (why != NULL && strstr(d.why, why) == NULL)) {
      print_error("%s:%d: diag \"%s\": \"%s\", want \"header\": \"...%s...\"\n", file, line,
                  d.what, d.why, why != NULL ? why : "");
      fail();
    }
    if (!is_sentinel(&info, sizeof info)) {
      print_error("%s:%d: *out written on failure\n", file, line);
      fail();
    }
    return;
  }
  cshm__header h;
  memcpy(&h, bytes, sizeof h);
  assert_int_equal(info.user_size, h.user_size);
  assert_int_equal(info.data_offset, h.data_offset);
  assert_memory_equal(info.nonce, h.nonce, CSHM__NONCE_LEN);
  assert_int_equal(info.creator_pid, h.creator_pid);
  assert_int_equal(info.major, h.major);
  assert_int_equal(info.minor, h.minor);
}
#define check(bytes, len, e, want, why) check_at(__FILE__, __LINE__, bytes, len, e, want, why)

/* ---- the format and header_init ------------------------------------------------ */

static void test_magic(void **state) {
  (void)state;
  assert_memory_equal(cshm__magic, "cshm\0seg", 8);
}

static void test_init_with_key(void **state) {
  (void)state;
  seg s;
  memset(&s, 0, sizeof s);
  memset(s.h.lock, 0xAB, sizeof s.h.lock); /* init must leave the lock alone */
  cshm__header_init(&s.h, UINT64_C(0x123456789), LOCK_ABI, key_a, nonce_a, PID, PIDNS);
  assert_memory_equal(s.b, "cshm\0seg", 8);
  assert_int_equal(s.h.major, CSHM__FORMAT_MAJOR);
  assert_int_equal(s.h.minor, CSHM__FORMAT_MINOR);
  assert_int_equal(s.h.header_size, CSHM__HEADER_SIZE);
  assert_int_equal(s.h.state, CSHM__STATE_BUILDING);
  assert_int_equal(s.h.lock_abi, LOCK_ABI);
  assert_int_equal(s.h.user_size, UINT64_C(0x123456789));
  assert_int_equal(s.h.data_offset, CSHM__DATA_OFFSET);
  assert_memory_equal(s.h.key_sha1, key_a, CSHM__SHA1_LEN);
  assert_int_equal(s.h.flags, CSHM__FLAG_KEY_SHA1);
  assert_memory_equal(s.h.nonce, nonce_a, CSHM__NONCE_LEN);
  assert_int_equal(s.h.creator_pid, PID);
  assert_int_equal(s.h.reserved0, 0);
  assert_int_equal(s.h.pid_namespace, PIDNS);
  for (size_t i = 0; i < sizeof s.h.reserved; i++) assert_int_equal(s.h.reserved[i], 0);
  /* Minor 1's wait/notify words start at 0 (as a minor 0 segment has them). */
  assert_int_equal(s.h.cond_seq, 0);
  assert_int_equal(s.h.cond_waiters, 0);
  assert_int_equal(s.h.event_seq, 0);
  assert_int_equal(s.h.event_waiters, 0);
  assert_int_equal(s.h.lock_sleepers, 0);
  for (size_t i = 0; i < sizeof s.h.lock; i++) assert_int_equal(s.h.lock[i], 0xAB);
  for (size_t i = sizeof s.h; i < sizeof s.b; i++) assert_int_equal(s.b[i], 0);
}

static void test_init_without_key(void **state) {
  (void)state;
  seg s;
  memset(&s, 0, sizeof s);
  cshm__header_init(&s.h, USER_SIZE, LOCK_ABI, NULL, nonce_a, PID, 0);
  assert_int_equal(s.h.flags, 0);
  for (size_t i = 0; i < CSHM__SHA1_LEN; i++) assert_int_equal(s.h.key_sha1[i], 0);
  assert_int_equal(s.h.pid_namespace, 0);
  assert_int_equal(s.h.state, CSHM__STATE_BUILDING);
}

/* ---- valid headers -------------------------------------------------------------- */

static void test_valid(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  cshm__header_info info;
  cshm__diag d;
  memset(&info, SENTINEL, sizeof info);
  memset(&d, 0, sizeof d);
  assert_int_equal(cshm__header_validate(&s, CSHM__HEADER_SIZE, &e, &info, &d), CSHM_OK);
  assert_int_equal(info.user_size, USER_SIZE);
  assert_int_equal(info.data_offset, CSHM__DATA_OFFSET);
  assert_memory_equal(info.nonce, nonce_a, CSHM__NONCE_LEN);
  assert_int_equal(info.creator_pid, PID);
  assert_int_equal(info.major, CSHM__FORMAT_MAJOR);
  assert_int_equal(info.minor, CSHM__FORMAT_MINOR);
}

static void test_valid_longer_len(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  memset(s.b + sizeof s.h, 0xEE, sizeof s.b - sizeof s.h); /* not part of the header */
  cshm__header_expect e = expect_default();
  check(&s, sizeof s.b, &e, CSHM_OK, NULL);
}

static void test_valid_inexact_len(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.exact_len = 0;
  e.mapped_len = MAPPED + 16384; /* rounded up by the OS */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_newer_minor_accepted(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  s.h.minor = 7;
  s.h.reserved[0] = 0x55; /* a field a later minor version added */
  cshm__header_expect e = expect_default();
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_larger_header_size_accepted(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.header_size = 512;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
  s.h.header_size = CSHM__DATA_OFFSET; /* == data_offset: the limit */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

/* ---- each check, one field at a time ------------------------------------------- */

static void test_len_zero(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  check(&s, 0, &e, CSHM_ECORRUPT, "truncated");
}

static void test_len_short(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  check(&s, 1, &e, CSHM_ECORRUPT, "truncated");
  check(&s, 19, &e, CSHM_ECORRUPT, "truncated"); /* state not wholly there */
  check(&s, 20, &e, CSHM_ECORRUPT, "truncated"); /* state there, READY */
  check(&s, 128, &e, CSHM_ECORRUPT, "truncated");
}

static void test_len_255(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  check(&s, CSHM__HEADER_SIZE - 1, &e, CSHM_ECORRUPT, "truncated");
}

static void test_bad_magic(void **state) {
  (void)state;
  cshm__header_expect e = expect_default();
  for (size_t i = 0; i < 8; i++) {
    seg s;
    make_valid(&s, key_a);
    s.b[i] ^= 0x20;
    check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "magic");
  }
  seg z; /* a zero-filled object */
  memset(&z, 0, sizeof z);
  check(&z, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "magic");
}

static void test_other_major(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.major = 2;
  s.h.minor = 3;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "2.3");
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "1.x");
  s.h.major = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "0.3");
  s.h.major = UINT16_MAX;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "65535");
}

static void test_state_building(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.state = CSHM__STATE_BUILDING;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EBUSY, NULL); /* and *out untouched */
}

static void test_state_garbage(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  static const uint32_t bad[] = {1u, CSHM__STATE_READY ^ 1u, CSHM__STATE_READY ^ 0x80000000u,
                                 0x52454459u /* REDY the other way round */, UINT32_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s.h.state = bad[i];
    check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "state");
  }
}

static void test_header_size_small(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.header_size = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
  s.h.header_size = CSHM__HEADER_SIZE - 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
}

static void test_header_size_past_data(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.header_size = CSHM__DATA_OFFSET + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
  s.h.header_size = UINT32_MAX;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
}

static void test_data_offset(void **state) {
  (void)state;
  cshm__header_expect e = expect_default();
  static const uint64_t bad[] = {4096u, CSHM__DATA_OFFSET - 1u, CSHM__DATA_OFFSET + 1u,
                                 2u * CSHM__DATA_OFFSET, UINT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    seg s;
    make_valid(&s, key_a);
    s.h.data_offset = bad[i];
    e.mapped_len = SIZE_MAX; /* only the offset is wrong */
    e.exact_len = 0;
    check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "data offset");
  }
  seg s;
  make_valid(&s, key_a);
  s.h.data_offset = 0; /* below the header: caught by the header size check */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
}

static void test_user_size_zero(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.mapped_len = CSHM__DATA_OFFSET; /* would match exactly */
  s.h.user_size = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "user size is 0");
}

static void test_user_size_overflow(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.mapped_len = SIZE_MAX;
  e.exact_len = 0;
  s.h.user_size = UINT64_MAX;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "overflows");
  s.h.user_size = UINT64_MAX - CSHM__DATA_OFFSET + 1u; /* sum is 2^64 */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "overflows");
  s.h.user_size = UINT64_MAX - CSHM__DATA_OFFSET; /* sum is UINT64_MAX: no overflow */
  if ((uint64_t)SIZE_MAX < UINT64_MAX)
    check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "truncated");
  else
    check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL); /* SIZE_MAX == UINT64_MAX */
}

static void test_user_size_past_object(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.user_size = USER_SIZE + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT,
        "truncated: header says 69633 bytes, object has 69632");
  e.exact_len = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT,
        "truncated: header says 69633 bytes, object has 69632");
  s.h.user_size = USER_SIZE;
  e.mapped_len = CSHM__HEADER_SIZE; /* only the header page exists */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "truncated");
}

static void test_exact_len_mismatch(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.mapped_len = MAPPED + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "69632");
  e.exact_len = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_lock_abi(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  s.h.lock_abi = LOCK_ABI + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "0x12345679");
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "0x12345678");
  s.h.lock_abi = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "0x00000000");
}

static void test_pid_namespace_other(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.pid_namespace = PIDNS + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ENOTSUP, "created in another PID namespace");
}

static void test_pid_namespace_unknown(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_a);
  cshm__header_expect e = expect_default();
  e.pid_namespace = 0; /* the attacher does not know its own */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
  e.pid_namespace = PIDNS + 1;
  s.h.pid_namespace = 0; /* the creator did not know its own */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
  e.pid_namespace = 0;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_key_other(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_b);
  cshm__header_expect e = expect_default();
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EKEY,
        "the segment was made for another key with the same derived name");
}

static void test_key_null_skips(void **state) {
  (void)state;
  seg s;
  make_valid(&s, key_b);
  cshm__header_expect e = expect_default();
  e.key_sha1 = NULL; /* attached by native key */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_key_flag_absent_skips(void **state) {
  (void)state;
  seg s;
  make_valid(&s, NULL); /* created by native key */
  memcpy(s.h.key_sha1, key_b, CSHM__SHA1_LEN); /* whatever is there is not a key */
  cshm__header_expect e = expect_default();
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
  s.h.flags = ~CSHM__FLAG_KEY_SHA1; /* other (future) flags do not turn it on */
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
  s.h.flags = CSHM__FLAG_KEY_SHA1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EKEY, NULL);
}

/* Several faults at once: the first check in the documented order decides. */
static void test_check_order(void **state) {
  (void)state;
  cshm__header_expect e = expect_default();
  seg s;

  make_valid(&s, key_b); /* every later check fails too */
  s.h.major = 2;
  s.h.state = 1;
  s.h.header_size = 0;
  s.h.user_size = 0;
  s.h.lock_abi = 0;
  s.h.pid_namespace = 1;
  check(&s, CSHM__HEADER_SIZE - 1, &e, CSHM_ECORRUPT, "truncated");
  s.b[0] = 'C';
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "magic");
  s.b[0] = 'c';
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "format version 2.");
  s.h.major = CSHM__FORMAT_MAJOR;
  s.h.state = CSHM__STATE_BUILDING;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EBUSY, NULL);
  s.h.state = 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "state");
  s.h.state = CSHM__STATE_READY;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "header size");
  s.h.header_size = CSHM__HEADER_SIZE;
  s.h.data_offset = 4096;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "data offset");
  s.h.data_offset = CSHM__DATA_OFFSET;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "user size is 0");
  s.h.user_size = USER_SIZE + 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "truncated: header says");
  s.h.user_size = USER_SIZE - 1;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ECORRUPT, "size mismatch");
  s.h.user_size = USER_SIZE;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EVERSION, "lock ABI");
  s.h.lock_abi = LOCK_ABI;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_ENOTSUP, "PID namespace");
  s.h.pid_namespace = PIDNS;
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_EKEY, "another key");
  memcpy(s.h.key_sha1, key_a, CSHM__SHA1_LEN);
  check(&s, CSHM__HEADER_SIZE, &e, CSHM_OK, NULL);
}

static void test_input_unchanged(void **state) {
  (void)state;
  /* validate writes nothing but *out and *d: the header bytes stay as they were */
  seg s, before;
  make_valid(&s, key_a);
  s.h.lock_abi = 1;
  memcpy(&before, &s, sizeof s);
  cshm__header_expect e = expect_default();
  check(&s, sizeof s.b, &e, CSHM_EVERSION, NULL);
  assert_memory_equal(&s, &before, sizeof s);
}

/* ---- mutation loop -------------------------------------------------------------- */

static uint64_t xorshift64(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void test_mutations(void **state) {
  (void)state;
  enum { ITERATIONS = 200000 };
  uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);
  seg valid_key, valid_native;
  make_valid(&valid_key, key_a);
  make_valid(&valid_native, NULL);
  cshm__header_expect ev[4];
  ev[0] = expect_default();
  ev[1] = ev[0];
  ev[1].exact_len = 0;
  ev[1].mapped_len = MAPPED + 16384;
  ev[2] = ev[0];
  ev[2].key_sha1 = NULL;
  ev[3] = ev[1];
  ev[3].pid_namespace = 0;
  static const int codes[] = {CSHM_OK,       CSHM_EBUSY,   CSHM_ECORRUPT,
                              CSHM_EVERSION, CSHM_ENOTSUP, CSHM_EKEY};
  enum { NCODES = sizeof codes / sizeof codes[0] };
  unsigned long seen[NCODES] = {0};

  for (int it = 0; it < ITERATIONS; it++) {
    seg s, before;
    memcpy(&s, (xorshift64(&rng) & 1u) ? &valid_key : &valid_native, sizeof s);
    unsigned flips = 1u + (unsigned)(xorshift64(&rng) % 4u);
    for (unsigned f = 0; f < flips; f++) {
      size_t pos = (size_t)(xorshift64(&rng) % 128u);
      s.b[pos] ^= (unsigned char)(1u + xorshift64(&rng) % 255u);
    }
    size_t len = (size_t)(xorshift64(&rng) % 301u);
    const cshm__header_expect *e = &ev[xorshift64(&rng) % 4u];
    memcpy(&before, &s, sizeof s);

    cshm__header_info info;
    cshm__diag d;
    memset(&info, SENTINEL, sizeof info);
    memset(&d, 0, sizeof d);
    int rc = cshm__header_validate(&s, len, e, &info, &d);

    size_t k = 0;
    while (k < NCODES && codes[k] != rc) k++;
    if (k == NCODES) {
      print_error("iteration %d: undocumented code %d\n", it, rc);
      fail();
    }
    seen[k]++;
    assert_memory_equal(&s, &before, sizeof s);
    if (len < CSHM__HEADER_SIZE) assert_int_equal(rc, CSHM_ECORRUPT);
    if (rc == CSHM_OK) {
      assert_true(info.user_size > 0);
      assert_true(info.data_offset <= UINT64_MAX - info.user_size);
      assert_true(info.data_offset + info.user_size <= (uint64_t)e->mapped_len);
      if (e->exact_len) assert_true(info.data_offset + info.user_size == e->mapped_len);
      assert_int_equal(info.data_offset, CSHM__DATA_OFFSET);
      assert_int_equal(info.major, CSHM__FORMAT_MAJOR);
      assert_memory_equal(info.nonce, s.h.nonce, CSHM__NONCE_LEN);
      assert_int_equal(info.creator_pid, s.h.creator_pid);
      assert_int_equal(info.minor, s.h.minor);
    } else {
      assert_string_equal(d.what, "header");
      assert_true(d.why[0] != '\0');
      assert_true(is_sentinel(&info, sizeof info));
    }
  }
  for (size_t k = 0; k < NCODES; k++)
    print_message("  %-3d %lu\n", codes[k], seen[k]);
  /* The loop reaches every outcome but EBUSY (which needs all four state bytes
   * flipped to zero): a loop that only ever sees ECORRUPT proves nothing. */
  for (size_t k = 0; k < NCODES; k++)
    if (codes[k] != CSHM_EBUSY) assert_true(seen[k] > 0);
}

/* ---- no read past len ------------------------------------------------------------ */

/* The header bytes end exactly where a heap block of `len` bytes ends, so ASan
 * reports any read past `len`. */
static void test_no_read_past_len(void **state) {
  (void)state;
  seg valid;
  make_valid(&valid, key_a);
  cshm__header_expect e = expect_default();
  uint64_t rng = UINT64_C(0x243F6A8885A308D3);
  for (size_t len = 0; len <= 300; len++) {
    for (int round = 0; round < 8; round++) {
      seg s;
      memcpy(&s, &valid, sizeof s);
      if (round > 0) { /* and with a mutated header, which takes other paths */
        size_t pos = (size_t)(xorshift64(&rng) % 128u);
        s.b[pos] ^= (unsigned char)(1u + xorshift64(&rng) % 255u);
      }
      unsigned char *buf = malloc(len > 0 ? len : 1);
      assert_non_null(buf);
      if (len > 0) memcpy(buf, s.b, len);
      cshm__header_info info;
      cshm__diag d;
      int rc = cshm__header_validate(buf, len, &e, &info, &d);
      if (len < CSHM__HEADER_SIZE) assert_int_equal(rc, CSHM_ECORRUPT);
      if (round == 0) assert_int_equal(rc, len < CSHM__HEADER_SIZE ? CSHM_ECORRUPT : CSHM_OK);
      free(buf);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_magic),
      cmocka_unit_test(test_init_with_key),
      cmocka_unit_test(test_init_without_key),
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_valid_longer_len),
      cmocka_unit_test(test_valid_inexact_len),
      cmocka_unit_test(test_newer_minor_accepted),
      cmocka_unit_test(test_larger_header_size_accepted),
      cmocka_unit_test(test_len_zero),
      cmocka_unit_test(test_len_short),
      cmocka_unit_test(test_len_255),
      cmocka_unit_test(test_bad_magic),
      cmocka_unit_test(test_other_major),
      cmocka_unit_test(test_state_building),
      cmocka_unit_test(test_state_garbage),
      cmocka_unit_test(test_header_size_small),
      cmocka_unit_test(test_header_size_past_data),
      cmocka_unit_test(test_data_offset),
      cmocka_unit_test(test_user_size_zero),
      cmocka_unit_test(test_user_size_overflow),
      cmocka_unit_test(test_user_size_past_object),
      cmocka_unit_test(test_exact_len_mismatch),
      cmocka_unit_test(test_lock_abi),
      cmocka_unit_test(test_pid_namespace_other),
      cmocka_unit_test(test_pid_namespace_unknown),
      cmocka_unit_test(test_key_other),
      cmocka_unit_test(test_key_null_skips),
      cmocka_unit_test(test_key_flag_absent_skips),
      cmocka_unit_test(test_check_order),
      cmocka_unit_test(test_input_unchanged),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_no_read_past_len),
  };
  return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
