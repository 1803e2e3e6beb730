/* support.h on Windows: segments are looked at with OpenFileMappingW, the helper is
 * started with CreateProcessW and stopped with TerminateProcess, and each helper's
 * control channel is a duplex named pipe whose client end it inherits (its handle
 * value is in CSHM_TEST_FD, as src/win32/testpoint.c expects). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <bcrypt.h>
#include <shellapi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "cshm/cshm.h"
#include "support.h"
#include "support_os.h"

unsigned ts__os_random(void) {
  unsigned r = 0;
  if (BCryptGenRandom(NULL, (PUCHAR)&r, sizeof r, BCRYPT_USE_SYSTEM_PREFERRED_RNG) < 0)
    r = (unsigned)GetCurrentProcessId() * 2654435761u;
  return r;
}

int ts_pid(void) { return (int)GetCurrentProcessId(); }

char **ts_utf8_argv(int argc, char **argv) {
  int n = 0;
  wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
  if (wargv == NULL || n != argc) {
    if (wargv != NULL)
      LocalFree(wargv);
    return argv;
  }
  char **out = calloc((size_t)n + 1, sizeof *out);
  for (int i = 0; out != NULL && i < n; i++) {
    int len = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
    if (len <= 0 || (out[i] = malloc((size_t)len)) == NULL ||
        WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, out[i], len, NULL, NULL) != len) {
      LocalFree(wargv);
      return argv;
    }
  }
  LocalFree(wargv);
  return out != NULL ? out : argv;
}

/* UTF-16 copy of UTF-8 s into out (cap units); false when it does not fit. */
static bool widen(const char *s, wchar_t *out, int cap) {
  return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out, cap) > 0;
}

bool ts__os_leftover(const char *native) {
  wchar_t name[1024];
  if (!widen(native, name, 1024))
    return false;
  HANDLE h = OpenFileMappingW(FILE_MAP_READ, FALSE, name);
  if (h == NULL)
    return false;
  CloseHandle(h);
  /* Kernel-owned: it goes with the last handle, which some process still has. */
  fprintf(stderr, "leftover segment: %s (still open in some process)\n", native);
  return true;
}

int ts_sidecars_left(const char *native) {
  (void)native;
  return 0; /* Windows segments have no sidecar files */
}

const char *ts_shm_path(const char *key) {
  (void)key;
  return NULL; /* a Windows segment is no file */
}

/* ---- the helper --------------------------------------------------------------------- */

/* The children: ctl indexes this table. */
#define MAX_CHILDREN 64

static struct kid {
  HANDLE process;
  HANDLE thread; /* the helper's only thread */
  HANDLE pipe; /* our end of the duplex pipe; NULL when closed */
  bool killed;
} kids[MAX_CHILDREN];

static struct kid *kid_of(const ts_child *c) {
  return c->ctl >= 0 && c->ctl < MAX_CHILDREN ? &kids[c->ctl] : NULL;
}

/* Appends arg to cmd quoted for CommandLineToArgvW and the C runtime. */
static bool append_arg(wchar_t *cmd, size_t cap, size_t *len, const wchar_t *arg) {
  size_t n = *len;
#define PUT(ch)                                                                                \
  do {                                                                                         \
    if (n + 1 >= cap)                                                                          \
      return false;                                                                            \
    cmd[n++] = (ch);                                                                           \
  } while (0)
  if (n > 0)
    PUT(L' ');
  PUT(L'"');
  for (const wchar_t *p = arg;; p++) {
    size_t slashes = 0;
    while (*p == L'\\') {
      slashes++;
      p++;
    }
    size_t times = *p == 0 ? 2 * slashes : *p == L'"' ? 2 * slashes + 1 : slashes;
    for (size_t i = 0; i < times; i++)
      PUT(L'\\');
    if (*p == 0)
      break;
    PUT(*p);
  }
  PUT(L'"');
#undef PUT
  cmd[n] = 0;
  *len = n;
  return true;
}

/* The helper: cshm_test_helper.exe beside this program. */
static bool helper_path(wchar_t *out, DWORD cap) {
  DWORD n = GetModuleFileNameW(NULL, out, cap);
  if (n == 0 || n >= cap)
    return false;
  wchar_t *slash = wcsrchr(out, L'\\');
  wchar_t *fwd = wcsrchr(out, L'/');
  if (fwd != NULL && (slash == NULL || fwd > slash))
    slash = fwd;
  size_t dir = slash != NULL ? (size_t)(slash - out) + 1 : 0;
  static const wchar_t name[] = L"cshm_test_helper.exe";
  if (dir + sizeof name / sizeof name[0] > cap)
    return false;
  memcpy(out + dir, name, sizeof name);
  return true;
}

/* An inheritable copy of a standard handle, or NULL. */
static HANDLE inheritable(DWORD which) {
  HANDLE h = GetStdHandle(which), copy = NULL;
  if (h == NULL || h == INVALID_HANDLE_VALUE ||
      !DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &copy, 0, TRUE,
                       DUPLICATE_SAME_ACCESS))
    return NULL;
  return copy;
}

/* This environment without CSHM_TEST_FD/CSHM_TEST_STOP, plus the two given: a
 * CREATE_UNICODE_ENVIRONMENT block (malloc'd). */
static wchar_t *child_environment(const wchar_t *fd_var, const wchar_t *stop_var) {
  wchar_t *env = GetEnvironmentStringsW();
  if (env == NULL)
    return NULL;
  size_t total = 0;
  for (const wchar_t *p = env; *p; p += wcslen(p) + 1)
    total += wcslen(p) + 1;
  size_t extra = wcslen(fd_var) + 1 + wcslen(stop_var) + 1 + 1;
  wchar_t *block = malloc((total + extra) * sizeof *block);
  if (block != NULL) {
    wchar_t *o = block;
    for (const wchar_t *p = env; *p; p += wcslen(p) + 1) {
      if (wcsncmp(p, L"CSHM_TEST_FD=", 13) == 0 || wcsncmp(p, L"CSHM_TEST_STOP=", 15) == 0)
        continue;
      size_t n = wcslen(p) + 1;
      memcpy(o, p, n * sizeof *o);
      o += n;
    }
    /* Windows wants the block sorted; the CRT and GetEnvironmentVariable do not
     * care, and both variables are only read through GetEnvironmentVariable(). */
    memcpy(o, fd_var, (wcslen(fd_var) + 1) * sizeof *o);
    o += wcslen(fd_var) + 1;
    memcpy(o, stop_var, (wcslen(stop_var) + 1) * sizeof *o);
    o += wcslen(stop_var) + 1;
    *o = 0;
  }
  FreeEnvironmentStringsW(env);
  return block;
}

bool ts_spawn(ts_child *c, const char *stop_at, bool run_as_nobody, const char *const argv[]) {
  c->pid = 0;
  c->ctl = -1;
  if (run_as_nobody) {
    fprintf(stderr, "ts_spawn: running as another user is not supported on Windows\n");
    return false;
  }
  int slot = 0;
  while (slot < MAX_CHILDREN && kids[slot].process != NULL)
    slot++;
  static wchar_t helper[MAX_PATH * 4], cmd[8192];
  if (slot == MAX_CHILDREN || !helper_path(helper, MAX_PATH * 4)) {
    fprintf(stderr, "ts_spawn: no helper slot or path\n");
    return false;
  }
  size_t len = 0;
  cmd[0] = 0;
  bool ok = append_arg(cmd, sizeof cmd / sizeof cmd[0], &len, helper);
  for (int i = 0; ok && argv[i] != NULL; i++) {
    wchar_t arg[2048];
    ok = widen(argv[i], arg, 2048) && append_arg(cmd, sizeof cmd / sizeof cmd[0], &len, arg);
  }
  if (!ok) {
    fprintf(stderr, "ts_spawn: command line too long or not UTF-8\n");
    return false;
  }

  /* A duplex pipe: we keep the server end, the child inherits the client end. */
  static unsigned counter;
  wchar_t pipe_name[128];
  swprintf(pipe_name, 128, L"\\\\.\\pipe\\cshm-test-%lu-%u-%08x", GetCurrentProcessId(),
           counter++, ts__os_random());
  HANDLE server = CreateNamedPipeW(pipe_name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                                   PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 4096,
                                   4096, 0, NULL);
  if (server == INVALID_HANDLE_VALUE) {
    fprintf(stderr, "ts_spawn: CreateNamedPipeW failed: %lu\n", GetLastError());
    return false;
  }
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE client = CreateFileW(pipe_name, GENERIC_READ | GENERIC_WRITE, 0, &inherit,
                              OPEN_EXISTING, 0, NULL);
  if (client == INVALID_HANDLE_VALUE) {
    fprintf(stderr, "ts_spawn: opening the pipe's client end failed: %lu\n", GetLastError());
    CloseHandle(server);
    return false;
  }
  if (!ConnectNamedPipe(server, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
    fprintf(stderr, "ts_spawn: ConnectNamedPipe failed: %lu\n", GetLastError());
    CloseHandle(client);
    CloseHandle(server);
    return false;
  }

  wchar_t fd_var[64], stop_var[256], stop[200];
  swprintf(fd_var, 64, L"CSHM_TEST_FD=%llu", (unsigned long long)(uintptr_t)client);
  if (!widen(stop_at != NULL ? stop_at : "", stop, 200))
    stop[0] = 0;
  swprintf(stop_var, 256, L"CSHM_TEST_STOP=%ls", stop);
  wchar_t *env = child_environment(fd_var, stop_var);

  /* Only the pipe's client end and the copies of our standard handles are
   * inheritable here (the suites spawn from one thread, and we close our copies right
   * after, so no later child inherits them). */
  fflush(stdout);
  fflush(stderr);
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES; /* the helper's messages go where ours go */
  si.hStdInput = inheritable(STD_INPUT_HANDLE);
  si.hStdOutput = inheritable(STD_OUTPUT_HANDLE);
  si.hStdError = inheritable(STD_ERROR_HANDLE);
  PROCESS_INFORMATION pi;
  BOOL started = env != NULL && CreateProcessW(helper, cmd, NULL, NULL, TRUE,
                                               CREATE_UNICODE_ENVIRONMENT, env, NULL, &si, &pi);
  DWORD err = GetLastError();
  free(env);
  CloseHandle(client);
  HANDLE copies[] = {si.hStdInput, si.hStdOutput, si.hStdError};
  for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
    if (copies[i] != NULL)
      CloseHandle(copies[i]);
  if (!started) {
    fprintf(stderr, "ts_spawn: CreateProcessW %ls failed: %lu\n", helper, err);
    CloseHandle(server);
    return false;
  }
  kids[slot].thread = pi.hThread;
  kids[slot].process = pi.hProcess;
  kids[slot].pipe = server;
  kids[slot].killed = false;
  c->pid = pi.dwProcessId;
  c->ctl = slot;
  return true;
}

bool ts_expect(ts_child *c, const char *line) {
  struct kid *k = kid_of(c);
  char got[128];
  size_t n = 0;
  while (k != NULL && k->pipe != NULL && n + 1 < sizeof got) {
    char ch;
    DWORD r = 0;
    if (!ReadFile(k->pipe, &ch, 1, &r, NULL) || r != 1)
      break; /* ERROR_BROKEN_PIPE: the child is gone */
    if (ch == '\n') {
      got[n] = '\0';
      if (strcmp(got, line) != 0)
        fprintf(stderr, "child said \"%s\", expected \"%s\"\n", got, line);
      return strcmp(got, line) == 0;
    }
    got[n++] = ch;
  }
  fprintf(stderr, "child closed its control pipe before \"%s\"\n", line);
  return false;
}

void ts_resume(ts_child *c) {
  struct kid *k = kid_of(c);
  DWORD w = 0;
  if (k == NULL || k->pipe == NULL || !WriteFile(k->pipe, "g", 1, &w, NULL) || w != 1)
    fprintf(stderr, "resume child: %lu\n", GetLastError());
}

void ts_kill(ts_child *c) {
  struct kid *k = kid_of(c);
  if (k != NULL && k->process != NULL) {
    k->killed = true;
    /* Stop the thread first: Wine abandons a dead process's mutexes as soon as it
     * decides to terminate it, while the process may still run a few instructions
     * (seen in the chaos test as writes after the next owner took over). A
     * suspended thread runs none, as on Windows, where termination is atomic. */
    SuspendThread(k->thread);
    TerminateProcess(k->process, 137);
  }
  ts_wait(c);
}

int ts_wait(ts_child *c) {
  struct kid *k = kid_of(c);
  if (k == NULL || k->process == NULL)
    return -1;
  DWORD code = 0;
  WaitForSingleObject(k->process, INFINITE);
  if (!GetExitCodeProcess(k->process, &code))
    code = (DWORD)-1;
  CloseHandle(k->process);
  if (k->thread != NULL)
    CloseHandle(k->thread);
  if (k->pipe != NULL)
    CloseHandle(k->pipe);
  bool killed = k->killed;
  memset(k, 0, sizeof *k);
  c->ctl = -1;
  return killed ? -1 : (int)code;
}

int ts_run(const char *const argv[]) {
  ts_child c;
  if (!ts_spawn(&c, NULL, false, argv))
    return -1;
  return ts_wait(&c);
}

/* ---- the helper's side ---------------------------------------------------------------- */

void ts_say_and_wait(const char *what) {
  char fd_text[32];
  if (!ts_getenv("CSHM_TEST_FD", fd_text, sizeof fd_text))
    return;
  HANDLE pipe = (HANDLE)(uintptr_t)strtoull(fd_text, NULL, 10);
  char line[64];
  int n = snprintf(line, sizeof line, "%s\n", what);
  DWORD done = 0;
  char go;
  if (n < 0 || !WriteFile(pipe, line, (DWORD)n, &done, NULL) || done != (DWORD)n ||
      !ReadFile(pipe, &go, 1, &done, NULL) || done != 1)
    exit(3);
}

bool ts_getenv(const char *name, char *buf, size_t cap) {
  DWORD n = GetEnvironmentVariableA(name, buf, (DWORD)(cap < 32768 ? cap : 32768));
  return n > 0 && n < cap;
}

void ts_sleep_ms(unsigned ms) { Sleep(ms); }

unsigned long long ts_now_ms(void) { return (unsigned long long)GetTickCount64(); }

struct ts_win32_thread {
  HANDLE handle;
  void *(*fn)(void *);
  void *arg;
};

static DWORD WINAPI thread_entry(LPVOID p) {
  ts_win32_thread *t = p;
  t->fn(t->arg);
  return 0;
}

ts_win32_thread *ts_win32_thread_start(void *(*fn)(void *), void *arg) {
  ts_win32_thread *t = calloc(1, sizeof *t);
  if (t == NULL)
    return NULL;
  t->fn = fn;
  t->arg = arg;
  if ((t->handle = CreateThread(NULL, 0, thread_entry, t, 0, NULL)) == NULL) {
    free(t);
    return NULL;
  }
  return t;
}

bool ts_win32_thread_join(ts_win32_thread *t) {
  bool ok = WaitForSingleObject(t->handle, INFINITE) == WAIT_OBJECT_0;
  CloseHandle(t->handle);
  free(t);
  return ok;
}
