/* libFuzzer target: the header validation, fed arbitrary bytes in memory. It must
 * return a documented code, never crash, hang or read out of bounds (the input sits
 * in a heap block of exactly its size, under AddressSanitizer), and an accepted
 * header must describe data that fits the object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "format.h"
#include "sys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The first byte shapes the expectation; the rest is the header. */
  uint8_t shape = size > 0 ? data[0] : 0;
  const uint8_t *bytes = size > 0 ? data + 1 : data;
  size_t len = size > 0 ? size - 1 : 0;
  uint8_t *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL)
    return 0;
  memcpy(copy, bytes, len);
  static const uint8_t key_sha1[20] = {1, 2, 3};
  cshm__header_expect e = {
      .mapped_len = (shape & 1) ? len : len + ((size_t)(shape >> 4) << 16),
      .exact_len = (shape & 2) != 0,
      .lock_abi = cshm__sys_lock_abi(),
      .pid_namespace = (shape & 4) ? 7u : 0u,
      .key_sha1 = (shape & 8) ? key_sha1 : NULL,
  };
  cshm__header_info info;
  cshm__diag d;
  int rc = cshm__header_validate(copy, len, &e, &info, &d);
  switch (rc) {
  case CSHM_OK:
    if (info.user_size == 0 || info.data_offset > e.mapped_len ||
        info.user_size > e.mapped_len - info.data_offset)
      abort(); /* accepted a header that does not fit its object */
    break;
  case CSHM_EBUSY:
  case CSHM_ECORRUPT:
  case CSHM_EVERSION:
  case CSHM_ENOTSUP:
  case CSHM_EKEY:
    if (d.why[0] == '\0')
      abort(); /* every refusal says why */
    break;
  default:
    abort(); /* not a documented code */
  }
  free(copy);
  return 0;
}
