/* support.h on POSIX systems: /dev/shm, the portable profile's sidecar files,
 * posix_spawn, a socket pair per helper. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "support_os.h"
#if CSHM_TEST_PORTABLE
#include "portable.h" /* cshm__sidecar_path */
#endif

extern char **environ;

unsigned ts__os_random(void) {
  unsigned r = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r)
    r = (unsigned)getpid() * 2654435761u;
  if (fd >= 0)
    close(fd);
  return r;
}

int ts_pid(void) { return (int)getpid(); }

char **ts_utf8_argv(int argc, char **argv) {
  (void)argc;
  return argv; /* bytes as given: cshm checks keys are UTF-8 */
}

const char *ts_shm_path(const char *key) {
  static char path[1100];
  char native[1024];
  if (cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT) != CSHM_OK)
    return NULL;
  snprintf(path, sizeof path, "/dev/shm%s", native);
  return path;
}

bool ts__os_leftover(const char *native) {
  char path[1100];
  snprintf(path, sizeof path, "/dev/shm%s", native);
  if (access(path, F_OK) != 0)
    return false;
  fprintf(stderr, "leftover segment: %s\n", path);
  unlink(path);
  return true;
}

int ts_sidecars_left(const char *native) {
#if CSHM_TEST_PORTABLE
  static const char *const suffixes[] = {".live", ".admin"};
  int left = 0;
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char path[600];
    cshm__diag d;
    if (cshm__sidecar_path(native, suffixes[i], path, sizeof path, &d) != CSHM_OK) {
      fprintf(stderr, "no sidecar path for %s: %s: %s\n", native, d.what, d.why);
      left++;
    } else if (access(path, F_OK) == 0) {
      fprintf(stderr, "leftover sidecar %s of %s\n", path, native);
      unlink(path);
      left++;
    }
  }
  return left;
#else
  (void)native;
  return 0;
#endif
}

/* The helper runs as nobody from a copy in a world-readable directory: the build
 * tree may sit under a directory nobody cannot enter. */
static const char *helper_for_nobody(void) {
  static char copy[256];
  if (copy[0] != '\0')
    return copy;
  char dir[] = "/tmp/cshm-test-XXXXXX";
  if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
    return NULL;
  snprintf(copy, sizeof copy, "%s/helper", dir);
  int in = open(getenv("CSHM_TEST_HELPER"), O_RDONLY | O_CLOEXEC);
  int out = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  char buf[65536];
  ssize_t n;
  while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n)
      break;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  return copy;
}

static void remove_nobody_copy(void) {
  const char *copy = helper_for_nobody();
  if (copy == NULL)
    return;
  unlink(copy);
  char dir[256];
  snprintf(dir, sizeof dir, "%s", copy);
  *strrchr(dir, '/') = '\0';
  rmdir(dir);
}

bool ts_spawn(ts_child *c, const char *stop_at, bool run_as_nobody, const char *const argv[]) {
  const char *helper = getenv("CSHM_TEST_HELPER");
  if (helper == NULL) {
    fprintf(stderr, "CSHM_TEST_HELPER is not set\n");
    return false;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return false;
  /* The child's end must survive exec: clear its close-on-exec flag in a dup. */
  int child_end = dup(sv[1]);
  close(sv[1]);
  char fd_env[64], stop_env[128];
  snprintf(fd_env, sizeof fd_env, "CSHM_TEST_FD=%d", child_end);
  snprintf(stop_env, sizeof stop_env, "CSHM_TEST_STOP=%s", stop_at != NULL ? stop_at : "");

  const char *args[64];
  int n = 0;
  if (run_as_nobody) {
    static bool cleanup_registered;
    if (!cleanup_registered) {
      atexit(remove_nobody_copy);
      cleanup_registered = true;
    }
    helper = helper_for_nobody();
    args[n++] = "setpriv";
    args[n++] = "--reuid=nobody";
    args[n++] = "--regid=nogroup";
    args[n++] = "--clear-groups";
    args[n++] = "--";
  }
  args[n++] = helper;
  for (int i = 0; argv[i] != NULL && n < 63; i++)
    args[n++] = argv[i];
  args[n] = NULL;

  int envc = 0;
  while (environ[envc] != NULL)
    envc++;
  char **env = calloc((size_t)envc + 3, sizeof *env);
  int e = 0;
  for (int i = 0; i < envc; i++)
    if (strncmp(environ[i], "CSHM_TEST_FD=", 13) != 0 && strncmp(environ[i], "CSHM_TEST_STOP=", 15) != 0)
      env[e++] = environ[i];
  env[e++] = fd_env;
  env[e++] = stop_env;
  env[e] = NULL;

  int rc = posix_spawnp(&c->pid, args[0], NULL, NULL, (char *const *)args, env);
  free(env);
  close(child_end);
  if (rc != 0) {
    close(sv[0]);
    fprintf(stderr, "posix_spawn %s: %s\n", args[0], strerror(rc));
    return false;
  }
  c->ctl = sv[0];
  return true;
}

bool ts_expect(ts_child *c, const char *line) {
  char got[128];
  size_t n = 0;
  while (n + 1 < sizeof got) {
    char ch;
    ssize_t r = read(c->ctl, &ch, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    if (ch == '\n') {
      got[n] = '\0';
      if (strcmp(got, line) != 0)
        fprintf(stderr, "child said \"%s\", expected \"%s\"\n", got, line);
      return strcmp(got, line) == 0;
    }
    got[n++] = ch;
  }
  fprintf(stderr, "child closed its control socket before \"%s\"\n", line);
  return false;
}

void ts_resume(ts_child *c) {
  if (write(c->ctl, "g", 1) != 1)
    perror("resume child");
}

static void close_ctl(ts_child *c) {
  if (c->ctl >= 0)
    close(c->ctl);
  c->ctl = -1;
}

void ts_kill(ts_child *c) {
  kill(c->pid, SIGKILL);
  ts_wait(c);
}

int ts_wait(ts_child *c) {
  int status;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
  }
  close_ctl(c);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ts_run(const char *const argv[]) {
  ts_child c;
  if (!ts_spawn(&c, NULL, false, argv))
    return -1;
  return ts_wait(&c);
}

void ts_say_and_wait(const char *what) {
  const char *fd_text = getenv("CSHM_TEST_FD");
  if (fd_text == NULL)
    return;
  int fd = atoi(fd_text);
  char line[64];
  int n = snprintf(line, sizeof line, "%s\n", what);
  char go;
  if (write(fd, line, (size_t)n) != n || read(fd, &go, 1) != 1)
    exit(3);
}

void ts_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool ts_getenv(const char *name, char *buf, size_t cap) {
  const char *value = getenv(name);
  if (value == NULL || strlen(value) >= cap)
    return false;
  memcpy(buf, value, strlen(value) + 1);
  return true;
}

unsigned long long ts_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000u + (unsigned long long)ts.tv_nsec / 1000000u;
}
