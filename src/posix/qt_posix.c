/* CSHM_KEY_QT_LEGACY_POSIX and CSHM_KEY_QT_PLATFORM_SAFE on Unix: Qt's POSIX IPC
 * backend (research/qt.md §2.1, §2.2, §3.3, §3.5, §4), as a QT_POSIX_IPC build of
 * Qt 5/6 uses it for legacy keys, and Qt >= 6.6 for platformSafeKey() keys.
 *
 * - Names (qt_names.h): legacy "/qipc_sharedmemory_<letters><sha1>" for the object
 *   and "/qipc_systemsem_<letters><sha1>" for the lock's semaphore (macOS: "/" + 29
 *   hex characters for both, or the key verbatim in a sandbox); platform-safe
 *   "/" + key for both (macOS: "/" + 29 UTF-16 units of the key). A native key
 *   names both.
 * - The object: shm_open O_CREAT|O_EXCL 0600, ftruncate to the size, data at offset 0,
 *   size from fstat; the descriptor stays open while attached.
 * - The lock: sem_open(name, O_CREAT|O_EXCL, 0600, 1); P = sem_wait, V = sem_post.
 *   create() opens it in Qt's Create mode (an existing semaphore is unlinked and made
 *   anew: it may be stuck at 0 after a holder died), attach() in Open mode. create
 *   and attach hold it around the operation, as Qt does (attach for at most the
 *   caller's timeout: a holder that died leaves it taken).
 * - detach() takes no lock (Qt's does): it removes nothing, so the lock would guard
 *   nothing, and a dead holder would block it forever.
 * - Qt never unlinks these objects (outside QNX): neither does cshm's detach. An
 *   existing object makes create() fail with CSHM_EEXIST (nothing counts attachments,
 *   so an orphan cannot be told from a live segment); attach to it, or remove it with
 *   cshm_remove().
 *
 * Not copied from Qt:
 * - a create() that finds the object fails before touching the semaphore (Qt's unlinks
 *   and re-creates it first, splitting the lock of the segment's live users);
 * - the semaphore is not unlinked when its creator detaches (Qt's is, so that processes
 *   still attached and later ones lock different semaphores); cshm_remove() unlinks it.
 * A holder that dies keeps the semaphore taken (no undo for POSIX semaphores): later
 * lockers wait forever, as Qt's do - cshm_lock_timeout() is the way out. */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "posix.h"
#include "qt.h"

#ifdef __APPLE__
#include "portable.h"
#define SHM_NAME_BYTES 31 /* PSHMNAMLEN, "/" included */
#define SEM_NAME_BYTES 31 /* PSEMNAMLEN */
#else
/* glibc: "/name" is the file /dev/shm/name, a semaphore's /dev/shm/sem.name; NAME_MAX
 * (255) bounds both files. */
#define SHM_NAME_BYTES 256 /* "/" + 255 */
#define SEM_NAME_BYTES 252 /* "/" + 251 */
#endif

#define CREATE_TRIES 3 /* Qt's Create mode: unlink and retry, 3 times */

typedef struct qt_psx {
  int fd;
  void *addr;
  size_t size;
  sem_t *sem;
  bool sem_created; /* made by this attempt: a failed attach unlinks it (as Qt would) */
  char shm_name[CSHM__NATIVE_MAX];
  char sem_name[CSHM__NATIVE_MAX];
} qt_psx;

static qt_psx *state_of(const cshm *h) { return (qt_psx *)(void *)h->seg; }

/* ---- names ---------------------------------------------------------------------- */

static bool sandboxed(void) {
#ifdef __APPLE__
  return cshm__portable_app_group() != NULL; /* an app that set its group is sandboxed */
#else
  return false;
#endif
}

/* A POSIX name of this OS with at most max bytes. */
static int check_name(const char *name, size_t max, const char *what, cshm__diag *d) {
  size_t len = strlen(name);
  const char *slash = strchr(name, '/');
#ifdef __APPLE__
  if (slash == NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a macOS %s is \"/name\" or \"<app-group-id>/<name>\"", what);
#else
  if (name[0] != '/')
    return cshm__diag_set(d, CSHM_EKEY, NULL, "a POSIX %s starts with \"/\"", what);
#endif
  if (len > max)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a %s has at most %zu bytes, \"/\" included; this one has %zu", what,
                          max, len);
  if (slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "a POSIX %s has one \"/\", then a name", what);
  if (strcmp(slash, "/.") == 0 || strcmp(slash, "/..") == 0)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "\".\" and \"..\" are not object names");
  return CSHM_OK;
}

/* A native key names the object and the lock's semaphore (Qt >= 6.6). */
static int check_native(const char *native, cshm__diag *d) {
  return check_name(native, SEM_NAME_BYTES, "native key (it also names the lock's semaphore)",
                    d);
}

static int derive_legacy(const char *key, char *out, cshm__diag *d) {
  bool sb = sandboxed();
  size_t len = cshm__qt_legacy_posix_name(key, CSHM__QT_MEMORY, CSHM__QT_THIS_OS, sb, out,
                                          CSHM__NATIVE_MAX);
  char sem[CSHM__NATIVE_MAX];
  size_t sem_len = cshm__qt_legacy_posix_name(key, CSHM__QT_SEMAPHORE, CSHM__QT_THIS_OS, sb,
                                              sem, sizeof sem);
  if (len > SHM_NAME_BYTES || sem_len > SEM_NAME_BYTES)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "Qt's names would have %zu bytes (object, at most %d) and %zu bytes "
                          "(semaphore, at most %d): the key has %zu ASCII letters",
                          len, SHM_NAME_BYTES, sem_len, SEM_NAME_BYTES,
                          cshm__qt_letter_count(key));
  int rc = check_name(out, SHM_NAME_BYTES, "name", d);
  return rc < 0 ? rc : check_name(sem, SEM_NAME_BYTES, "semaphore name", d);
}

static int derive_platform_safe(const char *key, char *out, cshm__diag *d) {
  size_t len = cshm__qt_platform_safe_name(key, CSHM__QT_MEMORY, CSHM__QT_THIS_OS, out,
                                           CSHM__NATIVE_MAX);
  if (len >= CSHM__NATIVE_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the name would have %zu bytes", len);
  /* The same name is the lock's semaphore. */
  return check_name(out, SEM_NAME_BYTES, "name (it also names the lock's semaphore)", d);
}

/* The semaphore of a legacy POSIX object name ("/qipc_sharedmemory_X" ->
 * "/qipc_systemsem_X"); other names (macOS, native keys) name both. */
static void legacy_semaphore_of(const char *native, char *out, size_t cap) {
  static const char shm[] = "/" CSHM__QT_SHM_PREFIX;
  if (strncmp(native, shm, sizeof shm - 1) == 0)
    snprintf(out, cap, "/%s%s", CSHM__QT_SEM_PREFIX, native + sizeof shm - 1);
  else
    snprintf(out, cap, "%s", native);
}

/* ---- the semaphore -------------------------------------------------------------- */

#if CSHM__QT_LINUX
/* glibc's file of a named semaphore, for exact permissions (sem_open applies umask). */
static void sem_chmod(const char *name, unsigned perms) {
  char path[CSHM__NATIVE_MAX + 16];
  snprintf(path, sizeof path, "%s/sem.%s", CSHM__SHM_DIR, name + 1);
  chmod(path, (mode_t)perms);
}
#endif

/* Qt's handle(mode): Create unlinks an existing semaphore and makes it anew; Open
 * makes it when missing and opens it otherwise. Initial value 1. */
static int sem_open_qt(qt_psx *q, bool create_mode, unsigned perms, cshm__diag *d) {
  perms = (perms | 0600) & 0777; /* its creator must be able to lock */
  int oflag = O_CREAT | O_EXCL;
  int tries = create_mode ? CREATE_TRIES : 2;
  for (int attempt = 0; attempt < tries; attempt++) {
    sem_t *s;
    do
      s = sem_open(q->sem_name, oflag, (mode_t)perms, 1u);
    while (s == SEM_FAILED && errno == EINTR);
    if (s != SEM_FAILED) {
      q->sem = s;
      q->sem_created = (oflag & O_EXCL) != 0;
#if CSHM__QT_LINUX
      if (q->sem_created && (perms & 077))
        sem_chmod(q->sem_name, perms);
#endif
      return CSHM_OK;
    }
    if (errno != EEXIST)
      break;
    if (create_mode) {
      if (sem_unlink(q->sem_name) != 0 && errno != ENOENT)
        return cshm__posix_fail(d, errno, "sem_unlink %s", q->sem_name);
    } else {
      oflag &= ~O_EXCL;
    }
  }
  int err = errno;
  int code = cshm__posix_fail(d, err, "sem_open %s", q->sem_name);
  if (code == CSHM_EEXIST) /* kept appearing while we made it anew */
    return cshm__diag_set(d, CSHM_EEXIST, q->sem_name, "the semaphore kept being taken");
  return err == EINVAL ? CSHM_EKEY : code; /* glibc: a name it cannot take */
}

/* P, waiting at most ms (CSHM_INFINITE: forever; 0: not at all). */
static int sem_p(qt_psx *q, uint32_t ms, cshm__diag *d) {
  int rc;
  if (ms == CSHM_INFINITE) {
    while ((rc = sem_wait(q->sem)) != 0 && errno == EINTR) {
    }
  } else if (ms == 0) {
    while ((rc = sem_trywait(q->sem)) != 0 && errno == EINTR) {
    }
  } else {
#if CSHM__QT_LINUX
    struct timespec ts;
#ifdef CSHM_HAVE_CLOCKLOCK
    clockid_t clock = CLOCK_MONOTONIC;
#else
    clockid_t clock = CLOCK_REALTIME;
#endif
    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    do {
#ifdef CSHM_HAVE_CLOCKLOCK
      rc = sem_clockwait(q->sem, clock, &ts);
#else
      rc = sem_timedwait(q->sem, &ts);
#endif
    } while (rc != 0 && errno == EINTR);
#else
    /* No timed semaphore wait (macOS): poll with a bounded backoff. */
    cshm__qt_deadline dl = cshm__qt_deadline_in(ms);
    unsigned step = 0;
    for (;;) {
      rc = sem_trywait(q->sem);
      if (rc == 0 || (errno != EAGAIN && errno != EINTR))
        break;
      if (cshm__qt_ns_left(&dl) == 0) {
        errno = ETIMEDOUT;
        break;
      }
      cshm__qt_poll_pause(&dl, &step);
    }
#endif
  }
  if (rc == 0)
    return CSHM_OK;
  if (errno == EAGAIN || errno == ETIMEDOUT)
    return cshm__diag_fixed(d, CSHM_ETIMEDOUT, q->sem_name, "the lock is held");
  cshm__posix_fail(d, errno, "sem_wait %s", q->sem_name);
  return CSHM_ELOCK;
}

static int sem_v(qt_psx *q, cshm__diag *d) {
  if (sem_post(q->sem) == 0)
    return CSHM_OK;
  cshm__posix_fail(d, errno, "sem_post %s", q->sem_name);
  return CSHM_ELOCK;
}

/* ---- segments ------------------------------------------------------------------- */

static qt_psx *state_new(const cshm *h) {
  qt_psx *q = calloc(1, sizeof *q);
  if (q == NULL)
    return NULL;
  q->fd = -1;
  q->sem = SEM_FAILED;
  snprintf(q->shm_name, sizeof q->shm_name, "%s", h->native);
  if (h->type == CSHM_KEY_QT_LEGACY_POSIX && h->key != NULL)
    cshm__qt_legacy_posix_name(h->key, CSHM__QT_SEMAPHORE, CSHM__QT_THIS_OS, sandboxed(),
                               q->sem_name, sizeof q->sem_name);
  else
    snprintf(q->sem_name, sizeof q->sem_name, "%s", h->native);
  return q;
}

static void identity_of(const qt_psx *q, cshm__identity *id) {
  cshm__qt_identity("posix", q->sem_name, id);
}

/* Takes the semaphore around create/attach, waiting at most ms, unless this thread
 * holds the lock already (through another handle). */
static int enter(qt_psx *q, bool *locked, uint32_t ms, cshm__diag *d) {
  cshm__identity id;
  identity_of(q, &id);
  *locked = false;
  if (cshm__qt_held_by_me(&id))
    return CSHM_OK;
  int rc = sem_p(q, ms, d);
  *locked = rc == CSHM_OK;
  return rc;
}

static void release(qt_psx *q, bool locked) {
  cshm__diag ignored;
  if (locked)
    sem_v(q, &ignored);
}

/* Drops a failed attempt. */
static void abandon(qt_psx *q, bool locked) {
  if (q->addr != NULL)
    munmap(q->addr, q->size);
  if (q->fd >= 0)
    close(q->fd);
  release(q, locked);
  if (q->sem != SEM_FAILED) {
    sem_close(q->sem);
    if (q->sem_created)
      sem_unlink(q->sem_name);
  }
  free(q);
}

static void adopt(cshm *h, qt_psx *q) {
  h->seg = (cshm__sys_segment *)(void *)q;
  h->view.base = q->addr;
  h->view.length = q->size;
  h->view.exact_length = CSHM__QT_LINUX; /* macOS rounds objects to pages */
  h->view.lockable = true;
  h->data = q->addr;
  h->size = q->size;
  identity_of(q, &h->identity);
}

static int set_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static int shm_open_qt(const char *name, int oflag, unsigned perms) {
  int fd;
#if CSHM__QT_LINUX
  oflag |= O_CLOEXEC;
#endif
  do
    fd = shm_open(name, oflag, (mode_t)perms);
  while (fd < 0 && errno == EINTR);
#if !CSHM__QT_LINUX
  if (fd >= 0 && set_cloexec(fd) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
#else
  (void)set_cloexec;
#endif
  return fd;
}

static int map(qt_psx *q, cshm_access mode, cshm__diag *d) {
  void *addr = mmap(NULL, q->size, PROT_READ | (mode == CSHM_READ_WRITE ? PROT_WRITE : 0),
                    MAP_SHARED, q->fd, 0);
  if (addr == MAP_FAILED) {
    int code = cshm__posix_fail(d, errno, "mmap %zu bytes of %s", q->size, q->shm_name);
    return code == CSHM_EUNKNOWN ? CSHM_ENOMEM : code;
  }
  q->addr = addr;
  return CSHM_OK;
}

static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d);

/* Whether the object exists (one we may not open exists too). */
static bool exists(const char *name) {
  int fd = shm_open_qt(name, O_RDONLY, 0);
  if (fd >= 0) {
    close(fd);
    return true;
  }
  return errno != ENOENT && errno != EINVAL; /* macOS: EINVAL for a missing name */
}

static int create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  if (size == 0)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "the size is 0");
  if ((uint64_t)size > (uint64_t)INT64_MAX)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "%zu bytes cannot be an object's size", size);
  qt_psx *q = state_new(h);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  if (exists(q->shm_name)) {
    free(q);
    return cshm__diag_set(d, CSHM_EEXIST, h->native,
                          "the object exists (Qt never removes these: attach to it, or remove it "
                          "with cshm_remove)");
  }
  bool locked = false;
  int rc;
  /* A semaphore made anew: only a process that opened it since can hold it. */
  if ((rc = sem_open_qt(q, true, h->perms, d)) < 0 ||
      (rc = enter(q, &locked, CSHM_INFINITE, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  unsigned perms = h->perms & 0777;
  q->fd = shm_open_qt(q->shm_name, O_RDWR | O_CREAT | O_EXCL, perms);
  if (q->fd < 0) {
    rc = cshm__posix_fail(d, errno, "shm_open %s", q->shm_name);
    abandon(q, locked);
    return rc;
  }
  int err = 0;
  const char *step = NULL;
  (void)flags; /* CSHM_CREATE_RESERVE: Linux only (the portable profile cannot reserve) */
#if CSHM__QT_LINUX
  if (fchmod(q->fd, (mode_t)perms) != 0) /* exactly, whatever the umask */
    err = errno, step = "fchmod";
#endif
  if (err == 0 && ftruncate(q->fd, (off_t)size) != 0)
    err = errno, step = "ftruncate";
#if CSHM__QT_LINUX
  if (err == 0 && (flags & CSHM_CREATE_RESERVE) &&
      (err = posix_fallocate(q->fd, 0, (off_t)size)) != 0)
    step = "reserve";
#endif
  q->size = size;
  if (err != 0) {
    rc = cshm__posix_fail(d, err, "%s %s to %zu bytes", step, q->shm_name, size);
    if (err == EINVAL || err == EFBIG)
      rc = CSHM_ESIZE;
  } else {
    rc = map(q, mode, d);
  }
  if (rc < 0) {
    shm_unlink(q->shm_name);
    abandon(q, locked);
    return rc;
  }
  release(q, locked);
  adopt(h, q);
  return CSHM_OK;
}

static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  qt_psx *q = state_new(h);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  /* No object: say so before making (and removing) a semaphore. */
  if (!exists(q->shm_name)) {
    free(q);
    return cshm__diag_set(d, CSHM_ENOENT, h->native, "no such object");
  }
  bool locked = false;
  int rc;
  if ((rc = sem_open_qt(q, false, h->perms, d)) < 0 || (rc = enter(q, &locked, ms, d)) < 0) {
    if (rc == CSHM_ETIMEDOUT)
      cshm__diag_set(d, rc, q->sem_name,
                     "attach takes Qt's lock, as Qt's does, and it stayed held for the %u ms "
                     "allowed (a holder that died keeps it taken: cshm_remove recovers)",
                     (unsigned)ms);
    abandon(q, locked);
    return rc;
  }
  q->fd = shm_open_qt(q->shm_name, mode == CSHM_READ_ONLY ? O_RDONLY : O_RDWR, 0);
  struct stat st;
  if (q->fd < 0) {
    rc = cshm__posix_fail(d, errno, "shm_open %s", q->shm_name);
  } else if (fstat(q->fd, &st) != 0) {
    rc = cshm__posix_fail(d, errno, "fstat %s", q->shm_name);
  } else if (st.st_uid != geteuid() && !(h->perms & 077)) {
    rc = cshm__diag_set(d, CSHM_EPERM, q->shm_name,
                        "the object belongs to uid %u; set permissions granting group or other "
                        "access to attach another user's object",
                        (unsigned)st.st_uid);
  } else if (st.st_size <= 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
    rc = cshm__diag_set(d, CSHM_ECORRUPT, q->shm_name,
                        "the object has %lld bytes (its creator died before sizing it?)",
                        (long long)st.st_size);
  } else {
    q->size = (size_t)st.st_size;
    rc = map(q, mode, d);
  }
  if (rc < 0) {
    abandon(q, locked);
    return rc;
  }
  release(q, locked);
  adopt(h, q);
  return CSHM_OK;
}

/* No lock, unlike Qt's detach(): nothing is removed here, and a holder that died
 * would keep the semaphore taken and this detach waiting forever. */
static void detach(cshm *h, bool forked_child) {
  (void)forked_child; /* a child closes its copies alike: nothing else is done here */
  qt_psx *q = state_of(h);
  munmap(q->addr, q->size);
  close(q->fd);
  sem_close(q->sem); /* never unlinked here: see the top of the file */
  free(q);
}

static int lock(cshm *h, uint32_t ms, cshm__diag *d) { return sem_p(state_of(h), ms, d); }

static int unlock(cshm *h, cshm__diag *d) { return sem_v(state_of(h), d); }

static int remove_objects(const char *shm_name, const char *sem_name, cshm__diag *d) {
  bool found = false;
  if (shm_unlink(shm_name) == 0)
    found = true;
  else if (errno != ENOENT && errno != EINVAL)
    return cshm__posix_fail(d, errno, "shm_unlink %s", shm_name);
  if (sem_unlink(sem_name) == 0)
    found = true;
  else if (errno != ENOENT && errno != EINVAL)
    return cshm__posix_fail(d, errno, "sem_unlink %s", sem_name);
  return found ? CSHM_OK : cshm__diag_set(d, CSHM_ENOENT, shm_name, "no such object");
}

static int remove_legacy(const char *native, cshm__diag *d) {
  char sem[CSHM__NATIVE_MAX];
  legacy_semaphore_of(native, sem, sizeof sem);
  return remove_objects(native, sem, d);
}

static int remove_platform_safe(const char *native, cshm__diag *d) {
  return remove_objects(native, native, d);
}

static int inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  qt_psx *q = state_new(h);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  int fd = shm_open_qt(q->shm_name, O_RDONLY, 0);
  struct stat st;
  int rc = CSHM_OK;
  if (fd < 0)
    rc = errno == EINVAL ? cshm__diag_set(d, CSHM_ENOENT, q->shm_name, "no such object")
                         : cshm__posix_fail(d, errno, "shm_open %s", q->shm_name);
  else if (fstat(fd, &st) != 0)
    rc = cshm__posix_fail(d, errno, "fstat %s", q->shm_name);
  if (fd >= 0)
    close(fd);
  if (rc == CSHM_OK) {
    memset(out, 0, sizeof *out);
    out->size = (uint64_t)st.st_size;
    out->attached = -1; /* nothing counts the attachments of a POSIX object */
    out->locked = -1;
#if CSHM__QT_LINUX
    sem_t *s = sem_open(q->sem_name, 0);
    int value;
    if (s == SEM_FAILED) {
      out->locked = 0; /* no semaphore: the next locker makes it */
    } else {
      if (sem_getvalue(s, &value) == 0)
        out->locked = value == 0;
      sem_close(s);
    }
#endif
  }
  free(q);
  return rc;
}

const cshm__keytype cshm__keytype_qt_legacy_posix = {
    "qt-legacy-posix", derive_legacy, check_native, create, attach, detach, lock, unlock,
    remove_legacy, inspect,
};

const cshm__keytype cshm__keytype_qt_platform_safe = {
    "qt-platform-safe", derive_platform_safe, check_native, create, attach, detach, lock, unlock,
    remove_platform_safe, inspect,
};
