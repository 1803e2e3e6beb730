/* The sections of issue 13 item 6: waiting and notifying (cshm_wait, cshm_notify_one,
 * cshm_event_*) against raw futexes compiled into this binary.
 *
 *   notify  wake: notify -> the sleeping waiter runs (median, p99), two processes
 *           pingpong: two processes passing a turn through wait/notify (round trip)
 *   idle    CPU time (user+sys) of a process asleep 1 s in a wait
 *
 * The rows, and what each baseline is (README "Benchmarks", RESULTS.md "Method"):
 * - raw-futex: a bare futex. A 32-bit sequence word in a MAP_SHARED mapping; the
 *   signaller increments it and calls FUTEX_WAKE (always: there is no waiter count);
 *   the waiter calls FUTEX_WAIT while the word still holds the value it saw. The same
 *   protocol as cshm's event word, minus the API: the floor for cshm_event_*.
 * - raw-futex-mutex: a condition variable built from that futex word, a waiter count
 *   and a raw robust process-shared mutex (cshm's own attributes): the waiter holds
 *   the mutex, reads the sequence, registers, unlocks, FUTEX_WAITs, re-locks; the
 *   notifier increments the sequence and wakes only when someone is registered. The
 *   algorithm of src/common/wait_default.c without cshm's front end and its 50 ms
 *   owner-death slices: the fair baseline of cshm_wait/cshm_notify_one.
 * - cshm-default / cshm-portable: cshm_wait + cshm_notify_one on the segment's lock.
 * - cshm-default-event / cshm-portable-event: cshm_event_wait + cshm_event_signal.
 * The raw rows run in the default build only (as every baseline). */
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PICK(full, tiny) (cfg.smoke ? (tiny) : (full))

static int failures;

/* ---- the mechanisms ----------------------------------------------------------------- */

typedef enum wkind {
  W_FUTEX,       /* bare futex sequence word */
  W_FUTEX_MUTEX, /* futex condition variable on a raw robust mutex */
  W_CSHM_COND,   /* cshm_wait / cshm_notify_one */
  W_CSHM_EVENT   /* cshm_event_wait / cshm_event_signal */
} wkind;

typedef struct wrow {
  wkind kind;
  char id[40];
  impl im; /* raw: IMPL_ROBUST (mutex at lock_area, words in data); cshm: IMPL_CSHM */
} wrow;

/* What the raw rows keep in their data page, and what every row shares. */
typedef struct wshared {
  _Atomic uint32_t seq;     /* raw: the futex word */
  _Atomic uint32_t waiters; /* raw-futex-mutex: registered waiters */
  char pad[56];
  _Atomic int pred;         /* the predicate (cond rows: read and written under the lock) */
  _Atomic int turn;         /* ping-pong */
} wshared;

static wshared *shared_of(wrow *w) { return (wshared *)(void *)w->im.data; }

static bool has_lock(const wrow *w) { return w->kind == W_FUTEX_MUTEX || w->kind == W_CSHM_COND; }

static long sys_futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, (uint32_t *)(void *)word, op, val, ts, NULL, 0);
}

/* FUTEX_WAIT (shared: the other process keys on the object) while *word == val; ms
 * bounds it. 0, or -1 on timeout. */
static int futex_wait_ms(_Atomic uint32_t *word, uint32_t val, uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  if (sys_futex(word, FUTEX_WAIT, val, &ts) == 0)
    return 0;
  return errno == ETIMEDOUT ? -1 : 0; /* EAGAIN (changed already), EINTR: look again */
}

static int w_lock(wrow *w) {
  if (w->kind == W_FUTEX_MUTEX)
    return robust_lock(w->im.lock_area);
  if (w->kind == W_CSHM_COND) {
    int rc = cshm_lock(w->im.h);
    return rc >= 0 ? 0 : rc;
  }
  return 0;
}

static int w_unlock(wrow *w) {
  if (w->kind == W_FUTEX_MUTEX)
    return -pthread_mutex_unlock((pthread_mutex_t *)w->im.lock_area);
  if (w->kind == W_CSHM_COND)
    return cshm_unlock(w->im.h);
  return 0;
}

/* Cond rows, lock held: wait for a notify (or `ms`); the lock is held again on
 * return. 0, 1 on timeout, negative on error. */
static int w_cond_wait(wrow *w, uint32_t ms) {
  if (w->kind == W_CSHM_COND) {
    int rc = cshm_wait(w->im.h, ms);
    return rc == CSHM_OK ? 0 : rc == CSHM_ETIMEDOUT ? 1 : rc < 0 ? rc : -1;
  }
  wshared *s = shared_of(w);
  pthread_mutex_t *m = w->im.lock_area;
  uint32_t seq = atomic_load(&s->seq); /* under the lock, as cshm_wait reads it */
  atomic_fetch_add(&s->waiters, 1);
  if (pthread_mutex_unlock(m) != 0)
    return -1;
  int timed_out = futex_wait_ms(&s->seq, seq, ms);
  atomic_fetch_sub(&s->waiters, 1);
  if (robust_lock(m) != 0)
    return -1;
  return timed_out ? 1 : 0;
}

static int w_cond_notify(wrow *w) {
  if (w->kind == W_CSHM_COND)
    return cshm_notify_one(w->im.h) == CSHM_OK ? 0 : -1;
  wshared *s = shared_of(w);
  atomic_fetch_add(&s->seq, 1);
  if (atomic_load(&s->waiters) == 0)
    return 0;
  return sys_futex(&s->seq, FUTEX_WAKE, 1, NULL) >= 0 ? 0 : -1;
}

/* Sequence rows: the value, a wait while it is `seen` (0, 1 on timeout), a signal. */
static uint32_t w_seq_value(wrow *w) {
  if (w->kind == W_CSHM_EVENT) {
    uint32_t v = 0;
    cshm_event_value(w->im.h, &v);
    return v;
  }
  return atomic_load(&shared_of(w)->seq);
}

static int w_seq_wait(wrow *w, uint32_t seen, uint32_t ms) {
  if (w->kind == W_CSHM_EVENT) {
    int rc = cshm_event_wait(w->im.h, seen, ms);
    return rc == CSHM_OK ? 0 : rc == CSHM_ETIMEDOUT ? 1 : -1;
  }
  return futex_wait_ms(&shared_of(w)->seq, seen, ms) == 0 ? 0 : 1;
}

static int w_seq_signal(wrow *w) {
  if (w->kind == W_CSHM_EVENT)
    return cshm_event_signal(w->im.h) == CSHM_OK ? 0 : -1;
  wshared *s = shared_of(w);
  atomic_fetch_add(&s->seq, 1);
  return sys_futex(&s->seq, FUTEX_WAKE, 1, NULL) >= 0 ? 0 : -1;
}

/* The rows of this build, in table order. Returns how many (room for 4). */
static int wait_rows(wrow *out) {
  int n = 0;
  const struct {
    wkind kind;
    bool baseline;
  } all[4] = {{W_FUTEX, true}, {W_FUTEX_MUTEX, true}, {W_CSHM_COND, false},
              {W_CSHM_EVENT, false}};
  for (int i = 0; i < 4; i++) {
    wrow w;
    memset(&w, 0, sizeof w);
    w.kind = all[i].kind;
    w.im.semid = -1;
    switch (w.kind) {
    case W_FUTEX: snprintf(w.id, sizeof w.id, "raw-futex"); break;
    case W_FUTEX_MUTEX: snprintf(w.id, sizeof w.id, "raw-futex-mutex"); break;
    case W_CSHM_COND: snprintf(w.id, sizeof w.id, "%s", cshm_impl_id()); break;
    case W_CSHM_EVENT: snprintf(w.id, sizeof w.id, "%s-event", cshm_impl_id()); break;
    }
    w.im.kind = all[i].baseline ? IMPL_ROBUST : IMPL_CSHM;
    w.im.id = w.id;
    w.im.type = CSHM_KEY_DEFAULT;
    if ((all[i].baseline && !cfg.baselines) || !impl_wanted(w.id))
      continue;
    out[n++] = w;
  }
  return n;
}

static int row_setup(wrow *w, const char *what) {
  w->im.id = w->id;
  if (impl_setup(&w->im, what) != 0)
    return -1;
  memset(w->im.data, 0, sizeof(wshared));
  return 0;
}

/* In a child: its own handle (cshm), or the inherited mapping (raw). */
static int row_child_open(wrow *w) {
  w->im.id = w->id;
  return impl_child_open(&w->im);
}

/* ---- notify: wake latency ------------------------------------------------------------ */

typedef struct wait_arg {
  wrow *w;
  control *ctl;
  int rounds;
  long count;
  uint32_t ms;
} wait_arg;

/* The waiter: each round it goes to sleep in the row's wait and stamps the clock as
 * soon as it runs again (for a cond row: cshm_wait has returned, the lock is held). */
static int wake_waiter(int idx, void *arg) {
  wait_arg *a = arg;
  control *ctl = a->ctl;
  wrow w = *a->w;
  if (row_child_open(&w) != 0) {
    atomic_store(&ctl->child[idx].status, -1);
    return 1;
  }
  wshared *s = shared_of(&w);
  atomic_store(&ctl->ready, 1);
  int rc = 0;
  for (int r = 1; r <= a->rounds && rc == 0; r++) {
    if (!wait_flag(&ctl->round, r, 10e3, 20)) {
      rc = -1;
      break;
    }
    if (has_lock(&w)) {
      if (w_lock(&w) != 0) {
        rc = -1;
        break;
      }
      atomic_store(&ctl->waiting, r);
      int got = 0;
      while (atomic_load(&s->pred) < r && got == 0)
        got = w_cond_wait(&w, 5000);
      ctl->samples[r - 1] = now_ns();
      if (got != 0 || w_unlock(&w) != 0)
        rc = -1;
    } else {
      uint32_t seen = w_seq_value(&w);
      atomic_store(&ctl->waiting, r);
      int got = 0;
      while (w_seq_value(&w) == seen && got == 0)
        got = w_seq_wait(&w, seen, 5000);
      ctl->samples[r - 1] = now_ns();
      if (got != 0)
        rc = -1;
    }
    atomic_store(&ctl->woken, r);
  }
  atomic_store(&ctl->child[idx].status, rc == 0 ? 1 : -1);
  impl_child_close(&w.im);
  return rc == 0 ? 0 : 1;
}

typedef struct wake_result {
  double us[4096]; /* latencies of every block, pooled */
  int n;
  int asleep, early, blocks;
  bool ok, tried;
} wake_result;

/* One block of `rounds` wake-ups with a fresh waiter process; samples appended. */
static bool wake_block(wrow *w, int rounds, double asleep_ns, wake_result *res) {
  res->tried = true;
  if (row_setup(w, "notify") != 0) {
    res->ok = false;
    failures++;
    return false;
  }
  control *ctl = control_new();
  wshared *s = shared_of(w);
  wait_arg a = {w, ctl, rounds, 0, 0};
  pid_t pid = spawn_child(wake_waiter, 0, &a, 60);
  bool ok = pid > 0 && wait_flag(&ctl->ready, 1, 50e3, 30);
  int done = 0;
  double t_notify[1024];
  for (int r = 1; r <= rounds && ok && !bench_interrupted; r++) {
    atomic_store(&ctl->round, r);
    ok = wait_flag(&ctl->waiting, r, 10e3, 20);
    if (ok && has_lock(w)) {
      /* Our lock proves the waiter released it inside its wait: it is registered. */
      ok = w_lock(w) == 0 && w_unlock(w) == 0;
    }
    sleep_ns(asleep_ns);
    res->asleep += proc_state(pid) == 'S';
    if (ok && has_lock(w)) { /* the predicate changes under the lock; notify after */
      ok = w_lock(w) == 0;
      atomic_store(&s->pred, r);
      ok = w_unlock(w) == 0 && ok;
    }
    t_notify[r - 1] = now_ns(); /* just before the notify */
    if (ok)
      ok = (has_lock(w) ? w_cond_notify(w) : w_seq_signal(w)) == 0;
    if (ok && (ok = wait_flag(&ctl->woken, r, 2e3, 20)))
      done = r;
  }
  if (!ok)
    atomic_store(&ctl->round, rounds + 1);
  int bad = reap_children(&pid, 1, 30);
  for (int k = 0; k < done && res->n < (int)(sizeof res->us / sizeof res->us[0]); k++) {
    double d = (ctl->samples[k] - t_notify[k]) / 1e3;
    if (d < 0) /* woken before the notify (spuriously, or the 50 ms slice): not a wake */
      res->early++;
    else
      res->us[res->n++] = d;
  }
  if (!ok || bad != 0) {
    note("notify %s: FAILED after %d rounds", w->id, done);
    res->ok = false;
    failures++;
  }
  res->blocks++;
  control_free(ctl);
  impl_teardown(&w->im);
  return res->ok;
}

/* ---- notify: ping-pong ---------------------------------------------------------------- */

/* Both players: `count` times, wait for the turn, pass it, wake the other. */
static int pingpong_player(int idx, void *arg) {
  wait_arg *a = arg;
  control *ctl = a->ctl;
  child_slot *slot = &ctl->child[idx];
  wrow w = *a->w;
  if (row_child_open(&w) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  wshared *s = shared_of(&w);
  atomic_fetch_add(&ctl->ready, 1);
  if (!wait_flag(&ctl->go, 1, 20e3, 30)) {
    atomic_store(&slot->status, -1);
    impl_child_close(&w.im);
    return 1;
  }
  long done = 0;
  int rc = 0;
  if (has_lock(&w)) {
    rc = w_lock(&w);
    while (rc == 0 && done < a->count) {
      while (rc == 0 && atomic_load_explicit(&s->turn, memory_order_relaxed) != idx)
        rc = w_cond_wait(&w, 2000); /* a timeout: the other player is gone */
      if (rc != 0)
        break;
      atomic_store_explicit(&s->turn, 1 - idx, memory_order_relaxed);
      done++;
      if (w_unlock(&w) != 0 || w_cond_notify(&w) != 0 || w_lock(&w) != 0)
        rc = -1;
    }
    if (w_unlock(&w) != 0)
      rc = -1;
  } else {
    while (rc == 0 && done < a->count) {
      for (;;) {
        uint32_t seen = w_seq_value(&w);
        if (atomic_load(&s->turn) == idx)
          break;
        if ((rc = w_seq_wait(&w, seen, 2000)) != 0)
          break;
      }
      if (rc != 0)
        break;
      atomic_store(&s->turn, 1 - idx);
      done++;
      rc = w_seq_signal(&w);
    }
  }
  slot->t_end = now_ns();
  atomic_store(&slot->count, done);
  atomic_store(&slot->status, rc == 0 ? 1 : -1);
  impl_child_close(&w.im);
  return rc == 0 ? 0 : 1;
}

/* One run: ns per round trip, or NAN (a failure, counted). */
static double pingpong_once(wrow *w, long count) {
  if (row_setup(w, "pingpong") != 0) {
    failures++;
    return NAN;
  }
  control *ctl = control_new();
  wait_arg a = {w, ctl, 0, count, 0};
  pid_t pids[2];
  for (int c = 0; c < 2; c++)
    pids[c] = spawn_child(pingpong_player, c, &a, 120);
  bool ready = wait_flag(&ctl->ready, 2, 50e3, 30);
  ctl->t_go = now_ns();
  atomic_store(&ctl->go, 1);
  int bad = reap_children(pids, 2, 100);
  double per = NAN;
  long got0 = ctl->child[0].count, got1 = ctl->child[1].count;
  if (!ready || bad != 0 || got0 != count || got1 != count) {
    note("pingpong %s: FAILED: %ld and %ld of %ld turns, children failed %d", w->id, got0, got1,
         count, bad);
    failures++;
  } else {
    per = (fmax(ctl->child[0].t_end, ctl->child[1].t_end) - ctl->t_go) / (double)count;
  }
  control_free(ctl);
  impl_teardown(&w->im);
  return per;
}

int section_notify(void) {
  wrow rows[4];
  int n = wait_rows(rows);
  const int blocks = PICK(5, 1), rounds = PICK(200, 5);
  const double asleep_ns = 1e6; /* the waiter is in the kernel by then (counted) */
  static wake_result res[4];
  memset(res, 0, sizeof res);
  for (int i = 0; i < n; i++)
    res[i].ok = true;
  /* Blocks interleave the rows: a noisy moment hits them alike. */
  for (int b = 0; b < blocks && !bench_interrupted; b++)
    for (int i = 0; i < n && !bench_interrupted; i++)
      if (res[i].ok)
        wake_block(&rows[i], rounds, asleep_ns, &res[i]);
  for (int i = 0; i < n; i++) {
    wake_result *r = &res[i];
    if (r->n == 0) {
      emit_na("notify", rows[i].id, "wake", r->ok ? "no sample" : "FAILED");
      continue;
    }
    json_begin("notify", rows[i].id, "wake");
    json_num("value", median_of(r->us, r->n));
    json_num("p90", quantile_of(r->us, r->n, 0.90));
    json_num("p99", quantile_of(r->us, r->n, 0.99));
    json_num("best", r->us[0]);
    json_str("unit", "us");
    json_int("samples", r->n);
    json_int("asleep", r->asleep);
    json_int("early", r->early);
    json_int("ok", r->ok);
    json_end();
    note("notify wake %-20s median %.1f us, p99 %.1f us (%d samples, waiter asleep %d, early "
         "%d)",
         rows[i].id, median_of(r->us, r->n), quantile_of(r->us, r->n, 0.99), r->n, r->asleep,
         r->early);
  }

  const long count = PICK(20000L, 300L);
  const int reps = PICK(5, 1);
  double per[4][5];
  int done[4] = {0};
  bool broken[4] = {false};
  for (int r = 0; r < reps && !bench_interrupted; r++)
    for (int i = 0; i < n && !bench_interrupted; i++) {
      if (broken[i])
        continue;
      double v = pingpong_once(&rows[i], count);
      if (isnan(v))
        broken[i] = true;
      else
        per[i][done[i]++] = v;
    }
  for (int i = 0; i < n; i++) {
    if (done[i] == 0) {
      emit_na("notify", rows[i].id, "pingpong", "FAILED");
      continue;
    }
    json_begin("notify", rows[i].id, "pingpong");
    json_num("value", median_of(per[i], done[i]));
    json_num("best", min_of(per[i], done[i]));
    json_str("unit", "ns");
    json_int("round_trips", count);
    json_int("reps", done[i]);
    json_int("ok", !broken[i]);
    json_end();
    note("notify pingpong %-20s median %.0f ns per round trip", rows[i].id,
         median_of(per[i], done[i]));
  }
  return failures;
}

/* ---- idle ------------------------------------------------------------------------------- */

static double cpu_us(const struct rusage *ru) {
  return (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec +
         (double)ru->ru_stime.tv_sec * 1e6 + (double)ru->ru_stime.tv_usec;
}

/* A process that waits `ms` with nobody to wake it, measuring its own CPU time and
 * voluntary context switches (each a return from sleep) over the wait. */
static int idle_waiter(int idx, void *arg) {
  wait_arg *a = arg;
  child_slot *slot = &a->ctl->child[idx];
  wrow w = *a->w;
  if (row_child_open(&w) != 0) {
    atomic_store(&slot->status, -1);
    return 1;
  }
  int rc = has_lock(&w) ? w_lock(&w) : 0;
  uint32_t seen = has_lock(&w) ? 0 : w_seq_value(&w);
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double t0 = now_ns();
  int got = rc != 0 ? -1 : has_lock(&w) ? w_cond_wait(&w, a->ms) : w_seq_wait(&w, seen, a->ms);
  double t1 = now_ns();
  getrusage(RUSAGE_SELF, &r1);
  if (has_lock(&w) && rc == 0 && w_unlock(&w) != 0)
    got = -1;
  slot->value[0] = cpu_us(&r1) - cpu_us(&r0);
  slot->value[1] = (double)(r1.ru_nvcsw - r0.ru_nvcsw);
  slot->value[2] = (t1 - t0) / 1e9;
  atomic_store(&slot->status, got == 1 ? 1 : -1); /* it must have timed out */
  impl_child_close(&w.im);
  return got == 1 ? 0 : 1;
}

int section_idle(void) {
  wrow rows[4];
  int n = wait_rows(rows);
  const uint32_t ms = PICK(1000u, 100u);
  const int reps = PICK(3, 1);
  double cpu[4][3], wakes[4][3], secs[4][3];
  int done[4] = {0};
  bool broken[4] = {false};
  for (int r = 0; r < reps && !bench_interrupted; r++)
    for (int i = 0; i < n && !bench_interrupted; i++) {
      if (broken[i] || row_setup(&rows[i], "idle") != 0) {
        broken[i] = true;
        continue;
      }
      control *ctl = control_new();
      wait_arg a = {&rows[i], ctl, 0, 0, ms};
      pid_t pid = spawn_child(idle_waiter, 0, &a, ms / 1000 + 30);
      int bad = reap_children(&pid, 1, ms / 1000.0 + 20);
      if (bad != 0) {
        note("idle %s: FAILED (the wait did not time out as it should)", rows[i].id);
        broken[i] = true;
        failures++;
      } else {
        secs[i][done[i]] = ctl->child[0].value[2];
        cpu[i][done[i]] = ctl->child[0].value[0] / ctl->child[0].value[2];
        wakes[i][done[i]++] = ctl->child[0].value[1] / ctl->child[0].value[2];
      }
      control_free(ctl);
      impl_teardown(&rows[i].im);
    }
  for (int i = 0; i < n; i++) {
    if (done[i] == 0) {
      emit_na("idle", rows[i].id, "cpu", "FAILED");
      continue;
    }
    json_begin("idle", rows[i].id, "cpu");
    json_num("value", median_of(cpu[i], done[i]));
    json_num("worst", quantile_of(cpu[i], done[i], 1.0));
    json_str("unit", "us/s");
    json_num("wakeups_per_s", median_of(wakes[i], done[i]));
    json_num("slept_s", median_of(secs[i], done[i]));
    json_int("reps", done[i]);
    json_int("ok", !broken[i]);
    json_end();
    note("idle %-20s %.1f us CPU per s asleep, %.1f wake-ups per s", rows[i].id,
         median_of(cpu[i], done[i]), median_of(wakes[i], done[i]));
  }
  return failures;
}
