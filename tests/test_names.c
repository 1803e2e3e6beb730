/* SHA-1, base32, UTF-8 validation and the frozen default stem (DESIGN.md §5).
 * Non-ASCII keys are written as byte escapes so the source encoding cannot matter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "sha1.h"

static void hex(const uint8_t d[CSHM__SHA1_LEN], char out[2 * CSHM__SHA1_LEN + 1]) {
  for (size_t i = 0; i < CSHM__SHA1_LEN; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_oneshot(const char *msg, const char *want) {
  uint8_t d[CSHM__SHA1_LEN];
  char h[2 * CSHM__SHA1_LEN + 1];
  cshm__sha1(msg, strlen(msg), d);
  hex(d, h);
  assert_string_equal(h, want);
}

/* FIPS 180 / NIST example vectors; the last crosses into a second padding block. */
static const struct {
  const char *msg, *digest;
} sha1_vectors[] = {
    {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
     "klmnopqrlmnopqrsmnopqrstnopqrstu",
     "a49b2446a02c645bf419f995b67091253a04a259"},
};

static void test_sha1_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof sha1_vectors / sizeof sha1_vectors[0]; i++)
    check_oneshot(sha1_vectors[i].msg, sha1_vectors[i].digest);
}

static void test_sha1_million_a(void **state) {
  (void)state;
  static char chunk[1000];
  memset(chunk, 'a', sizeof chunk);
  struct cshm__sha1 c;
  cshm__sha1_init(&c);
  /* Chunk sizes coprime with 64 so block boundaries fall at every offset. */
  size_t left = 1000000, step = 1;
  while (left > 0) {
    size_t n = step < left ? step : left;
    cshm__sha1_update(&c, chunk, n);
    left -= n;
    step = step % 991 + 7; /* stays <= 997, within chunk */
  }
  uint8_t d[CSHM__SHA1_LEN];
  char h[2 * CSHM__SHA1_LEN + 1];
  cshm__sha1_final(&c, d);
  hex(d, h);
  assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_sha1_split_updates(void **state) {
  (void)state;
  for (size_t v = 0; v < sizeof sha1_vectors / sizeof sha1_vectors[0]; v++) {
    const char *msg = sha1_vectors[v].msg;
    size_t len = strlen(msg);
    uint8_t want[CSHM__SHA1_LEN], got[CSHM__SHA1_LEN];
    cshm__sha1(msg, len, want);
    for (size_t k = 0; k <= len; k++) {
      struct cshm__sha1 c;
      cshm__sha1_init(&c);
      cshm__sha1_update(&c, msg, k);
      cshm__sha1_update(&c, msg + k, len - k);
      cshm__sha1_final(&c, got);
      assert_memory_equal(got, want, CSHM__SHA1_LEN);
    }
  }
}

static void test_base32_rfc4648(void **state) {
  (void)state;
  static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const want[] = {"", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb",
                                     "mzxw6ytboi"};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    char out[16];
    memset(out, 'X', sizeof out);
    cshm__base32((const uint8_t *)in[i], strlen(in[i]), out);
    assert_string_equal(out, want[i]);
  }
  /* High bits exercise every alphabet edge: all ones map to the last symbol. */
  static const uint8_t ones[5] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  char out[9];
  cshm__base32(ones, sizeof ones, out);
  assert_string_equal(out, "77777777");
}

static const struct {
  const char *key, *stem;
} stem_vectors[] = {
    {"my_shared_memory", "cshm_myshare_2p5koc4w43euvfwl"},
    {"MySharedMemory", "cshm_myshare_gwlbjxbot3dljvwz"},
    {"Hello, world!", "cshm_hellowo_sq5halig6ncztlxb"},
    {"No\xc3\xab"
     "l",
     "cshm_nol_65feslll2woxleiu"},
    {"a", "cshm_a_q336in72uwt7zyk5"},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\xad\xe3\x83\xbc", "cshm_t36hsq5lxv436h4s"},
};

static void test_stem_design_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof stem_vectors / sizeof stem_vectors[0]; i++) {
    char out[CSHM__STEM_MAX + 1];
    cshm__default_stem(stem_vectors[i].key, out);
    assert_string_equal(out, stem_vectors[i].stem);
  }
}

static void check_stem_shape(const char *key) {
  /* Exact-size heap buffer so AddressSanitizer catches any overrun. */
  char *out = malloc(CSHM__STEM_MAX + 1);
  assert_non_null(out);
  cshm__default_stem(key, out);
  size_t n = strlen(out);
  assert_true(n <= CSHM__STEM_MAX);
  assert_true(strncmp(out, "cshm_", 5) == 0);
  for (size_t i = 0; i < n; i++) {
    char c = out[i];
    assert_true((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  free(out);
}

static void test_stem_shape(void **state) {
  (void)state;
  static const char *const keys[] = {
      "x", "_", "!!!", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
      "a-very-long-key-that-goes-on-and-on-and-on-well-past-any-limit",
      "\xf4\x8f\xbf\xbf", "Z9 \t\n~", "1234567"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) check_stem_shape(keys[i]);
  for (size_t i = 0; i < sizeof stem_vectors / sizeof stem_vectors[0]; i++)
    check_stem_shape(stem_vectors[i].key);

  /* The longest form is exactly the maximum; no letters at all drops F and its "_". */
  char out[CSHM__STEM_MAX + 1];
  cshm__default_stem("ABCDEFGHIJ", out);
  assert_int_equal(strlen(out), CSHM__STEM_MAX);
  assert_true(strncmp(out, "cshm_abcdefg_", 13) == 0);
  cshm__default_stem("!!!", out);
  assert_int_equal(strlen(out), 5 + 16);
}

static void test_utf8_valid(void **state) {
  (void)state;
  static const char *const good[] = {
      "",
      "plain ASCII \x7f",
      "\xc2\x80",             /* U+0080, smallest 2-byte */
      "\xc3\xa9",             /* U+00E9 */
      "\xdf\xbf",             /* U+07FF */
      "\xe0\xa0\x80",         /* U+0800, smallest 3-byte */
      "\xe2\x82\xac",         /* U+20AC */
      "\xed\x9f\xbf",         /* U+D7FF, just below the surrogates */
      "\xee\x80\x80",         /* U+E000, just above them */
      "\xef\xbf\xbf",         /* U+FFFF */
      "\xf0\x90\x80\x80",     /* U+10000, smallest 4-byte */
      "\xf0\x9f\x98\x80",     /* U+1F600 */
      "\xf4\x8f\xbf\xbf",     /* U+10FFFF */
      "a\xc3\xa9z\xe6\x97\xa5", /* mixed */
  };
  static const char *const bad[] = {
      "\xc0\xaf",             /* overlong '/' */
      "\xc1\xbf",             /* overlong */
      "\xe0\x80\xaf",         /* overlong */
      "\xe0\x9f\xbf",         /* overlong U+07FF */
      "\xf0\x80\x80\xaf",     /* overlong */
      "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
      "\xed\xa0\x80",         /* surrogate U+D800 */
      "\xed\xbf\xbf",         /* surrogate U+DFFF */
      "\xf4\x90\x80\x80",     /* U+110000 */
      "\xf5\x80\x80\x80",
      "\x80",                 /* lone continuation */
      "a\xbf",
      "\xe6\x97",             /* truncated */
      "\xe6\x97z",
      "\xf0\x9f\x98",
      "a\xc3",
      "\xc3\x28",             /* lead then non-continuation */
      "\xff",
      "\xfe",
      "\xf8\x88\x80\x80\x80", /* old 5-byte form */
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(cshm__utf8_valid(good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(cshm__utf8_valid(bad[i]));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha1_vectors),        cmocka_unit_test(test_sha1_million_a),
      cmocka_unit_test(test_sha1_split_updates),  cmocka_unit_test(test_base32_rfc4648),
      cmocka_unit_test(test_stem_design_vectors), cmocka_unit_test(test_stem_shape),
      cmocka_unit_test(test_utf8_valid),
  };
  return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
