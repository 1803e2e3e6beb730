/* Native names of the portable profile: what macOS accepts. At most 31 bytes with
 * the leading "/" (PSHMNAMLEN); sandboxed apps use "<app-group-id>/<name>" within the
 * same budget. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "name.h"
#include "portable.h"
#include "sys.h"

/* Fewest hash characters a shortened name keeps (60 bits): fewer would make two
 * keys' names collide too easily. */
#define MIN_HASH_CHARS 12

static char app_group[CSHM__PORTABLE_NAME_MAX + 1];
static pthread_mutex_t app_group_mutex = PTHREAD_MUTEX_INITIALIZER;

const char *cshm__portable_app_group(void) { return app_group[0] != '\0' ? app_group : NULL; }

int cshm__sys_set_app_group(const char *group, cshm__diag *d) {
  size_t len = group != NULL ? strlen(group) : 0;
  if (len + 1 + MIN_HASH_CHARS > CSHM__PORTABLE_NAME_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "an application group leaves room for names within %d bytes only "
                          "when it has at most %d bytes; this one has %zu",
                          CSHM__PORTABLE_NAME_MAX,
                          CSHM__PORTABLE_NAME_MAX - 1 - MIN_HASH_CHARS, len);
  for (size_t i = 0; i < len; i++)
    if (group[i] == '/' || group[i] <= ' ' || group[i] > '~')
      return cshm__diag_set(d, CSHM_EKEY, NULL,
                            "an application group is printable ASCII without \"/\"");
  pthread_mutex_lock(&app_group_mutex);
  snprintf(app_group, sizeof app_group, "%s", len > 0 ? group : "");
  pthread_mutex_unlock(&app_group_mutex);
  return CSHM_OK;
}

int cshm__sys_native_name_check(const char *native, cshm__diag *d) {
  size_t len = strlen(native);
  const char *slash = strchr(native, '/');
  if (len > CSHM__PORTABLE_NAME_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a macOS native key has at most %d bytes, \"/\" included; this one "
                          "has %zu",
                          CSHM__PORTABLE_NAME_MAX, len);
  if (slash == NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a macOS native key is \"/name\" or \"<app-group-id>/<name>\"");
  if (strchr(slash + 1, '/') != NULL || slash[1] == '\0')
    return cshm__diag_set(d, CSHM_EKEY, NULL, "a macOS native key has one \"/\", then a name");
  if (strcmp(slash, "/.") == 0 || strcmp(slash, "/..") == 0)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "\".\" and \"..\" are not object names");
  return CSHM_OK;
}

void cshm__sys_default_name(const char *stem, char *out, size_t cap) {
  const char *group = cshm__portable_app_group();
  if (group == NULL) {
    snprintf(out, cap, "/%s", stem); /* at most 30 bytes */
    return;
  }
  /* "<group>/<stem>" when it fits; else "<group>/" + as much of the stem's hash (its
   * last 16 characters) as fits. A group too long for MIN_HASH_CHARS was refused. */
  int room = CSHM__PORTABLE_NAME_MAX - (int)strlen(group) - 1;
  size_t stem_len = strlen(stem);
  if ((int)stem_len <= room)
    snprintf(out, cap, "%s/%s", group, stem);
  else
    snprintf(out, cap, "%s/%.*s", group, room, stem + stem_len - 16);
}
