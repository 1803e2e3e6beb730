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

/* An attached segment: the named mapping, its view, and the named mutex that is its
 * lock. Both handles are held for as long as the segment is attached: the kernel
 * keeps an object while any handle to it is open, so the mutex always outlives the
 * mapping (DESIGN.md §3, "kernel-owned"). */
struct cshm__sys_segment {
  HANDLE mapping;
  HANDLE mutex; /* NULL when this process may not lock (its DACL grants no access) */
  void *base;
  size_t length;
};

/* The longest mapping name, in UTF-16 code units without the NUL: MAX_PATH less the
 * NUL and the lock's suffix, so that the mutex's name fits MAX_PATH too. */
#define CSHM__WIN32_LOCK_SUFFIX "_lock"
#define CSHM__WIN32_NAME_MAX (MAX_PATH - 1 - 5)

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

/* The CSHM code for a GetLastError() value. */
int cshm__win32_code(DWORD err);

/* Fills *d for a failed call (`what`, printf-style, and the system's message for
 * err) and returns cshm__win32_code(err). */
int cshm__win32_fail(cshm__diag *d, DWORD err, const char *what_fmt, ...)
    CSHM__PRINTF_FORMAT(3, 4);

#endif
