/* Waiting on a header word (sys.h, issue 13) on Windows.
 *
 * WaitOnAddress does not work across processes, so each word has a named semaphore
 * beside the mapping's mutex: "<mapping name>_cv" for CSHM__WORD_COND and "_ev" for
 * CSHM__WORD_EVENT (CSHM__WORD_LOCK is the portable profile's lock word: Windows'
 * lock is the named mutex). segment.c opens them, or makes them when missing, at
 * create and at attach (a segment of an earlier version has none until an attacher
 * of this version makes them), and closes them at detach.
 *
 * A sleeper compares the word, then waits for a permit; a waker releases as many
 * permits as the word's *_waiters count in the header says (the front end keeps the
 * counts: wait_default.c), one for a wake-one.
 *
 * No lost wake-up. The front end registers a sleeper (*_waiters + 1, sequentially
 * consistent) before this compares the word, and a waker changes the word (also
 * sequentially consistent) before it reads the count. So either the waker sees the
 * registration, and its permit is there for the sleeper to take (a semaphore keeps
 * a permit released before its taker waits: unlike an event, nothing is lost between
 * the compare and WaitForSingleObject), or the sleeper's compare sees the new word
 * and does not wait.
 *
 * Stolen permits. A permit goes to whoever waits for it first: a sleeper that
 * registered after the wake (it saw the new word: it waits for the next one) can
 * take the permit released for a sleeper that had compared the old word but not
 * started waiting yet, which then waits with no permit left for it. So a sleeper
 * waits in slices of STOLEN_SLICE_MS and compares the word after each: a stolen
 * permit delays that sleeper by one slice at most, and is never a lost wake-up.
 * (Semaphores carry no generation; a permit per sleeper would need an object per
 * sleeper.) A thief takes the permit as a stale one, below. The slices also end the
 * sleep of a notifier's waiters when it died between its increment and its wake.
 * Measured under Wine: in the wait suite's stress tests (40 000 hand-overs) no
 * permit was stolen; the one slice-ended sleep per run is that dead notifier.
 *
 * Stale permits. A permit nobody takes stays: one released for a sleeper that saw the
 * new word and did not wait, or that timed out just before, or for a registration a
 * killed process left behind (the count stays too high). The next sleeper takes it
 * with the word unchanged and waits again (for what is left of its time): a spurious
 * wake-up, which never leaves this file. Each wake releases at most the count of
 * registered sleepers (WAKE_MAX at most), so stale permits grow by at most that per
 * wake and each costs one extra turn of a loop, never a missed wake-up. Taking them
 * back is not safe: a sleeper that registered before the count was read may be about
 * to wait for one of them. */
#include <windows.h>

#include <limits.h>
#include <stddef.h>

#include "deadline.h"
#include "cshm/cshm.h"
#include "format.h"
#include "sys.h"
#include "win32.h"
#include "word.h"

/* The semaphores' maximum count: as high as a LONG goes, so that a release fails
 * (ERROR_TOO_MANY_POSTS) only when 2^31 - 1 - WAKE_MAX permits wait already - far
 * more than the threads that could take them. */
#define PERMITS_MAX LONG_MAX

/* How long a sleeper waits for a permit before it compares the word again: the
 * most a stolen permit delays it (above). */
#define STOLEN_SLICE_MS 20u

/* A sequentially consistent load of a header word (a full barrier). Not atomic.h's:
 * its MSVC <intrin.h> and mingw-w64's <windows.h> do not compile together. */
static uint32_t load_seq_cst(const volatile uint32_t *p) {
  return (uint32_t)InterlockedCompareExchange((volatile LONG *)(uintptr_t)p, 0, 0);
}

/* The most permits one wake releases: a corrupt or stale count above it (more
 * sleepers than Windows has threads) is not believed. */
#define WAKE_MAX 0x100000u

static HANDLE word_semaphore(const cshm__sys_segment *s, cshm__word which) {
  return which == CSHM__WORD_COND ? s->cond : which == CSHM__WORD_EVENT ? s->event : NULL;
}

static const char *word_suffix(cshm__word which) {
  return which == CSHM__WORD_COND ? CSHM__WIN32_COND_SUFFIX : CSHM__WIN32_EVENT_SUFFIX;
}

/* Opens (or makes) one word's semaphore; NULL and *err set when it cannot be had. */
static HANDLE semaphore_open(const wchar_t *mapping, const char *suffix, bool fresh, DWORD *err) {
  wchar_t name[CSHM__WIN32_WNAME_CAP];
  cshm__win32_beside(mapping, suffix, name);
  HANDLE sem = CreateSemaphoreExW(NULL, 0, PERMITS_MAX, name, 0,
                                  SYNCHRONIZE | SEMAPHORE_MODIFY_STATE);
  if (sem == NULL) {
    *err = GetLastError();
    return NULL;
  }
  /* Outlived an earlier segment of this name (a handle was still open somewhere):
   * its permits were for that segment's sleepers. Nobody sleeps on the new one yet. */
  if (fresh && GetLastError() == ERROR_ALREADY_EXISTS)
    while (WaitForSingleObject(sem, 0) == WAIT_OBJECT_0)
      ;
  return sem;
}

void cshm__win32_words_open(cshm__sys_segment *s, const wchar_t *mapping, bool fresh) {
  DWORD err = ERROR_SUCCESS;
  s->cond = semaphore_open(mapping, CSHM__WIN32_COND_SUFFIX, fresh, &err);
  s->event = semaphore_open(mapping, CSHM__WIN32_EVENT_SUFFIX, fresh, &err);
  s->words_error = err;
}

void cshm__win32_words_close(cshm__sys_segment *s) {
  if (s->cond != NULL)
    CloseHandle(s->cond);
  if (s->event != NULL)
    CloseHandle(s->event);
  s->cond = s->event = NULL;
}

static int no_semaphore(const cshm__sys_segment *s, cshm__word which, cshm__diag *d) {
  cshm__win32_fail(d, s->words_error, "the segment's semaphore \"%s\" (made or opened at attach)",
                   word_suffix(which));
  return CSHM_ELOCK;
}

/* One wait for a permit, at most ms. */
static int take_permit(HANDLE sem, cshm__word which, uint32_t ms, cshm__diag *d) {
  DWORD r = WaitForSingleObject(sem, ms == CSHM_INFINITE ? INFINITE : (DWORD)ms);
  if (r == WAIT_OBJECT_0)
    return CSHM_OK;
  if (r == WAIT_TIMEOUT)
    return CSHM_ETIMEDOUT;
  DWORD err = r == WAIT_FAILED ? GetLastError() : ERROR_INVALID_HANDLE;
  cshm__win32_fail(d, err, "WaitForSingleObject on the segment's semaphore \"%s\"",
                   word_suffix(which));
  return CSHM_ELOCK;
}

int cshm__sys_word_wait(cshm__sys_segment *s, cshm__word which, uint32_t expected, uint32_t ms,
                        cshm__diag *d) {
  if (which == CSHM__WORD_LOCK)
    return cshm__diag_set(d, CSHM_ENOTSUP, NULL, "Windows' lock is a mutex: no lock word");
  HANDLE sem = word_semaphore(s, which);
  if (sem == NULL)
    return no_semaphore(s, which, d);
  const volatile uint32_t *word = cshm__word_address(s->base, which);
  const uint64_t start = cshm__sys_now_ms();
  /* After the caller registered: a wake from here on leaves a permit. Each slice
   * (and each stale permit) looks at the word again. */
  while (load_seq_cst(word) == expected) {
    uint32_t left = cshm__ms_left(start, ms);
    if (left == 0)
      return cshm__diag_fixed(d, CSHM_ETIMEDOUT, NULL, "no wake-up within the time");
    int rc = take_permit(sem, which, left < STOLEN_SLICE_MS ? left : STOLEN_SLICE_MS, d);
    if (rc == CSHM_ELOCK)
      return rc;
  }
  return CSHM_OK;
}

/* The sleepers registered on `which` (format.h, minor 1; zero on an older segment). */
static uint32_t waiters_of(const cshm__sys_segment *s, cshm__word which) {
  cshm__header *hd = (cshm__header *)s->base;
  return load_seq_cst(which == CSHM__WORD_COND ? &hd->cond_waiters
                                                           : &hd->event_waiters);
}

int cshm__sys_word_wake(cshm__sys_segment *s, cshm__word which, bool all, cshm__diag *d) {
  if (which == CSHM__WORD_LOCK)
    return cshm__diag_set(d, CSHM_ENOTSUP, NULL, "Windows' lock is a mutex: no lock word");
  HANDLE sem = word_semaphore(s, which);
  if (sem == NULL)
    return no_semaphore(s, which, d);
  uint32_t n = waiters_of(s, which);
  if (n == 0)
    return CSHM_OK; /* the registrations went meanwhile: each saw the new word */
  if (!all)
    n = 1;
  else if (n > WAKE_MAX)
    n = WAKE_MAX;
  if (ReleaseSemaphore(sem, (LONG)n, NULL))
    return CSHM_OK;
  DWORD err = GetLastError();
  /* Near PERMITS_MAX permits wait already: every sleeper to come finds one. */
  if (err == ERROR_TOO_MANY_POSTS)
    return CSHM_OK;
  cshm__win32_fail(d, err, "ReleaseSemaphore on the segment's semaphore \"%s\"",
                   word_suffix(which));
  return CSHM_ELOCK;
}
