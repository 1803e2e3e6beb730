/* Qt's native names (research/qt.md §2): [6.4]/[5.15] makePlatformSafeKey, [U]
 * legacyPlatformSafeKey, platformSafeKey and semaphoreNativeKey. */
#include "qt_names.h"

#include <stdint.h>
#include <string.h>

#include "sha1.h"

/* Appends bytes to a bounded output, counting what would have been written. */
typedef struct sink {
  char *out;
  size_t cap, len;
} sink;

static void put(sink *s, const char *p, size_t n) {
  if (s->len < s->cap) {
    size_t room = s->cap - 1 - s->len; /* keep a byte for the NUL */
    memcpy(s->out + s->len, p, n < room ? n : room);
  }
  s->len += n;
}

static void puts_(sink *s, const char *p) { put(s, p, strlen(p)); }

static size_t finish(sink *s) {
  if (s->cap > 0)
    s->out[s->len < s->cap ? s->len : s->cap - 1] = '\0';
  return s->len;
}

void cshm__qt_sha1_hex(const char *key, char out[CSHM__QT_HEX_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  uint8_t d[CSHM__SHA1_LEN];
  cshm__sha1(key, strlen(key), d);
  for (size_t i = 0; i < CSHM__SHA1_LEN; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[CSHM__QT_HEX_LEN] = '\0';
}

static bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

size_t cshm__qt_letter_count(const char *key) {
  size_t n = 0;
  for (const char *p = key; *p; p++)
    n += ascii_letter(*p);
  return n;
}

/* Qt walks UTF-16 units and keeps 'a'..'z', 'A'..'Z'; in UTF-8 every byte of a
 * multi-byte sequence is >= 0x80, so a byte-wise walk keeps exactly the same. */
static void put_stem(sink *s, const char *key, cshm__qt_object obj) {
  puts_(s, obj == CSHM__QT_MEMORY ? CSHM__QT_SHM_PREFIX : CSHM__QT_SEM_PREFIX);
  for (const char *p = key; *p; p++)
    if (ascii_letter(*p))
      put(s, p, 1);
  char hex[CSHM__QT_HEX_LEN + 1];
  cshm__qt_sha1_hex(key, hex);
  put(s, hex, CSHM__QT_HEX_LEN);
}

size_t cshm__qt_legacy_stem(const char *key, cshm__qt_object obj, char *out, size_t cap) {
  sink s = {out, cap, 0};
  put_stem(&s, key, obj);
  return finish(&s);
}

size_t cshm__qt_legacy_sysv_name(const char *dir, const char *key, cshm__qt_object obj,
                                 char *out, size_t cap) {
  sink s = {out, cap, 0};
  puts_(&s, dir); /* QDir::tempPath() + '/' + ..., even when tempPath() is "/" */
  put(&s, "/", 1);
  put_stem(&s, key, obj);
  return finish(&s);
}

size_t cshm__qt_legacy_posix_name(const char *key, cshm__qt_object obj, cshm__qt_os os,
                                  bool sandboxed, char *out, size_t cap) {
  sink s = {out, cap, 0};
  if (os == CSHM__QT_OS_APPLE) {
    /* [6.4] '#if defined(Q_OS_DARWIN) && defined(QT_POSIX_IPC)': the prefix is not
     * used, and memory and semaphore get the same name. */
    if (sandboxed) {
      puts_(&s, key);
    } else {
      char hex[CSHM__QT_HEX_LEN + 1];
      cshm__qt_sha1_hex(key, hex);
      put(&s, "/", 1);
      put(&s, hex, CSHM__QT_APPLE_CHARS);
    }
    return finish(&s);
  }
  put(&s, "/", 1);
  put_stem(&s, key, obj);
  return finish(&s);
}

size_t cshm__qt_legacy_windows_name(const char *key, cshm__qt_object obj, char *out,
                                    size_t cap) {
  return cshm__qt_legacy_stem(key, obj, out, cap);
}

/* The length in bytes of the UTF-8 sequence that starts with c (valid input). */
static size_t seq_len(unsigned char c) {
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

size_t cshm__qt_utf16_length(const char *s) {
  size_t units = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = seq_len(*p);
    units += n == 4 ? 2 : 1;
    p += n;
  }
  return units;
}

size_t cshm__qt_left_utf16(const char *str, size_t units, char *out, size_t cap) {
  sink s = {out, cap, 0};
  size_t used = 0;
  for (const char *p = str; *p && used < units;) {
    size_t n = seq_len((unsigned char)*p);
    size_t u = n == 4 ? 2 : 1;
    if (used + u > units) {
      put(&s, "?", 1); /* the high surrogate alone: QUtf8 writes '?' */
      break;
    }
    put(&s, p, n);
    used += u;
    p += n;
  }
  return finish(&s);
}

size_t cshm__qt_platform_safe_name(const char *key, cshm__qt_object obj, cshm__qt_os os,
                                   char *out, size_t cap) {
  sink s = {out, cap, 0};
  if (os == CSHM__QT_OS_UNIX) {
    put(&s, "/", 1);
    puts_(&s, key);
    return finish(&s);
  }
  if (os == CSHM__QT_OS_APPLE) {
    char left[4 * CSHM__QT_APPLE_CHARS + 1];
    cshm__qt_left_utf16(key, CSHM__QT_APPLE_CHARS, left, sizeof left);
    put(&s, "/", 1);
    puts_(&s, left);
    return finish(&s);
  }
  /* Windows: "Local\" or "Global\" (case-sensitive, as QString::startsWith) stays in
   * front; then "shm_" + the rest, truncated to MAX_PATH units ([U] platformSafeKey).
   * The lock's semaphore is that name truncated to MAX_PATH - 4 - 1 units + "_sem". */
  const char *payload = key;
  const char *prefix = "";
  if (strncmp(key, "Local\\", 6) == 0) {
    prefix = "Local\\";
    payload = key + 6;
  } else if (strncmp(key, "Global\\", 7) == 0) {
    prefix = "Global\\";
    payload = key + 7;
  }
  char full[4 * CSHM__QT_WIN_MAX_PATH + 16];
  sink f = {full, sizeof full, 0};
  puts_(&f, prefix);
  puts_(&f, "shm_");
  /* Only the first MAX_PATH units can matter: bound the copy in units, not bytes. */
  char head[4 * CSHM__QT_WIN_MAX_PATH + 1];
  cshm__qt_left_utf16(payload, CSHM__QT_WIN_MAX_PATH, head, sizeof head);
  puts_(&f, head);
  finish(&f);
  char name[4 * CSHM__QT_WIN_MAX_PATH + 1];
  cshm__qt_left_utf16(full, CSHM__QT_WIN_MAX_PATH, name, sizeof name);
  if (obj == CSHM__QT_MEMORY) {
    puts_(&s, name);
  } else {
    char cut[4 * CSHM__QT_WIN_MAX_PATH + 1];
    cshm__qt_left_utf16(name, CSHM__QT_WIN_MAX_PATH - 4 - 1, cut, sizeof cut);
    puts_(&s, cut);
    puts_(&s, "_sem");
  }
  return finish(&s);
}
