/* Per-process liveness tokens of the portable lock (portable.h).
 *
 * One file per user, "tokens" in the sidecar directory. Each process takes one byte
 * of it with a POSIX record lock (fcntl F_SETLK) and keeps it for its lifetime; the
 * kernel releases it when the process dies, however it dies. Record locks belong to
 * the process, so a forked child holds none of its parent's and takes a byte of its
 * own. A generation number per byte, stored after the lock bytes, tells a reused
 * byte from its previous owner. Nothing here ever closes the file: closing any
 * descriptor of a file would drop all of the process's record locks on it.
 *
 * After the generations, a random 64-bit identity of the file (written once, under a
 * record lock on its bytes: older versions never touch them): a token means
 * something only in its own file, so the lock records which file its tokens come
 * from (lock_portable.c) and a process of another file never probes them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "portable.h"
#include "sys.h"
#include "testpoint.h"

#define SLOTS 65536u
#define GENERATIONS_AT ((off_t)SLOTS) /* a uint32_t generation per slot from here */
#define FILE_ID_AT (GENERATIONS_AT + (off_t)SLOTS * (off_t)sizeof(uint32_t))

/* Guards making the file's descriptor and this process's token. fork() takes it
 * (pthread_atfork), so a child never inherits it locked by a thread it does not
 * have. Probing another process's token takes no lock at all. */
static pthread_mutex_t tokens_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t tokens_atfork_once = PTHREAD_ONCE_INIT;
static _Atomic int tokens_fd = -1;
static _Atomic uint64_t tokens_file_id;
static _Atomic uint64_t my_token;
static _Atomic unsigned my_token_fork_generation = ~0u;

static void before_fork(void) { pthread_mutex_lock(&tokens_mutex); }
static void after_fork(void) { pthread_mutex_unlock(&tokens_mutex); }
static void install_atfork(void) { pthread_atfork(before_fork, after_fork, after_fork); }

static void lock_tokens(void) {
  pthread_once(&tokens_atfork_once, install_atfork);
  pthread_mutex_lock(&tokens_mutex);
}

static int range_lock(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  int rc;
  while ((rc = fcntl(fd, cmd, &fl)) != 0 && errno == EINTR) {
  }
  return rc;
}

/* The file's identity: read, or made by the first process that finds none. */
static int read_file_id(int fd, uint64_t *id, cshm__diag *d) {
  if (range_lock(fd, F_SETLKW, F_WRLCK, FILE_ID_AT, (off_t)sizeof *id) != 0)
    return cshm__posix_fail(d, errno, "lock the tokens file's identity");
  int rc = CSHM_OK;
  *id = 0;
  if (pread(fd, id, sizeof *id, FILE_ID_AT) != (ssize_t)sizeof *id || *id == 0) {
    while (rc == CSHM_OK && *id == 0)
      rc = cshm__sys_random(id, sizeof *id, d);
    if (rc == CSHM_OK && pwrite(fd, id, sizeof *id, FILE_ID_AT) != (ssize_t)sizeof *id)
      rc = cshm__posix_fail(d, errno, "write the tokens file's identity");
  }
  range_lock(fd, F_SETLK, F_UNLCK, FILE_ID_AT, (off_t)sizeof *id);
  return rc;
}

/* Under tokens_mutex. */
static int open_tokens(cshm__diag *d) {
  if (atomic_load(&tokens_fd) >= 0)
    return CSHM_OK;
  const char *dir;
  int rc = cshm__sidecar_dir(&dir, d);
  if (rc < 0)
    return rc;
  char path[600];
  snprintf(path, sizeof path, "%s/tokens", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return cshm__posix_fail(d, errno, "open %s", path);
  uint64_t id;
  if ((rc = read_file_id(fd, &id, d)) < 0) {
    close(fd); /* no record lock of ours on it yet */
    return rc;
  }
  atomic_store(&tokens_file_id, id);
  atomic_store(&tokens_fd, fd);
  return CSHM_OK;
}

static int slot_lock(int fd, int cmd, struct flock *fl, uint32_t slot) {
  fl->l_type = F_WRLCK;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)slot;
  fl->l_len = 1;
  return fcntl(fd, cmd, fl);
}

static uint32_t read_generation(int fd, uint32_t slot) {
  uint32_t generation = 0;
  if (pread(fd, &generation, sizeof generation,
            GENERATIONS_AT + (off_t)slot * (off_t)sizeof generation) != (ssize_t)sizeof generation)
    return 0;
  return generation;
}

/* Under tokens_mutex. */
static int make_token(cshm__diag *d) {
  int rc = open_tokens(d);
  if (rc < 0)
    return rc;
  int fd = atomic_load(&tokens_fd);
  /* Start where other processes are unlikely to be, to keep the scan short. */
  uint32_t start = (uint32_t)getpid() % SLOTS;
  for (uint32_t i = 0; i < SLOTS; i++) {
    uint32_t slot = (start + i) % SLOTS;
    struct flock fl;
    if (slot_lock(fd, F_SETLK, &fl, slot) != 0)
      continue;
    uint32_t generation = read_generation(fd, slot) % 65535u + 1u; /* 1..65535: never 0 */
    if (pwrite(fd, &generation, sizeof generation,
               GENERATIONS_AT + (off_t)slot * (off_t)sizeof generation) !=
        (ssize_t)sizeof generation) {
      rc = cshm__posix_fail(d, errno, "write the tokens file");
      fl.l_type = F_UNLCK;
      fcntl(fd, F_SETLK, &fl);
      return rc;
    }
    atomic_store(&my_token, (uint64_t)geteuid() << 32 | (uint64_t)slot << 16 | generation);
    atomic_store_explicit(&my_token_fork_generation, cshm__sys_fork_generation(),
                          memory_order_release);
    return CSHM_OK;
  }
  return cshm__diag_set(d, CSHM_ENOMEM, "tokens file", "all %u process slots are in use", SLOTS);
}

int cshm__token_mine(uint64_t *token, cshm__diag *d) {
  unsigned fork_generation = cshm__sys_fork_generation();
  if (atomic_load_explicit(&my_token_fork_generation, memory_order_acquire) != fork_generation) {
    lock_tokens();
    int rc = CSHM_OK;
    if (atomic_load(&my_token_fork_generation) != fork_generation)
      rc = make_token(d);
    pthread_mutex_unlock(&tokens_mutex);
    if (rc < 0)
      return rc;
  }
  *token = atomic_load_explicit(&my_token, memory_order_relaxed);
  return CSHM_OK;
}

int cshm__tokens_file_id(uint64_t *id, cshm__diag *d) {
  uint64_t known = atomic_load_explicit(&tokens_file_id, memory_order_acquire);
  if (known == 0) {
    lock_tokens();
    int rc = open_tokens(d);
    pthread_mutex_unlock(&tokens_mutex);
    if (rc < 0)
      return rc;
    known = atomic_load(&tokens_file_id);
  }
  *id = known;
  return CSHM_OK;
}

uint64_t cshm__tokens_file_id_if_open(void) {
  return atomic_load_explicit(&tokens_file_id, memory_order_acquire);
}

uint64_t cshm__token_unverifiable(uint64_t token) {
  return (uint64_t)CSHM__TOKEN_NO_USER << 32 | (token & 0xffffffffu);
}

bool cshm__token_dead(uint64_t token) {
  /* My token carries the effective user it was made for: no geteuid() per probe. */
  uint64_t mine = atomic_load_explicit(&my_token, memory_order_relaxed);
  int fd = atomic_load_explicit(&tokens_fd, memory_order_acquire);
  if (mine == 0 || fd < 0 || token >> 32 != mine >> 32 || token == mine)
    return false;
  uint32_t slot = (uint32_t)(token >> 16) & 0xffffu;
  uint32_t generation = (uint32_t)token & 0xffffu;
  cshm__test_point("lock_probe_owner");
  struct flock fl;
  if (slot_lock(fd, F_GETLK, &fl, slot) != 0)
    return false;
  return fl.l_type == F_UNLCK || read_generation(fd, slot) != generation;
}
