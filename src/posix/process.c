/* Process facts: pid, PID namespace, fork detection, randomness, sleeping. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h> /* getentropy on Apple */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "posix.h"
#include "sys.h"

uint32_t cshm__sys_pid(void) { return (uint32_t)getpid(); }

static uint64_t pid_namespace;
static pthread_once_t pid_namespace_once = PTHREAD_ONCE_INIT;

static void read_pid_namespace(void) {
  struct stat st;
  /* The inode of the namespace file names the namespace; a process keeps its own
   * namespace for life (unshare(CLONE_NEWPID) moves only its children). */
  if (stat("/proc/self/ns/pid", &st) == 0)
    pid_namespace = ((uint64_t)st.st_dev << 32) ^ (uint64_t)st.st_ino;
}

uint64_t cshm__sys_pid_namespace(void) {
  pthread_once(&pid_namespace_once, read_pid_namespace);
  return pid_namespace;
}

static unsigned fork_generation;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static _Atomic int fork_handler_ready; /* the fast path: no pthread_once call */

static void in_child(void) { fork_generation++; }
static void register_fork_handler(void) {
  pthread_atfork(NULL, NULL, in_child);
  atomic_store_explicit(&fork_handler_ready, 1, memory_order_release);
}

unsigned cshm__sys_fork_generation(void) {
  if (!atomic_load_explicit(&fork_handler_ready, memory_order_acquire))
    pthread_once(&fork_once, register_fork_handler);
  return fork_generation;
}

int cshm__sys_random(void *buf, size_t n, cshm__diag *d) {
  unsigned char *p = buf;
  while (n > 0) {
    size_t chunk = n < 256 ? n : 256; /* getentropy's limit */
    if (getentropy(p, chunk) != 0)
      return cshm__posix_fail(d, errno, "getentropy");
    p += chunk;
    n -= chunk;
  }
  return CSHM_OK;
}

uint64_t cshm__sys_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cshm__sys_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
