/* A forked child does not inherit holdership: it closes its copies of the segments'
 * descriptors right after fork(). Its parent's OFD locks stay, since they belong to
 * the open file description, which the parent still references. The mappings stay
 * until the child frees its handles (DESIGN.md §2, fork rules).
 *
 * The same holds for the descriptors a call holds only while it runs (a reclaim's
 * exclusive lock, a removal's shared lock): a fork in another thread must not hand
 * the child a copy, or a lock of a process killed mid-call would outlive it in the
 * child. A lock belongs to the description, so a copy made before the lock is taken
 * pins it as well: such descriptors are opened, handed over and closed with the list
 * locked, and fork() (which takes the lock first) sees either no descriptor or a
 * tracked one. */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "posix.h"

static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;
static cshm__sys_segment *open_segments;
static cshm__posix_fd *open_fds;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void close_segment_fds(cshm__sys_segment *s) {
  if (s->fd >= 0)
    close(s->fd);
  if (s->live_fd >= 0)
    close(s->live_fd);
  s->fd = -1;
  s->live_fd = -1;
}

/* fork() happens with the lists locked, so the child never sees them half-changed. */
static void before_fork(void) { pthread_mutex_lock(&guard); }
static void in_parent(void) { pthread_mutex_unlock(&guard); }
static void in_child(void) {
  for (cshm__sys_segment *s = open_segments; s != NULL; s = s->next)
    close_segment_fds(s);
  /* The calls that hold these run in threads the child does not have: close the
   * copies and forget the records, which live on those threads' stacks. */
  for (cshm__posix_fd *t = open_fds; t != NULL; t = t->next)
    close(t->fd);
  open_fds = NULL;
  pthread_mutex_unlock(&guard);
}

static void install(void) { pthread_atfork(before_fork, in_parent, in_child); }

/* ---- the lists; the caller holds the guard ---------------------------------------- */

static void link_segment(cshm__sys_segment *s) {
  s->prev = NULL;
  s->next = open_segments;
  if (open_segments != NULL)
    open_segments->prev = s;
  open_segments = s;
}

static void unlink_segment(cshm__sys_segment *s) {
  if (s->prev != NULL)
    s->prev->next = s->next;
  else
    open_segments = s->next;
  if (s->next != NULL)
    s->next->prev = s->prev;
}

static void link_fd(cshm__posix_fd *t) {
  t->prev = NULL;
  t->next = open_fds;
  if (open_fds != NULL)
    open_fds->prev = t;
  open_fds = t;
}

static void unlink_fd(cshm__posix_fd *t) {
  if (t->prev != NULL)
    t->prev->next = t->next;
  else
    open_fds = t->next;
  if (t->next != NULL)
    t->next->prev = t->prev;
}

/* ---- segments ------------------------------------------------------------------- */

void cshm__posix_track(cshm__sys_segment *s) {
  pthread_once(&once, install);
  pthread_mutex_lock(&guard);
  link_segment(s);
  pthread_mutex_unlock(&guard);
}

void cshm__posix_track_from(cshm__sys_segment *s, cshm__posix_fd *t) {
  pthread_mutex_lock(&guard);
  s->fd = t->fd;
  t->fd = -1;
  unlink_fd(t);
  link_segment(s);
  pthread_mutex_unlock(&guard);
}

void cshm__posix_untrack(cshm__sys_segment *s) {
  pthread_mutex_lock(&guard);
  unlink_segment(s);
  pthread_mutex_unlock(&guard);
}

void cshm__posix_untrack_and_close(cshm__sys_segment *s) {
  pthread_mutex_lock(&guard);
  unlink_segment(s);
  close_segment_fds(s);
  pthread_mutex_unlock(&guard);
}

/* ---- descriptors held for one call ---------------------------------------------- */

int cshm__posix_open_tracked(cshm__posix_fd *t, const char *path, int flags, mode_t mode) {
  pthread_once(&once, install);
  pthread_mutex_lock(&guard);
  t->fd = open(path, flags, mode);
  if (t->fd >= 0)
    link_fd(t);
  pthread_mutex_unlock(&guard);
  return t->fd;
}

void cshm__posix_close_tracked(cshm__posix_fd *t) {
  if (t->fd < 0)
    return; /* the open failed, or the descriptor was handed over */
  pthread_mutex_lock(&guard);
  close(t->fd);
  t->fd = -1;
  unlink_fd(t);
  pthread_mutex_unlock(&guard);
}
