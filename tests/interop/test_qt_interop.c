/* cshm and real Qt (5.15, 6.4) in separate processes, sharing segments and locks
 * (issue 7). Every scenario runs against each Qt found; the peers are Qt probes
 * (qt_probe.cpp) and cshm peers (cshm_peer.c) driven over pipes (peer.h).
 *
 * Ordering is by replies on the pipes; that a peer is blocked in the lock is read from
 * the kernel (the semaphore's count of waiters, GETNCNT), never guessed from time.
 * Keys are unique to the run and Qt's key files live in a private $TMPDIR. After each
 * scenario nothing of it may remain: no key file, no segment, no semaphore (System V
 * objects are recorded by id while they exist, and only objects this run's processes
 * made are ever removed); POSIX objects, which Qt never removes, are removed with
 * cshm_remove() and checked by name.
 *
 * System V keys are ftok() keys: 8 bits of the device and 16 of the key file's inode.
 * ext4 hands a freed inode number straight to the next new file, so two programs using
 * Qt's protocol on one file system share a key now and then (research/qt.md §5.8): one
 * run of this suite at a time (a lock on /tmp), and objects that existed before a
 * scenario are never counted nor removed; a scenario whose key met one of them is
 * skipped, not failed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/file.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "peer.h"
#include "qt_names.h"

typedef struct qt_version {
  const char *label; /* "qt5" */
  const char *probe;
} qt_version;

static char g_base[PATH_MAX]; /* private: holds keys/ and link */
static char g_dir[PATH_MAX + 16];  /* $TMPDIR of the peers: Qt's key files */
static char g_link[PATH_MAX + 16]; /* a symlink to g_dir */

/* ---- peers of a scenario ------------------------------------------------------------ */

#define PEERS 6
static peer g_peers[PEERS];
static bool g_used[PEERS];
static pid_t g_pids[256]; /* every process this run started: whose objects we may remove */
static size_t g_npids;

static peer *slot(void) {
  for (int i = 0; i < PEERS; i++)
    if (!g_used[i]) {
      g_used[i] = true;
      return &g_peers[i];
    }
  fail_msg("too many peers");
  return NULL;
}

static void started(peer *p, const char *ready) {
  if (g_npids < sizeof g_pids / sizeof g_pids[0])
    g_pids[g_npids++] = p->pid;
  const char *line = peer_wait(p);
  if (!starts_with(line, ready))
    fail_msg("%s: said \"%s\", not \"%s...\"", p->label, line, ready);
}

static peer *spawn_qt(const qt_version *v, const char *tmpdir) {
  peer *p = slot();
  const char *argv[] = {v->probe, "serve", NULL};
  assert_true(peer_start(p, v->label, argv, tmpdir != NULL ? tmpdir : g_dir, NULL));
  started(p, "ready qt");
  return p;
}

static peer *spawn_cshm(const char *label) {
  peer *p = slot();
  const char *argv[] = {CSHM_QT_PEER, NULL};
  assert_true(peer_start(p, label, argv, g_dir, NULL));
  started(p, "ready cshm");
  return p;
}

static void release_slot(peer *p) { g_used[p - g_peers] = false; }

static void stop(peer *p) {
  assert_int_equal(peer_stop(p), 0);
  release_slot(p);
}

static void kill_peer(peer *p) {
  peer_kill(p);
  release_slot(p);
}

static bool ours(pid_t pid) {
  for (size_t i = 0; i < g_npids; i++)
    if (g_pids[i] == pid)
      return true;
  return false;
}

/* ---- what a scenario made --------------------------------------------------------- */

typedef struct tracked {
  key_t key;
  int id;
  bool sem;
} tracked;

static tracked g_tracked[512];
static size_t g_ntracked;
static char g_posix[8][300]; /* POSIX object names (shm and semaphore) to check */
static size_t g_nposix;
static const char *g_key; /* the scenario's key */

static void key_paths(const char *key, char *shm, char *sem, size_t cap) {
  int rc = cshm_native_key_for(shm, cap, key, CSHM_KEY_QT_LEGACY);
  assert_int_equal(rc, CSHM_OK);
  const char *base = strrchr(shm, '/') + 1;
  snprintf(sem, cap, "%.*s%s%s", (int)(base - shm), shm, CSHM__QT_SEM_PREFIX,
           base + strlen(CSHM__QT_SHM_PREFIX));
}

union semun_arg {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

static bool sem_ours(int id) {
  int pid = semctl(id, 0, GETPID); /* the last operation's process (SETVAL included) */
  return pid == 0 || ours((pid_t)pid);
}

/* The System V ids that existed when the scenario started: never ours. */
static int g_before[4096];
static size_t g_nbefore;
static bool g_collided; /* a key of ours was an object's from before the scenario */

static void snapshot(void) {
  g_nbefore = 0;
  g_collided = false;
  const char *const tables[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem"};
  for (size_t t = 0; t < 2; t++) {
    FILE *f = fopen(tables[t], "r");
    char line[512];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
      long long key;
      int id;
      if (sscanf(line, "%lld %d", &key, &id) == 2 && g_nbefore < sizeof g_before / sizeof g_before[0])
        g_before[g_nbefore++] = id;
    }
    if (f != NULL)
      fclose(f);
  }
}

static bool existed_before(int id) {
  for (size_t i = 0; i < g_nbefore; i++)
    if (g_before[i] == id)
      return true;
  return false;
}

static void remember(key_t key, int id, bool sem) {
  if (existed_before(id)) {
    g_collided = true; /* another program's object has our key: never touch it */
    return;
  }
  for (size_t i = 0; i < g_ntracked; i++)
    if (g_tracked[i].id == id && g_tracked[i].sem == sem)
      return;
  if (g_ntracked < sizeof g_tracked / sizeof g_tracked[0])
    g_tracked[g_ntracked++] = (tracked){key, id, sem};
}

/* Records the segment and semaphore a key file names now, if this run made them. */
static void track_file(const char *path) {
  struct stat st;
  key_t k;
  if (stat(path, &st) != 0 || (k = ftok(path, 'Q')) == (key_t)-1)
    return;
  struct shmid_ds ds;
  int id = shmget(k, 0, 0);
  if (id >= 0 && (existed_before(id) || (shmctl(id, IPC_STAT, &ds) == 0 && ours(ds.shm_cpid))))
    remember(k, id, false);
  id = semget(k, 0, 0);
  if (id >= 0 && (existed_before(id) || sem_ours(id)))
    remember(k, id, true);
}

static void track(void) {
  if (g_key == NULL)
    return;
  char shm[PATH_MAX + 300], sem[PATH_MAX + 300];
  key_paths(g_key, shm, sem, sizeof shm);
  track_file(shm);
  track_file(sem);
}

static void track_posix(const char *name) {
  if (g_nposix < sizeof g_posix / sizeof g_posix[0])
    snprintf(g_posix[g_nposix++], sizeof g_posix[0], "%s", name);
}

/* Counts what is left of the scenario and removes it (only what this run made). */
static int leftovers(void) {
  int left = 0;
  for (size_t i = 0; i < g_ntracked; i++) {
    const tracked *t = &g_tracked[i];
    if (t->sem) {
      struct semid_ds ds;
      union semun_arg arg = {.buf = &ds};
      if (semctl(t->id, 0, IPC_STAT, arg) == 0 && ds.sem_perm.__key == t->key && sem_ours(t->id)) {
        print_error("left behind: semaphore %d (key 0x%08x)\n", t->id, (unsigned)t->key);
        semctl(t->id, 0, IPC_RMID);
        left++;
      }
    } else {
      struct shmid_ds ds;
      if (shmctl(t->id, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == t->key && ours(ds.shm_cpid)) {
        print_error("left behind: segment %d (key 0x%08x, %lu attached)\n", t->id,
                    (unsigned)t->key, (unsigned long)ds.shm_nattch);
        shmctl(t->id, IPC_RMID, NULL);
        left++;
      }
    }
  }
  g_ntracked = 0;
  DIR *dir = opendir(g_dir);
  struct dirent *e;
  while (dir != NULL && (e = readdir(dir)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    print_error("left behind: key file %s\n", e->d_name);
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
    unlink(path);
    left++;
  }
  if (dir != NULL)
    closedir(dir);
  for (size_t i = 0; i < g_nposix; i++) {
    char path[400];
    snprintf(path, sizeof path, "/dev/shm%s", g_posix[i]);
    if (unlink(path) == 0) {
      print_error("left behind: %s\n", path);
      left++;
    }
    snprintf(path, sizeof path, "/dev/shm/sem.%s", g_posix[i] + 1);
    if (unlink(path) == 0) {
      print_error("left behind: %s\n", path);
      left++;
    }
  }
  g_nposix = 0;
  return left;
}

/* The end of a scenario: nothing of it left. After an ftok collision with another
 * program's object (see the top) the scenario is skipped instead. */
static void no_leftovers(void) {
  int left = leftovers();
  if (left != 0 && g_collided) {
    print_message("the key met another program's System V object (an ftok collision): "
                  "skipped\n");
    skip();
  }
  assert_int_equal(left, 0);
}

/* A file that must (not) be there, with the same allowance. */
static void expect_file(const char *path, bool there);

static const char *new_key(const char *label) {
  static char keys[64][128];
  static unsigned n;
  char *k = keys[n % 64];
  snprintf(k, sizeof keys[0], "cshm-qt-%d-%u-%s", (int)getpid(), n++, label);
  g_key = k;
  return k;
}

/* ---- commands ------------------------------------------------------------------- */

/* Sends a command and checks the reply: exactly `want`, or starting with it when want
 * ends with "*". Records what the scenario's key names afterwards. */
static const char *expect(peer *p, const char *want, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static const char *expect(peer *p, const char *want, const char *fmt, ...) {
  char cmd[1 << 15];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  const char *reply = peer_call(p, "%s", cmd);
  track();
  size_t n = strlen(want);
  bool ok = n > 0 && want[n - 1] == '*' ? strncmp(reply, want, n - 1) == 0
                                        : strcmp(reply, want) == 0;
  if (!ok && g_collided) {
    print_message("%s: \"%.60s\" replied \"%s\": the key met another program's System V "
                  "object (an ftok collision): skipped\n", p->label, cmd, reply);
    skip();
  }
  if (!ok)
    fail_msg("%s: \"%.60s\" replied \"%s\", expected \"%s\"", p->label, cmd, reply, want);
  return reply;
}

static void set_key(peer *p, const char *key) {
  const char *reply = expect(p, "ok *", "key %s", hex_str(key));
  char native[PATH_MAX + 300], mine[PATH_MAX + 300];
  unhex(reply + 3, native, sizeof native);
  assert_int_equal(cshm_native_key_for(mine, sizeof mine, key, CSHM_KEY_QT_LEGACY), CSHM_OK);
  assert_string_equal(native, mine); /* both sides name the same key file */
}

static void write_text(peer *p, const char *text) { expect(p, "ok", "write %s", hex_str(text)); }

static void expect_text(peer *p, const char *text) {
  char want[1024];
  snprintf(want, sizeof want, "ok %s", hex_str(text));
  expect(p, want, "read %zu", strlen(text));
}

/* Waits until at least n processes wait on the key's semaphore (GETNCNT): a peer that
 * was sent "lock" or "attach" is then blocked in Qt's semaphore, not just slow. */
static void wait_for_waiters(int n) {
  char shm[PATH_MAX + 300], sem[PATH_MAX + 300];
  key_paths(g_key, shm, sem, sizeof shm);
  struct timespec pause = {0, 1000000};
  for (int i = 0; i < PEER_WAIT_MS; i++) {
    key_t k = ftok(sem, 'Q');
    int id = k != (key_t)-1 ? semget(k, 0, 0) : -1;
    if (id >= 0 && semctl(id, 0, GETNCNT) >= n)
      return;
    nanosleep(&pause, NULL); /* polls the kernel's count; the order does not depend on it */
  }
  fail_msg("nobody blocked on the semaphore of %s", sem);
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void expect_file(const char *path, bool there) {
  if (file_exists(path) != there && g_collided) {
    print_message("%s: %s, after an ftok collision with another program's object: skipped\n",
                  path, there ? "missing" : "still there");
    skip();
  }
  if (file_exists(path) != there)
    fail_msg("%s: %s", path, there ? "missing" : "still there");
}

/* ---- scenarios against Qt ------------------------------------------------------------ */

/* Qt creates and writes under its lock; cshm attaches, locks and reads the same bytes
 * and size; cshm answers, Qt reads it. Detach cshm first, then Qt: nothing remains. */
static void qt_creates_cshm_attaches(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("qt-creates");
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm");
  set_key(q, key);
  expect(q, "ok 1000", "create 1000");
  expect(q, "ok", "lock");
  write_text(q, "hello from Qt");
  expect(q, "ok", "unlock");
  set_key(c, key);
  expect(c, "ok 1000", "attach rw"); /* shm_segsz: the exact size, not a page */
  expect(c, "ok", "lock");
  expect_text(c, "hello from Qt");
  write_text(c, "hello from cshm");
  expect(c, "ok", "unlock");
  expect(q, "ok", "lock");
  expect_text(q, "hello from cshm");
  expect(q, "ok", "unlock");
  expect(c, "ok", "detach");
  expect(q, "ok", "detach");
  stop(q);
  stop(c);
  no_leftovers();
}

/* cshm creates and writes; Qt attaches, sees the size, locks, reads and answers. Qt
 * detaches first, cshm last: it removes segment, key files and its semaphore. */
static void cshm_creates_qt_attaches(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("cshm-creates");
  peer *c = spawn_cshm("cshm"), *q = spawn_qt(v, NULL);
  set_key(c, key);
  expect(c, "ok 4097 created", "create 4097");
  expect(c, "ok", "lock");
  write_text(c, "hello from cshm");
  expect(c, "ok", "unlock");
  set_key(q, key);
  expect(q, "ok 4097", "attach rw");
  expect(q, "ok", "lock");
  expect_text(q, "hello from cshm");
  write_text(q, "hello from Qt");
  expect(q, "ok", "unlock");
  expect(c, "ok", "lock");
  expect_text(c, "hello from Qt");
  expect(c, "ok", "unlock");
  expect(q, "ok", "detach");
  stop(q);
  expect(c, "ok", "detach");
  stop(c);
  no_leftovers();
}

/* Qt's creator owns the semaphore and removes it (and its key file) when it goes,
 * while cshm is still attached; cshm's next lock re-creates it as Qt would, and cshm,
 * the last to detach, removes everything. */
static void qt_creator_leaves_first(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("qt-leaves");
  char shm[PATH_MAX + 300], sem[PATH_MAX + 300];
  key_paths(key, shm, sem, sizeof shm);
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm");
  set_key(q, key);
  expect(q, "ok 100", "create 100");
  set_key(c, key);
  expect(c, "ok 100", "attach rw");
  stop(q);
  expect_file(sem, false); /* Qt removed its semaphore and key file */
  expect_file(shm, true);
  expect(c, "ok", "lock");
  expect_file(sem, true); /* re-created (EIDRM), owned by cshm now */
  expect(c, "ok", "unlock");
  expect(c, "ok", "detach");
  stop(c);
  no_leftovers();
}

/* The same with cshm as the creator: its detach removes its semaphore; Qt re-creates
 * it at its next lock and, last out, removes everything. */
static void cshm_creator_leaves_first(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("cshm-leaves");
  char shm[PATH_MAX + 300], sem[PATH_MAX + 300];
  key_paths(key, shm, sem, sizeof shm);
  peer *c = spawn_cshm("cshm"), *q = spawn_qt(v, NULL);
  set_key(c, key);
  expect(c, "ok 100 created", "create 100");
  set_key(q, key);
  expect(q, "ok 100", "attach rw");
  expect(c, "ok", "detach");
  expect_file(sem, false);
  expect_file(shm, true);
  expect(q, "ok", "lock");
  expect(q, "ok", "unlock");
  expect(q, "ok", "detach");
  stop(q);
  stop(c);
  no_leftovers();
}

/* Qt holds the lock: cshm's try_lock is CSHM_EBUSY, a timed lock times out, a timed
 * attach (cshm_attach_timeout) times out, and a cshm attach waits (create/attach/detach
 * take Qt's lock, as Qt's own do) until Qt unlocks. */
static void qt_lock_excludes_cshm(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("qt-holds");
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm"), *c2 = spawn_cshm("cshm 2");
  set_key(q, key);
  expect(q, "ok 64", "create 64");
  set_key(c, key);
  expect(c, "ok 64", "attach rw");
  set_key(c2, key);
  expect(q, "ok", "lock");
  expect(c, "err CSHM_EBUSY *", "trylock");
  expect(c, "err CSHM_ETIMEDOUT *", "locktimeout 20");
  /* Attach takes Qt's lock: bounded, it gives up (cshm_attach_timeout). */
  expect(c2, "err CSHM_ETIMEDOUT *", "attach rw 0");
  expect(c2, "err CSHM_ETIMEDOUT *", "attach ro 30");
  peer_send(c2, "attach rw");
  wait_for_waiters(1);
  assert_false(peer_has_reply(c2));
  expect(q, "ok", "unlock");
  assert_string_equal(peer_wait(c2), "ok 64");
  expect(c, "ok", "trylock");
  expect(c, "ok", "unlock");
  expect(c2, "ok", "detach");
  expect(c, "ok", "detach");
  expect(q, "ok", "detach");
  stop(c2);
  stop(c);
  stop(q);
  no_leftovers();
}

/* cshm holds the lock: Qt's lock() waits until cshm unlocks; then Qt holds it and
 * cshm's try_lock is busy. Qt's attach() waits for cshm's lock too. */
static void cshm_lock_excludes_qt(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("cshm-holds");
  peer *c = spawn_cshm("cshm"), *q = spawn_qt(v, NULL), *q2 = spawn_qt(v, NULL);
  set_key(c, key);
  expect(c, "ok 64 created", "create 64");
  set_key(q, key);
  expect(q, "ok 64", "attach rw");
  expect(c, "ok", "lock");
  peer_send(q, "lock");
  wait_for_waiters(1);
  assert_false(peer_has_reply(q));
  expect(c, "ok", "unlock");
  assert_string_equal(peer_wait(q), "ok");
  expect(c, "err CSHM_EBUSY *", "trylock");
  expect(q, "ok", "unlock");
  expect(c, "ok", "trylock");
  set_key(q2, key);
  peer_send(q2, "attach rw");
  wait_for_waiters(1);
  assert_false(peer_has_reply(q2));
  expect(c, "ok", "unlock");
  assert_string_equal(peer_wait(q2), "ok 64");
  expect(q2, "ok", "detach");
  expect(q, "ok", "detach");
  expect(c, "ok", "detach");
  stop(q2);
  stop(q);
  stop(c);
  no_leftovers();
}

/* A lock holder killed: SEM_UNDO gives the lock back, silently - cshm gets CSHM_OK,
 * not CSHM_OWNER_DIED (owner death cannot be reported with Qt's lock), and Qt gets
 * the lock a killed cshm held. */
static void killed_holder_releases(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("killed");
  peer *c = spawn_cshm("cshm"), *q = spawn_qt(v, NULL), *c2 = spawn_cshm("cshm 2");
  set_key(c, key);
  expect(c, "ok 64 created", "create 64");
  set_key(q, key);
  expect(q, "ok 64", "attach rw");
  expect(q, "ok", "lock");
  kill_peer(q);
  expect(c, "ok", "lock");
  expect(c, "ok", "unlock");
  q = spawn_qt(v, NULL);
  set_key(q, key);
  expect(q, "ok 64", "attach rw");
  set_key(c2, key);
  expect(c2, "ok 64", "attach rw");
  expect(c2, "ok", "lock");
  kill_peer(c2);
  expect(q, "ok", "lock");
  expect(q, "ok", "unlock");
  expect(q, "ok", "detach");
  stop(q);
  expect(c, "ok", "detach");
  stop(c);
  no_leftovers();
}

/* A Qt creator killed leaves its segment (nobody attached), key files and semaphore.
 * Qt 5.15/6.4 cannot create over it (AlreadyExists); cshm reclaims it (Qt >= 6.6's
 * rule) unless CSHM_CREATE_NO_RECLAIM, and Qt attaches to the new segment. */
static void stale_segment_reclaimed(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("stale");
  peer *q = spawn_qt(v, NULL);
  set_key(q, key);
  expect(q, "ok 100", "create 100");
  write_text(q, "stale");
  kill_peer(q);
  q = spawn_qt(v, NULL);
  set_key(q, key);
  expect(q, "err 4 *", "create 100"); /* AlreadyExists: Qt < 6.6 does not reclaim */
  stop(q);
  peer *c = spawn_cshm("cshm");
  set_key(c, key);
  expect(c, "err CSHM_EEXIST *", "create 200 noreclaim");
  expect(c, "ok 200 created", "create 200");
  expect(c, "ok 0000000000", "read 5"); /* a fresh, zeroed segment */
  write_text(c, "fresh");
  q = spawn_qt(v, NULL);
  set_key(q, key);
  expect(q, "ok 200", "attach rw");
  expect_text(q, "fresh");
  stop(q);
  expect(c, "ok", "detach");
  stop(c);
  no_leftovers();
}

/* cshm_remove() removes what a killed Qt creator left: segment, semaphore, key files. */
static void remove_after_crash(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("remove");
  peer *q = spawn_qt(v, NULL);
  set_key(q, key);
  expect(q, "ok 100", "create 100");
  kill_peer(q);
  peer *c = spawn_cshm("cshm");
  expect(c, "ok", "remove %s", hex_str(key));
  no_leftovers();
  expect(c, "err CSHM_ENOENT *", "remove %s", hex_str(key));
  stop(c);
  no_leftovers();
}

/* QTBUG-111855's shape: Qt's create() on cshm's live segment fails (AlreadyExists) -
 * and in doing so takes Qt's semaphore over, removes and re-creates it - then attaches.
 * cshm follows the semaphore (EIDRM, re-open) and the lock is still one lock. */
static void qt_create_on_live_segment(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("live");
  peer *c = spawn_cshm("cshm"), *q = spawn_qt(v, NULL);
  set_key(c, key);
  expect(c, "ok 64 created", "create 64");
  set_key(q, key);
  expect(q, "err 4 *", "create 64");
  expect(q, "ok 64", "attach rw");
  expect(q, "ok", "lock");
  expect(c, "err CSHM_EBUSY *", "trylock");
  expect(q, "ok", "unlock");
  expect(c, "ok", "lock");
  peer_send(q, "lock");
  wait_for_waiters(1);
  assert_false(peer_has_reply(q));
  expect(c, "ok", "unlock");
  assert_string_equal(peer_wait(q), "ok");
  expect(q, "ok", "unlock");
  expect(q, "ok", "detach");
  expect(c, "ok", "detach");
  stop(q);
  stop(c);
  no_leftovers();
}

/* A read-only attachment to Qt's segment reads and locks. */
static void read_only_attach_locks(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("ro");
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm");
  set_key(q, key);
  expect(q, "ok 32", "create 32");
  write_text(q, "read me");
  set_key(c, key);
  expect(c, "ok 32", "attach ro");
  expect(c, "ok", "lock");
  expect_text(c, "read me");
  expect(c, "ok", "unlock");
  expect(c, "ok", "detach");
  stop(c);
  stop(q);
  no_leftovers();
}

/* $TMPDIR through a symlink with trailing slashes names the same key files as the
 * canonical directory: Qt there and cshm here meet. */
static void tmpdir_is_canonical(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("symlink");
  char via_link[PATH_MAX + 32];
  snprintf(via_link, sizeof via_link, "%s//", g_link);
  peer *q = spawn_qt(v, via_link), *c = spawn_cshm("cshm");
  set_key(q, key); /* compared with cshm's name under TMPDIR=g_dir */
  expect(q, "ok 10", "create 10");
  set_key(c, key);
  expect(c, "ok 10", "attach rw");
  expect(c, "ok", "detach");
  stop(q);
  stop(c);
  no_leftovers();
}

/* 197 ASCII letters is the longest legacy key; with 198 Qt's create fails (KeyError)
 * and cshm refuses the key up front (CSHM_EKEY). */
static void letter_limit(void **state) {
  const qt_version *v = *state;
  char key[256];
  for (int i = 0; i < 197; i++)
    key[i] = (char)('a' + i % 26);
  key[197] = '\0';
  g_key = key;
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm");
  set_key(q, key);
  expect(q, "ok 16", "create 16");
  set_key(c, key);
  expect(c, "ok 16", "attach rw");
  expect(c, "ok", "detach");
  expect(q, "ok", "detach");
  strcat(key, "z");
  g_key = NULL;
  expect(q, "ok *", "key %s", hex_str(key));
  expect(q, "err 3 *", "create 16");
  expect(c, "err CSHM_EKEY *", "key %s", hex_str(key));
  stop(q);
  stop(c);
  no_leftovers();
}

/* cshm_inspect() on Qt's segment: exact size, attached, and the lock's state. */
static void inspect_qt_segment(void **state) {
  const qt_version *v = *state;
  const char *key = new_key("info");
  peer *q = spawn_qt(v, NULL), *c = spawn_cshm("cshm");
  set_key(q, key);
  expect(q, "ok 1234", "create 1234");
  set_key(c, key);
  expect(c, "ok size=1234 attached=1 locked=0", "info");
  expect(q, "ok", "lock");
  expect(c, "ok size=1234 attached=1 locked=1", "info");
  expect(q, "ok", "unlock");
  stop(q);
  expect(c, "err CSHM_ENOENT *", "info");
  stop(c);
  no_leftovers();
}

/* ---- cshm alone: the POSIX key types and native System V keys ---------------------- */

/* What inspect can tell of a POSIX semaphore: the portable profile (macOS) has no
 * sem_getvalue. */
#ifdef CSHM_TEST_PORTABLE
#define LOCK_FREE "-1"
#define LOCK_HELD "-1"
#else
#define LOCK_FREE "0"
#define LOCK_HELD "1"
#endif

/* Qt >= 6.6 platformSafeKey() and QT_POSIX_IPC legacy keys: exclusion across
 * processes, the object outliving its users (as Qt's does), attach to the leftover,
 * CSHM_EEXIST on create, cshm_remove() of object and semaphore. */
static void posix_types(const char *type) {
  const char *key = new_key("posix");
  g_key = NULL; /* nothing System V here */
  peer *a = spawn_cshm("cshm a"), *b = spawn_cshm("cshm b");
  expect(a, "ok", "type %s", type);
  expect(b, "ok", "type %s", type);
  const char *reply = expect(a, "ok *", "key %s", hex_str(key));
  char native[300], sem[300];
  unhex(reply + 3, native, sizeof native);
  if (strcmp(type, "qt-legacy-posix") == 0) {
    assert_true(starts_with(native, "/" CSHM__QT_SHM_PREFIX));
    snprintf(sem, sizeof sem, "/%s%s", CSHM__QT_SEM_PREFIX, native + 1 + strlen(CSHM__QT_SHM_PREFIX));
  } else {
    char want[300];
    snprintf(want, sizeof want, "/%s", key);
    assert_string_equal(native, want);
    snprintf(sem, sizeof sem, "%s", native);
  }
  track_posix(native);
  if (strcmp(sem, native) != 0)
    track_posix(sem);
  expect(b, "ok *", "key %s", hex_str(key));
  expect(a, "ok 100 created", "create 100");
  write_text(a, "posix");
  expect(b, "ok 100", "attach rw");
  expect_text(b, "posix");
  peer *c = spawn_cshm("cshm c"); /* inspects, unattached */
  expect(c, "ok", "type %s", type);
  expect(c, "ok *", "key %s", hex_str(key));
  expect(c, "ok size=100 attached=-1 locked=" LOCK_FREE, "info"); /* nothing counts attachments */
  expect(a, "ok", "lock");
  expect(b, "err CSHM_EBUSY *", "trylock");
  expect(b, "err CSHM_ETIMEDOUT *", "locktimeout 10");
  expect(c, "ok size=100 attached=-1 locked=" LOCK_HELD, "info");
  stop(c);
  expect(a, "ok", "unlock");
  expect(b, "ok", "trylock");
  expect(b, "ok", "unlock");
  expect(a, "ok", "detach");
  expect(b, "ok", "detach");
  char path[400];
  snprintf(path, sizeof path, "/dev/shm%s", native);
  assert_true(file_exists(path)); /* Qt never removes these objects; neither does cshm */
  expect(a, "err CSHM_EEXIST *", "create 100");
  expect(a, "ok 100 attached", "create 100 orattach");
  expect_text(a, "posix");
  expect(a, "ok", "detach");
  expect(a, "ok", "remove %s", hex_str(key));
  assert_false(file_exists(path));
  snprintf(path, sizeof path, "/dev/shm/sem.%s", sem + 1);
  assert_false(file_exists(path));
  expect(a, "err CSHM_ENOENT *", "remove %s", hex_str(key));
  stop(a);
  stop(b);
  no_leftovers();
}

static void platform_safe_between_processes(void **state) {
  (void)state;
  posix_types("qt-platform-safe");
}

static void legacy_posix_between_processes(void **state) {
  (void)state;
  posix_types("qt-legacy-posix");
}

/* A POSIX semaphore has no undo: a holder killed keeps it taken (Qt deadlocks there);
 * cshm's timed lock and timed attach are the way out, and removal plus a new create
 * recovers. A process still attached detaches all the same: detach takes no lock. */
static void posix_killed_holder_keeps_lock(void **state) {
  (void)state;
  const char *key = new_key("posix-killed");
  g_key = NULL;
  char native[300];
  snprintf(native, sizeof native, "/%s", key);
  track_posix(native);
  peer *a = spawn_cshm("cshm a"), *b = spawn_cshm("cshm b");
  expect(a, "ok", "type qt-platform-safe");
  expect(b, "ok", "type qt-platform-safe");
  expect(a, "ok *", "key %s", hex_str(key));
  expect(b, "ok *", "key %s", hex_str(key));
  expect(a, "ok 10 created", "create 10");
  expect(b, "ok 10", "attach rw");
  expect(a, "ok", "lock");
  kill_peer(a);
  expect(b, "err CSHM_ETIMEDOUT *", "locktimeout 20");
  peer *late = spawn_cshm("cshm late");
  expect(late, "ok", "type qt-platform-safe");
  expect(late, "ok *", "key %s", hex_str(key));
  expect(late, "err CSHM_ETIMEDOUT *", "attach rw 20");
  stop(late);
  expect(b, "ok", "remove %s", hex_str(key));
  a = spawn_cshm("cshm a");
  expect(a, "ok", "type qt-platform-safe");
  expect(a, "ok *", "key %s", hex_str(key));
  expect(a, "ok 10 created", "create 10");
  expect(a, "ok", "trylock");
  expect(a, "ok", "unlock");
  expect(a, "ok", "detach");
  expect(a, "ok", "remove %s", hex_str(key));
  stop(a);
  expect(b, "ok", "detach"); /* takes no lock: the dead holder's semaphore cannot block it */
  stop(b);
  no_leftovers();
}

/* A native System V key (a file the caller names): segment and semaphore share its
 * key_t (as Qt >= 6.6's QNativeIpcKey(path, SystemV)); the lock works across
 * processes; the file is the caller's and is never removed. */
static void native_sysv_key(void **state) {
  (void)state;
  g_key = NULL;
  char file[PATH_MAX + 32];
  snprintf(file, sizeof file, "%s/caller-key-file", g_base);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  peer *a = spawn_cshm("cshm a"), *b = spawn_cshm("cshm b");
  expect(a, "ok", "native %s", hex_str(file));
  expect(b, "ok", "native %s", hex_str(file));
  expect(a, "ok 50 created", "create 50");
  track_file(file);
  expect(b, "ok 50", "attach rw");
  expect(b, "ok", "lock");
  expect(a, "err CSHM_EBUSY *", "trylock");
  expect(b, "ok", "unlock");
  expect(a, "ok", "lock");
  track_file(file);
  expect(a, "ok", "unlock");
  expect(a, "ok", "detach");
  expect(b, "ok", "lock"); /* the creator took its semaphore along: re-created */
  track_file(file);
  expect(b, "ok", "unlock");
  expect(b, "ok", "detach");
  assert_true(file_exists(file));
  stop(a);
  stop(b);
  no_leftovers();
  assert_int_equal(unlink(file), 0);
}

/* What Qt's attach() does after a failed create() (and its creator at exit): the
 * semaphore and its key file removed, the file made again - on ext4 usually with the
 * old inode number, so the same key - and a new semaphore held. cshm, whose semaphore
 * went, must follow to the new one and leave the new file alone (it checked inode
 * numbers once, and replaced it). The driver plays Qt's part here, deterministically. */
static void removed_semaphore_new_key_file_left_alone(void **state) {
  (void)state;
  const char *key = new_key("re-made");
  char shm[PATH_MAX + 300], sem[PATH_MAX + 300];
  key_paths(key, shm, sem, sizeof shm);
  peer *c = spawn_cshm("cshm");
  set_key(c, key);
  expect(c, "ok 32 created", "create 32");
  key_t old_key = ftok(sem, 'Q');
  int old_id = semget(old_key, 0, 0);
  assert_true(old_id >= 0);
  assert_int_equal(unlink(sem), 0);
  assert_int_equal(semctl(old_id, 0, IPC_RMID), 0);
  FILE *f = fopen(sem, "wx");
  assert_non_null(f);
  fputs("qt", f); /* a marker: a file made again by cshm would be empty */
  fclose(f);
  key_t new_key_t = ftok(sem, 'Q');
  int id = semget(new_key_t, 1, 0600 | IPC_CREAT | IPC_EXCL);
  assert_true(id >= 0);
  remember(new_key_t, id, true);
  union semun_arg one = {.val = 1};
  assert_int_equal(semctl(id, 0, SETVAL, one), 0);
  struct sembuf p = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
  assert_int_equal(semop(id, &p, 1), 0); /* "Qt" holds the new semaphore */
  expect(c, "err CSHM_EBUSY *", "trylock");
  char text[8] = "";
  f = fopen(sem, "r");
  assert_non_null(f);
  assert_non_null(fgets(text, sizeof text, f));
  fclose(f);
  assert_string_equal(text, "qt");
  assert_true(ftok(sem, 'Q') == new_key_t);
  struct sembuf v = {.sem_num = 0, .sem_op = 1, .sem_flg = SEM_UNDO};
  assert_int_equal(semop(id, &v, 1), 0);
  expect(c, "ok", "lock");
  expect(c, "ok", "unlock");
  expect(c, "ok", "detach"); /* the last one out: the segment goes; the semaphore is Qt's */
  stop(c);
  assert_false(file_exists(shm));
  assert_int_equal(semctl(id, 0, GETVAL), 1);
  assert_int_equal(semctl(id, 0, IPC_RMID), 0); /* "Qt" cleans up its own */
  assert_int_equal(unlink(sem), 0);
  no_leftovers();
}

/* Qt 5 and Qt 6 share a segment themselves (the harness's own sanity check). */
static void qt5_and_qt6(void **state) {
  const qt_version *v = *state; /* [0] Qt 5, [1] Qt 6 */
  const char *key = new_key("qt5-qt6");
  peer *a = spawn_qt(&v[0], NULL), *b = spawn_qt(&v[1], NULL);
  set_key(a, key);
  set_key(b, key);
  expect(a, "ok 77", "create 77");
  write_text(a, "from Qt 5");
  expect(b, "ok 77", "attach rw");
  expect_text(b, "from Qt 5");
  stop(b);
  stop(a);
  no_leftovers();
}

/* ---- fixture -------------------------------------------------------------------- */

static int setup_scenario(void **state) {
  (void)state;
  snapshot();
  return 0;
}

static int teardown_scenario(void **state) {
  (void)state;
  for (int i = 0; i < PEERS; i++)
    if (g_used[i]) {
      peer_kill(&g_peers[i]);
      g_used[i] = false;
    }
  leftovers(); /* after a failure: remove what this run made */
  g_key = NULL;
  char file[PATH_MAX + 32];
  snprintf(file, sizeof file, "%s/caller-key-file", g_base);
  unlink(file); /* native_sysv_key's */
  return 0;
}

static int g_run_lock = -1;

static int setup_run(void **state) {
  (void)state;
  /* One run at a time on this machine (see the top): a lock on /tmp itself, so that
   * nothing is created for it. */
  g_run_lock = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_run_lock < 0 || flock(g_run_lock, LOCK_EX) != 0)
    return -1;
  snprintf(g_base, sizeof g_base, "/tmp/cshm-qt-interop-XXXXXX");
  char real[PATH_MAX];
  if (mkdtemp(g_base) == NULL || realpath(g_base, real) == NULL)
    return -1;
  snprintf(g_base, sizeof g_base, "%s", real);
  snprintf(g_dir, sizeof g_dir, "%s/keys", g_base);
  snprintf(g_link, sizeof g_link, "%s/link", g_base);
  if (mkdir(g_dir, 0700) != 0 || symlink(g_dir, g_link) != 0)
    return -1;
  setenv("TMPDIR", g_dir, 1); /* cshm's names here, as the peers' */
  g_pids[g_npids++] = getpid(); /* objects the driver itself makes */
  return 0;
}

static int teardown_run(void **state) {
  (void)state;
  close(g_run_lock); /* releases the lock */
  unlink(g_link);
  return rmdir(g_dir) == 0 && rmdir(g_base) == 0 ? 0 : -1;
}

typedef void (*scenario)(void **);

int main(void) {
  static qt_version versions[2];
  size_t nv = 0;
#ifdef CSHM_QT5_PROBE
  versions[nv++] = (qt_version){"qt5", CSHM_QT5_PROBE};
#endif
#ifdef CSHM_QT6_PROBE
  versions[nv++] = (qt_version){"qt6", CSHM_QT6_PROBE};
#endif
  static const struct {
    const char *name;
    scenario fn;
  } per_qt[] = {
      {"qt creates, cshm attaches", qt_creates_cshm_attaches},
      {"cshm creates, qt attaches", cshm_creates_qt_attaches},
      {"qt creator leaves first", qt_creator_leaves_first},
      {"cshm creator leaves first", cshm_creator_leaves_first},
      {"qt holds the lock: cshm busy, attach waits", qt_lock_excludes_cshm},
      {"cshm holds the lock: qt lock and attach wait", cshm_lock_excludes_qt},
      {"killed holder releases (SEM_UNDO)", killed_holder_releases},
      {"stale segment reclaimed", stale_segment_reclaimed},
      {"cshm_remove after a qt crash", remove_after_crash},
      {"qt create on a live segment", qt_create_on_live_segment},
      {"read-only attach locks", read_only_attach_locks},
      {"TMPDIR symlink is canonical", tmpdir_is_canonical},
      {"197/198-letter limit", letter_limit},
      {"inspect a qt segment", inspect_qt_segment},
  };
  static const struct {
    const char *name;
    scenario fn;
  } alone[] = {
      {"cshm: qt-platform-safe between processes", platform_safe_between_processes},
      {"cshm: qt-legacy-posix between processes", legacy_posix_between_processes},
      {"cshm: posix holder killed keeps the lock", posix_killed_holder_keeps_lock},
      {"cshm: native System V key", native_sysv_key},
      {"cshm: a semaphore removed under it, its key file made again", removed_semaphore_new_key_file_left_alone},
  };
  static struct CMUnitTest tests[64];
  static char names[64][96];
  size_t n = 0;
  for (size_t v = 0; v < nv; v++)
    for (size_t i = 0; i < sizeof per_qt / sizeof per_qt[0]; i++) {
      snprintf(names[n], sizeof names[n], "%s: %s", versions[v].label, per_qt[i].name);
      tests[n] = (struct CMUnitTest){names[n], per_qt[i].fn, setup_scenario, teardown_scenario,
                                     &versions[v]};
      n++;
    }
  for (size_t i = 0; i < sizeof alone / sizeof alone[0]; i++)
    tests[n++] =
        (struct CMUnitTest){alone[i].name, alone[i].fn, setup_scenario, teardown_scenario, NULL};
  if (nv == 2)
    tests[n++] = (struct CMUnitTest){"qt5 and qt6 share a segment", qt5_and_qt6, setup_scenario,
                                     teardown_scenario, versions};
  return _cmocka_run_group_tests("qt_interop", tests, n, setup_run, teardown_run);
}
