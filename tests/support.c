/* What the suites share, on every OS: run-unique keys and the record of the segments
 * a suite made. Spawning the helper and looking at segments from outside the library
 * are the OS's: support_posix.c, support_win32.c. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "support_os.h"

#define MAX_RECORDED 4096

static char *recorded[MAX_RECORDED];
static int recorded_count;

/* The keys ts_key() handed out: kept for the life of the process. */
static char *issued[MAX_RECORDED];
static int issued_count;

void ts_record_native(const char *native) {
  for (int i = 0; i < recorded_count; i++)
    if (strcmp(recorded[i], native) == 0)
      return;
  size_t n = strlen(native) + 1;
  char *copy = malloc(n);
  if (copy != NULL && recorded_count < MAX_RECORDED) {
    memcpy(copy, native, n);
    recorded[recorded_count++] = copy;
  } else {
    free(copy);
  }
}

const char *ts_key(const char *label) {
  static unsigned run_nonce;
  static unsigned counter;
  if (run_nonce == 0)
    run_nonce = ts__os_random() | 1;
  char buf[512];
  int n = snprintf(buf, sizeof buf, "cshm-test-%d-%08x-%u-%s", ts_pid(), run_nonce, counter++,
                   label);
  char *key = n > 0 && (size_t)n < sizeof buf ? malloc((size_t)n + 1) : NULL;
  if (issued_count == MAX_RECORDED || key == NULL)
    abort();
  memcpy(key, buf, (size_t)n + 1);
  issued[issued_count++] = key;
  char native[1024];
  if (cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT) == CSHM_OK)
    ts_record_native(native);
  return key;
}

int ts_leftovers(void) {
  int left = 0;
  for (int i = 0; i < recorded_count; i++)
    if (ts__os_leftover(recorded[i]))
      left++;
  return left;
}
