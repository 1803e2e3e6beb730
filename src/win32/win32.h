/* What the Win32 backend's files share. */
#ifndef CSHM_WIN32_WIN32_H
#define CSHM_WIN32_WIN32_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "sys.h"

/* An attached segment: the named mapping, its view, the named mutex that is its
 * lock and the named semaphores that cshm_wait() and the event word sleep on
 * (word.c). Every handle is held for as long as the segment is attached: the kernel
 * keeps an object while any handle to it is open, so the mutex and the semaphores
 * always outlive the mapping (DESIGN.md §3, "kernel-owned"). */
struct cshm__sys_segment {
  HANDLE mapping;
  HANDLE mutex; /* NULL when this process may not lock (its DACL grants no access) */
  HANDLE cond;  /* "_cv": CSHM__WORD_COND's sleepers; NULL when it could not be had */
  HANDLE event; /* "_ev": CSHM__WORD_EVENT's sleepers; NULL likewise */
  DWORD words_error; /* why cond or event is NULL (GetLastError() at attach) */
  void *base;
  size_t length;
};

/* The suffixes of the objects beside a mapping: its lock and the semaphores of the
 * two header words (issue 13). The longest one bounds the mapping's name. */
#define CSHM__WIN32_LOCK_SUFFIX "_lock"
#define CSHM__WIN32_COND_SUFFIX "_cv"
#define CSHM__WIN32_EVENT_SUFFIX "_ev"
#define CSHM__WIN32_SUFFIX_MAX 5 /* strlen of the longest: "_lock" */

/* The longest mapping name, in UTF-16 code units without the NUL: MAX_PATH less the
 * NUL and the longest suffix, so that every name beside it fits MAX_PATH too. */
#define CSHM__WIN32_NAME_MAX (MAX_PATH - 1 - CSHM__WIN32_SUFFIX_MAX)

/* Room for a converted name with its suffix. */
#define CSHM__WIN32_WNAME_CAP (MAX_PATH + 1)

/* Converts valid UTF-8 into UTF-16 exactly (surrogate pairs above U+FFFF), NUL
 * included. Returns the number of code units without the NUL, or -1 when `utf8` is
 * not valid UTF-8 or does not fit `cap` units. Pure: no code page, no locale. */
int cshm__win32_utf8_to_utf16(const char *utf8, wchar_t *out, size_t cap);

/* The UTF-16 names of a native name: the mapping's and the mutex's (+ "_lock").
 * Returns CSHM_OK or CSHM_EKEY (filled *d). */
int cshm__win32_names(const char *native, wchar_t mapping[CSHM__WIN32_WNAME_CAP],
                      wchar_t mutex[CSHM__WIN32_WNAME_CAP], cshm__diag *d);

/* The UTF-16 name of the object beside a mapping: its name (cshm__win32_names())
 * and an ASCII `suffix` (CSHM__WIN32_*_SUFFIX). */
void cshm__win32_beside(const wchar_t *mapping, const char *suffix,
                        wchar_t out[CSHM__WIN32_WNAME_CAP]);

/* Opens, or makes when missing, the semaphores of the header words (word.c) into s;
 * one that cannot be had stays NULL and its waits and wakes fail with CSHM_ELOCK
 * saying why (an attach never fails for them: segments of earlier versions have no
 * semaphores until an attacher makes them). With `fresh` (a new segment) stale
 * permits of semaphores that outlived an earlier segment of the name are drained. */
void cshm__win32_words_open(cshm__sys_segment *s, const wchar_t *mapping, bool fresh);

/* Closes what cshm__win32_words_open() opened. */
void cshm__win32_words_close(cshm__sys_segment *s);

/* The CSHM code for a GetLastError() value. */
int cshm__win32_code(DWORD err);

/* Fills *d for a failed call (`what`, printf-style, and the system's message for
 * err) and returns cshm__win32_code(err). */
int cshm__win32_fail(cshm__diag *d, DWORD err, const char *what_fmt, ...)
    CSHM__PRINTF_FORMAT(3, 4);

#endif
