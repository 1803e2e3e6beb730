/* Hostile and bad input (issue 6 §4), each with the exact result the contract gives:
 * - keys: empty, 64 KiB long, invalid UTF-8, control characters, "/" and "\";
 * - sizes: 0, 1, page size +- 1, 64 KiB +- 1, SIZE_MAX;
 * - a small tmpfs (1 MiB, mounted over /dev/shm in a private mount namespace of a
 *   forked child): too large is CSHM_ENOMEM at create, and a CSHM_CREATE_RESERVE
 *   segment stays usable when the tmpfs fills up (skipped, visibly, where the
 *   namespace or the mount is not permitted);
 * - descriptor exhaustion (RLIMIT_NOFILE lowered, then restored): CSHM_ENOMEM, no
 *   descriptor or object leaked, and the same handle works once the limit is back;
 * - a lock wait hit by a stream of signals (handler without SA_RESTART) keeps
 *   waiting: a timed wait still times out, an infinite one still gets the lock.
 * The squatter and header-defence cases are in test_process and test_segment.
 *
 * POSIX only (fork, mount namespaces, rlimits, signals). Threads never call CMocka's
 * asserts: they record what they saw and the main thread asserts after joining them.
 * Forked children report through their exit status and a pipe. No timing assertions:
 * ordering comes from condition variables and from the state the kernel reports for
 * a thread (/proc/self/task/TID/stat: 'S' while it sleeps in the lock). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "format.h" /* CSHM__DATA_OFFSET */
#include "support.h"

/* ---- helpers ------------------------------------------------------------------- */

static bool exists(const char *key) { return access(ts_shm_path(key), F_OK) == 0; }

/* A derived POSIX name: "/cshm_", then only [a-z0-9_], at most 30 bytes in all
 * (README "Names"): whatever the key holds, nothing of it reaches the file system
 * but letters and digits. */
static void assert_tame_name(const char *native) {
  assert_non_null(native);
  if (strncmp(native, "/cshm_", 6) != 0 || strlen(native) > 30)
    print_error("derived name \"%s\" is not /cshm_... within 30 bytes\n", native);
  assert_int_equal(strncmp(native, "/cshm_", 6), 0);
  assert_true(strlen(native) <= 30);
  for (const char *c = native + 1; *c != '\0'; c++) {
    bool tame = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
    if (!tame)
      print_error("derived name \"%s\" holds byte 0x%02x\n", native, (unsigned char)*c);
    assert_true(tame);
  }
}

/* The key + suffix as a new string (freed by the caller), its native name recorded
 * for the leftover checks. */
static char *key_with(const char *label, const char *suffix) {
  const char *base = ts_key(label);
  size_t a = strlen(base), b = strlen(suffix);
  char *key = malloc(a + b + 1);
  assert_non_null(key);
  memcpy(key, base, a);
  memcpy(key + a, suffix, b + 1);
  char native[64];
  EXPECT_RC(NULL, cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT), CSHM_OK);
  ts_record_native(native);
  return key;
}

/* A segment made under `key` works from a second handle: the data written through
 * the creator is read through the attacher, at the exact size. */
static void assert_segment_works(const char *key) {
  cshm *c = created(key, 4096);
  assert_tame_name(cshm_native_key(c));
  assert_string_equal(cshm_key(c), key);
  memcpy(cshm_data(c), "hostile", 8);
  cshm *a = attached(key, CSHM_READ_WRITE);
  assert_int_equal(cshm_size(a), 4096);
  assert_string_equal(cshm_const_data(a), "hostile");
  cshm_free(a);
  cshm_free(c);
  assert_false(exists(key));
}

/* The number of open descriptors of this process (the listing's own excluded). */
static int count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  assert_non_null(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(dir);
  return n - 1;
}

/* ==== keys ========================================================================= */

/* An empty key is Qt's KeyError for every entry point, and leaves no handle. */
static void empty_key_is_ekey_everywhere(void **state) {
  (void)state;
  static int sentinel;
  cshm *h = (cshm *)(void *)&sentinel;
  EXPECT_RC(NULL, cshm_new(&h, ""), CSHM_EKEY);
  assert_null(h);
  h = new_handle(NULL);
  EXPECT_RC(h, cshm_set_key(h, ""), CSHM_EKEY);
  assert_null(cshm_key(h));
  assert_null(cshm_native_key(h));
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EKEY);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EKEY);
  EXPECT_RC(h, cshm_set_native_key(h, "", CSHM_KEY_DEFAULT), CSHM_EKEY);
  cshm_free(h);
  char buf[64];
  EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, "", CSHM_KEY_DEFAULT), CSHM_EKEY);
  EXPECT_RC(NULL, cshm_remove("", CSHM_KEY_DEFAULT), CSHM_EKEY);
}

/* A 64 KiB key works: its derived name is short (the key is hashed), the handle keeps
 * the whole key, and an error message about it is cut to size, not overrun. */
static void key_of_64_kib_works(void **state) {
  (void)state;
  const size_t len = 64 * 1024;
  const char *base = ts_key("long");
  char *key = malloc(len + 1);
  assert_non_null(key);
  memset(key, 'k', len);
  memcpy(key, base, strlen(base));
  key[len] = '\0';
  char native[64];
  EXPECT_RC(NULL, cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT), CSHM_OK);
  ts_record_native(native);
  assert_tame_name(native);

  cshm *c = created(key, 4096);
  assert_int_equal(strlen(cshm_key(c)), len);
  assert_string_equal(cshm_native_key(c), native);
  cshm *other = new_handle(key);
  EXPECT_RC(other, cshm_create(other, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  size_t message = strlen(cshm_error_string(other));
  assert_true(message > 0 && message < len);
  EXPECT_RC(other, cshm_attach(other, CSHM_READ_WRITE), CSHM_OK);
  cshm_free(other);
  cshm_free(c);

  /* One byte more is another key: another name. */
  key[len - 1] = 'K';
  char native2[64];
  EXPECT_RC(NULL, cshm_native_key_for(native2, sizeof native2, key, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_string_not_equal(native, native2);
  free(key);
}

/* Malformed UTF-8 of every kind is KeyError, wherever a key or native key is taken
 * (Qt would hash replacement characters; cshm refuses: DESIGN.md §5). */
static void invalid_utf8_keys_are_ekey(void **state) {
  (void)state;
  static const char *const bad[] = {
      "\x80",                  /* a lone continuation byte */
      "key\xbf",               /* ... at the end */
      "\xc0\xaf",              /* overlong "/" */
      "\xe0\x80\xaf",          /* overlong "/" in three bytes */
      "\xf0\x80\x80\xaf",      /* ... in four */
      "\xed\xa0\x80",          /* a UTF-16 surrogate (U+D800) */
      "\xed\xbf\xbf",          /* U+DFFF */
      "\xf4\x90\x80\x80",      /* beyond U+10FFFF */
      "\xf8\x88\x80\x80\x80",  /* a five-byte form */
      "\xe2\x82",              /* truncated sequence */
      "abc\xf0\x9f\x98",       /* truncated at the end */
      "\xc3(",                 /* a lead byte followed by ASCII */
      "\xff",                  /* bytes never in UTF-8 */
      "\xfe\xff",              /* a UTF-16 byte-order mark in bytes */
  };
  char buf[64];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cshm *h = NULL;
    EXPECT_RC(NULL, cshm_new(&h, bad[i]), CSHM_EKEY);
    assert_null(h);
    h = new_handle("valid");
    EXPECT_RC(h, cshm_set_key(h, bad[i]), CSHM_EKEY);
    assert_null(cshm_native_key(h));
    char native[32];
    snprintf(native, sizeof native, "/n%s", bad[i]);
    EXPECT_RC(h, cshm_set_native_key(h, native, CSHM_KEY_DEFAULT), CSHM_EKEY);
    cshm_free(h);
    EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
    EXPECT_RC(NULL, cshm_remove(bad[i], CSHM_KEY_DEFAULT), CSHM_EKEY);
  }
  /* The edges that are valid stay valid: U+10FFFF, U+FFFF, U+0080, U+07FF. */
  static const char *const edges[] = {"\xf4\x8f\xbf\xbf", "\xef\xbf\xbf", "\xc2\x80",
                                      "\xdf\xbf"};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    EXPECT_RC(NULL, cshm_native_key_for(buf, sizeof buf, edges[i], CSHM_KEY_DEFAULT), CSHM_OK);
    assert_tame_name(buf);
  }
}

/* Control characters are valid UTF-8 and so ordinary key bytes: the segment works,
 * the name stays tame, and keys that differ only in one control byte differ. */
static void control_characters_in_keys_are_ordinary(void **state) {
  (void)state;
  static const char *const controls[] = {"\x01", "\t", "\n", "\r", "\x1b[31m", "\x7f",
                                         "\x1f", "a\x08\x08"};
  char names[sizeof controls / sizeof controls[0]][64];
  for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
    char *key = key_with("ctl", controls[i]);
    assert_segment_works(key);
    char label[32];
    snprintf(label, sizeof label, "ctl%s", controls[i]);
    EXPECT_RC(NULL, cshm_native_key_for(names[i], sizeof names[i], label, CSHM_KEY_DEFAULT),
              CSHM_OK);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(names[i], names[j]);
    free(key);
  }
}

/* "/" and "\" in keys (paths, Windows prefixes, traversal attempts) never reach the
 * native name: the name has its one leading "/" and nothing else of the key. */
static void slashes_in_keys_stay_out_of_names(void **state) {
  (void)state;
  static const char *const keys[] = {"/",         "//",        "\\",
                                     "a/b",       "a\\b",      "../../../etc/passwd",
                                     "/dev/shm/x", "Global\\x", "Local\\cshm_x_lock",
                                     "C:\\Windows\\x"};
  char names[sizeof keys / sizeof keys[0]][64];
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    EXPECT_RC(NULL, cshm_native_key_for(names[i], sizeof names[i], keys[i], CSHM_KEY_DEFAULT),
              CSHM_OK);
    assert_tame_name(names[i]);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(names[i], names[j]); /* "a/b" and "a\\b" included */
    char *key = key_with("slash", keys[i]);
    assert_segment_works(key);
    free(key);
  }
}

/* ==== sizes ======================================================================== */

/* Size 0 is InvalidSize (as in Qt), for create and for a create-or-attach that has to
 * create; nothing is made. */
static void size_0_is_esize(void **state) {
  (void)state;
  const char *key = ts_key("size0");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, 0, CSHM_READ_WRITE), CSHM_ESIZE);
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, NULL), CSHM_ESIZE);
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_RESERVE, NULL), CSHM_ESIZE);
  assert_false(cshm_is_attached(h));
  assert_false(exists(key));
  cshm_free(h);
}

/* Sizes around the page and the 64 KiB data offset are exact: the creator can write
 * the last byte, and an attacher (read-write or read-only) sees exactly that size
 * and that byte. */
static void boundary_sizes_are_exact(void **state) {
  (void)state;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  const size_t sizes[] = {1, page - 1, page, page + 1, 65535, 65536, 65537};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    const size_t size = sizes[i];
    const char *key = ts_key("boundary");
    cshm *c = created(key, size);
    assert_int_equal(cshm_size(c), size);
    unsigned char *d = cshm_data(c);
    d[0] = 0x5a;
    d[size - 1] = 0xa5;
    cshm *rw = attached(key, CSHM_READ_WRITE);
    cshm *ro = attached(key, CSHM_READ_ONLY);
    assert_int_equal(cshm_size(rw), size);
    assert_int_equal(cshm_size(ro), size);
    const unsigned char *r = cshm_const_data(ro);
    assert_int_equal(r[0], size == 1 ? 0xa5 : 0x5a); /* size 1: first byte is last */
    assert_int_equal(r[size - 1], 0xa5);
    ((unsigned char *)cshm_data(rw))[size - 1] = 0x3c;
    assert_int_equal(d[size - 1], 0x3c);
    cshm_free(ro);
    cshm_free(rw);
    cshm_free(c);
    assert_false(exists(key));
  }
}

/* SIZE_MAX and every size whose sum with the 64 KiB header area cannot be mapped are
 * InvalidSize before any system call, with or without a reservation. */
static void unmappable_sizes_are_esize(void **state) {
  (void)state;
  const char *key = ts_key("sizemax");
  cshm *h = new_handle(key);
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - CSHM__DATA_OFFSET + 1, SIZE_MAX / 2 + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    EXPECT_RC(h, cshm_create(h, sizes[i], CSHM_READ_WRITE), CSHM_ESIZE);
    EXPECT_RC(h, cshm_create_ex(h, sizes[i], CSHM_READ_WRITE, CSHM_CREATE_RESERVE, NULL),
              CSHM_ESIZE);
    EXPECT_RC(h, cshm_create_ex(h, sizes[i], CSHM_READ_ONLY, CSHM_CREATE_OR_ATTACH, NULL),
              CSHM_ESIZE);
  }
  assert_false(cshm_is_attached(h));
  assert_false(exists(key));
  cshm_free(h);
}

/* ==== a small tmpfs ================================================================ */

#define SMALL_TMPFS_BYTES (1024u * 1024u)
#define CHILD_SKIP 77

/* What a child in the small tmpfs says, to the parent's pipe. */
static int child_out = -1;

static void child_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void child_say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0 && write(child_out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
    _exit(2);
}

/* In the child: ends it with status `step` when `ok` is false, saying why. */
#define CHILD_CHECK(step, ok, h)                                                     \
  do {                                                                               \
    if (!(ok)) {                                                                     \
      child_say("step %d: %s failed: %s\n", (step), #ok, (h) != NULL ? cshm_error_string(h) : ""); \
      _exit(step);                                                                   \
    }                                                                                \
  } while (0)

static bool write_text(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

/* In the child: a private mount namespace. Without CAP_SYS_ADMIN, inside a new user
 * namespace that maps our own user and group to themselves (so files keep their
 * owner, and cshm's owner checks see the same user). False when neither works. */
static bool enter_mount_namespace(void) {
  if (unshare(CLONE_NEWNS) == 0)
    return true;
  int plain = errno;
  char uid_map[64], gid_map[64];
  snprintf(uid_map, sizeof uid_map, "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
  snprintf(gid_map, sizeof gid_map, "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    child_say("unshare(CLONE_NEWNS): %s; unshare(CLONE_NEWUSER | CLONE_NEWNS): %s",
              strerror(plain), strerror(errno));
    return false;
  }
  if (!write_text("/proc/self/setgroups", "deny") ||
      !write_text("/proc/self/uid_map", uid_map) || !write_text("/proc/self/gid_map", gid_map)) {
    child_say("mapping the user into a new user namespace: %s", strerror(errno));
    return false;
  }
  return true;
}

/* In the child: a private mount namespace with a 1 MiB tmpfs over /dev/shm. Exits
 * with CHILD_SKIP when the system does not permit it. */
static void enter_small_tmpfs(void) {
  if (!enter_mount_namespace())
    _exit(CHILD_SKIP);
  /* Private first: the tmpfs must not propagate to the machine's /dev/shm. */
  if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
    child_say("mount --make-rprivate /: %s", strerror(errno));
    _exit(CHILD_SKIP);
  }
  if (mount("cshm-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=1m,mode=1777") != 0) {
    child_say("mount -t tmpfs -o size=1m over /dev/shm: %s", strerror(errno));
    _exit(CHILD_SKIP);
  }
  struct statvfs vfs;
  if (statvfs("/dev/shm", &vfs) != 0 ||
      (uint64_t)vfs.f_blocks * vfs.f_frsize != SMALL_TMPFS_BYTES) {
    child_say("the private /dev/shm is not the 1 MiB tmpfs just mounted");
    _exit(1);
  }
}

/* True when the private /dev/shm holds nothing but `except` (NULL: nothing). */
static bool shm_empty_but(const char *except) {
  DIR *dir = opendir("/dev/shm");
  if (dir == NULL)
    return false;
  bool empty = true;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    if (e->d_name[0] != '.' && (except == NULL || strcmp(e->d_name, except) != 0)) {
      child_say("left in the small tmpfs: %s\n", e->d_name);
      empty = false;
    }
  closedir(dir);
  return empty;
}

/* Runs fn(keys) in a forked child inside the small tmpfs, and asserts it passed; skips
 * (saying why) where the namespace cannot be made. A child killed by a signal - SIGBUS
 * above all - fails with the signal's name. */
static void run_in_small_tmpfs(void (*fn)(const char *const *keys), const char *const *keys) {
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* CMocka's handlers would turn a fault into a failed test and run the next tests
     * in this child: a fault must kill it, for the parent to see. */
    const int faults[] = {SIGBUS, SIGSEGV, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
      signal(faults[i], SIG_DFL);
    close(pipefd[0]);
    child_out = pipefd[1];
    enter_small_tmpfs();
    fn(keys);
    _exit(0);
  }
  close(pipefd[1]);
  char said[4096];
  size_t n = 0;
  while (n + 1 < sizeof said) {
    ssize_t r = read(pipefd[0], said + n, sizeof said - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  said[n] = '\0';
  close(pipefd[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP) {
    print_message("no private tmpfs here, skipped: %s\n", said);
    skip();
  }
  if (WIFSIGNALED(status))
    print_error("the child was killed by %s\n%s", strsignal(WTERMSIG(status)), said);
  else if (WEXITSTATUS(status) != 0)
    print_error("the child failed (status %d):\n%s", WEXITSTATUS(status), said);
  assert_false(WIFSIGNALED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* Too large for the tmpfs: CSHM_ENOMEM at create - not a SIGBUS at the first write -
 * with and without a reservation, and nothing is left in the tmpfs. */
static void too_large_in(const char *const *keys) {
  cshm *h = NULL;
  CHILD_CHECK(10, cshm_new(&h, keys[0]) == CSHM_OK, h);
  CHILD_CHECK(11, cshm_create(h, 2 * SMALL_TMPFS_BYTES, CSHM_READ_WRITE) == CSHM_ENOMEM, h);
  CHILD_CHECK(12, strstr(cshm_error_string(h), "free") != NULL, h);
  CHILD_CHECK(13, cshm_create_ex(h, 2 * SMALL_TMPFS_BYTES, CSHM_READ_WRITE, CSHM_CREATE_RESERVE,
                                 NULL) == CSHM_ENOMEM, h);
  /* Exactly the whole tmpfs for the data: the header area makes it too large. */
  CHILD_CHECK(14, cshm_create_ex(h, SMALL_TMPFS_BYTES, CSHM_READ_WRITE, CSHM_CREATE_RESERVE,
                                 NULL) == CSHM_ENOMEM, h);
  CHILD_CHECK(15, !cshm_is_attached(h), h);
  CHILD_CHECK(16, shm_empty_but(NULL), h);
  /* The handle is not spoiled: a size that fits is made. */
  CHILD_CHECK(17, cshm_create(h, 4096, CSHM_READ_WRITE) == CSHM_OK, h);
  cshm_free(h);
  CHILD_CHECK(18, shm_empty_but(NULL), NULL);
}

static void segment_too_large_for_tmpfs_is_enomem_at_create(void **state) {
  (void)state;
  const char *keys[] = {ts_key("tmpfs-big"), NULL};
  run_in_small_tmpfs(too_large_in, keys);
}

/* Fills the private tmpfs to the last page with a plain file. */
static void fill_tmpfs(void) {
  int fd = open("/dev/shm/filler", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  CHILD_CHECK(30, fd >= 0, (cshm *)NULL);
  static const char zeros[4096];
  ssize_t w;
  while ((w = write(fd, zeros, sizeof zeros)) > 0) {
  }
  CHILD_CHECK(31, w < 0 && errno == ENOSPC, (cshm *)NULL);
  close(fd);
  struct statvfs vfs;
  CHILD_CHECK(32, statvfs("/dev/shm", &vfs) == 0 && vfs.f_bavail == 0, (cshm *)NULL);
}

/* A reserved segment that fits is made and stays fully usable after the tmpfs fills
 * up: writing every byte never faults. The control: an unreserved segment made beside
 * it cannot be backed any more (the kernel's own write into it fails with EFAULT where
 * a store would raise SIGBUS), so the test does see the hazard RESERVE removes. When
 * the tmpfs is full, any create is CSHM_ENOMEM at once. */
static void reserve_in(const char *const *keys) {
  const size_t reserved_size = 512 * 1024, unreserved_size = 256 * 1024;
  cshm *r = NULL, *u = NULL, *late = NULL;
  bool made = false;
  CHILD_CHECK(20, cshm_new(&r, keys[0]) == CSHM_OK, r);
  CHILD_CHECK(21, cshm_create_ex(r, reserved_size, CSHM_READ_WRITE, CSHM_CREATE_RESERVE, &made) ==
                      CSHM_OK && made, r);
  CHILD_CHECK(22, cshm_new(&u, keys[1]) == CSHM_OK, u);
  CHILD_CHECK(23, cshm_create(u, unreserved_size, CSHM_READ_WRITE) == CSHM_OK, u);

  fill_tmpfs();

  unsigned char *d = cshm_data(r);
  memset(d, 0xa5, reserved_size); /* a SIGBUS here kills the child: the parent says so */
  cshm *a = NULL;
  CHILD_CHECK(40, cshm_new(&a, keys[0]) == CSHM_OK, a);
  CHILD_CHECK(41, cshm_attach(a, CSHM_READ_WRITE) == CSHM_OK, a);
  CHILD_CHECK(42, cshm_size(a) == reserved_size, a);
  const unsigned char *ad = cshm_const_data(a);
  CHILD_CHECK(43, ad[0] == 0xa5 && ad[reserved_size - 1] == 0xa5, a);
  cshm_free(a);

  int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  CHILD_CHECK(50, zero >= 0, (cshm *)NULL);
  ssize_t got = read(zero, cshm_data(u), unreserved_size);
  if (got == (ssize_t)unreserved_size)
    child_say("an unreserved segment was backed on a full tmpfs: the control failed\n");
  CHILD_CHECK(51, got != (ssize_t)unreserved_size, u);
  close(zero);

  CHILD_CHECK(60, cshm_new(&late, keys[2]) == CSHM_OK, late);
  CHILD_CHECK(61, cshm_create(late, 4096, CSHM_READ_WRITE) == CSHM_ENOMEM, late);
  CHILD_CHECK(62, cshm_create_ex(late, 4096, CSHM_READ_WRITE, CSHM_CREATE_RESERVE, NULL) ==
                      CSHM_ENOMEM, late);
  cshm_free(late);
  cshm_free(u);
  cshm_free(r);
  CHILD_CHECK(70, unlink("/dev/shm/filler") == 0, (cshm *)NULL);
  CHILD_CHECK(71, shm_empty_but(NULL), (cshm *)NULL);
}

static void reserved_segment_survives_a_full_tmpfs(void **state) {
  (void)state;
  const char *keys[] = {ts_key("tmpfs-reserved"), ts_key("tmpfs-unreserved"),
                        ts_key("tmpfs-late"), NULL};
  run_in_small_tmpfs(reserve_in, keys);
}

/* ==== descriptor exhaustion ======================================================== */

static struct rlimit saved_nofile;

/* Placeholders in the free descriptor numbers below the highest open one. */
#define MAX_PLACEHOLDERS 1024
static int placeholders[MAX_PLACEHOLDERS];
static int placeholder_count;

/* Lets the process open `budget` more descriptors, and reuse every one it closes.
 * The limit counts descriptor numbers, so a free number below an open one (a hole:
 * whatever was opened and closed in another order) is filled with a placeholder
 * first - else a descriptor closed above the limit could not be reused, and a hole
 * would give one more than the budget. */
static void limit_fds(int budget) {
  int highest = -1;
  for (int fd = 0; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) >= 0)
      highest = fd;
  placeholder_count = 0;
  for (int fd = 0; fd < highest; fd++)
    if (fcntl(fd, F_GETFD) < 0) {
      assert_true(placeholder_count < MAX_PLACEHOLDERS);
      int p = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the lowest free number: fd */
      assert_int_equal(p, fd);
      placeholders[placeholder_count++] = p;
    }
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
  struct rlimit low = saved_nofile;
  low.rlim_cur = (rlim_t)highest + 1 + (rlim_t)budget;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
}

static void restore_fds(void) {
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
  for (int i = 0; i < placeholder_count; i++)
    close(placeholders[i]);
  placeholder_count = 0;
}

/* The descriptor budget a create or attach is tried with: from none to plenty. */
#define MAX_BUDGET 8

/* create with too few descriptors: CSHM_ENOMEM (EMFILE is OutOfResources), named in
 * the message with the step that needed the descriptor; no descriptor and no object is left; once the budget is enough the
 * same handle creates. */
static void create_without_descriptors_is_enomem_and_leaks_nothing(void **state) {
  (void)state;
  const char *key = ts_key("emfile-create");
  const int baseline = count_fds();
  bool succeeded = false;
  for (int budget = 0; budget <= MAX_BUDGET; budget++) {
    cshm *h = new_handle(key);
    limit_fds(budget);
    int rc = cshm_create(h, 4096, CSHM_READ_WRITE);
    restore_fds();
    if (budget == 0 || rc != CSHM_OK) {
      EXPECT_RC(h, rc, CSHM_ENOMEM);
      assert_non_null(strstr(cshm_error_string(h), strerror(EMFILE)));
      /* mmap takes no descriptor: a message that blames it names the wrong step */
      assert_null(strstr(cshm_error_string(h), "mmap"));
      assert_false(cshm_is_attached(h));
      assert_false(exists(key));
      assert_int_equal(count_fds(), baseline);
      /* Recovery: the same handle, with descriptors again. */
      EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_OK);
    } else {
      succeeded = true;
    }
    memcpy(cshm_data(h), "ok", 3);
    cshm_free(h);
    assert_false(exists(key));
    assert_int_equal(count_fds(), baseline);
  }
  assert_true(succeeded); /* MAX_BUDGET descriptors are enough for a create */
}

/* attach with too few descriptors: the same, and the creator's segment is untouched. */
static void attach_without_descriptors_is_enomem_and_leaks_nothing(void **state) {
  (void)state;
  const char *key = ts_key("emfile-attach");
  cshm *c = created(key, 4096);
  memcpy(cshm_data(c), "kept", 5);
  const int baseline = count_fds();
  bool succeeded = false;
  for (int budget = 0; budget <= MAX_BUDGET; budget++) {
    cshm *h = new_handle(key);
    limit_fds(budget);
    int rc = cshm_attach(h, CSHM_READ_WRITE);
    restore_fds();
    if (budget == 0 || rc != CSHM_OK) {
      EXPECT_RC(h, rc, CSHM_ENOMEM);
      assert_non_null(strstr(cshm_error_string(h), strerror(EMFILE)));
      /* mmap takes no descriptor: a message that blames it names the wrong step */
      assert_null(strstr(cshm_error_string(h), "mmap"));
      assert_false(cshm_is_attached(h));
      assert_int_equal(count_fds(), baseline);
      EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_OK);
    } else {
      succeeded = true;
    }
    assert_string_equal(cshm_const_data(h), "kept");
    cshm_free(h);
    assert_true(exists(key)); /* the creator still holds it */
    assert_int_equal(count_fds(), baseline);
  }
  assert_true(succeeded);
  cshm_free(c);
  assert_false(exists(key));
}

/* The last detach needs no spare descriptor (it closes its own before it looks for
 * holders): under exhaustion it still removes the name. The lock of an attached
 * segment needs none either (the portable profile opens its per-process liveness
 * token at a process's first lock: taken here before the limit). */
static void last_detach_without_descriptors_still_removes(void **state) {
  (void)state;
  const char *key = ts_key("emfile-detach");
  cshm *h = created(key, 4096);
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  const int before = count_fds();
  limit_fds(0);
  int lock_rc = cshm_lock(h);
  int unlock_rc = lock_rc >= 0 ? cshm_unlock(h) : CSHM_OK;
  int detach_rc = cshm_detach(h);
  restore_fds();
  EXPECT_RC(h, lock_rc, CSHM_OK);
  EXPECT_RC(h, unlock_rc, CSHM_OK);
  EXPECT_RC(h, detach_rc, CSHM_OK);
  assert_false(exists(key));
  assert_true(count_fds() < before);
  cshm_free(h);
}

/* ==== signals during a lock wait =================================================== */

static atomic_int signals_handled;

static void on_sigusr1(int sig) {
  (void)sig;
  atomic_fetch_add(&signals_handled, 1);
}

/* The scheduler state of thread tid of this process ('S': asleep, e.g. in the lock). */
static char thread_state(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return '?';
  buf[n] = '\0';
  const char *paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
  return paren != NULL && paren[1] == ' ' ? paren[2] : '?';
}

/* A thread that holds the lock through its own handle until released. */
typedef struct holder {
  cshm *h;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool locked, release;
  int lock_rc, unlock_rc;
} holder;

static void *holder_main(void *arg) {
  holder *k = arg;
  int rc = cshm_lock(k->h);
  pthread_mutex_lock(&k->mu);
  k->lock_rc = rc;
  k->locked = true;
  pthread_cond_broadcast(&k->cv);
  while (rc >= 0 && !k->release)
    pthread_cond_wait(&k->cv, &k->mu);
  pthread_mutex_unlock(&k->mu);
  k->unlock_rc = rc >= 0 ? cshm_unlock(k->h) : CSHM_OK;
  return NULL;
}

static void holder_start(holder *k, cshm *h) {
  *k = (holder){.h = h, .lock_rc = CSHM_EUNKNOWN, .unlock_rc = CSHM_EUNKNOWN};
  pthread_mutex_init(&k->mu, NULL);
  pthread_cond_init(&k->cv, NULL);
  assert_int_equal(pthread_create(&k->thread, NULL, holder_main, k), 0);
  pthread_mutex_lock(&k->mu);
  while (!k->locked)
    pthread_cond_wait(&k->cv, &k->mu);
  pthread_mutex_unlock(&k->mu);
}

static void holder_release(holder *k) {
  pthread_mutex_lock(&k->mu);
  k->release = true;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

static void holder_join(holder *k) {
  holder_release(k);
  pthread_join(k->thread, NULL);
  pthread_cond_destroy(&k->cv);
  pthread_mutex_destroy(&k->mu);
}

/* A thread that sends SIGUSR1 to the waiting thread each time it finds it asleep,
 * until stopped; after `release_after` such signals (0: never) it releases the
 * holder, so that an infinite wait can end. */
typedef struct signaller {
  pthread_t target;
  pid_t target_tid;
  holder *holder;
  int release_after;
  atomic_bool waiting; /* the target is about to call the lock */
  atomic_bool stop;
  atomic_int sent_while_asleep;
  pthread_t thread;
} signaller;

static void *signaller_main(void *arg) {
  signaller *s = arg;
  while (!atomic_load(&s->stop)) {
    if (atomic_load(&s->waiting) && thread_state(s->target_tid) == 'S') {
      pthread_kill(s->target, SIGUSR1);
      int sent = atomic_fetch_add(&s->sent_while_asleep, 1) + 1;
      if (s->release_after > 0 && sent == s->release_after)
        holder_release(s->holder);
    }
    ts_sleep_ms(1); /* pacing only: one signal per millisecond or so */
  }
  return NULL;
}

/* Sets up: a segment, a holder thread with the lock, a SIGUSR1 handler without
 * SA_RESTART, and a signaller aimed at this thread. */
typedef struct signal_scene {
  const char *key;
  cshm *held, *waiter;
  holder k;
  signaller s;
  struct sigaction old;
} signal_scene;

static void scene_start(signal_scene *sc, const char *label, int release_after) {
  sc->key = ts_key(label);
  sc->held = created(sc->key, 4096);
  sc->waiter = attached(sc->key, CSHM_READ_WRITE);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: every interrupted system call sees EINTR */
  assert_int_equal(sigaction(SIGUSR1, &sa, &sc->old), 0);
  atomic_store(&signals_handled, 0);
  holder_start(&sc->k, sc->held);
  EXPECT_RC(sc->held, sc->k.lock_rc, CSHM_OK);
  memset(&sc->s, 0, sizeof sc->s);
  sc->s.target = pthread_self();
  sc->s.target_tid = (pid_t)syscall(SYS_gettid);
  sc->s.holder = &sc->k;
  sc->s.release_after = release_after;
  assert_int_equal(pthread_create(&sc->s.thread, NULL, signaller_main, &sc->s), 0);
}

static void scene_end(signal_scene *sc) {
  atomic_store(&sc->s.stop, true);
  pthread_join(sc->s.thread, NULL);
  holder_join(&sc->k);
  assert_int_equal(sigaction(SIGUSR1, &sc->old, NULL), 0);
  EXPECT_RC(sc->held, sc->k.unlock_rc, CSHM_OK);
  cshm_free(sc->waiter);
  cshm_free(sc->held);
  assert_false(exists(sc->key));
}

/* A timed wait interrupted over and over keeps waiting and ends in CSHM_ETIMEDOUT:
 * neither an error from the interruption nor the lock. */
static void timed_lock_interrupted_by_signals_still_times_out(void **state) {
  (void)state;
  signal_scene sc;
  scene_start(&sc, "eintr-timed", 0);
  atomic_store(&sc.s.waiting, true);
  int rc = cshm_lock_timeout(sc.waiter, 300);
  atomic_store(&sc.s.waiting, false);
  int sent = atomic_load(&sc.s.sent_while_asleep);
  if (rc != CSHM_ETIMEDOUT)
    print_error("cshm_lock_timeout: %s\n", cshm_error_string(sc.waiter));
  int unlock_rc = rc >= 0 ? cshm_unlock(sc.waiter) : CSHM_OK;
  scene_end(&sc);
  assert_int_equal(rc, CSHM_ETIMEDOUT);
  assert_int_equal(unlock_rc, CSHM_OK);
  if (sent == 0)
    print_error("no signal reached the wait: the test proved nothing\n");
  assert_true(sent > 0);
  assert_true(atomic_load(&signals_handled) > 0);
  print_message("%d signals reached the timed wait\n", sent);
}

/* An infinite wait interrupted over and over still gets the lock once the holder
 * releases it - after 20 signals, all sent while the waiter slept in the lock. */
static void infinite_lock_interrupted_by_signals_gets_the_lock(void **state) {
  (void)state;
  signal_scene sc;
  scene_start(&sc, "eintr-infinite", 20);
  atomic_store(&sc.s.waiting, true);
  int rc = cshm_lock(sc.waiter);
  atomic_store(&sc.s.waiting, false);
  if (rc != CSHM_OK)
    print_error("cshm_lock: %s\n", cshm_error_string(sc.waiter));
  int unlock_rc = rc >= 0 ? cshm_unlock(sc.waiter) : CSHM_OK;
  int sent = atomic_load(&sc.s.sent_while_asleep);
  scene_end(&sc);
  assert_int_equal(rc, CSHM_OK);
  assert_int_equal(unlock_rc, CSHM_OK);
  assert_true(sent >= 20);
  assert_true(atomic_load(&signals_handled) > 0);
}

/* ==== cleanup ======================================================================= */

/* Every segment this suite made is gone; in the portable profile its sidecars too,
 * after every failure above (too large, no descriptors, empty tmpfs). */
static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_key_is_ekey_everywhere),
      cmocka_unit_test(key_of_64_kib_works),
      cmocka_unit_test(invalid_utf8_keys_are_ekey),
      cmocka_unit_test(control_characters_in_keys_are_ordinary),
      cmocka_unit_test(slashes_in_keys_stay_out_of_names),
      cmocka_unit_test(size_0_is_esize),
      cmocka_unit_test(boundary_sizes_are_exact),
      cmocka_unit_test(unmappable_sizes_are_esize),
      cmocka_unit_test(segment_too_large_for_tmpfs_is_enomem_at_create),
      cmocka_unit_test(reserved_segment_survives_a_full_tmpfs),
      cmocka_unit_test(create_without_descriptors_is_enomem_and_leaks_nothing),
      cmocka_unit_test(attach_without_descriptors_is_enomem_and_leaks_nothing),
      cmocka_unit_test(last_detach_without_descriptors_still_removes),
      cmocka_unit_test(timed_lock_interrupted_by_signals_still_times_out),
      cmocka_unit_test(infinite_lock_interrupted_by_signals_gets_the_lock),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
