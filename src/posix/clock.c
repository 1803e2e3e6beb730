/* The monotonic clock of the waits (sys.h). */
#include <time.h>

#include "sys.h"

uint64_t cshm__sys_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
