/* Sidecar files of the portable profile: where macOS cannot lock a shared-memory
 * descriptor, cshm locks small regular files instead, in a directory of the user's.
 *
 * Per segment name, two files named by a hash of the native name (lowercase: macOS
 * file systems ignore case, native names do not):
 *   <hash>.admin  flock()ed exclusively around every change of the name: creating
 *                 (from before the object exists until it is READY), attaching,
 *                 the last detach, reclaiming and removing;
 *   <hash>.live   flock()ed shared by every attached process, for as long as it is
 *                 attached: the holder count the kernel keeps through crashes.
 * Both go when the segment's name goes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "name.h"
#include "portable.h"
#include "sha1.h"

static char sidecar_dir[512];
static int sidecar_dir_rc = CSHM_OK;
static cshm__diag sidecar_dir_diag;
static pthread_once_t sidecar_once = PTHREAD_ONCE_INIT;

/* A directory we may keep lock files in: ours, a real directory, not writable by
 * others (another user could otherwise plant or remove our locks). */
static int check_dir(const char *path, cshm__diag *d) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return cshm__posix_fail(d, errno, "sidecar directory %s", path);
  if (S_ISLNK(st.st_mode))
    return cshm__diag_set(d, CSHM_EPERM, path, "the sidecar directory is a symbolic link");
  if (!S_ISDIR(st.st_mode))
    return cshm__diag_set(d, CSHM_EPERM, path, "the sidecar directory is not a directory");
  if (st.st_uid != geteuid())
    return cshm__diag_set(d, CSHM_EPERM, path, "the sidecar directory belongs to uid %u",
                          (unsigned)st.st_uid);
  if (st.st_mode & 022)
    return cshm__diag_set(d, CSHM_EPERM, path,
                          "the sidecar directory is writable by group or others (mode %03o)",
                          (unsigned)(st.st_mode & 0777));
  return CSHM_OK;
}

static int make_dir(const char *path, cshm__diag *d) {
  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return cshm__posix_fail(d, errno, "mkdir %s", path);
  return check_dir(path, d);
}

#if defined(__APPLE__)
/* The passwd home directory of the effective user: never $HOME, which differs
 * between processes of one user (a sandboxed app's is its container). */
static bool passwd_home(char *buf, size_t cap) {
  struct passwd pw, *found = NULL;
  char strings[2048];
  if (getpwuid_r(geteuid(), &pw, strings, sizeof strings, &found) != 0 || found == NULL ||
      pw.pw_dir == NULL || pw.pw_dir[0] != '/')
    return false;
  return (size_t)snprintf(buf, cap, "%s", pw.pw_dir) < cap;
}
#endif

/* The base directory that holds our "cshm" folder, or NULL for /tmp/cshm-<euid>.
 * Every process of one user must find the same one (they share the tokens, admin and
 * liveness files there), so nothing comes from the environment:
 * - macOS, with an application group: the group's container under the passwd home
 *   (what every sandboxed app of the group, and an unsandboxed process, can use);
 * - macOS otherwise: confstr(_CS_DARWIN_USER_TEMP_DIR), which the system derives
 *   from the user, not from $TMPDIR;
 * - Linux, FreeBSD: the fixed /tmp/cshm-<euid> ($XDG_RUNTIME_DIR, used before, is
 *   set in a login session's processes only).
 * The macOS paths are checked by review and compilation only: CI runs the portable
 * profile on Linux (README, platform notes). */
static const char *user_base_dir(char *buf, size_t cap) {
#if defined(__APPLE__)
  const char *group = cshm__portable_app_group();
  char home[400];
  if (group != NULL && passwd_home(home, sizeof home)) {
    snprintf(buf, cap, "%s/Library/Group Containers/%s", home, group);
    return buf;
  }
  size_t n = confstr(_CS_DARWIN_USER_TEMP_DIR, buf, cap);
  if (n > 0 && n <= cap)
    return buf;
#else
  (void)buf;
  (void)cap;
#endif
  return NULL;
}

static void find_sidecar_dir(void) {
  char base[400];
#if defined(CSHM_TESTING)
  /* Testing builds only: a process with other sidecar files than its peers (what an
   * app-group process and a plain one are on macOS), for the fail-safe tests. */
  const char *test_dir = getenv("CSHM_TEST_SIDECAR_DIR");
  if (test_dir != NULL && test_dir[0] == '/') {
    snprintf(sidecar_dir, sizeof sidecar_dir, "%s", test_dir);
    sidecar_dir_rc = make_dir(sidecar_dir, &sidecar_dir_diag);
    return;
  }
#endif
  if (user_base_dir(base, sizeof base) != NULL) {
    size_t len = strlen(base);
    snprintf(sidecar_dir, sizeof sidecar_dir, "%s%scshm", base,
             len > 0 && base[len - 1] == '/' ? "" : "/");
  } else {
    snprintf(sidecar_dir, sizeof sidecar_dir, "/tmp/cshm-%u", (unsigned)geteuid());
  }
  sidecar_dir_rc = make_dir(sidecar_dir, &sidecar_dir_diag);
}

/* ---- descriptors a forked child must not keep --------------------------------------
 *
 * A flock() belongs to the open file description, which fork() shares with the
 * child: a child forked while this process holds a name's admin lock (or probes a
 * liveness file exclusively, or is about to take its shared lock) would hold that
 * lock for as long as it lives, and every other process's create, attach and
 * detach of the name would wait for it. So every sidecar descriptor is opened and
 * closed under `inflight_mutex`, which fork() takes (pthread_atfork), and the child
 * closes its copies of those still open. The lock kind stays flock(), so processes
 * of older cshm versions still exclude and count with us. */
static pthread_mutex_t inflight_mutex = PTHREAD_MUTEX_INITIALIZER;
static int *inflight;
static size_t inflight_count, inflight_cap;
static pthread_once_t inflight_once = PTHREAD_ONCE_INIT;

static void inflight_before_fork(void) { pthread_mutex_lock(&inflight_mutex); }
static void inflight_in_parent(void) { pthread_mutex_unlock(&inflight_mutex); }
static void inflight_in_child(void) {
  for (size_t i = 0; i < inflight_count; i++)
    close(inflight[i]);
  inflight_count = 0;
  pthread_mutex_unlock(&inflight_mutex);
}
static void inflight_install(void) {
  pthread_atfork(inflight_before_fork, inflight_in_parent, inflight_in_child);
}

/* open() whose descriptor a forked child closes; -1 with errno on failure. */
static int open_tracked(const char *path, int flags) {
  pthread_once(&inflight_once, inflight_install);
  pthread_mutex_lock(&inflight_mutex);
  int fd = -1;
  if (inflight_count == inflight_cap) {
    size_t cap = inflight_cap == 0 ? 8 : inflight_cap * 2;
    int *grown = realloc(inflight, cap * sizeof *grown);
    if (grown != NULL) {
      inflight = grown;
      inflight_cap = cap;
    }
  }
  if (inflight_count == inflight_cap)
    errno = ENOMEM;
  else if ((fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0)
    inflight[inflight_count++] = fd;
  pthread_mutex_unlock(&inflight_mutex);
  return fd;
}

/* Drops fd from the descriptors a forked child closes; with `close_it`, closes it
 * in the same step (no fork can come between). */
static void untrack(int fd, bool close_it) {
  pthread_mutex_lock(&inflight_mutex);
  for (size_t i = 0; i < inflight_count; i++)
    if (inflight[i] == fd) {
      inflight[i] = inflight[--inflight_count];
      break;
    }
  if (close_it)
    close(fd);
  pthread_mutex_unlock(&inflight_mutex);
}

void cshm__sidecar_close(int fd) { untrack(fd, true); }
void cshm__sidecar_handed_over(int fd) { untrack(fd, false); }

int cshm__sidecar_dir(const char **dir, cshm__diag *d) {
  pthread_once(&sidecar_once, find_sidecar_dir);
  if (sidecar_dir_rc < 0) {
    *d = sidecar_dir_diag;
    return sidecar_dir_rc;
  }
  *dir = sidecar_dir;
  return CSHM_OK;
}

int cshm__sidecar_path(const char *native, const char *suffix, char *out, size_t cap,
                       cshm__diag *d) {
  const char *dir;
  int rc = cshm__sidecar_dir(&dir, d);
  if (rc < 0)
    return rc;
  uint8_t digest[CSHM__SHA1_LEN];
  cshm__sha1(native, strlen(native), digest);
  char hash[40];
  cshm__base32(digest, 10, hash); /* 16 characters, a-z2-7 */
  snprintf(out, cap, "%s/%s%s", dir, hash, suffix);
  return CSHM_OK;
}

int cshm__sidecar_admin_lock(const char *native, int *out, cshm__diag *d) {
  char path[600];
  int rc = cshm__sidecar_path(native, ".admin", path, sizeof path, d);
  if (rc < 0)
    return rc;
  for (;;) {
    int fd = open_tracked(path, O_RDWR | O_CREAT);
    if (fd < 0)
      return cshm__posix_fail(d, errno, "open %s", path);
    int err;
    while ((err = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (err != 0) {
      rc = cshm__posix_fail(d, errno, "flock %s", path);
      cshm__sidecar_close(fd);
      return rc;
    }
    /* The previous holder may have removed the file with the segment: a lock on a
     * removed file excludes nobody, so take the lock of the file the path names. */
    struct stat held, named;
    if (fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino) {
      *out = fd;
      return CSHM_OK;
    }
    cshm__sidecar_close(fd);
  }
}

void cshm__sidecar_admin_unlock(int fd) { cshm__sidecar_close(fd); }

void cshm__sidecar_remove(const char *native) {
  char path[600];
  cshm__diag ignored;
  if (cshm__sidecar_path(native, ".live", path, sizeof path, &ignored) == CSHM_OK)
    unlink(path);
  /* Removed while we hold its lock: lockers re-check the path (above). */
  if (cshm__sidecar_path(native, ".admin", path, sizeof path, &ignored) == CSHM_OK)
    unlink(path);
}

int cshm__sidecar_open_live(const char *native, bool create, int *out, cshm__diag *d) {
  char path[600];
  int rc = cshm__sidecar_path(native, ".live", path, sizeof path, d);
  if (rc < 0)
    return rc;
  int fd = open_tracked(path, O_RDWR | (create ? O_CREAT : 0));
  if (fd < 0)
    return cshm__posix_fail(d, errno, "open %s", path);
  *out = fd;
  return CSHM_OK;
}

int cshm__sidecar_has_holders(const char *native, bool *holders, cshm__diag *d) {
  int fd;
  int rc = cshm__sidecar_open_live(native, false, &fd, d);
  if (rc == CSHM_ENOENT) {
    *holders = false;
    return CSHM_OK;
  }
  if (rc < 0)
    return rc;
  /* A separate descriptor, exclusive and non-blocking: it succeeds only when no
   * holder's shared lock is there, and touches none of them. */
  *holders = flock(fd, LOCK_EX | LOCK_NB) != 0;
  cshm__sidecar_close(fd);
  return CSHM_OK;
}
