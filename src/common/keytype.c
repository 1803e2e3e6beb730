/* The key-type table. The default key type is in keytype_default.c; the Qt key types
 * are the backend's (src/posix/qt_*.c), and a backend without them provides tables
 * that answer CSHM_ENOTSUP with cshm__keytype_unsupported. */
#include "keytype.h"

#include <stddef.h>

/* The backend's Qt key types, indexed by type - CSHM_KEY_QT_LEGACY. */
extern const cshm__keytype *const cshm__keytype_qt[3];

static int unsupported(cshm__diag *d) {
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "the Qt key types are not implemented on this OS in this version of cshm");
}
static int qt_derive(const char *key, char *out, cshm__diag *d) {
  (void)key;
  (void)out;
  return unsupported(d);
}
static int qt_check_native(const char *native, cshm__diag *d) {
  (void)native;
  return unsupported(d);
}
static int qt_create(cshm *h, size_t size, cshm_access mode, unsigned flags, cshm__diag *d) {
  (void)h, (void)size, (void)mode, (void)flags;
  return unsupported(d);
}
static int qt_attach(cshm *h, cshm_access mode, uint32_t ms, cshm__diag *d) {
  (void)h, (void)mode, (void)ms;
  return unsupported(d);
}
static void qt_detach(cshm *h, bool forked_child) { (void)h, (void)forked_child; }
static int qt_lock(cshm *h, uint32_t ms, cshm__diag *d) {
  (void)h, (void)ms;
  return unsupported(d);
}
static int qt_unlock(cshm *h, cshm__diag *d) {
  (void)h;
  return unsupported(d);
}
static int qt_remove(const char *native, cshm__diag *d) {
  (void)native;
  return unsupported(d);
}

static int qt_inspect(const cshm *h, cshm_info *out, cshm__diag *d) {
  (void)h, (void)out;
  return unsupported(d);
}

/* For backends without the Qt key types (their cshm__keytype_qt entries point here). */
extern const cshm__keytype cshm__keytype_unsupported;
const cshm__keytype cshm__keytype_unsupported = {
    "qt", qt_derive, qt_check_native, qt_create, qt_attach,
    qt_detach, qt_lock, qt_unlock, qt_remove, qt_inspect,
};

const cshm__keytype *cshm__keytype_of(cshm_key_type t) {
  switch (t) {
  case CSHM_KEY_DEFAULT: return &cshm__keytype_default;
  case CSHM_KEY_QT_LEGACY:
  case CSHM_KEY_QT_LEGACY_POSIX:
  case CSHM_KEY_QT_PLATFORM_SAFE: return cshm__keytype_qt[t - CSHM_KEY_QT_LEGACY];
  }
  return NULL;
}
