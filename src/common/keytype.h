/* The per-key-type operations, chosen at run time from the handle's key type.
 *
 * The one place a function table is right: a handle switches key type with
 * cshm_set_key_type(). The front end (cshm.c) has checked every argument and state
 * before calling: the handle is attached for detach/lock/unlock, not attached for
 * create/attach, and it has a native key. An operation that fails fills *d and
 * returns its code; on failure create and attach leave the handle unattached. */
#ifndef CSHM_COMMON_KEYTYPE_H
#define CSHM_COMMON_KEYTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cshm/cshm.h"
#include "diag.h"

/* Room for any native name, NUL included. */
#define CSHM__NATIVE_MAX 1024

typedef struct cshm__keytype {
  const char *name; /* "default", "qt-legacy", ... */
  /* Derives the native name of a valid UTF-8 key into out (CSHM__NATIVE_MAX). */
  int (*derive)(const char *key, char *out, cshm__diag *d);
  /* Checks a native name given verbatim. */
  int (*check_native)(const char *native, cshm__diag *d);
  /* Creates a new segment and attaches; CSHM_EEXIST when the name is taken. flags:
   * CSHM_CREATE_NO_RECLAIM, CSHM_CREATE_RESERVE (the front end handles
   * CSHM_CREATE_OR_ATTACH with attach, for every key type). */
  int (*create)(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d);
  /* Attaches to an existing segment. ms bounds the wait for a lock the key type takes
   * around the attach (Qt's semaphore; CSHM_INFINITE: no bound, 0: no wait), ending in
   * CSHM_ETIMEDOUT; a key type that takes none ignores it. */
  int (*attach)(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d);
  /* Detaches; the front end released the lock first. */
  void (*detach)(cshm *h, bool forked_child);
  /* ms as in cshm__sys_lock(). */
  int (*lock)(cshm *h, uint32_t ms, cshm__diag *d);
  int (*unlock)(cshm *h, cshm__diag *d);
  int (*remove)(const char *native, cshm__diag *d);
  /* Describes the segment of an unattached handle without disturbing it. */
  int (*inspect)(const cshm *h, cshm_info *out, cshm__diag *d);
} cshm__keytype;

/* Waiting and notifying (issue 13): only the default key type has them. The front
 * end (cshm.c) checked that the handle is attached and not inherited through fork,
 * that the process may write the header (all but event_value) and, for cond_wait,
 * that the calling thread holds the lock through h. */
typedef struct cshm__wait_ops {
  /* cshm_wait: releases the lock, sleeps, re-takes it. *held tells the front end
   * whether the calling thread holds the lock on return, whatever the code. */
  int (*cond_wait)(cshm *h, uint32_t ms, bool *held, cshm__diag *d);
  int (*notify)(cshm *h, bool all, cshm__diag *d);
  int (*event_value)(cshm *h, uint32_t *out, cshm__diag *d);
  int (*event_signal)(cshm *h, cshm__diag *d);
  int (*event_wait)(cshm *h, uint32_t seen, uint32_t ms, cshm__diag *d);
} cshm__wait_ops;

/* The wait operations of a key type; NULL when it has none (CSHM_ENOTSUP). */
const cshm__wait_ops *cshm__wait_ops_of(const cshm__keytype *kt);

/* The table of a key type; NULL when t is out of range. */
const cshm__keytype *cshm__keytype_of(cshm_key_type t);

extern const cshm__keytype cshm__keytype_default;

#endif
