/* A forked child does not inherit holdership: it closes its copies of the segments'
 * descriptors right after fork(). Its parent's OFD locks stay, since they belong to
 * the open file description, which the parent still references. The mappings stay
 * until the child frees its handles (DESIGN.md §2, fork rules). */
#include <pthread.h>
#include <unistd.h>

#include "posix.h"

static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;
static cshm__sys_segment *open_segments;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* fork() happens with the list locked, so the child never sees it half-changed. */
static void before_fork(void) { pthread_mutex_lock(&guard); }
static void in_parent(void) { pthread_mutex_unlock(&guard); }
static void in_child(void) {
  for (cshm__sys_segment *s = open_segments; s != NULL; s = s->next) {
    if (s->fd >= 0)
      close(s->fd);
    if (s->live_fd >= 0)
      close(s->live_fd);
    s->fd = -1;
    s->live_fd = -1;
  }
  pthread_mutex_unlock(&guard);
}

static void install(void) { pthread_atfork(before_fork, in_parent, in_child); }

void cshm__posix_track(cshm__sys_segment *s) {
  pthread_once(&once, install);
  pthread_mutex_lock(&guard);
  s->prev = NULL;
  s->next = open_segments;
  if (open_segments != NULL)
    open_segments->prev = s;
  open_segments = s;
  pthread_mutex_unlock(&guard);
}

void cshm__posix_untrack(cshm__sys_segment *s) {
  pthread_mutex_lock(&guard);
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    open_segments = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
  pthread_mutex_unlock(&guard);
}
