/* Per-process liveness tokens of the portable lock (portable.h).
 *
 * One file per user, "tokens" in the sidecar directory. Each process takes one byte
 * of it with a POSIX record lock (fcntl F_SETLK) and keeps it for its lifetime; the
 * kernel releases it when the process dies, however it dies. Record locks belong to
 * the process, so a forked child holds none of its parent's and takes a byte of its
 * own. A generation number per byte, stored after the lock bytes, tells a reused
 * byte from its previous owner. Nothing here ever closes the file: closing any
 * descriptor of a file would drop all of the process's record locks on it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "portable.h"
#include "testpoint.h"

#define SLOTS 65536u
#define GENERATIONS_AT ((off_t)SLOTS) /* a uint32_t generation per slot from here */

static pthread_mutex_t tokens_mutex = PTHREAD_MUTEX_INITIALIZER;
static int tokens_fd = -1;
static _Atomic uint64_t my_token;
static _Atomic unsigned my_token_fork_generation = ~0u;

static int open_tokens(cshm__diag *d) {
  if (tokens_fd >= 0)
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
  tokens_fd = fd;
  return CSHM_OK;
}

static int slot_lock(int cmd, struct flock *fl, uint32_t slot) {
  fl->l_type = F_WRLCK;
  fl->l_whence = SEEK_SET;
  fl->l_start = (off_t)slot;
  fl->l_len = 1;
  return fcntl(tokens_fd, cmd, fl);
}

static uint32_t read_generation(uint32_t slot) {
  uint32_t generation = 0;
  if (pread(tokens_fd, &generation, sizeof generation,
            GENERATIONS_AT + (off_t)slot * (off_t)sizeof generation) != (ssize_t)sizeof generation)
    return 0;
  return generation;
}

static int make_token(cshm__diag *d) {
  int rc = open_tokens(d);
  if (rc < 0)
    return rc;
  /* Start where other processes are unlikely to be, to keep the scan short. */
  uint32_t start = (uint32_t)getpid() % SLOTS;
  for (uint32_t i = 0; i < SLOTS; i++) {
    uint32_t slot = (start + i) % SLOTS;
    struct flock fl;
    if (slot_lock(F_SETLK, &fl, slot) != 0)
      continue;
    uint32_t generation = read_generation(slot) % 65535u + 1u; /* 1..65535: never 0 */
    if (pwrite(tokens_fd, &generation, sizeof generation,
               GENERATIONS_AT + (off_t)slot * (off_t)sizeof generation) !=
        (ssize_t)sizeof generation) {
      rc = cshm__posix_fail(d, errno, "write the tokens file");
      fl.l_type = F_UNLCK;
      fcntl(tokens_fd, F_SETLK, &fl);
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
    pthread_mutex_lock(&tokens_mutex);
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

bool cshm__token_dead(uint64_t token) {
  if ((uint32_t)(token >> 32) != (uint32_t)geteuid() || token == atomic_load(&my_token))
    return false;
  uint32_t slot = (uint32_t)(token >> 16) & 0xffffu;
  uint32_t generation = (uint32_t)token & 0xffffu;
  pthread_mutex_lock(&tokens_mutex);
  cshm__diag ignored;
  bool dead = false;
  struct flock fl;
  cshm__test_point("lock_probe_owner");
  if (open_tokens(&ignored) == CSHM_OK && slot_lock(F_GETLK, &fl, slot) == 0)
    dead = fl.l_type == F_UNLCK || read_generation(slot) != generation;
  pthread_mutex_unlock(&tokens_mutex);
  return dead;
}
