/* Time limits in milliseconds: what is left of a caller's `ms` (CSHM_INFINITE: no
 * limit) since a start read from cshm__sys_now_ms(). */
#ifndef CSHM_COMMON_DEADLINE_H
#define CSHM_COMMON_DEADLINE_H

#include <stdint.h>

#include "cshm/cshm.h"
#include "sys.h"

/* Milliseconds left of `ms` since `start`: 0 when elapsed; CSHM_INFINITE stays. */
static inline uint32_t cshm__ms_left(uint64_t start, uint32_t ms) {
  if (ms == CSHM_INFINITE)
    return CSHM_INFINITE;
  uint64_t elapsed = cshm__sys_now_ms() - start;
  return elapsed >= ms ? 0u : (uint32_t)(ms - elapsed);
}

#endif
