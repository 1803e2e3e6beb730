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

/* The base directory the platform gives each user (it holds our "cshm" folder), or
 * NULL when there is none and /tmp/cshm-<uid> is used. */
static const char *user_base_dir(char *buf, size_t cap) {
  const char *group = cshm__portable_app_group();
  const char *home = getenv("HOME");
  if (group != NULL && home != NULL) {
    /* The app group's container: what a sandboxed app of the group may use. */
    snprintf(buf, cap, "%s/Library/Group Containers/%s", home, group);
    return buf;
  }
#if defined(__APPLE__)
  size_t n = confstr(_CS_DARWIN_USER_TEMP_DIR, buf, cap);
  if (n > 0 && n <= cap)
    return buf;
#endif
  const char *runtime = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  /* Only our own runtime directory (a process that changed user may inherit
   * another user's variable). */
  if (runtime != NULL && runtime[0] == '/' && stat(runtime, &st) == 0 &&
      st.st_uid == geteuid() && S_ISDIR(st.st_mode)) {
    snprintf(buf, cap, "%s", runtime);
    return buf;
  }
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
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      return cshm__posix_fail(d, errno, "open %s", path);
    int err;
    while ((err = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (err != 0) {
      rc = cshm__posix_fail(d, errno, "flock %s", path);
      close(fd);
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
    close(fd);
  }
}

void cshm__sidecar_admin_unlock(int fd) { close(fd); }

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
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
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
  close(fd);
  return CSHM_OK;
}
