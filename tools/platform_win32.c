/* platform.h on Windows: wmain (UTF-16 arguments, handed on as UTF-8),
 * CreateProcessW of this very program, console control events. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "platform.h"

/* ---- entry: UTF-16 -> UTF-8 ------------------------------------------------------ */

static UINT console_output_cp;

static void restore_console(void) {
  if (console_output_cp != 0)
    SetConsoleOutputCP(console_output_cp);
}

/* UTF-8 copy of w, or NULL when w is not valid UTF-16 (a lone surrogate). */
static char *to_utf8(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, NULL, 0, NULL, NULL);
  if (n <= 0)
    return NULL;
  char *s = malloc((size_t)n);
  if (s != NULL &&
      WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, s, n, NULL, NULL) != n) {
    free(s);
    s = NULL;
  }
  return s;
}

/* UTF-16 copy of valid UTF-8 s, or NULL. */
static wchar_t *to_utf16(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0)
    return NULL;
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (w != NULL && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
    free(w);
    w = NULL;
  }
  return w;
}

int wmain(int argc, wchar_t **wargv);

int wmain(int argc, wchar_t **wargv) {
  /* `cshm write KEY -` and `cshm read` move bytes: in the C runtime's default text
   * mode, stdin would turn CR LF into LF and end at a Ctrl-Z, stdout every LF into
   * CR LF. (stderr keeps text mode: only messages go there.) */
  (void)_setmode(_fileno(stdin), _O_BINARY);
  (void)_setmode(_fileno(stdout), _O_BINARY);
  /* The tool prints UTF-8 (keys, names, messages): say so to the console. */
  UINT cp = GetConsoleOutputCP();
  if (cp != 0 && cp != CP_UTF8 && SetConsoleOutputCP(CP_UTF8)) {
    console_output_cp = cp;
    atexit(restore_console);
  }
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (argv == NULL) {
    fputs("cshm: out of memory\n", stderr);
    return 1;
  }
  for (int i = 0; i < argc; i++) {
    if ((argv[i] = to_utf8(wargv[i])) == NULL) {
      fprintf(stderr, "cshm: argument %d is not valid UTF-16 (an unpaired surrogate)\n", i);
      return 2; /* bad usage */
    }
  }
  return cshm_tool_main(argc, argv);
}

/* ---- platform.h -------------------------------------------------------------------- */

void cshm_tool_init(const char *argv0) {
  (void)argv0; /* GetModuleFileNameW names this program exactly */
}

unsigned cshm_tool_pid(void) { return (unsigned)GetCurrentProcessId(); }

unsigned long long cshm_tool_now_ms(void) { return GetTickCount64(); }

/* Appends arg to cmd (cap units) quoted as CommandLineToArgvW and the C runtime
 * split it again: backslashes are literal except before a quote. */
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
  bool plain = arg[0] != 0 && wcspbrk(arg, L" \t\n\v\"") == NULL;
  if (plain) {
    for (const wchar_t *p = arg; *p; p++)
      PUT(*p);
  } else {
    PUT(L'"');
    for (const wchar_t *p = arg;; p++) {
      size_t slashes = 0;
      while (*p == L'\\') {
        slashes++;
        p++;
      }
      if (*p == 0) { /* double them: the closing quote follows */
        for (size_t i = 0; i < 2 * slashes; i++)
          PUT(L'\\');
        break;
      }
      if (*p == L'"') { /* double them, and escape the quote */
        for (size_t i = 0; i < 2 * slashes + 1; i++)
          PUT(L'\\');
      } else {
        for (size_t i = 0; i < slashes; i++)
          PUT(L'\\');
      }
      PUT(*p);
    }
    PUT(L'"');
  }
#undef PUT
  cmd[n] = 0;
  *len = n;
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

int cshm_tool_run_self(const char *const args[]) {
  static wchar_t self[32768], cmd[32768];
  DWORD n = GetModuleFileNameW(NULL, self, (DWORD)(sizeof self / sizeof self[0]));
  if (n == 0 || n >= sizeof self / sizeof self[0])
    return -1;
  size_t len = 0;
  cmd[0] = 0;
  if (!append_arg(cmd, sizeof cmd / sizeof cmd[0], &len, self))
    return -1;
  for (int i = 0; args[i] != NULL; i++) {
    wchar_t *w = to_utf16(args[i]);
    bool ok = w != NULL && append_arg(cmd, sizeof cmd / sizeof cmd[0], &len, w);
    free(w);
    if (!ok)
      return -1;
  }
  /* The child writes where we write. */
  fflush(stdout);
  fflush(stderr);
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = inheritable(STD_INPUT_HANDLE);
  si.hStdOutput = inheritable(STD_OUTPUT_HANDLE);
  si.hStdError = inheritable(STD_ERROR_HANDLE);
  PROCESS_INFORMATION pi;
  BOOL started = CreateProcessW(self, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
  HANDLE copies[] = {si.hStdInput, si.hStdOutput, si.hStdError};
  for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++)
    if (copies[i] != NULL)
      CloseHandle(copies[i]);
  if (!started)
    return -1;
  CloseHandle(pi.hThread);
  DWORD code = 0;
  bool done = WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0 &&
              GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  return done && code <= 255 ? (int)code : -1;
}

/* ---- interrupts -------------------------------------------------------------------- */

static HANDLE interrupted; /* manual-reset event */

static BOOL WINAPI on_console_event(DWORD type) {
  SetEvent(interrupted);
  if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT)
    return TRUE;
  /* Close, logoff, shutdown: the process ends when this returns; give the main
   * thread the few seconds Windows allows to detach and leave by itself. */
  Sleep(4000);
  return TRUE;
}

void cshm_tool_hold_interrupts(void) {
  if (interrupted == NULL)
    interrupted = CreateEventW(NULL, TRUE, FALSE, NULL);
  /* A process started with Ctrl-C disabled (CREATE_NEW_PROCESS_GROUP, or a parent
   * that ignored it) inherits that, and then no handler sees CTRL_C_EVENT: enable
   * it for this process first. */
  SetConsoleCtrlHandler(NULL, FALSE);
  SetConsoleCtrlHandler(on_console_event, TRUE);
}

void cshm_tool_wait_for_interrupt(void) {
  if (interrupted != NULL)
    WaitForSingleObject(interrupted, INFINITE);
}

int cshm_tool_interrupt_pending(void) {
  /* 2 is SIGINT's number: the command reports 128 + 2 as a Unix shell would. */
  return interrupted != NULL && WaitForSingleObject(interrupted, 0) == WAIT_OBJECT_0 ? 2 : 0;
}

const char *cshm_tool_ownership_note(void) {
  return "kernel-owned: the segment is gone once every handle is closed (attach now fails "
         "with CSHM_ENOENT); Windows removes it with the last handle";
}
