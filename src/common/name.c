/* Key validation and the default name derivation. The stem format is frozen
 * (DESIGN.md §5): every byte it produces is part of the on-disk contract. */
#include "name.h"

#include <string.h>

#include "sha1.h"

bool cshm__utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned char c = *p++;
    if (c < 0x80) continue;
    /* Bounds of the second byte per Unicode Table 3-7: they exclude overlongs
     * (E0, F0), surrogates (ED) and code points above U+10FFFF (F4). */
    unsigned char lo = 0x80, hi = 0xBF;
    int more;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false; /* stray continuation, C0/C1 overlong lead, or F5..FF */
    }
    /* A NUL terminator fails the range check, so truncation is caught here too. */
    if (*p < lo || *p > hi) return false;
    p++;
    while (--more > 0) {
      if (*p < 0x80 || *p > 0xBF) return false;
      p++;
    }
  }
  return true;
}

void cshm__base32(const uint8_t *in, size_t len, char *out) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint32_t acc = 0; /* never holds more than 12 bits */
  unsigned bits = 0;
  for (size_t i = 0; i < len; i++) {
    acc = (acc << 8 | in[i]) & 0xFFFu;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      *out++ = alphabet[(acc >> bits) & 31u];
    }
  }
  if (bits > 0) *out++ = alphabet[(acc << (5 - bits)) & 31u]; /* zero-fill, no padding */
  *out = '\0';
}

void cshm__default_stem(const char *key, char out[CSHM__STEM_MAX + 1]) {
  char *o = out;
  memcpy(o, "cshm_", 5);
  o += 5;

  /* Byte-wise and ASCII-only on purpose: locale-independent, and bytes of
   * multi-byte sequences are all >= 0x80, so they are skipped. */
  size_t f = 0;
  for (const char *p = key; *p && f < 7; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      *o++ = c;
      f++;
    }
  }
  if (f > 0) *o++ = '_';

  uint8_t digest[CSHM__SHA1_LEN];
  cshm__sha1(key, strlen(key), digest);
  cshm__base32(digest, 10, o); /* 80 bits = exactly 16 characters, NUL-terminated */
}
