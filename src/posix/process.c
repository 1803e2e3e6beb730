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

/* The namespace is read once per process, and again in each forked child: a process
 * keeps its own PID namespace for life, but unshare(CLONE_NEWPID) moves the
 * children it forks afterwards into a new one - a cache inherited through fork()
 * would let such a child pass for the creator's namespace. `pid_namespace_of` is the
 * fork generation the value belongs to, plus one (0: never read). Threads that race
 * here read the same file and store the same value. */
static _Atomic uint64_t pid_namespace;
static _Atomic unsigned pid_namespace_of;

static uint64_t read_pid_namespace(void) {
  struct stat st;
  /* The inode of the namespace file names the namespace. */
  if (stat("/proc/self/ns/pid", &st) != 0)
    return 0;
  return ((uint64_t)st.st_dev << 32) ^ (uint64_t)st.st_ino;
}

uint64_t cshm__sys_pid_namespace(void) {
  unsigned generation = cshm__sys_fork_generation() + 1u;
  if (atomic_load_explicit(&pid_namespace_of, memory_order_acquire) == generation)
    return atomic_load_explicit(&pid_namespace, memory_order_relaxed);
  uint64_t ns = read_pid_namespace();
  atomic_store_explicit(&pid_namespace, ns, memory_order_relaxed);
  atomic_store_explicit(&pid_namespace_of, generation, memory_order_release);
  return ns;
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

void cshm__sys_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
