/* The calling thread's record of the locks it holds, so that relocking a segment
 * through any handle returns CSHM_EDEADLK on every OS (Windows mutexes recurse,
 * file locks and semaphores would self-deadlock). Thread-local: no lock, a few
 * compares on the lock path. A segment is identified by its 16-byte identity
 * (the header's nonce; a hash of the native name for headerless key types). */
#ifndef CSHM_COMMON_HELDLOCK_H
#define CSHM_COMMON_HELDLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* How many segments one thread can hold locked at once. */
#define CSHM__HELD_MAX 64

typedef struct cshm__identity {
  uint64_t a, b;
} cshm__identity;

/* True when the calling thread holds the lock of segment `id`. */
bool cshm__held_contains(const cshm__identity *id);

/* True when the calling thread can record one more held lock. */
bool cshm__held_has_room(void);

/* Records that the calling thread holds `id`. False when CSHM__HELD_MAX are held. */
bool cshm__held_add(const cshm__identity *id);

/* The lock path in one look-up: 1 when the calling thread holds `id` already, -1
 * when it holds CSHM__HELD_MAX locks, else 0 - and then cshm__held_push() may
 * record `id` without looking again. */
int cshm__held_reserve(const cshm__identity *id);
void cshm__held_push(const cshm__identity *id);

/* Forgets `id` for the calling thread. */
void cshm__held_remove(const cshm__identity *id);

/* An address unique to the calling thread while it lives: who holds a handle's lock. */
const void *cshm__held_thread_token(void);

#endif
