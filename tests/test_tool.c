/* The cshm command-line tool (tools/cshm.c), run as a process the way a user runs
 * it: every command, its exit status (0 ok, 1 error, 2 usage, 3 not found, 4 exists,
 * 5 busy/timeout, 6 denied) and what it prints on stdout and stderr.
 *
 * The tool's path comes from the environment variable CSHM_TOOL. RUN(args...) spawns
 * it with pipes on stdin, stdout and stderr (RUN_IN(input, args...) feeds stdin),
 * collects both outputs and reaps it. The commands that hold something until
 * interrupted (`create`, `lock`) are started with HOLD(ready, args...), which returns
 * once their first stdout line says they are ready, and ended with stop() (SIGTERM):
 * they then detach/unlock, say so on a last line and exit 0.
 *
 * Every key comes from ts_key(); every process is registered so that the per-test
 * teardown kills (SIGKILL) and reaps whatever a failed assertion left running. The
 * last test checks that nothing is left in /dev/shm.
 *
 * The suite runs against both builds of the POSIX backend. In the portable profile
 * (CSHM_TEST_PORTABLE: the macOS code paths built on Linux, DESIGN.md §6) the tool
 * differs where the library does, by design: the umask applies to --mode, `ls` cannot
 * list (CSHM_ENOTSUP), `info` says "held" without a thread, and no name's sidecar
 * files may be left at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "format.h"
#include "support.h"

extern char **environ;

/* ---- running the tool ------------------------------------------------------------ */

/* A watchdog, not a timing assertion: a tool that should have exited (or printed its
 * ready line) but did not after this long is killed, and the test fails saying so,
 * instead of hanging the suite until ctest's timeout. */
#define WATCHDOG_MS 120000

#define MAX_PROCS 64
#define MAX_ARGS 16

typedef struct buffer {
  char *data; /* NUL-terminated; NULL until something arrives */
  size_t len, cap;
} buffer;

/* One run of the tool. `status` is the exit status once reaped, -1 before, and
 * 1000 + the signal number when a signal ended it. */
typedef struct proc {
  pid_t pid;    /* 0 once reaped */
  pid_t id;     /* its process id, kept after reaping */
  int out, err; /* our ends of its stdout and stderr; -1 once at EOF */
  buffer stdout_, stderr_;
  int status;
  char command[512]; /* "cshm create KEY 4096", for messages */
} proc;

static const char *tool;
static mode_t suite_umask; /* restored after the tests that change it */
static char tool_for_nobody[256]; /* a copy nobody can run (see nobody_tool()) */
static proc procs[MAX_PROCS];
static int proc_count;

/* The native name `key` derives to (default key type). */
static const char *native_of(const char *key) {
  static char native[1024];
  int rc = cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT);
  if (rc != CSHM_OK)
    fail_msg("cshm_native_key_for(\"%s\"): %s: %s", key, cshm_error_name(rc),
             cshm_last_error_string());
  return native;
}

static bool segment_exists(const char *key) {
  const char *path = ts_shm_path(key);
  assert_non_null(path);
  return access(path, F_OK) == 0;
}

static void append(buffer *b, const char *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL)
      abort();
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static bool starts_with(const char *text, const char *prefix) {
  return strncmp(text, prefix, strlen(prefix)) == 0;
}

static const char *text_of(const buffer *b) { return b->data != NULL ? b->data : ""; }
static const char *out_of(const proc *p) { return text_of(&p->stdout_); }
static const char *err_of(const proc *p) { return text_of(&p->stderr_); }

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Waits for p to exit (it must have closed its outputs or be about to) and records
 * its status. */
static void reap(proc *p) {
  int status;
  pid_t r;
  while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r != p->pid)
    fail_msg("waitpid(%d) for \"%s\": %s", (int)p->pid, p->command, strerror(errno));
  p->pid = 0;
  p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

/* Kills p with SIGKILL (if it still runs) and reaps it: teardown and watchdog. */
static void kill_and_reap(proc *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGKILL);
    int status;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
    }
    p->pid = 0;
  }
  close_fd(&p->out);
  close_fd(&p->err);
}

/* Reads p's stdout and stderr into its buffers. With until_newline, stops after the
 * first '\n' on stdout (read byte by byte, so nothing after it is consumed) and
 * returns true; otherwise reads both to EOF. Returns false at EOF on stdout before a
 * newline. */
static bool pump(proc *p, bool until_newline) {
  while (p->out >= 0 || (!until_newline && p->err >= 0)) {
    struct pollfd fds[2] = {{.fd = p->out, .events = POLLIN}, {.fd = p->err, .events = POLLIN}};
    int n = poll(fds, 2, WATCHDOG_MS);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      kill_and_reap(p);
      fail_msg("\"%s\" still ran after %d ms (stdout: \"%s\", stderr: \"%s\")", p->command,
               WATCHDOG_MS, out_of(p), err_of(p));
    }
    if (fds[1].revents != 0) {
      char chunk[4096];
      ssize_t got = read(p->err, chunk, sizeof chunk);
      if (got > 0)
        append(&p->stderr_, chunk, (size_t)got);
      else if (got == 0 || errno != EINTR)
        close_fd(&p->err);
    }
    if (fds[0].revents != 0) {
      char chunk[4096];
      ssize_t got = read(p->out, chunk, until_newline ? 1 : sizeof chunk);
      if (got > 0) {
        append(&p->stdout_, chunk, (size_t)got);
        if (until_newline && chunk[0] == '\n')
          return true;
      } else if (got == 0 || errno != EINTR) {
        close_fd(&p->out);
      }
    }
  }
  return !until_newline;
}

/* Starts the tool with args (NULL-terminated, without the program name). `input` is
 * written to its stdin, which is then closed. With block_term, the tool starts with
 * SIGTERM blocked (see hold_with()). With as_nobody (root only), the copy of the tool
 * that nobody_tool() made runs as user nobody through setpriv. */
static proc *start(const char *input, bool block_term, bool as_nobody,
                   const char *const args[]) {
  assert_non_null(tool);
  assert_true(proc_count < MAX_PROCS);
  proc *p = &procs[proc_count];
  memset(p, 0, sizeof *p);
  p->out = p->err = -1;
  p->status = -1;

  const char *argv[MAX_ARGS + 8];
  int n = 0;
  if (as_nobody) {
    assert_true(tool_for_nobody[0] != '\0');
    argv[n++] = "setpriv";
    argv[n++] = "--reuid=nobody";
    argv[n++] = "--regid=nogroup";
    argv[n++] = "--clear-groups";
    argv[n++] = "--";
    argv[n++] = tool_for_nobody;
  } else {
    argv[n++] = tool;
  }
  size_t used = (size_t)snprintf(p->command, sizeof p->command, "%scshm",
                                 as_nobody ? "(as nobody) " : "");
  for (int i = 0; args[i] != NULL; i++) {
    assert_true(n < MAX_ARGS + 6);
    argv[n++] = args[i];
    if (used < sizeof p->command)
      used += (size_t)snprintf(p->command + used, sizeof p->command - used, " %s", args[i]);
  }
  argv[n] = NULL;

  int in[2], out[2], err[2];
  assert_int_equal(pipe2(in, O_CLOEXEC), 0);
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  /* The suite ignores SIGPIPE; the tool gets the default disposition back, and the
   * signal mask it would get from a shell. */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t pipe_set, mask;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&mask);
  if (block_term)
    sigaddset(&mask, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &pipe_set);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawnp(&p->pid, argv[0], &actions, &attr, (char *const *)argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    p->pid = 0;
    fail_msg("posix_spawn %s: %s", argv[0], strerror(rc));
  }
  proc_count++;
  p->id = p->pid;
  p->out = out[0];
  p->err = err[0];
  /* Inputs are small (well under a pipe's capacity), so this cannot block on a tool
   * that does not read; EPIPE (the tool exited without reading) is fine. */
  if (input != NULL && write(in[1], input, strlen(input)) != (ssize_t)strlen(input) &&
      errno != EPIPE)
    fail_msg("writing the stdin of \"%s\": %s", p->command, strerror(errno));
  close(in[1]);
  return p;
}

/* Runs the tool to completion with `input` on stdin. */
static proc *run_with_input(const char *input, const char *const args[]) {
  proc *p = start(input, false, false, args);
  pump(p, false);
  reap(p);
  return p;
}

#define RUN(...) run_with_input(NULL, (const char *[]){__VA_ARGS__, NULL})
#define RUN_IN(input, ...) run_with_input(input, (const char *[]){__VA_ARGS__, NULL})

/* Runs the tool as user nobody (see nobody_tool()). */
static proc *run_as_nobody(const char *const args[]) {
  proc *p = start(NULL, false, true, args);
  pump(p, false);
  reap(p);
  return p;
}

#define RUN_AS_NOBODY(...) run_as_nobody((const char *[]){__VA_ARGS__, NULL})

/* Starts a holding command (`create`, `lock`) and returns once its first stdout line
 * begins with `ready` ("created ", "locked ", ...); fails with its output otherwise.
 *
 * The holder starts with SIGTERM blocked: the tool prints its ready line *before* it
 * blocks the signals it then waits for (tools/cshm.c, cshm_tool_wait_for_interrupt),
 * so a SIGTERM sent as soon as the line arrives kills it outright most of the time
 * and leaves an orphan. The two *_sigterm_at_once tests check that race on their
 * own; everywhere else the SIGTERM, blocked, stays pending until the tool's sigwait()
 * takes it, so that each test checks what it is about and nothing else. */
static proc *hold_with(const char *ready, bool block_term, const char *const args[]) {
  proc *p = start(NULL, block_term, false, args);
  bool got_line = pump(p, true);
  if (!got_line || !starts_with(out_of(p), ready)) {
    if (got_line) /* it may be holding something all the same: let it end normally */
      kill(p->pid, SIGTERM);
    pump(p, false);
    reap(p);
    fail_msg("\"%s\" did not say \"%s...\" (status %d, stdout: \"%s\", stderr: \"%s\")",
             p->command, ready, p->status, out_of(p), err_of(p));
  }
  return p;
}

#define HOLD(ready, ...) hold_with(ready, true, (const char *[]){__VA_ARGS__, NULL})

/* Ends a holder with SIGTERM, collects the rest of its output and reaps it. */
static void stop(proc *p) {
  assert_true(p->pid > 0);
  assert_int_equal(kill(p->pid, SIGTERM), 0);
  pump(p, false);
  reap(p);
}

/* Starts `cshm wait ...` (SIGTERM blocked, as HOLD's holders) and returns once its
 * first stderr line, "cshm: waiting for NAME (event N)", has arrived, with N in
 * *event: from then on it watches the event word. Fails with its output otherwise. */
static proc *start_waiter(const char *const args[], unsigned *event) {
  proc *p = start(NULL, true, false, args);
  for (;;) {
    struct pollfd fd = {.fd = p->err, .events = POLLIN};
    int n = poll(&fd, 1, WATCHDOG_MS);
    if (n < 0 && errno == EINTR)
      continue;
    char c;
    if (n <= 0 || read(p->err, &c, 1) != 1)
      break;
    append(&p->stderr_, &c, 1);
    if (c == '\n')
      break;
  }
  const char *line = err_of(p);
  char name[512];
  if (sscanf(line, "cshm: waiting for %511s (event %u)\n", name, event) != 2 ||
      line[strlen(line) - 1] != '\n') {
    kill_and_reap(p);
    fail_msg("\"%s\" did not say \"cshm: waiting for ...\" (stderr: \"%s\")", p->command, line);
  }
  return p;
}

#define WAITER(event, ...) start_waiter((const char *[]){__VA_ARGS__, NULL}, event)

/* Collects the rest of p's output and reaps it (it is about to exit). */
static void finish(proc *p) {
  pump(p, false);
  reap(p);
}

/* The last line of p's stdout, without its newline. */
static const char *last_line(const proc *p) {
  static char line[1024];
  const char *text = out_of(p);
  size_t end = strlen(text);
  if (end > 0 && text[end - 1] == '\n')
    end--;
  size_t begin = end;
  while (begin > 0 && text[begin - 1] != '\n')
    begin--;
  snprintf(line, sizeof line, "%.*s", (int)(end - begin), text + begin);
  return line;
}

/* Asserts p's exit status, printing its command and outputs when it differs. */
#define EXPECT_EXIT(p, want)                                                             \
  do {                                                                                   \
    const proc *p_ = (p);                                                                \
    if (p_->status != (want))                                                            \
      print_message("%s:%d: \"%s\" exited with %d, expected %d\nstdout: %s\nstderr: %s\n", \
                    __FILE__, __LINE__, p_->command, p_->status, (want), out_of(p_),     \
                    err_of(p_));                                                         \
    assert_int_equal(p_->status, (want));                                                \
  } while (0)

/* Asserts a stopped holder detached or unlocked cleanly: exit 0, `last` last. */
static void expect_stopped(proc *p, const char *last) {
  stop(p);
  EXPECT_EXIT(p, 0);
  assert_string_equal(last_line(p), last);
  assert_string_equal(err_of(p), "");
}

/* Asserts a command failed with the status and error code given: the message is
 * "cshm: <detail> [CSHM_EXXX]" on stderr, and nothing is printed on stdout. */
static void expect_failure(const proc *p, int status, const char *code_name) {
  EXPECT_EXIT(p, status);
  char tag[64];
  snprintf(tag, sizeof tag, " [%s]\n", code_name);
  assert_true(starts_with(err_of(p), "cshm: "));
  EXPECT_CONTAINS(err_of(p), tag);
  assert_string_equal(out_of(p), "");
}

/* Asserts a usage error: status 2, the reason and the hint on stderr, no stdout. */
static void expect_usage(const proc *p, const char *reason) {
  EXPECT_EXIT(p, 2);
  assert_true(starts_with(err_of(p), "cshm: "));
  EXPECT_CONTAINS(err_of(p), reason);
  EXPECT_CONTAINS(err_of(p), "Try 'cshm --help'");
  assert_string_equal(out_of(p), "");
}

static int setup_group(void **state) {
  (void)state;
  suite_umask = umask(022);
  umask(suite_umask);
  tool = getenv("CSHM_TOOL");
  if (tool == NULL || access(tool, X_OK) != 0) {
    fprintf(stderr, "CSHM_TOOL must name the cshm executable (got %s)\n",
            tool != NULL ? tool : "nothing");
    return -1;
  }
  /* A tool that exits before reading its stdin must not kill the suite. */
  signal(SIGPIPE, SIG_IGN);
  return 0;
}

/* Removes the copy of the tool nobody_tool() made, and its directory. */
static int teardown_group(void **state) {
  (void)state;
  if (tool_for_nobody[0] != '\0') {
    unlink(tool_for_nobody);
    *strrchr(tool_for_nobody, '/') = '\0';
    rmdir(tool_for_nobody);
    tool_for_nobody[0] = '\0';
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  umask(suite_umask);
  for (int i = 0; i < proc_count; i++) {
    kill_and_reap(&procs[i]);
    free(procs[i].stdout_.data);
    free(procs[i].stderr_.data);
  }
  proc_count = 0;
  return 0;
}

/* ---- version, help and usage errors ------------------------------------------------ */

/* --version names the library the tool runs on. */
static void test_version_prints_library_version(void **state) {
  (void)state;
  proc *p = RUN("--version");
  EXPECT_EXIT(p, 0);
  assert_string_equal(out_of(p), "cshm " CSHM_VERSION_STRING "\n");
  assert_string_equal(CSHM_VERSION_STRING, cshm_version_string());
  assert_string_equal(err_of(p), "");
}

/* --help (and `help`) lists every command with its usage line, and the exit codes. */
static void test_help_lists_commands_and_exit_codes(void **state) {
  (void)state;
  static const char *const parts[] = {
      "Usage: cshm COMMAND",  "  demo ",         "  create KEY SIZE ",
      "  write KEY [TEXT|-] ", "  read KEY [--hex] ", "  info KEY ",
      "  rm KEY ",            "  name KEY [--type TYPE] ", "  ls ",
      "  lock KEY [--timeout MS] ", "  wait KEY [--timeout MS] ",
      "  notify KEY [--all] ", "--type TYPE",  "--native",
      "0 success",            "1 error",          "2 bad usage",
      "3 not found",          "4 already exists", "5 lock busy or timed out",
      "6 permission denied",  "128 + the signal number",
  };
  proc *p = RUN("--help");
  EXPECT_EXIT(p, 0);
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    EXPECT_CONTAINS(out_of(p), parts[i]);
  assert_string_equal(err_of(p), "");
  proc *q = RUN("help");
  EXPECT_EXIT(q, 0);
  assert_string_equal(out_of(q), out_of(p));
}

/* COMMAND --help prints that command's usage line first and exits 0, whatever else
 * is (or is not) on the command line. */
static void test_command_help_prints_usage(void **state) {
  (void)state;
  static const struct { const char *command, *usage; } commands[] = {
      {"demo", "Usage: cshm demo\n"},
      {"create", "Usage: cshm create KEY SIZE\n"},
      {"write", "Usage: cshm write KEY [TEXT|-]\n"},
      {"read", "Usage: cshm read KEY [--hex]\n"},
      {"info", "Usage: cshm info KEY\n"},
      {"rm", "Usage: cshm rm KEY\n"},
      {"name", "Usage: cshm name KEY [--type TYPE]\n"},
      {"ls", "Usage: cshm ls\n"},
      {"lock", "Usage: cshm lock KEY [--timeout MS]\n"},
      {"wait", "Usage: cshm wait KEY [--timeout MS]\n"},
      {"notify", "Usage: cshm notify KEY [--all]\n"},
  };
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    proc *p = RUN(commands[i].command, "--help");
    EXPECT_EXIT(p, 0);
    if (!starts_with(out_of(p), commands[i].usage))
      fail_msg("\"%s\" printed \"%s\", expected it to begin with \"%s\"", p->command,
               out_of(p), commands[i].usage);
    assert_string_equal(err_of(p), "");
  }
  /* --help wins over missing arguments: nothing runs. */
  const char *key = ts_key("cmdhelp");
  EXPECT_EXIT(RUN("create", key, "--help"), 0);
  assert_false(segment_exists(key));
}

/* The display width of a line: its UTF-8 code points (the help is plain text). */
static size_t columns_of(const char *line, size_t len) {
  size_t columns = 0;
  for (size_t i = 0; i < len; i++)
    columns += ((unsigned char)line[i] & 0xc0) != 0x80;
  return columns;
}

/* Fails naming the first line of p's stdout wider than 80 columns. */
static void expect_lines_fit_80_columns(const proc *p) {
  const char *line = out_of(p);
  assert_true(line[0] != '\0');
  while (*line != '\0') {
    size_t len = strcspn(line, "\n");
    if (columns_of(line, len) > 80)
      fail_msg("\"%s\" printed a line of %zu columns (at most 80):\n%.*s", p->command,
               columns_of(line, len), (int)len, line);
    line += len + (line[len] == '\n');
  }
}

/* Every line of `--help`, `help` and of each command's --help fits an 80-column
 * terminal. */
static void test_help_lines_fit_80_columns(void **state) {
  (void)state;
  static const char *const commands[] = {"demo", "create", "write", "read", "info",
                                         "rm",   "name",   "ls",    "lock",
                                         "wait", "notify"};
  proc *p = RUN("--help");
  EXPECT_EXIT(p, 0);
  expect_lines_fit_80_columns(p);
  p = RUN("help");
  EXPECT_EXIT(p, 0);
  expect_lines_fit_80_columns(p);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    p = RUN(commands[i], "--help");
    EXPECT_EXIT(p, 0);
    expect_lines_fit_80_columns(p);
  }
}

/* No command at all. */
static void test_usage_no_command(void **state) {
  (void)state;
  expect_usage(RUN(NULL), "missing COMMAND");
}

static void test_usage_unknown_command(void **state) {
  (void)state;
  expect_usage(RUN("frobnicate"), "unknown command 'frobnicate'");
}

/* Options a command does not take, including another command's options. */
static void test_usage_unknown_option(void **state) {
  (void)state;
  const char *key = ts_key("badopt");
  expect_usage(RUN("info", key, "--bogus"), "unknown option '--bogus'");
  expect_usage(RUN("info", key, "--hex"), "unknown option '--hex' for this command");
  expect_usage(RUN("create", key, "4096", "--timeout", "5"),
               "unknown option '--timeout' for this command");
  expect_usage(RUN("rm", key, "--hex"), "unknown option '--hex' for this command");
  expect_usage(RUN("read", key, "--hex=yes"), "option '--hex=yes' takes no value");
  expect_usage(RUN("lock", key, "--timeout"), "option '--timeout' needs a value");
  assert_false(segment_exists(key));
}

/* Each command that takes a KEY says so when it is missing (and create its SIZE). */
static void test_usage_missing_key(void **state) {
  (void)state;
  static const char *const commands[] = {"create", "write", "read", "info",
                                         "rm",     "name",  "lock"};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    expect_usage(RUN(commands[i]), "missing argument; usage: cshm ");
  }
  const char *key = ts_key("nosize");
  expect_usage(RUN("create", key), "missing argument; usage: cshm create KEY SIZE");
  assert_false(segment_exists(key));
}

/* One positional argument too many, for every command. */
static void test_usage_extra_argument(void **state) {
  (void)state;
  const char *key = ts_key("extra");
  expect_usage(RUN("demo", "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("ls", "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("info", key, "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("read", key, "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("rm", key, "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("name", key, "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("lock", key, "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("create", key, "4096", "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("write", key, "text", "extra"), "unexpected argument 'extra'");
  expect_usage(RUN("write", key, "a", "b", "c"), "too many arguments at 'c'");
  assert_false(segment_exists(key));
}

/* SIZE is decimal digits and at most one K, M or G (either case) after them; nothing
 * else (signs, spaces, other suffixes, "KB", "KiB", hex, fractions) is accepted, and
 * nothing is created. */
static void test_usage_bad_size(void **state) {
  (void)state;
  const char *key = ts_key("badsize");
  static const char *const sizes[] = {"abc", "-1",  "",    "12abc", "1KB", "1kb",  "1Ki",
                                      "1KiB", "K",  "k",   "1 K",   " 1",  "1 ",   "+1",
                                      "1K ", "1T",  "1B",  "0x10",  "1.5K", "-1K", "1KK",
                                      "1e3", "1\xc2\xa0"};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char reason[160];
    snprintf(reason, sizeof reason,
             "SIZE must be digits with an optional K, M or G suffix, not '%s'\n", sizes[i]);
    expect_usage(RUN("create", key, sizes[i]), reason);
  }
  assert_false(segment_exists(key));
}

/* A SIZE whose bytes do not fit a size_t (64 bits here), suffix applied, is refused
 * as too large, with status 2. */
static void test_usage_size_too_large(void **state) {
  (void)state;
  const char *key = ts_key("bigsize");
  static const char *const sizes[] = {"18446744073709551616", "99999999999999999999999",
                                      "17179869184G", "17592186044416M", "18014398509481984K",
                                      "18446744073709551616K"};
  assert_int_equal(sizeof(size_t), 8);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char reason[160];
    snprintf(reason, sizeof reason,
             "SIZE '%s' is too large: more than 18446744073709551615 bytes\n", sizes[i]);
    expect_usage(RUN("create", key, sizes[i]), reason);
  }
  assert_false(segment_exists(key));
}

/* SIZE takes K, M and G (x 1024, 1024^2, 1024^3) in either case, and leading zeros:
 * create makes exactly that many bytes. */
static void test_create_size_suffixes(void **state) {
  (void)state;
  static const struct { const char *size; unsigned long long bytes; } forms[] = {
      {"64", 64},           {"0010", 10},         {"4k", 4096},    {"4K", 4096},
      {"1m", 1048576},      {"3M", 3145728},      {"1g", 1073741824}, {"1G", 1073741824},
      {"007K", 7168},
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    const char *key = ts_key("sizesuffix");
    char ready[512];
    snprintf(ready, sizeof ready, "created %s (%llu bytes); ", native_of(key), forms[i].bytes);
    proc *holder = HOLD(ready, "create", key, forms[i].size);
    char line[128];
    snprintf(line, sizeof line, "size:        %llu bytes\n", forms[i].bytes);
    EXPECT_CONTAINS(out_of(RUN("info", key)), line);
    expect_stopped(holder, "detached");
    assert_false(segment_exists(key));
  }
}

/* Sizes the grammar accepts but the library refuses: 0 (with or without a suffix),
 * and the largest size_t (suffix applied) that leaves no room for the header:
 * status 1, CSHM_ESIZE. */
static void test_create_size_refused_by_library(void **state) {
  (void)state;
  const char *key = ts_key("esize");
  static const char *const sizes[] = {"0", "0K", "000G", "18446744073709551615",
                                      "17179869183G"};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    expect_failure(RUN("create", key, sizes[i]), 1, "CSHM_ESIZE");
  assert_false(segment_exists(key));
}

/* --mode takes octal permission bits up to 0777. */
static void test_usage_bad_mode(void **state) {
  (void)state;
  const char *key = ts_key("badmode");
  expect_usage(RUN("create", key, "4096", "--mode", "0999"), "--mode wants octal permission bits");
  expect_usage(RUN("create", key, "4096", "--mode", "xyz"), "not 'xyz'");
  expect_usage(RUN("create", key, "4096", "--mode=1777"), "not '1777'");
  expect_usage(RUN("create", key, "4096", "--mode="), "--mode wants octal permission bits");
  assert_false(segment_exists(key));
}

/* --timeout takes a non-negative number of milliseconds. The key does not exist, so
 * a value wrongly accepted would show as status 3 instead of 2. */
static void test_usage_bad_timeout(void **state) {
  (void)state;
  const char *key = ts_key("badtimeout");
  expect_usage(RUN("lock", key, "--timeout", "-5"), "--timeout wants milliseconds, not '-5'");
  expect_usage(RUN("lock", key, "--timeout", "x"), "--timeout wants milliseconds, not 'x'");
  expect_usage(RUN("lock", key, "--timeout=4294967295"), "--timeout wants milliseconds");
  expect_usage(RUN("read", key, "--timeout", "forever"), "--timeout wants milliseconds");
  expect_usage(RUN("name", key, "--timeout", "1"), "unknown option '--timeout' for this command");
  expect_usage(RUN("wait", key, "--timeout", "-1"), "--timeout wants milliseconds, not '-1'");
  expect_usage(RUN("wait", key, "--timeout", "5s"), "--timeout wants milliseconds, not '5s'");
  expect_usage(RUN("wait", key, "--timeout"), "option '--timeout' needs a value");
  expect_usage(RUN("notify", key, "--timeout", "1"), "unknown option '--timeout' for this command");
  expect_usage(RUN("notify", key, "--all=yes"), "option '--all=yes' takes no value");
  expect_usage(RUN("wait", key, "--all"), "unknown option '--all' for this command");
}

/* --type takes one of the four key types by name. */
static void test_usage_bad_type(void **state) {
  (void)state;
  const char *key = ts_key("badtype");
  expect_usage(RUN("name", key, "--type", "bogus"), "unknown key type 'bogus'");
  expect_usage(RUN("info", key, "--type", "Default"), "unknown key type 'Default'");
  expect_usage(RUN("create", key, "4096", "--type="), "unknown key type ''");
  assert_false(segment_exists(key));
}

/* ---- demo ---------------------------------------------------------------------------- */

/* The pid in "[<who>, pid N]" or "[<who>,  pid N]", or 0. */
static unsigned pid_after(const char *text, const char *who) {
  const char *at = strstr(text, who);
  if (at == NULL)
    return 0;
  at = strstr(at, "pid ");
  return at != NULL ? (unsigned)strtoul(at + 4, NULL, 10) : 0;
}

/* Two processes share "Hello, world!" and a reply through one segment, and the last
 * detacher removes it. */
static void test_demo_two_processes_share_hello_world(void **state) {
  (void)state;
  proc *p = RUN("demo");
  EXPECT_EXIT(p, 0);
  assert_string_equal(err_of(p), "");
  const char *out = out_of(p);
  EXPECT_CONTAINS(out, "[first process");
  EXPECT_CONTAINS(out, "[second process");
  EXPECT_CONTAINS(out, "it reads: \"Hello, world!\"");
  EXPECT_CONTAINS(out, "the segment is gone");

  unsigned first = pid_after(out, "[first process"), second = pid_after(out, "[second process");
  assert_int_equal(first, (unsigned)p->id); /* the first process is the one we ran */
  assert_true(second != 0);
  assert_int_not_equal(first, second);
  char reply[96];
  snprintf(reply, sizeof reply, "it reads: \"Hello back from pid %u!\"", second);
  EXPECT_CONTAINS(out, reply);

  /* The native name it printed is gone from /dev/shm. Recorded first, so that a
   * leftover is reported (and removed) by no_leftovers too. */
  const char *name = strstr(out, "native name /");
  assert_non_null(name);
  name += strlen("native name ");
  size_t len = strcspn(name, ",) \n");
  assert_true(len > 1 && len < 256);
  char native[300], path[320];
  snprintf(native, sizeof native, "%.*s", (int)len, name);
  ts_record_native(native);
  char demo_key[64];
  snprintf(demo_key, sizeof demo_key, "cshm-demo-%u", first);
  assert_string_equal(native, native_of(demo_key));
  snprintf(path, sizeof path, "/dev/shm%s", native);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(errno, ENOENT);
}

/* ---- create, info, write, read ----------------------------------------------------- */

/* While `create` holds a segment, `info` describes it: its size, the format, the
 * creator (the create process), a free lock and a live attachment. Once the holder
 * is interrupted it detaches as the last user and the segment is gone. */
static void test_create_holds_segment_info_describes_it(void **state) {
  (void)state;
  const char *key = ts_key("info");
  char ready[512];
  snprintf(ready, sizeof ready, "created %s (4096 bytes); ", native_of(key));
  proc *holder = HOLD(ready, "create", key, "4096");
  assert_true(segment_exists(key));

  proc *p = RUN("info", key);
  EXPECT_EXIT(p, 0);
  assert_string_equal(err_of(p), "");
  char line[512];
  snprintf(line, sizeof line, "key:         %s\n", key);
  EXPECT_CONTAINS(out_of(p), line);
  snprintf(line, sizeof line, "native name: %s\n", native_of(key));
  EXPECT_CONTAINS(out_of(p), line);
  EXPECT_CONTAINS(out_of(p), "key type:    default\n");
  EXPECT_CONTAINS(out_of(p), "size:        4096 bytes\n");
  snprintf(line, sizeof line, "format:      %u.%u\n", CSHM__FORMAT_MAJOR, CSHM__FORMAT_MINOR);
  EXPECT_CONTAINS(out_of(p), line);
  snprintf(line, sizeof line, "creator pid: %d\n", (int)holder->id);
  EXPECT_CONTAINS(out_of(p), line);
  EXPECT_CONTAINS(out_of(p), "lock:        free\n");
  EXPECT_CONTAINS(out_of(p), "attached:    yes\n");

  expect_stopped(holder, "detached");
  assert_false(segment_exists(key));
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
}

/* What `write KEY TEXT` puts in the segment, `read KEY` prints (up to the NUL that
 * write appends), and a shorter write ends the text early. */
static void test_write_then_read_round_trips(void **state) {
  (void)state;
  const char *key = ts_key("rw");
  proc *holder = HOLD("created ", "create", key, "4096");
  proc *w = RUN("write", key, "Hello from the tool");
  EXPECT_EXIT(w, 0);
  assert_string_equal(out_of(w), "");
  assert_string_equal(err_of(w), "");
  proc *r = RUN("read", key);
  EXPECT_EXIT(r, 0);
  assert_string_equal(out_of(r), "Hello from the tool\n");
  assert_string_equal(err_of(r), "");
  EXPECT_EXIT(RUN("write", key, "short"), 0);
  assert_string_equal(out_of(RUN("read", key)), "short\n");
  expect_stopped(holder, "detached");
}

/* `read` of an orphan (its creator was killed) prints the data and leaves the
 * segment in place: reading twice works, and the name still exists. */
static void test_read_orphan_keeps_it(void **state) {
  (void)state;
  const char *key = ts_key("read-orphan");
  proc *holder = HOLD("created ", "create", key, "4096");
  EXPECT_EXIT(RUN("write", key, "data of a crashed app"), 0);
  kill_and_reap(holder);
  assert_true(segment_exists(key));
  for (int i = 0; i < 2; i++) {
    proc *r = RUN("read", key);
    EXPECT_EXIT(r, 0);
    assert_string_equal(out_of(r), "data of a crashed app\n");
    assert_true(segment_exists(key));
  }
  EXPECT_EXIT(RUN("rm", key), 0);
  assert_false(segment_exists(key));
}

/* `write KEY -` and `write KEY` (no TEXT) take the text from standard input. */
static void test_write_reads_stdin(void **state) {
  (void)state;
  const char *key = ts_key("stdin");
  proc *holder = HOLD("created ", "create", key, "4096");
  EXPECT_EXIT(RUN_IN("piped in\nsecond line", "write", key, "-"), 0);
  assert_string_equal(out_of(RUN("read", key)), "piped in\nsecond line\n");
  EXPECT_EXIT(RUN_IN("without a dash", "write", key), 0);
  assert_string_equal(out_of(RUN("read", key)), "without a dash\n");
  expect_stopped(holder, "detached");
}

/* `read --hex` dumps every byte: 16 a line, offsets from 00000000, and the text. */
static void test_read_hex_dumps_data(void **state) {
  (void)state;
  const char *key = ts_key("hex");
  proc *holder = HOLD("created ", "create", key, "32");
  EXPECT_EXIT(RUN("write", key, "ABC"), 0);
  proc *r = RUN("read", key, "--hex");
  EXPECT_EXIT(r, 0);
  const char *out = out_of(r);
  assert_true(starts_with(out, "00000000  41 42 43 00 00 "));
  EXPECT_CONTAINS(out, "|ABC.............|\n");
  const char *second = strchr(out, '\n');
  assert_non_null(second);
  assert_true(starts_with(second + 1, "00000010 "));
  /* 32 bytes: exactly two lines. */
  assert_null(strchr(strchr(second + 1, '\n') + 1, '\n'));
  expect_stopped(holder, "detached");
}

/* A text longer than the segment is refused (status 1, a message, nothing written);
 * one exactly as long fits, without a NUL after it, and read prints all of it. */
static void test_write_larger_than_segment_fails(void **state) {
  (void)state;
  const char *key = ts_key("toolong");
  proc *holder = HOLD("created ", "create", key, "16");
  proc *w = RUN("write", key, "0123456789abcdefX");
  EXPECT_EXIT(w, 1);
  EXPECT_CONTAINS(err_of(w), "cshm: 17 bytes do not fit the segment's 16");
  assert_string_equal(out_of(w), "");
  assert_string_equal(out_of(RUN("read", key)), "\n"); /* still all zero */
  EXPECT_EXIT(RUN("write", key, "0123456789abcdef"), 0);
  assert_string_equal(out_of(RUN("read", key)), "0123456789abcdef\n");
  expect_stopped(holder, "detached");
}

/* A second `create` of a live segment fails with status 4 and CSHM_EEXIST. */
static void test_create_existing_fails_with_exists(void **state) {
  (void)state;
  const char *key = ts_key("exists");
  proc *holder = HOLD("created ", "create", key, "4096");
  expect_failure(RUN("create", key, "4096"), 4, "CSHM_EEXIST");
  /* The first holder's segment is untouched. */
  EXPECT_CONTAINS(out_of(RUN("info", key)), "size:        4096 bytes\n");
  expect_stopped(holder, "detached");
  assert_false(segment_exists(key));
}

/* `create --or-attach` attaches to a live segment (keeping its size) and holds it
 * too; the segment lives until the last holder is interrupted. */
static void test_create_or_attach_attaches(void **state) {
  (void)state;
  const char *key = ts_key("orattach");
  proc *creator = HOLD("created ", "create", key, "4096");
  char ready[512];
  snprintf(ready, sizeof ready, "attached to %s (4096 bytes); ", native_of(key));
  proc *attacher = HOLD(ready, "create", "--or-attach", key, "8192");
  expect_stopped(creator, "detached");
  /* The attacher still holds it. */
  EXPECT_CONTAINS(out_of(RUN("info", key)), "attached:    yes\n");
  expect_stopped(attacher, "detached");
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
  assert_false(segment_exists(key));
  /* With nothing there, --or-attach creates. */
  proc *again = HOLD("created ", "create", key, "64", "--or-attach");
  expect_stopped(again, "detached");
}

/* `create --reserve` commits the memory and holds the segment like a plain create. */
static void test_create_reserve_creates(void **state) {
  (void)state;
  const char *key = ts_key("reserve");
  proc *holder = HOLD("created ", "create", "--reserve", key, "65536");
  EXPECT_CONTAINS(out_of(RUN("info", key)), "size:        65536 bytes\n");
  expect_stopped(holder, "detached");
  assert_false(segment_exists(key));
}

/* The mode of the /dev/shm object, or a failure. */
static unsigned shm_mode(const char *key) {
  struct stat st;
  if (stat(ts_shm_path(key), &st) != 0)
    fail_msg("stat %s: %s", ts_shm_path(key), strerror(errno));
  return (unsigned)st.st_mode & 07777u;
}

/* The mode of the object that `create --mode 0644` makes when run with umask `mask`
 * (the teardown restores the suite's umask if an assertion ends the test early). */
static unsigned mode_0644_under_umask(const char *label, mode_t mask) {
  const char *key = ts_key(label);
  umask(mask); /* the tool inherits it */
  proc *holder = HOLD("created ", "create", "--mode", "0644", key, "4096");
  umask(suite_umask);
  unsigned mode = shm_mode(key);
  expect_stopped(holder, "detached");
  assert_false(segment_exists(key));
  return mode;
}

/* `create --mode 0644` gives exactly 0644, whatever the umask (077 here).
 * Portable profile (by design, as the library: macOS rejects fchmod on shm
 * descriptors): the umask applies - exactly 0644 with umask 0, narrowed to 0600 by
 * umask 077. */
static void test_create_mode_applies_exactly(void **state) {
  (void)state;
#if CSHM_TEST_PORTABLE
  assert_int_equal(mode_0644_under_umask("mode", 0), 0644u);
  assert_int_equal(mode_0644_under_umask("mode077", 077), 0600u);
#else
  assert_int_equal(mode_0644_under_umask("mode", 077), 0644u);
#endif
}

/* Without --mode, the object is 0600 (the library's default). */
static void test_create_default_mode_is_0600(void **state) {
  (void)state;
  const char *key = ts_key("defmode");
  proc *holder = HOLD("created ", "create", key, "4096");
  assert_int_equal(shm_mode(key), 0600u);
  expect_stopped(holder, "detached");
}

/* ---- lock ---------------------------------------------------------------------------- */

/* While `lock` holds the segment's lock, `info` names the holding thread (the tool's
 * only thread: its pid), and another `lock --timeout` gives up with status 5. Once
 * interrupted, the holder unlocks, says "unlocked" and exits 0, and the lock is free.
 * Portable profile (by design): the lock word records the owner process's liveness
 * token, not a thread: `info` says "held", without a thread. */
static void test_lock_holds_lock_until_interrupted(void **state) {
  (void)state;
  const char *key = ts_key("lock");
  proc *holder = HOLD("created ", "create", key, "4096");
  char ready[512];
  snprintf(ready, sizeof ready, "locked %s; ", native_of(key));
  proc *locker = HOLD(ready, "lock", key);

  char line[128];
  if (CSHM_TEST_PORTABLE)
    snprintf(line, sizeof line, "lock:        held\n");
  else
    snprintf(line, sizeof line, "lock:        held by thread %d\n", (int)locker->id);
  EXPECT_CONTAINS(out_of(RUN("info", key)), line);
  expect_failure(RUN("lock", key, "--timeout", "50"), 5, "CSHM_ETIMEDOUT");
  expect_failure(RUN("lock", key, "--timeout=0"), 5, "CSHM_ETIMEDOUT");

  expect_stopped(locker, "unlocked");
  EXPECT_CONTAINS(out_of(RUN("info", key)), "lock:        free\n");
  /* Free again: another locker gets it at once. */
  proc *next = HOLD("locked ", "lock", key, "--timeout", "0");
  expect_stopped(next, "unlocked");
  expect_stopped(holder, "detached");
}

/* write and read wait for the lock a `lock` holds... and get it once it is released:
 * a write or read started while the lock is held completes after the holder unlocks. */
static void test_write_waits_for_held_lock(void **state) {
  (void)state;
  const char *key = ts_key("writewait");
  proc *holder = HOLD("created ", "create", key, "4096");
  proc *locker = HOLD("locked ", "lock", key);
  /* --timeout infinite: the default bound (5000 ms) must not decide this test on a
   * slow machine. No sleep: whether or not the writer is already blocked, it can only
   * finish once the lock is released. */
  proc *w = start(NULL, false, false,
                  (const char *[]){"write", key, "after the lock", "--timeout", "infinite", NULL});
  expect_stopped(locker, "unlocked");
  pump(w, false);
  reap(w);
  EXPECT_EXIT(w, 0);
  assert_string_equal(out_of(RUN("read", key)), "after the lock\n");
  /* Asked to wait forever, read does. */
  locker = HOLD("locked ", "lock", key);
  proc *r = start(NULL, false, false, (const char *[]){"read", key, "--timeout", "infinite", NULL});
  expect_stopped(locker, "unlocked");
  pump(r, false);
  reap(r);
  EXPECT_EXIT(r, 0);
  assert_string_equal(out_of(r), "after the lock\n");
  expect_stopped(holder, "detached");
}

/* A Qt System V segment (--type qt-legacy) whose lock another process holds: attach
 * takes Qt's lock too, so --timeout bounds attach and lock together - `lock`, `read`
 * and `write` give up with status 5 (before the fix they waited forever in attach).
 * Without --timeout, read and write wait the documented default bound, then say how
 * to wait longer; info never waits. Released, they work again. */
static void test_qt_legacy_timeouts_bound_attach(void **state) {
  (void)state;
  const char *key = ts_key("qtlocked");
  proc *holder = HOLD("created ", "create", key, "4096", "--type", "qt-legacy");
  proc *locker = HOLD("locked ", "lock", key, "--type", "qt-legacy");
  expect_failure(RUN("lock", key, "--type", "qt-legacy", "--timeout", "200"), 5,
                 "CSHM_ETIMEDOUT");
  expect_failure(RUN("lock", key, "--type", "qt-legacy", "--timeout=0"), 5, "CSHM_ETIMEDOUT");
  expect_failure(RUN("read", key, "--type", "qt-legacy", "--timeout", "100"), 5,
                 "CSHM_ETIMEDOUT");
  expect_failure(RUN("write", key, "x", "--type", "qt-legacy", "--timeout", "0"), 5,
                 "CSHM_ETIMEDOUT");
  proc *r = RUN("read", key, "--type", "qt-legacy");
  expect_failure(r, 5, "CSHM_ETIMEDOUT");
  EXPECT_CONTAINS(err_of(r), "Qt's lock");
  EXPECT_CONTAINS(err_of(r), "5000 ms, the default bound");
  EXPECT_CONTAINS(err_of(r), "--timeout infinite");
  proc *i = RUN("info", key, "--type", "qt-legacy", "--timeout", "0");
  EXPECT_EXIT(i, 0);
  EXPECT_CONTAINS(out_of(i), "lock:        held\n");
  expect_stopped(locker, "unlocked");
  EXPECT_EXIT(RUN("write", key, "qt text", "--type", "qt-legacy", "--timeout", "0"), 0);
  assert_string_equal(out_of(RUN("read", key, "--type", "qt-legacy")), "qt text\n");
  expect_stopped(holder, "detached");
  expect_failure(RUN("info", key, "--type", "qt-legacy"), 3, "CSHM_ENOENT");
}

/* A process killed while it holds the lock: `info` says the owner died (not "free",
 * not "held"); the next `lock` is told so, and once it unlocks the lock is free. */
static void test_info_reports_dead_lock_owner(void **state) {
  (void)state;
  const char *key = ts_key("deadowner");
  proc *holder = HOLD("created ", "create", key, "4096");
  ts_child c;
  if (!ts_spawn(&c, NULL, false, (const char *const[]){key, "attach", "lock", "signal", NULL}))
    fail_msg("could not spawn the helper (is CSHM_TEST_HELPER set?)");
  bool holding = ts_expect(&c, "signal");
  ts_kill(&c); /* SIGKILL, reaped: it died holding the lock */
  assert_true(holding);

  proc *p = RUN("info", key);
  EXPECT_EXIT(p, 0);
  assert_string_equal(err_of(p), "");
  EXPECT_CONTAINS(out_of(p), "\nlock:        owner died holding it; the next locker is told\n");
  EXPECT_CONTAINS(out_of(p), "attached:    yes\n"); /* the creator still is */
  /* Looking did not consume the report: the next locker still gets it. */
  EXPECT_CONTAINS(out_of(RUN("info", key)), "lock:        owner died holding it");
  proc *locker = HOLD("locked ", "lock", key);
  EXPECT_CONTAINS(out_of(locker), "(its previous owner died holding it)");
  expect_stopped(locker, "unlocked");
  EXPECT_CONTAINS(out_of(RUN("info", key)), "lock:        free\n");
  expect_stopped(holder, "detached");
}

/* lock, read, write and info of a key with no segment: status 3, CSHM_ENOENT. */
static void test_missing_segment_not_found(void **state) {
  (void)state;
  const char *key = ts_key("missing");
  expect_failure(RUN("lock", key), 3, "CSHM_ENOENT");
  expect_failure(RUN("read", key), 3, "CSHM_ENOENT");
  expect_failure(RUN("write", key, "text"), 3, "CSHM_ENOENT");
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
  assert_false(segment_exists(key));
}

/* ---- rm -------------------------------------------------------------------------------- */

/* `rm` removes a segment's name even while a holder uses it; the holder keeps its
 * memory and still ends normally (without removing anything else). */
static void test_rm_removes_held_segment(void **state) {
  (void)state;
  const char *key = ts_key("rm");
  proc *holder = HOLD("created ", "create", key, "4096");
  proc *r = RUN("rm", key);
  EXPECT_EXIT(r, 0);
  assert_string_equal(out_of(r), "");
  assert_string_equal(err_of(r), "");
  assert_false(segment_exists(key));
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
  expect_stopped(holder, "detached");
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
}

/* `rm` of a key with no segment: status 3, CSHM_ENOENT. */
static void test_rm_missing_not_found(void **state) {
  (void)state;
  expect_failure(RUN("rm", ts_key("rmmissing")), 3, "CSHM_ENOENT");
}

/* `rm --native NAME` removes an orphan (its creator was killed) by the native name
 * `ls` prints, without knowing its key: the object and, in the portable profile,
 * its sidecar files are gone. */
static void test_rm_native_removes_orphan(void **state) {
  (void)state;
  const char *key = ts_key("rmnative");
  char native[1024];
  snprintf(native, sizeof native, "%s", native_of(key));
  proc *creator = HOLD("created ", "create", key, "4096");
  kill_and_reap(creator); /* SIGKILL: it cannot detach, its segment is an orphan */
  assert_true(segment_exists(key));
  EXPECT_CONTAINS(out_of(RUN("info", key)), "attached:    no");

  proc *r = RUN("rm", "--native", native);
  EXPECT_EXIT(r, 0);
  assert_string_equal(out_of(r), "");
  assert_string_equal(err_of(r), "");
  assert_false(segment_exists(key));
  assert_int_equal(ts_key_sidecars_left(key), 0);
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
  expect_failure(RUN("rm", "--native", native), 3, "CSHM_ENOENT");
}

/* `rm --native` with a name that is no valid native name: status 1, CSHM_EKEY, the
 * message naming the rule; a valid name nothing has: status 3, CSHM_ENOENT. */
static void test_rm_native_bad_names(void **state) {
  (void)state;
  char too_long[300];
  too_long[0] = '/';
  memset(too_long + 1, 'x', sizeof too_long - 2);
  too_long[sizeof too_long - 1] = '\0';
  static const char *const invalid[] = {"no-leading-slash", "", "/a/b", "/bad-\xff-utf8", "/"};
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
    expect_failure(RUN("rm", "--native", invalid[i]), 1, "CSHM_EKEY");
  expect_failure(RUN("rm", "--native", too_long), 1, "CSHM_EKEY");
  proc *p = RUN("rm", "--native", "no-leading-slash");
  EXPECT_CONTAINS(err_of(p), "cshm_remove_native: invalid key (native \"no-leading-slash\")");
  const char *missing = native_of(ts_key("rmnativemissing"));
  p = RUN("rm", "--native", missing);
  expect_failure(p, 3, "CSHM_ENOENT");
  EXPECT_CONTAINS(err_of(p), missing);
  expect_usage(RUN("rm", "--native"), "missing argument; usage: cshm rm KEY");
}

/* ---- name ------------------------------------------------------------------------------ */

/* `name KEY` prints exactly the native name the library derives, including the
 * DESIGN.md test vector. */
static void test_name_prints_native_name(void **state) {
  (void)state;
  const char *key = ts_key("name");
  char expected[1100];
  snprintf(expected, sizeof expected, "%s\n", native_of(key));
  proc *p = RUN("name", key);
  EXPECT_EXIT(p, 0);
  assert_string_equal(out_of(p), expected);
  assert_string_equal(err_of(p), "");
  assert_string_equal(out_of(RUN("name", key, "--type", "default")), expected);
  /* Printing a name creates nothing. */
  assert_false(segment_exists(key));

  p = RUN("name", "my_shared_memory");
  EXPECT_EXIT(p, 0);
  assert_string_equal(out_of(p), "/cshm_myshare_2p5koc4w43euvfwl\n");
  assert_string_equal(out_of(RUN("name", "Noël")), "/cshm_nol_65feslll2woxleiu\n");
}

/* --type prints Qt's nativeKey() (tests/interop compares it with real Qt's); a key Qt's
 * name cannot hold: status 1, CSHM_EKEY. */
static void test_name_qt_legacy_not_supported(void **state) {
  (void)state;
  proc *p = RUN("name", "my_shared_memory", "--type", "qt-platform-safe");
  EXPECT_EXIT(p, 0);
  assert_string_equal(out_of(p), "/my_shared_memory\n");
  assert_string_equal(out_of(RUN("name", "my_shared_memory", "--type", "qt-legacy-posix")),
                      "/qipc_sharedmemory_mysharedmemoryd3faa70b96e6c94a96cbd5270f2f9f4a8f14fdcd\n");
  expect_failure(RUN("name", "a/b", "--type", "qt-platform-safe"), 1, "CSHM_EKEY");
}

/* An empty key is invalid: status 1, CSHM_EKEY. */
static void test_name_empty_key(void **state) {
  (void)state;
  expect_failure(RUN("name", ""), 1, "CSHM_EKEY");
}

/* Keys are UTF-8: bytes that are not are refused with CSHM_EKEY, by name and by the
 * commands that make a handle, and nothing is created. */
static void test_invalid_utf8_key(void **state) {
  (void)state;
  expect_failure(RUN("name", "bad-\xff\xfe-key"), 1, "CSHM_EKEY");
  expect_failure(RUN("info", "bad-\xc3-key"), 1, "CSHM_EKEY");
  expect_failure(RUN("create", "bad-\xff\xfe-key", "4096"), 1, "CSHM_EKEY");
  expect_failure(RUN("rm", "bad-\xff\xfe-key"), 1, "CSHM_EKEY");
}

/* ---- ls, --native, UTF-8 keys ------------------------------------------------------------ */

/* `ls` prints a header and one line per segment: a held one with its size and
 * "attached".
 * Portable profile (by design): macOS cannot list its shared-memory objects - `ls`
 * fails with status 1 and CSHM_ENOTSUP, with a segment present, and lists nothing
 * (the tool prints its header line before it asks the library: at most that). */
static void test_ls_lists_held_segment(void **state) {
  (void)state;
  const char *key = ts_key("ls");
  proc *holder = HOLD("created ", "create", key, "12345");
#if CSHM_TEST_PORTABLE
  proc *fails = RUN("ls");
  EXPECT_EXIT(fails, 1);
  assert_true(starts_with(err_of(fails), "cshm: "));
  EXPECT_CONTAINS(err_of(fails), " [CSHM_ENOTSUP]\n");
  const char *listed = out_of(fails);
  const char *after_header = strchr(listed, '\n');
  assert_true(listed[0] == '\0' || starts_with(listed, "NATIVE NAME"));
  assert_true(after_header == NULL || after_header[1] == '\0'); /* no segment line */
#else
  proc *p = RUN("ls");
  EXPECT_EXIT(p, 0);
  const char *out = out_of(p);
  assert_true(starts_with(out, "NATIVE NAME"));
  const char *header_end = strchr(out, '\n');
  assert_non_null(header_end);
  assert_true(strstr(out, "SIZE") < header_end && strstr(out, "STATE") < header_end);

  char line_start[512];
  snprintf(line_start, sizeof line_start, "\n%s ", native_of(key));
  const char *line = strstr(out, line_start);
  if (line == NULL)
    fail_msg("ls did not list %s:\n%s", native_of(key), out);
  line++;
  const char *line_end = strchr(line, '\n');
  assert_non_null(line_end);
  char got[512];
  snprintf(got, sizeof got, "%.*s", (int)(line_end - line), line);
  EXPECT_CONTAINS(got, " 12345  attached");
#endif
  expect_stopped(holder, "detached");
}

/* With --native, KEY is a native name used verbatim: info, write and read reach the
 * same segment as the key does (info then shows no key line). */
static void test_native_option_names_segment_verbatim(void **state) {
  (void)state;
  const char *key = ts_key("native");
  char native[1024];
  snprintf(native, sizeof native, "%s", native_of(key));
  proc *holder = HOLD("created ", "create", key, "4096");

  proc *p = RUN("info", "--native", native);
  EXPECT_EXIT(p, 0);
  char line[1100];
  snprintf(line, sizeof line, "native name: %s\n", native);
  EXPECT_CONTAINS(out_of(p), line);
  EXPECT_CONTAINS(out_of(p), "size:        4096 bytes\n");
  snprintf(line, sizeof line, "creator pid: %d\n", (int)holder->id);
  EXPECT_CONTAINS(out_of(p), line);
  assert_null(strstr(out_of(p), "key:         "));

  EXPECT_EXIT(RUN("write", native, "--native", "by native name"), 0);
  assert_string_equal(out_of(RUN("read", key)), "by native name\n");
  assert_string_equal(out_of(RUN("read", "--native", native)), "by native name\n");
  /* A native name that is valid on no POSIX build (no "/"). */
  expect_failure(RUN("info", "--native", "no-leading-slash"), 1, "CSHM_EKEY");
  expect_stopped(holder, "detached");
}

/* A key with non-ASCII UTF-8 ("Noël") works like any other: create, info, rm. */
static void test_utf8_key_works(void **state) {
  (void)state;
  const char *key = ts_key("Noël");
  char ready[512];
  snprintf(ready, sizeof ready, "created %s (64 bytes); ", native_of(key));
  proc *holder = HOLD(ready, "create", key, "64");
  proc *p = RUN("info", key);
  EXPECT_EXIT(p, 0);
  char line[512];
  snprintf(line, sizeof line, "key:         %s\n", key);
  EXPECT_CONTAINS(out_of(p), line);
  EXPECT_EXIT(RUN("write", key, "café ☕"), 0);
  assert_string_equal(out_of(RUN("read", key)), "café ☕\n");
  EXPECT_EXIT(RUN("rm", key), 0);
  expect_failure(RUN("info", key), 3, "CSHM_ENOENT");
  expect_stopped(holder, "detached");
}

/* ---- permission denied ------------------------------------------------------------------ */

/* Copies the tool to a new world-readable directory (the build tree may sit where
 * nobody cannot enter) for run_as_nobody(); teardown_group() removes it. */
static void nobody_tool(void) {
  if (tool_for_nobody[0] != '\0')
    return;
  char dir[] = "/tmp/cshm-test-tool-XXXXXX";
  if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
    fail_msg("making a directory for a copy of the tool: %s", strerror(errno));
  snprintf(tool_for_nobody, sizeof tool_for_nobody, "%s/cshm", dir);
  int in = open(tool, O_RDONLY | O_CLOEXEC);
  int out = open(tool_for_nobody, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  bool copied = in >= 0 && out >= 0;
  char chunk[65536];
  ssize_t n;
  while (copied && (n = read(in, chunk, sizeof chunk)) != 0)
    copied = n > 0 && write(out, chunk, (size_t)n) == n;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  if (!copied)
    fail_msg("copying %s to %s: %s", tool, tool_for_nobody, strerror(errno));
}

/* A user that a segment's mode (0600, the default) does not admit is refused with
 * status 6 and CSHM_EPERM by every command that opens it, and cannot remove it.
 * Needs root, to run the tool as user nobody. */
static void test_denied_exits_6(void **state) {
  (void)state;
  if (geteuid() != 0) {
    print_message("skipped: only root can run the tool as user nobody\n");
    skip();
  }
  nobody_tool();
  EXPECT_EXIT(RUN_AS_NOBODY("--version"), 0); /* nobody can run the copy at all */
  const char *key = ts_key("denied");
  proc *holder = HOLD("created ", "create", key, "4096");
  expect_failure(RUN_AS_NOBODY("info", key), 6, "CSHM_EPERM");
  expect_failure(RUN_AS_NOBODY("read", key), 6, "CSHM_EPERM");
  expect_failure(RUN_AS_NOBODY("write", key, "intruder"), 6, "CSHM_EPERM");
  expect_failure(RUN_AS_NOBODY("lock", key), 6, "CSHM_EPERM");
  expect_failure(RUN_AS_NOBODY("rm", key), 6, "CSHM_EPERM");
  assert_true(segment_exists(key));
  assert_string_equal(out_of(RUN("read", key)), "\n"); /* nothing was written */
  expect_stopped(holder, "detached");
}

/* ---- the interrupt race ---------------------------------------------------------------- */

/* Rounds of "start, read the ready line, SIGTERM at once": enough that a race lost
 * even one time in ten shows up. */
#define SIGTERM_ROUNDS 20

/* A holder interrupted the moment its ready line arrives still detaches and exits 0.
 * (A user's script does exactly this.) The holder starts with nothing blocked. */
static void test_create_survives_sigterm_at_once(void **state) {
  (void)state;
  const char *key = ts_key("termcreate");
  for (int i = 0; i < SIGTERM_ROUNDS; i++) {
    proc *p = hold_with("created ", false, (const char *[]){"create", key, "4096", NULL});
    stop(p);
    if (p->status != 0) {
      /* It died without detaching: remove its orphan so no_leftovers reports only
       * real leaks. */
      cshm_remove(key, CSHM_KEY_DEFAULT);
      fail_msg("round %d: \"%s\" ended with status %d (1000 + signal) instead of 0: it was "
               "killed by the SIGTERM sent right after its ready line",
               i, p->command, p->status);
    }
    assert_string_equal(last_line(p), "detached");
  }
  assert_false(segment_exists(key));
}

/* The same for `lock`: interrupted at once, it unlocks and exits 0. */
static void test_lock_survives_sigterm_at_once(void **state) {
  (void)state;
  const char *key = ts_key("termlock");
  proc *holder = HOLD("created ", "create", key, "4096");
  for (int i = 0; i < SIGTERM_ROUNDS; i++) {
    proc *p = hold_with("locked ", false, (const char *[]){"lock", key, NULL});
    stop(p);
    if (p->status != 0) {
      expect_stopped(holder, "detached");
      fail_msg("round %d: \"%s\" ended with status %d (1000 + signal) instead of 0: it was "
               "killed by the SIGTERM sent right after its ready line",
               i, p->command, p->status);
    }
    assert_string_equal(last_line(p), "unlocked");
  }
  /* Every round released the lock: none of them died holding it. */
  EXPECT_CONTAINS(out_of(RUN("info", key)), "lock:        free\n");
  expect_stopped(holder, "detached");
}

/* ---- wait and notify --------------------------------------------------------------- */

/* `cshm wait` started, `cshm notify` from another process: the waiter exits 0 and
 * prints the event's new value (one more than the value it said it waited on), and
 * nothing else on stdout. A second round works the same (the count goes on), and
 * `notify --all` wakes a waiter as well. */
static void test_wait_returns_after_notify(void **state) {
  (void)state;
  const char *key = ts_key("waitnotify");
  proc *holder = HOLD("created ", "create", key, "4096");
  for (int round = 0; round < 2; round++) {
    unsigned seen;
    proc *w = WAITER(&seen, "wait", key);
    char waiting[1024];
    snprintf(waiting, sizeof waiting, "cshm: waiting for %s (event %u)\n", native_of(key), seen);
    assert_string_equal(err_of(w), waiting);
    proc *n = round == 0 ? RUN("notify", key) : RUN("notify", key, "--all");
    EXPECT_EXIT(n, 0);
    assert_string_equal(out_of(n), "");
    assert_string_equal(err_of(n), "");
    finish(w);
    EXPECT_EXIT(w, 0);
    char value[32];
    snprintf(value, sizeof value, "%u\n", seen + 1);
    assert_string_equal(out_of(w), value);
    assert_string_equal(err_of(w), waiting); /* nothing after its ready line */
  }
  expect_stopped(holder, "detached");
}

/* A program's consumer may sleep in cshm_wait() rather than on the event word:
 * `cshm notify` wakes it too (cshm_notify_one()). The program's side is this
 * process: it waits, the tool notifies from a child process. CSHM_OK (notified)
 * cannot be told from a spurious wake-up, but a wait with no limit returns only once
 * something woke it: the test would hang (ctest's timeout) without the notify. */
static void test_notify_wakes_condition_waiter(void **state) {
  (void)state;
  const char *key = ts_key("notifycond");
  cshm *h;
  assert_int_equal(cshm_new(&h, key), CSHM_OK);
  assert_int_equal(cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_OK);
  assert_int_equal(cshm_lock(h), CSHM_OK);
  /* Started under the lock; its notify cannot come before this thread sleeps in
   * cshm_wait(), which releases the lock atomically... but the notify takes no lock,
   * so it may come first: then it is repeated until the wait returns. */
  proc *n = start(NULL, false, false, (const char *[]){"notify", key, NULL});
  int rc = cshm_wait(h, 200);
  while (rc == CSHM_ETIMEDOUT) {
    finish(n);
    EXPECT_EXIT(n, 0);
    n = start(NULL, false, false, (const char *[]){"notify", key, NULL});
    rc = cshm_wait(h, 200);
  }
  assert_int_equal(rc, CSHM_OK);
  finish(n);
  EXPECT_EXIT(n, 0);
  assert_int_equal(cshm_unlock(h), CSHM_OK);
  cshm_free(h);
  assert_false(segment_exists(key));
}

/* A wait that sees no change: --timeout bounds it, status 5, CSHM_ETIMEDOUT (stderr
 * also has its ready line); 0 only looks. */
static void test_wait_timeout_exits_5(void **state) {
  (void)state;
  const char *key = ts_key("waittimeout");
  proc *holder = HOLD("created ", "create", key, "4096");
  expect_failure(RUN("wait", key, "--timeout", "50"), 5, "CSHM_ETIMEDOUT");
  expect_failure(RUN("wait", key, "--timeout=0"), 5, "CSHM_ETIMEDOUT");
  expect_stopped(holder, "detached");
}

/* wait and notify of a key with no segment: status 3, CSHM_ENOENT; nothing made. */
static void test_wait_notify_missing_not_found(void **state) {
  (void)state;
  const char *key = ts_key("waitmissing");
  expect_failure(RUN("wait", key), 3, "CSHM_ENOENT");
  expect_failure(RUN("wait", key, "--timeout", "0"), 3, "CSHM_ENOENT");
  expect_failure(RUN("notify", key), 3, "CSHM_ENOENT");
  expect_failure(RUN("notify", key, "--all"), 3, "CSHM_ENOENT");
  assert_false(segment_exists(key));
}

/* The Qt key types have no notification: CSHM_ENOTSUP, status 1, even for a Qt
 * segment that exists and whose lock another process holds (the refusal comes
 * before any attach, so nothing waits for Qt's lock). */
static void test_wait_notify_qt_not_supported(void **state) {
  (void)state;
  const char *key = ts_key("waitqt");
  static const char *const types[] = {"qt-legacy", "qt-legacy-posix", "qt-platform-safe"};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    expect_failure(RUN("wait", key, "--type", types[i]), 1, "CSHM_ENOTSUP");
    expect_failure(RUN("notify", key, "--type", types[i]), 1, "CSHM_ENOTSUP");
  }
  proc *holder = HOLD("created ", "create", key, "4096", "--type", "qt-legacy");
  proc *locker = HOLD("locked ", "lock", key, "--type", "qt-legacy");
  proc *w = RUN("wait", key, "--type", "qt-legacy");
  expect_failure(w, 1, "CSHM_ENOTSUP");
  EXPECT_CONTAINS(err_of(w), "Qt key types have no wait/notify");
  expect_failure(RUN("notify", key, "--type", "qt-legacy", "--all"), 1, "CSHM_ENOTSUP");
  expect_stopped(locker, "unlocked");
  expect_stopped(holder, "detached");
}

/* SIGTERM ends a waiting `cshm wait` cleanly: it says so, prints no value, detaches
 * and exits 128 + 15 (as a shell reports a process SIGTERM ended, so that
 * `cshm wait KEY && next` does not run next) - not killed by the signal. It never
 * removes the segment: the creator still detaches last, and the segment is gone. */
static void test_wait_sigterm_ends_cleanly(void **state) {
  (void)state;
  const char *key = ts_key("waitterm");
  proc *holder = HOLD("created ", "create", key, "4096");
  unsigned seen;
  proc *w = WAITER(&seen, "wait", key, "--timeout", "infinite");
  stop(w);
  EXPECT_EXIT(w, 128 + SIGTERM);
  assert_string_equal(out_of(w), "");
  EXPECT_CONTAINS(err_of(w), "cshm: interrupted (signal 15) before the event changed\n");
  /* It left no waiter behind that a notify would have to wake: the next wait works. */
  w = WAITER(&seen, "wait", key);
  EXPECT_EXIT(RUN("notify", key), 0);
  finish(w);
  EXPECT_EXIT(w, 0);
  expect_stopped(holder, "detached");
  assert_false(segment_exists(key));
}

/* The same with nothing blocked at the start: the SIGTERM sent as soon as the ready
 * line arrives still finds the interrupts held (wait holds them before anything). */
static void test_wait_survives_sigterm_at_once(void **state) {
  (void)state;
  const char *key = ts_key("termwait");
  proc *holder = HOLD("created ", "create", key, "4096");
  for (int i = 0; i < SIGTERM_ROUNDS; i++) {
    proc *p = start(NULL, false, false, (const char *[]){"wait", key, NULL});
    while (strchr(err_of(p), '\n') == NULL) {
      struct pollfd fd = {.fd = p->err, .events = POLLIN};
      char c;
      if (poll(&fd, 1, WATCHDOG_MS) <= 0 || read(p->err, &c, 1) != 1)
        break;
      append(&p->stderr_, &c, 1);
    }
    stop(p);
    if (p->status != 128 + SIGTERM) {
      expect_stopped(holder, "detached");
      fail_msg("round %d: \"%s\" ended with status %d instead of %d (stderr: \"%s\")", i,
               p->command, p->status, 128 + SIGTERM, err_of(p));
    }
  }
  expect_stopped(holder, "detached");
}

/* ---- leftovers ------------------------------------------------------------------------- */

/* Every segment this suite's tool runs made is gone, and in the portable profile
 * every sidecar file of their names (the demo's included). */
static void test_no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_version_prints_library_version, teardown),
      cmocka_unit_test_teardown(test_help_lists_commands_and_exit_codes, teardown),
      cmocka_unit_test_teardown(test_command_help_prints_usage, teardown),
      cmocka_unit_test_teardown(test_help_lines_fit_80_columns, teardown),
      cmocka_unit_test_teardown(test_usage_no_command, teardown),
      cmocka_unit_test_teardown(test_usage_unknown_command, teardown),
      cmocka_unit_test_teardown(test_usage_unknown_option, teardown),
      cmocka_unit_test_teardown(test_usage_missing_key, teardown),
      cmocka_unit_test_teardown(test_usage_extra_argument, teardown),
      cmocka_unit_test_teardown(test_usage_bad_size, teardown),
      cmocka_unit_test_teardown(test_usage_size_too_large, teardown),
      cmocka_unit_test_teardown(test_create_size_suffixes, teardown),
      cmocka_unit_test_teardown(test_create_size_refused_by_library, teardown),
      cmocka_unit_test_teardown(test_usage_bad_mode, teardown),
      cmocka_unit_test_teardown(test_usage_bad_timeout, teardown),
      cmocka_unit_test_teardown(test_usage_bad_type, teardown),
      cmocka_unit_test_teardown(test_demo_two_processes_share_hello_world, teardown),
      cmocka_unit_test_teardown(test_create_holds_segment_info_describes_it, teardown),
      cmocka_unit_test_teardown(test_write_then_read_round_trips, teardown),
      cmocka_unit_test_teardown(test_read_orphan_keeps_it, teardown),
      cmocka_unit_test_teardown(test_write_reads_stdin, teardown),
      cmocka_unit_test_teardown(test_read_hex_dumps_data, teardown),
      cmocka_unit_test_teardown(test_write_larger_than_segment_fails, teardown),
      cmocka_unit_test_teardown(test_create_existing_fails_with_exists, teardown),
      cmocka_unit_test_teardown(test_create_or_attach_attaches, teardown),
      cmocka_unit_test_teardown(test_create_reserve_creates, teardown),
      cmocka_unit_test_teardown(test_create_mode_applies_exactly, teardown),
      cmocka_unit_test_teardown(test_create_default_mode_is_0600, teardown),
      cmocka_unit_test_teardown(test_lock_holds_lock_until_interrupted, teardown),
      cmocka_unit_test_teardown(test_write_waits_for_held_lock, teardown),
      cmocka_unit_test_teardown(test_qt_legacy_timeouts_bound_attach, teardown),
      cmocka_unit_test_teardown(test_info_reports_dead_lock_owner, teardown),
      cmocka_unit_test_teardown(test_missing_segment_not_found, teardown),
      cmocka_unit_test_teardown(test_rm_removes_held_segment, teardown),
      cmocka_unit_test_teardown(test_rm_missing_not_found, teardown),
      cmocka_unit_test_teardown(test_rm_native_removes_orphan, teardown),
      cmocka_unit_test_teardown(test_rm_native_bad_names, teardown),
      cmocka_unit_test_teardown(test_name_prints_native_name, teardown),
      cmocka_unit_test_teardown(test_name_qt_legacy_not_supported, teardown),
      cmocka_unit_test_teardown(test_name_empty_key, teardown),
      cmocka_unit_test_teardown(test_invalid_utf8_key, teardown),
      cmocka_unit_test_teardown(test_ls_lists_held_segment, teardown),
      cmocka_unit_test_teardown(test_native_option_names_segment_verbatim, teardown),
      cmocka_unit_test_teardown(test_utf8_key_works, teardown),
      cmocka_unit_test_teardown(test_denied_exits_6, teardown),
      cmocka_unit_test_teardown(test_create_survives_sigterm_at_once, teardown),
      cmocka_unit_test_teardown(test_lock_survives_sigterm_at_once, teardown),
      cmocka_unit_test_teardown(test_wait_returns_after_notify, teardown),
      cmocka_unit_test_teardown(test_notify_wakes_condition_waiter, teardown),
      cmocka_unit_test_teardown(test_wait_timeout_exits_5, teardown),
      cmocka_unit_test_teardown(test_wait_notify_missing_not_found, teardown),
      cmocka_unit_test_teardown(test_wait_notify_qt_not_supported, teardown),
      cmocka_unit_test_teardown(test_wait_sigterm_ends_cleanly, teardown),
      cmocka_unit_test_teardown(test_wait_survives_sigterm_at_once, teardown),
      cmocka_unit_test(test_no_leftovers),
  };
  return cmocka_run_group_tests_name("tool", tests, setup_group, teardown_group);
}
