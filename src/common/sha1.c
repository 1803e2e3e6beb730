/* SHA-1 (FIPS 180-4). Portable: words are assembled with shifts, so host byte order
 * and alignment never matter. */
#include "sha1.h"

#include <string.h>

static uint32_t rol(uint32_t x, unsigned n) { return (x << n) | (x >> (32u - n)); }

static void compress(uint32_t s[5], const uint8_t p[64]) {
  uint32_t w[80];
  for (unsigned i = 0; i < 16; i++) {
    /* Cast before shifting: a uint8_t promotes to int, and 0x80 << 24 overflows it. */
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  }
  for (unsigned i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
  for (unsigned i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999u;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1u;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDCu;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6u;
    }
    uint32_t t = rol(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = rol(b, 30);
    b = a;
    a = t;
  }
  s[0] += a;
  s[1] += b;
  s[2] += c;
  s[3] += d;
  s[4] += e;
}

void cshm__sha1_init(struct cshm__sha1 *c) {
  static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                                 0xC3D2E1F0u};
  memcpy(c->state, iv, sizeof iv);
  c->length = 0;
  c->used = 0;
}

void cshm__sha1_update(struct cshm__sha1 *c, const void *data, size_t len) {
  const uint8_t *p = data;
  c->length += len;
  while (len > 0) {
    size_t n = 64 - c->used;
    if (n > len) n = len;
    memcpy(c->block + c->used, p, n);
    c->used += n;
    p += n;
    len -= n;
    if (c->used == 64) {
      compress(c->state, c->block);
      c->used = 0;
    }
  }
}

void cshm__sha1_final(struct cshm__sha1 *c, uint8_t digest[CSHM__SHA1_LEN]) {
  uint64_t bits = c->length * 8u; /* FIPS 180 defines the length modulo 2^64 bits */
  c->block[c->used++] = 0x80;
  if (c->used > 56) {
    memset(c->block + c->used, 0, 64 - c->used);
    compress(c->state, c->block);
    c->used = 0;
  }
  memset(c->block + c->used, 0, 56 - c->used);
  for (unsigned i = 0; i < 8; i++) c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  compress(c->state, c->block);
  for (unsigned i = 0; i < 20; i++) digest[i] = (uint8_t)(c->state[i / 4] >> (24 - 8 * (i % 4)));
}

void cshm__sha1(const void *data, size_t len, uint8_t digest[CSHM__SHA1_LEN]) {
  struct cshm__sha1 c; /* the tag: sha1.h gives the typedef and the one-shot function one name */
  cshm__sha1_init(&c);
  cshm__sha1_update(&c, data, len);
  cshm__sha1_final(&c, digest);
}
