/* Peers: spawning, line I/O with bounded waits, and hex helpers. */
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char **child_environment(const char *tmpdir) {
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **env = calloc(n + 2, sizeof *env);
  if (env == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TMPDIR=", 7) != 0)
      env[k++] = environ[i];
  if (tmpdir != NULL) {
    size_t len = strlen(tmpdir) + 8;
    env[k] = malloc(len);
    if (env[k] == NULL) {
      free(env);
      return NULL;
    }
    snprintf(env[k], len, "TMPDIR=%s", tmpdir);
    k++;
  }
  env[k] = NULL;
  return env;
}

bool peer_start(peer *p, const char *label, const char *const argv[], const char *tmpdir,
                const char *input) {
  memset(p, 0, sizeof *p);
  p->to = p->from = -1;
  p->pid = -1;
  snprintf(p->label, sizeof p->label, "%s", label);
  signal(SIGPIPE, SIG_IGN); /* a dead peer must fail a test, not kill the driver */
  int in[2] = {-1, -1}, out[2];
  if ((input == NULL && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0)
    return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (input != NULL)
    posix_spawn_file_actions_addopen(&fa, 0, input, O_RDONLY, 0);
  else
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  char **env = child_environment(tmpdir);
  int rc = env != NULL ? posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv, env) : ENOMEM;
  posix_spawn_file_actions_destroy(&fa);
  if (env != NULL) {
    for (char **e = env; *e != NULL; e++)
      if (strncmp(*e, "TMPDIR=", 7) == 0)
        free(*e);
    free(env);
  }
  if (input == NULL)
    close(in[0]);
  close(out[1]);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot start %s: %s\n", label, argv[0], strerror(rc));
    if (input == NULL)
      close(in[1]);
    close(out[0]);
    p->pid = -1;
    return false;
  }
  p->to = input == NULL ? in[1] : -1;
  p->from = out[0];
  return true;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 0)))
#endif
static void vsend(peer *p, const char *fmt, va_list ap) {
  char line[1 << 16];
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  if (n < 0 || (size_t)n >= sizeof line - 1)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  for (size_t done = 0; done < (size_t)n && p->to >= 0;) {
    ssize_t w = write(p->to, line + done, (size_t)n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    done += (size_t)w;
  }
}

void peer_send(peer *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsend(p, fmt, ap);
  va_end(ap);
}

static bool take_line(peer *p) {
  char *nl = memchr(p->buf, '\n', p->len);
  if (nl == NULL)
    return false;
  size_t n = (size_t)(nl - p->buf);
  memcpy(p->line, p->buf, n);
  p->line[n] = '\0';
  p->len -= n + 1;
  memmove(p->buf, nl + 1, p->len);
  return true;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads whatever is there within `ms`; false on EOF, timeout or error. */
static bool fill(peer *p, int ms) {
  if (p->from < 0 || p->len == sizeof p->buf)
    return false;
  struct pollfd pfd = {.fd = p->from, .events = POLLIN};
  int r;
  while ((r = poll(&pfd, 1, ms)) < 0 && errno == EINTR) {
  }
  if (r <= 0)
    return false;
  ssize_t got;
  while ((got = read(p->from, p->buf + p->len, sizeof p->buf - p->len)) < 0 && errno == EINTR) {
  }
  if (got <= 0)
    return false;
  p->len += (size_t)got;
  return true;
}

const char *peer_wait(peer *p) {
  int64_t deadline = now_ms() + PEER_WAIT_MS;
  while (!take_line(p)) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      fprintf(stderr, "%s: no reply within %d ms\n", p->label, PEER_WAIT_MS);
      return "<timeout>";
    }
    if (!fill(p, (int)left)) {
      if (now_ms() >= deadline)
        return "<timeout>";
      return "<eof>";
    }
  }
  return p->line;
}

const char *peer_call(peer *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsend(p, fmt, ap);
  va_end(ap);
  return peer_wait(p);
}

bool peer_has_reply(peer *p) {
  if (memchr(p->buf, '\n', p->len) != NULL)
    return true;
  fill(p, 0);
  return memchr(p->buf, '\n', p->len) != NULL;
}

/* Waits (bounded) for the peer to exit: it closes its output when it does. */
static int reap(peer *p, int wait_ms) {
  int64_t deadline = now_ms() + wait_ms;
  while (p->from >= 0) {
    int64_t left = deadline - now_ms();
    p->len = 0; /* replies nobody asked for are dropped */
    if (left <= 0 || !fill(p, (int)left)) {
      if (now_ms() >= deadline) {
        fprintf(stderr, "%s: did not exit within %d ms: killed\n", p->label, wait_ms);
        kill(p->pid, SIGKILL);
      }
      break;
    }
  }
  int status;
  while (waitpid(p->pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void close_pipes(peer *p) {
  if (p->to >= 0)
    close(p->to);
  if (p->from >= 0)
    close(p->from);
  p->to = p->from = -1;
}

int peer_stop(peer *p) {
  if (p->pid <= 0)
    return -1;
  peer_send(p, "exit");
  if (p->to >= 0) {
    close(p->to);
    p->to = -1;
  }
  int status = reap(p, PEER_WAIT_MS);
  close_pipes(p);
  p->pid = -1;
  return status;
}

void peer_kill(peer *p) {
  if (p->pid <= 0)
    return;
  kill(p->pid, SIGKILL);
  int status;
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
  }
  close_pipes(p);
  p->pid = -1;
}

const char *hex_of(const void *data, size_t n) {
  static char ring[16][1 << 15];
  static unsigned next;
  char *out = ring[next++ % 16];
  const unsigned char *b = data;
  if (2 * n + 1 > sizeof ring[0])
    n = (sizeof ring[0] - 1) / 2;
  for (size_t i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", b[i]);
  out[2 * n] = '\0';
  return out;
}

const char *hex_str(const char *s) { return hex_of(s, strlen(s)); }

size_t unhex(const char *hex, char *out, size_t cap) {
  size_t n = 0;
  for (; hex[0] && hex[1] && n + 1 < cap; hex += 2) {
    unsigned v;
    if (sscanf(hex, "%2x", &v) != 1)
      break;
    out[n++] = (char)v;
  }
  out[n] = '\0';
  return n;
}

bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}
