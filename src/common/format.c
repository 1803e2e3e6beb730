/* The segment header of the default key type (DESIGN.md §4): creation and the pure
 * validation an attacher runs before it trusts a single field. */
#include "format.h"

#include <inttypes.h>
#include <string.h>

#include "atomic.h"
#include "cshm/cshm.h"

const uint8_t cshm__magic[8] = {'c', 's', 'h', 'm', 0, 's', 'e', 'g'};

void cshm__header_init(cshm__header *hd, uint64_t user_size, uint32_t lock_abi,
                       const uint8_t *key_sha1, const uint8_t nonce[CSHM__NONCE_LEN],
                       uint32_t creator_pid, uint64_t pid_namespace) {
  memcpy(hd->magic, cshm__magic, sizeof hd->magic);
  hd->major = (uint16_t)CSHM__FORMAT_MAJOR;
  hd->minor = (uint16_t)CSHM__FORMAT_MINOR;
  hd->header_size = CSHM__HEADER_SIZE;
  hd->lock_abi = lock_abi;
  hd->user_size = user_size;
  hd->data_offset = CSHM__DATA_OFFSET;
  if (key_sha1 != NULL) {
    memcpy(hd->key_sha1, key_sha1, sizeof hd->key_sha1);
    hd->flags |= CSHM__FLAG_KEY_SHA1;
  }
  memcpy(hd->nonce, nonce, sizeof hd->nonce);
  hd->creator_pid = creator_pid;
  hd->pid_namespace = pid_namespace;
  /* state and lock: the caller initialises the lock, then publishes READY. */
}

int cshm__header_validate(const void *bytes, size_t len, const cshm__header_expect *e,
                          cshm__header_info *out, cshm__diag *d) {
  const unsigned char *p = (const unsigned char *)bytes;
  uint32_t state = 0;
  cshm__header hdr;

  /* `state` first, with acquire: when it says READY, the creator's writes of every
   * other field happen before the copy below. `bytes` is the start of a mapping, so
   * the word at offset 16 is 4-byte aligned. */
  if (len >= offsetof(cshm__header, state) + sizeof hdr.state)
    state = cshm__atomic_load_acquire(
        (const volatile uint32_t *)(const volatile void *)(p + offsetof(cshm__header, state)));

  /* One copy, then only the copy is checked: another process cannot change a field
   * between its check and its use. The copy's state is replaced by the value loaded
   * with acquire, so the verdict on READY is the one the ordering above is about. */
  memset(&hdr, 0, sizeof hdr);
  /* The lock (from CSHM__LOCK_OFFSET on) changes under other processes' atomics:
   * it is not copied, and nothing here reads it. */
  if (len > 0)
    memcpy(&hdr, p, len < CSHM__LOCK_OFFSET ? len : CSHM__LOCK_OFFSET);
  hdr.state = state;

  if (len < CSHM__HEADER_SIZE)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "truncated: %zu bytes, a header needs %u", len, CSHM__HEADER_SIZE);
  if (memcmp(hdr.magic, cshm__magic, sizeof hdr.magic) != 0)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header", "bad magic: not a cshm segment");
  if (hdr.major != CSHM__FORMAT_MAJOR)
    return cshm__diag_set(d, CSHM_EVERSION, "header",
                          "format version %u.%u, this build reads version %u.x",
                          (unsigned)hdr.major, (unsigned)hdr.minor, CSHM__FORMAT_MAJOR);
  if (hdr.state == CSHM__STATE_BUILDING)
    return cshm__diag_set(d, CSHM_EBUSY, "header", "the segment is still being created");
  if (hdr.state != CSHM__STATE_READY)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header", "bad state 0x%08" PRIx32, hdr.state);
  if (hdr.header_size < CSHM__HEADER_SIZE || hdr.header_size > hdr.data_offset)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "bad header size %" PRIu32 " (data offset %" PRIu64 ")",
                          hdr.header_size, hdr.data_offset);
  if (hdr.data_offset != CSHM__DATA_OFFSET)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "bad data offset %" PRIu64 ", format 1 uses %u", hdr.data_offset,
                          CSHM__DATA_OFFSET);
  if (hdr.user_size == 0)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header", "user size is 0");
  if (hdr.user_size > UINT64_MAX - hdr.data_offset)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "user size %" PRIu64 " overflows with data offset %" PRIu64,
                          hdr.user_size, hdr.data_offset);
  const uint64_t total = hdr.data_offset + hdr.user_size;
  if (total > (uint64_t)e->mapped_len)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "truncated: header says %" PRIu64 " bytes, object has %zu", total,
                          e->mapped_len);
  if (e->exact_len && total != (uint64_t)e->mapped_len)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                          "size mismatch: header says %" PRIu64 " bytes, object has %zu", total,
                          e->mapped_len);
  if (hdr.lock_abi != e->lock_abi)
    return cshm__diag_set(d, CSHM_EVERSION, "header",
                          "lock ABI 0x%08" PRIx32 ", this build uses 0x%08" PRIx32, hdr.lock_abi,
                          e->lock_abi);
  if (e->pid_namespace != 0 && hdr.pid_namespace != 0 && e->pid_namespace != hdr.pid_namespace)
    return cshm__diag_set(d, CSHM_ENOTSUP, "header",
                          "created in another PID namespace (%" PRIu64 ", ours is %" PRIu64 ")",
                          hdr.pid_namespace, e->pid_namespace);
  if (e->key_sha1 != NULL && (hdr.flags & CSHM__FLAG_KEY_SHA1) != 0 &&
      memcmp(hdr.key_sha1, e->key_sha1, sizeof hdr.key_sha1) != 0)
    return cshm__diag_set(d, CSHM_EKEY, "header",
                          "the segment was made for another key with the same derived name");

  if (out != NULL) {
    out->user_size = hdr.user_size;
    out->data_offset = hdr.data_offset;
    memcpy(out->nonce, hdr.nonce, sizeof out->nonce);
    out->creator_pid = hdr.creator_pid;
    out->major = hdr.major;
    out->minor = hdr.minor;
  }
  return CSHM_OK;
}
