/* libFuzzer target: attach to a real segment whose header holds the input. The
 * segment is created once; each input overwrites its header (through the creator's
 * mapping), a second handle attaches - it must succeed with a size that fits, or
 * fail with a documented code, at once (the READY wait is set to 0) - and the
 * original header is put back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "format.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern unsigned cshm__ready_wait_ms;

#define SEGMENT_SIZE 4096

static cshm *creator;
static char key[64];
static uint8_t *header;
static uint8_t original[CSHM__HEADER_SIZE];

static void remove_segment(void) { cshm_free(creator); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  cshm__ready_wait_ms = 0; /* a stuck BUILDING state must not stall the fuzzer */
  snprintf(key, sizeof key, "cshm-fuzz-attach-%d", (int)getpid());
  if (cshm_new(&creator, key) != CSHM_OK || cshm_create(creator, SEGMENT_SIZE, CSHM_READ_WRITE) != CSHM_OK)
    abort();
  header = (uint8_t *)cshm_data(creator) - CSHM__DATA_OFFSET;
  memcpy(original, header, sizeof original);
  atexit(remove_segment);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The lock area stays: the creator's process holds no lock, and garbage there is a
   * co-user's corruption, which DESIGN.md trusts not to happen. */
  size_t n = size < CSHM__LOCK_OFFSET ? size : CSHM__LOCK_OFFSET;
  memcpy(header, data, n);
  cshm *h;
  if (cshm_new(&h, key) != CSHM_OK)
    abort();
  int rc = cshm_attach(h, CSHM_READ_ONLY);
  switch (rc) {
  case CSHM_OK:
    if (cshm_size(h) == 0 || cshm_size(h) > SEGMENT_SIZE + 65536)
      abort();
    break;
  case CSHM_ECORRUPT:
  case CSHM_EVERSION:
  case CSHM_ENOTSUP:
  case CSHM_EKEY:
  case CSHM_ENOENT: /* the portable profile: "never completed" */
    break;
  default:
    fprintf(stderr, "%s\n", cshm_error_string(h));
    abort();
  }
  cshm_free(h);
  memcpy(header, original, sizeof original);
  return 0;
}
