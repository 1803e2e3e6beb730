/* Named crash windows for tests (testpoint.h), on Windows: built only into the
 * testing library. CSHM_TEST_FD names an inherited handle (its value in decimal) of
 * a duplex pipe: the process writes "name\n" on it, then waits for one byte. The
 * parent resumes it by writing that byte, or terminates it right here. */
#include <stdlib.h>
#include <string.h>

#include "testpoint.h"
#include "win32.h"

/* The environment variable `name` into buf; false when it is unset or too long.
 * Not getenv(): MSVC deprecates it (C4996), an error under /W4 /WX. */
static bool env_value(const char *name, char *buf, DWORD cap) {
  DWORD n = GetEnvironmentVariableA(name, buf, cap);
  return n > 0 && n < cap;
}

void cshm__test_point(const char *name) {
  char stop[128], fd_text[32];
  if (!env_value("CSHM_TEST_STOP", stop, sizeof stop) ||
      !env_value("CSHM_TEST_FD", fd_text, sizeof fd_text) || strcmp(stop, name) != 0)
    return;
  HANDLE pipe = (HANDLE)(uintptr_t)strtoull(fd_text, NULL, 10);
  DWORD len = (DWORD)strlen(name), done;
  if (!WriteFile(pipe, name, len, &done, NULL) || done != len ||
      !WriteFile(pipe, "\n", 1, &done, NULL) || done != 1)
    abort();
  char go;
  /* Resumed by a byte; at end of file (the parent is gone) go on as well. */
  (void)ReadFile(pipe, &go, 1, &done, NULL);
}
