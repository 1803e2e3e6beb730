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
