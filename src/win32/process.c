/* Process facts on Windows: pid, no PID namespaces, no fork, randomness, sleeping. */
#include "win32.h" /* <windows.h> before <bcrypt.h> */

#include <bcrypt.h>

#include "cshm/cshm.h"
#include "sys.h"

uint32_t cshm__sys_pid(void) { return (uint32_t)GetCurrentProcessId(); }

uint64_t cshm__sys_pid_namespace(void) { return 0; }

/* There is no fork(): a handle never changes process. */
unsigned cshm__sys_fork_generation(void) { return 0; }

void cshm__sys_sleep_ms(unsigned ms) { Sleep((DWORD)ms); }

uint64_t cshm__sys_now_ms(void) { return (uint64_t)GetTickCount64(); }

int cshm__sys_random(void *buf, size_t n, cshm__diag *d) {
  unsigned char *p = buf;
  while (n > 0) {
    ULONG chunk = n > 0x10000000u ? 0x10000000u : (ULONG)n;
    NTSTATUS st = BCryptGenRandom(NULL, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (st < 0)
      return cshm__diag_set(d, CSHM_EUNKNOWN, "BCryptGenRandom", "NTSTATUS 0x%08lx",
                            (unsigned long)st);
    p += chunk;
    n -= chunk;
  }
  return CSHM_OK;
}
