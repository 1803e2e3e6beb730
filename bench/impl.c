/* The implementations under test: three raw baselines compiled into this binary and
 * cshm (this build's profile, and CSHM_KEY_QT_LEGACY when the build has it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define RAW_LEN 65536u /* lock at 0, data at 4096 */

const char *cshm_impl_id(void) {
  return strcmp(cfg.profile, "portable") == 0 ? "cshm-portable" : "cshm-default";
}

static int qt_state = -1; /* -1 unknown, 0 no, 1 yes */
static const char *qt_why = "";

bool qt_available(const char **why) {
  if (qt_state < 0) {
    cshm *h;
    int rc = cshm_new(&h, "cshm-bench-probe");
    if (rc == CSHM_OK) {
      rc = cshm_set_key_type(h, CSHM_KEY_QT_LEGACY);
      cshm_free(h);
    }
    qt_state = rc == CSHM_OK;
    if (rc == CSHM_ENOTSUP)
      qt_why = "CSHM_KEY_QT_LEGACY is not implemented in this build (CSHM_ENOTSUP)";
    else if (rc != CSHM_OK)
      qt_why = "cshm_set_key_type(CSHM_KEY_QT_LEGACY) failed";
  }
  *why = qt_why;
  return qt_state == 1;
}

bool impl_wanted(const char *id) { return cfg.only == NULL || strcmp(cfg.only, id) == 0; }

int lock_impls(impl *out) {
  impl all[6] = {
      {.kind = IMPL_SPIN, .id = "raw-spin", .semid = -1},
      {.kind = IMPL_ROBUST, .id = "raw-robust", .semid = -1},
      {.kind = IMPL_SYSV, .id = "raw-sysv", .semid = -1},
      {.kind = IMPL_CSHM, .id = cshm_impl_id(), .semid = -1, .type = CSHM_KEY_DEFAULT},
      {.kind = IMPL_QT, .id = "cshm-qt-legacy", .semid = -1, .type = CSHM_KEY_QT_LEGACY},
  };
  int n = 0;
  for (int i = 0; i < 5; i++) {
    if ((all[i].kind == IMPL_QT && !cfg.qt) || (i < 3 && !cfg.baselines) ||
        !impl_wanted(all[i].id))
      continue;
    out[n++] = all[i];
  }
  return n;
}

/* ---- raw segments ----------------------------------------------------------------- */

static int raw_seq;

/* A raw POSIX segment shared with later children through fork: its name is removed
 * as soon as it is mapped, so nothing can be left behind. */
static int raw_segment(impl *im, const char *what) {
  snprintf(im->raw_name, sizeof im->raw_name, "/cshm-bench-%s-%s-raw%d", cfg.run_id, what,
           raw_seq++);
  reg_raw_shm(im->raw_name);
  int fd = shm_open(im->raw_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    note("shm_open %s: %s", im->raw_name, strerror(errno));
    unreg_raw_shm(im->raw_name);
    return -1;
  }
  void *p = MAP_FAILED;
  if (ftruncate(fd, RAW_LEN) == 0)
    p = mmap(NULL, RAW_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);
  shm_unlink(im->raw_name);
  unreg_raw_shm(im->raw_name);
  if (p == MAP_FAILED) {
    note("map %s: %s", im->raw_name, strerror(err));
    return -1;
  }
  im->raw_base = p;
  im->raw_len = RAW_LEN;
  im->lock_area = p;
  im->data = (unsigned char *)p + 4096;
  return 0;
}

int sysv_op(int semid, short delta) {
  struct sembuf op = {0, delta, SEM_UNDO};
  while (semop(semid, &op, 1) != 0)
    if (errno != EINTR)
      return -errno;
  return 0;
}

/* The same attributes as cshm's Linux lock (src/posix/lock_robust.c): robust,
 * error-checking, process-shared. The ratio then measures cshm, not the mutex type. */
static int robust_init(pthread_mutex_t *m) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  int err = pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
  return err;
}

/* ---- setup and teardown ------------------------------------------------------------ */

static int key_seq;

static int cshm_setup(impl *im, const char *what) {
  make_key(im->key, sizeof im->key, what, key_seq++);
  reg_key(im->key, im->type);
  int rc = cshm_new(&im->h, im->key);
  if (rc == CSHM_OK && im->type != CSHM_KEY_DEFAULT)
    rc = cshm_set_key_type(im->h, im->type);
  if (rc == CSHM_OK)
    rc = cshm_create(im->h, 65536, CSHM_READ_WRITE);
  if (rc != CSHM_OK) {
    note("%s: create %s: %s", im->id, im->key,
         im->h != NULL ? cshm_error_string(im->h) : cshm_last_error_string());
    cshm_free(im->h);
    im->h = NULL;
    unreg_key(im->key, im->type);
    return -1;
  }
  im->data = cshm_data(im->h);
  return 0;
}

int impl_setup(impl *im, const char *what) {
  switch (im->kind) {
  case IMPL_SPIN:
  case IMPL_RAWSHM:
    return raw_segment(im, what);
  case IMPL_ROBUST:
    if (raw_segment(im, what) != 0)
      return -1;
    if (robust_init(im->lock_area) != 0) {
      note("pthread_mutex_init failed");
      impl_teardown(im);
      return -1;
    }
    return 0;
  case IMPL_SYSV:
    if (raw_segment(im, what) != 0)
      return -1;
    im->semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (im->semid < 0) {
      note("semget: %s", strerror(errno));
      impl_teardown(im);
      return -1;
    }
    reg_sem(im->semid);
    if (semctl(im->semid, 0, SETVAL, 1) != 0) {
      note("semctl SETVAL: %s", strerror(errno));
      impl_teardown(im);
      return -1;
    }
    return 0;
  case IMPL_CSHM:
  case IMPL_QT:
    return cshm_setup(im, what);
  }
  return -1;
}

int impl_child_open(impl *im) {
  if (im->kind != IMPL_CSHM && im->kind != IMPL_QT)
    return 0; /* the raw mapping and the semaphore id came through fork */
  /* The parent's handle is not ours (cshm: a handle belongs to its process). */
  cshm *h;
  int rc = cshm_new(&h, im->key);
  if (rc == CSHM_OK && im->type != CSHM_KEY_DEFAULT)
    rc = cshm_set_key_type(h, im->type);
  if (rc == CSHM_OK)
    rc = cshm_attach(h, CSHM_READ_WRITE);
  if (rc != CSHM_OK) {
    note("%s: child attach: %s", im->id, cshm_last_error_string());
    return -1;
  }
  im->h = h;
  im->data = cshm_data(h);
  return 0;
}

void impl_child_close(impl *im) {
  if (im->kind == IMPL_CSHM || im->kind == IMPL_QT)
    cshm_free(im->h);
}

void impl_teardown(impl *im) {
  if (im->kind == IMPL_CSHM || im->kind == IMPL_QT) {
    if (im->h != NULL) {
      cshm_free(im->h); /* the last detacher removes the segment */
      im->h = NULL;
      if (key_exists(im->key, im->type)) {
        note("%s: the segment of %s outlived its last handle: removing it", im->id, im->key);
        cshm_remove(im->key, im->type);
      }
      unreg_key(im->key, im->type);
    }
    return;
  }
  if (im->semid >= 0) {
    semctl(im->semid, 0, IPC_RMID);
    unreg_sem(im->semid);
    im->semid = -1;
  }
  if (im->raw_base != NULL) {
    if (im->kind == IMPL_ROBUST)
      pthread_mutex_destroy(im->lock_area);
    munmap(im->raw_base, im->raw_len);
    im->raw_base = NULL;
  }
}

/* ---- Qt legacy: a private TMPDIR for its key files ------------------------------------ */

static char qt_tmpdir[128];
static time_t run_started;

void qt_prepare(void) {
  run_started = time(NULL);
  /* Qt's legacy key files go to $TMPDIR: a directory of our own keeps them apart
   * from everyone else's and makes leftovers easy to find. */
  snprintf(qt_tmpdir, sizeof qt_tmpdir, "/tmp/cshm-bench-%s-XXXXXX", cfg.run_id);
  if (mkdtemp(qt_tmpdir) == NULL) {
    qt_tmpdir[0] = '\0';
    return;
  }
  setenv("TMPDIR", qt_tmpdir, 1);
}

/* Removes what Qt-legacy rows left in our TMPDIR: the key files, and System V objects
 * whose ftok key comes from one of them, if this user made them during this run. */
int qt_cleanup(void) {
  if (qt_tmpdir[0] == '\0')
    return 0;
  int removed = 0;
  DIR *d = opendir(qt_tmpdir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", qt_tmpdir, e->d_name);
    key_t k = ftok(path, 'Q');
    if (k != -1) {
      int id = shmget(k, 0, 0);
      struct shmid_ds sds;
      if (id >= 0 && shmctl(id, IPC_STAT, &sds) == 0 && sds.shm_perm.cuid == geteuid() &&
          sds.shm_ctime >= run_started && shmctl(id, IPC_RMID, NULL) == 0) {
        note("cleanup: removed a System V segment Qt-legacy rows left (%s)", path);
        removed++;
      }
      id = semget(k, 0, 0);
      struct semid_ds sem;
      union { int val; struct semid_ds *buf; } arg = {.buf = &sem};
      if (id >= 0 && semctl(id, 0, IPC_STAT, arg) == 0 && sem.sem_perm.cuid == geteuid() &&
          sem.sem_ctime >= run_started && semctl(id, 0, IPC_RMID) == 0) {
        note("cleanup: removed a System V semaphore Qt-legacy rows left (%s)", path);
        removed++;
      }
    }
    if (unlink(path) == 0) {
      note("cleanup: removed key file %s", path);
      removed++;
    }
  }
  if (d != NULL)
    closedir(d);
  rmdir(qt_tmpdir);
  return removed;
}
