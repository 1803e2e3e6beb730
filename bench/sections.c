/* The sections of issue 8 §1. Each writes JSON lines (common.c) for report.c.
 *
 *   lock        uncontended lock+unlock pairs
 *   trylock     failed try-locks on a lock another process holds
 *   handoff     two processes in strict alternation through the lock, exact counter
 *   contention  N = 2, 4, 8 processes hammering one lock: throughput and fairness
 *   wake        unlock -> return of a waiter that has slept 2 ms
 *   lifecycle   create(4 KiB)+destroy cycles; attach+detach cycles on a live segment
 *   big         256 MiB create/fill/attach/read; 1 GiB create must not touch memory
 *   many        10 000 live segments: create, attach (another process), destroy
 *   key         native-name derivations per second
 *
 * Counts come from PICK(full, tiny) (tiny with --smoke); every loop also has a time
 * budget. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define PICK(full, tiny) (cfg.smoke ? (tiny) : (full))
#define MIB (1024.0 * 1024.0)

static int failures; /* correctness failures and broken setups: the exit status */

/* ---- lock ----------------------------------------------------------------------- */

/* One loop per mechanism, so none pays a dispatch inside the loop. */
__attribute__((noinline)) static int pairs_loop(impl *im, long pairs) {
  switch (im->kind) {
  case IMPL_SPIN:
    for (long i = 0; i < pairs; i++) {
      spin_lock(im->lock_area);
      spin_unlock(im->lock_area);
    }
    return 0;
  case IMPL_ROBUST:
    for (long i = 0; i < pairs; i++)
      if (robust_lock(im->lock_area) != 0 ||
          pthread_mutex_unlock((pthread_mutex_t *)im->lock_area) != 0)
        return -1;
    return 0;
  case IMPL_SYSV:
    for (long i = 0; i < pairs; i++)
      if (sysv_op(im->semid, -1) != 0 || sysv_op(im->semid, 1) != 0)
        return -1;
    return 0;
  default:
    for (long i = 0; i < pairs; i++)
      if (cshm_lock(im->h) != CSHM_OK || cshm_unlock(im->h) != CSHM_OK)
        return -1;
    return 0;
  }
}

/* Skips a Qt-legacy row (n/a) when the build lacks the key type. */
static bool skip_qt(const impl *im, const char *bench, const char *metric) {
  const char *why;
  if (im->kind != IMPL_QT || qt_available(&why))
    return false;
  emit_na(bench, im->id, metric, why);
  return true;
}

int section_lock(void) {
  impl list[6];
  int n = lock_impls(list);
  const long pairs = PICK(1000000L, 2000L);
  const int reps = 5;
  bool ready[6] = {false};
  double per[6][5];
  int done[6] = {0};
  for (int i = 0; i < n; i++) {
    if (skip_qt(&list[i], "lock", "pair"))
      continue;
    if (impl_setup(&list[i], "lock") != 0) {
      emit_na("lock", list[i].id, "pair", "setup failed");
      failures++;
      continue;
    }
    ready[i] = true;
  }
  /* Repetitions interleave the implementations: a noisy moment hits them alike. */
  double start = now_ns();
  for (int r = 0; r < reps && !bench_interrupted && now_ns() - start < 60e9; r++) {
    for (int i = 0; i < n; i++) {
      if (!ready[i])
        continue;
      impl *im = &list[i];
      double t0 = now_ns();
      if (pairs_loop(im, pairs) != 0) {
        note("%s: lock or unlock failed: %s", im->id,
             im->h != NULL ? cshm_error_string(im->h) : "a raw lock call failed");
        failures++;
        ready[i] = false;
        continue;
      }
      per[i][done[i]++] = (now_ns() - t0) / (double)pairs;
    }
  }
  for (int i = 0; i < n; i++) {
    impl *im = &list[i];
    if (im->h != NULL || im->raw_base != NULL || im->semid >= 0)
      impl_teardown(im);
    if (done[i] == 0)
      continue;
    json_begin("lock", im->id, "pair");
    json_num("value", median_of(per[i], done[i]));
    json_num("best", min_of(per[i], done[i]));
    json_str("unit", "ns");
    json_int("pairs", pairs);
    json_int("reps", done[i]);
    json_end();
    note("lock %-16s median %.1f ns/pair", im->id, per[i][done[i] / 2]);
  }
  return failures;
}

/* ---- handoff -------------------------------------------------------------------- */

typedef struct handoff_data {
  volatile int turn;
  volatile int inside;
  volatile long counter;
  volatile long violations;
} handoff_data;

typedef struct run_arg {
  impl *im;
  control *ctl;
  long each;        /* handoff: per process */
  double budget_ns; /* per child */
  int rounds;       /* wake */
  int mode;         /* handoff: HANDOFF_POLL or HANDOFF_TRANSFER */
} run_arg;

/* Two ways to wait for one's turn:
 * - HANDOFF_POLL (issue 8's "handoff", and what code polling a QSharedMemory does):
 *   lock, look at the turn, unlock, again. Its cost is how the lock shares itself
 *   between a process that polls and one that waits: a fair lock (SysV) sleeps and
 *   wakes on every handoff, a barging one (futex mutexes) mostly not.
 * - HANDOFF_TRANSFER: wait for the turn without the lock (reading the shared line),
 *   then take the lock once: the bare cost of moving the lock and the data between
 *   two processes. */
enum { HANDOFF_POLL = 0, HANDOFF_TRANSFER = 1 };

static int handoff_child(int idx, void *arg) {
  run_arg *a = arg;
  control *ctl = a->ctl;
  child_slot *slot = &ctl->child[idx];
  impl im = *a->im;
  if (impl_child_open(&im) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  handoff_data *hd = (handoff_data *)(void *)im.data;
  atomic_fetch_add(&ctl->ready, 1);
  if (!wait_flag(&ctl->go, 1, 20e3, 30)) {
    atomic_store(&slot->status, -1);
    impl_child_close(&im);
    return 1;
  }
  const double deadline = now_ns() + a->budget_ns;
  long done = 0, polls = 0, misses = 0;
  int rc = 0;
  bool late = false;
  while (done < a->each && !late) {
    if (a->mode == HANDOFF_TRANSFER) {
      for (unsigned spins = 1; hd->turn != idx; spins++) {
        cpu_relax();
        if (spins % 256 == 0) {
          sched_yield(); /* the other process may have been preempted */
          if (now_ns() > deadline || atomic_load(&ctl->stop)) {
            late = true;
            break;
          }
        }
      }
      if (late)
        break;
    }
    if (impl_lock(&im) != 0) {
      rc = -1;
      break;
    }
    polls++;
    if (hd->turn == idx) {
      if (hd->inside)
        hd->violations++;
      hd->inside = 1;
      long c = hd->counter; /* a plain read-modify-write: a lost update would show */
      hd->counter = c + 1;
      hd->turn = 1 - idx;
      hd->inside = 0;
      done++;
      misses = 0;
    } else if (a->mode == HANDOFF_TRANSFER) {
      hd->violations++; /* our turn, seen before the lock, must still be ours */
    } else {
      misses++;
    }
    if (impl_unlock(&im) != 0) {
      rc = -1;
      break;
    }
    /* A poller that keeps missing yields now and then: when the machine's load puts
     * both processes on one core, the other one runs (else each handoff would wait
     * for a scheduler tick). Both on their own cores, it changes nothing. */
    if (misses != 0 && misses % 64 == 0) {
      misses++;
      sched_yield();
    }
    if ((polls & 1023) == 0 && (now_ns() > deadline || atomic_load(&ctl->stop)))
      late = true; /* out of time: reported as incomplete */
  }
  slot->t_end = now_ns();
  atomic_store(&slot->count, done);
  slot->value[0] = (double)polls;
  atomic_store(&slot->status, rc == 0 ? 1 : -1);
  impl_child_close(&im);
  return rc == 0 ? 0 : 1;
}

typedef struct handoff_result {
  double per[5];
  int done;
  bool ok, complete, tried;
  long counter, expected;
  double polls;
} handoff_result;

/* One run of `each` handoffs per process; false when a check failed. */
static bool handoff_once(impl *im, long each, int mode, double budget_ns, handoff_result *res) {
  res->tried = true;
  if (impl_setup(im, "handoff") != 0) {
    failures++;
    res->ok = false;
    return false;
  }
  memset(im->data, 0, sizeof(handoff_data));
  control *ctl = control_new();
  run_arg a = {im, ctl, each, budget_ns, 0, mode};
  pid_t pids[2];
  for (int c = 0; c < 2; c++)
    pids[c] = spawn_child(handoff_child, c, &a, (unsigned)(budget_ns / 1e9) + 40);
  bool ready = wait_flag(&ctl->ready, 2, 50e3, 30);
  ctl->t_go = now_ns();
  atomic_store(&ctl->go, 1);
  if (!ready)
    atomic_store(&ctl->stop, 1);
  int bad = reap_children(pids, 2, budget_ns / 1e9 + 30);
  handoff_data *hd = (handoff_data *)(void *)im->data;
  long got = ctl->child[0].count + ctl->child[1].count;
  res->counter = hd->counter;
  res->expected = 2 * each;
  bool ok = ready && bad == 0 && hd->violations == 0 && hd->counter == got;
  if (got != res->expected) {
    res->complete = false;
    note("handoff %s: %ld of %ld handoffs within the time budget", im->id, got, res->expected);
  }
  if (!ok) {
    note("handoff %s: FAILED: counter %ld, handoffs %ld, violations %ld, children failed %d",
         im->id, (long)hd->counter, got, (long)hd->violations, bad);
    res->ok = false;
    failures++;
  } else if (got > 0) {
    double end = fmax(ctl->child[0].t_end, ctl->child[1].t_end);
    res->per[res->done++] = (end - ctl->t_go) / (double)got;
    res->polls = (ctl->child[0].value[0] + ctl->child[1].value[0]) / (double)got;
  }
  control_free(ctl);
  impl_teardown(im);
  return ok;
}

int section_handoff(void) {
  impl list[6];
  int n = lock_impls(list);
  const long each = PICK(100000L, 200L);
  const int reps = PICK(3, 1);
  const double budget_ns = PICK(10e9, 5e9);
  for (int mode = HANDOFF_POLL; mode <= HANDOFF_TRANSFER && !bench_interrupted; mode++) {
    const char *metric = mode == HANDOFF_POLL ? "handoff" : "transfer";
    handoff_result res[6];
    memset(res, 0, sizeof res);
    for (int i = 0; i < n; i++)
      res[i].ok = res[i].complete = true;
    /* Repetitions interleave the implementations: a noisy second hits them alike. */
    for (int r = 0; r < reps && !bench_interrupted; r++) {
      for (int i = 0; i < n && !bench_interrupted; i++) {
        const char *why;
        /* One run that hit its time budget tells enough: no more of that one. */
        if (!res[i].ok || !res[i].complete || (list[i].kind == IMPL_QT && !qt_available(&why)))
          continue;
        handoff_once(&list[i], each, mode, budget_ns, &res[i]);
      }
    }
    for (int i = 0; i < n; i++) {
      impl *im = &list[i];
      handoff_result *h = &res[i];
      if (skip_qt(im, "handoff", metric))
        continue;
      if (h->done == 0) {
        emit_na("handoff", im->id, metric, h->ok ? "no complete run" : "FAILED");
        continue;
      }
      json_begin("handoff", im->id, metric);
      json_num("value", median_of(h->per, h->done));
      json_num("best", min_of(h->per, h->done));
      json_str("unit", "ns");
      json_int("ok", h->ok);
      json_int("complete", h->complete);
      json_int("counter", h->counter);
      json_int("expected", h->expected);
      json_num("polls_per_handoff", h->polls);
      json_int("reps", h->done);
      json_end();
      note("handoff (%s) %-16s median %.0f ns/handoff, counter %ld/%ld %s", metric, im->id,
           h->per[h->done / 2], h->counter, h->expected, h->ok ? "ok" : "FAILED");
    }
  }
  return failures;
}

/* ---- contention ----------------------------------------------------------------- */

typedef struct contention_data {
  volatile long counter;
  volatile int inside;
  volatile long violations;
} contention_data;

static int contention_child(int idx, void *arg) {
  run_arg *a = arg;
  control *ctl = a->ctl;
  child_slot *slot = &ctl->child[idx];
  impl im = *a->im;
  if (impl_child_open(&im) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  contention_data *cd = (contention_data *)(void *)im.data;
  atomic_fetch_add(&ctl->ready, 1);
  if (!wait_flag(&ctl->go, 1, 20e3, 30)) {
    atomic_store(&slot->status, -1);
    impl_child_close(&im);
    return 1;
  }
  const double deadline = now_ns() + a->budget_ns;
  const long cap = 1000000000L;
  long mine = 0;
  int rc = 0;
  while (!atomic_load_explicit(&ctl->stop, memory_order_relaxed) && mine < cap) {
    if (impl_lock(&im) != 0) {
      rc = -1;
      break;
    }
    if (cd->inside)
      cd->violations++;
    cd->inside = 1;
    long c = cd->counter;
    cd->counter = c + 1;
    cd->inside = 0;
    if (impl_unlock(&im) != 0) {
      rc = -1;
      break;
    }
    mine++;
    if ((mine & 255) == 0 && now_ns() > deadline)
      break;
  }
  atomic_store(&slot->count, mine);
  atomic_store(&slot->status, rc == 0 ? 1 : -1);
  impl_child_close(&im);
  return rc == 0 ? 0 : 1;
}

int section_contention(void) {
  impl list[6];
  int n = lock_impls(list);
  const int procs[3] = {2, 4, 8};
  const double window_ns = PICK(1e9, 20e6);
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    for (int p = 0; p < 3 && !bench_interrupted; p++) {
      const int np = procs[p];
      char metric[16];
      snprintf(metric, sizeof metric, "procs%d", np);
      if (skip_qt(im, "contention", metric))
        continue;
      if (impl_setup(im, "contention") != 0) {
        failures++;
        emit_na("contention", im->id, metric, "setup failed");
        continue;
      }
      memset(im->data, 0, sizeof(contention_data));
      control *ctl = control_new();
      run_arg a = {im, ctl, 0, window_ns + 10e9, 0, 0};
      pid_t pids[MAX_CHILDREN];
      for (int c = 0; c < np; c++)
        pids[c] = spawn_child(contention_child, c, &a, 60);
      bool ready = wait_flag(&ctl->ready, np, 50e3, 30);
      double t0 = now_ns();
      atomic_store(&ctl->go, 1);
      if (ready)
        sleep_ns(window_ns);
      atomic_store(&ctl->stop, 1);
      double t1 = now_ns();
      int bad = reap_children(pids, np, 40);
      contention_data *cd = (contention_data *)(void *)im->data;
      long total = 0, lo = -1, hi = 0;
      for (int c = 0; c < np; c++) {
        long k = ctl->child[c].count;
        total += k;
        lo = lo < 0 || k < lo ? k : lo;
        hi = k > hi ? k : hi;
      }
      bool ok = ready && bad == 0 && cd->violations == 0 && cd->counter == total;
      if (!ok) {
        note("contention %s N=%d: FAILED: counter %ld, sum %ld, violations %ld, failed %d",
             im->id, np, (long)cd->counter, total, (long)cd->violations, bad);
        failures++;
      }
      json_begin("contention", im->id, metric);
      json_num("value", (double)total / ((t1 - t0) / 1e9));
      json_str("unit", "ops/s");
      json_num("fairness", lo > 0 ? (double)hi / (double)lo : INFINITY);
      json_int("min", lo);
      json_int("max", hi);
      json_int("procs", np);
      json_int("ok", ok);
      json_end();
      note("contention %-16s N=%d %.3g ops/s, max/min %ld/%ld %s", im->id, np,
           (double)total / ((t1 - t0) / 1e9), hi, lo, ok ? "ok" : "FAILED");
      control_free(ctl);
      impl_teardown(im);
    }
  }
  return failures;
}

/* ---- try-lock failure ------------------------------------------------------------ */

/* A process that takes the lock and holds it until the parent says stop. */
static int trylock_holder(int idx, void *arg) {
  run_arg *a = arg;
  control *ctl = a->ctl;
  child_slot *slot = &ctl->child[idx];
  impl im = *a->im;
  if (impl_child_open(&im) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  int rc = impl_lock(&im);
  atomic_fetch_add(&ctl->ready, 1);
  if (rc == 0) {
    wait_flag(&ctl->stop, 1, 1e6, 600);
    rc = impl_unlock(&im);
  }
  atomic_store(&slot->status, rc == 0 ? 1 : -1);
  impl_child_close(&im);
  return rc == 0 ? 0 : 1;
}

/* Failed try-locks on a lock another process holds; returns how many said busy. */
__attribute__((noinline)) static long trylock_loop(impl *im, long polls) {
  long busy = 0;
  if (im->kind == IMPL_ROBUST) {
    for (long i = 0; i < polls; i++)
      busy += pthread_mutex_trylock((pthread_mutex_t *)im->lock_area) == EBUSY;
  } else {
    for (long i = 0; i < polls; i++)
      busy += cshm_try_lock(im->h) == CSHM_EBUSY;
  }
  return busy;
}

/* Issue 6: a polling try_lock should cost what the raw robust mutex's trylock does
 * (the failure's message is composed only when read). The raw spin lock and SysV
 * rows have no try-lock to compare: skipped. */
int section_trylock(void) {
  impl list[6];
  int n = lock_impls(list);
  const long polls = PICK(200000L, 2000L);
  const int reps = 5;
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (im->kind == IMPL_SPIN || im->kind == IMPL_SYSV || skip_qt(im, "trylock", "fail"))
      continue;
    if (impl_setup(im, "trylock") != 0) {
      emit_na("trylock", im->id, "fail", "setup failed");
      failures++;
      continue;
    }
    control *ctl = control_new();
    run_arg a = {im, ctl, 0, 0, 0, 0};
    pid_t pid = spawn_child(trylock_holder, 0, &a, 120);
    bool ready = pid > 0 && wait_flag(&ctl->ready, 1, 50e3, 30);
    double per[5];
    int done = 0;
    long busy = 0, tried = 0;
    for (int r = 0; ready && r < reps && !bench_interrupted; r++) {
      double t0 = now_ns();
      busy += trylock_loop(im, polls);
      per[done++] = (now_ns() - t0) / (double)polls;
      tried += polls;
    }
    atomic_store(&ctl->stop, 1);
    int bad = pid > 0 ? reap_children(&pid, 1, 40) : 1;
    /* Every try must have failed as busy: the other process held the lock throughout. */
    bool ok = ready && bad == 0 && busy == tried;
    if (!ok) {
      note("trylock %s: FAILED: %ld of %ld tries busy, holder failed %d%s%s", im->id, busy,
           tried, bad, im->h != NULL ? ": " : "", im->h != NULL ? cshm_error_string(im->h) : "");
      failures++;
    }
    if (done > 0) {
      json_begin("trylock", im->id, "fail");
      json_num("value", median_of(per, done));
      json_num("best", min_of(per, done));
      json_str("unit", "ns");
      json_int("polls", polls);
      json_int("reps", done);
      json_int("ok", ok);
      json_end();
      note("trylock %-16s median %.1f ns per failed try", im->id, per[done / 2]);
    }
    control_free(ctl);
    impl_teardown(im);
  }
  return failures;
}

/* ---- wake ----------------------------------------------------------------------- */

char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return '?';
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[got] = '\0';
  const char *p = strrchr(buf, ')'); /* after the command name, which may hold spaces */
  return p != NULL && p[1] == ' ' ? p[2] : '?';
}

static int wake_child(int idx, void *arg) {
  run_arg *a = arg;
  control *ctl = a->ctl;
  child_slot *slot = &ctl->child[idx];
  impl im = *a->im;
  if (impl_child_open(&im) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  atomic_store(&ctl->ready, 1);
  int rc = 0;
  for (int r = 1; r <= a->rounds && rc == 0; r++) {
    if (!wait_flag(&ctl->round, r, 10e3, 20)) { /* the holder has the lock now */
      rc = -1;
      break;
    }
    atomic_store(&ctl->waiting, r);
    if (impl_lock(&im) != 0) {
      rc = -1;
      break;
    }
    double t1 = now_ns();
    ctl->samples[r - 1] = t1 - ctl->t_unlock;
    if (impl_unlock(&im) != 0)
      rc = -1;
    atomic_store(&ctl->woken, r);
  }
  atomic_store(&slot->status, rc == 0 ? 1 : -1);
  impl_child_close(&im);
  return rc == 0 ? 0 : 1;
}

int section_wake(void) {
  impl list[6];
  int n = lock_impls(list);
  const int rounds = PICK(100, 3);
  const double asleep_ns = 2e6; /* how long the waiter waits before the unlock */
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (skip_qt(im, "wake", "wake"))
      continue;
    if (impl_setup(im, "wake") != 0) {
      failures++;
      emit_na("wake", im->id, "wake", "setup failed");
      continue;
    }
    control *ctl = control_new();
    run_arg a = {im, ctl, 0, 0, rounds, 0};
    pid_t pid = spawn_child(wake_child, 0, &a, 60);
    bool ok = wait_flag(&ctl->ready, 1, 50e3, 30);
    int done = 0, sleeping = 0;
    for (int r = 1; r <= rounds && ok && !bench_interrupted; r++) {
      if (impl_lock(im) != 0) {
        ok = false;
        break;
      }
      atomic_store(&ctl->round, r);
      ok = wait_flag(&ctl->waiting, r, 10e3, 20);
      sleep_ns(asleep_ns);
      sleeping += proc_state(pid) == 'S';
      ctl->t_unlock = now_ns();
      atomic_thread_fence(memory_order_release);
      if (impl_unlock(im) != 0)
        ok = false;
      if (ok && (ok = wait_flag(&ctl->woken, r, 5e3, 20)))
        done = r;
    }
    if (!ok)
      atomic_store(&ctl->round, rounds + 1); /* let a waiting child run out */
    int bad = reap_children(&pid, 1, 30);
    if (!ok || bad != 0) {
      note("wake %s: FAILED after %d rounds", im->id, done);
      failures++;
    }
    if (done > 0) {
      double v[4096];
      memcpy(v, ctl->samples, (size_t)done * sizeof v[0]);
      for (int k = 0; k < done; k++)
        v[k] /= 1e3;
      json_begin("wake", im->id, "wake");
      json_num("value", median_of(v, done));
      json_num("p90", quantile_of(v, done, 0.9));
      json_num("p99", quantile_of(v, done, 0.99));
      json_num("best", v[0]);
      json_num("worst", v[done - 1]);
      json_str("unit", "us");
      json_int("rounds", done);
      json_int("asleep", sleeping); /* rounds where the waiter was asleep in the kernel */
      json_int("ok", ok && bad == 0);
      json_end();
      note("wake %-16s median %.1f us (waiter asleep in %d of %d rounds)", im->id,
           median_of(v, done), sleeping, done);
    }
    control_free(ctl);
    impl_teardown(im);
  }
  return failures;
}

/* ---- segments: lifecycle, big, many -------------------------------------------------- */

/* One segment of one implementation: raw shm_open/mmap (IMPL_RAWSHM) or cshm. */
typedef struct seg {
  impl_kind kind;
  cshm_key_type type;
  char name[128]; /* raw: the shm name; cshm: the key */
  cshm *h;
  unsigned char *p;
  size_t len;
} seg;

/* Untimed: the handle (cshm_new), so that cycles measure create/attach themselves. */
static int seg_init(seg *s, impl_kind kind, cshm_key_type type, const char *name) {
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->type = type;
  snprintf(s->name, sizeof s->name, "%s", name);
  if (kind == IMPL_RAWSHM)
    return 0;
  int rc = cshm_new(&s->h, name);
  if (rc == CSHM_OK && type != CSHM_KEY_DEFAULT)
    rc = cshm_set_key_type(s->h, type);
  if (rc != CSHM_OK) {
    note("cshm_new %s: %s", name, cshm_last_error_string());
    cshm_free(s->h);
    s->h = NULL;
    return -1;
  }
  return 0;
}

static void seg_fini(seg *s) {
  if (s->h != NULL)
    cshm_free(s->h);
  s->h = NULL;
}

/* Creates and maps `size` bytes. The raw baseline writes its first byte, as a
 * creator that initialises anything does (cshm writes its header). */
static int seg_create(seg *s, size_t size) {
  if (s->kind == IMPL_RAWSHM) {
    int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      return -1;
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
      p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
      shm_unlink(s->name);
      return -1;
    }
    s->p = p;
    s->len = size;
    s->p[0] = 1;
    return 0;
  }
  if (cshm_create(s->h, size, CSHM_READ_WRITE) != CSHM_OK) {
    note("cshm_create %s: %s", s->name, cshm_error_string(s->h));
    return -1;
  }
  s->p = cshm_data(s->h);
  s->len = size;
  return 0;
}

/* Attaches to the segment another seg created; reads its first byte. */
static int seg_attach(seg *s) {
  if (s->kind == IMPL_RAWSHM) {
    int fd = shm_open(s->name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
      return -1;
    struct stat st;
    void *p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
      p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
      return -1;
    s->p = p;
    s->len = (size_t)st.st_size;
  } else {
    if (cshm_attach(s->h, CSHM_READ_WRITE) != CSHM_OK) {
      note("cshm_attach %s: %s", s->name, cshm_error_string(s->h));
      return -1;
    }
    s->p = cshm_data(s->h);
    s->len = cshm_size(s->h);
  }
  (void)*(volatile unsigned char *)s->p;
  return 0;
}

/* Unmaps; the raw baseline's creator also removes the name (`last`). cshm: detach
 * (the last detacher removes the segment). */
static void seg_detach(seg *s, bool last) {
  if (s->kind == IMPL_RAWSHM) {
    if (s->p != NULL)
      munmap(s->p, s->len);
    if (last)
      shm_unlink(s->name);
  } else if (s->h != NULL && cshm_is_attached(s->h)) {
    cshm_detach(s->h);
  }
  s->p = NULL;
}

/* Where the object lives in the file system (for st_blocks), or "" if it has none. */
static void seg_path(const seg *s, char *out, size_t cap) {
  char native[512];
  out[0] = '\0';
  if (s->kind == IMPL_RAWSHM)
    snprintf(out, cap, "/dev/shm%s", s->name);
  else if (s->type == CSHM_KEY_DEFAULT && s->h != NULL && cshm_native_key(s->h) != NULL &&
           snprintf(native, sizeof native, "%s", cshm_native_key(s->h)) > 0)
    snprintf(out, cap, "/dev/shm%s", native);
}

/* The segment implementations: raw (if baselines), this build's cshm, Qt legacy. */
static int seg_impls(impl *out) {
  impl all[3] = {
      {.kind = IMPL_RAWSHM, .id = "raw-shm"},
      {.kind = IMPL_CSHM, .id = cshm_impl_id(), .type = CSHM_KEY_DEFAULT},
      {.kind = IMPL_QT, .id = "cshm-qt-legacy", .type = CSHM_KEY_QT_LEGACY},
  };
  int n = 0;
  for (int i = 0; i < 3; i++) {
    if ((i == 0 && !cfg.baselines) || (i == 2 && !cfg.qt) || !impl_wanted(all[i].id))
      continue;
    out[n++] = all[i];
  }
  return n;
}

static int name_seq;

/* A name for a segment of `im`, registered for cleanup. */
static void seg_name(const impl *im, const char *what, char *out, size_t cap) {
  if (im->kind == IMPL_RAWSHM) {
    snprintf(out, cap, "/cshm-bench-%s-%s-%d", cfg.run_id, what, name_seq++);
    reg_raw_shm(out);
  } else {
    make_key(out, cap, what, name_seq++);
    reg_key(out, im->type);
  }
}

static void seg_unname(const impl *im, const char *name) {
  if (im->kind == IMPL_RAWSHM)
    unreg_raw_shm(name);
  else
    unreg_key(name, im->type);
}

/* True when the segment `name` of `im` still exists. */
static bool seg_exists(const impl *im, const char *name) {
  if (im->kind == IMPL_RAWSHM) {
    char path[256];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
  }
  return key_exists(name, im->type);
}

/* Checks that a segment is gone once destroyed; removes and counts it otherwise. */
static void expect_gone(const impl *im, const char *name) {
  if (seg_exists(im, name)) {
    note("%s: %s outlived its destruction: removing it", im->id, name);
    if (im->kind == IMPL_RAWSHM)
      shm_unlink(name);
    else
      cshm_remove(name, im->type);
    failures++;
  }
  seg_unname(im, name);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int section_lifecycle(void) {
  impl list[3];
  int n = seg_impls(list);
  const int cycles_cd = PICK(2000, 20), cycles_ad = PICK(5000, 20), reps = 5;
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (skip_qt(im, "lifecycle", "create_destroy") || skip_qt(im, "lifecycle", "attach_detach"))
      continue;
    char name[128];

    /* create(4 KiB) + destroy, one handle reused (as a QSharedMemory object is). */
    seg_name(im, "life", name, sizeof name);
    seg s;
    double per[5], cr[5], de[5];
    int done = 0;
    if (seg_init(&s, im->kind, im->type, name) == 0) {
      for (int r = 0; r < reps && !bench_interrupted; r++) {
        double tc = 0, td = 0;
        int c;
        for (c = 0; c < cycles_cd; c++) {
          double t0 = now_ns();
          if (seg_create(&s, 4096) != 0)
            break;
          double t1 = now_ns();
          seg_detach(&s, true);
          double t2 = now_ns();
          tc += t1 - t0;
          td += t2 - t1;
        }
        if (c < cycles_cd) {
          failures++;
          break;
        }
        cr[done] = tc / cycles_cd / 1e3;
        de[done] = td / cycles_cd / 1e3;
        per[done] = cr[done] + de[done];
        done++;
      }
      seg_fini(&s);
    }
    expect_gone(im, name);
    if (done > 0) {
      json_begin("lifecycle", im->id, "create_destroy");
      json_num("value", median_of(per, done));
      json_num("best", min_of(per, done));
      json_num("create", median_of(cr, done));
      json_num("destroy", median_of(de, done));
      json_str("unit", "us");
      json_int("cycles", cycles_cd);
      json_int("reps", done);
      json_end();
      note("lifecycle %-16s create+destroy %.1f us", im->id, per[done / 2]);
    }

    /* attach + detach on a live segment, from a second handle. */
    seg_name(im, "life", name, sizeof name);
    seg owner, other;
    done = 0;
    if (seg_init(&owner, im->kind, im->type, name) == 0 &&
        seg_init(&other, im->kind, im->type, name) == 0) {
      if (seg_create(&owner, 4096) == 0) {
        for (int r = 0; r < reps && !bench_interrupted; r++) {
          double ta = 0, td = 0;
          int c;
          for (c = 0; c < cycles_ad; c++) {
            double t0 = now_ns();
            if (seg_attach(&other) != 0)
              break;
            double t1 = now_ns();
            seg_detach(&other, false);
            double t2 = now_ns();
            ta += t1 - t0;
            td += t2 - t1;
          }
          if (c < cycles_ad) {
            failures++;
            break;
          }
          cr[done] = ta / cycles_ad / 1e3;
          de[done] = td / cycles_ad / 1e3;
          per[done] = cr[done] + de[done];
          done++;
        }
        seg_detach(&owner, true);
      } else {
        failures++;
      }
      seg_fini(&other);
      seg_fini(&owner);
    }
    expect_gone(im, name);
    if (done > 0) {
      json_begin("lifecycle", im->id, "attach_detach");
      json_num("value", median_of(per, done));
      json_num("best", min_of(per, done));
      json_num("attach", median_of(cr, done));
      json_num("detach", median_of(de, done));
      json_str("unit", "us");
      json_int("cycles", cycles_ad);
      json_int("reps", done);
      json_end();
      note("lifecycle %-16s attach+detach %.1f us", im->id, per[done / 2]);
    }
  }
  return failures;
}

/* ---- big ------------------------------------------------------------------------ */

typedef struct big_arg {
  impl *im;
  control *ctl;
  const char *name;
  size_t size;
} big_arg;

/* Attaches from a second process and reads every byte: attach time, read GB/s, faults. */
static int big_reader(int idx, void *arg) {
  big_arg *a = arg;
  child_slot *slot = &a->ctl->child[idx];
  seg s;
  if (seg_init(&s, a->im->kind, a->im->type, a->name) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  double t0 = now_ns();
  if (seg_attach(&s) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  double t1 = now_ns();
  long f0 = minor_faults();
  const uint64_t *w = (const uint64_t *)(const void *)s.p;
  uint64_t sum = 0;
  size_t words = a->size / sizeof *w;
  for (size_t k = 0; k < words; k++)
    sum += w[k];
  double t2 = now_ns();
  long f1 = minor_faults();
  bool right = sum == (uint64_t)words * 0xa5a5a5a5a5a5a5a5ull;
  slot->value[0] = (t1 - t0) / 1e3;                   /* attach, us */
  slot->value[1] = (double)a->size / (t2 - t1);      /* read, GB/s */
  slot->value[2] = (double)(f1 - f0) / ((double)a->size / MIB); /* faults per MiB */
  seg_detach(&s, false);
  seg_fini(&s);
  atomic_store(&slot->status, right ? 1 : -1);
  return right ? 0 : 1;
}

static long allocated_kib(const seg *s) {
  char path[600];
  struct stat st;
  seg_path(s, path, sizeof path);
  if (path[0] == '\0' || stat(path, &st) != 0)
    return -1;
  return (long)st.st_blocks / 2;
}

int section_big(void) {
  impl list[3];
  int n = seg_impls(list);
  const size_t big = PICK((size_t)256 << 20, (size_t)8 << 20);
  const size_t huge = PICK((size_t)1 << 30, (size_t)64 << 20);
  const int reps = PICK(10, 3);
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (skip_qt(im, "big", "fill_read") || skip_qt(im, "big", "create_size"))
      continue;
    char name[128];

    /* 256 MiB: create, fill, attach and read from a second process, destroy. */
    seg_name(im, "big", name, sizeof name);
    seg s;
    if (seg_init(&s, im->kind, im->type, name) == 0) {
      long f0 = minor_faults();
      double t0 = now_ns();
      int rc = seg_create(&s, big);
      double t1 = now_ns();
      long f1 = minor_faults();
      if (rc == 0) {
        memset(s.p, 0xa5, big);
        double t2 = now_ns();
        long f2 = minor_faults();
        control *ctl = control_new();
        big_arg a = {im, ctl, name, big};
        pid_t pid = spawn_child(big_reader, 0, &a, 120);
        int bad = reap_children(&pid, 1, 120);
        double t3 = now_ns();
        seg_detach(&s, true);
        double t4 = now_ns();
        if (bad != 0) {
          note("big %s: the reader failed or read wrong bytes", im->id);
          failures++;
        }
        json_begin("big", im->id, "fill_read");
        json_num("value", (double)big / (t2 - t1)); /* fill GB/s */
        json_str("unit", "GB/s");
        json_num("create_us", (t1 - t0) / 1e3);
        json_num("create_faults", (double)(f1 - f0));
        json_num("fill_faults_per_mib", (double)(f2 - f1) / ((double)big / MIB));
        json_num("attach_us", bad == 0 ? ctl->child[0].value[0] : NAN);
        json_num("read_gbs", bad == 0 ? ctl->child[0].value[1] : NAN);
        json_num("read_faults_per_mib", bad == 0 ? ctl->child[0].value[2] : NAN);
        json_num("destroy_us", (t4 - t3) / 1e3);
        json_int("bytes", (long long)big);
        json_int("ok", bad == 0);
        json_end();
        note("big %-16s fill %.2f GB/s, read %.2f GB/s", im->id, (double)big / (t2 - t1),
             ctl->child[0].value[1]);
        control_free(ctl);
      } else {
        failures++;
      }
      seg_fini(&s);
    }
    expect_gone(im, name);

    /* Create time against size: 4 KiB and 1 GiB, interleaved; 1 GiB must not touch
     * its memory (allocated blocks, Shmem, faults). */
    double small_us[10], huge_us[10];
    long max_alloc = -1, max_faults = 0, max_shmem = 0;
    int done = 0;
    for (int r = 0; r < reps && !bench_interrupted; r++) {
      bool ok = true;
      for (int which = 0; which < 2 && ok; which++) {
        seg_name(im, "size", name, sizeof name);
        if (seg_init(&s, im->kind, im->type, name) != 0) {
          ok = false;
        } else {
          long shm0 = shmem_kib(), f0 = minor_faults();
          double t0 = now_ns();
          int rc = seg_create(&s, which == 0 ? 4096 : huge);
          double t1 = now_ns();
          long f1 = minor_faults(), shm1 = shmem_kib();
          if (rc != 0) {
            ok = false;
          } else if (which == 0) {
            small_us[done] = (t1 - t0) / 1e3;
          } else {
            huge_us[done] = (t1 - t0) / 1e3;
            long alloc = allocated_kib(&s);
            max_alloc = alloc > max_alloc ? alloc : max_alloc;
            max_faults = f1 - f0 > max_faults ? f1 - f0 : max_faults;
            if (shm0 >= 0 && shm1 >= 0 && shm1 - shm0 > max_shmem)
              max_shmem = shm1 - shm0;
          }
          seg_detach(&s, true);
          seg_fini(&s);
        }
        expect_gone(im, name);
      }
      if (!ok) {
        failures++;
        break;
      }
      done++;
    }
    if (done > 0) {
      json_begin("big", im->id, "create_size");
      json_num("value", median_of(huge_us, done) / median_of(small_us, done));
      json_str("unit", "x");
      json_num("create_4k_us", median_of(small_us, done));
      json_num("create_1g_us", median_of(huge_us, done));
      json_int("huge_bytes", (long long)huge);
      json_int("allocated_kib", max_alloc);   /* of the huge object, after create */
      json_int("create_faults", max_faults);  /* during the huge create */
      json_int("shmem_delta_kib", max_shmem); /* system-wide, so noisy: an upper bound */
      json_int("reps", done);
      json_end();
      note("big %-16s create 4 KiB %.1f us, %zu MiB %.1f us, allocated %ld KiB", im->id,
           median_of(small_us, done), huge >> 20, median_of(huge_us, done), max_alloc);
    }
  }
  return failures;
}

/* ---- many ----------------------------------------------------------------------- */

/* Makes room for `need` descriptors: the soft limit up to the hard one, and the hard
 * one too where the process may (root). Returns the limit now in force. */
static long raise_nofile(long need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  if ((long)rl.rlim_cur >= need)
    return (long)rl.rlim_cur;
  if ((long)rl.rlim_max < need) {
    struct rlimit more = {(rlim_t)need, (rlim_t)need};
    if (setrlimit(RLIMIT_NOFILE, &more) == 0)
      return need;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return (long)rl.rlim_cur;
}

static long read_long_file(const char *path) {
  FILE *f = fopen(path, "r");
  long v = -1;
  if (f != NULL) {
    if (fscanf(f, "%ld", &v) != 1)
      v = -1;
    fclose(f);
  }
  return v;
}

typedef struct many_arg {
  impl *im;
  control *ctl;
  char (*names)[128];
  int count;
} many_arg;

/* The other process: attaches to every segment, then detaches from every one. */
static int many_attacher(int idx, void *arg) {
  many_arg *a = arg;
  child_slot *slot = &a->ctl->child[idx];
  seg *segs = calloc((size_t)a->count, sizeof *segs);
  int rc = segs == NULL ? -1 : 0;
  for (int k = 0; k < a->count && rc == 0; k++)
    rc = seg_init(&segs[k], a->im->kind, a->im->type, a->names[k]);
  atomic_store(&a->ctl->ready, 1);
  if (rc != 0 || !wait_flag(&a->ctl->go, 1, 100e3, 300)) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  int fds0 = count_fds(), maps0 = count_maps();
  double t0 = now_ns();
  int k;
  for (k = 0; k < a->count; k++)
    if (seg_attach(&segs[k]) != 0)
      break;
  double t1 = now_ns();
  int fds1 = count_fds(), maps1 = count_maps();
  bool ok = k == a->count;
  double t2 = now_ns();
  for (int j = 0; j < k; j++)
    seg_detach(&segs[j], false);
  double t3 = now_ns();
  for (int j = 0; j < a->count; j++)
    seg_fini(&segs[j]);
  free(segs);
  slot->value[0] = (t1 - t0) / a->count / 1e3;
  slot->value[1] = (t3 - t2) / a->count / 1e3;
  slot->value[2] = (double)(fds1 - fds0) / a->count;
  slot->value[3] = (double)(maps1 - maps0) / a->count;
  atomic_store(&slot->status, ok ? 1 : -1);
  return ok ? 0 : 1;
}

typedef struct many_result {
  double create, attach, detach, destroy; /* us per segment */
  double fds, maps, attach_fds, attach_maps; /* per handle */
} many_result;

static int many_once(impl *im, int count, many_result *res) {
  char (*names)[128] = calloc((size_t)count, sizeof *names);
  seg *segs = calloc((size_t)count, sizeof *segs);
  if (names == NULL || segs == NULL) {
    free(names);
    free(segs);
    return -1;
  }
  for (int k = 0; k < count; k++)
    seg_name(im, "many", names[k], sizeof names[k]);
  int rc = 0;
  for (int k = 0; k < count && rc == 0; k++)
    rc = seg_init(&segs[k], im->kind, im->type, names[k]);
  /* The attacher is forked before anything exists: it inherits nothing. */
  control *ctl = control_new();
  many_arg a = {im, ctl, names, count};
  pid_t pid = rc == 0 ? spawn_child(many_attacher, 0, &a, 600) : -1;
  if (pid < 0 || !wait_flag(&ctl->ready, 1, 100e3, 120))
    rc = -1;
  int fds0 = count_fds(), maps0 = count_maps();
  double t0 = now_ns();
  int made = 0;
  for (; made < count && rc == 0; made++)
    if (seg_create(&segs[made], 4096) != 0)
      rc = -1;
  double t1 = now_ns();
  int fds1 = count_fds(), maps1 = count_maps();
  atomic_store(&ctl->go, 1);
  int bad = pid > 0 ? reap_children(&pid, 1, 600) : 1;
  double t2 = now_ns();
  for (int k = 0; k < made; k++)
    seg_detach(&segs[k], true);
  double t3 = now_ns();
  for (int k = 0; k < count; k++)
    seg_fini(&segs[k]);
  for (int k = count; k-- > 0;) /* the registry pops the newest first */
    expect_gone(im, names[k]);
  if (rc == 0 && bad == 0) {
    res->create = (t1 - t0) / count / 1e3;
    res->destroy = (t3 - t2) / count / 1e3;
    res->attach = ctl->child[0].value[0];
    res->detach = ctl->child[0].value[1];
    res->fds = (double)(fds1 - fds0) / count;
    res->maps = (double)(maps1 - maps0) / count;
    res->attach_fds = ctl->child[0].value[2];
    res->attach_maps = ctl->child[0].value[3];
  } else {
    rc = -1;
  }
  control_free(ctl);
  free(segs);
  free(names);
  return rc;
}

/* Descriptors one created segment keeps open, measured on a few. */
static double probe_fds(impl *im) {
  many_result r;
  return many_once(im, 4, &r) == 0 ? r.fds : 2.0;
}

static void emit_many(const impl *im, const char *metric, int count, many_result *r, int done,
                      const char *capped) {
  double v[4][5];
  for (int k = 0; k < done; k++) {
    v[0][k] = r[k].create;
    v[1][k] = r[k].attach;
    v[2][k] = r[k].detach;
    v[3][k] = r[k].destroy;
  }
  double create = median_of(v[0], done), attach = median_of(v[1], done);
  double detach = median_of(v[2], done), destroy = median_of(v[3], done);
  json_begin("many", im->id, metric);
  json_num("value", create + attach + detach + destroy);
  json_str("unit", "us");
  json_int("count", count);
  json_num("create", create);
  json_num("attach", attach);
  json_num("detach", detach);
  json_num("destroy", destroy);
  json_num("fds_per_handle", r[0].fds);
  json_num("maps_per_handle", r[0].maps);
  json_num("attach_fds_per_handle", r[0].attach_fds);
  json_num("attach_maps_per_handle", r[0].attach_maps);
  json_int("reps", done);
  if (capped != NULL)
    json_str("capped", capped);
  json_end();
  note("many %-16s %5d segments: %.1f us/segment (create %.1f attach %.1f detach %.1f "
       "destroy %.1f), %.2f fds and %.2f mappings per handle",
       im->id, count, create + attach + detach + destroy, create, attach, detach, destroy,
       r[0].fds, r[0].maps);
}

int section_many(void) {
  impl list[3];
  int n = seg_impls(list);
  const int small = PICK(100, 20), large = PICK(10000, 200);
  const int reps_small = PICK(5, 2), reps_large = PICK(3, 1);
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (skip_qt(im, "many", "small") || skip_qt(im, "many", "large"))
      continue;
    double fph = probe_fds(im);
    int count[2] = {small, large}, reps[2] = {reps_small, reps_large}, done[2] = {0, 0};
    bool skip[2] = {false, false};
    char capped[2][160] = {"", ""};
    for (int which = 0; which < 2; which++) {
      const char *metric = which == 0 ? "small" : "large";
      if (im->kind == IMPL_QT) {
        long shmmni = read_long_file("/proc/sys/kernel/shmmni");
        if (shmmni >= 0 && shmmni < count[which] + 64) {
          char why[160];
          snprintf(why, sizeof why, "System V allows %ld segments (kernel.shmmni)", shmmni);
          emit_na("many", im->id, metric, why);
          skip[which] = true;
          continue;
        }
      }
      long need = (long)(fph * count[which]) + 64;
      long limit = raise_nofile(need);
      if (limit < need) {
        int fit = (int)((double)(limit - 64) / (fph > 0 ? fph : 1));
        snprintf(capped[which], sizeof capped[which], "%d of %d segments: RLIMIT_NOFILE is %ld",
                 fit, count[which], limit);
        count[which] = fit;
      }
    }
    /* The sizes alternate (small, large, small, ...): a noisy moment spoils one
     * repetition, not one size. */
    many_result r[2][5];
    for (int k = 0; k < reps_small && !bench_interrupted; k++) {
      for (int which = 0; which < 2; which++) {
        if (skip[which] || k >= reps[which])
          continue;
        if (many_once(im, count[which], &r[which][done[which]]) != 0) {
          note("many %s: %d segments failed", im->id, count[which]);
          failures++;
          skip[which] = true;
          continue;
        }
        done[which]++;
      }
    }
    for (int which = 0; which < 2; which++)
      if (done[which] > 0)
        emit_many(im, which == 0 ? "small" : "large", count[which], r[which], done[which],
                  capped[which][0] ? capped[which] : NULL);
  }
  return failures;
}

/* ---- key ------------------------------------------------------------------------ */

int section_key(void) {
  impl list[3];
  int n = seg_impls(list);
  const long count = PICK(200000L, 2000L);
  const int reps = 5;
  char keys[64][64];
  for (int k = 0; k < 64; k++)
    snprintf(keys[k], sizeof keys[k], "com.example.app/frame-buffer-%d", k * 7919);
  for (int i = 0; i < n && !bench_interrupted; i++) {
    impl *im = &list[i];
    if (im->kind == IMPL_RAWSHM)
      continue; /* no derivation to compare with */
    if (skip_qt(im, "key", "derive"))
      continue;
    double per[5];
    int done = 0;
    char out[1024];
    for (int r = 0; r < reps && !bench_interrupted; r++) {
      double t0 = now_ns();
      long c;
      for (c = 0; c < count; c++)
        if (cshm_native_key_for(out, sizeof out, keys[c & 63], im->type) != CSHM_OK)
          break;
      if (c < count) {
        note("key %s: %s", im->id, cshm_last_error_string());
        failures++;
        break;
      }
      per[done++] = (double)count / ((now_ns() - t0) / 1e9);
    }
    if (done == 0)
      continue;
    json_begin("key", im->id, "derive");
    json_num("value", median_of(per, done));
    json_str("unit", "1/s");
    json_int("count", count);
    json_int("reps", done);
    json_end();
    note("key %-16s %.3g derivations/s", im->id, per[done / 2]);
  }
  return failures;
}
