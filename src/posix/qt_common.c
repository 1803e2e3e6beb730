/* What the Unix Qt key types share: Qt's temporary directory, lock identities,
 * deadlines, and the tables keytype.c looks up. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "name.h"
#include "qt.h"
#include "sha1.h"

/* keytype.c: indexed by cshm_key_type - CSHM_KEY_QT_LEGACY. */
extern const cshm__keytype *const cshm__keytype_qt[3];
const cshm__keytype *const cshm__keytype_qt[3] = {
    &cshm__keytype_qt_legacy,
    &cshm__keytype_qt_legacy_posix,
    &cshm__keytype_qt_platform_safe,
};

int cshm__qt_temp_path(char *out, size_t cap, cshm__diag *d) {
  /* [6.4]/[5.15] QFileSystemEngine::tempPath(): qEnvironmentVariable("TMPDIR"), else
   * _PATH_TMP ("/tmp/"; macOS: NSTemporaryDirectory()), then QDir(temp).canonicalPath(),
   * which is realpath() and "" when realpath() fails. */
  const char *dir = getenv("TMPDIR");
#ifdef __APPLE__
  char darwin[PATH_MAX];
  if ((dir == NULL || dir[0] == '\0') &&
      confstr(_CS_DARWIN_USER_TEMP_DIR, darwin, sizeof darwin) > 0)
    dir = darwin;
#endif
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp/";
  out[0] = '\0';
  if (!cshm__utf8_valid(dir))
    return CSHM_OK;
  char *real = realpath(dir, NULL);
  if (real == NULL)
    return CSHM_OK;
  size_t len = strlen(real);
  if (len >= cap) {
    free(real);
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "Qt's temporary directory has %zu bytes: too long for a key", len);
  }
  memcpy(out, real, len + 1);
  free(real);
  return CSHM_OK;
}

void cshm__qt_identity(const char *ns, const char *name, cshm__identity *id) {
  cshm__sha1_ctx c;
  uint8_t digest[CSHM__SHA1_LEN];
  cshm__sha1_init(&c);
  cshm__sha1_update(&c, "qt:", 3);
  cshm__sha1_update(&c, ns, strlen(ns) + 1);
  cshm__sha1_update(&c, name, strlen(name));
  cshm__sha1_final(&c, digest);
  memcpy(&id->a, digest, 8);
  memcpy(&id->b, digest + 8, 8);
}

bool cshm__qt_held_by_me(const cshm__identity *id) { return cshm__held_contains(id); }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

cshm__qt_deadline cshm__qt_deadline_in(uint32_t ms) {
  cshm__qt_deadline dl = {ms == CSHM_INFINITE, 0};
  if (!dl.infinite)
    dl.at_ns = now_ns() + (int64_t)ms * 1000000;
  return dl;
}

int64_t cshm__qt_ns_left(const cshm__qt_deadline *dl) {
  if (dl->infinite)
    return INT64_MAX;
  int64_t left = dl->at_ns - now_ns();
  return left > 0 ? left : 0;
}

void cshm__qt_poll_pause(const cshm__qt_deadline *dl, unsigned *step) {
  int64_t ns = 50000;
  for (unsigned i = 0; i < *step && ns < 5000000; i++)
    ns *= 2;
  if (ns > 5000000)
    ns = 5000000;
  (*step)++;
  int64_t left = cshm__qt_ns_left(dl);
  if (ns > left)
    ns = left;
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
