/* Uncontended lock+unlock pairs through the public API: 5 runs of N pairs, prints
 * the median and the best in nanoseconds per pair. Compare builds by running each
 * in one session (a ratio from one run, never a lone absolute time). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 1000000;
  char key[64];
  snprintf(key, sizeof key, "cshm-bench-pairs-%d", (int)getpid());
  cshm *h;
  if (cshm_new(&h, key) != CSHM_OK || cshm_create(h, 4096, CSHM_READ_WRITE) != CSHM_OK) {
    fprintf(stderr, "%s\n", cshm_last_error_string());
    return 1;
  }
  double per_pair[5];
  for (int run = 0; run < 5; run++) {
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++)
      if (cshm_lock(h) != CSHM_OK || cshm_unlock(h) != CSHM_OK) {
        fprintf(stderr, "%s\n", cshm_error_string(h));
        return 1;
      }
    per_pair[run] = (now_ns() - t0) / (double)pairs;
  }
  qsort(per_pair, 5, sizeof per_pair[0], compare);
  printf("%.2f %.2f\n", per_pair[2], per_pair[0]); /* median, best */
  cshm_free(h);
  return 0;
}
