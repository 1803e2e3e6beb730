/* ring: a producer process and a consumer process pass fixed-size records through a
 * ring buffer in a cshm segment.
 *
 * The ring's indices and slots are read and written under the segment's lock. When
 * the ring is full (producer) or empty (consumer), a process waits:
 * - "wait/notify": cshm_wait() releases the lock and sleeps until the other side's
 *   cshm_notify_one() (which costs one atomic increment when nobody waits);
 * - "polling": unlock, sched_yield() (or sleep --poll-sleep-us), lock, look again:
 *   what code built on a lock alone (QSharedMemory) has to do.
 * Both print records/s and the CPU time both processes used, and the consumer checks
 * that every record arrived, once and in order (exit status 1 otherwise).
 *
 *   cshm_example_ring [--count N] [--mode wait|poll|both] [--poll-sleep-us U]
 *
 * POSIX (fork, getrusage, sched_yield): Linux, macOS, FreeBSD. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"

#define SLOTS 1024u   /* records in the ring (64 KiB) */
#define BATCH 64u     /* records moved per lock hold, at most */
#define STALL_MS 5000 /* no progress for this long: the other process is gone */

/* One record: a sequence number and a payload derived from it, so the consumer can
 * tell a lost, repeated, reordered or torn record. */
typedef struct record {
  uint64_t seq;
  uint8_t payload[56];
} record;
_Static_assert(sizeof(record) == 64, "a record is 64 bytes");

/* The segment's data. Every field is read and written under the segment's lock. */
typedef struct ring {
  uint64_t head; /* records written so far (the producer) */
  uint64_t tail; /* records read so far (the consumer) */
  int ready;     /* start barrier: processes attached */
  int go;
  int failed;    /* a process gave up: the other one stops too */
  char why[160];
  double t_end;     /* when the consumer checked the last record (CLOCK_MONOTONIC, s) */
  double cpu_s[2];  /* user+sys of the producer and the consumer */
  uint64_t waits[2]; /* how often each one found the ring full / empty */
  record slot[SLOTS];
} ring;

typedef struct options {
  uint64_t count;
  bool poll;
  unsigned poll_sleep_us; /* 0: sched_yield */
} options;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t payload_byte(uint64_t seq, unsigned i) {
  return (uint8_t)((seq >> (8 * (i % 8))) ^ (i * 37u));
}

static void fill(record *r, uint64_t seq) {
  r->seq = seq;
  for (unsigned i = 0; i < sizeof r->payload; i++)
    r->payload[i] = payload_byte(seq, i);
}

static bool intact(const record *r, uint64_t seq) {
  if (r->seq != seq)
    return false;
  for (unsigned i = 0; i < sizeof r->payload; i++)
    if (r->payload[i] != payload_byte(seq, i))
      return false;
  return true;
}

/* Lock held: records the failure for the other process and the parent. */
static void fail(cshm *h, ring *r, const char *what, int rc) {
  if (!r->failed) {
    r->failed = 1;
    snprintf(r->why, sizeof r->why, "%s: %s%s%s", what, cshm_error_name(rc),
             rc != CSHM_OK ? " " : "", rc != CSHM_OK ? cshm_error_string(h) : "");
  }
  cshm_notify_all(h);
}

typedef bool (*ready_fn)(const ring *r);

static bool has_room(const ring *r) { return r->head - r->tail < SLOTS || r->failed; }
static bool has_records(const ring *r) { return r->head != r->tail || r->failed; }
static bool started(const ring *r) { return r->go || r->failed; }

/* Lock held, and held again on return: waits until ready(r). Returns false (and
 * marks the ring failed) when the other process stopped making progress. */
static bool wait_until(cshm *h, ring *r, ready_fn ready, const options *o, uint64_t *waits) {
  if (ready(r))
    return !r->failed;
  ++*waits;
  const double give_up = now_s() + STALL_MS / 1000.0;
  while (!ready(r)) {
    int rc;
    if (o->poll) {
      if ((rc = cshm_unlock(h)) != CSHM_OK)
        return false;
      if (o->poll_sleep_us != 0) {
        struct timespec ts = {0, (long)o->poll_sleep_us * 1000L};
        nanosleep(&ts, NULL);
      } else {
        sched_yield();
      }
      rc = cshm_lock(h);
    } else {
      rc = cshm_wait(h, STALL_MS); /* re-check the predicate: wake-ups may be spurious */
    }
    if (rc < 0 && rc != CSHM_ETIMEDOUT)
      return false; /* the lock is not held (lock failed) or the OS refused: give up */
    if (rc == CSHM_OWNER_DIED) {
      fail(h, r, "the other process died holding the lock", rc);
      return false;
    }
    if (!ready(r) && now_s() > give_up) {
      fail(h, r, "no progress for 5 s", CSHM_OK);
      return false;
    }
  }
  return !r->failed;
}

/* A child's start: its own handle (the parent's belongs to the parent), the barrier. */
static cshm *attach_and_start(const char *key, const options *o, ring **out) {
  cshm *h = NULL;
  if (cshm_new(&h, key) != CSHM_OK || cshm_attach(h, CSHM_READ_WRITE) != CSHM_OK) {
    fprintf(stderr, "ring: attach %s: %s\n", key,
            h != NULL ? cshm_error_string(h) : cshm_last_error_string());
    cshm_free(h);
    return NULL;
  }
  ring *r = cshm_data(h);
  uint64_t ignored = 0;
  options barrier = *o;
  barrier.poll = false; /* the start is not what is measured */
  if (cshm_lock(h) < 0) {
    cshm_free(h);
    return NULL;
  }
  r->ready++;
  cshm_notify_all(h);
  bool ok = wait_until(h, r, started, &barrier, &ignored);
  cshm_unlock(h);
  if (!ok) {
    cshm_free(h);
    return NULL;
  }
  *out = r;
  return h;
}

static double cpu_of_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int producer(const char *key, const options *o) {
  ring *r;
  cshm *h = attach_and_start(key, o, &r);
  if (h == NULL)
    return 1;
  record batch[BATCH];
  uint64_t next = 0, waits = 0;
  bool ok = true;
  while (ok && next < o->count) {
    uint64_t n = o->count - next < BATCH ? o->count - next : BATCH;
    for (uint64_t k = 0; k < n; k++) /* outside the lock */
      fill(&batch[k], next + k);
    if (cshm_lock(h) < 0)
      return 1;
    ok = wait_until(h, r, has_room, o, &waits);
    if (ok) {
      uint64_t room = SLOTS - (r->head - r->tail);
      n = n < room ? n : room;
      for (uint64_t k = 0; k < n; k++)
        r->slot[(r->head + k) % SLOTS] = batch[k];
      r->head += n;
      next += n;
    }
    r->waits[0] = waits;
    cshm_unlock(h);
    cshm_notify_one(h); /* the consumer, if it sleeps; else one atomic increment */
  }
  cshm_lock(h);
  r->cpu_s[0] = cpu_of_self();
  cshm_unlock(h);
  cshm_free(h);
  return ok ? 0 : 1;
}

static int consumer(const char *key, const options *o) {
  ring *r;
  cshm *h = attach_and_start(key, o, &r);
  if (h == NULL)
    return 1;
  record batch[BATCH];
  uint64_t next = 0, waits = 0;
  bool ok = true;
  while (ok && next < o->count) {
    if (cshm_lock(h) < 0)
      return 1;
    ok = wait_until(h, r, has_records, o, &waits);
    uint64_t n = 0;
    if (ok) {
      n = r->head - r->tail < BATCH ? r->head - r->tail : BATCH;
      for (uint64_t k = 0; k < n; k++)
        batch[k] = r->slot[(r->tail + k) % SLOTS];
      r->tail += n;
    }
    r->waits[1] = waits;
    cshm_unlock(h);
    cshm_notify_one(h); /* the producer, if it sleeps on a full ring */
    for (uint64_t k = 0; ok && k < n; k++, next++) { /* outside the lock */
      if (!intact(&batch[k], next)) {
        cshm_lock(h);
        char what[96];
        snprintf(what, sizeof what, "record %llu arrived wrong (seq %llu)",
                 (unsigned long long)next, (unsigned long long)batch[k].seq);
        fail(h, r, what, CSHM_OK);
        cshm_unlock(h);
        ok = false;
      }
    }
  }
  double t_end = now_s();
  cshm_lock(h);
  r->t_end = t_end;
  r->cpu_s[1] = cpu_of_self();
  cshm_unlock(h);
  cshm_free(h);
  return ok ? 0 : 1;
}

typedef struct result {
  double seconds, cpu_s[2];
  uint64_t waits[2];
} result;

/* One run: creates the segment, forks the two processes, starts them together. */
static int run(const options *o, result *res) {
  char key[96];
  snprintf(key, sizeof key, "cshm-example-ring-%ld-%s", (long)getpid(), o->poll ? "poll" : "wait");
  cshm *h = NULL;
  int rc = cshm_new(&h, key);
  if (rc == CSHM_OK)
    rc = cshm_create(h, sizeof(ring), CSHM_READ_WRITE);
  if (rc != CSHM_OK) {
    fprintf(stderr, "ring: create %s: %s\n", key,
            h != NULL ? cshm_error_string(h) : cshm_last_error_string());
    cshm_free(h);
    return 1;
  }
  ring *r = cshm_data(h);
  fflush(NULL);
  pid_t pids[2];
  for (int c = 0; c < 2; c++) {
    pids[c] = fork();
    if (pids[c] == 0) {
      cshm_free(h); /* a forked child only unmaps the parent's handle */
      _exit(c == 0 ? producer(key, o) : consumer(key, o));
    }
  }
  double t0 = 0;
  bool ok = pids[0] > 0 && pids[1] > 0 && cshm_lock(h) >= 0;
  if (ok) {
    while (ok && r->ready < 2 && !r->failed) {
      rc = cshm_wait(h, STALL_MS); /* the children notify as they arrive */
      ok = rc == CSHM_OK || (rc == CSHM_ETIMEDOUT && r->ready == 2);
    }
    r->go = 1;
    if (!ok)
      fail(h, r, "the processes did not start", CSHM_OK);
    t0 = now_s();
    cshm_unlock(h);
    cshm_notify_all(h);
  }
  int bad = 0;
  for (int c = 0; c < 2; c++) {
    int status = 0;
    if (pids[c] <= 0 || waitpid(pids[c], &status, 0) != pids[c] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      bad++;
  }
  cshm_lock(h);
  if (bad != 0 || r->failed || r->tail != o->count) {
    fprintf(stderr, "ring (%s): FAILED: %s (%llu of %llu records arrived)\n",
            o->poll ? "polling" : "wait/notify", r->failed ? r->why : "a process failed",
            (unsigned long long)r->tail, (unsigned long long)o->count);
    bad++;
  }
  res->seconds = r->t_end - t0;
  for (int c = 0; c < 2; c++) {
    res->cpu_s[c] = r->cpu_s[c];
    res->waits[c] = r->waits[c];
  }
  cshm_unlock(h);
  cshm_free(h); /* the last detacher removes the segment */
  return bad != 0 || !ok ? 1 : 0;
}

static void print_result(const char *name, const options *o, const result *r) {
  double cpu = r->cpu_s[0] + r->cpu_s[1];
  printf("%-22s %10.0f records/s  %7.3f s  CPU %6.3f s (producer %.3f, consumer %.3f)  "
         "full %llu / empty %llu times  in order: yes\n",
         name, (double)o->count / r->seconds, r->seconds, cpu, r->cpu_s[0], r->cpu_s[1],
         (unsigned long long)r->waits[0], (unsigned long long)r->waits[1]);
}

static int usage(void) {
  fprintf(stderr, "usage: cshm_example_ring [--count N] [--mode wait|poll|both] "
                  "[--poll-sleep-us U]\n");
  return 2;
}

int main(int argc, char **argv) {
  options o = {1000000u, false, 0};
  const char *mode = "both";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
      o.count = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
      mode = argv[++i];
    else if (strcmp(argv[i], "--poll-sleep-us") == 0 && i + 1 < argc)
      o.poll_sleep_us = (unsigned)strtoul(argv[++i], NULL, 10);
    else
      return usage();
  }
  bool wait = strcmp(mode, "wait") == 0 || strcmp(mode, "both") == 0;
  bool poll = strcmp(mode, "poll") == 0 || strcmp(mode, "both") == 0;
  if (o.count == 0 || (!wait && !poll) || o.poll_sleep_us >= 1000000u)
    return usage();
  printf("ring: %llu records of %zu bytes, %u slots, up to %u records per lock hold; two "
         "processes\n",
         (unsigned long long)o.count, sizeof(record), SLOTS, BATCH);
  result rw = {0}, rp = {0};
  int failed = 0;
  if (wait) {
    o.poll = false;
    if (run(&o, &rw) != 0)
      failed++;
    else
      print_result("wait/notify", &o, &rw);
  }
  if (poll) {
    char name[48];
    if (o.poll_sleep_us != 0)
      snprintf(name, sizeof name, "polling (sleep %u us)", o.poll_sleep_us);
    else
      snprintf(name, sizeof name, "polling (sched_yield)");
    o.poll = true;
    if (run(&o, &rp) != 0)
      failed++;
    else
      print_result(name, &o, &rp);
  }
  if (wait && poll && failed == 0) {
    double cw = rw.cpu_s[0] + rw.cpu_s[1], cp = rp.cpu_s[0] + rp.cpu_s[1];
    printf("wait/notify against polling: %.2fx the records/s, %.2fx the CPU time\n",
           rp.seconds / rw.seconds, cp > 0 ? cw / cp : 0.0);
  }
  return failed != 0 ? 1 : 0;
}
