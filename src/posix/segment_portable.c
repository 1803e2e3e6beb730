/* Segments in the portable profile: what macOS offers (DESIGN.md §3, §6).
 *
 * macOS cannot lock a shared-memory descriptor, sizes an object once, and has no
 * anonymous objects to publish later. So every change of a name happens under the
 * name's admin lock (sidecar.c), and holders are counted on the liveness sidecar:
 * - create, under the admin lock: makes the liveness file if needed, then the object
 *   with O_EXCL, sizes it once, initialises it to READY and becomes a holder, all
 *   before releasing the lock: nobody can see it half-made. A creator killed midway
 *   releases the lock; what it left is an orphan of ours (its liveness file exists,
 *   nobody holds it), which the next create replaces and an attach reports missing.
 * - An existing object under the name is replaced only if it is ours (its liveness
 *   file exists) and nobody holds it: never a live, foreign or other user's object.
 * - attach, under the admin lock: opens, checks, becomes a holder.
 * - detach: drops its shared lock, then under the admin lock, if nobody holds the
 *   liveness file, removes the name - only if the object is still the incarnation it
 *   attached (the header's nonce) and is owned by this user.
 * - Liveness is per user (the sidecars live in the user's directory): processes of
 *   another user that share a segment are not counted. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cshm/cshm.h"
#include "format.h"
#include "portable.h"
#include "sys.h"
#include "testpoint.h"

#define RACE_RETRIES 16

/* shm_open without O_CLOEXEC, which recent macOS rejects; close-on-exec is set right
 * after (a fork+exec in another thread in between would leak the descriptor). */
static int open_object(const char *native, int oflag, mode_t mode) {
  int fd = shm_open(native, oflag, mode);
  if (fd >= 0)
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

/* shm_unlink, where macOS answers EINVAL for a missing name. */
static int unlink_object(const char *native) {
  if (shm_unlink(native) == 0 || errno == ENOENT || errno == EINVAL)
    return 0;
  return -1;
}

/* A copy of the object's header, through a mapping (macOS shm descriptors cannot
 * be read); the lock word is read atomically, as its users change it. False when
 * the object is smaller than a header. */
static bool read_header(int fd, cshm__header *copy, struct stat *st) {
  if (fstat(fd, st) != 0 || (uint64_t)st->st_size < CSHM__HEADER_SIZE)
    return false;
  void *p = mmap(NULL, CSHM__HEADER_SIZE, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return false;
  const cshm__header *hd = p;
  memset(copy, 0, sizeof *copy);
  uint32_t state = cshm__atomic_load_acquire(&hd->state);
  memcpy(copy, p, CSHM__LOCK_OFFSET);
  copy->state = state;
  uint64_t word = cshm__atomic64_load_acquire((const volatile uint64_t *)(const void *)hd->lock);
  memcpy(copy->lock, &word, sizeof word);
  uint64_t tokens_id = cshm__portable_lock_tokens_id(hd->lock);
  memcpy(copy->lock + sizeof word, &tokens_id, sizeof tokens_id);
  munmap(p, CSHM__HEADER_SIZE);
  return true;
}

/* Whether this process's liveness files count the segment's holders: the segment's
 * lock records the tokens file of the sidecar directory its creator used, and a
 * process with another directory (see lock_portable.c) counts only the holders
 * that share its directory. Such a process never removes or replaces the segment:
 * a leak, never the removal of a segment in use. A segment that records no tokens
 * file (an older version's) is counted as before. */
static bool holders_countable(const cshm__header *hd) {
  uint64_t recorded = cshm__portable_lock_tokens_id(hd->lock), mine;
  cshm__diag ignored;
  return recorded == 0 ||
         (cshm__tokens_file_id(&mine, &ignored) == CSHM_OK && recorded == mine);
}

static cshm__sys_segment *segment_new(int fd, int live_fd, const char *native, bool writable) {
  cshm__sys_segment *s = calloc(1, sizeof *s);
  if (s == NULL)
    return NULL;
  s->fd = fd;
  s->live_fd = live_fd;
  s->fd_writable = writable;
  strncpy(s->path, native, sizeof s->path - 1);
  cshm__posix_track(s);
  return s;
}

static void segment_free(cshm__sys_segment *s) {
  cshm__posix_untrack(s);
  if (s->base != NULL)
    munmap(s->base, s->length);
  if (s->fd >= 0)
    close(s->fd);
  if (s->live_fd >= 0)
    close(s->live_fd);
  free(s);
}

static int map(cshm__sys_segment *s, size_t length, cshm_access access, uint64_t data_offset,
               cshm__diag *d) {
  void *base = mmap(NULL, length, PROT_READ | (s->fd_writable ? PROT_WRITE : 0), MAP_SHARED,
                    s->fd, 0);
  if (base == MAP_FAILED) {
    int code = cshm__posix_fail(d, errno, "mmap %zu bytes of %s", length, s->path);
    return code == CSHM_EUNKNOWN ? CSHM_ENOMEM : code;
  }
  s->base = base;
  s->length = length;
  /* The header stays writable for the lock; only the data is protected. */
  if (s->fd_writable && access == CSHM_READ_ONLY && length > data_offset &&
      mprotect((unsigned char *)base + data_offset, length - (size_t)data_offset, PROT_READ) != 0)
    return cshm__posix_fail(d, errno, "mprotect %s", s->path);
  return CSHM_OK;
}

static int hold(int live_fd, const char *native, cshm__diag *d) {
  int err;
  while ((err = flock(live_fd, LOCK_SH)) != 0 && errno == EINTR) {
  }
  return err == 0 ? CSHM_OK : cshm__posix_fail(d, errno, "flock the liveness file of %s", native);
}

static void view_of(const cshm__sys_segment *s, cshm__segment_view *view) {
  view->base = s->base;
  view->length = s->length;
  view->exact_length = false; /* macOS reports page-rounded sizes */
  view->lockable = s->fd_writable;
}

/* Under the admin lock, after an operation that leaves no segment of ours under the
 * name: when there is no object, or one this user's cshm did not make (no liveness
 * file), the name's sidecars go - a leftover liveness file would make a foreign
 * object under the name look like ours (replaced by create, "never completed" to
 * attach), and every probe of a missing name would leave an admin file. */
static void tidy_sidecars(const char *native) {
  char live[600];
  cshm__diag ignored;
  int fd = open_object(native, O_RDONLY, 0);
  if (fd >= 0)
    close(fd);
  bool object = fd >= 0 || errno != ENOENT;
  bool ours = cshm__sidecar_path(native, ".live", live, sizeof live, &ignored) == CSHM_OK &&
              access(live, F_OK) == 0;
  if (!object || !ours)
    cshm__sidecar_remove(native);
}

/* ---- create ------------------------------------------------------------------- */

/* Under the admin lock: replaces an orphan of ours under the name. `ours`: the name's
 * liveness file existed before this create, so a cshm process of this user made the
 * object. CSHM_OK when the name is free now; CSHM_EEXIST otherwise. */
static int replace_orphan(const char *native, unsigned flags, bool ours, cshm__diag *d) {
  if (flags & CSHM_CREATE_NO_RECLAIM)
    return cshm__diag_set(d, CSHM_EEXIST, native, "the name exists (orphans are kept: NO_RECLAIM)");
  if (!ours)
    return cshm__diag_set(d, CSHM_EEXIST, native,
                          "the name is taken by an object this user's cshm did not make");
  bool holders;
  int rc = cshm__sidecar_has_holders(native, &holders, d);
  if (rc < 0)
    return rc;
  if (holders)
    return cshm__diag_set(d, CSHM_EEXIST, native, "a live segment has the name");
  int fd = open_object(native, O_RDONLY, 0);
  if (fd >= 0) {
    struct stat st;
    cshm__header hd;
    bool foreign = read_header(fd, &hd, &st) && hd.state == CSHM__STATE_READY &&
                   !holders_countable(&hd);
    close(fd);
    if (foreign)
      return cshm__diag_set(d, CSHM_EEXIST, native,
                            "the segment's holders are counted in another sidecar directory "
                            "than this process's: it may be in use");
  }
  cshm__test_point("reclaim_before_unlink");
  if (unlink_object(native) != 0)
    return cshm__posix_fail(d, errno, "shm_unlink orphan %s", native);
  return CSHM_OK;
}

/* Commits the backing store: posix_fallocate where the OS has it for shm objects,
 * else by touching every page of the mapping. */
static int reserve(cshm__sys_segment *s, cshm__diag *d) {
#if defined(CSHM_HAVE_POSIX_FALLOCATE)
  int err = posix_fallocate(s->fd, 0, (off_t)s->length);
  if (err != 0)
    return cshm__posix_fail(d, err, "reserve %zu bytes for %s", s->length, s->path);
#else
  (void)d;
  long page = sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < s->length; i += (size_t)page)
    ((volatile unsigned char *)s->base)[i] = 0;
#endif
  return CSHM_OK;
}

static int create_locked(const cshm__create_request *rq, cshm__sys_segment **out,
                         cshm__diag *d) {
  char live[600];
  int rc = cshm__sidecar_path(rq->native, ".live", live, sizeof live, d);
  if (rc < 0)
    return rc;
  bool ours = access(live, F_OK) == 0;
  int live_fd;
  if ((rc = cshm__sidecar_open_live(rq->native, true, &live_fd, d)) < 0)
    return rc;
  int fd = -1;
  for (int attempt = 0; fd < 0; attempt++) {
    fd = open_object(rq->native, O_RDWR | O_CREAT | O_EXCL, (mode_t)rq->perms);
    if (fd >= 0)
      break;
    if (errno != EEXIST)
      rc = cshm__posix_fail(d, errno, "shm_open %s", rq->native);
    else if (attempt == RACE_RETRIES)
      rc = cshm__diag_set(d, CSHM_EEXIST, rq->native, "the name kept being taken");
    else
      rc = replace_orphan(rq->native, rq->flags, ours, d);
    if (rc < 0) {
      cshm__sidecar_close(live_fd);
      if (!ours)
        cshm__sidecar_remove(rq->native); /* made for nothing: a foreign name stays foreign */
      return rc;
    }
  }
  cshm__sys_segment *s = segment_new(fd, live_fd, rq->native, true);
  if (s == NULL) {
    close(fd);
    cshm__sidecar_close(live_fd);
    unlink_object(rq->native);
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  }
  cshm__sidecar_handed_over(live_fd); /* the fork guard closes it in a child now */
  /* One size, set once (macOS refuses a second ftruncate), in whole 16 KiB pages. */
  uint64_t rounded = (rq->total + CSHM__PORTABLE_ROUND - 1) / CSHM__PORTABLE_ROUND *
                     CSHM__PORTABLE_ROUND;
  if (rounded > (uint64_t)SIZE_MAX || rounded < rq->total)
    rc = cshm__diag_set(d, CSHM_ESIZE, rq->native, "too large to map");
  else if ((rc = hold(live_fd, rq->native, d)) < 0)
    ;
  else if ((rc = cshm__posix_check_space(fd, rounded, rq->native, d)) < 0)
    ;
  else if (ftruncate(fd, (off_t)rounded) != 0)
    rc = cshm__posix_fail(d, errno, "ftruncate %s to %llu bytes", rq->native,
                          (unsigned long long)rounded);
  else if ((rc = map(s, (size_t)rounded, CSHM_READ_WRITE, rq->data_offset, d)) < 0)
    ;
  else if ((rq->flags & CSHM_CREATE_RESERVE) && (rc = reserve(s, d)) < 0)
    ;
  else if ((rc = rq->init(rq->init_ctx, s->base, s->length, d)) == CSHM_OK)
    memcpy(s->nonce, ((const cshm__header *)s->base)->nonce, sizeof s->nonce);
  if (rc < 0) {
    unlink_object(rq->native);
    segment_free(s);
    return rc;
  }
  *out = s;
  return CSHM_OK;
}

int cshm__sys_segment_create(const cshm__create_request *rq, cshm__sys_segment **out,
                             cshm__segment_view *view, cshm__diag *d) {
  int admin;
  int rc = cshm__sidecar_admin_lock(rq->native, &admin, d);
  if (rc < 0)
    return rc;
  cshm__sys_segment *s;
  rc = create_locked(rq, &s, d);
  if (rc == CSHM_OK)
    cshm__test_point("create_before_publish");
  else
    tidy_sidecars(rq->native);
  cshm__sidecar_admin_unlock(admin); /* published: attachers may come */
  if (rc < 0)
    return rc;
  cshm__portable_lock_record_tokens((unsigned char *)s->base + CSHM__LOCK_OFFSET);
  cshm__test_point("create_after_publish");
  if (rq->access == CSHM_READ_ONLY &&
      mprotect((unsigned char *)s->base + rq->data_offset, s->length - (size_t)rq->data_offset,
               PROT_READ) != 0) {
    rc = cshm__posix_fail(d, errno, "mprotect %s", rq->native);
    cshm__sys_segment_close(s, true);
    return rc;
  }
  view_of(s, view);
  *out = s;
  return CSHM_OK;
}

/* ---- attach ------------------------------------------------------------------- */

static int open_locked(const cshm__open_request *rq, cshm__sys_segment **out, cshm__diag *d) {
  bool writable = true;
  int fd = open_object(rq->native, O_RDWR, 0);
  if (fd < 0 && errno == EACCES && rq->access == CSHM_READ_ONLY) {
    writable = false;
    fd = open_object(rq->native, O_RDONLY, 0);
  }
  if (fd < 0)
    return cshm__posix_fail(d, errno, "shm_open %s", rq->native);
  struct stat st;
  cshm__header hd;
  int rc = CSHM_OK;
  char live[600];
  if (!read_header(fd, &hd, &st) || hd.state != CSHM__STATE_READY) {
    /* Under the admin lock no creator is at work. With our liveness file, one of ours
     * died before finishing: no segment (the next create replaces it). Without, it
     * is not a cshm segment (or not this user's to judge): the header check says. */
    if ((rc = cshm__sidecar_path(rq->native, ".live", live, sizeof live, d)) == CSHM_OK)
      rc = access(live, F_OK) == 0
               ? cshm__diag_set(d, CSHM_ENOENT, rq->native,
                                "the segment was never completed (its creator died)")
               : cshm__diag_set(d, CSHM_ECORRUPT, rq->native,
                                "not a cshm segment: no complete header");
  } else if (st.st_uid != geteuid() && (rq->perms & 077) == 0)
    rc = cshm__diag_set(d, CSHM_EPERM, rq->native,
                        "owned by uid %u, not by this process's user; attach anyway only "
                        "with permissions that grant group or other access",
                        (unsigned)st.st_uid);
  else if ((uint64_t)st.st_size > SIZE_MAX)
    rc = cshm__diag_set(d, CSHM_ESIZE, rq->native, "too large to map");
  if (rc < 0) {
    close(fd);
    return rc;
  }
  int live_fd;
  if ((rc = cshm__sidecar_open_live(rq->native, true, &live_fd, d)) < 0) {
    close(fd);
    return rc;
  }
  cshm__sys_segment *s = segment_new(fd, live_fd, rq->native, writable);
  if (s == NULL) {
    close(fd);
    cshm__sidecar_close(live_fd);
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  }
  cshm__sidecar_handed_over(live_fd); /* the fork guard closes it in a child now */
  memcpy(s->nonce, hd.nonce, sizeof s->nonce);
  if ((rc = hold(live_fd, rq->native, d)) < 0 ||
      (rc = map(s, (size_t)st.st_size, rq->access, rq->data_offset, d)) < 0) {
    segment_free(s);
    return rc;
  }
  *out = s;
  return CSHM_OK;
}

int cshm__sys_segment_open(const cshm__open_request *rq, cshm__sys_segment **out,
                           cshm__segment_view *view, cshm__diag *d) {
  int admin;
  int rc = cshm__sidecar_admin_lock(rq->native, &admin, d);
  if (rc < 0)
    return rc;
  cshm__test_point("attach_before_lock");
  cshm__sys_segment *s;
  rc = open_locked(rq, &s, d);
  if (rc < 0)
    tidy_sidecars(rq->native);
  cshm__sidecar_admin_unlock(admin);
  if (rc < 0)
    return rc;
  view_of(s, view);
  *out = s;
  return CSHM_OK;
}

/* ---- detach, remove, probe ------------------------------------------------------ */

/* Under the admin lock, with nobody holding the liveness file: removes the name if it
 * is still the incarnation `nonce` and this user's. */
static void remove_if_ours(const char *native, const unsigned char nonce[16]) {
  int fd = open_object(native, O_RDONLY, 0);
  if (fd < 0) {
    cshm__sidecar_remove(native); /* the object went (forced removal): its sidecars too */
    return;
  }
  struct stat st;
  cshm__header hd;
  bool same = read_header(fd, &hd, &st) && memcmp(hd.nonce, nonce, sizeof hd.nonce) == 0;
  close(fd);
  if (!same)
    return; /* another incarnation: not ours to remove */
  if (st.st_uid == geteuid() && holders_countable(&hd)) {
    cshm__test_point("detach_before_unlink");
    unlink_object(native);
  }
  /* Another user's segment, or one whose holders we cannot count, keeps its name;
   * our sidecars for it go all the same. */
  cshm__sidecar_remove(native);
}

void cshm__sys_segment_close(cshm__sys_segment *s, bool may_remove) {
  char native[sizeof s->path];
  unsigned char nonce[sizeof s->nonce];
  memcpy(native, s->path, sizeof native);
  memcpy(nonce, s->nonce, sizeof nonce);
  /* A read-only holder looks too: it never unlinks an object it does not own
   * (remove_if_ours), but its sidecars for another user's segment go. */
  bool probe = may_remove && s->fd >= 0;
  segment_free(s); /* drops our shared lock on the liveness file */
  if (!probe)
    return;
  int admin;
  cshm__diag ignored;
  if (cshm__sidecar_admin_lock(native, &admin, &ignored) < 0)
    return;
  bool holders = true;
  if (cshm__sidecar_has_holders(native, &holders, &ignored) == CSHM_OK && !holders)
    remove_if_ours(native, nonce);
  cshm__sidecar_admin_unlock(admin);
}

int cshm__sys_segment_remove(const char *native, cshm__diag *d) {
  int admin;
  int rc = cshm__sidecar_admin_lock(native, &admin, d);
  if (rc < 0)
    return rc;
  if (shm_unlink(native) != 0)
    rc = cshm__posix_fail(d, errno == EINVAL ? ENOENT : errno, "shm_unlink %s", native);
  /* Old holders keep their (now unlinked) liveness file; a new segment gets new ones. */
  cshm__sidecar_remove(native);
  cshm__sidecar_admin_unlock(admin);
  return rc;
}

int cshm__sys_segment_probe(const char *native, void *buf, size_t cap, size_t *length,
                            int *holders, cshm__diag *d) {
  int admin;
  int rc = cshm__sidecar_admin_lock(native, &admin, d);
  if (rc < 0)
    return rc;
  int fd = open_object(native, O_RDONLY, 0);
  if (fd < 0) {
    rc = cshm__posix_fail(d, errno, "shm_open %s", native);
  } else {
    struct stat st;
    cshm__header hd;
    char live[600];
    bool ours = cshm__sidecar_path(native, ".live", live, sizeof live, d) == CSHM_OK &&
                access(live, F_OK) == 0;
    bool readable = read_header(fd, &hd, &st);
    if ((!readable || hd.state != CSHM__STATE_READY) && ours) {
      rc = cshm__diag_set(d, CSHM_ENOENT, native,
                          "the segment was never completed (its creator died)");
    } else if (!readable) {
      rc = cshm__diag_set(d, CSHM_ECORRUPT, native, "no header: smaller than one, or unreadable");
    } else {
      memset(buf, 0, cap);
      memcpy(buf, &hd, cap < sizeof hd ? cap : sizeof hd);
      *length = (size_t)st.st_size;
      bool held = false;
      if (!ours)
        *holders = -1; /* never attached by this user: its holders are not ours to see */
      else if ((rc = cshm__sidecar_has_holders(native, &held, d)) == CSHM_OK)
        *holders = held;
    }
    close(fd);
  }
  if (rc < 0)
    tidy_sidecars(native);
  cshm__sidecar_admin_unlock(admin);
  return rc;
}

int cshm__sys_segment_list(int (*fn)(const char *native, void *ctx), void *ctx, cshm__diag *d) {
  (void)fn;
  (void)ctx;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "macOS cannot list its shared-memory objects (portable profile)");
}
