/* The tool (cshm.exe) on Windows, as a process: its standard streams carry bytes,
 * not text (no CR inserted or dropped, no Ctrl-Z as end of file), and Ctrl-C ends
 * `cshm create` even when it was started with Ctrl-C disabled (a new process group).
 * The tool is cshm.exe beside this program or in ..\tools (the build tree). Runs on
 * Windows and under Wine (CI). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "support.h"

/* Bytes a text-mode stream changes: CR LF (LF alone on input, CR LF for LF on
 * output), Ctrl-Z (end of file on input), a lone CR, and a NUL inside. */
static const char tricky[] = "a\r\nb\x1a" "c\rd\n\0e\r\n";
#define TRICKY_LEN (sizeof tricky - 1)

/* ---- running the tool -------------------------------------------------------------- */

static wchar_t tool_path[MAX_PATH * 4];

/* cshm.exe beside this program (one output directory) or in ..\tools (CMake's tree). */
static bool find_tool(void) {
  wchar_t self[MAX_PATH * 4];
  DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH * 4);
  if (n == 0 || n >= MAX_PATH * 4)
    return false;
  wchar_t *slash = wcsrchr(self, L'\\');
  wchar_t *fwd = wcsrchr(self, L'/');
  if (fwd != NULL && (slash == NULL || fwd > slash))
    slash = fwd;
  if (slash == NULL)
    return false;
  slash[1] = 0;
  static const wchar_t *const candidates[] = {L"cshm.exe", L"..\\tools\\cshm.exe"};
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    swprintf(tool_path, MAX_PATH * 4, L"%ls%ls", self, candidates[i]);
    if (GetFileAttributesW(tool_path) != INVALID_FILE_ATTRIBUTES)
      return true;
  }
  return false;
}

typedef struct tool_run {
  HANDLE process;
  HANDLE in;  /* our end of its stdin, or NULL */
  HANDLE out; /* our end of its stdout */
} tool_run;

/* A pipe whose end `ours` (0: read, 1: write) this process keeps, the other one
 * inheritable for the child. */
static void pipe_pair(HANDLE *ours, HANDLE *theirs, int our_end) {
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE ends[2];
  assert_true(CreatePipe(&ends[0], &ends[1], &inherit, 0));
  *ours = ends[our_end];
  *theirs = ends[1 - our_end];
  assert_true(SetHandleInformation(*ours, HANDLE_FLAG_INHERIT, 0));
}

/* Starts `cshm.exe <command_line>` with pipes for stdin and stdout; `flags` for
 * CreateProcessW (CREATE_NEW_PROCESS_GROUP). */
static void tool_start(tool_run *r, const wchar_t *command_line, DWORD flags) {
  static wchar_t cmd[8192];
  swprintf(cmd, 8192, L"\"%ls\" %ls", tool_path, command_line);
  HANDLE child_in, child_out;
  pipe_pair(&r->in, &child_in, 1);
  pipe_pair(&r->out, &child_out, 0);
  HANDLE err = NULL;
  DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE), GetCurrentProcess(), &err,
                  0, TRUE, DUPLICATE_SAME_ACCESS);
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = child_in;
  si.hStdOutput = child_out;
  si.hStdError = err; /* its messages go where ours go */
  PROCESS_INFORMATION pi;
  fflush(stderr);
  BOOL started = CreateProcessW(tool_path, cmd, NULL, NULL, TRUE, flags, NULL, NULL, &si, &pi);
  DWORD why = GetLastError();
  CloseHandle(child_in);
  CloseHandle(child_out);
  if (err != NULL)
    CloseHandle(err);
  if (!started)
    fail_msg("CreateProcessW %ls: error %lu", cmd, why);
  CloseHandle(pi.hThread);
  r->process = pi.hProcess;
}

static void tool_write_stdin(tool_run *r, const char *bytes, size_t len) {
  DWORD done = 0;
  assert_true(len == 0 || WriteFile(r->in, bytes, (DWORD)len, &done, NULL));
  assert_int_equal(done, len);
  CloseHandle(r->in); /* end of file */
  r->in = NULL;
}

/* Reads stdout up to `cap` bytes or end of file; returns the count. */
static size_t tool_read_stdout(tool_run *r, char *buf, size_t cap) {
  size_t len = 0;
  DWORD got = 0;
  while (len < cap && ReadFile(r->out, buf + len, (DWORD)(cap - len), &got, NULL) && got > 0)
    len += got;
  return len;
}

/* Reads one line of stdout (without reading past it), NUL-terminated. */
static void tool_read_line(tool_run *r, char *buf, size_t cap) {
  size_t len = 0;
  DWORD got = 0;
  while (len + 1 < cap && ReadFile(r->out, buf + len, 1, &got, NULL) && got == 1)
    if (buf[len++] == '\n')
      break;
  buf[len] = '\0';
}

/* Waits for the tool (at most `ms`: then it is killed, and the test fails) and
 * returns its exit code. The bound only catches a tool that would never end. */
static DWORD tool_wait(tool_run *r, DWORD ms) {
  if (r->in != NULL)
    CloseHandle(r->in);
  DWORD code = (DWORD)-1;
  DWORD w = WaitForSingleObject(r->process, ms);
  if (w != WAIT_OBJECT_0)
    TerminateProcess(r->process, 137);
  WaitForSingleObject(r->process, INFINITE);
  GetExitCodeProcess(r->process, &code);
  CloseHandle(r->process);
  CloseHandle(r->out);
  if (w != WAIT_OBJECT_0)
    fail_msg("the tool did not end within %lu ms (killed)", ms);
  return code;
}

/* UTF-16 of ASCII s, for command lines. */
static const wchar_t *wide(const char *s) {
  static wchar_t out[4][512];
  static unsigned n;
  wchar_t *w = out[n++ % 4];
  assert_true(MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, 512) > 0);
  return w;
}

/* ---- tests ------------------------------------------------------------------------ */

/* `cshm write KEY -` stores stdin's bytes exactly: text mode would have stored
 * "a\nb" (CR LF as LF, then Ctrl-Z as end of file). */
static void write_stdin_is_binary(void **state) {
  (void)state;
  const char *key = ts_key("wstdin");
  cshm *h = created(key, 64);
  wchar_t cmd[600];
  swprintf(cmd, 600, L"write %ls -", wide(key));
  tool_run r;
  tool_start(&r, cmd, 0);
  tool_write_stdin(&r, tricky, TRICKY_LEN);
  assert_int_equal(tool_wait(&r, 60000), 0);
  EXPECT_OK(h, cshm_lock(h));
  const char *data = cshm_const_data(h);
  assert_memory_equal(data, tricky, TRICKY_LEN);
  assert_int_equal(data[TRICKY_LEN], '\0'); /* the NUL the tool adds after the text */
  EXPECT_OK(h, cshm_unlock(h));
  cshm_free(h);
}

/* `cshm read KEY` prints the bytes up to the first NUL and one LF, exactly: text
 * mode would have printed every LF as CR LF. */
static void read_stdout_is_binary(void **state) {
  (void)state;
  const char *key = ts_key("rstdout");
  cshm *h = created(key, 64);
  EXPECT_OK(h, cshm_lock(h));
  memcpy(cshm_data(h), tricky, TRICKY_LEN);
  EXPECT_OK(h, cshm_unlock(h));
  wchar_t cmd[600];
  swprintf(cmd, 600, L"read %ls", wide(key));
  tool_run r;
  tool_start(&r, cmd, 0);
  char out[256];
  size_t len = tool_read_stdout(&r, out, sizeof out);
  assert_int_equal(tool_wait(&r, 60000), 0);
  size_t text = strlen(tricky); /* up to the NUL */
  assert_int_equal(len, text + 1);
  assert_memory_equal(out, tricky, text);
  assert_int_equal(out[text], '\n');
  cshm_free(h);
}

/* Bytes written through one tool's stdin come back through another's stdout: all of
 * them up to the NUL, and the rest is in the segment. */
static void write_then_read_round_trips(void **state) {
  (void)state;
  const char *key = ts_key("trip");
  cshm *h = created(key, 64);
  wchar_t cmd[600];
  swprintf(cmd, 600, L"write %ls -", wide(key));
  tool_run w;
  tool_start(&w, cmd, 0);
  tool_write_stdin(&w, tricky, TRICKY_LEN);
  assert_int_equal(tool_wait(&w, 60000), 0);
  swprintf(cmd, 600, L"read %ls", wide(key));
  tool_run r;
  tool_start(&r, cmd, 0);
  char out[256];
  size_t len = tool_read_stdout(&r, out, sizeof out);
  assert_int_equal(tool_wait(&r, 60000), 0);
  size_t text = strlen(tricky);
  assert_int_equal(len, text + 1);
  assert_memory_equal(out, tricky, text);
  assert_memory_equal((const char *)cshm_const_data(h) + text, tricky + text, TRICKY_LEN - text);
  cshm_free(h);
}

/* A process made with CREATE_NEW_PROCESS_GROUP starts with Ctrl-C ignored; `cshm
 * create` must still end on Ctrl-C (SetConsoleCtrlHandler(NULL, FALSE)). The event is
 * sent to the child's group on this console, which this process makes if it has
 * none; Ctrl-Break would be delivered either way, so only Ctrl-C tells. */
static void ctrl_c_ends_create_started_with_ctrl_c_disabled(void **state) {
  (void)state;
  /* Without a console there is no Ctrl-C to send: Wine run headless (CI) has none
   * and makes none (AllocConsole fails with ERROR_ACCESS_DENIED). */
  if (GetConsoleWindow() == NULL && !AllocConsole()) {
    print_message("no console (AllocConsole: error %lu): Ctrl-C cannot be sent here\n",
                  GetLastError());
    skip();
  }
  /* The test itself must survive the event it sends. */
  assert_true(SetConsoleCtrlHandler(NULL, TRUE));
  const char *key = ts_key("ctrlc");
  wchar_t cmd[600];
  swprintf(cmd, 600, L"create %ls 4096", wide(key));
  tool_run r;
  tool_start(&r, cmd, CREATE_NEW_PROCESS_GROUP);
  char line[512];
  tool_read_line(&r, line, sizeof line); /* printed once its handler is installed */
  EXPECT_CONTAINS(line, "holding it until interrupted");
  if (!GenerateConsoleCtrlEvent(CTRL_C_EVENT, GetProcessId(r.process)))
    fail_msg("GenerateConsoleCtrlEvent: error %lu", GetLastError());
  assert_int_equal(tool_wait(&r, 60000), 0);
  SetConsoleCtrlHandler(NULL, FALSE);
}

static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  if (!find_tool()) {
    fprintf(stderr, "cshm.exe is neither beside this program nor in ..\\tools\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(write_stdin_is_binary),
      cmocka_unit_test(read_stdout_is_binary),
      cmocka_unit_test(write_then_read_round_trips),
      cmocka_unit_test(ctrl_c_ends_create_started_with_ctrl_c_disabled),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("win32_tool", tests, NULL, NULL);
}
