/* What the suites share: run-unique keys, the record of the names a suite used (and
 * the check that nothing is left under them: no segment, and in the portable profile
 * no sidecar file), and spawning the helper program. The OS parts are in
 * support_posix.c and support_win32.c. The suites' assertions are in expect.h. */
#ifndef CSHM_TESTS_SUPPORT_H
#define CSHM_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#ifndef _WIN32
#include <sys/types.h>
#endif

/* The portable profile's test programs (and this support code) get
 * CSHM_TEST_PORTABLE=1 from cshm_testing; everywhere else it is 0. */
#ifndef CSHM_TEST_PORTABLE
#define CSHM_TEST_PORTABLE 0
#endif

/* A key unique to this run ("cshm-test-<pid>-<random>-<n>-<label>"), whose native
 * name (default key type) is recorded for ts_leftovers(): the suites need no list of
 * their own. The string lives until the process exits. A key without a native name
 * is a broken test run: it is said on stderr and the program aborts. */
const char *ts_key(const char *label);

/* Records a native name (of the default key type) this suite may create, for
 * ts_leftovers(): a name that does not come from ts_key() (a native key, a key made
 * from a ts_key() and a suffix). Recording a name twice is harmless. */
void ts_record_native(const char *native);

/* What is left under the recorded names, each thing found printed and removed (they
 * are this run's own), so one leak does not hide the next. Counted: each name still
 * present in /dev/shm, and in the portable profile (CSHM_TEST_PORTABLE) each of a
 * name's sidecar files (ts_sidecars_left). Windows: the names still open in some
 * process (kernel-owned: nothing to remove; the segment goes with the last handle).
 * Every suite's last test asserts it is 0. */
int ts_leftovers(void);

/* The number of sidecar files (".live", ".admin") left for the name `native` in the
 * portable profile, each one found printed and removed; a name whose sidecar paths
 * cannot be made counts as left. 0 in the other builds, which have no sidecars. */
int ts_sidecars_left(const char *native);

/* ts_sidecars_left() of the name `key` derives to (default key type); a key without
 * a native name counts as one left (and is said on stderr). */
int ts_key_sidecars_left(const char *key);

/* "/dev/shm" + native name of a key, for looking at the object directly (NULL on
 * Windows: a segment is no file). */
const char *ts_shm_path(const char *key);

/* A process id: pid_t on POSIX; on Windows a DWORD (the UCRT has no pid_t). */
#ifdef _WIN32
typedef unsigned long ts_pid_t;
#else
typedef pid_t ts_pid_t;
#endif

/* A helper process (tests/helper.c) with a control socket for its test points. */
typedef struct ts_child {
  ts_pid_t pid;
  int ctl; /* our end of the socket pair; -1 when there is none */
} ts_child;

/* Spawns the helper with argv (NULL-terminated, without the program name). When
 * stop_at is not NULL, the helper stops at that test point (CSHM_TEST_STOP) and
 * reports it on the control socket. run_as_nobody runs it as user "nobody" (root
 * only; not on Windows). Returns true on success. Windows: the helper is the
 * cshm_test_helper.exe beside the running program (GetModuleFileNameW), started
 * with CreateProcessW; the control socket is a duplex pipe whose inherited handle
 * CSHM_TEST_FD names; ctl is an index, pid the process id. */
bool ts_spawn(ts_child *c, const char *stop_at, bool run_as_nobody, const char *const argv[]);

/* Waits until the child reports `line` (a test point, or "signal" from the helper's
 * signal op) on the control socket. False on EOF or a different line. */
bool ts_expect(ts_child *c, const char *line);

/* Lets a stopped child go on. */
void ts_resume(ts_child *c);

/* Kills the child (SIGKILL; TerminateProcess on Windows) and reaps it. */
void ts_kill(ts_child *c);

/* Waits for the child to exit and returns its exit status (-1 when it was killed
 * by a signal). */
int ts_wait(ts_child *c);

/* Runs the helper to completion and returns its exit status (0: every op matched). */
int ts_run(const char *const argv[]);

/* The environment variable `name` into buf (cap bytes, NUL included); false when it
 * is unset or does not fit. (MSVC deprecates getenv: C4996.) */
bool ts_getenv(const char *name, char *buf, size_t cap);

/* Sleeps about ms milliseconds (pacing, never a test's correctness). */
void ts_sleep_ms(unsigned ms);

/* Milliseconds on a monotonic clock (for bounding a test's duration). */
unsigned long long ts_now_ms(void);

#ifdef _WIN32
/* A Win32 thread running fn(arg) (the UCRT has no pthreads); NULL when it could not
 * start. ts_win32_thread_join() waits for it to end, frees it and says whether it
 * could. */
typedef struct ts_win32_thread ts_win32_thread;
ts_win32_thread *ts_win32_thread_start(void *(*fn)(void *), void *arg);
bool ts_win32_thread_join(ts_win32_thread *t);
#endif

/* ---- the helper's side -------------------------------------------------------- */

/* This process's id. */
int ts_pid(void);

/* The program's arguments in UTF-8: argv itself on POSIX; on Windows, whose narrow
 * argv is in the ANSI code page, converted from the UTF-16 command line. */
char **ts_utf8_argv(int argc, char **argv);

/* Says `what` (a line) on the control channel CSHM_TEST_FD names and waits until the
 * parent resumes us (or kills us). Returns at once when there is no channel; exits
 * with status 3 when it is broken. */
void ts_say_and_wait(const char *what);

#endif
