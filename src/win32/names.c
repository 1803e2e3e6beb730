/* Native names of the default key type on Windows (DESIGN.md §5): "Local\" + stem for
 * the mapping, + "_lock" for its mutex. Object names are UTF-16; keys are UTF-8,
 * converted exactly here (no code page, no replacement characters). */
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "name.h"
#include "sys.h"
#include "win32.h"

int cshm__win32_utf8_to_utf16(const char *utf8, wchar_t *out, size_t cap) {
  const unsigned char *p = (const unsigned char *)utf8;
  size_t o = 0;
  while (*p) {
    uint32_t c = *p++;
    int more;
    uint32_t min;
    if (c < 0x80) {
      more = 0, min = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      more = 1, min = 0x80, c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2, min = 0x800, c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3, min = 0x10000, c &= 0x07;
    } else {
      return -1;
    }
    for (; more > 0; more--) {
      if ((*p & 0xC0) != 0x80)
        return -1; /* the NUL terminator fails here too */
      c = c << 6 | (*p++ & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
      return -1; /* overlong, out of range, surrogate */
    size_t units = c >= 0x10000 ? 2 : 1;
    if (o + units >= cap)
      return -1;
    if (units == 2) {
      c -= 0x10000;
      out[o++] = (wchar_t)(0xD800 + (c >> 10));
      out[o++] = (wchar_t)(0xDC00 + (c & 0x3FF));
    } else {
      out[o++] = (wchar_t)c;
    }
  }
  if (o >= cap)
    return -1;
  out[o] = 0;
  return (int)o;
}

static const char *skip_namespace(const char *native) {
  if (strncmp(native, "Local\\", 6) == 0)
    return native + 6;
  if (strncmp(native, "Global\\", 7) == 0)
    return native + 7;
  return native;
}

int cshm__sys_native_name_check(const char *native, cshm__diag *d) {
  if (!cshm__utf8_valid(native))
    return cshm__diag_set(d, CSHM_EKEY, NULL, "the native key is not valid UTF-8");
  const char *name = skip_namespace(native);
  if (name[0] == '\0')
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows native key needs a name after its \"Local\\\" or "
                          "\"Global\\\" prefix");
  if (strchr(name, '\\') != NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows native key has no \"\\\" other than that of an optional "
                          "\"Local\\\" or \"Global\\\" prefix");
  wchar_t wide[CSHM__WIN32_WNAME_CAP];
  if (cshm__win32_utf8_to_utf16(native, wide, CSHM__WIN32_NAME_MAX + 1) < 0) {
    /* Valid UTF-8 that does not fit: count its UTF-16 code units for the message. */
    unsigned long units = 0;
    for (const unsigned char *p = (const unsigned char *)native; *p; p++)
      if ((*p & 0xC0) != 0x80) /* a lead byte; four-byte ones make surrogate pairs */
        units += (*p & 0xF8) == 0xF0 ? 2u : 1u;
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Windows native key has at most %d UTF-16 code units (MAX_PATH %d "
                          "less the NUL and the longest suffix, the lock's \"" CSHM__WIN32_LOCK_SUFFIX
                          "\"); this one has %lu",
                          CSHM__WIN32_NAME_MAX, MAX_PATH, units);
  }
  return CSHM_OK;
}

void cshm__sys_default_name(const char *stem, char *out, size_t cap) {
  snprintf(out, cap, "Local\\%s", stem);
}

int cshm__win32_names(const char *native, wchar_t mapping[CSHM__WIN32_WNAME_CAP],
                      wchar_t mutex[CSHM__WIN32_WNAME_CAP], cshm__diag *d) {
  int n = cshm__win32_utf8_to_utf16(native, mapping, CSHM__WIN32_NAME_MAX + 1);
  if (n < 0) /* invalid UTF-8 or too long: the check says which */
    return cshm__sys_native_name_check(native, d) < 0
               ? CSHM_EKEY
               : cshm__diag_set(d, CSHM_EKEY, NULL, "the native key cannot be converted");
  cshm__win32_beside(mapping, CSHM__WIN32_LOCK_SUFFIX, mutex);
  return CSHM_OK;
}

/* Every suffix fits the room CSHM__WIN32_NAME_MAX leaves. */
_Static_assert(sizeof CSHM__WIN32_LOCK_SUFFIX - 1 <= CSHM__WIN32_SUFFIX_MAX &&
                   sizeof CSHM__WIN32_COND_SUFFIX - 1 <= CSHM__WIN32_SUFFIX_MAX &&
                   sizeof CSHM__WIN32_EVENT_SUFFIX - 1 <= CSHM__WIN32_SUFFIX_MAX,
               "a suffix longer than CSHM__WIN32_SUFFIX_MAX");

void cshm__win32_beside(const wchar_t *mapping, const char *suffix,
                        wchar_t out[CSHM__WIN32_WNAME_CAP]) {
  size_t n = wcslen(mapping); /* at most CSHM__WIN32_NAME_MAX: the names' check */
  memcpy(out, mapping, n * sizeof *out);
  while (*suffix)
    out[n++] = (wchar_t)(unsigned char)*suffix++;
  out[n] = 0;
}

int cshm__sys_set_app_group(const char *group, cshm__diag *d) {
  (void)group;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "application groups are an Apple sandbox notion; Windows names have none");
}
