/* SHA-1 (FIPS 180-4). Used for names and key fingerprints, never for security. */
#ifndef CSHM_COMMON_SHA1_H
#define CSHM_COMMON_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define CSHM__SHA1_LEN 20

typedef struct cshm__sha1 {
  uint32_t state[5];
  uint64_t length; /* bytes hashed so far */
  uint8_t block[64];
  size_t used; /* bytes in block */
} cshm__sha1_ctx;

void cshm__sha1_init(cshm__sha1_ctx *c);
void cshm__sha1_update(cshm__sha1_ctx *c, const void *data, size_t len);
void cshm__sha1_final(cshm__sha1_ctx *c, uint8_t digest[CSHM__SHA1_LEN]);

/* One-shot digest of len bytes. */
void cshm__sha1(const void *data, size_t len, uint8_t digest[CSHM__SHA1_LEN]);

#endif
