/* Native names of the default key type on Linux: shm_open() names. */
#include <stdio.h>
#include <string.h>

#include "cshm/cshm.h"
#include "sys.h"

/* glibc maps "/name" to /dev/shm/name; NAME_MAX bounds the file name. */
#define NAME_BYTES_MAX 255

int cshm__sys_native_name_check(const char *native, cshm__diag *d) {
  size_t len = strlen(native);
  if (native[0] != '/')
    return cshm__diag_set(d, CSHM_EKEY, NULL, "a Linux native key starts with \"/\"");
  if (len - 1 > NAME_BYTES_MAX)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Linux native key has at most %d bytes after \"/\"; this one has %zu",
                          NAME_BYTES_MAX, len - 1);
  if (len == 1 || strchr(native + 1, '/') != NULL)
    return cshm__diag_set(d, CSHM_EKEY, NULL,
                          "a Linux native key is \"/\" and a name without another \"/\"");
  if (strcmp(native, "/.") == 0 || strcmp(native, "/..") == 0)
    return cshm__diag_set(d, CSHM_EKEY, NULL, "\".\" and \"..\" are not object names");
  return CSHM_OK;
}

void cshm__sys_default_name(const char *stem, char *out, size_t cap) {
  snprintf(out, cap, "/%s", stem);
}

int cshm__sys_set_app_group(const char *group, cshm__diag *d) {
  (void)group;
  return cshm__diag_set(d, CSHM_ENOTSUP, NULL,
                        "application groups are for Apple builds (the portable profile)");
}
