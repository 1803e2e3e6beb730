/* What the POSIX backend's files share. */
#ifndef CSHM_POSIX_POSIX_H
#define CSHM_POSIX_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "sys.h"

struct cshm__sys_segment {
  int fd;      /* the shm object; -1 in a forked child: see forkguard.c */
  int live_fd; /* portable profile: the liveness sidecar held shared; else -1 */
  void *base;
  size_t length;
  bool fd_writable; /* false: opened read-only (no lock, never removes) */
  dev_t dev;
  ino_t ino;
  unsigned char nonce[16]; /* portable profile: the incarnation, from the header */
  char path[280];          /* Linux: the object's path; portable: its native name */
  cshm__sys_segment *prev, *next; /* the process's open segments (forkguard.c) */
};

/* Every open segment is tracked so that a forked child closes its copies of their
 * descriptors: a handle belongs to the process that opened it, and a child must not
 * count as a holder (it would keep the segment from being removed). */
void cshm__posix_track(cshm__sys_segment *s);
void cshm__posix_untrack(cshm__sys_segment *s);

/* Stops tracking s and closes its descriptors as one step: a fork in another thread
 * sees them either tracked or closed, never an untracked copy. */
void cshm__posix_untrack_and_close(cshm__sys_segment *s);

/* A descriptor a forked child closes as it does a segment's, tracked from the moment
 * it exists (a copy made before a lock is taken would pin that lock too): one held
 * for the length of a call, or until a segment takes it over. */
typedef struct cshm__posix_fd {
  int fd; /* -1: not open, or handed over to a segment */
  struct cshm__posix_fd *prev, *next;
} cshm__posix_fd;

/* open(2) with the descriptor tracked. Returns it, or -1 with errno set. */
int cshm__posix_open_tracked(cshm__posix_fd *t, const char *path, int flags, mode_t mode);

/* Closes a tracked descriptor; nothing when t->fd is -1. */
void cshm__posix_close_tracked(cshm__posix_fd *t);

/* Hands t's descriptor over to the segment s (s->fd) and tracks s, as one step. */
void cshm__posix_track_from(cshm__sys_segment *s, cshm__posix_fd *t);

/* Where shm_open() objects live on Linux. */
#define CSHM__SHM_DIR "/dev/shm"

/* Fills *d for a failed OS call and returns the CSHM code errno `err` maps to.
 * `what` names the step and its object ("open /dev/shm/x"). */
int cshm__posix_fail(cshm__diag *d, int err, const char *what_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Best effort, before sizing: a size-limited tmpfs accepts ftruncate() beyond its
 * free space and raises SIGBUS at the first write of a missing page. CSHM_ENOMEM when
 * `total` bytes do not fit; CSHM_OK when they do or the OS cannot tell. */
int cshm__posix_check_space(int fd, uint64_t total, const char *what, cshm__diag *d);

/* The CSHM code for an errno value (EACCES -> CSHM_EPERM, ENOENT -> CSHM_ENOENT...). */
int cshm__posix_code(int err);

#endif
