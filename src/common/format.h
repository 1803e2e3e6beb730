/* The segment header of the default key type (DESIGN.md §4).
 *
 * Fixed-width fields at fixed offsets, checked below with _Static_assert, so every
 * build and every language agrees on the bytes. Minor versions only add fields in
 * the reserved space; a major change or another lock ABI makes attach refuse with
 * CSHM_EVERSION. The data starts at 64 KiB: the Windows view granularity, and a
 * multiple of 16 KiB arm64 and 4 KiB pages, so cshm_data() is page-aligned and the
 * data pages can be protected apart from the header. */
#ifndef CSHM_COMMON_FORMAT_H
#define CSHM_COMMON_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "sha1.h"

#define CSHM__FORMAT_MAJOR 1u
/* Minor 1 (issue 13): the wait/notify words in the old reserved space. A minor 0
 * segment has zeros there, which is a valid starting state for every one of them,
 * and validation never looks at the minor: minor 0 and 1 segments work with every
 * build, in both directions. */
#define CSHM__FORMAT_MINOR 1u
#define CSHM__DATA_OFFSET 65536u
#define CSHM__LOCK_OFFSET 128u
#define CSHM__LOCK_CAPACITY 128u
#define CSHM__HEADER_SIZE 256u
#define CSHM__NONCE_LEN 16u

/* `state`: the object is zero-filled (BUILDING) until the creator publishes READY,
 * last, with a release store. Any other value is corruption. */
#define CSHM__STATE_BUILDING 0u
#define CSHM__STATE_READY 0x59444552u /* "REDY" */

/* `flags` */
#define CSHM__FLAG_KEY_SHA1 1u /* key_sha1 holds SHA-1 of the key (else created by native key) */

typedef struct cshm__header {
  uint8_t magic[8];         /* "cshm\0seg" */
  uint16_t major;           /* CSHM__FORMAT_MAJOR */
  uint16_t minor;           /* CSHM__FORMAT_MINOR */
  uint32_t header_size;     /* bytes of header in use: CSHM__HEADER_SIZE for 1.0 */
  uint32_t state;           /* CSHM__STATE_*: atomic */
  uint32_t lock_abi;        /* cshm__sys_lock_abi() of the creator */
  uint64_t user_size;       /* exact size given to create() */
  uint64_t data_offset;     /* CSHM__DATA_OFFSET */
  uint8_t key_sha1[20];     /* SHA-1 of the UTF-8 key: two keys, one short name -> EKEY */
  uint32_t flags;           /* CSHM__FLAG_* */
  uint8_t nonce[16];        /* random per incarnation: identity of this segment */
  uint32_t creator_pid;     /* informational */
  uint32_t reserved0;
  uint64_t pid_namespace;   /* creator's PID namespace id (Linux), 0 if unknown */
  /* Minor 1: 32-bit words other processes change with atomics (never copied by the
   * validation, which accepts any value here). */
  uint32_t cond_seq;        /* the word cshm_wait sleeps on: incremented by every notify */
  uint32_t cond_waiters;    /* threads registered in cshm_wait (0: notify skips the wake) */
  uint32_t event_seq;       /* the event word (cshm_event_*) */
  uint32_t event_waiters;   /* threads registered in cshm_event_wait */
  uint32_t lock_sleepers;   /* portable profile: threads sleeping on the lock word */
  uint8_t reserved[12];     /* zero: room for minor versions */
  uint8_t lock[CSHM__LOCK_CAPACITY]; /* the backend's lock */
} cshm__header;

_Static_assert(offsetof(cshm__header, magic) == 0, "layout");
_Static_assert(offsetof(cshm__header, major) == 8, "layout");
_Static_assert(offsetof(cshm__header, minor) == 10, "layout");
_Static_assert(offsetof(cshm__header, header_size) == 12, "layout");
_Static_assert(offsetof(cshm__header, state) == 16, "layout");
_Static_assert(offsetof(cshm__header, lock_abi) == 20, "layout");
_Static_assert(offsetof(cshm__header, user_size) == 24, "layout");
_Static_assert(offsetof(cshm__header, data_offset) == 32, "layout");
_Static_assert(offsetof(cshm__header, key_sha1) == 40, "layout");
_Static_assert(offsetof(cshm__header, flags) == 60, "layout");
_Static_assert(offsetof(cshm__header, nonce) == 64, "layout");
_Static_assert(offsetof(cshm__header, creator_pid) == 80, "layout");
_Static_assert(offsetof(cshm__header, pid_namespace) == 88, "layout");
_Static_assert(offsetof(cshm__header, cond_seq) == 96, "layout");
_Static_assert(offsetof(cshm__header, cond_waiters) == 100, "layout");
_Static_assert(offsetof(cshm__header, event_seq) == 104, "layout");
_Static_assert(offsetof(cshm__header, event_waiters) == 108, "layout");
_Static_assert(offsetof(cshm__header, lock_sleepers) == 112, "layout");
_Static_assert(offsetof(cshm__header, reserved) == 116, "layout");
_Static_assert(offsetof(cshm__header, lock) == CSHM__LOCK_OFFSET, "layout");
_Static_assert(sizeof(cshm__header) == CSHM__HEADER_SIZE, "layout");

extern const uint8_t cshm__magic[8];

/* What the attacher expects of a header. */
typedef struct cshm__header_expect {
  size_t mapped_len;        /* bytes mapped: the object size as the OS reports it */
  int exact_len;            /* nonzero: the OS reports exact sizes (Linux) */
  uint32_t lock_abi;        /* this build's cshm__sys_lock_abi() */
  uint64_t pid_namespace;   /* this process's, 0 if unknown */
  const uint8_t *key_sha1;  /* the attacher's key, or NULL if it has only a native key */
} cshm__header_expect;

/* What a valid header says. */
typedef struct cshm__header_info {
  uint64_t user_size;
  uint64_t data_offset;
  uint8_t nonce[CSHM__NONCE_LEN];
  uint32_t creator_pid;
  uint16_t major, minor;
} cshm__header_info;

/* Checks `len` header bytes at `bytes` (4-byte aligned; read once, into a local copy
 * that leaves out the lock, which other processes change) against `e`. Reserved
 * fields and unknown flag bits are accepted: minor versions add them.
 * Pure: touches nothing but its arguments, so it can be fuzzed in memory.
 * Returns CSHM_OK and fills *out; CSHM_EBUSY when the state is still BUILDING (the
 * caller may wait); CSHM_ECORRUPT (bad magic, sizes, state; truncated);
 * CSHM_EVERSION (other major, other lock ABI); CSHM_ENOTSUP (creator in another PID
 * namespace); CSHM_EKEY (made for another key). *d says which field. */
int cshm__header_validate(const void *bytes, size_t len, const cshm__header_expect *e,
                          cshm__header_info *out, cshm__diag *d);

/* Fills a zeroed header for a new segment, all but the lock and the state. */
void cshm__header_init(cshm__header *hd, uint64_t user_size, uint32_t lock_abi,
                       const uint8_t *key_sha1, const uint8_t nonce[CSHM__NONCE_LEN],
                       uint32_t creator_pid, uint64_t pid_namespace);

#endif
