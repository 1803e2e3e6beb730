/* The free-space check before sizing a segment (posix.h). */
#include <sys/statvfs.h>

#include "cshm/cshm.h"
#include "posix.h"

int cshm__posix_check_space(int fd, uint64_t total, const char *what, cshm__diag *d) {
  struct statvfs vfs;
  /* macOS shm descriptors are not files: fstatvfs fails there, and no limit applies. */
  if (fstatvfs(fd, &vfs) != 0 || vfs.f_blocks == 0)
    return CSHM_OK;
  uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
  if (total > avail)
    return cshm__diag_set(d, CSHM_ENOMEM, what, "%llu bytes needed, %llu free",
                          (unsigned long long)total, (unsigned long long)avail);
  return CSHM_OK;
}
