/* The report: reads the JSON lines of one run (both profiles: bench/run.sh) and prints
 * one table per section, with ratios against the baselines, then the targets of
 * issue 8 §3 as MET / MISSED. With --json-out, the targets are appended there as
 * JSON lines too. The JSON is our own flat format: one object per line, string and
 * number values. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MIB (1024.0 * 1024.0)

/* ---- reading ------------------------------------------------------------------- */

#define MAX_FIELDS 32

typedef struct record {
  int n;
  char *key[MAX_FIELDS];
  char *val[MAX_FIELDS];
  bool str[MAX_FIELDS];
} record;

static record *recs;
static size_t nrecs, caprecs;

/* Parses a JSON string at *p (after the opening quote) into a new string. */
static char *parse_string(const char **p) {
  size_t cap = strlen(*p) + 1, n = 0;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
  const char *s = *p;
  while (*s != '\0' && *s != '"') {
    if (*s == '\\' && s[1] != '\0') {
      s++;
      if (*s == 'u' && strlen(s) >= 5) {
        out[n++] = (char)strtol((char[]){s[1], s[2], s[3], s[4], 0}, NULL, 16);
        s += 5;
        continue;
      }
      out[n++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
      s++;
      continue;
    }
    out[n++] = *s++;
  }
  out[n] = '\0';
  *p = *s == '"' ? s + 1 : s;
  return out;
}

static void skip_space(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
    (*p)++;
}

static bool parse_line(const char *line, record *r) {
  memset(r, 0, sizeof *r);
  const char *p = line;
  skip_space(&p);
  if (*p++ != '{')
    return false;
  for (;;) {
    skip_space(&p);
    if (*p == '}')
      return r->n > 0;
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p++ != '"' || r->n == MAX_FIELDS)
      return false;
    char *key = parse_string(&p);
    skip_space(&p);
    if (key == NULL || *p++ != ':') {
      free(key);
      return false;
    }
    skip_space(&p);
    char *val;
    bool str = *p == '"';
    if (str) {
      p++;
      val = parse_string(&p);
    } else {
      size_t len = strcspn(p, ",}");
      val = strndup(p, len);
      while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\n'))
        val[--len] = '\0';
      p += strcspn(p, ",}");
    }
    r->key[r->n] = key;
    r->val[r->n] = val;
    r->str[r->n] = str;
    r->n++;
  }
}

static int read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "cshm_bench report: cannot read %s\n", path);
    return -1;
  }
  char line[8192];
  while (fgets(line, sizeof line, f) != NULL) {
    record r;
    if (!parse_line(line, &r))
      continue;
    if (nrecs == caprecs) {
      caprecs = caprecs ? caprecs * 2 : 256;
      recs = realloc(recs, caprecs * sizeof *recs);
      if (recs == NULL)
        abort();
    }
    recs[nrecs++] = r;
  }
  fclose(f);
  return 0;
}

static const char *field(const record *r, const char *key) {
  if (r == NULL)
    return NULL;
  for (int i = 0; i < r->n; i++)
    if (strcmp(r->key[i], key) == 0)
      return r->val[i];
  return NULL;
}

/* The last record of (bench, impl, metric): a later line replaces an earlier one. */
static const record *find(const char *bench, const char *impl_id, const char *metric) {
  for (size_t i = nrecs; i-- > 0;) {
    const char *b = field(&recs[i], "bench"), *im = field(&recs[i], "impl"),
               *m = field(&recs[i], "metric");
    if (b && im && m && strcmp(b, bench) == 0 && strcmp(im, impl_id) == 0 &&
        strcmp(m, metric) == 0)
      return &recs[i];
  }
  return NULL;
}

/* Whether the run measured the section. */
static bool has_bench(const char *bench) {
  for (size_t i = 0; i < nrecs; i++) {
    const char *b = field(&recs[i], "bench");
    if (b != NULL && strcmp(b, bench) == 0)
      return true;
  }
  return false;
}

/* A number field, NAN when absent, null or not a number. */
static double num(const record *r, const char *key) {
  const char *v = field(r, key);
  if (v == NULL || strcmp(v, "null") == 0)
    return NAN;
  char *end;
  double d = strtod(v, &end);
  return end == v ? NAN : d;
}

static double val(const char *bench, const char *impl_id, const char *metric, const char *key) {
  return num(find(bench, impl_id, metric), key);
}

/* ---- printing ------------------------------------------------------------------- */

static FILE *json_out;

typedef struct row_def {
  const char *id;
  const char *label;
} row_def;

static const row_def lock_rows[] = {
    {"raw-spin", "raw spin lock (floor)"}, {"raw-robust", "raw robust mutex"},
    {"raw-sysv", "raw SysV semop (Qt)"},   {"cshm-default", "cshm default"},
    {"cshm-portable", "cshm portable"},    {"cshm-qt-legacy", "cshm Qt legacy"},
};
static const row_def seg_rows[] = {
    {"raw-shm", "raw shm_open/mmap"},   {"cshm-default", "cshm default"},
    {"cshm-portable", "cshm portable"}, {"cshm-qt-legacy", "cshm Qt legacy"},
};
#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* A cell: the number with `decimals` decimals, or "-" when unknown. */
static void cell(int width, double v, int decimals) {
  if (isnan(v))
    printf(" %*s", width, "-");
  else if (isinf(v))
    printf(" %*s", width, "inf");
  else
    printf(" %*.*f", width, decimals, v);
}

/* Prints the row's label; if the row is n/a or missing, says so and returns false. */
static bool row_start(const char *bench, const row_def *row, const char *metric) {
  const record *r = find(bench, row->id, metric);
  if (r == NULL)
    return false;
  printf("  %-24s", row->label);
  const char *na = field(r, "na");
  if (na != NULL) {
    printf(" n/a: %s\n", na);
    return false;
  }
  return true;
}

static double ratio(double a, double b) { return (isnan(a) || isnan(b) || b == 0) ? NAN : a / b; }

static void heading(const char *title, const char *columns) {
  printf("\n%s\n  %-24s%s\n", title, "implementation", columns);
}

/* ---- sections ------------------------------------------------------------------- */

static void print_lock(void) {
  const record *any = find("lock", "cshm-default", "pair");
  char title[200];
  snprintf(title, sizeof title,
           "lock: uncontended lock+unlock pair, %.0f pairs x %.0f runs (ns per pair)",
           num(any, "pairs"), num(any, "reps"));
  heading(title, "   median     best  x robust  SysV/this  x default");
  double robust = val("lock", "raw-robust", "pair", "value");
  double sysv = val("lock", "raw-sysv", "pair", "value");
  double dflt = val("lock", "cshm-default", "pair", "value");
  for (size_t i = 0; i < NROWS(lock_rows); i++) {
    if (!row_start("lock", &lock_rows[i], "pair"))
      continue;
    double v = val("lock", lock_rows[i].id, "pair", "value");
    cell(8, v, 1);
    cell(8, val("lock", lock_rows[i].id, "pair", "best"), 1);
    cell(9, ratio(v, robust), 2);
    cell(10, ratio(sysv, v), 1);
    if (strncmp(lock_rows[i].id, "cshm-", 5) == 0 && strcmp(lock_rows[i].id, "cshm-default"))
      cell(10, ratio(v, dflt), 2);
    printf("\n");
  }
}

static void print_trylock(void) {
  const record *any = find("trylock", "cshm-default", "fail");
  char title[240];
  snprintf(title, sizeof title,
           "try-lock failure: a try-lock on a lock another process holds, %.0f tries x %.0f "
           "runs (ns per failed try)",
           num(any, "polls"), num(any, "reps"));
  heading(title, "   median     best  x robust");
  double robust = val("trylock", "raw-robust", "fail", "value");
  for (size_t i = 0; i < NROWS(lock_rows); i++) {
    if (!row_start("trylock", &lock_rows[i], "fail"))
      continue;
    double v = val("trylock", lock_rows[i].id, "fail", "value");
    cell(8, v, 1);
    cell(8, val("trylock", lock_rows[i].id, "fail", "best"), 1);
    cell(9, ratio(v, robust), 2);
    printf("\n");
  }
}

static void print_handoff_metric(const char *metric, const char *how) {
  const record *any = find("handoff", "cshm-default", metric);
  char title[300];
  snprintf(title, sizeof title,
           "handoff (%s): 2 processes in strict alternation, %.0f handoffs each, %s (ns per "
           "handoff)",
           metric, num(any, "expected") / 2, how);
  heading(title, "   median     best  x robust  SysV/this  locks/handoff  counter check");
  double robust = val("handoff", "raw-robust", metric, "value");
  double sysv = val("handoff", "raw-sysv", metric, "value");
  for (size_t i = 0; i < NROWS(lock_rows); i++) {
    if (!row_start("handoff", &lock_rows[i], metric))
      continue;
    const record *r = find("handoff", lock_rows[i].id, metric);
    double v = num(r, "value");
    cell(8, v, 0);
    cell(8, num(r, "best"), 0);
    cell(9, ratio(v, robust), 2);
    cell(10, ratio(sysv, v), 1);
    cell(14, num(r, "polls_per_handoff"), 1);
    printf("  %s %.0f/%.0f%s\n", num(r, "ok") == 1 ? "ok" : "FAILED", num(r, "counter"),
           num(r, "expected"), num(r, "complete") == 1 ? "" : " (time budget hit)");
  }
}

static void print_handoff(void) {
  print_handoff_metric("handoff", "each polls its turn under the lock (issue 8's handoff)");
  print_handoff_metric("transfer", "each waits for its turn, then locks once");
}

static void print_contention(void) {
  heading("contention: N processes hammering one lock for 1 s (M ops/s; fairness = max/min "
          "acquisitions per process)",
          "  N=2 Mops/s  max/min  N=4 Mops/s  max/min  N=8 Mops/s  max/min  x robust(N=8)");
  double robust8 = val("contention", "raw-robust", "procs8", "value");
  for (size_t i = 0; i < NROWS(lock_rows); i++) {
    if (!row_start("contention", &lock_rows[i], "procs2"))
      continue;
    bool ok = true;
    for (int n = 2; n <= 8; n *= 2) {
      char metric[16];
      snprintf(metric, sizeof metric, "procs%d", n);
      const record *r = find("contention", lock_rows[i].id, metric);
      cell(11, num(r, "value") / 1e6, 3);
      double fair = num(r, "fairness");
      if (r != NULL && isnan(fair) && field(r, "fairness") != NULL)
        fair = INFINITY; /* a process got no acquisition */
      cell(8, fair, fair < 10 ? 2 : 0);
      ok = ok && num(r, "ok") == 1;
    }
    cell(14, ratio(val("contention", lock_rows[i].id, "procs8", "value"), robust8), 2);
    printf("%s\n", ok ? "" : "  FAILED (exclusion)");
  }
}

static void print_wake(void) {
  heading("wake: unlock -> return of a waiter that waited 2 ms (us)",
          "   median      p90      p99     best  x robust  waiter asleep");
  double robust = val("wake", "raw-robust", "wake", "value");
  for (size_t i = 0; i < NROWS(lock_rows); i++) {
    if (!row_start("wake", &lock_rows[i], "wake"))
      continue;
    const record *r = find("wake", lock_rows[i].id, "wake");
    double v = num(r, "value");
    cell(8, v, 1);
    cell(8, num(r, "p90"), 1);
    cell(8, num(r, "p99"), 1);
    cell(8, num(r, "best"), 1);
    cell(9, ratio(v, robust), 2);
    printf("  %3.0f/%.0f rounds%s\n", num(r, "asleep"), num(r, "rounds"),
           num(r, "ok") == 1 ? "" : "  FAILED");
  }
}

static const row_def wait_rows[] = {
    {"raw-futex", "raw futex (bare)"},
    {"raw-futex-mutex", "raw futex+robust mutex"},
    {"cshm-default", "cshm default wait"},
    {"cshm-default-event", "cshm default event"},
    {"cshm-portable", "cshm portable wait"},
    {"cshm-portable-event", "cshm portable event"},
};

/* The baseline of a row: the futex condition variable for cshm_wait, the bare futex
 * for the event word (the same protocols: wait.c). */
static const char *wait_baseline(const char *id) {
  return strstr(id, "-event") != NULL || strcmp(id, "raw-futex") == 0 ? "raw-futex"
                                                                       : "raw-futex-mutex";
}

static void print_notify(void) {
  const record *any = find("notify", "cshm-default", "wake");
  char title[300];
  snprintf(title, sizeof title,
           "notify (wake): notify -> a waiter asleep 1 ms runs again, %.0f samples, another "
           "process (us; x base = this / its raw baseline: futex+mutex for wait, bare futex "
           "for event)",
           num(any, "samples"));
  heading(title, "   median      p90      p99     best  x base  x base p99  asleep");
  for (size_t i = 0; i < NROWS(wait_rows); i++) {
    if (!row_start("notify", &wait_rows[i], "wake"))
      continue;
    const record *r = find("notify", wait_rows[i].id, "wake");
    const char *base = wait_baseline(wait_rows[i].id);
    double v = num(r, "value");
    cell(8, v, 1);
    cell(8, num(r, "p90"), 1);
    cell(8, num(r, "p99"), 1);
    cell(8, num(r, "best"), 1);
    cell(7, ratio(v, val("notify", base, "wake", "value")), 2);
    cell(11, ratio(num(r, "p99"), val("notify", base, "wake", "p99")), 2);
    printf("  %4.0f/%.0f%s\n", num(r, "asleep"), num(r, "samples") + num(r, "early"),
           num(r, "ok") == 1 ? "" : "  FAILED");
  }
  any = find("notify", "cshm-default", "pingpong");
  snprintf(title, sizeof title,
           "notify (pingpong): 2 processes pass a turn through wait/notify, %.0f round trips x "
           "%.0f runs (ns per round trip)",
           num(any, "round_trips"), num(any, "reps"));
  heading(title, "   median     best  x base  x bare futex");
  double bare = val("notify", "raw-futex", "pingpong", "value");
  for (size_t i = 0; i < NROWS(wait_rows); i++) {
    if (!row_start("notify", &wait_rows[i], "pingpong"))
      continue;
    const record *r = find("notify", wait_rows[i].id, "pingpong");
    double v = num(r, "value");
    cell(8, v, 0);
    cell(8, num(r, "best"), 0);
    cell(7, ratio(v, val("notify", wait_baseline(wait_rows[i].id), "pingpong", "value")), 2);
    cell(13, ratio(v, bare), 2);
    printf("%s\n", num(r, "ok") == 1 ? "" : "  FAILED");
  }
}

static void print_idle(void) {
  const record *any = find("idle", "cshm-default", "cpu");
  char title[240];
  snprintf(title, sizeof title,
           "idle: CPU time (user+sys, getrusage) of a process asleep %.1f s in a wait nobody "
           "ends (us per s asleep)",
           num(any, "slept_s"));
  heading(title, "  CPU us/s   worst   CPU %  wake-ups/s");
  for (size_t i = 0; i < NROWS(wait_rows); i++) {
    if (!row_start("idle", &wait_rows[i], "cpu"))
      continue;
    const record *r = find("idle", wait_rows[i].id, "cpu");
    cell(9, num(r, "value"), 1);
    cell(7, num(r, "worst"), 1);
    cell(6, num(r, "value") / 1e4, 3);
    cell(11, num(r, "wakeups_per_s"), 1);
    printf("%s\n", num(r, "ok") == 1 ? "" : "  FAILED");
  }
}

static void print_lifecycle(void) {
  heading("lifecycle: create(4 KiB)+destroy and attach+detach on a live segment (us per cycle)",
          "  create+destroy (create/destroy)  x raw   attach+detach (attach/detach)  x raw");
  double rc = val("lifecycle", "raw-shm", "create_destroy", "value");
  double ra = val("lifecycle", "raw-shm", "attach_detach", "value");
  for (size_t i = 0; i < NROWS(seg_rows); i++) {
    if (!row_start("lifecycle", &seg_rows[i], "create_destroy"))
      continue;
    const record *c = find("lifecycle", seg_rows[i].id, "create_destroy");
    const record *a = find("lifecycle", seg_rows[i].id, "attach_detach");
    printf(" %12.1f (%5.1f/%5.1f)   ", num(c, "value"), num(c, "create"), num(c, "destroy"));
    cell(6, ratio(num(c, "value"), rc), 2);
    printf(" %12.1f (%5.1f/%5.1f)  ", num(a, "value"), num(a, "attach"), num(a, "detach"));
    cell(6, ratio(num(a, "value"), ra), 2);
    printf("\n");
  }
}

static void print_big(void) {
  const record *any = find("big", "cshm-default", "fill_read");
  char title[240];
  snprintf(title, sizeof title,
           "big: %.0f MiB created, filled, attached and read by a second process",
           num(any, "bytes") / MIB);
  heading(title, "  create us  fill GB/s  faults/MiB  attach us  read GB/s  faults/MiB  "
                 "destroy us");
  for (size_t i = 0; i < NROWS(seg_rows); i++) {
    if (!row_start("big", &seg_rows[i], "fill_read"))
      continue;
    const record *r = find("big", seg_rows[i].id, "fill_read");
    cell(10, num(r, "create_us"), 1);
    cell(10, num(r, "value"), 2);
    cell(11, num(r, "fill_faults_per_mib"), 0);
    cell(10, num(r, "attach_us"), 1);
    cell(10, num(r, "read_gbs"), 2);
    cell(11, num(r, "read_faults_per_mib"), 0);
    cell(11, num(r, "destroy_us"), 1);
    printf("%s\n", num(r, "ok") == 1 ? "" : "  FAILED");
  }
  any = find("big", "cshm-default", "create_size");
  snprintf(title, sizeof title,
           "big: create alone, 4 KiB against %.0f MiB (median us; the big one must not touch "
           "its memory)",
           num(any, "huge_bytes") / MIB);
  heading(title, "  create 4 KiB  create big  big/4KiB  allocated KiB  faults  Shmem +KiB");
  for (size_t i = 0; i < NROWS(seg_rows); i++) {
    if (!row_start("big", &seg_rows[i], "create_size"))
      continue;
    const record *r = find("big", seg_rows[i].id, "create_size");
    cell(13, num(r, "create_4k_us"), 1);
    cell(11, num(r, "create_1g_us"), 1);
    cell(9, num(r, "value"), 2);
    cell(14, num(r, "allocated_kib"), 0);
    cell(7, num(r, "create_faults"), 0);
    cell(11, num(r, "shmem_delta_kib"), 0);
    printf("\n");
  }
}

static void print_many(void) {
  const record *any = find("many", "cshm-default", "large");
  char title[200];
  snprintf(title, sizeof title,
           "many: %.0f live segments against %.0f (us per segment; descriptors and mappings "
           "per handle)",
           num(any, "count"), num(find("many", "cshm-default", "small"), "count"));
  heading(title, "  count   total  create  attach  detach destroy  large/small  fds  maps  "
                 "attacher fds/maps");
  for (size_t i = 0; i < NROWS(seg_rows); i++) {
    for (int which = 0; which < 2; which++) {
      const char *metric = which == 0 ? "small" : "large";
      if (!row_start("many", &seg_rows[i], metric))
        continue;
      const record *r = find("many", seg_rows[i].id, metric);
      printf(" %6.0f", num(r, "count"));
      cell(7, num(r, "value"), 1);
      cell(7, num(r, "create"), 1);
      cell(7, num(r, "attach"), 1);
      cell(7, num(r, "detach"), 1);
      cell(7, num(r, "destroy"), 1);
      if (which == 1)
        cell(12, ratio(num(r, "value"), val("many", seg_rows[i].id, "small", "value")), 2);
      else
        printf(" %12s", "");
      cell(4, num(r, "fds_per_handle"), 2);
      cell(5, num(r, "maps_per_handle"), 2);
      printf("  %8.2f/%.2f", num(r, "attach_fds_per_handle"), num(r, "attach_maps_per_handle"));
      const char *capped = field(r, "capped");
      printf("%s%s\n", capped ? "  capped: " : "", capped ? capped : "");
    }
  }
}

static void print_key(void) {
  heading("key: native-name derivations (cshm_native_key_for)",
          "  derivations/s  ns each");
  for (size_t i = 0; i < NROWS(seg_rows); i++) {
    if (!row_start("key", &seg_rows[i], "derive"))
      continue;
    double v = val("key", seg_rows[i].id, "derive", "value");
    cell(14, v, 0);
    cell(8, 1e9 / v, 0);
    printf("\n");
  }
}

/* ---- targets -------------------------------------------------------------------- */

static int met, missed, unknown;

/* One target: `value` against `limit` (at most when at_most, else at least). */
static void target(const char *id, const char *what, double value, bool at_most, double limit,
                   const char *detail_fmt, ...) __attribute__((format(printf, 6, 7)));
static void target(const char *id, const char *what, double value, bool at_most, double limit,
                   const char *detail_fmt, ...) {
  char detail[240];
  va_list ap;
  va_start(ap, detail_fmt);
  vsnprintf(detail, sizeof detail, detail_fmt, ap);
  va_end(ap);
  const char *verdict;
  if (isnan(value)) {
    verdict = "n/a";
    unknown++;
  } else if (at_most ? value <= limit : value >= limit) {
    verdict = "MET";
    met++;
  } else {
    verdict = "MISSED";
    missed++;
  }
  printf("  %-7s %-62s %s\n", verdict, what, detail);
  if (json_out != NULL) {
    fprintf(json_out,
            "{\"bench\":\"target\",\"impl\":\"cshm-default\",\"metric\":\"%s\",\"value\":", id);
    if (isnan(value))
      fprintf(json_out, "null");
    else
      fprintf(json_out, "%.6g", value);
    fprintf(json_out, ",\"limit\":%.6g,\"at_most\":%d,\"verdict\":\"%s\"}\n", limit, at_most,
            verdict);
  }
}

static void print_targets(bool smoke) {
  printf("\ntargets (issue 8 §3, issue 13 item 6; ratios from this run)%s\n",
         smoke ? " - SMOKE RUN: tiny counts, the verdicts mean nothing" : "");
  double robust = val("lock", "raw-robust", "pair", "value");
  double sysv = val("lock", "raw-sysv", "pair", "value");
  double dflt = val("lock", "cshm-default", "pair", "value");
  double port = val("lock", "cshm-portable", "pair", "value");
  target("lock_vs_robust", "lock pair: default <= 1.3x raw robust mutex", dflt / robust, true,
         1.3, "%.2fx (%.1f / %.1f ns)", dflt / robust, dflt, robust);
  target("lock_vs_sysv", "lock pair: default >= 20x faster than SysV semaphore", sysv / dflt,
         false, 20, "%.0fx (%.0f / %.1f ns)", sysv / dflt, sysv, dflt);
  target("portable_lock", "lock pair: portable <= 3x default", port / dflt, true, 3,
         "%.2fx (%.1f / %.1f ns)", port / dflt, port, dflt);
  double tr = val("trylock", "raw-robust", "fail", "value");
  double td = val("trylock", "cshm-default", "fail", "value");
  target("trylock_vs_robust", "try-lock failure: default <= 2x raw robust trylock", td / tr,
         true, 2, "%.2fx (%.1f / %.1f ns)", td / tr, td, tr);
  double hr = val("handoff", "raw-robust", "handoff", "value");
  double hs = val("handoff", "raw-sysv", "handoff", "value");
  double hd = val("handoff", "cshm-default", "handoff", "value");
  target("handoff_vs_sysv", "handoff: default >= 10x faster than SysV semaphore", hs / hd,
         false, 10, "%.1fx (%.0f / %.0f ns)", hs / hd, hs, hd);
  target("handoff_vs_robust", "handoff: default <= 2x raw robust mutex", hd / hr, true, 2,
         "%.2fx (%.0f / %.0f ns)", hd / hr, hd, hr);
  double cr = val("lifecycle", "raw-shm", "create_destroy", "value");
  double cd = val("lifecycle", "cshm-default", "create_destroy", "value");
  double ar = val("lifecycle", "raw-shm", "attach_detach", "value");
  double ad = val("lifecycle", "cshm-default", "attach_detach", "value");
  target("create_destroy", "create+destroy (4 KiB): default <= 2x raw shm_open/mmap", cd / cr,
         true, 2, "%.2fx (%.1f / %.1f us)", cd / cr, cd, cr);
  target("attach_detach", "attach+detach: default <= 2x raw shm_open/mmap", ad / ar, true, 2,
         "%.2fx (%.1f / %.1f us)", ad / ar, ad, ar);
  const record *cs = find("big", "cshm-default", "create_size");
  target("create_size", "create time independent of size: default 1 GiB <= 2x 4 KiB",
         num(cs, "value"), true, 2, "%.2fx (%.1f / %.1f us; %.0f KiB allocated)",
         num(cs, "value"), num(cs, "create_1g_us"), num(cs, "create_4k_us"),
         num(cs, "allocated_kib"));
  const record *ml = find("many", "cshm-default", "large");
  const record *ms = find("many", "cshm-default", "small");
  target("many_scaling", "many: default per-segment cost at 10 000 <= 1.5x at 100",
         num(ml, "value") / num(ms, "value"), true, 1.5, "%.2fx (%.1f / %.1f us at %.0f / %.0f)",
         num(ml, "value") / num(ms, "value"), num(ml, "value"), num(ms, "value"),
         num(ml, "count"), num(ms, "count"));
  double fds = fmax(num(ml, "fds_per_handle"), num(ml, "attach_fds_per_handle"));
  target("many_fds", "many: default <= 1 descriptor per attached handle", fds, true, 1,
         "%.2f (creator %.2f, attacher %.2f)", fds, num(ml, "fds_per_handle"),
         num(ml, "attach_fds_per_handle"));

  /* Issue 13 item 6: waiting and notifying. */
  double nw = val("notify", "cshm-default", "wake", "value");
  double bw = val("notify", "raw-futex-mutex", "wake", "value");
  double nw99 = val("notify", "cshm-default", "wake", "p99");
  double bw99 = val("notify", "raw-futex-mutex", "wake", "p99");
  target("notify_wake", "notify wake: default median <= 1.3x raw futex+mutex", nw / bw, true,
         1.3, "%.2fx (%.1f / %.1f us; p99 %.2fx: %.0f / %.0f us)", nw / bw, nw, bw,
         nw99 / bw99, nw99, bw99);
  double ew = val("notify", "cshm-default-event", "wake", "value");
  double fw = val("notify", "raw-futex", "wake", "value");
  target("event_wake", "event wake: default median <= 1.3x bare raw futex", ew / fw, true, 1.3,
         "%.2fx (%.1f / %.1f us)", ew / fw, ew, fw);
  double np = val("notify", "cshm-default", "pingpong", "value");
  double bp = val("notify", "raw-futex-mutex", "pingpong", "value");
  double fp = val("notify", "raw-futex", "pingpong", "value");
  target("notify_pingpong", "ping-pong: default <= 1.5x raw futex+mutex", np / bp, true, 1.5,
         "%.2fx (%.0f / %.0f ns; %.2fx the bare futex)", np / bp, np, bp, np / fp);
  double pw = val("wake", "cshm-portable", "wake", "value");
  double dw = val("wake", "cshm-default", "wake", "value");
  target("portable_wake", "contended-lock wake: portable <= 2x default (robust mutex)",
         pw / dw, true, 2, "%.2fx (%.1f / %.1f us; %.2fx raw robust)", pw / dw, pw, dw,
         pw / val("wake", "raw-robust", "wake", "value"));
  double ic = val("idle", "cshm-default", "cpu", "value");
  double ie = val("idle", "cshm-default-event", "cpu", "value");
  double ir = val("idle", "raw-futex", "cpu", "value");
  target("idle_wait_cpu", "idle: cshm_wait asleep costs <= 0.1% CPU (1000 us/s)", ic, true,
         1000, "%.0f us/s, %.0f wake-ups/s (raw futex %.0f us/s)", ic,
         val("idle", "cshm-default", "cpu", "wakeups_per_s"), ir);
  target("idle_event_cpu", "idle: cshm_event_wait asleep costs <= 0.1% CPU (1000 us/s)", ie,
         true, 1000, "%.0f us/s, %.0f wake-ups/s", ie,
         val("idle", "cshm-default-event", "cpu", "wakeups_per_s"));
}

/* Correctness checks of every row (no timing in them): they fail the run. */
static int print_checks(void) {
  int bad = 0, checked = 0;
  for (size_t i = 0; i < nrecs; i++) {
    const char *ok = field(&recs[i], "ok");
    if (ok == NULL)
      continue;
    checked++;
    if (strcmp(ok, "1") != 0) {
      bad++;
      printf("  FAILED: %s %s %s\n", field(&recs[i], "bench"), field(&recs[i], "impl"),
             field(&recs[i], "metric"));
    }
  }
  for (size_t i = 0; i < nrecs; i++) {
    const char *b = field(&recs[i], "bench");
    if (b != NULL && strcmp(b, "cleanup") == 0) {
      bad++;
      printf("  cleanup: %s had to remove %s leftover objects after an error\n",
             field(&recs[i], "impl"), field(&recs[i], "value"));
    }
  }
  printf("\ncorrectness: %d checks (exact counters, mutual exclusion, bytes read back), %d "
         "failed\n",
         checked, bad);
  return bad;
}

int report_main(int argc, char **argv) {
  int files = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json-out") == 0 && i + 1 < argc) {
      json_out = fopen(argv[++i], "a");
      continue;
    }
    if (read_file(argv[i]) != 0)
      return 1;
    files++;
  }
  if (files == 0 || nrecs == 0) {
    fprintf(stderr, "usage: cshm_bench report [--json-out FILE] FILE...\n");
    return 2;
  }
  const record *meta = find("meta", "default", "machine");
  if (meta == NULL)
    meta = find("meta", "portable", "machine");
  const char *mode = field(meta, "mode");
  bool smoke = mode != NULL && strcmp(mode, "smoke") == 0;
  printf("cshm benchmark: one run, default and portable profiles side by side%s\n",
         smoke ? " (SMOKE: tiny counts, numbers mean nothing)" : "");
  if (meta != NULL)
    printf("machine: %s, %s cores, %s, glibc %s, %s; cshm %s; %s\n", field(meta, "cpu"),
           field(meta, "cores"), field(meta, "kernel"),
           field(meta, "libc") ? field(meta, "libc") : "?", field(meta, "compiler"),
           field(meta, "cshm"), field(meta, "date"));
  printf("ratios: 'x robust' = this / raw robust mutex (lower is better); 'SysV/this' = how "
         "many times faster than Qt's System V lock\n");
  /* The sections this run measured (bench/run.sh --sections runs a few). */
  const struct {
    const char *bench;
    void (*print)(void);
  } tables[] = {{"lock", print_lock},       {"trylock", print_trylock},
                {"handoff", print_handoff}, {"contention", print_contention},
                {"wake", print_wake},       {"lifecycle", print_lifecycle},
                {"big", print_big},         {"many", print_many},
                {"key", print_key},         {"notify", print_notify},
                {"idle", print_idle}};
  for (size_t t = 0; t < NROWS(tables); t++)
    if (has_bench(tables[t].bench))
      tables[t].print();
  print_targets(smoke);
  int bad = print_checks();
  printf("targets: %d met, %d missed, %d n/a\n", met, missed, unknown);
  if (json_out != NULL)
    fclose(json_out);
  return bad > 0 ? 1 : 0;
}
