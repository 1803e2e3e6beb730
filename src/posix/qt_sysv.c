/* CSHM_KEY_QT_LEGACY on Unix: Qt's System V backend (research/qt.md §2.1, §2.4, §3.2,
 * §3.5, §4), as Qt 5.15 and 6.x use it for QSharedMemory(QString)/setKey().
 *
 * - Key files: "<QDir::tempPath()>/qipc_sharedmemory_<letters><sha1>" for the segment
 *   and ".../qipc_systemsem_<letters><sha1>" for the lock's semaphore, created
 *   O_CREAT|O_EXCL with mode 0640; key_t = ftok(file, 'Q').
 * - The segment: shmget 0600 IPC_CREAT|IPC_EXCL, data at offset 0, size shm_segsz.
 * - The lock: one semaphore, initial value 1, P/V with SEM_UNDO.
 * - Semaphore life cycle as Qt's QSystemSemaphore: whoever creates it - and the
 *   segment's creator, which takes it over and sets it to 1 (Create mode) - owns it and
 *   removes it and its key file when it detaches. An attacher whose semaphore was
 *   removed (EIDRM) re-creates it, and then owns the new one.
 * - create, attach and detach hold the semaphore around the operation, as Qt does.
 *   Attach waits for it at most the caller's timeout, and detach at most as long as
 *   its attach could (forever after create); a detach that gives up removes nothing.
 * - The last detacher (shm_nattch == 0 after shmdt) removes the segment and its key
 *   file; create() reclaims a segment nobody is attached to (Qt >= 6.6), under the
 *   semaphore.
 *
 * Where Qt has a bug, cshm talks to Qt's behaviour without copying it:
 * - a create() that finds a live segment fails before touching the semaphore (Qt's
 *   resets it to 1 and removes it afterwards, under the feet of the segment's users);
 * - taking a semaphore over never resets one a live process holds (Qt's does: two
 *   holders);
 * - an unlock whose semaphore was removed releases nothing (Qt re-creates it and
 *   posts: value 2, two holders);
 * - opening an existing semaphore never creates one without initialising it;
 * - ftok keeps 16 bits of the inode (§2.4): before any IPC_RMID the object's key and
 *   owner are checked again, and a stale segment is reclaimed only while its key file
 *   is the one the key was computed from and is not younger than the segment;
 * - a key file is removed only while this process's object still carries its key
 *   (Qt also removes it after someone else removed the object - when the file may
 *   already name a new one: ext4 hands a re-made file the old inode number back);
 * - a key file the caller named (cshm_set_native_key) is never removed.
 * With a native key (a file path), segment and semaphore share that file's key_t, as
 * Qt >= 6.6 does for QNativeIpcKey(path, SystemV). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "posix.h"
#include "qt.h"

#define PROJ_ID 'Q'
#define KEY_FILE_MODE 0640
#define NAME_BYTES_MAX 255 /* NAME_MAX: a key file's name */
#define RETRIES 16

/* The key field of struct ipc_perm, as each C library spells it. */
#if defined(__GLIBC__)
#define PERM_KEY(p) ((p).__key)
#elif defined(__APPLE__)
#define PERM_KEY(p) ((p)._key)
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#define PERM_KEY(p) ((p).key)
#else /* musl */
#define PERM_KEY(p) ((p).__ipc_perm_key)
#endif

/* semctl's fourth argument (some systems declare union semun, others do not). */
union qt_semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

/* A key file and the key_t computed from it. */
typedef struct key_file {
  char path[CSHM__NATIVE_MAX];
  key_t key;
  dev_t dev;
  ino_t ino;
  uid_t uid;
  time_t ctime;
} key_file;

/* Qt's QSystemSemaphore state. */
typedef struct qt_sem {
  key_file kf;
  int id;            /* -1: not open */
  bool created_sem;  /* owned: removed at detach (Qt's createdSemaphore) */
  bool created_file; /* its key file is unlinked then too (Qt's createdFile) */
  bool own_files;    /* the key file is Qt's (derived), not the caller's */
  unsigned perms;
} qt_sem;

/* An attachment. */
typedef struct qt_sysv {
  key_file shm;
  bool own_files;
  int shmid;
  uid_t uid, cuid; /* the segment's owner and creator when attached */
  void *addr;
  size_t size;
  uint32_t detach_ms; /* how long detach waits for the lock: the attach's timeout */
  qt_sem sem;
} qt_sysv;

static qt_sysv *state_of(const cshm *h) { return (qt_sysv *)(void *)h->seg; }

/* ---- names ---------------------------------------------------------------------- */

static int check_native(const char *native, cshm__diag *d) {
  size_t len = strlen(native);
  if (native[0] != '/')
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a System V native key is the absolute path of a key file");
  if (len >= CSHM__NATIVE_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "a native key has at most %d bytes; this one has %zu",
                          CSHM__NATIVE_MAX - 1, len);
  if (native[len - 1] == '/')
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a System V native key names a file, not a directory");
  for (const char *p = native; *p;) {
    while (*p == '/')
      p++;
    size_t n = strcspn(p, "/");
    if (n > NAME_BYTES_MAX)
      return cshm__diag_set(d, CSHM_EKEY, NULL,
                            "a path component has at most %d bytes; one has %zu",
                            NAME_BYTES_MAX, n);
    p += n;
  }
  return CSHM_OK;
}

static int derive(const char *key, char *out, cshm__diag *d) {
  char dir[CSHM__NATIVE_MAX];
  int rc = cshm__qt_temp_path(dir, sizeof dir, d);
  if (rc < 0)
    return rc;
  /* The segment's file name is the longer one (its prefix is 3 bytes longer). */
  size_t stem = cshm__qt_legacy_stem(key, CSHM__QT_MEMORY, NULL, 0);
  if (stem > NAME_BYTES_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "Qt's key file name would have %zu bytes, over NAME_MAX (%d): the key "
                          "has %zu ASCII letters, at most %d fit",
                          stem, NAME_BYTES_MAX, cshm__qt_letter_count(key),
                          NAME_BYTES_MAX - (int)strlen(CSHM__QT_SHM_PREFIX) - CSHM__QT_HEX_LEN);
  size_t len = cshm__qt_legacy_sysv_name(dir, key, CSHM__QT_MEMORY, out, CSHM__NATIVE_MAX);
  if (len >= CSHM__NATIVE_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the key file's path would have %zu bytes", len);
  return CSHM_OK;
}

/* The semaphore's key file for a handle's segment key file: beside it, with Qt's
 * semaphore prefix, for a derived name; the same file for a native key. */
static bool semaphore_path(const char *shm_path, bool derived, char *out, size_t cap) {
  const char *base = strrchr(shm_path, '/');
  base = base != NULL ? base + 1 : shm_path;
  size_t plen = strlen(CSHM__QT_SHM_PREFIX);
  if (derived && strncmp(base, CSHM__QT_SHM_PREFIX, plen) == 0) {
    snprintf(out, cap, "%.*s%s%s", (int)(base - shm_path), shm_path, CSHM__QT_SEM_PREFIX,
             base + plen);
    return true;
  }
  snprintf(out, cap, "%s", shm_path);
  return false;
}

/* ---- key files ------------------------------------------------------------------ */

static int key_file_fail(cshm__diag *d, int err, const char *step, const char *path) {
  int code = cshm__posix_fail(d, err, "%s %s", step, path);
  /* The directory is missing or the name is too long: Qt's KeyError. */
  if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG || err == ELOOP)
    return CSHM_EKEY;
  return code == CSHM_EEXIST ? CSHM_EUNKNOWN : code;
}

/* Computes kf->key from kf->path, recording the file it was computed from. With
 * create, makes the file first as Qt's createUnixKeyFile() does (*built: made now).
 * Returns CSHM_OK; CSHM_ENOENT (no file, without create); CSHM_EKEY; CSHM_EPERM. */
static int key_file_key(key_file *kf, bool create, bool *built, cshm__diag *d) {
  if (built != NULL)
    *built = false;
  for (int attempt = 0; attempt < RETRIES; attempt++) {
    if (create) {
      int fd = open(kf->path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, KEY_FILE_MODE);
      if (fd >= 0) {
        close(fd);
        if (built != NULL)
          *built = true;
      } else if (errno != EEXIST) {
        return key_file_fail(d, errno, "create key file", kf->path);
      }
    }
    /* ftok() stats the path itself: the same file before and after, or again. */
    struct stat a, b;
    if (stat(kf->path, &a) != 0) {
      if (errno == ENOENT && create)
        continue; /* removed right after we saw it: make it again */
      return errno == ENOENT ? cshm__diag_set(d, CSHM_ENOENT, kf->path, "no key file")
                             : key_file_fail(d, errno, "stat", kf->path);
    }
    key_t key = ftok(kf->path, PROJ_ID);
    if (key == (key_t)-1 || stat(kf->path, &b) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino)
      continue;
    kf->key = key;
    kf->dev = a.st_dev;
    kf->ino = a.st_ino;
    kf->uid = a.st_uid;
    kf->ctime = a.st_ctime;
    return CSHM_OK;
  }
  return cshm__diag_set(d, CSHM_EBUSY, kf->path, "the key file kept being replaced");
}

/* True when the path still names the file the key was computed from. */
static bool key_file_unchanged(const key_file *kf) {
  struct stat st;
  return stat(kf->path, &st) == 0 && st.st_dev == kf->dev && st.st_ino == kf->ino;
}

/* Unlinks the key file of an object this process just checked still carries kf->key.
 * The file there now must yield that key too: comparing inodes is not enough, since a
 * file removed and made again by another process usually gets the same inode number
 * back (and so the same key) - the caller's check on its object is what says the
 * file still names it. */
static void key_file_unlink(const key_file *kf) {
  if (ftok(kf->path, PROJ_ID) == kf->key)
    unlink(kf->path);
}

/* ---- the semaphore (QSystemSemaphore, System V) ---------------------------------- */

static void sem_init_state(qt_sem *s, const char *path, bool own_files, unsigned perms) {
  memset(s, 0, sizeof *s);
  snprintf(s->kf.path, sizeof s->kf.path, "%s", path);
  s->id = -1;
  s->own_files = own_files;
  /* The lock must work for its creator whatever the handle's bits say. */
  s->perms = (perms | 0600) & 0777;
}

/* Qt's cleanHandle(): an owner unlinks the key file (if Qt's) and removes the
 * semaphore - only while the id still is this key's semaphore and ours. Qt unlinks
 * the file even when its semaphore was removed by someone else; by then the file may
 * be a new one (often with the old inode number: the same key) naming another
 * process's semaphore, so cshm leaves it. */
static void sem_clean(qt_sem *s) {
  bool alive = false;
  if (s->created_sem && s->id >= 0) {
    struct semid_ds ds;
    union qt_semun arg = {.buf = &ds};
    alive = semctl(s->id, 0, IPC_STAT, arg) == 0 && PERM_KEY(ds.sem_perm) == s->kf.key &&
            (ds.sem_perm.cuid == geteuid() || ds.sem_perm.uid == geteuid());
  }
  if (alive && s->created_file && s->own_files)
    key_file_unlink(&s->kf);
  if (alive)
    semctl(s->id, 0, IPC_RMID);
  s->created_file = false;
  s->created_sem = false;
  s->id = -1;
}

/* True when a live process holds the semaphore: value 0, and the process of the last
 * operation (its P) is alive. A semaphore stuck at 0 otherwise (a creator that died
 * between semget and SETVAL) has no live holder. */
static bool held_by_live_process(int id) {
  if (semctl(id, 0, GETVAL) != 0)
    return false;
  int pid = semctl(id, 0, GETPID);
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Qt's handle(mode): makes the key file, then creates the semaphore (owning it and
 * setting it to 1) or opens it. In Create mode (the segment's creator) an existing
 * semaphore is taken over and set to 1 as well - unless a live process holds it
 * (Qt resets it even then, and two processes hold the lock). */
static int sem_open_qt(qt_sem *s, bool create_mode, cshm__diag *d) {
  if (s->id >= 0 && !create_mode)
    return CSHM_OK;
  for (int attempt = 0; attempt < RETRIES; attempt++) {
    bool built;
    int rc = key_file_key(&s->kf, true, &built, d);
    if (rc < 0)
      return rc;
    if (built)
      s->created_file = true;
    bool made = false;
    int id = semget(s->kf.key, 1, (int)s->perms | IPC_CREAT | IPC_EXCL);
    if (id >= 0) {
      made = true;
    } else if (errno == EEXIST) {
      /* Open only: Qt's IPC_CREAT here would make an uninitialised (0) semaphore
       * when the old one vanished in between, and nobody would ever post it. */
      id = semget(s->kf.key, 1, 0600);
      if (id < 0 && (errno == ENOENT || errno == EIDRM))
        continue;
    }
    if (id < 0)
      return cshm__posix_fail(d, errno, "semget %s", s->kf.path);
    s->id = id;
    bool reset = made;
    if (made || create_mode) {
      reset = made || !held_by_live_process(id);
      s->created_sem = s->created_file = true;
    }
    if (reset) {
      union qt_semun arg = {.val = 1};
      if (semctl(id, 0, SETVAL, arg) != 0) {
        int err = errno;
        if (err == EIDRM || err == EINVAL) {
          s->created_sem = false;
          s->id = -1;
          continue;
        }
        rc = cshm__posix_fail(d, err, "semctl(SETVAL) %s", s->kf.path);
        sem_clean(s);
        return rc;
      }
    }
    return CSHM_OK;
  }
  return cshm__diag_set(d, CSHM_EBUSY, s->kf.path, "the semaphore kept vanishing");
}

/* One semop, timed where the OS can (0: IPC_NOWAIT). Returns 0 or errno. */
static int semop_once(int id, short delta, const cshm__qt_deadline *dl, bool nowait) {
  struct sembuf op = {.sem_num = 0, .sem_op = delta,
                      .sem_flg = (short)(SEM_UNDO | (nowait ? IPC_NOWAIT : 0))};
  int rc;
#if CSHM__QT_LINUX
  if (delta < 0 && !nowait && !dl->infinite) {
    int64_t left = cshm__qt_ns_left(dl);
    if (left == 0)
      return EAGAIN;
    struct timespec ts = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
    rc = semtimedop(id, &op, 1, &ts);
    return rc == 0 ? 0 : errno;
  }
#else
  (void)dl;
#endif
  rc = semop(id, &op, 1);
  return rc == 0 ? 0 : errno;
}

/* P (delta -1) until the deadline, or V (+1). A semaphore removed under us (EIDRM)
 * is re-created for P, as Qt's modifySemaphore() does; a V on a removed semaphore
 * releases nothing, since the lock went with it. Returns CSHM_OK, CSHM_ETIMEDOUT or
 * CSHM_ELOCK. */
static int sem_change(qt_sem *s, short delta, uint32_t ms, cshm__diag *d) {
  cshm__qt_deadline dl = cshm__qt_deadline_in(ms);
  /* Without semtimedop a timed P polls IPC_NOWAIT (the portable profile, macOS). */
  bool poll = !CSHM__QT_LINUX && !dl.infinite && ms > 0;
  unsigned step = 0;
  for (int recreated = 0;;) {
    if (s->id < 0) {
      if (delta > 0)
        return CSHM_OK;
      if (sem_open_qt(s, false, d) < 0)
        return CSHM_ELOCK; /* *d says why */
    }
    int err = semop_once(s->id, delta, &dl, delta < 0 && (ms == 0 || poll));
    if (err == 0)
      return CSHM_OK;
    if (err == EINTR)
      continue;
    if (err == EAGAIN && delta < 0) {
      if (poll && cshm__qt_ns_left(&dl) > 0) {
        cshm__qt_poll_pause(&dl, &step);
        continue;
      }
      return cshm__diag_fixed(d, CSHM_ETIMEDOUT, s->kf.path, "the lock is held");
    }
    if (err == EIDRM || err == EINVAL) {
      /* Qt: "If the semaphore was removed be nice and create it". */
      s->id = -1;
      sem_clean(s); /* forgets it: the removed semaphore's key file is not ours now */
      if (delta > 0)
        return CSHM_OK;
      if (++recreated > RETRIES)
        return cshm__diag_set(d, CSHM_ELOCK, s->kf.path, "the semaphore kept being removed");
      continue;
    }
    cshm__posix_fail(d, err, "semop %s", s->kf.path);
    return CSHM_ELOCK;
  }
}

/* ---- segments ------------------------------------------------------------------- */

static qt_sysv *state_new(const cshm *h) {
  qt_sysv *q = calloc(1, sizeof *q);
  if (q == NULL)
    return NULL;
  snprintf(q->shm.path, sizeof q->shm.path, "%s", h->native);
  q->shmid = -1;
  q->detach_ms = CSHM_INFINITE;
  char sem_path[CSHM__NATIVE_MAX];
  q->own_files = semaphore_path(h->native, h->key != NULL, sem_path, sizeof sem_path);
  sem_init_state(&q->sem, sem_path, q->own_files, h->perms);
  return q;
}

static void identity_of(const qt_sysv *q, cshm__identity *id) {
  cshm__qt_identity("sysv", q->sem.kf.path, id);
}

/* May a segment found under this key be removed (IPC_RMID)? It must carry the key,
 * and be its key file owner's or ours. With `stale`, it was found by key rather than
 * attached by id: its key file must still be the one the key came from, and must
 * not be younger than the segment (a younger file means another file once had
 * this key_t: ftok keeps 16 bits of the inode). */
static bool removable(const key_file *kf, const struct shmid_ds *ds, bool stale) {
  if (PERM_KEY(ds->shm_perm) != kf->key)
    return false;
  uid_t me = geteuid();
  if (ds->shm_perm.uid != kf->uid && ds->shm_perm.cuid != kf->uid && ds->shm_perm.uid != me)
    return false;
  if (!stale)
    return true;
  return key_file_unchanged(kf) && ds->shm_ctime >= kf->ctime;
}

static int shm_fail(cshm__diag *d, int err, const char *what, const char *path) {
  int code = cshm__posix_fail(d, err, "%s %s", what, path);
  if (err == EIDRM)
    return CSHM_ENOENT;
  return code;
}

/* Attaches segment `id` and reads its size. Returns CSHM_OK or a code. */
static int map_segment(qt_sysv *q, int id, cshm_access mode, unsigned perms, bool check_owner,
                       cshm__diag *d) {
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) != 0)
    return shm_fail(d, errno, "shmctl(IPC_STAT)", q->shm.path);
  if (check_owner && ds.shm_perm.uid != geteuid() && !(perms & 077))
    return cshm__diag_set(d, CSHM_EPERM, q->shm.path,
                          "the segment belongs to uid %u; set permissions granting group or "
                          "other access to attach another user's segment",
                          (unsigned)ds.shm_perm.uid);
  void *addr = shmat(id, NULL, mode == CSHM_READ_ONLY ? SHM_RDONLY : 0);
  if (addr == (void *)-1) {
    int err = errno;
    int code = shm_fail(d, err, "shmat", q->shm.path);
    return err == EINVAL ? CSHM_ENOENT : code;
  }
  q->shmid = id;
  q->addr = addr;
  q->size = (size_t)ds.shm_segsz;
  q->uid = ds.shm_perm.uid;
  q->cuid = ds.shm_perm.cuid;
  return CSHM_OK;
}

static void adopt(cshm *h, qt_sysv *q) {
  h->seg = (cshm__sys_segment *)(void *)q;
  h->view.base = q->addr;
  h->view.length = q->size;
  h->view.exact_length = true;
  h->view.lockable = true; /* the lock is a semaphore: any attachment can lock */
  h->data = q->addr;
  h->size = q->size;
  identity_of(q, &h->identity);
}

/* Drops a failed attempt: the semaphore is released if taken, and removed if this
 * attempt owns it (as Qt's object would at its destruction). */
static void abandon(qt_sysv *q, bool locked) {
  cshm__diag ignored;
  if (q->addr != NULL)
    shmdt(q->addr);
  if (locked)
    sem_change(&q->sem, +1, CSHM_INFINITE, &ignored);
  sem_clean(&q->sem);
  free(q);
}

/* Takes the semaphore around an operation, waiting at most ms, unless this thread
 * holds the lock already (through another handle). *locked says whether it was taken
 * here. */
static int enter(qt_sysv *q, bool *locked, uint32_t ms, cshm__diag *d) {
  cshm__identity id;
  identity_of(q, &id);
  *locked = false;
  if (cshm__qt_held_by_me(&id))
    return CSHM_OK;
  int rc = sem_change(&q->sem, -1, ms, d);
  if (rc == CSHM_OK)
    *locked = true;
  return rc;
}

/* Is a live (attached) segment under the key file? The check create makes before
 * touching the semaphore. Returns CSHM_EEXIST (live, or stale when reclaiming is
 * off), CSHM_OK (absent or reclaimable), or an error. */
static int precheck_create(const qt_sysv *q, unsigned flags, cshm__diag *d) {
  key_file kf = q->shm;
  int rc = key_file_key(&kf, false, NULL, d);
  if (rc == CSHM_ENOENT)
    return CSHM_OK;
  if (rc < 0)
    return rc;
  int id = shmget(kf.key, 0, 0);
  if (id < 0)
    return CSHM_OK; /* none (or not ours to see: shmget with IPC_EXCL will tell) */
  struct shmid_ds ds;
  if (shmctl(id, IPC_STAT, &ds) != 0)
    return CSHM_OK;
  if (ds.shm_nattch > 0)
    return cshm__diag_set(d, CSHM_EEXIST, kf.path, "a segment with %lu attachment(s) has the key",
                          (unsigned long)ds.shm_nattch);
  if (flags & CSHM_CREATE_NO_RECLAIM)
    return cshm__diag_set(d, CSHM_EEXIST, kf.path,
                          "a segment nobody is attached to has the key (CSHM_CREATE_NO_RECLAIM)");
  return CSHM_OK;
}

static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d);

static int create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  if (size == 0)
    return cshm__diag_set(d, CSHM_ESIZE, NULL, "the size is 0");
  qt_sysv *q = state_new(h);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  int rc = precheck_create(q, flags, d);
  if (rc < 0) {
    free(q);
    return rc;
  }
  /* Qt's create(): the semaphore in Create mode (owned, set to 1), then held; only a
   * live process can hold it (SEM_UNDO), and precheck_create() found nobody attached. */
  bool locked = false;
  if ((rc = sem_open_qt(&q->sem, true, d)) < 0 ||
      (rc = enter(q, &locked, CSHM_INFINITE, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  bool built;
  if ((rc = key_file_key(&q->shm, true, &built, d)) < 0) {
    abandon(q, locked);
    return rc;
  }
  int id = -1;
  for (int attempt = 0; attempt < RETRIES && id < 0; attempt++) {
    id = shmget(q->shm.key, size, (int)(h->perms & 0777) | IPC_CREAT | IPC_EXCL);
    if (id >= 0)
      break;
    int err = errno;
    if (err != EEXIST) {
      rc = cshm__posix_fail(d, err, "shmget %zu bytes for %s", size, q->shm.path);
      if (err == EINVAL)
        rc = cshm__diag_set(d, CSHM_ESIZE, d->what,
                            "outside the system's limits (SHMMIN, SHMMAX) or a segment of "
                            "another size has the key");
      else if (err == ENOSPC)
        rc = CSHM_ENOMEM; /* SHMMNI or SHMALL */
      break;
    }
    rc = cshm__diag_set(d, CSHM_EEXIST, q->shm.path, "a segment has the key");
    /* Qt >= 6.6: nobody attached to it - reclaim it (we hold the semaphore, so no Qt
     * process is between its shmget and its shmat). */
    int old = shmget(q->shm.key, 0, 0);
    struct shmid_ds ds;
    if (flags & CSHM_CREATE_NO_RECLAIM || old < 0 || shmctl(old, IPC_STAT, &ds) != 0 ||
        ds.shm_nattch != 0)
      break;
    if (!removable(&q->shm, &ds, true)) {
      rc = cshm__diag_set(d, CSHM_EEXIST, q->shm.path,
                          "a segment nobody is attached to has the key, but not through this key "
                          "file (an ftok collision?): left alone");
      break;
    }
    if (shmctl(old, IPC_RMID, NULL) != 0 && errno != EINVAL && errno != EIDRM) {
      rc = cshm__posix_fail(d, errno, "remove the orphan segment of %s", q->shm.path);
      break;
    }
  }
  if (id < 0) {
    /* Qt removes a key file it made, except when the segment exists. */
    if (built && rc != CSHM_EEXIST)
      key_file_unlink(&q->shm);
    abandon(q, locked);
    return rc;
  }
  if ((rc = map_segment(q, id, mode, h->perms, false, d)) < 0) {
    shmctl(id, IPC_RMID, NULL);
    if (built)
      key_file_unlink(&q->shm);
    abandon(q, locked);
    return rc;
  }
  if (locked)
    sem_change(&q->sem, +1, CSHM_INFINITE, d);
  adopt(h, q);
  return CSHM_OK;
}

static int attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  qt_sysv *q = state_new(h);
  if (q == NULL)
    return cshm__diag_set(d, CSHM_ENOMEM, NULL, "out of memory");
  /* No key file, no segment: say so before making (and removing) a semaphore. */
  struct stat st;
  if (stat(q->shm.path, &st) != 0) {
    int err = errno;
    free(q);
    return err == ENOENT ? cshm__diag_set(d, CSHM_ENOENT, h->native, "no key file")
                         : key_file_fail(d, err, "stat", h->native);
  }
  bool locked = false;
  int rc;
  if ((rc = sem_open_qt(&q->sem, false, d)) < 0 || (rc = enter(q, &locked, ms, d)) < 0) {
    if (rc == CSHM_ETIMEDOUT)
      cshm__diag_set(d, rc, q->sem.kf.path,
                     "attach takes Qt's lock, as Qt's does, and another process held it "
                     "for the %u ms allowed",
                     (unsigned)ms);
    abandon(q, locked);
    return rc;
  }
  q->detach_ms = ms;
  int id = -1;
  if ((rc = key_file_key(&q->shm, false, NULL, d)) == CSHM_OK) {
    id = shmget(q->shm.key, 0, mode == CSHM_READ_ONLY ? 0400 : 0600);
    if (id < 0)
      rc = shm_fail(d, errno, "shmget", q->shm.path);
  }
  if (rc == CSHM_OK)
    rc = map_segment(q, id, mode, h->perms, true, d);
  if (rc < 0) {
    abandon(q, locked);
    return rc;
  }
  if (locked)
    sem_change(&q->sem, +1, CSHM_INFINITE, d);
  adopt(h, q);
  return CSHM_OK;
}

static void detach(cshm *h, bool forked_child) {
  qt_sysv *q = state_of(h);
  if (forked_child) {
    shmdt(q->addr); /* no semaphore, no removal: the parent owns them */
    free(q);
    return;
  }
  if (h->keep) { /* CSHM_ATTACH_KEEP: removes nothing but what its own attach made */
    shmdt(q->addr);
    sem_clean(&q->sem);
    free(q);
    return;
  }
  cshm__diag d;
  bool locked = false;
  /* Qt's detach() waits for the lock too: it orders the last detacher's removal
   * with attachers between their shmget and shmat. */
  if (enter(q, &locked, q->detach_ms, &d) == CSHM_ETIMEDOUT) {
    /* A live holder kept it past the bound: removing now could pull the segment or
     * the semaphore from under it. Leave both; an orphan is the next create's. */
    shmdt(q->addr);
    free(q);
    return;
  }
  shmdt(q->addr);
  q->addr = NULL;
  struct shmid_ds ds;
  if (shmctl(q->shmid, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0 && ds.shm_perm.uid == q->uid &&
      ds.shm_perm.cuid == q->cuid && removable(&q->shm, &ds, false) &&
      shmctl(q->shmid, IPC_RMID, NULL) == 0 && q->own_files)
    key_file_unlink(&q->shm); /* the last one out: segment and key file go */
  if (locked)
    sem_change(&q->sem, +1, CSHM_INFINITE, &d);
  sem_clean(&q->sem); /* an owner removes the semaphore and its key file */
  free(q);
}

static int lock(cshm *h, uint32_t ms, cshm__diag *d) {
  return sem_change(&state_of(h)->sem, -1, ms, d);
}

static int unlock(cshm *h, cshm__diag *d) {
  return sem_change(&state_of(h)->sem, +1, CSHM_INFINITE, d);
}

/* cshm_remove: the segment, the semaphore and (derived names) both key files. */
static int remove_name(const char *native, cshm__diag *d) {
  char sem_path[CSHM__NATIVE_MAX];
  bool own = semaphore_path(native, true, sem_path, sizeof sem_path);
  bool found = false;
  int rc;
  key_file kf;
  snprintf(kf.path, sizeof kf.path, "%s", native);
  if ((rc = key_file_key(&kf, false, NULL, d)) == CSHM_OK) {
    int id = shmget(kf.key, 0, 0);
    struct shmid_ds ds;
    if (id >= 0 && shmctl(id, IPC_STAT, &ds) == 0) {
      if (!removable(&kf, &ds, true))
        return cshm__diag_set(d, CSHM_EKEY, native,
                              "the segment with this key was not made through this key file "
                              "(an ftok collision?): left alone");
      if (shmctl(id, IPC_RMID, NULL) != 0)
        return cshm__posix_fail(d, errno, "remove the segment of %s", native);
      found = true;
    }
    if (own) {
      key_file_unlink(&kf);
      found = true;
    }
  } else if (rc != CSHM_ENOENT) {
    return rc;
  }
  snprintf(kf.path, sizeof kf.path, "%s", sem_path);
  if ((rc = key_file_key(&kf, false, NULL, d)) == CSHM_OK) {
    int id = semget(kf.key, 1, 0);
    struct semid_ds ds;
    union qt_semun arg = {.buf = &ds};
    if (id >= 0 && semctl(id, 0, IPC_STAT, arg) == 0 && PERM_KEY(ds.sem_perm) == kf.key) {
      if (semctl(id, 0, IPC_RMID) != 0)
        return cshm__posix_fail(d, errno, "remove the semaphore of %s", sem_path);
      found = true;
    }
    if (own) {
      key_file_unlink(&kf);
      found = true;
    }
  } else if (rc != CSHM_ENOENT) {
    return rc;
  }
  return found ? CSHM_OK : cshm__diag_set(d, CSHM_ENOENT, native, "no key file");
}

static int inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  key_file kf;
  snprintf(kf.path, sizeof kf.path, "%s", h->native);
  int rc = key_file_key(&kf, false, NULL, d);
  if (rc < 0)
    return rc;
  int id = shmget(kf.key, 0, 0);
  struct shmid_ds ds;
  if (id < 0 || shmctl(id, IPC_STAT, &ds) != 0)
    return shm_fail(d, errno, "shmget", h->native);
  memset(out, 0, sizeof *out);
  out->size = (uint64_t)ds.shm_segsz;
  out->creator_pid = (uint32_t)ds.shm_cpid;
  out->attached = ds.shm_nattch > 0;
  char sem_path[CSHM__NATIVE_MAX];
  semaphore_path(h->native, h->key != NULL, sem_path, sizeof sem_path);
  snprintf(kf.path, sizeof kf.path, "%s", sem_path);
  cshm__diag ignored;
  int sid;
  if (key_file_key(&kf, false, NULL, &ignored) == CSHM_OK && (sid = semget(kf.key, 1, 0)) >= 0)
    out->locked = semctl(sid, 0, GETVAL) == 0;
  return CSHM_OK;
}

const cshm__keytype cshm__keytype_qt_legacy = {
    "qt-legacy", derive, check_native, create, attach, detach, lock, unlock, remove_name, inspect,
};
