/* cshm_bench: what the sections share (DESIGN.md §9, issue 8).
 *
 * One program, built once per profile (default, portable). `cshm_bench run SECTION`
 * measures one section and writes JSON lines to standard output (progress goes to
 * standard error); `cshm_bench report FILE...` reads the JSON lines of both builds
 * and prints the table with ratios and targets. bench/run.sh builds both profiles,
 * runs every section of each, interleaved, and reports: one command, one run.
 *
 * Rules every section keeps: names unique to the run, every object it makes removed
 * (and checked), every loop bounded in count and in time, every child process
 * bounded by a watchdog and killed with its parent. */
#ifndef CSHM_BENCH_BENCH_H
#define CSHM_BENCH_BENCH_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "cshm/cshm.h"

/* ---- configuration ------------------------------------------------------------ */

typedef struct bench_config {
  bool smoke;          /* tiny counts: proves the program runs, measures nothing */
  bool baselines;      /* run the raw baselines (the default build does) */
  bool qt;             /* try CSHM_KEY_QT_LEGACY rows (the default build does) */
  const char *profile; /* "default" or "portable": how the library was built */
  const char *only;    /* run only the rows of this implementation id (NULL: all) */
  char run_id[48];     /* unique per process: pid and random bits */
} bench_config;

extern bench_config cfg;

/* ---- time and statistics -------------------------------------------------------- */

double now_ns(void);                      /* CLOCK_MONOTONIC, nanoseconds */
void sleep_ns(double ns);                 /* nanosleep, EINTR-safe */
double median_of(double *v, int n);       /* sorts v */
double quantile_of(double *v, int n, double q); /* sorts v; q in [0,1] */
double min_of(const double *v, int n);
long minor_faults(void);                  /* getrusage(RUSAGE_SELF).ru_minflt */
int count_fds(void);                      /* entries of /proc/self/fd */
int count_maps(void);                     /* lines of /proc/self/maps */
long shmem_kib(void);                     /* /proc/meminfo Shmem, -1 if unknown */

/* Set by SIGINT/SIGTERM: loops stop early, cleanup still runs. */
extern volatile sig_atomic_t bench_interrupted;

/* ---- JSON lines ------------------------------------------------------------------- */

/* One record: {"bench":..,"impl":..,"metric":..,"value":..,"unit":.., extras}.
 * json_begin, then any json_num/json_int/json_str, then json_end. */
void json_begin(const char *bench, const char *impl, const char *metric);
void json_num(const char *key, double v);
void json_int(const char *key, long long v);
void json_str(const char *key, const char *v);
void json_end(void);
/* A row that could not be measured, and why ("n/a: ..." in the table). */
void emit_na(const char *bench, const char *impl, const char *metric, const char *why);

/* Progress and problems, to standard error. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cleanup registry --------------------------------------------------------------- */

/* Everything the run creates is registered before it exists and unregistered once
 * removed; bench_cleanup() removes what is left (after an error or an interrupt)
 * and says so. Only names this run made are ever removed. */
void reg_raw_shm(const char *name);       /* a raw shm_open name */
void unreg_raw_shm(const char *name);
void reg_sem(int semid);                  /* a raw System V semaphore set */
void unreg_sem(int semid);
void reg_key(const char *key, cshm_key_type t); /* a cshm key */
void unreg_key(const char *key, cshm_key_type t);
/* True when the segment of a registered key still exists (default key type: its
 * object in /dev/shm). */
bool key_exists(const char *key, cshm_key_type t);
/* Removes what is still registered; returns how many objects had to be removed. */
int bench_cleanup(void);

/* A fresh key: "cshm-bench-<run>-<what>-<n>" (not registered). */
void make_key(char *buf, size_t cap, const char *what, int n);

/* ---- child processes ------------------------------------------------------------- */

#define MAX_CHILDREN 8

/* Shared between the parent and its children: an anonymous shared mapping. */
typedef struct child_slot {
  _Atomic long count;   /* operations done */
  double t_end;         /* when it finished (now_ns) */
  _Atomic int status;   /* 0 running, 1 done, -1 failed */
  double value[4];      /* section-specific results */
  char why[160];        /* on failure */
} child_slot;

typedef struct control {
  _Atomic int ready;    /* children attached and waiting */
  _Atomic int go;       /* the parent's start signal */
  _Atomic int stop;     /* the parent's stop signal */
  _Atomic int round;    /* wake: the current round */
  _Atomic int waiting;  /* wake: the waiter is about to lock for this round */
  _Atomic int woken;    /* wake: the waiter finished this round */
  double t_go;
  double t_unlock;      /* wake: when the holder unlocked */
  child_slot child[MAX_CHILDREN];
  double samples[4096]; /* wake: latencies */
} control;

control *control_new(void);               /* zeroed, shared with later children */
void control_free(control *c);

/* Forks a child that runs fn(index, arg) and exits with its result (0 = success).
 * The child dies with its parent (PR_SET_PDEATHSIG) and after `timeout_s` seconds
 * (alarm). Returns the pid, or -1. */
pid_t spawn_child(int (*fn)(int index, void *arg), int index, void *arg, unsigned timeout_s);
/* Waits for the children, at most `timeout_s` seconds, then kills what is left.
 * Returns how many did not exit with 0. */
int reap_children(const pid_t *pids, int n, double timeout_s);
/* Waits until *flag >= want, polling every `poll_ns`, at most `timeout_s`; false on
 * timeout or interrupt. */
bool wait_flag(_Atomic int *flag, int want, double poll_ns, double timeout_s);

/* ---- implementations under test ------------------------------------------------------ */

typedef enum impl_kind {
  IMPL_SPIN,   /* raw atomic spin lock in a raw shm segment: the floor */
  IMPL_ROBUST, /* raw robust process-shared pthread mutex in a raw shm segment */
  IMPL_SYSV,   /* raw System V semaphore, semop with SEM_UNDO: Qt's lock */
  IMPL_RAWSHM, /* raw shm_open/mmap: the lifecycle baseline (no lock) */
  IMPL_CSHM,   /* cshm, default key type, this build's profile */
  IMPL_QT      /* cshm, CSHM_KEY_QT_LEGACY */
} impl_kind;

typedef struct impl {
  impl_kind kind;
  const char *id; /* JSON "impl": raw-spin, raw-robust, raw-sysv, raw-shm,
                     cshm-default, cshm-portable, cshm-qt-legacy */
  /* raw segments */
  char raw_name[96];
  unsigned char *raw_base;
  size_t raw_len;
  int semid;
  /* cshm */
  cshm_key_type type;
  char key[128];
  cshm *h;
  /* where the lock is (raw) and the shared data (all) */
  void *lock_area;
  unsigned char *data;
} impl;

/* The implementations a lock section runs in this build, in table order: the
 * baselines (if cfg.baselines), this build's cshm, and Qt legacy (if cfg.qt).
 * Returns how many were written to out (room for 6). */
int lock_impls(impl *out);
/* False when cfg.only excludes the row. */
bool impl_wanted(const char *id);
/* The id of this build's cshm default-key-type rows: "cshm-default"/"cshm-portable". */
const char *cshm_impl_id(void);
/* Whether CSHM_KEY_QT_LEGACY works in this build; *why says why not. */
bool qt_available(const char **why);

/* Parent: makes the lock and a data area (>= 4 KiB) for the section `what`. */
int impl_setup(impl *im, const char *what);
/* Child after fork: gets its own way to the lock (cshm: a new handle). */
int impl_child_open(impl *im);
void impl_child_close(impl *im);
/* Parent: removes everything impl_setup made. */
void impl_teardown(impl *im);
/* impl_lock/impl_unlock (below): 0, or a negative code; CSHM_OWNER_DIED counts as
 * success (not expected here). */

/* Qt legacy rows keep their key files in a private $TMPDIR (made by qt_prepare) and
 * qt_cleanup removes what they left there. */
void qt_prepare(void);
int qt_cleanup(void);

/* ---- the lock operations, inline: every implementation pays the same dispatch ---------- */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* The floor: a test-and-test-and-set spin lock (yields now and then, so a holder
 * preempted on this 2-core machine gets its core back). */
static inline void spin_lock(void *area) {
  _Atomic uint32_t *w = area;
  unsigned spins = 0;
  for (;;) {
    uint32_t expect = 0;
    if (atomic_compare_exchange_strong_explicit(w, &expect, 1, memory_order_acquire,
                                                memory_order_relaxed))
      return;
    while (atomic_load_explicit(w, memory_order_relaxed) != 0) {
      cpu_relax();
      if (++spins % 256 == 0)
        sched_yield();
    }
  }
}

static inline void spin_unlock(void *area) {
  atomic_store_explicit((_Atomic uint32_t *)area, 0, memory_order_release);
}

static inline int robust_lock(void *area) {
  int err = pthread_mutex_lock((pthread_mutex_t *)area);
  if (err == EOWNERDEAD)
    err = pthread_mutex_consistent((pthread_mutex_t *)area);
  return -err;
}

int sysv_op(int semid, short delta); /* semop with SEM_UNDO; 0 or -errno */

static inline int impl_lock(impl *im) {
  switch (im->kind) {
  case IMPL_SPIN: spin_lock(im->lock_area); return 0;
  case IMPL_ROBUST: return robust_lock(im->lock_area);
  case IMPL_SYSV: return sysv_op(im->semid, -1);
  case IMPL_RAWSHM: return -1;
  default: {
    int rc = cshm_lock(im->h);
    return rc >= 0 ? 0 : rc;
  }
  }
}

static inline int impl_unlock(impl *im) {
  switch (im->kind) {
  case IMPL_SPIN: spin_unlock(im->lock_area); return 0;
  case IMPL_ROBUST: return -pthread_mutex_unlock((pthread_mutex_t *)im->lock_area);
  case IMPL_SYSV: return sysv_op(im->semid, 1);
  case IMPL_RAWSHM: return -1;
  default: return cshm_unlock(im->h);
  }
}

/* ---- sections (sections.c) and report (report.c) --------------------------------------- */

int section_lock(void);
int section_trylock(void);
int section_handoff(void);
int section_contention(void);
int section_wake(void);
int section_lifecycle(void);
int section_big(void);
int section_many(void);
int section_key(void);
int section_meta(void);
int section_notify(void); /* wait.c */
int section_idle(void);   /* wait.c */

/* The scheduler state of a process ('S' sleeping, 'R' running), or '?'. */
char proc_state(pid_t pid);

int report_main(int argc, char **argv);

#endif
