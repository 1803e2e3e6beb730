/* The calling thread's held locks: a small thread-local array. */
#include "heldlock.h"

#include "sys.h"
#include "threadlocal.h"

typedef struct held_set {
  unsigned fork_generation; /* a child of fork() inherits none of its parent's locks */
  unsigned count;
  cshm__identity ids[CSHM__HELD_MAX];
} held_set;

static CSHM__THREAD_LOCAL held_set held;

static int find(const cshm__identity *id) {
  unsigned generation = cshm__sys_fork_generation();
  if (held.fork_generation != generation) {
    held.fork_generation = generation;
    held.count = 0;
  }
  for (unsigned i = held.count; i-- > 0;) /* the most recent first: unlock order */
    if (held.ids[i].a == id->a && held.ids[i].b == id->b)
      return (int)i;
  return -1;
}

int cshm__held_reserve(const cshm__identity *id) {
  if (find(id) >= 0)
    return 1;
  return held.count < CSHM__HELD_MAX ? 0 : -1;
}

void cshm__held_push(const cshm__identity *id) { held.ids[held.count++] = *id; }

bool cshm__held_contains(const cshm__identity *id) { return find(id) >= 0; }

bool cshm__held_has_room(void) { return held.count < CSHM__HELD_MAX; }

bool cshm__held_add(const cshm__identity *id) {
  find(id); /* forgets what a forked child inherited */
  if (held.count == CSHM__HELD_MAX)
    return false;
  held.ids[held.count++] = *id;
  return true;
}

void cshm__held_remove(const cshm__identity *id) {
  int i = find(id);
  if (i >= 0)
    held.ids[i] = held.ids[--held.count];
}

const void *cshm__held_thread_token(void) { return &held; }
