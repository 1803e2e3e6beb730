/* platform.h on POSIX systems. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

extern char **environ;

int main(int argc, char **argv) { return cshm_tool_main(argc, argv); }

static const char *self = "cshm";

void cshm_tool_init(const char *argv0) {
  /* Linux names the running executable exactly; elsewhere argv[0] (found on PATH). */
  self = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv0;
}

unsigned cshm_tool_pid(void) { return (unsigned)getpid(); }

unsigned long long cshm_tool_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}

int cshm_tool_run_self(const char *const args[]) {
  const char *argv[16];
  int n = 0;
  argv[n++] = self;
  for (int i = 0; args[i] != NULL && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid;
  if (posix_spawnp(&pid, self, NULL, NULL, (char *const *)argv, environ) != 0)
    return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void interrupt_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGHUP);
}

void cshm_tool_hold_interrupts(void) {
  sigset_t set;
  interrupt_signals(&set);
  /* Blocked signals stay pending for sigwait(): the tool then detaches normally. */
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void cshm_tool_wait_for_interrupt(void) {
  sigset_t set;
  interrupt_signals(&set);
  int sig;
  sigwait(&set, &sig);
}

int cshm_tool_interrupt_pending(void) {
  static const int interrupts[] = {SIGINT, SIGTERM, SIGHUP};
  sigset_t pending;
  if (sigpending(&pending) != 0)
    return 0;
  for (size_t i = 0; i < sizeof interrupts / sizeof interrupts[0]; i++)
    if (sigismember(&pending, interrupts[i]) == 1)
      return interrupts[i];
  return 0;
}

const char *cshm_tool_ownership_note(void) {
  return "the segment is gone (attach now fails with CSHM_ENOENT): on Unix the last "
         "process to detach removes it";
}
