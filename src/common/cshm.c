/* The front end: handle life cycle, argument and state checks, messages. Everything
 * that depends on the key type or the OS goes through the key-type table. */
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "compiler.h"
#include "deadline.h"
#include "error.h"
#include "handle.h"
#include "heldlock.h"
#include "keytype.h"
#include "name.h"
#include "sys.h"
#include "threadlocal.h"

unsigned cshm_version(void) { return CSHM_VERSION_HEX; }
const char *cshm_version_string(void) { return CSHM_VERSION_STRING; }

/* Records the result of an operation on the handle: the code, and on failure the
 * message, which also becomes the thread's last message. A failure is kept as its
 * parts (op is a literal; the key, native key and a fixed detail outlive it until the
 * next operation on the handle records anew): the text is composed when read. */
static int finish(cshm *h, const char *op, int code, const cshm__diag *d) {
  h->error = code;
  if (code >= 0) {
    cshm__message_clear(&h->message);
  } else if (!cshm__message_repeats(&h->message, op, code, h->key, h->native, d)) {
    cshm__message_record(&h->message, op, code, h->key, h->native, d);
    cshm__set_last_message(&h->message, h->strings);
  }
  return code;
}

/* A failure the front end explains itself; `why` is a string literal. Out of line:
 * inlined in every check of a hot function, it would cost the hot path registers. */
CSHM__NOINLINE static int fail(cshm *h, const char *op, int code, const char *why) {
  cshm__diag d;
  return finish(h, op, cshm__diag_fixed(&d, code, NULL, why), &d);
}

/* A failure of a call without a handle that the front end explains itself. */
static int fail_global(const char *op, int code, const char *why) {
  cshm__diag d;
  return cshm__fail_global(op, cshm__diag_fixed(&d, code, NULL, why), NULL, &d);
}

/* The strings a message may point at (keys, attachment) change: a thread's copies of
 * the old ones must not be taken for the new. */
static void strings_changed(cshm *h) { h->strings = cshm__message_source_new(); }

static bool forked(const cshm *h) {
  return h->fork_generation != cshm__sys_fork_generation();
}

static bool attached(const cshm *h) { return h->data != NULL; }

/* An address unique to the calling thread while it lives: who holds a handle's lock
 * (a thread-local of this file: no call). */
static CSHM__THREAD_LOCAL char thread_token;
#define THREAD_TOKEN ((const void *)&thread_token)

/* After a create or attach: whether lock/unlock must keep the held-lock record. The
 * default key type's lock may detect a relock itself (Linux: an error-checking
 * mutex records its owner); the Qt key types' semaphores cannot. */
static void note_attached(cshm *h) {
  strings_changed(h);
  h->track_held = !(h->kt == &cshm__keytype_default && cshm__sys_lock_reports_relock());
}

/* The checks every operation on a handle starts with. */
static int check_handle(const cshm *h, const char *op) {
  if (h == NULL)
    return fail_global(op, CSHM_EINVAL, "the handle is NULL");
  if (forked(h))
    return fail((cshm *)h, op, CSHM_EINVAL,
                "the handle was inherited through fork(): it belongs to the parent");
  return CSHM_OK;
}

static int check_key(const char *key, cshm__diag *d) {
  if (key == NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the key is NULL");
  if (key[0] == '\0')
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the key is empty");
  if (!cshm__utf8_valid(key))
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the key is not valid UTF-8");
  return CSHM_OK;
}

static int check_native(const cshm__keytype *kt, const char *native, cshm__diag *d) {
  if (native == NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the native key is NULL");
  if (native[0] == '\0')
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the native key is empty");
  if (!cshm__utf8_valid(native))
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the native key is not valid UTF-8");
  return kt->check_native(native, d);
}

static char *dup_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p != NULL)
    memcpy(p, s, n);
  return p;
}

static void forget_key(cshm *h) {
  free(h->key);
  free(h->native);
  h->key = NULL;
  h->native = NULL;
  strings_changed(h);
}

/* Installs key (may be NULL) and native as the handle's, copying both. */
static int store_keys(cshm *h, const char *op, const char *key, const char *native) {
  char *k = key != NULL ? dup_string(key) : NULL;
  char *n = dup_string(native);
  if ((key != NULL && k == NULL) || n == NULL) {
    free(k);
    free(n);
    forget_key(h);
    return fail(h, op, CSHM_ENOMEM, "out of memory");
  }
  forget_key(h);
  h->key = k;
  h->native = n;
  strings_changed(h);
  return finish(h, op, CSHM_OK, NULL);
}

/* Releases the calling thread's lock and unmaps; the last step of detach and free. */
static void drop_attachment(cshm *h, bool forked_child) {
  if (h->holder != NULL && !forked_child) {
    cshm__diag d;
    h->kt->unlock(h, &d);
    cshm__held_remove(&h->identity);
  }
  h->kt->detach(h, forked_child);
  h->seg = NULL;
  h->data = NULL;
  h->size = 0;
  h->holder = NULL;
  h->keep = false;
  memset(&h->view, 0, sizeof h->view);
  memset(&h->identity, 0, sizeof h->identity);
  strings_changed(h);
}

static int detach_for(cshm *h, const char *op) {
  if (h->holder != NULL && h->holder != THREAD_TOKEN)
    return fail(h, op, CSHM_EBUSY, "another thread holds the lock through this handle");
  drop_attachment(h, false);
  return CSHM_OK;
}

/* ---- life cycle ----------------------------------------------------------------- */

static int set_key_for(cshm *h, const char *op, const char *key);

/* create-or-attach tries this often when the name keeps appearing and vanishing. */
#define CREATE_RETRIES 16

int cshm_new(cshm **out, const char *key) {
  if (out == NULL)
    return fail_global("cshm_new", CSHM_EINVAL, "out is NULL");
  *out = NULL;
  cshm *h = calloc(1, sizeof *h);
  if (h == NULL)
    return fail_global("cshm_new", CSHM_ENOMEM, "out of memory");
  h->kt = &cshm__keytype_default;
  h->type = CSHM_KEY_DEFAULT;
  h->perms = 0600;
  h->fork_generation = cshm__sys_fork_generation();
  if (key != NULL) {
    int rc = set_key_for(h, "cshm_new", key);
    if (rc < 0) {
      cshm_free(h);
      return rc; /* the message is the thread's last one already */
    }
  }
  *out = h;
  return CSHM_OK;
}

void cshm_free(cshm *h) {
  if (h == NULL)
    return;
  if (attached(h)) {
    bool child = forked(h);
    /* Another thread's lock: its robust list points into the mapping; leak it. */
    if (child || h->holder == NULL || h->holder == THREAD_TOKEN)
      drop_attachment(h, child);
  }
  forget_key(h);
  free(h);
}

/* ---- keys ----------------------------------------------------------------------- */

static int set_key_for(cshm *h, const char *op, const char *key) {
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (attached(h) && (rc = detach_for(h, op)) < 0)
    return rc;
  cshm__diag d;
  char native[CSHM__NATIVE_MAX];
  if ((rc = check_key(key, &d)) < 0 || (rc = h->kt->derive(key, native, &d)) < 0) {
    forget_key(h);
    return finish(h, op, rc, &d);
  }
  return store_keys(h, op, key, native);
}

int cshm_set_key(cshm *h, const char *key) { return set_key_for(h, "cshm_set_key", key); }

int cshm_set_key_type(cshm *h, cshm_key_type t) {
  static const char op[] = "cshm_set_key_type";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  const cshm__keytype *kt = cshm__keytype_of(t);
  if (kt == NULL)
    return fail(h, op, CSHM_EINVAL, "unknown key type");
  if (attached(h) && (rc = detach_for(h, op)) < 0)
    return rc;
  cshm__diag d;
  char native[CSHM__NATIVE_MAX];
  if (h->key != NULL)
    rc = kt->derive(h->key, native, &d);
  else if (h->native != NULL)
    rc = kt->check_native(h->native, &d);
  if (rc < 0)
    return finish(h, op, rc, &d);
  h->kt = kt;
  h->type = t;
  if (h->key != NULL) {
    char *key = dup_string(h->key);
    if (key == NULL)
      return fail(h, op, CSHM_ENOMEM, "out of memory");
    rc = store_keys(h, op, key, native);
    free(key);
    return rc;
  }
  return finish(h, op, CSHM_OK, NULL);
}

int cshm_set_native_key(cshm *h, const char *native, cshm_key_type t) {
  static const char op[] = "cshm_set_native_key";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  const cshm__keytype *kt = cshm__keytype_of(t);
  if (kt == NULL)
    return fail(h, op, CSHM_EINVAL, "unknown key type");
  if (attached(h) && (rc = detach_for(h, op)) < 0)
    return rc;
  cshm__diag d;
  if ((rc = check_native(kt, native, &d)) < 0) {
    forget_key(h);
    return finish(h, op, rc, &d);
  }
  h->kt = kt;
  h->type = t;
  return store_keys(h, op, NULL, native);
}

const char *cshm_key(const cshm *h) { return h != NULL ? h->key : NULL; }
const char *cshm_native_key(const cshm *h) { return h != NULL ? h->native : NULL; }
cshm_key_type cshm_get_key_type(const cshm *h) {
  return h != NULL ? h->type : CSHM_KEY_DEFAULT;
}

int cshm_native_key_for(char *buf, size_t len, const char *key, cshm_key_type t) {
  static const char op[] = "cshm_native_key_for";
  cshm__diag d;
  const cshm__keytype *kt = cshm__keytype_of(t);
  if (kt == NULL)
    return fail_global(op, CSHM_EINVAL, "unknown key type");
  if (buf == NULL)
    return fail_global(op, CSHM_EINVAL, "buf is NULL");
  int rc;
  char native[CSHM__NATIVE_MAX];
  if ((rc = check_key(key, &d)) < 0 || (rc = kt->derive(key, native, &d)) < 0)
    return cshm__fail_global(op, rc, rc == CSHM_EKEY && key == NULL ? NULL : key, &d);
  size_t need = strlen(native) + 1;
  if (need > len) {
    cshm__diag_set(&d, CSHM_EINVAL, NULL, "the buffer holds %zu bytes; the name needs %zu",
                   len, need);
    return cshm__fail_global(op, CSHM_EINVAL, key, &d);
  }
  memcpy(buf, native, need);
  return CSHM_OK;
}

int cshm_set_app_group(const char *group) {
  cshm__diag d;
  int rc = cshm__sys_set_app_group(group, &d);
  return rc < 0 ? cshm__fail_global("cshm_set_app_group", rc, NULL, &d) : rc;
}

int cshm_set_permissions(cshm *h, unsigned mode) {
  static const char op[] = "cshm_set_permissions";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (mode & ~0777u)
    return fail(h, op, CSHM_EINVAL, "mode has bits outside 0777");
  h->perms = mode;
  return finish(h, op, CSHM_OK, NULL);
}

/* ---- segments ------------------------------------------------------------------- */

/* The checks create and attach share. */
static int check_attachable(cshm *h, const char *op, cshm_access mode) {
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is already attached");
  if (mode != CSHM_READ_ONLY && mode != CSHM_READ_WRITE)
    return fail(h, op, CSHM_EINVAL, "unknown access mode");
  if (h->native == NULL)
    return fail(h, op, CSHM_EKEY, "no key is set");
  return CSHM_OK;
}

static int create_for(cshm *h, const char *op, size_t size, cshm_access mode, unsigned flags,
                      bool *created) {
  if (created != NULL)
    *created = false;
  int rc = check_attachable(h, op, mode);
  if (rc < 0)
    return rc;
  if (flags & ~(unsigned)(CSHM_CREATE_OR_ATTACH | CSHM_CREATE_NO_RECLAIM | CSHM_CREATE_RESERVE))
    return fail(h, op, CSHM_EINVAL, "unknown flags");
  cshm__diag d;
  const unsigned create_flags = flags & (CSHM_CREATE_NO_RECLAIM | CSHM_CREATE_RESERVE);
  bool made = false;
  if (!(flags & CSHM_CREATE_OR_ATTACH)) {
    rc = h->kt->create(h, size, mode, create_flags, &d);
    made = rc == CSHM_OK;
  } else {
    /* Attach first: an existing segment keeps its size, whatever `size` says. A
     * name that stays uncreatable and unattachable (another kind of object holds
     * it) ends as the last create's CSHM_EEXIST. */
    for (int attempt = 0; attempt < CREATE_RETRIES; attempt++) {
      rc = h->kt->attach(h, mode, CSHM_INFINITE, &d);
      if (rc != CSHM_ENOENT)
        break; /* attached (not created), or failed */
      rc = h->kt->create(h, size, mode, create_flags, &d);
      made = rc == CSHM_OK;
      if (rc != CSHM_EEXIST)
        break;
      /* Someone created it between the two: attach to theirs. */
    }
  }
  if (rc == CSHM_OK)
    note_attached(h);
  if (rc == CSHM_OK && created != NULL)
    *created = made;
  return finish(h, op, rc, &d);
}

int cshm_create(cshm *h, size_t size, cshm_access mode) {
  return create_for(h, "cshm_create", size, mode, 0, NULL);
}

int cshm_create_ex(cshm *h, size_t size, cshm_access mode, unsigned flags, bool *created) {
  return create_for(h, "cshm_create_ex", size, mode, flags, created);
}

/* A segment waited for with CSHM_ATTACH_WAIT is looked for again after 1 ms, then
 * ever less often, at most this far apart: a bounded rate of failed opens. */
#define APPEAR_POLL_MAX_MS 50u

/* CSHM_ATTACH_KEEP leaves a segment as it was found: whether it is an orphan (it
 * exists and nobody is attached) just before this handle attaches. A segment in use
 * is removed by its last detacher as usual, this handle included: an observer must
 * not turn an application's segment into an orphan by outliving it. */
static bool found_orphan(const cshm *h) {
  cshm_info info;
  cshm__diag ignored;
  return h->kt->inspect(h, &info, &ignored) == CSHM_OK && info.attached == 0;
}

static int attach_for(cshm *h, const char *op, cshm_access mode, unsigned flags, uint32_t ms) {
  int rc = check_attachable(h, op, mode);
  if (rc < 0)
    return rc;
  if (flags & ~(unsigned)(CSHM_ATTACH_WAIT | CSHM_ATTACH_KEEP))
    return fail(h, op, CSHM_EINVAL, "unknown flags");
  const bool wait = (flags & CSHM_ATTACH_WAIT) != 0;
  const uint64_t start = wait ? cshm__sys_now_ms() : 0;
  const bool keep = (flags & CSHM_ATTACH_KEEP) != 0 && found_orphan(h);
  cshm__diag d;
  for (unsigned pause = 1;; pause = pause * 2 > APPEAR_POLL_MAX_MS ? APPEAR_POLL_MAX_MS : pause * 2) {
    rc = h->kt->attach(h, mode, wait ? cshm__ms_left(start, ms) : ms, &d);
    if (rc != CSHM_ENOENT || !wait)
      break;
    uint32_t left = cshm__ms_left(start, ms);
    if (left == 0) {
      cshm__diag_set(&d, CSHM_ENOENT, NULL, "it did not appear within %u ms", ms);
      break;
    }
    cshm__sys_sleep_ms(pause < left ? pause : left);
  }
  if (rc == CSHM_OK) {
    note_attached(h);
    h->keep = keep;
  }
  return finish(h, op, rc, &d);
}

int cshm_attach(cshm *h, cshm_access mode) {
  return attach_for(h, "cshm_attach", mode, 0, CSHM_INFINITE);
}

int cshm_attach_timeout(cshm *h, cshm_access mode, uint32_t ms) {
  return attach_for(h, "cshm_attach_timeout", mode, 0, ms);
}

int cshm_attach_ex(cshm *h, cshm_access mode, unsigned flags, uint32_t ms) {
  return attach_for(h, "cshm_attach_ex", mode, flags, ms);
}

int cshm_detach(cshm *h) {
  static const char op[] = "cshm_detach";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (!attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is not attached");
  if ((rc = detach_for(h, op)) < 0)
    return rc;
  return finish(h, op, CSHM_OK, NULL);
}

bool cshm_is_attached(const cshm *h) { return h != NULL && !forked(h) && attached(h); }

int cshm_remove(const char *key, cshm_key_type t) {
  static const char op[] = "cshm_remove";
  const cshm__keytype *kt = cshm__keytype_of(t);
  if (kt == NULL)
    return fail_global(op, CSHM_EINVAL, "unknown key type");
  cshm__diag d;
  char native[CSHM__NATIVE_MAX];
  int rc;
  if ((rc = check_key(key, &d)) < 0 || (rc = kt->derive(key, native, &d)) < 0 ||
      (rc = kt->remove(native, &d)) < 0)
    return cshm__fail_global(op, rc, key, &d);
  return CSHM_OK;
}

int cshm_remove_native(const char *native, cshm_key_type t) {
  static const char op[] = "cshm_remove_native";
  const cshm__keytype *kt = cshm__keytype_of(t);
  if (kt == NULL)
    return fail_global(op, CSHM_EINVAL, "unknown key type");
  cshm__diag d;
  int rc;
  if ((rc = check_native(kt, native, &d)) < 0 || (rc = kt->remove(native, &d)) < 0) {
    /* The message names the object, but not bytes that are not text. */
    bool printable = native != NULL && cshm__utf8_valid(native);
    return cshm__fail_global_native(op, rc, printable ? native : NULL, &d);
  }
  return CSHM_OK;
}

int cshm_inspect(cshm *h, cshm_info *out) {
  static const char op[] = "cshm_inspect";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (out == NULL)
    return fail(h, op, CSHM_EINVAL, "out is NULL");
  if (attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is attached");
  if (h->native == NULL)
    return fail(h, op, CSHM_EKEY, "no key is set");
  cshm__diag d;
  cshm_info info;
  rc = h->kt->inspect(h, &info, &d);
  if (rc == CSHM_OK)
    *out = info;
  return finish(h, op, rc, &d);
}

int cshm_list(int (*fn)(const char *native, void *ctx), void *ctx) {
  static const char op[] = "cshm_list";
  if (fn == NULL)
    return fail_global(op, CSHM_EINVAL, "fn is NULL");
  cshm__diag d;
  int rc = cshm__sys_segment_list(fn, ctx, &d);
  return rc < 0 ? cshm__fail_global(op, rc, NULL, &d) : rc;
}

/* ---- lock ----------------------------------------------------------------------- */

/* The checks before a lock is taken: CSHM_OK, or the failure, recorded. *held is
 * what cshm__held_reserve() said (0 when the held-lock record is not kept). */
static int check_lockable(cshm *h, const char *op, int *held) {
  *held = 0;
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (!attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is not attached");
  if (!h->view.lockable)
    return fail(h, op, CSHM_EPERM, "this process may only read the segment: it cannot lock");
  if (h->track_held)
    *held = cshm__held_reserve(&h->identity);
  if (*held > 0 || (h->holder != NULL && h->holder == THREAD_TOKEN))
    return fail(h, op, CSHM_EDEADLK,
                h->holder != NULL ? "the calling thread holds the lock through this handle"
                                  : "the calling thread holds the lock through another handle");
  if (h->holder != NULL)
    return fail(h, op, CSHM_EBUSY,
                "another thread holds the lock through this handle (use a handle per thread)");
  /* Before locking: a lock taken and given back would lose an owner-died report. */
  if (*held < 0)
    return fail(h, op, CSHM_ENOMEM, "the calling thread holds too many locks at once");
  return CSHM_OK;
}

static int lock_for(cshm *h, const char *op, uint32_t ms, bool try_lock) {
  int held;
  int rc = check_lockable(h, op, &held);
  if (rc < 0)
    return rc;
  cshm__diag d;
  rc = h->kt->lock(h, ms, &d);
  /* try_lock: a held lock is CSHM_EBUSY with the front end's words, not the key
   * type's CSHM_ETIMEDOUT. */
  if (rc == CSHM_ETIMEDOUT && try_lock)
    rc = cshm__diag_fixed(&d, CSHM_EBUSY, NULL, "another thread holds the lock");
  if (rc < 0)
    return finish(h, op, rc, &d);
  if (h->track_held)
    cshm__held_push(&h->identity);
  h->holder = THREAD_TOKEN;
  h->error = rc;
  cshm__message_clear(&h->message);
  return rc;
}

int cshm_lock(cshm *h) { return lock_for(h, "cshm_lock", CSHM_INFINITE, false); }

int cshm_lock_timeout(cshm *h, uint32_t ms) {
  return lock_for(h, "cshm_lock_timeout", ms, false);
}

int cshm_try_lock(cshm *h) { return lock_for(h, "cshm_try_lock", 0, true); }

int cshm_unlock(cshm *h) {
  static const char op[] = "cshm_unlock";
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if (!attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is not attached");
  if (h->holder != THREAD_TOKEN)
    return fail(h, op, CSHM_EINVAL,
                h->holder == NULL ? "the lock is not held through this handle"
                                  : "another thread holds the lock through this handle");
  cshm__diag d;
  rc = h->kt->unlock(h, &d);
  if (rc < 0)
    return finish(h, op, rc, &d);
  if (h->track_held)
    cshm__held_remove(&h->identity);
  h->holder = NULL;
  h->error = CSHM_OK;
  cshm__message_clear(&h->message);
  return CSHM_OK;
}

/* ---- waiting and notifying (wait_default.c) ----------------------------------------- */

/* The checks every wait/notify call starts with; `writes`: the call changes the
 * header, which a process that may only read the segment cannot. */
static int check_waitable(cshm *h, const char *op, bool writes, const cshm__wait_ops **ops) {
  int rc = check_handle(h, op);
  if (rc < 0)
    return rc;
  if ((*ops = cshm__wait_ops_of(h->kt)) == NULL)
    return fail(h, op, CSHM_ENOTSUP,
                "the Qt key types have no wait/notify (Qt has none either: a QSystemSemaphore "
                "beside the segment is its nearest tool)");
  if (!attached(h))
    return fail(h, op, CSHM_EINVAL, "the handle is not attached");
  if (writes && !h->view.lockable)
    return fail(h, op, CSHM_EPERM,
                "this process may only read the segment: it cannot change its header");
  return CSHM_OK;
}

/* A success (or CSHM_OWNER_DIED) on the handle, without formatting a message. */
static int succeed(cshm *h, int code) {
  h->error = code;
  cshm__message_clear(&h->message);
  return code;
}

int cshm_wait(cshm *h, uint32_t ms) {
  static const char op[] = "cshm_wait";
  const cshm__wait_ops *ops;
  int rc = check_waitable(h, op, true, &ops);
  if (rc < 0)
    return rc;
  if (h->holder != THREAD_TOKEN)
    return fail(h, op, CSHM_EINVAL,
                h->holder == NULL ? "the lock is not held through this handle"
                                  : "another thread holds the lock through this handle");
  /* The held-lock record and h->holder stay as they are while the thread sleeps
   * (nobody else can look at them: the record is this thread's, and a handle is one
   * thread's); they change only if the lock is not held again on return. */
  cshm__diag d;
  bool held = true;
  rc = ops->cond_wait(h, ms, &held, &d);
  if (!held) {
    if (h->track_held)
      cshm__held_remove(&h->identity);
    h->holder = NULL;
  }
  return rc < 0 ? finish(h, op, rc, &d) : succeed(h, rc);
}

static int notify_for(cshm *h, const char *op, bool all) {
  const cshm__wait_ops *ops;
  int rc = check_waitable(h, op, true, &ops);
  if (rc < 0)
    return rc;
  cshm__diag d;
  rc = ops->notify(h, all, &d);
  return rc < 0 ? finish(h, op, rc, &d) : succeed(h, rc);
}

int cshm_notify_one(cshm *h) { return notify_for(h, "cshm_notify_one", false); }
int cshm_notify_all(cshm *h) { return notify_for(h, "cshm_notify_all", true); }

int cshm_event_value(cshm *h, uint32_t *out) {
  static const char op[] = "cshm_event_value";
  const cshm__wait_ops *ops;
  int rc = check_waitable(h, op, false, &ops);
  if (rc < 0)
    return rc;
  if (out == NULL)
    return fail(h, op, CSHM_EINVAL, "out is NULL");
  cshm__diag d;
  rc = ops->event_value(h, out, &d);
  return rc < 0 ? finish(h, op, rc, &d) : succeed(h, rc);
}

int cshm_event_signal(cshm *h) {
  static const char op[] = "cshm_event_signal";
  const cshm__wait_ops *ops;
  int rc = check_waitable(h, op, true, &ops);
  if (rc < 0)
    return rc;
  cshm__diag d;
  rc = ops->event_signal(h, &d);
  return rc < 0 ? finish(h, op, rc, &d) : succeed(h, rc);
}

int cshm_event_wait(cshm *h, uint32_t seen, uint32_t ms) {
  static const char op[] = "cshm_event_wait";
  const cshm__wait_ops *ops;
  int rc = check_waitable(h, op, true, &ops); /* a waiter registers in the header */
  if (rc < 0)
    return rc;
  cshm__diag d;
  rc = ops->event_wait(h, seen, ms, &d);
  return rc < 0 ? finish(h, op, rc, &d) : succeed(h, rc);
}

/* ---- memory and errors ------------------------------------------------------------ */

void *cshm_data(cshm *h) { return cshm_is_attached(h) ? h->data : NULL; }
const void *cshm_const_data(const cshm *h) { return cshm_is_attached(h) ? h->data : NULL; }
size_t cshm_size(const cshm *h) { return cshm_is_attached(h) ? h->size : 0; }

int cshm_error(const cshm *h) { return h != NULL ? h->error : CSHM_EINVAL; }

/* Composes the message on first read: a write through a const handle, which is fine
 * (every handle is allocated writable; a handle is not thread-safe anyway). */
const char *cshm_error_string(const cshm *h) {
  return h != NULL ? cshm__message_text(&((cshm *)h)->message)
                   : "invalid argument: the handle is NULL";
}
