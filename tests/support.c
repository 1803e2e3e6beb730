/* What the suites share, on every OS: run-unique keys and the record of the names a
 * suite used, which ts_leftovers() checks. Spawning the helper and looking at
 * segments (and sidecars) from outside the library are the OS's: support_posix.c,
 * support_win32.c. */
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
  /* A name that could not be recorded would never be checked: stop loudly. */
  if (copy == NULL || recorded_count == MAX_RECORDED) {
    fprintf(stderr, "ts_record_native: cannot record %s\n", native);
    abort();
  }
  memcpy(copy, native, n);
  recorded[recorded_count++] = copy;
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
  int rc = cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT);
  if (rc != CSHM_OK) {
    fprintf(stderr, "ts_key: no native name for %s: %s: %s\n", key, cshm_error_name(rc),
            cshm_last_error_string());
    abort();
  }
  ts_record_native(native);
  return key;
}

int ts_leftovers(void) {
  int left = 0;
  for (int i = 0; i < recorded_count; i++) {
    if (ts__os_leftover(recorded[i]))
      left++;
    left += ts_sidecars_left(recorded[i]);
  }
  return left;
}

int ts_key_sidecars_left(const char *key) {
  char native[1024];
  int rc = cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT);
  if (rc != CSHM_OK) {
    fprintf(stderr, "no native name for %s: %s: %s\n", key, cshm_error_name(rc),
            cshm_last_error_string());
    return 1;
  }
  return ts_sidecars_left(native);
}
