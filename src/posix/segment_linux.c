/* Segments on Linux: tmpfs objects in /dev/shm, counted with OFD file locks.
 *
 * - A new object is built anonymously (O_TMPFILE), sized, initialised and only then
 *   published under its name with linkat(), which fails with EEXIST on a collision:
 *   a name never refers to a half-made object, and a creator killed mid-way leaves
 *   nothing behind.
 * - Every holder keeps a shared OFD lock on its descriptor. The kernel drops a dead
 *   process's locks, so the count survives crashes. A detacher closes its descriptor,
 *   then tries an exclusive lock through a new one: it succeeds only when nobody holds
 *   the object, and then removes the name if the name still refers to that object.
 *   OFD locks probe without touching other locks (a failed flock upgrade would drop
 *   the shared lock).
 * - An attacher re-checks that the name still refers to its object after taking its
 *   shared lock (it opens the name again, for mapping): a last detacher may have
 *   removed the name between the attacher's open and its lock.
 * - A named object nobody holds is an orphan; create replaces it after converting
 *   the orphan's lock to exclusive, which only succeeds while nobody holds it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "format.h"
#include "posix.h"
#include "sys.h"
#include "testpoint.h"

/* create and attach retry this often when the name changes under them. */
#define RACE_RETRIES 16

static int ofd_lock(int fd, short type, bool wait) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  int rc;
  do
    rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  while (rc < 0 && errno == EINTR);
  return rc;
}

static void path_of(const char *native, char *out, size_t cap) {
  snprintf(out, cap, "%s%s", CSHM__SHM_DIR, native);
}

/* True when `path` still names the object (dev, ino). */
static bool names(const char *path, dev_t dev, ino_t ino) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* A segment that takes over the tracked descriptor t; NULL (t still open) when out
 * of memory. */
static cshm__sys_segment *segment_new(cshm__posix_fd *t, const char *path, bool fd_writable) {
  cshm__sys_segment *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->live_fd = -1;
  s->fd_writable = fd_writable;
  snprintf(s->path, sizeof s->path, "%s", path);
  cshm__posix_track_from(s, t);
  return s;
}

/* A mapping keeps its open file description alive, and with it the description's
 * OFD lock: a forked child's inherited mapping would keep us counted as a holder.
 * So a segment is mapped through a second description of the same object, `mfd`,
 * which never holds a lock (no fallback to the locked one: that would bring the
 * problem back silently). An attacher opens the name again (open_held); a creator,
 * whose object has no name yet, reopens its descriptor through /proc. */
static int map(cshm__sys_segment *s, int mfd, size_t length, bool writable, cshm_access access,
               uint64_t data_offset, cshm__diag *d) {
  void *base = mmap(NULL, length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, mfd, 0);
  if (base == MAP_FAILED) {
    int code = cshm__posix_fail(d, errno, "mmap %zu bytes of %s", length, s->path);
    return code == CSHM_EUNKNOWN ? CSHM_ENOMEM : code;
  }
  /* The header stays writable for the lock; only the data is protected. */
  if (writable && access == CSHM_READ_ONLY && length > data_offset &&
      mprotect((unsigned char *)base + data_offset, length - (size_t)data_offset, PROT_READ) != 0) {
    int code = cshm__posix_fail(d, errno, "mprotect %s", s->path);
    munmap(base, length);
    return code;
  }
  s->base = base;
  s->length = length;
  return CSHM_OK;
}

/* A creator's mapping: through a reopen of its anonymous object (see map). */
static int map_created(cshm__sys_segment *s, size_t length, uint64_t data_offset, cshm__diag *d) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", s->fd);
  int mfd = open(proc, O_RDWR | O_CLOEXEC);
  if (mfd < 0 && errno == ENOENT)
    return cshm__diag_set(d, CSHM_EUNKNOWN, s->path, "mapping needs /proc mounted");
  if (mfd < 0) {
    int code = cshm__posix_fail(d, errno, "reopen %s through %s to map it", s->path, proc);
    return code == CSHM_EUNKNOWN ? CSHM_ENOMEM : code;
  }
  int rc = map(s, mfd, length, true, CSHM_READ_WRITE, data_offset, d);
  close(mfd);
  return rc;
}

static void view_of(const cshm__sys_segment *s, cshm__segment_view *view) {
  view->base = s->base;
  view->length = s->length;
  view->exact_length = true;
  view->lockable = s->fd_writable;
}

static void segment_free(cshm__sys_segment *s) {
  if (s->base != NULL)
    munmap(s->base, s->length);
  cshm__posix_untrack_and_close(s);
  free(s);
}

/* ---- create ------------------------------------------------------------------- */

/* Builds an unnamed, sized, initialised object, held and mapped. */
static int build(const cshm__create_request *rq, const char *path, cshm__sys_segment **out,
                 cshm__diag *d) {
  cshm__posix_fd t;
  if (cshm__posix_open_tracked(&t, CSHM__SHM_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) < 0)
    return cshm__posix_fail(d, errno, "open(O_TMPFILE) in " CSHM__SHM_DIR);
  cshm__sys_segment *s = segment_new(&t, path, true);
  if (s == NULL) {
    cshm__posix_close_tracked(&t);
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  }
  const int fd = s->fd;
  int rc, err;
  /* The umask must not narrow the mode: fchmod sets it exactly. Mapping reopens the
   * object through /proc, which checks the mode like any open: the owner keeps read
   * and write until the object is complete, and a mode without them comes last. */
  const mode_t mode = (mode_t)rq->perms, building = mode | S_IRUSR | S_IWUSR;
  if (fchmod(fd, building) != 0)
    rc = cshm__posix_fail(d, errno, "fchmod %s", path);
  else if (ofd_lock(fd, F_RDLCK, false) != 0)
    rc = cshm__posix_fail(d, errno, "lock %s", path);
  else if ((rc = cshm__posix_check_space(fd, rq->total, path, d)) < 0)
    ;
  else if (ftruncate(fd, (off_t)rq->total) != 0)
    rc = cshm__posix_fail(d, errno, "ftruncate %s to %llu bytes", path,
                          (unsigned long long)rq->total);
  else if ((rq->flags & CSHM_CREATE_RESERVE) && (err = posix_fallocate(fd, 0, (off_t)rq->total)) != 0)
    rc = cshm__posix_fail(d, err, "reserve %llu bytes for %s", (unsigned long long)rq->total, path);
  else if ((rc = map_created(s, (size_t)rq->total, rq->data_offset, d)) < 0)
    ;
  else if ((rc = rq->init(rq->init_ctx, s->base, s->length, d)) < 0)
    ;
  else if (mode != building && fchmod(fd, mode) != 0)
    rc = cshm__posix_fail(d, errno, "fchmod %s to %04o", path, (unsigned)mode);
  if (rc < 0) {
    segment_free(s);
    return rc;
  }
  *out = s;
  return CSHM_OK;
}

/* True when the object behind fd starts with cshm's magic. */
static bool is_cshm_segment(int fd) {
  uint8_t magic[sizeof cshm__magic];
  return pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
         memcmp(magic, cshm__magic, sizeof magic) == 0;
}

/* Removes the name `path` if it refers to a cshm segment nobody holds - when `only`
 * is not NULL, that very object. The exclusive lock that finds out keeps attachers
 * out while the name goes, and every other remover (reclaim, last detach) needs it
 * too. `point` is the test point between locking and unlinking.
 * Returns CSHM_OK (removed, or the name is gone); CSHM_EEXIST (held, foreign, or
 * another incarnation); or the code of a failed unlink. */
static int remove_if_unheld(const char *path, const struct stat *only, const char *point,
                            cshm__diag *d) {
  /* O_NONBLOCK: a FIFO planted under the name must not hang us. Tracked: a child
   * forked meanwhile must not keep our exclusive lock alive after we die. */
  cshm__posix_fd t;
  int fd = cshm__posix_open_tracked(&t, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) {
    if (errno == ENOENT)
      return CSHM_OK;
    cshm__posix_fail(d, errno, "open %s to check for holders", path);
    return CSHM_EEXIST;
  }
  struct stat st;
  int rc = CSHM_EEXIST;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !is_cshm_segment(fd)) {
    cshm__diag_set(d, CSHM_EEXIST, path, "the name is taken by an object that is not a cshm segment");
  } else if (only != NULL && (st.st_dev != only->st_dev || st.st_ino != only->st_ino)) {
    cshm__diag_set(d, CSHM_EEXIST, path, "the name refers to another incarnation");
  } else if (ofd_lock(fd, F_WRLCK, false) != 0) {
    cshm__diag_set(d, CSHM_EEXIST, path, "a live segment has the name");
  } else {
    cshm__test_point(point);
    if (names(path, st.st_dev, st.st_ino) && unlink(path) != 0 && errno != ENOENT)
      rc = cshm__posix_fail(d, errno, "unlink %s", path);
    else
      rc = CSHM_OK;
  }
  cshm__posix_close_tracked(&t);
  return rc;
}

/* linkat() the anonymous object to its name; EEXIST on a collision. */
static int publish(int fd, const char *path) {
  if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
    return 0;
  if (errno != ENOENT && errno != EPERM)
    return -1;
  /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link does not. */
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int cshm__sys_segment_create(const cshm__create_request *rq, cshm__sys_segment **out,
                             cshm__segment_view *view, cshm__diag *d) {
  char path[sizeof ((cshm__sys_segment *)0)->path];
  path_of(rq->native, path, sizeof path);
  cshm__sys_segment *s = NULL;
  int rc = build(rq, path, &s, d);
  if (rc < 0)
    return rc;
  cshm__test_point("create_before_publish");
  for (int attempt = 0;; attempt++) {
    if (publish(s->fd, path) == 0)
      break;
    if (errno == ENOENT)
      rc = cshm__diag_set(d, CSHM_EUNKNOWN, path,
                          "publishing needs /proc mounted or CAP_DAC_READ_SEARCH");
    else if (errno != EEXIST)
      rc = cshm__posix_fail(d, errno, "link %s", path);
    else if (rq->flags & CSHM_CREATE_NO_RECLAIM)
      rc = cshm__diag_set(d, CSHM_EEXIST, path, "the name exists (orphans are kept: NO_RECLAIM)");
    else if (attempt == RACE_RETRIES)
      rc = cshm__diag_set(d, CSHM_EEXIST, path, "the name kept being taken");
    else
      rc = remove_if_unheld(path, NULL, "reclaim_before_unlink", d);
    if (rc < 0) {
      segment_free(s);
      return rc;
    }
  }
  cshm__test_point("create_after_publish");
  struct stat st;
  if (fstat(s->fd, &st) == 0) {
    s->dev = st.st_dev;
    s->ino = st.st_ino;
  }
  if (rq->access == CSHM_READ_ONLY &&
      mprotect((unsigned char *)s->base + rq->data_offset, s->length - (size_t)rq->data_offset,
               PROT_READ) != 0) {
    rc = cshm__posix_fail(d, errno, "mprotect %s", path);
    cshm__sys_segment_close(s, true);
    return rc;
  }
  view_of(s, view);
  *out = s;
  return CSHM_OK;
}

/* ---- the owner check without a system call per attach ---------------------------- */

/* attach compares a segment's owner with the effective uid; geteuid() is a system
 * call, and the uid can change at any time (seteuid), so a cached uid is used only
 * where trusting a stale one cannot let a squatter in:
 * - uid 0: only root makes root-owned objects, and root is trusted anyway; a process
 *   that was root and no longer is may attach a root-owned segment that the kernel
 *   lets it open (it opened it already) - never another user's;
 * - a process that can never change its effective uid: real, effective and saved
 *   uid equal and no CAP_SETUID in its permitted set (only execve, which starts
 *   afresh, could change that; a forked child inherits the same credentials).
 * Any other uid is asked for every time, and a cached one that does not match is
 * asked again before refusing. */
enum { EUID_UNKNOWN, EUID_CACHED, EUID_UNCACHEABLE };
static _Atomic int euid_state;
static _Atomic unsigned euid_cached;

static bool can_change_euid(void) {
  uid_t r, e, s;
  if (getresuid(&r, &e, &s) != 0 || r != e || e != s)
    return true;
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
  if (syscall(SYS_capget, &header, data) != 0)
    return true;
  return (data[CAP_TO_INDEX(CAP_SETUID)].permitted & CAP_TO_MASK(CAP_SETUID)) != 0;
}

static bool owned_by_caller(uid_t owner) {
  int state = atomic_load_explicit(&euid_state, memory_order_acquire);
  if (state == EUID_CACHED && owner == (uid_t)atomic_load_explicit(&euid_cached, memory_order_relaxed))
    return true;
  uid_t euid = geteuid();
  if (state != EUID_CACHED && (euid == 0 || (state == EUID_UNKNOWN && !can_change_euid()))) {
    atomic_store_explicit(&euid_cached, (unsigned)euid, memory_order_relaxed);
    atomic_store_explicit(&euid_state, EUID_CACHED, memory_order_release);
  } else if (state == EUID_UNKNOWN) {
    atomic_store_explicit(&euid_state, EUID_UNCACHEABLE, memory_order_release);
  }
  return owner == euid;
}

/* ---- attach ------------------------------------------------------------------- */

/* Opens `path` for the access wanted; a process that may only read gets a read-only
 * descriptor when it asked for CSHM_READ_ONLY. */
static int open_object(cshm__posix_fd *t, const char *path, cshm_access access, bool *writable) {
  /* O_NONBLOCK: a FIFO planted under the name must not hang us. */
  int fd = cshm__posix_open_tracked(t, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  *writable = fd >= 0;
  if (fd < 0 && errno == EACCES && access == CSHM_READ_ONLY)
    fd = cshm__posix_open_tracked(t, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  return fd;
}

/* Opens the name again for mapping (see map), with the access of the held
 * descriptor, and checks that it still refers to the held object (dev, ino): taken
 * after our lock, that is the attacher's re-check of invariant 3 - a last detacher
 * may have removed the name, and someone else published another object under it,
 * between our open and our lock. Returns the descriptor; -1 with errno ESTALE when
 * the name refers to something else, or ENOENT when it is gone. */
static int reopen_still_named(const char *path, bool writable, const struct stat *held) {
  int mfd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (mfd < 0)
    return -1;
  struct stat st;
  if (fstat(mfd, &st) != 0 || st.st_dev != held->st_dev || st.st_ino != held->st_ino) {
    close(mfd);
    errno = ESTALE;
    return -1;
  }
  return mfd;
}

/* Opens, checks ownership, and becomes a holder of the object the name refers to,
 * through the tracked descriptor *t (from the open on: the lock we take belongs to
 * every copy of it); *mfd is the object's second, unlocked descriptor for mapping.
 * Two fstat in all: of the held descriptor before the lock (what it is, whose), and
 * of *mfd after it. */
static int open_held(const cshm__open_request *rq, const char *path, cshm__posix_fd *t,
                     bool *writable, struct stat *st, int *mfd, cshm__diag *d) {
  for (int attempt = 0; attempt < RACE_RETRIES; attempt++) {
    int fd = open_object(t, path, rq->access, writable);
    if (fd < 0)
      return cshm__posix_fail(d, errno, "open %s", path);
    int rc = CSHM_OK;
    if (fstat(fd, st) != 0)
      rc = cshm__posix_fail(d, errno, "fstat %s", path);
    else if (!S_ISREG(st->st_mode))
      rc = cshm__diag_set(d, CSHM_ECORRUPT, path, "not a shared-memory object");
    else if ((rq->perms & 077) == 0 && !owned_by_caller(st->st_uid))
      rc = cshm__diag_set(d, CSHM_EPERM, path,
                          "owned by uid %u, not by this process's user; attach anyway only "
                          "with permissions that grant group or other access",
                          (unsigned)st->st_uid);
    else {
      cshm__test_point("attach_before_lock");
      if (ofd_lock(fd, F_RDLCK, true) != 0)
        rc = cshm__posix_fail(d, errno, "lock %s", path);
      else if ((*mfd = reopen_still_named(path, *writable, st)) >= 0)
        return CSHM_OK;
      else if (errno == ENOENT || errno == ESTALE) {
        cshm__posix_close_tracked(t); /* removed before we held it: look again */
        continue;
      } else {
        rc = cshm__posix_fail(d, errno, "reopen %s to map it", path);
        rc = rc == CSHM_EUNKNOWN ? CSHM_ENOMEM : rc;
      }
    }
    cshm__posix_close_tracked(t);
    return rc;
  }
  return cshm__diag_set(d, CSHM_ENOENT, path, "the segment kept being removed while attaching");
}

int cshm__sys_segment_open(const cshm__open_request *rq, cshm__sys_segment **out,
                           cshm__segment_view *view, cshm__diag *d) {
  char path[sizeof ((cshm__sys_segment *)0)->path];
  path_of(rq->native, path, sizeof path);
  cshm__posix_fd t;
  bool writable = false;
  struct stat st;
  int mfd = -1;
  int rc = open_held(rq, path, &t, &writable, &st, &mfd, d);
  if (rc < 0)
    return rc;
  cshm__sys_segment *s = NULL;
  if ((uint64_t)st.st_size < CSHM__HEADER_SIZE || (uint64_t)st.st_size > SIZE_MAX)
    rc = cshm__diag_set(d, CSHM_ECORRUPT, path, "an object of %lld bytes has no valid header",
                        (long long)st.st_size);
  else if ((s = segment_new(&t, path, writable)) == NULL)
    rc = cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  else {
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    rc = map(s, mfd, (size_t)st.st_size, writable, rq->access, rq->data_offset, d);
  }
  close(mfd);
  if (rc < 0) {
    if (s != NULL)
      segment_free(s);
    else
      cshm__posix_close_tracked(&t);
    return rc;
  }
  view_of(s, view);
  *out = s;
  return CSHM_OK;
}

/* ---- detach and remove -------------------------------------------------------- */

void cshm__sys_segment_close(cshm__sys_segment *s, bool may_remove) {
  /* Drop our shared lock first, then try an exclusive one through the same
   * description (which now holds nothing): it succeeds only when no other holder
   * is left, and of two holders detaching at once the later one always finds none
   * (trying to upgrade a held lock would let both fail). No new descriptor and no
   * path walk: a detach that is not the last is munmap, two fcntl and a close. A
   * forked child holds no copy of our descriptor (forkguard.c) and its inherited
   * mapping pins another description (map_unlocked), so it does not count. */
  bool probe = may_remove && s->fd_writable && s->fd >= 0;
  if (s->base != NULL) {
    munmap(s->base, s->length);
    s->base = NULL;
  }
  struct flock unlock = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (probe && fcntl(s->fd, F_OFD_SETLK, &unlock) == 0 && ofd_lock(s->fd, F_WRLCK, false) == 0) {
    /* Nobody else holds it; attachers wait for our lock and then find it unlinked. */
    cshm__test_point("detach_before_unlink");
    if (names(s->path, s->dev, s->ino))
      unlink(s->path);
  }
  segment_free(s);
}

int cshm__sys_segment_remove(const char *native, cshm__diag *d) {
  char path[sizeof ((cshm__sys_segment *)0)->path];
  path_of(native, path, sizeof path);
  for (int attempt = 0; attempt < RACE_RETRIES; attempt++) {
    /* Tracked: a child forked meanwhile must not keep our shared lock alive. */
    cshm__posix_fd t;
    int fd = cshm__posix_open_tracked(&t, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0 && errno != EACCES)
      return cshm__posix_fail(d, errno, "open %s", path);
    if (fd < 0) {
      /* Unreadable to us: no lock to take, remove it as it is. */
      return unlink(path) == 0 ? CSHM_OK : cshm__posix_fail(d, errno, "unlink %s", path);
    }
    /* A shared lock waits out a last detacher or a reclaimer (they hold it
     * exclusively while they unlink) and keeps them out until we unlinked: without
     * it, one of them could check the name, we remove it, a new segment takes it,
     * and they unlink the new one. */
    struct stat st;
    int rc = CSHM_OK;
    if (ofd_lock(fd, F_RDLCK, true) != 0)
      rc = cshm__posix_fail(d, errno, "lock %s", path);
    else if (fstat(fd, &st) != 0)
      rc = cshm__posix_fail(d, errno, "fstat %s", path);
    else if (!names(path, st.st_dev, st.st_ino))
      rc = CSHM_EBUSY; /* replaced or removed meanwhile: look again */
    else if (unlink(path) != 0)
      rc = cshm__posix_fail(d, errno, "unlink %s", path);
    cshm__posix_close_tracked(&t);
    if (rc != CSHM_EBUSY)
      return rc;
  }
  return cshm__diag_set(d, CSHM_EBUSY, path, "the name kept changing");
}

/* ---- probe and list ----------------------------------------------------------- */

int cshm__sys_segment_probe(const char *native, void *buf, size_t cap, size_t *length,
                            int *holders, cshm__diag *d) {
  char path[sizeof ((cshm__sys_segment *)0)->path];
  path_of(native, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return cshm__posix_fail(d, errno, "open %s", path);
  struct stat st;
  int rc = CSHM_OK;
  /* F_OFD_GETLK only asks: it takes nothing and changes no holder's lock. */
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  ssize_t got;
  if (fstat(fd, &st) != 0)
    rc = cshm__posix_fail(d, errno, "fstat %s", path);
  else if (!S_ISREG(st.st_mode))
    rc = cshm__diag_set(d, CSHM_ECORRUPT, path, "not a shared-memory object");
  else if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
    rc = cshm__posix_fail(d, errno, "probe the holders of %s", path);
  else if ((got = pread(fd, buf, cap, 0)) < 0)
    rc = cshm__posix_fail(d, errno, "read %s", path);
  else {
    if ((size_t)got < cap)
      memset((unsigned char *)buf + got, 0, cap - (size_t)got);
    *length = (size_t)st.st_size;
    *holders = fl.l_type != F_UNLCK;
  }
  close(fd);
  return rc;
}

int cshm__sys_segment_list(int (*fn)(const char *native, void *ctx), void *ctx, cshm__diag *d) {
  DIR *dir = opendir(CSHM__SHM_DIR);
  if (dir == NULL)
    return cshm__posix_fail(d, errno, "open directory " CSHM__SHM_DIR);
  struct dirent *e;
  char native[NAME_MAX + 2];
  while ((e = readdir(dir)) != NULL) {
    if (strncmp(e->d_name, "cshm_", 5) != 0)
      continue;
    snprintf(native, sizeof native, "/%s", e->d_name);
    if (fn(native, ctx) != 0)
      break;
  }
  closedir(dir);
  return CSHM_OK;
}
