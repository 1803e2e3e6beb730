/* The helper the cross-process suites spawn: runs a list of operations on one handle
 * and exits 0 when each returned what was expected.
 *
 *   helper KEY OP...
 *
 * OP is one of create:SIZE, create-or-attach:SIZE, create-no-reclaim:SIZE, attach,
 * attach-ro, detach, lock, try-lock, unlock, perms:OCTAL, write:TEXT, expect:TEXT,
 * pairs:N (N lock/unlock pairs), signal (say "signal" on the control socket and wait
 * to be resumed: the parent may kill us here), qt-legacy, qt-legacy-posix and
 * qt-platform-safe (switch
 * the handle to that key type: cshm_set_key_type), size:N (cshm_size() must be N;
 * CSHM_ESIZE otherwise), attach-cycles:N (N attach+detach pairs of a second handle
 * of the key: the segment must exist; for counting system calls), lock-timeout:MS
 * (cshm_lock_timeout), try-lock-busy:N (N try-locks that must each be CSHM_EBUSY: the
 * first other code is returned), env:NAME=VALUE (setenv, before the call that needs
 * it: the portable profile picks its sidecar directory once), touch:PATH (creates the
 * file: "I am here" to a shell script) and wait-gone:PATH (polls until the file is
 * removed: a script's "go on"). Wait/notify (test_wait.c, data laid out as
 * wait_shared.h): wait:MS, notify-one, notify-all, event-signal, event-wait:MS (waits
 * for a change from the value it reads first), check-ms:N (cshm_wait's owner check
 * period), set-go, wait-go:MS (cshm_wait until go is set; the first code other than
 * CSHM_OK), ready, woken (count in the data), produce:N, consume:N (records 0..N-1
 * through the ring, lock and wait per record), pingpong:R,N (N turns as player R of
 * 2), event-ping:N, event-pong:N (N event signals, each acknowledged through turn).
 * Each OP may end in "?CSHM_XXX": the code it must return (default CSHM_OK). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* setenv, O_CLOEXEC under -std=c11 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

#include "chaos.h"
#include "cshm/cshm.h"
#include "support.h"
#include "wait_shared.h"

static int code_of(const char *name) {
  for (int c = 1; c >= -64; c--)
    if (strcmp(cshm_error_name(c), name) == 0)
      return c;
  fprintf(stderr, "helper: unknown code %s\n", name);
  exit(2);
}

/* The chaos test's worker (chaos.h): critical sections under the lock until the
 * parent says stop, journaling each so that a kill anywhere can be rolled back. A
 * section made long enough (a short busy loop) that many kills land inside it. */
static int chaos_worker(cshm *h, uint32_t id) {
  if (id >= CHAOS_MAX_WORKERS || cshm_size(h) < sizeof(chaos_state))
    return CSHM_EINVAL;
  volatile chaos_state *s = cshm_data(h);
  for (;;) {
    int rc = cshm_lock(h);
    if (rc == CSHM_OWNER_DIED) {
      s->owner_died++;
      s->repairs += (uint64_t)chaos_repair(s);
    } else if (rc == CSHM_OK) {
      if (chaos_repair(s)) /* an interruption nobody was told about */
        s->violations++;
    } else {
      return rc;
    }
    if (s->stop)
      return cshm_unlock(h);
    s->journal.worker = id;
    s->journal.old_counter = s->counter;
    s->journal.old_completed = s->completed[id];
    s->journal.active = 1;
    s->counter++;
    for (volatile int spin = 0; spin < 2000; spin++) {
    }
    s->completed[id]++;
    s->journal.active = 0;
    if ((rc = cshm_unlock(h)) != CSHM_OK)
      return rc;
  }
}

/* n attach+detach pairs through a second handle of `key`. */
static int attach_cycles(const char *key, unsigned long n) {
  cshm *b = NULL;
  int rc = cshm_new(&b, key);
  for (unsigned long i = 0; rc == CSHM_OK && i < n; i++)
    if ((rc = cshm_attach(b, CSHM_READ_WRITE)) == CSHM_OK)
      rc = cshm_detach(b);
  if (rc != CSHM_OK)
    fprintf(stderr, "helper: attach-cycles: %s\n", cshm_error_string(b));
  cshm_free(b);
  return rc;
}

static const char *helper_key; /* argv[1] */
/* Waits under the lock until `ready` holds; the first code other than CSHM_OK. A
 * timeout here is a lost wake-up: the other side is making progress. */
#define WAIT_UNTIL(h, ready)                                                             \
  do {                                                                                   \
    while (!(ready)) {                                                                   \
      int wrc_ = cshm_wait((h), 10000);                                                  \
      if (wrc_ != CSHM_OK) {                                                             \
        fprintf(stderr, "helper %d: cshm_wait: %s\n", ts_pid(), cshm_error_name(wrc_));  \
        cshm_unlock(h);                                                                  \
        return wrc_;                                                                     \
      }                                                                                  \
    }                                                                                    \
  } while (0)

static wait_shared *shared(cshm *h) { return cshm_data(h); }

/* The producer: each record under the lock, waiting while the ring is full. */
static int produce(cshm *h, uint32_t n) {
  volatile wait_shared *w = shared(h);
  for (uint32_t i = 0; i < n; i++) {
    int rc = cshm_lock(h);
    if (rc != CSHM_OK)
      return rc;
    WAIT_UNTIL(h, w->head - w->tail < WAIT_RING_SLOTS);
    w->slots[w->head % WAIT_RING_SLOTS] = i;
    w->head++;
    if ((rc = cshm_unlock(h)) != CSHM_OK || (rc = cshm_notify_one(h)) != CSHM_OK)
      return rc; /* notified outside the lock: it races the consumer's next wait */
  }
  return CSHM_OK;
}

static int consume(cshm *h, uint32_t n) {
  volatile wait_shared *w = shared(h);
  for (uint32_t i = 0; i < n; i++) {
    int rc = cshm_lock(h);
    if (rc != CSHM_OK)
      return rc;
    WAIT_UNTIL(h, w->head != w->tail);
    if (w->slots[w->tail % WAIT_RING_SLOTS] != i)
      w->bad++;
    w->tail++;
    if ((rc = cshm_notify_one(h)) != CSHM_OK || (rc = cshm_unlock(h)) != CSHM_OK)
      return rc; /* notified under the lock */
  }
  return CSHM_OK;
}

/* Player `role` of two: n turns, each waiting for the other's. */
static int pingpong(cshm *h, uint32_t role, uint32_t n) {
  volatile wait_shared *w = shared(h);
  for (uint32_t i = 0; i < n; i++) {
    int rc = cshm_lock(h);
    if (rc != CSHM_OK)
      return rc;
    WAIT_UNTIL(h, w->turn % 2 == role);
    w->turn++;
    if ((rc = cshm_unlock(h)) != CSHM_OK || (rc = cshm_notify_one(h)) != CSHM_OK)
      return rc;
  }
  return CSHM_OK;
}

/* The event word under stress: the pinger signals n times, each after the ponger
 * acknowledged the last (turn, under the lock); the ponger's event_wait races each
 * signal and must never time out. */
static int event_ping(cshm *h, uint32_t n) {
  volatile wait_shared *w = shared(h);
  for (uint32_t i = 0; i < n; i++) {
    int rc = cshm_lock(h);
    if (rc != CSHM_OK)
      return rc;
    WAIT_UNTIL(h, w->turn == i);
    if ((rc = cshm_unlock(h)) != CSHM_OK || (rc = cshm_event_signal(h)) != CSHM_OK)
      return rc;
  }
  return CSHM_OK;
}

static int event_pong(cshm *h, uint32_t n) {
  volatile wait_shared *w = shared(h);
  uint32_t seen = 0; /* the segment is new: no signal yet */
  for (uint32_t i = 0; i < n; i++) {
    int rc = cshm_event_wait(h, seen, 10000);
    if (rc != CSHM_OK) {
      fprintf(stderr, "helper %d: cshm_event_wait: %s at %u\n", ts_pid(), cshm_error_name(rc), i);
      return rc;
    }
    seen++;
    if ((rc = cshm_lock(h)) != CSHM_OK)
      return rc;
    w->turn++;
    if ((rc = cshm_unlock(h)) != CSHM_OK || (rc = cshm_notify_one(h)) != CSHM_OK)
      return rc;
  }
  return CSHM_OK;
}

static int run(cshm *h, const char *op, const char *arg) {
  if (strcmp(op, "create") == 0)
    return cshm_create(h, (size_t)strtoull(arg, NULL, 10), CSHM_READ_WRITE);
  if (strcmp(op, "create-or-attach") == 0)
    return cshm_create_ex(h, (size_t)strtoull(arg, NULL, 10), CSHM_READ_WRITE,
                          CSHM_CREATE_OR_ATTACH, NULL);
  if (strcmp(op, "create-no-reclaim") == 0)
    return cshm_create_ex(h, (size_t)strtoull(arg, NULL, 10), CSHM_READ_WRITE,
                          CSHM_CREATE_NO_RECLAIM, NULL);
  if (strcmp(op, "attach") == 0)
    return cshm_attach(h, CSHM_READ_WRITE);
  if (strcmp(op, "attach-ro") == 0)
    return cshm_attach(h, CSHM_READ_ONLY);
  if (strcmp(op, "detach") == 0)
    return cshm_detach(h);
  if (strcmp(op, "lock") == 0)
    return cshm_lock(h);
  if (strcmp(op, "try-lock") == 0)
    return cshm_try_lock(h);
  if (strcmp(op, "unlock") == 0)
    return cshm_unlock(h);
  if (strcmp(op, "perms") == 0)
    return cshm_set_permissions(h, (unsigned)strtoul(arg, NULL, 8));
  if (strcmp(op, "write") == 0) {
    if (cshm_size(h) < strlen(arg) + 1)
      return CSHM_ESIZE;
    memcpy(cshm_data(h), arg, strlen(arg) + 1);
    return CSHM_OK;
  }
  if (strcmp(op, "expect") == 0) {
    const char *data = cshm_const_data(h);
    return data != NULL && strcmp(data, arg) == 0 ? CSHM_OK : CSHM_EUNKNOWN;
  }
  if (strcmp(op, "pairs") == 0) {
    unsigned long n = strtoul(arg, NULL, 10);
    for (unsigned long i = 0; i < n; i++) {
      int rc = cshm_lock(h);
      if (rc != CSHM_OK)
        return rc;
      if ((rc = cshm_unlock(h)) != CSHM_OK)
        return rc;
    }
    return CSHM_OK;
  }
  if (strcmp(op, "attach-cycles") == 0)
    return attach_cycles(helper_key, strtoul(arg, NULL, 10));
  if (strcmp(op, "qt-legacy") == 0)
    return cshm_set_key_type(h, CSHM_KEY_QT_LEGACY);
  if (strcmp(op, "qt-legacy-posix") == 0)
    return cshm_set_key_type(h, CSHM_KEY_QT_LEGACY_POSIX);
  if (strcmp(op, "qt-platform-safe") == 0)
    return cshm_set_key_type(h, CSHM_KEY_QT_PLATFORM_SAFE);
  if (strcmp(op, "size") == 0)
    return cshm_size(h) == (size_t)strtoull(arg, NULL, 10) ? CSHM_OK : CSHM_ESIZE;
  if (strcmp(op, "signal") == 0) {
    ts_say_and_wait("signal");
    return CSHM_OK;
  }
  if (strcmp(op, "lock-timeout") == 0)
    return cshm_lock_timeout(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "try-lock-busy") == 0) {
    unsigned long n = strtoul(arg, NULL, 10);
    for (unsigned long i = 0; i < n; i++) {
      int rc = cshm_try_lock(h);
      if (rc != CSHM_EBUSY)
        return rc == CSHM_OK ? CSHM_EUNKNOWN : rc;
    }
    return CSHM_OK;
  }
#if !defined(_WIN32)
  if (strcmp(op, "env") == 0) {
    char *eq = strchr(arg, '=');
    if (eq == NULL)
      return CSHM_EINVAL;
    *eq = '\0';
    return setenv(arg, eq + 1, 1) == 0 ? CSHM_OK : CSHM_ENOMEM;
  }
  if (strcmp(op, "touch") == 0) {
    int fd = open(arg, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return CSHM_EPERM;
    close(fd);
    return CSHM_OK;
  }
  if (strcmp(op, "wait-gone") == 0) {
    while (access(arg, F_OK) == 0)
      ts_sleep_ms(10);
    return CSHM_OK;
  }
#endif
  if (strcmp(op, "wait") == 0)
    return cshm_wait(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "notify-one") == 0)
    return cshm_notify_one(h);
  if (strcmp(op, "notify-all") == 0)
    return cshm_notify_all(h);
  if (strcmp(op, "event-signal") == 0)
    return cshm_event_signal(h);
  if (strcmp(op, "event-wait") == 0) {
    uint32_t seen;
    int rc = cshm_event_value(h, &seen);
    return rc != CSHM_OK ? rc : cshm_event_wait(h, seen, (uint32_t)strtoul(arg, NULL, 10));
  }
  if (strcmp(op, "check-ms") == 0) {
    cshm__wait_check_ms = (unsigned)strtoul(arg, NULL, 10);
    return CSHM_OK;
  }
  if (strcmp(op, "set-go") == 0) {
    shared(h)->go = 1;
    return CSHM_OK;
  }
  if (strcmp(op, "wait-go") == 0) {
    uint32_t ms = (uint32_t)strtoul(arg, NULL, 10);
    volatile wait_shared *w = shared(h);
    while (w->go == 0) {
      int rc = cshm_wait(h, ms);
      if (rc != CSHM_OK)
        return rc;
    }
    return CSHM_OK;
  }
  if (strcmp(op, "ready") == 0) {
    shared(h)->ready++;
    return CSHM_OK;
  }
  if (strcmp(op, "woken") == 0) {
    shared(h)->woken++;
    return CSHM_OK;
  }
  if (strcmp(op, "produce") == 0)
    return produce(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "consume") == 0)
    return consume(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "event-ping") == 0)
    return event_ping(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "event-pong") == 0)
    return event_pong(h, (uint32_t)strtoul(arg, NULL, 10));
  if (strcmp(op, "pingpong") == 0) {
    char *end;
    uint32_t role = (uint32_t)strtoul(arg, &end, 10);
    return pingpong(h, role, (uint32_t)strtoul(*end == ',' ? end + 1 : end, NULL, 10));
  }
  if (strcmp(op, "chaos") == 0)
    return chaos_worker(h, (uint32_t)strtoul(arg, NULL, 10));
  fprintf(stderr, "helper: unknown op %s\n", op);
  exit(2);
}

int main(int argc, char **argv) {
  argv = ts_utf8_argv(argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: helper KEY OP...\n");
    return 2;
  }
  cshm *h;
  helper_key = argv[1];
  int rc = cshm_new(&h, argv[1]);
  if (rc != CSHM_OK) {
    fprintf(stderr, "helper: %s\n", cshm_last_error_string());
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    char op[256];
    snprintf(op, sizeof op, "%s", argv[i]);
    int want = CSHM_OK;
    char *q = strchr(op, '?');
    if (q != NULL) {
      *q = '\0';
      want = code_of(q + 1);
    }
    char *arg = strchr(op, ':');
    if (arg != NULL)
      *arg++ = '\0';
    rc = run(h, op, arg != NULL ? arg : "");
    if (rc != want) {
      fprintf(stderr, "helper %d: %s returned %s, expected %s: %s\n", ts_pid(), argv[i],
                      cshm_error_name(rc), cshm_error_name(want), cshm_error_string(h));
      cshm_free(h);
      return 1;
    }
  }
  cshm_free(h);
  return 0;
}
