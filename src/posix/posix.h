/* What the POSIX backend's files share. */
#ifndef CSHM_POSIX_POSIX_H
#define CSHM_POSIX_POSIX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "diag.h"
#include "sys.h"

struct cshm__sys_segment {
  int fd; /* -1 in a forked child: see forkguard.c */
  void *base;
  size_t length;
  bool fd_writable; /* false: opened read-only (no lock, never removes) */
  dev_t dev;
  ino_t ino;
  char path[280]; /* the object's path in the shm directory */
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

/* The CSHM code for an errno value (EACCES -> CSHM_EPERM, ENOENT -> CSHM_ENOENT...). */
int cshm__posix_code(int err);

#endif
