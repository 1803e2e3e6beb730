/* GetLastError() -> CSHM codes (the one table), and the system's message in UTF-8. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "sys.h"
#include "win32.h"

int cshm__win32_code(DWORD err) {
  switch (err) {
  case ERROR_SUCCESS: return CSHM_OK;
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND: return CSHM_ENOENT;
  case ERROR_ACCESS_DENIED:
  case ERROR_PRIVILEGE_NOT_HELD: return CSHM_EPERM;
  case ERROR_ALREADY_EXISTS:
  case ERROR_FILE_EXISTS: return CSHM_EEXIST;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_COMMITMENT_MINIMUM:
  case ERROR_NO_SYSTEM_RESOURCES:
  case ERROR_NONPAGED_SYSTEM_RESOURCES:
  case ERROR_PAGED_SYSTEM_RESOURCES:
  case ERROR_WORKING_SET_QUOTA:
  case ERROR_PAGEFILE_QUOTA:
  case ERROR_NOT_ENOUGH_QUOTA:
  case ERROR_TOO_MANY_OPEN_FILES:
  case ERROR_DISK_FULL: return CSHM_ENOMEM;
  case ERROR_FILE_TOO_LARGE:
  case ERROR_ARITHMETIC_OVERFLOW: return CSHM_ESIZE;
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
  case ERROR_FILENAME_EXCED_RANGE: return CSHM_EKEY;
  case ERROR_NOT_SUPPORTED:
  case ERROR_CALL_NOT_IMPLEMENTED: return CSHM_ENOTSUP;
  default: return CSHM_EUNKNOWN;
  }
}

/* UTF-16 -> UTF-8 into out (cap bytes, NUL included), stopping at a code point
 * boundary when full; a lone surrogate becomes U+FFFD. */
static void utf16_to_utf8(const wchar_t *in, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; in[i] != 0; i++) {
    uint32_t c = (uint32_t)in[i];
    if (c >= 0xD800 && c <= 0xDBFF && in[i + 1] >= 0xDC00 && in[i + 1] <= 0xDFFF) {
      c = 0x10000u + ((c - 0xD800u) << 10) + ((uint32_t)in[i + 1] - 0xDC00u);
      i++;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    unsigned char b[4];
    size_t n;
    if (c < 0x80) {
      b[0] = (unsigned char)c;
      n = 1;
    } else if (c < 0x800) {
      b[0] = (unsigned char)(0xC0 | c >> 6);
      b[1] = (unsigned char)(0x80 | (c & 0x3F));
      n = 2;
    } else if (c < 0x10000) {
      b[0] = (unsigned char)(0xE0 | c >> 12);
      b[1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
      b[2] = (unsigned char)(0x80 | (c & 0x3F));
      n = 3;
    } else {
      b[0] = (unsigned char)(0xF0 | c >> 18);
      b[1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
      b[2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
      b[3] = (unsigned char)(0x80 | (c & 0x3F));
      n = 4;
    }
    if (o + n >= cap)
      break;
    memcpy(out + o, b, n);
    o += n;
  }
  if (cap > 0)
    out[o] = '\0';
}

void cshm__sys_error_text(int os_error, char *buf, size_t cap) {
  if (cap == 0)
    return;
  DWORD err = (DWORD)os_error;
  wchar_t text[512];
  DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS |
                               FORMAT_MESSAGE_MAX_WIDTH_MASK,
                           NULL, err, 0, text, (DWORD)(sizeof text / sizeof text[0]), NULL);
  /* Messages end in ".", a space or a line break: keep the sentence only. */
  while (n > 0 && (text[n - 1] == L' ' || text[n - 1] == L'\r' || text[n - 1] == L'\n' ||
                   text[n - 1] == L'.'))
    n--;
  if (n == 0) {
    snprintf(buf, cap, "error %lu", (unsigned long)err);
    return;
  }
  text[n] = 0;
  char utf8[3 * sizeof text / sizeof text[0]];
  utf16_to_utf8(text, utf8, sizeof utf8);
  snprintf(buf, cap, "%s (error %lu)", utf8, (unsigned long)err);
}

int cshm__win32_fail(cshm__diag *d, DWORD err, const char *what_fmt, ...) {
  va_list ap;
  va_start(ap, what_fmt);
  vsnprintf(d->what, sizeof d->what, what_fmt, ap);
  va_end(ap);
  cshm__sys_error_text((int)err, d->why, sizeof d->why);
  d->what_fixed = d->why_fixed = NULL; /* the buffers hold the detail */
  return cshm__win32_code(err);
}
