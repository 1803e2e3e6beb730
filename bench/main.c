/* cshm_bench: the benchmark of issue 8 (DESIGN.md §9).
 *
 *   cshm_bench run SECTION|all [--smoke] [--no-baselines] [--no-qt]
 *       measures and writes JSON lines to standard output, progress to standard error
 *   cshm_bench report [--json-out FILE] FILE...
 *       reads the JSON lines of one run (both profiles) and prints the table
 *
 * bench/run.sh runs both profiles and reports: see README, "Benchmarks". */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#include "bench.h"

#ifndef CSHM_BENCH_PROFILE
#define CSHM_BENCH_PROFILE "default"
#endif

static void on_signal(int sig) {
  (void)sig;
  bench_interrupted = 1;
}

/* The watchdog: a section that overruns its budget (a hang in the library under
 * test, say) is abandoned, and the cleanup still runs. */
static sigjmp_buf watchdog_jump;
static void on_alarm(int sig) {
  (void)sig;
  bench_interrupted = 1;
  siglongjmp(watchdog_jump, 1);
}

/* The portable profile keeps its sidecar files in $XDG_RUNTIME_DIR/cshm: a private
 * directory on the same file system as the fallback one (/tmp; another base with
 * CSHM_BENCH_SIDECAR_BASE) keeps ours apart from everyone else's, so that leftovers
 * can be seen and removed. */
static char sidecar_root[128];

static void private_sidecars(void) {
  const char *base = getenv("CSHM_BENCH_SIDECAR_BASE"); /* e.g. a tmpfs, to compare */
  snprintf(sidecar_root, sizeof sidecar_root, "%s/cshm-bench-%s-XXXXXX",
           base != NULL && base[0] == '/' ? base : "/tmp", cfg.run_id);
  if (mkdtemp(sidecar_root) == NULL) {
    sidecar_root[0] = '\0';
    return;
  }
  setenv("XDG_RUNTIME_DIR", sidecar_root, 1);
}

/* Removes the private sidecar directory; counts the files that should not be there
 * (every segment's sidecars go with it; only the per-user "tokens" file stays). */
static int remove_sidecars(void) {
  if (sidecar_root[0] == '\0')
    return 0;
  char dir[200], path[512];
  snprintf(dir, sizeof dir, "%s/cshm", sidecar_root);
  int left = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    if (strcmp(e->d_name, "tokens") != 0) {
      note("cleanup: sidecar file %s was left behind", e->d_name);
      left++;
    }
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
  rmdir(dir);
  rmdir(sidecar_root);
  return left;
}

static void cpu_model(char *out, size_t cap) {
  snprintf(out, cap, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL)
    return;
  char line[256];
  while (fgets(line, sizeof line, f) != NULL) {
    char *colon = strchr(line, ':');
    if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
      snprintf(out, cap, "%s", colon + 2);
      out[strcspn(out, "\n")] = '\0';
      break;
    }
  }
  fclose(f);
}

int section_meta(void) {
  struct utsname u;
  uname(&u);
  char cpu[128], date[64], kernel[200];
  cpu_model(cpu, sizeof cpu);
  time_t t = time(NULL);
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
  snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
  const char *why = "";
  bool qt = cfg.qt && qt_available(&why);
  json_begin("meta", cfg.profile, "machine");
  json_str("cpu", cpu);
  json_int("cores", sysconf(_SC_NPROCESSORS_ONLN));
  json_str("kernel", kernel);
#if defined(__GLIBC__)
  json_str("libc", gnu_get_libc_version());
#endif
  json_str("compiler", __VERSION__);
  json_str("cshm", cshm_version_string());
  json_str("mode", cfg.smoke ? "smoke" : "full");
  json_str("date", date);
  json_int("qt_legacy", qt);
  json_end();
  return 0;
}

typedef struct section_entry {
  const char *name;
  int (*fn)(void);
} section_entry;

static const section_entry sections[] = {
    {"meta", section_meta},           {"lock", section_lock},
    {"trylock", section_trylock},
    {"handoff", section_handoff},     {"contention", section_contention},
    {"wake", section_wake},           {"lifecycle", section_lifecycle},
    {"big", section_big},             {"many", section_many},
    {"key", section_key},             {"notify", section_notify},
    {"idle", section_idle},
};
#define SECTION_COUNT (sizeof sections / sizeof sections[0])

static int usage(void) {
  fprintf(stderr, "usage: cshm_bench run SECTION|all [--smoke] [--no-baselines] [--no-qt] "
                  "[--only IMPL]\n"
                  "       cshm_bench report [--json-out FILE] FILE...\n"
                  "sections:");
  for (size_t i = 0; i < SECTION_COUNT; i++)
    fprintf(stderr, " %s", sections[i].name);
  fprintf(stderr, "\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "report") == 0)
    return report_main(argc - 2, argv + 2);
  if (argc < 3 || strcmp(argv[1], "run") != 0)
    return usage();
  cfg.profile = CSHM_BENCH_PROFILE;
  cfg.baselines = true;
  cfg.qt = true;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0)
      cfg.smoke = true;
    else if (strcmp(argv[i], "--no-baselines") == 0)
      cfg.baselines = false;
    else if (strcmp(argv[i], "--no-qt") == 0)
      cfg.qt = false;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      cfg.only = argv[++i];
    else
      return usage();
  }
  const char *which = argv[2];
  bool all = strcmp(which, "all") == 0, found = all;
  for (size_t i = 0; i < SECTION_COUNT; i++)
    found = found || strcmp(which, sections[i].name) == 0;
  if (!found)
    return usage();

  unsigned short rnd = 0;
  if (getentropy(&rnd, sizeof rnd) != 0)
    rnd = (unsigned short)time(NULL);
  snprintf(cfg.run_id, sizeof cfg.run_id, "%d-%04x", (int)getpid(), rnd);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  const char *why;
  if (cfg.qt && qt_available(&why))
    qt_prepare();
  if (strcmp(cfg.profile, "portable") == 0)
    private_sidecars();

  const unsigned budget_s = cfg.smoke ? 120 : 600; /* per section */
  struct sigaction alarm_action;
  memset(&alarm_action, 0, sizeof alarm_action);
  alarm_action.sa_handler = on_alarm;
  sigaction(SIGALRM, &alarm_action, NULL);
  int failed = 0;
  static volatile size_t current; /* survives the watchdog's jump */
  for (current = 0; current < SECTION_COUNT && !bench_interrupted; current++) {
    if (!all && strcmp(which, sections[current].name) != 0)
      continue;
    if (sigsetjmp(watchdog_jump, 1) != 0) {
      note("watchdog: section %s overran %u s and was abandoned", sections[current].name,
           budget_s);
      failed++;
      break;
    }
    alarm(budget_s);
    failed += sections[current].fn() > 0;
    alarm(0);
  }
  signal(SIGALRM, SIG_DFL);
  alarm(60); /* the cleanup itself may not hang forever either */

  int leftovers = bench_cleanup() + qt_cleanup() + remove_sidecars();
  if (leftovers > 0) {
    json_begin("cleanup", cfg.profile, "leftovers");
    json_num("value", leftovers);
    json_str("unit", "objects");
    json_end();
  }
  alarm(0);
  if (bench_interrupted) {
    note("interrupted: cleaned up, exiting");
    return failed > 0 ? 1 : 130;
  }
  return failed > 0 ? 1 : 0;
}
