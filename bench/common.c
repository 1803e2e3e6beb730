/* Time, statistics, JSON lines, the cleanup registry and child processes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

bench_config cfg;
volatile sig_atomic_t bench_interrupted;

/* ---- time and statistics -------------------------------------------------------- */

double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void sleep_ns(double ns) {
  if (ns <= 0)
    return;
  struct timespec ts = {(time_t)(ns / 1e9), (long)fmod(ns, 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !bench_interrupted) {
  }
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double quantile_of(double *v, int n, double q) {
  if (n <= 0)
    return NAN;
  qsort(v, (size_t)n, sizeof *v, compare_doubles);
  double pos = q * (double)(n - 1);
  int lo = (int)pos;
  if (lo >= n - 1)
    return v[n - 1];
  double frac = pos - (double)lo;
  return v[lo] + (v[lo + 1] - v[lo]) * frac;
}

double median_of(double *v, int n) { return quantile_of(v, n, 0.5); }

double min_of(const double *v, int n) {
  double m = INFINITY;
  for (int i = 0; i < n; i++)
    if (v[i] < m)
      m = v[i];
  return m;
}

long minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL)
    return -1;
  int n = 0, c;
  while ((c = getc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

long shmem_kib(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  if (f == NULL)
    return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "Shmem: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

/* ---- JSON lines ------------------------------------------------------------------- */

static char json_line[4096];
static size_t json_len;

static void json_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void json_raw(const char *fmt, ...) {
  if (json_len >= sizeof json_line)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(json_line + json_len, sizeof json_line - json_len, fmt, ap);
  va_end(ap);
  if (n > 0)
    json_len += (size_t)n;
}

static void json_quoted(const char *s) {
  json_raw("\"");
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      json_raw("\\%c", c);
    else if (c < 0x20)
      json_raw("\\u%04x", c);
    else
      json_raw("%c", c);
  }
  json_raw("\"");
}

void json_begin(const char *bench, const char *impl_id, const char *metric) {
  json_len = 0;
  json_raw("{\"bench\":");
  json_quoted(bench);
  json_raw(",\"impl\":");
  json_quoted(impl_id);
  json_raw(",\"metric\":");
  json_quoted(metric);
}

void json_num(const char *key, double v) {
  json_raw(",");
  json_quoted(key);
  if (isfinite(v))
    json_raw(":%.6g", v);
  else
    json_raw(":null");
}

void json_int(const char *key, long long v) {
  json_raw(",");
  json_quoted(key);
  json_raw(":%lld", v);
}

void json_str(const char *key, const char *v) {
  json_raw(",");
  json_quoted(key);
  json_raw(":");
  json_quoted(v);
}

void json_end(void) {
  json_raw("}\n");
  fputs(json_line, stdout);
  fflush(stdout);
  json_len = 0;
}

void emit_na(const char *bench, const char *impl_id, const char *metric, const char *why) {
  json_begin(bench, impl_id, metric);
  json_str("na", why);
  json_end();
}

void note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[cshm_bench %s] ", cfg.profile);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- cleanup registry --------------------------------------------------------------- */

typedef struct reg_entry {
  int kind; /* 0 raw shm name, 1 semaphore, 2 cshm key */
  cshm_key_type type;
  int semid;
  char *name;
} reg_entry;

static reg_entry *reg;
static size_t reg_count, reg_cap;

static void reg_push(int kind, const char *name, cshm_key_type t, int semid) {
  if (reg_count == reg_cap) {
    size_t cap = reg_cap ? reg_cap * 2 : 64;
    reg_entry *p = realloc(reg, cap * sizeof *p);
    if (p == NULL) {
      note("out of memory in the cleanup registry");
      abort();
    }
    reg = p;
    reg_cap = cap;
  }
  reg_entry *e = &reg[reg_count++];
  e->kind = kind;
  e->type = t;
  e->semid = semid;
  e->name = name != NULL ? strdup(name) : NULL;
}

/* Removes the most recent matching entry (entries go in LIFO order, mostly). */
static void reg_pop(int kind, const char *name, cshm_key_type t, int semid) {
  for (size_t i = reg_count; i-- > 0;) {
    reg_entry *e = &reg[i];
    if (e->kind != kind || e->type != t || e->semid != semid)
      continue;
    if ((name == NULL) != (e->name == NULL) || (name != NULL && strcmp(name, e->name) != 0))
      continue;
    free(e->name);
    reg[i] = reg[--reg_count];
    return;
  }
}

void reg_raw_shm(const char *name) { reg_push(0, name, CSHM_KEY_DEFAULT, 0); }
void unreg_raw_shm(const char *name) { reg_pop(0, name, CSHM_KEY_DEFAULT, 0); }
void reg_sem(int semid) { reg_push(1, NULL, CSHM_KEY_DEFAULT, semid); }
void unreg_sem(int semid) { reg_pop(1, NULL, CSHM_KEY_DEFAULT, semid); }
void reg_key(const char *key, cshm_key_type t) { reg_push(2, key, t, 0); }
void unreg_key(const char *key, cshm_key_type t) { reg_pop(2, key, t, 0); }

bool key_exists(const char *key, cshm_key_type t) {
  char native[512], path[600];
  if (cshm_native_key_for(native, sizeof native, key, t) != CSHM_OK)
    return false;
  if (t == CSHM_KEY_DEFAULT)
    snprintf(path, sizeof path, "/dev/shm%s", native); /* glibc's shm_open directory */
  else
    snprintf(path, sizeof path, "%s", native); /* Qt legacy: the key file */
  return access(path, F_OK) == 0;
}

int bench_cleanup(void) {
  int removed = 0;
  while (reg_count > 0) {
    reg_entry *e = &reg[--reg_count];
    switch (e->kind) {
    case 0:
      if (shm_unlink(e->name) == 0) {
        note("cleanup: removed raw segment %s left by an interrupted section", e->name);
        removed++;
      }
      break;
    case 1:
      if (semctl(e->semid, 0, IPC_RMID) == 0) {
        note("cleanup: removed semaphore set %d left by an interrupted section", e->semid);
        removed++;
      }
      break;
    default:
      if (cshm_remove(e->name, e->type) == CSHM_OK) {
        note("cleanup: removed segment of key %s left by an interrupted section", e->name);
        removed++;
      }
      break;
    }
    free(e->name);
  }
  return removed;
}

void make_key(char *buf, size_t cap, const char *what, int n) {
  snprintf(buf, cap, "cshm-bench-%s-%s-%d", cfg.run_id, what, n);
}

/* ---- child processes ------------------------------------------------------------- */

control *control_new(void) {
  void *p = mmap(NULL, sizeof(control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  memset(p, 0, sizeof(control));
  return p;
}

void control_free(control *c) {
  if (c != NULL)
    munmap(c, sizeof *c);
}

pid_t spawn_child(int (*fn)(int index, void *arg), int index, void *arg, unsigned timeout_s) {
  pid_t parent = getpid();
  fflush(NULL); /* nothing buffered is written twice */
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  /* The child: dies with its parent, and after its time budget. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(3);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGALRM, SIG_DFL); /* not the parent's watchdog: just die */
  alarm(timeout_s);
  int rc = fn(index, arg);
  fflush(NULL);
  _exit(rc == 0 ? 0 : 1);
}

int reap_children(const pid_t *pids, int n, double timeout_s) {
  int failed = 0;
  bool done[MAX_CHILDREN * 2] = {false};
  int left = 0;
  for (int i = 0; i < n; i++) {
    if (pids[i] <= 0) {
      done[i] = true;
      failed++;
    } else {
      left++;
    }
  }
  double deadline = now_ns() + timeout_s * 1e9;
  while (left > 0) {
    for (int i = 0; i < n; i++) {
      if (done[i])
        continue;
      int status;
      pid_t r = waitpid(pids[i], &status, WNOHANG);
      if (r == pids[i] || (r < 0 && errno == ECHILD)) {
        done[i] = true;
        left--;
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
          failed++;
          if (r == pids[i] && WIFSIGNALED(status))
            note("child %d died of signal %d", (int)pids[i], WTERMSIG(status));
        }
      }
    }
    if (left == 0)
      break;
    if (now_ns() > deadline) {
      for (int i = 0; i < n; i++) {
        if (!done[i]) {
          note("child %d overran its time budget: killed", (int)pids[i]);
          kill(pids[i], SIGKILL);
          waitpid(pids[i], NULL, 0);
          done[i] = true;
          failed++;
        }
      }
      break;
    }
    sleep_ns(200e3);
  }
  return failed;
}

bool wait_flag(_Atomic int *flag, int want, double poll_ns, double timeout_s) {
  double deadline = now_ns() + timeout_s * 1e9;
  while (atomic_load_explicit(flag, memory_order_acquire) < want) {
    if (bench_interrupted || now_ns() > deadline)
      return false;
    if (poll_ns > 0)
      sleep_ns(poll_ns);
  }
  return true;
}
