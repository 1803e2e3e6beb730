/* Named crash windows for tests (testpoint.h): built only into the testing library. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testpoint.h"

void cshm__test_point(const char *name) {
  const char *stop = getenv("CSHM_TEST_STOP");
  const char *fd_text = getenv("CSHM_TEST_FD");
  if (stop == NULL || fd_text == NULL || strcmp(stop, name) != 0)
    return;
  int fd = atoi(fd_text);
  size_t len = strlen(name);
  /* Tell the parent where we are, then wait for one byte: the parent resumes us, or
   * kills us right here. */
  if (write(fd, name, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
    abort();
  char go;
  while (read(fd, &go, 1) < 0) {
  }
}
