/* Qt's native names for QSharedMemory and the QSystemSemaphore behind its lock()
 * (research/qt.md §2), byte for byte. Pure functions of the key: no system call, no
 * environment, no limit checks - the backends check the names against their OS's
 * limits, and Qt's temporary directory (System V) is the caller's to supply. Every OS
 * flavour is compiled everywhere, so that the rules of each are tested on every OS.
 *
 * Every function writes at most `cap` bytes (NUL included, when cap > 0) and returns
 * the length of the whole name, as snprintf() does: a result >= cap means it did not
 * fit. Keys are valid UTF-8 (the front end checks). */
#ifndef CSHM_COMMON_QT_NAMES_H
#define CSHM_COMMON_QT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* The prefixes of Qt's legacy names (QSharedMemoryPrivate::makePlatformSafeKey). */
#define CSHM__QT_SHM_PREFIX "qipc_sharedmemory_"
#define CSHM__QT_SEM_PREFIX "qipc_systemsem_"

/* Lowercase hex of SHA-1: 40 characters. */
#define CSHM__QT_HEX_LEN 40

/* macOS: Qt keeps 29 characters after the "/" of a POSIX name (SHM_NAME_MAX 30). */
#define CSHM__QT_APPLE_CHARS 29

/* Windows: MAX_PATH, and the "_sem" suffix of the lock's semaphore (Qt >= 6.6). */
#define CSHM__QT_WIN_MAX_PATH 260

typedef enum {
  CSHM__QT_MEMORY,   /* the QSharedMemory object */
  CSHM__QT_SEMAPHORE /* the QSystemSemaphore its lock() uses */
} cshm__qt_object;

typedef enum {
  CSHM__QT_OS_UNIX,   /* Linux, FreeBSD, ... */
  CSHM__QT_OS_APPLE,  /* macOS, iOS (Q_OS_DARWIN) */
  CSHM__QT_OS_WINDOWS
} cshm__qt_os;

/* Lowercase hex SHA-1 of the key's UTF-8 bytes, into out (41 bytes). */
void cshm__qt_sha1_hex(const char *key, char out[CSHM__QT_HEX_LEN + 1]);

/* The legacy stem: "qipc_sharedmemory_" or "qipc_systemsem_", then the ASCII letters
 * of the key in order (digits, punctuation and non-ASCII dropped), then the hex SHA-1
 * of the whole key. Qt 4.4 to 6.x, QSharedMemory(QString)/setKey()/legacyNativeKey(). */
size_t cshm__qt_legacy_stem(const char *key, cshm__qt_object obj, char *out, size_t cap);

/* How many ASCII letters the key has (the legacy stem's variable part). */
size_t cshm__qt_letter_count(const char *key);

/* Legacy System V: dir + "/" + stem, where dir is QDir::tempPath() - "" when Qt's
 * temporary directory does not exist, "/" for the root (giving "//qipc_..."). */
size_t cshm__qt_legacy_sysv_name(const char *dir, const char *key, cshm__qt_object obj,
                                 char *out, size_t cap);

/* Legacy POSIX (a QT_POSIX_IPC build, or legacyNativeKey(k, PosixRealtime)):
 * - Unix: "/" + stem;
 * - Apple: "/" + the first 29 hex characters, the same name for memory and semaphore;
 *   a sandboxed app (App Sandbox) uses the key verbatim ("<app-group-id>/<name>"). */
size_t cshm__qt_legacy_posix_name(const char *key, cshm__qt_object obj, cshm__qt_os os,
                                  bool sandboxed, char *out, size_t cap);

/* Legacy Windows: the stem itself (no "Global\" or "Local\": the session's namespace). */
size_t cshm__qt_legacy_windows_name(const char *key, cshm__qt_object obj, char *out,
                                    size_t cap);

/* Qt >= 6.6 QSharedMemory::platformSafeKey(key) and the semaphore its lock() uses
 * (QSharedMemoryPrivate::semaphoreNativeKey()):
 * - Unix: "/" + key for both (different namespaces);
 * - Apple: "/" + the key's first 29 UTF-16 code units, for both;
 * - Windows: an optional leading "Local\" or "Global\" kept, then "shm_" + the rest,
 *   at most MAX_PATH UTF-16 code units; the semaphore is that name cut to MAX_PATH - 5
 *   units + "_sem". (A surrogate pair cut by that truncation becomes '?' here, where
 *   Qt keeps a lone surrogate in its UTF-16 name: such names are longer than a Windows
 *   native name may be, so the Windows half refuses them before it matters.) */
size_t cshm__qt_platform_safe_name(const char *key, cshm__qt_object obj, cshm__qt_os os,
                                   char *out, size_t cap);

/* QString::fromUtf8(s).left(units).toUtf8(): the first `units` UTF-16 code units of
 * s. A surrogate pair cut in two leaves a lone high surrogate, which Qt's UTF-8 encoder
 * writes as '?'. */
size_t cshm__qt_left_utf16(const char *s, size_t units, char *out, size_t cap);

/* The number of UTF-16 code units of a valid UTF-8 string. */
size_t cshm__qt_utf16_length(const char *s);

#endif
