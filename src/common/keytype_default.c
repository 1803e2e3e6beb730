/* The default key type: cshm's header (format.h) and the backend's segments and
 * in-header lock (sys.h). */
#include <string.h>

#include "atomic.h"
#include "format.h"
#include "handle.h"
#include "keytype.h"
#include "name.h"
#include "sha1.h"
#include "sys.h"
#include "testpoint.h"

/* How long an attacher waits for a segment still BUILDING before calling it corrupt.
 * Only a backend that names objects before they are READY (not Linux) needs any wait. */
unsigned cshm__ready_wait_ms = 2000;

static int derive(const char *key, char *out, cshm__diag *d) {
  char stem[CSHM__STEM_MAX + 1];
  cshm__default_stem(key, stem);
  cshm__sys_default_name(stem, out, CSHM__NATIVE_MAX);
  return cshm__sys_native_name_check(out, d); /* an application group can make it long */
}

static void key_digest(const cshm *h, uint8_t digest[CSHM__SHA1_LEN]) {
  cshm__sha1(h->key, strlen(h->key), digest);
}

static void adopt(cshm *h, cshm__sys_segment *seg, const cshm__segment_view *view,
                  const cshm__header_info *info) {
  h->seg = seg;
  h->view = *view;
  h->data = (unsigned char *)view->base + info->data_offset;
  h->size = (size_t)info->user_size;
  memcpy(&h->identity.a, info->nonce, 8);
  memcpy(&h->identity.b, info->nonce + 8, 8);
}

typedef struct init_ctx {
  const cshm *h;
  uint64_t user_size;
  cshm__header_info info;
} init_ctx;

static int init_header(void *ctx, void *base, size_t length, cshm__diag *d) {
  init_ctx *c = ctx;
  cshm__header *hd = base;
  (void)length;
  uint8_t digest[CSHM__SHA1_LEN];
  if (c->h->key != NULL)
    key_digest(c->h, digest);
  cshm__header_init(hd, c->user_size, cshm__sys_lock_abi(), c->h->key != NULL ? digest : NULL,
                    c->info.nonce, cshm__sys_pid(), cshm__sys_pid_namespace());
  int rc = cshm__sys_lock_init(hd->lock, d);
  if (rc < 0)
    return rc;
  cshm__test_point("create_before_ready");
  cshm__atomic_store_release(&hd->state, CSHM__STATE_READY);
  return CSHM_OK;
}

/* Creates a new segment; CSHM_EEXIST when the name is live. */
static int create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  const uint64_t offset = CSHM__DATA_OFFSET;
  if (size == 0)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "the size is 0");
  if ((uint64_t)size > UINT64_MAX - offset || (uint64_t)size + offset > (uint64_t)SIZE_MAX ||
      (uint64_t)size + offset > (uint64_t)INT64_MAX)
    return cshm__diag_set(d, CSHM_ESIZE, NULL,
                          "%zu bytes plus the %u-byte header area cannot be mapped", size,
                          CSHM__DATA_OFFSET);
  init_ctx ctx = {h, size, {0}};
  int rc = cshm__sys_random(ctx.info.nonce, sizeof ctx.info.nonce, d);
  if (rc < 0)
    return rc;
  ctx.info.user_size = size;
  ctx.info.data_offset = offset;
  cshm__create_request rq = {h->native, size + offset, offset, h->perms,
                             flags & (CSHM_CREATE_NO_RECLAIM | CSHM_CREATE_RESERVE),
                             mode, init_header, &ctx};
  cshm__sys_segment *seg;
  cshm__segment_view view;
  if ((rc = cshm__sys_segment_create(&rq, &seg, &view, d)) == CSHM_OK)
    adopt(h, seg, &view, &ctx.info);
  return rc;
}

/* Validates the header of a freshly opened segment, waiting (bounded) while it is
 * still BUILDING. */
static int validate(const cshm *h, const cshm__segment_view *view, cshm__header_info *info,
                    cshm__diag *d) {
  uint8_t digest[CSHM__SHA1_LEN];
  if (h->key != NULL)
    key_digest(h, digest);
  cshm__header_expect e = {view->length, view->exact_length, cshm__sys_lock_abi(),
                           cshm__sys_pid_namespace(), h->key != NULL ? digest : NULL};
  for (unsigned waited = 0;; waited++) {
    int rc = cshm__header_validate(view->base, view->length, &e, info, d);
    if (rc != CSHM_EBUSY)
      return rc;
    if (waited >= cshm__ready_wait_ms)
      return cshm__diag_set(d, CSHM_ECORRUPT, "header",
                            "still being built after %u ms: its creator died or hangs",
                            cshm__ready_wait_ms);
    cshm__sys_sleep_ms(1);
  }
}

/* Takes no user lock, so ms bounds nothing here: the waits are the admin protocol's
 * (short, bounded by other cshm calls) and validate()'s bounded wait for READY. */
static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  (void)ms;
  cshm__open_request rq = {h->native, mode, h->perms, CSHM__DATA_OFFSET};
  cshm__sys_segment *seg;
  cshm__segment_view view;
  int rc = cshm__sys_segment_open(&rq, &seg, &view, d);
  if (rc < 0)
    return rc;
  cshm__header_info info;
  rc = validate(h, &view, &info, d);
  if (rc < 0) {
    cshm__sys_segment_close(seg, false);
    return rc;
  }
  adopt(h, seg, &view, &info);
  return CSHM_OK;
}

static void detach(cshm *h, bool forked_child) {
  cshm__sys_segment_close(h->seg, !forked_child && !h->keep);
}

static int lock(cshm *h, uint32_t ms, cshm__diag *d) { return cshm__sys_lock(h->seg, ms, d); }

static int unlock(cshm *h, cshm__diag *d) { return cshm__sys_unlock(h->seg, d); }

/* The state of the lock in `hd`, a snapshot of the segment `native`. An owner found
 * dead is confirmed on a fresh snapshot: the liveness check runs after the snapshot
 * was taken, so an owner that released the lock and then exited in between would
 * otherwise be said to have died holding it (portable lock word). Only when the
 * lock area and the incarnation did not change across the check did the owner die
 * holding it; a changed one is judged again, and one that keeps changing is "held".
 * (The rest of the header may change meanwhile: the wait and event counters.) */
static int lock_state(const char *native, const cshm__header *hd, uint32_t *owner) {
  cshm__header seen = *hd;
  for (int round = 0; round < 3; round++) {
    int state = cshm__sys_lock_held(seen.lock, owner);
    cshm__header again;
    size_t length;
    int holders;
    cshm__diag ignored;
    if (state != CSHM_LOCK_OWNER_DIED ||
        cshm__sys_segment_probe(native, &again, sizeof again, &length, &holders, &ignored) < 0 ||
        (memcmp(again.lock, seen.lock, sizeof seen.lock) == 0 &&
         memcmp(again.nonce, seen.nonce, sizeof seen.nonce) == 0))
      return state; /* a segment gone meanwhile: the first snapshot is all there is */
    seen = again;
  }
  *owner = 0;
  return CSHM_LOCK_HELD;
}

static int inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  cshm__header hd; /* a snapshot: the lock in it is only read for its owner */
  size_t length;
  int holders;
  int rc = cshm__sys_segment_probe(h->native, &hd, sizeof hd, &length, &holders, d);
  if (rc < 0)
    return rc;
  uint8_t digest[CSHM__SHA1_LEN];
  if (h->key != NULL)
    key_digest(h, digest);
  /* The header's sizes must fit the object (which some OSes round up). */
  cshm__header_expect e = {length, false, cshm__sys_lock_abi(), cshm__sys_pid_namespace(),
                           h->key != NULL ? digest : NULL};
  cshm__header_info info;
  if (length < sizeof hd)
    return cshm__diag_set(d, CSHM_ECORRUPT, "header", "an object of %zu bytes has no header",
                          length);
  if ((rc = cshm__header_validate(&hd, length, &e, &info, d)) < 0)
    return rc == CSHM_EBUSY ? cshm__diag_set(d, CSHM_ECORRUPT, "header", "not ready") : rc;
  out->size = info.user_size;
  out->format_major = info.major;
  out->format_minor = info.minor;
  out->creator_pid = info.creator_pid;
  out->locked = lock_state(h->native, &hd, &out->lock_owner);
  out->attached = holders;
  return CSHM_OK;
}

const cshm__keytype cshm__keytype_default = {
    "default", derive, cshm__sys_native_name_check, create, attach,
    detach, lock, unlock, cshm__sys_segment_remove, inspect,
};
