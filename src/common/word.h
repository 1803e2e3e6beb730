/* Where the header words of cshm__word (sys.h) live in a mapped header (format.h,
 * minor 1), for the backends that sleep on an address (futex, os_sync, umtx). */
#ifndef CSHM_COMMON_WORD_H
#define CSHM_COMMON_WORD_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "sys.h"

/* The lock word's low 32 bits: at its address on a little-endian machine, 4 bytes on
 * on a big-endian one (the portable lock ABI records the byte order). */
static inline size_t cshm__word_lock_low_offset(void) {
  const union {
    uint16_t u;
    uint8_t b[2];
  } probe = {.u = 1};
  return CSHM__LOCK_OFFSET + (probe.b[0] == 1 ? 0u : 4u);
}

static inline size_t cshm__word_offset(cshm__word which) {
  switch (which) {
  case CSHM__WORD_COND: return offsetof(cshm__header, cond_seq);
  case CSHM__WORD_EVENT: return offsetof(cshm__header, event_seq);
  case CSHM__WORD_LOCK: break;
  }
  return cshm__word_lock_low_offset();
}

/* The word `which` of the header mapped at `base` (4-byte aligned: a mapping's start
 * plus a multiple of 4). */
static inline volatile uint32_t *cshm__word_address(void *base, cshm__word which) {
  return (volatile uint32_t *)(void *)((unsigned char *)base + cshm__word_offset(which));
}

#endif
