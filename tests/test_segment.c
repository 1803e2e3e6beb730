/* Segment life cycle in one process: what Qt's tst_qsharedmemory promises (research
 * qt.md §6), the exact size and layout of DESIGN.md §4, read-only mappings, the
 * ownership rules of §3 (last detacher removes, forced removal, orphans), flags,
 * permissions, close-on-exec, size limits, the attacher's defences against bad
 * headers and foreign objects, cshm_inspect and cshm_list, and regressions of review
 * findings (two last detachers at once, a FIFO under a name, OR_ATTACH sizes).
 *
 * Orphans are made without the helper program: a forked child creates a segment and
 * _exit()s without detaching; its descriptor (and so its holder lock) dies with it,
 * exactly as in a crash. Header defects are written straight into the object in
 * /dev/shm at the offsets of format.h.
 *
 * The suite runs against both builds of the POSIX backend. The portable profile
 * (CSHM_TEST_PORTABLE: the macOS code paths built on Linux, DESIGN.md §6) differs by
 * design in a few places, each marked where it is tested: objects are sized in whole
 * 16 KiB units, the umask applies to the mode, native names have at most 31 bytes
 * (and may carry an application group), a never-completed segment of ours is missing
 * rather than corrupt, names cannot be listed, the lock word records no thread, and
 * every name has sidecar files (.live, .admin) that must go with it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cshm/cshm.h"
#include "expect.h"
#include "format.h"
#include "support.h"

#if CSHM_TEST_PORTABLE
#include "portable.h" /* cshm__sidecar_path, cshm__sidecar_dir */
#endif

/* In the testing library: how long an attacher waits for a BUILDING header. */
extern unsigned cshm__ready_wait_ms;

/* ---- helpers ------------------------------------------------------------------- */

static bool all_zero(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0)
      return false;
  return true;
}

static bool all_equal(const void *p, size_t n, unsigned char value) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != value)
      return false;
  return true;
}

static bool path_exists(const char *path) { return access(path, F_OK) == 0; }

/* The object's path, copied: ts_shm_path() returns a static buffer. */
static void shm_path(const char *key, char *out, size_t cap) {
  const char *p = ts_shm_path(key);
  assert_non_null(p);
  snprintf(out, cap, "%s", p);
}

static void reap(pid_t pid, int *status) {
  while (waitpid(pid, status, 0) < 0)
    assert_int_equal(errno, EINTR);
}

/* Forks a child that writes one byte at `data` and asserts it died of SIGSEGV. The
 * pointer is taken by the caller: in the child, the inherited handle answers NULL. */
static void assert_write_faults(void *data) {
  assert_non_null(data);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* The default action (ASan would otherwise report and exit), no core file. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGSEGV, &sa, NULL);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    ((volatile unsigned char *)data)[0] = 1;
    _exit(0);
  }
  int status;
  reap(pid, &status);
  if (!WIFSIGNALED(status))
    print_error("the writer exited with status %d instead of faulting\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* Leaves an orphan under key: a forked child creates the segment (size bytes, every
 * data byte `fill`) and exits without detaching, so its holder lock dies with it. */
static void make_orphan(const char *key, size_t size, unsigned char fill) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    cshm *h;
    if (cshm_new(&h, key) != CSHM_OK)
      _exit(2);
    if (cshm_create(h, size, CSHM_READ_WRITE) != CSHM_OK)
      _exit(3);
    memset(cshm_data(h), fill, size);
    _exit(0); /* no detach: a crash */
  }
  int status;
  reap(pid, &status);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(path_exists(ts_shm_path(key)));
}

static void read_at(const char *path, off_t off, void *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(pread(fd, buf, n, off), (ssize_t)n);
  close(fd);
}

static void write_at(const char *path, off_t off, const void *buf, size_t n) {
  int fd = open(path, O_RDWR | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
  close(fd);
}

/* Removes an orphan a test made and spoiled, which must still be there: through
 * cshm_remove, which in the portable profile also removes the name's sidecars (an
 * unlink would leave them). */
static void remove_spoiled(const char *key, const char *path) {
  assert_true(path_exists(path));
  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_false(path_exists(path));
  assert_int_equal(ts_key_sidecars_left(key), 0);
}

/* Makes an orphan, overwrites n bytes of its header at `off`, and asserts that an
 * attach fails with `expected`, leaves the handle unattached and does not remove the
 * object (an orphan: a wrong "last detacher" would remove it). Then removes it. */
static void assert_bad_header(const char *label, size_t off, const void *bytes, size_t n,
                              int expected) {
  const char *key = ts_key(label);
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0x5a);
  write_at(path, (off_t)off, bytes, n);

  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), expected);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  cshm_free(h);
  remove_spoiled(key, path);
}

/* ---- Qt's promises (tst_qsharedmemory) ----------------------------------------- */

/* create: a key gives memory; data non-NULL, size what was asked. */
static void test_create_gives_data_and_exact_size(void **state) {
  (void)state;
  cshm *h = created(ts_key("create"), 1024);
  assert_true(cshm_is_attached(h));
  assert_non_null(cshm_data(h));
  assert_ptr_equal(cshm_const_data(h), cshm_data(h));
  assert_int_equal(cshm_size(h), 1024);
  assert_int_equal(cshm_error(h), CSHM_OK);
  assert_string_equal(cshm_error_string(h), "");
  cshm_free(h);
}

/* createWithSameKey (QTBUG-111855): while a segment lives, a second handle's create
 * fails with EEXIST and leaves it unattached, and its attach works; twice in a row. */
static void test_create_on_live_key_fails_then_attach_works_twice(void **state) {
  (void)state;
  const char *key = ts_key("samekey");
  for (int round = 0; round < 2; round++) {
    cshm *first = created(key, 100);
    cshm *second = new_handle(key);
    EXPECT_RC(second, cshm_create(second, 100, CSHM_READ_WRITE), CSHM_EEXIST);
    assert_false(cshm_is_attached(second));
    EXPECT_RC(second, cshm_attach(second, CSHM_READ_WRITE), CSHM_OK);
    assert_int_equal(cshm_size(second), 100);
    EXPECT_RC(second, cshm_detach(second), CSHM_OK);
    EXPECT_RC(first, cshm_detach(first), CSHM_OK);
    cshm_free(second);
    cshm_free(first);
  }
}

/* attach: a missing segment is ENOENT; the handle stays unattached, so detach is
 * EINVAL (Qt: detach() returns false). */
static void test_attach_missing_is_enoent_and_leaves_handle_unattached(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("missing"));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  assert_int_equal(cshm_error(h), CSHM_ENOENT);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  assert_int_equal(cshm_size(h), 0);
  EXPECT_RC(h, cshm_detach(h), CSHM_EINVAL);
  cshm_free(h);
}

/* attach: detach then attach again works and sees the same data. */
static void test_detach_then_reattach_works(void **state) {
  (void)state;
  const char *key = ts_key("reattach");
  cshm *owner = created(key, 64);
  memcpy(cshm_data(owner), "persisted", 10);
  cshm *h = attached(key, CSHM_READ_WRITE);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_OK);
  assert_string_equal((const char *)cshm_data(h), "persisted");
  cshm_free(h);
  cshm_free(owner);
}

/* attach: after detach the size is 0 and the data NULL. */
static void test_detach_clears_size_and_data(void **state) {
  (void)state;
  cshm *h = created(ts_key("cleared"), 512);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(cshm_is_attached(h));
  assert_int_equal(cshm_size(h), 0);
  assert_null(cshm_data(h));
  assert_null(cshm_const_data(h));
  cshm_free(h);
}

/* emptyMemory: new memory is all zero, read-only as Qt tests it, and a larger one
 * (several MiB, not a page multiple) read-write. */
static void test_new_memory_is_zero(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("zero-ro"));
  EXPECT_RC(h, cshm_create(h, 1024, CSHM_READ_ONLY), CSHM_OK);
  assert_true(all_zero(cshm_const_data(h), 1024));
  cshm_free(h);

  const size_t big = 5u * 1024 * 1024 + 3;
  h = created(ts_key("zero-big"), big);
  assert_true(all_zero(cshm_const_data(h), big));
  cshm_free(h);
}

/* simpleProducerConsumer: two handles in one process map the segment at different
 * addresses and see each other's writes, with a read-write and a read-only consumer. */
static void test_simple_producer_consumer(void **state) {
  (void)state;
  const cshm_access modes[] = {CSHM_READ_WRITE, CSHM_READ_ONLY};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    const char *key = ts_key("prodcons");
    cshm *producer = created(key, 4096);
    cshm *consumer = attached(key, modes[i]);
    unsigned char *put = cshm_data(producer);
    const unsigned char *get = cshm_const_data(consumer);
    assert_ptr_not_equal(put, get);
    for (size_t j = 0; j < 4096; j++)
      put[j] = (unsigned char)(j * 7 + i);
    for (size_t j = 0; j < 4096; j++)
      assert_int_equal(get[j], (unsigned char)(j * 7 + i));
    if (modes[i] == CSHM_READ_WRITE) { /* and back */
      ((unsigned char *)cshm_data(consumer))[100] = 0xee;
      assert_int_equal(put[100], 0xee);
    }
    cshm_free(consumer);
    cshm_free(producer);
  }
}

/* simpleDoubleProducerConsumer: create, detach (the last holder: the segment is
 * gone, attach is ENOENT), create again, and a consumer attaches to the new one. */
static void test_simple_double_producer_consumer(void **state) {
  (void)state;
  const char *key = ts_key("double");
  cshm *producer = created(key, 4096);
  EXPECT_RC(producer, cshm_detach(producer), CSHM_OK);
  cshm *consumer = new_handle(key);
  EXPECT_RC(consumer, cshm_attach(consumer, CSHM_READ_WRITE), CSHM_ENOENT);
  EXPECT_RC(producer, cshm_create(producer, 4096, CSHM_READ_WRITE), CSHM_OK);
  memcpy(cshm_data(producer), "second", 7);
  EXPECT_RC(consumer, cshm_attach(consumer, CSHM_READ_ONLY), CSHM_OK);
  assert_string_equal((const char *)cshm_const_data(consumer), "second");
  cshm_free(consumer);
  cshm_free(producer);
}

/* removeWhileAttached: create, attach a second handle, free both; a third attach is
 * ENOENT (no manual removal needed, unlike Qt's POSIX backend). */
static void test_remove_while_attached_qt(void **state) {
  (void)state;
  const char *key = ts_key("rmattached");
  cshm *a = created(key, 1024);
  cshm *b = attached(key, CSHM_READ_WRITE);
  cshm_free(a);
  cshm_free(b);
  cshm *c = new_handle(key);
  EXPECT_RC(c, cshm_attach(c, CSHM_READ_WRITE), CSHM_ENOENT);
  cshm_free(c);
}

/* ---- exact size and layout ------------------------------------------------------ */

/* size() is the size given to create, for the creator and an attacher (not rounded
 * to pages as Qt's is on Windows and macOS). */
static void test_size_is_exact_for_creator_and_attacher(void **state) {
  (void)state;
  const char *key = ts_key("exact");
  cshm *c = created(key, 1000);
  cshm *a = attached(key, CSHM_READ_ONLY);
  assert_int_equal(cshm_size(c), 1000);
  assert_int_equal(cshm_size(a), 1000);
  cshm_free(a);
  cshm_free(c);
}

/* The object is the 64 KiB header area plus exactly the user size. Portable profile
 * (by design): macOS sizes objects in whole pages, so the object is rounded up to
 * whole 16 KiB units (CSHM__PORTABLE_ROUND) for every architecture alike - while
 * cshm_size() stays exact, for the creator and an attacher. */
static void test_object_is_header_area_plus_size(void **state) {
  (void)state;
  const char *key = ts_key("objsize");
  cshm *h = created(key, 1000);
  struct stat st;
  assert_int_equal(stat(ts_shm_path(key), &st), 0);
#if CSHM_TEST_PORTABLE
  const off_t unit = CSHM__PORTABLE_ROUND;
  assert_int_equal(st.st_size, (CSHM__DATA_OFFSET + 1000 + unit - 1) / unit * unit);
  assert_int_equal(st.st_size % unit, 0);
  assert_true(st.st_size > CSHM__DATA_OFFSET + 1000);
  cshm *a = attached(key, CSHM_READ_ONLY);
  assert_int_equal(cshm_size(h), 1000);
  assert_int_equal(cshm_size(a), 1000);
  cshm_free(a);
#else
  assert_int_equal(st.st_size, CSHM__DATA_OFFSET + 1000);
#endif
  cshm_free(h);
}

/* The data is page-aligned (at 64 KiB into a page-aligned mapping), for the creator
 * and an attacher. */
static void test_data_is_page_aligned(void **state) {
  (void)state;
  const char *key = ts_key("aligned");
  cshm *c = created(key, 1000);
  cshm *a = attached(key, CSHM_READ_WRITE);
  assert_int_equal((uintptr_t)cshm_data(c) % 4096, 0);
  assert_int_equal((uintptr_t)cshm_data(a) % 4096, 0);
  cshm_free(a);
  cshm_free(c);
}

/* ---- read-only ------------------------------------------------------------------ */

/* A read-only attachment reads what the creator wrote. */
static void test_read_only_attach_reads_creator_data(void **state) {
  (void)state;
  const char *key = ts_key("ro-read");
  cshm *c = created(key, 8192);
  memset(cshm_data(c), 0x3c, 8192);
  cshm *r = attached(key, CSHM_READ_ONLY);
  assert_true(all_equal(cshm_const_data(r), 8192, 0x3c));
  cshm_free(r);
  cshm_free(c);
}

/* readOnly: writing through a read-only attachment faults (SIGSEGV), in a child. */
static void test_read_only_attach_write_faults(void **state) {
  (void)state;
  const char *key = ts_key("ro-fault");
  cshm *c = created(key, 4096);
  cshm *r = attached(key, CSHM_READ_ONLY);
  assert_write_faults(cshm_data(r));
  /* The creator's writable mapping was not affected. */
  assert_int_equal(((unsigned char *)cshm_data(c))[0], 0);
  cshm_free(r);
  cshm_free(c);
}

/* A creator asking for CSHM_READ_ONLY gets read-only (zeroed) data, and can still
 * lock: only the data pages are protected, the header stays writable. */
static void test_read_only_create_gives_read_only_data(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("ro-create"));
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_ONLY), CSHM_OK);
  assert_true(all_zero(cshm_const_data(h), 4096));
  assert_write_faults(cshm_data(h));
  EXPECT_RC(h, cshm_lock(h), CSHM_OK);
  EXPECT_RC(h, cshm_unlock(h), CSHM_OK);
  cshm_free(h);
}

/* ---- ownership ------------------------------------------------------------------ */

/* The last detacher removes the name; an earlier detach does not. */
static void test_last_detacher_removes(void **state) {
  (void)state;
  const char *key = ts_key("lastdetach");
  char path[1100];
  shm_path(key, path, sizeof path);
  cshm *c = created(key, 100);
  cshm *a = attached(key, CSHM_READ_WRITE);
  EXPECT_RC(c, cshm_detach(c), CSHM_OK);
  assert_true(path_exists(path));
  EXPECT_RC(a, cshm_detach(a), CSHM_OK);
  assert_false(path_exists(path));
  cshm_free(a);
  cshm_free(c);
}

/* The creator may leave first: the attacher keeps the data, and can still be joined. */
static void test_creator_may_detach_first(void **state) {
  (void)state;
  const char *key = ts_key("creatorfirst");
  cshm *c = created(key, 100);
  memcpy(cshm_data(c), "still here", 11);
  cshm *a = attached(key, CSHM_READ_WRITE);
  cshm_free(c);
  assert_string_equal((const char *)cshm_const_data(a), "still here");
  cshm *late = attached(key, CSHM_READ_ONLY);
  assert_string_equal((const char *)cshm_const_data(late), "still here");
  cshm_free(late);
  cshm_free(a);
}

/* cshm_remove while attached: the name goes at once (attach ENOENT, create makes a
 * new segment); old handles keep their data; and when they detach afterwards the
 * NEW segment stays (invariant 3: nobody unlinks another incarnation). */
static void test_remove_while_attached_keeps_old_data_and_spares_new(void **state) {
  (void)state;
  const char *key = ts_key("forceremove");
  cshm *old1 = created(key, 64);
  memcpy(cshm_data(old1), "old", 4);
  cshm *old2 = attached(key, CSHM_READ_WRITE);

  EXPECT_RC(NULL, cshm_remove(key, CSHM_KEY_DEFAULT), CSHM_OK);
  cshm *probe = new_handle(key);
  EXPECT_RC(probe, cshm_attach(probe, CSHM_READ_WRITE), CSHM_ENOENT);

  cshm *fresh = new_handle(key);
  bool made = false;
  EXPECT_RC(fresh, cshm_create_ex(fresh, 32, CSHM_READ_WRITE, 0, &made), CSHM_OK);
  assert_true(made);
  assert_true(all_zero(cshm_const_data(fresh), 32));
  memcpy(cshm_data(fresh), "new", 4);

  assert_string_equal((const char *)cshm_const_data(old1), "old");
  assert_string_equal((const char *)cshm_const_data(old2), "old");
  cshm_free(old1);
  cshm_free(old2);

  EXPECT_RC(probe, cshm_attach(probe, CSHM_READ_ONLY), CSHM_OK);
  assert_int_equal(cshm_size(probe), 32);
  assert_string_equal((const char *)cshm_const_data(probe), "new");
  cshm_free(probe);
  cshm_free(fresh);
  assert_false(path_exists(ts_shm_path(key)));
}

/* cshm_remove of a key nobody created is ENOENT. */
static void test_remove_missing_is_enoent(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_remove(ts_key("rm-missing"), CSHM_KEY_DEFAULT), CSHM_ENOENT);
}

/* ---- flags ---------------------------------------------------------------------- */

/* CSHM_CREATE_OR_ATTACH on a missing key creates (*created true). */
static void test_create_or_attach_creates_when_missing(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("coa-new"));
  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, 300, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &made), CSHM_OK);
  assert_true(made);
  assert_int_equal(cshm_size(h), 300);
  cshm_free(h);
}

/* CSHM_CREATE_OR_ATTACH on a live segment attaches (*created false) and keeps the
 * existing size and data; the requested size is ignored. */
static void test_create_or_attach_attaches_existing_with_its_size(void **state) {
  (void)state;
  const char *key = ts_key("coa-old");
  cshm *c = created(key, 300);
  memcpy(cshm_data(c), "existing", 9);
  cshm *h = new_handle(key);
  bool made = true;
  EXPECT_RC(h, cshm_create_ex(h, 9999, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &made), CSHM_OK);
  assert_false(made);
  assert_int_equal(cshm_size(h), 300);
  assert_string_equal((const char *)cshm_const_data(h), "existing");
  cshm_free(h);
  cshm_free(c);
}

/* CSHM_CREATE_RESERVE commits the backing store: the object's blocks cover all of it. */
static void test_create_reserve_commits_memory(void **state) {
  (void)state;
  const char *key = ts_key("reserve");
  const size_t size = 1024 * 1024;
  cshm *h = new_handle(key);
  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, size, CSHM_READ_WRITE, CSHM_CREATE_RESERVE, &made), CSHM_OK);
  assert_true(made);
  assert_int_equal(cshm_size(h), size);
  struct stat st;
  assert_int_equal(stat(ts_shm_path(key), &st), 0);
  assert_true((uint64_t)st.st_blocks * 512u >= (uint64_t)CSHM__DATA_OFFSET + size);
  unsigned char *d = cshm_data(h);
  d[size - 1] = 1;
  assert_true(all_zero(d, size - 1));
  cshm_free(h);
}

/* ---- orphans -------------------------------------------------------------------- */

/* create replaces an orphan: *created is true and the memory is new (zero). */
static void test_create_reclaims_orphan(void **state) {
  (void)state;
  const char *key = ts_key("orphan-reclaim");
  make_orphan(key, 4096, 0xa5);
  cshm *h = new_handle(key);
  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, 2048, CSHM_READ_WRITE, 0, &made), CSHM_OK);
  assert_true(made);
  assert_int_equal(cshm_size(h), 2048);
  assert_true(all_zero(cshm_const_data(h), 2048));
  cshm_free(h);
  assert_false(path_exists(ts_shm_path(key)));
}

/* CSHM_CREATE_NO_RECLAIM (Qt-strict): an orphan makes create fail with EEXIST and
 * stays as it was. */
static void test_create_no_reclaim_refuses_orphan(void **state) {
  (void)state;
  const char *key = ts_key("orphan-keep");
  make_orphan(key, 4096, 0xa5);
  cshm *h = new_handle(key);
  bool made = true;
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, CSHM_CREATE_NO_RECLAIM, &made),
            CSHM_EEXIST);
  assert_false(made);
  assert_false(cshm_is_attached(h));
  /* Still the orphan: attach sees its data; detaching (the only holder) removes it. */
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_OK);
  assert_true(all_equal(cshm_const_data(h), 4096, 0xa5));
  cshm_free(h);
  assert_false(path_exists(ts_shm_path(key)));
}

/* As Qt documents, a segment survives a crash of its last user: its data can be
 * attached; that attacher is then the last holder, and its detach removes it. */
static void test_orphan_can_be_attached_and_detach_removes_it(void **state) {
  (void)state;
  const char *key = ts_key("orphan-attach");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 3000, 0x77);
  cshm *h = attached(key, CSHM_READ_WRITE);
  assert_int_equal(cshm_size(h), 3000);
  assert_true(all_equal(cshm_const_data(h), 3000, 0x77));
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(path_exists(path));
  cshm_free(h);
}

/* ---- permissions ---------------------------------------------------------------- */

/* The mode of the object a new handle with permissions `mode` creates on key while
 * the umask is `mask`. */
static unsigned created_mode(const char *key, unsigned mode, mode_t mask) {
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_set_permissions(h, mode), CSHM_OK);
  mode_t old = umask(mask);
  int rc = cshm_create(h, 100, CSHM_READ_WRITE);
  umask(old);
  EXPECT_RC(h, rc, CSHM_OK);
  struct stat st;
  assert_int_equal(stat(ts_shm_path(key), &st), 0);
  cshm_free(h);
  assert_false(path_exists(ts_shm_path(key)));
  return (unsigned)st.st_mode & 0777u;
}

/* cshm_set_permissions is applied exactly: a restrictive umask does not narrow it.
 * Portable profile (by design, documented in DESIGN.md §6): macOS rejects fchmod on
 * shm descriptors, so the mode goes to shm_open and the umask applies - the mode is
 * exact with umask 0, and umask 077 narrows 0644 to 0600. */
static void test_create_applies_permissions_despite_umask(void **state) {
  (void)state;
#if CSHM_TEST_PORTABLE
  assert_int_equal(created_mode(ts_key("perm0644"), 0644, 0), 0644);
  assert_int_equal(created_mode(ts_key("perm0644-077"), 0644, 077), 0600);
#else
  assert_int_equal(created_mode(ts_key("perm0644"), 0644, 077), 0644);
#endif
}

/* The default is 0600 (as Qt), whatever the umask would allow. */
static void test_default_permissions_are_0600(void **state) {
  (void)state;
  const char *key = ts_key("perm-default");
  cshm *h = new_handle(key);
  mode_t old = umask(0);
  int rc = cshm_create(h, 100, CSHM_READ_WRITE);
  umask(old);
  EXPECT_RC(h, rc, CSHM_OK);
  struct stat st;
  assert_int_equal(stat(ts_shm_path(key), &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  cshm_free(h);
}

/* Linux default profile only: the portable profile applies the mode through
 * shm_open (the umask applies, DESIGN.md §6) and keeps its sidecar files per user,
 * and the seteuid test is about segment_linux.c's owner check. */
#if !CSHM_TEST_PORTABLE
/* Runs in a forked child: checks made on `key` by a process whose user the mode
 * binds (not root, whom no mode binds). Returns the number of the first check that
 * failed, 0 when all held. */
static int owner_without_write_checks(const char *key, unsigned mode) {
  int check = 0;
#define CHILD_CHECK(cond)                                                      \
  do {                                                                         \
    check++;                                                                   \
    if (!(cond)) {                                                             \
      fprintf(stderr, "mode %04o, uid %u: check %d failed: %s\n", mode,        \
              (unsigned)geteuid(), check, #cond);                              \
      return check;                                                            \
    }                                                                          \
  } while (0)
  char path[1100];
  snprintf(path, sizeof path, "%s", ts_shm_path(key));
  cshm *h = NULL, *reader = NULL;
  CHILD_CHECK(cshm_new(&h, key) == CSHM_OK);
  CHILD_CHECK(cshm_new(&reader, key) == CSHM_OK);
  CHILD_CHECK(cshm_set_permissions(h, mode) == CSHM_OK);
  int rc = cshm_create(h, 4096, CSHM_READ_WRITE);
  if (rc != CSHM_OK)
    fprintf(stderr, "create: %s: %s\n", cshm_error_name(rc), cshm_error_string(h));
  CHILD_CHECK(rc == CSHM_OK);
  struct stat st;
  CHILD_CHECK(stat(path, &st) == 0);
  CHILD_CHECK((st.st_mode & 07777) == mode);
  CHILD_CHECK(st.st_uid == geteuid());
  /* The creator's handle keeps the access it created with: it writes and locks. */
  CHILD_CHECK(cshm_lock(h) == CSHM_OK);
  memcpy(cshm_data(h), "written", 8);
  CHILD_CHECK(cshm_unlock(h) == CSHM_OK);
  /* Any other handle gets what the mode grants its user: reading, no lock. */
  CHILD_CHECK(cshm_attach(reader, CSHM_READ_WRITE) == CSHM_EPERM);
  CHILD_CHECK(cshm_attach(reader, CSHM_READ_ONLY) == CSHM_OK);
  CHILD_CHECK(strcmp(cshm_const_data(reader), "written") == 0);
  CHILD_CHECK(cshm_lock(reader) == CSHM_EPERM);
  CHILD_CHECK(cshm_detach(reader) == CSHM_OK);
  CHILD_CHECK(path_exists(path)); /* a reader never removes */
  CHILD_CHECK(cshm_detach(h) == CSHM_OK);
  CHILD_CHECK(!path_exists(path)); /* the creator, its last holder, did */
  cshm_free(reader);
  cshm_free(h);
  return 0;
#undef CHILD_CHECK
}

/* Becomes user "nobody" (65534 where there is none) for good. */
static bool become_nobody(void) {
  struct passwd *pw = getpwnam("nobody");
  uid_t uid = pw != NULL ? pw->pw_uid : 65534;
  gid_t gid = pw != NULL ? pw->pw_gid : 65534;
  return setgroups(0, NULL) == 0 && setresgid(gid, gid, gid) == 0 &&
         setresuid(uid, uid, uid) == 0 && geteuid() == uid;
}

/* Modes without owner write (0444, 0440, 0400) bind the creator too, unless it is
 * root: create must do everything that needs write access before it applies the
 * mode, and then the object has exactly that mode. The creating handle keeps its
 * read-write access (and so the lock); every later attach gets what the mode grants
 * (read-only, without the lock), and the creator's detach removes the segment. Run
 * by a non-root user: as root, in a child that becomes "nobody"; whatever such a
 * child leaves, root removes here. */
static void test_modes_without_owner_write_create(void **state) {
  (void)state;
  static const unsigned modes[] = {0444, 0440, 0400};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    char label[32];
    snprintf(label, sizeof label, "mode%04o", modes[i]);
    const char *key = ts_key(label);
    char path[1100];
    shm_path(key, path, sizeof path);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      if (geteuid() == 0 && !become_nobody()) {
        perror("becoming nobody");
        _exit(100);
      }
      _exit(owner_without_write_checks(key, modes[i]));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
      assert_int_equal(errno, EINTR);
    bool left = path_exists(path);
    if (left)
      unlink(path);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* else: the number of the failed check */
    assert_false(left);
  }
}

/* Runs in a forked child of root: the owner check across seteuid. Returns the
 * number of the first check that failed, 0 when all held. */
static int owner_check_across_seteuid(const char *root_key, const char *other_key, uid_t other) {
  int check = 0;
#define CHILD_CHECK(cond)                                                      \
  do {                                                                         \
    check++;                                                                   \
    if (!(cond)) {                                                             \
      fprintf(stderr, "seteuid: check %d failed: %s\n", check, #cond);         \
      return check;                                                            \
    }                                                                          \
  } while (0)
  cshm *a = NULL, *a2 = NULL, *b = NULL, *b2 = NULL, *b3 = NULL;
  CHILD_CHECK(cshm_new(&a, root_key) == CSHM_OK && cshm_new(&a2, root_key) == CSHM_OK);
  CHILD_CHECK(cshm_new(&b, other_key) == CSHM_OK && cshm_new(&b2, other_key) == CSHM_OK &&
              cshm_new(&b3, other_key) == CSHM_OK);
  CHILD_CHECK(cshm_create(a, 4096, CSHM_READ_WRITE) == CSHM_OK);
  CHILD_CHECK(cshm_attach(a2, CSHM_READ_WRITE) == CSHM_OK); /* as root */
  CHILD_CHECK(seteuid(other) == 0);
  CHILD_CHECK(cshm_create(b, 4096, CSHM_READ_WRITE) == CSHM_OK);
  CHILD_CHECK(cshm_attach(b2, CSHM_READ_WRITE) == CSHM_OK); /* our segment now */
  CHILD_CHECK(cshm_detach(b2) == CSHM_OK);
  CHILD_CHECK(seteuid(0) == 0);
  CHILD_CHECK(cshm_attach(b3, CSHM_READ_WRITE) == CSHM_EPERM); /* another user's again */
  CHILD_CHECK(cshm_attach(b2, CSHM_READ_WRITE) == CSHM_EPERM);
  CHILD_CHECK(cshm_detach(b) == CSHM_OK);
  CHILD_CHECK(cshm_detach(a2) == CSHM_OK && cshm_detach(a) == CSHM_OK);
  cshm_free(a), cshm_free(a2), cshm_free(b), cshm_free(b2), cshm_free(b3);
  return 0;
#undef CHILD_CHECK
}

/* attach knows the process's effective user without asking the kernel each time
 * (segment_linux.c): what it remembers must follow seteuid. Root attaches its own
 * segment, becomes "nobody" (seteuid) and attaches nobody's segment (its own now),
 * becomes root again: nobody's segment is another user's again (CSHM_EPERM with the
 * default permissions). As root in a child; skipped otherwise. */
static void test_owner_check_follows_seteuid(void **state) {
  (void)state;
  if (geteuid() != 0) {
    print_message("skipped: changing the effective user needs root\n");
    skip();
  }
  struct passwd *pw = getpwnam("nobody");
  uid_t other = pw != NULL ? pw->pw_uid : 65534;
  const char *root_key = ts_key("seteuid-root"), *other_key = ts_key("seteuid-other");
  char root_path[1100], other_path[1100];
  shm_path(root_key, root_path, sizeof root_path);
  shm_path(other_key, other_path, sizeof other_path);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(owner_check_across_seteuid(root_key, other_key, other));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0); /* else: the number of the failed check */
  assert_false(path_exists(root_path));
  assert_false(path_exists(other_path));
}
#endif

/* ---- PID namespaces (DESIGN.md §4) ---------------------------------------------- */

typedef struct pidns_result {
  int unshare_errno; /* of unshare(CLONE_NEWPID) in the child; -1: fork failed */
  int pid;           /* the grandchild's pid in its namespace */
  int rc;            /* its attach */
  char detail[512];
} pidns_result;

/* Runs in the forked child: moves its future children into a new PID namespace, and
 * forks one (pid 1 there) that attaches `key`. Writes what happened to `out`. */
static void attach_from_new_pid_namespace(const char *key, int out) {
  pidns_result r = {0};
  if (unshare(CLONE_NEWPID) != 0) {
    r.unshare_errno = errno;
  } else {
    pid_t g = fork();
    if (g == 0) {
      r.pid = (int)getpid();
      cshm *a = NULL;
      r.rc = cshm_new(&a, key);
      if (r.rc == CSHM_OK)
        r.rc = cshm_attach(a, CSHM_READ_WRITE);
      snprintf(r.detail, sizeof r.detail, "%s", cshm_error_string(a));
      cshm_free(a);
      _exit(write(out, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
    }
    if (g < 0)
      r.unshare_errno = -1;
    else
      _exit(waitpid(g, NULL, 0) == g ? 0 : 1);
  }
  _exit(write(out, &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
}

/* A process in another PID namespace than the creator's is refused (CSHM_ENOTSUP):
 * here a grandchild of the creator, forked after its parent's unshare(CLONE_NEWPID),
 * which inherits everything the creator knew about its own namespace. Needs
 * CAP_SYS_ADMIN: skipped, saying so, only where unshare is refused with EPERM. */
static void test_child_in_new_pid_namespace_is_enotsup(void **state) {
  (void)state;
  const char *key = ts_key("pidns-child");
  char path[1100];
  shm_path(key, path, sizeof path);
  cshm *h = created(key, 4096);
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    attach_from_new_pid_namespace(key, p[1]);
  }
  close(p[1]);
  pidns_result r;
  ssize_t n;
  while ((n = read(p[0], &r, sizeof r)) < 0 && errno == EINTR) {
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    assert_int_equal(errno, EINTR);
  if (n == (ssize_t)sizeof r && r.unshare_errno == EPERM) {
    print_message("skipped: unshare(CLONE_NEWPID): %s (needs CAP_SYS_ADMIN)\n", strerror(EPERM));
    cshm_free(h);
    skip();
  }
  assert_int_equal(n, sizeof r);
  assert_int_equal(r.unshare_errno, 0);
  assert_int_equal(r.pid, 1);
  if (r.rc != CSHM_ENOTSUP)
    print_message("attach from the new namespace returned %s: %s\n", cshm_error_name(r.rc),
                  r.detail);
  assert_int_equal(r.rc, CSHM_ENOTSUP);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  EXPECT_OK(h, cshm_detach(h));
  assert_false(path_exists(path));
  cshm_free(h);
}

/* ---- descriptors ---------------------------------------------------------------- */

/* The number of this process's descriptors of the file `target` describes, asserting
 * that each one is close-on-exec. Descriptors are matched by inode: the Linux
 * creator's was opened with O_TMPFILE, so its /proc link does not show the name. */
static int cloexec_descriptors_of(const struct stat *target, const char *what) {
  DIR *dir = opendir("/proc/self/fd");
  assert_non_null(dir);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    int fd = atoi(e->d_name);
    struct stat st;
    if (fd == dirfd(dir) || fstat(fd, &st) != 0 || st.st_dev != target->st_dev ||
        st.st_ino != target->st_ino)
      continue;
    found++;
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || !(flags & FD_CLOEXEC)) {
      print_error("descriptor %d of the %s is not close-on-exec\n", fd, what);
      closedir(dir);
      fail();
    }
  }
  closedir(dir);
  return found;
}

/* Every descriptor of the segment is close-on-exec, the creator's and the
 * attacher's. Portable profile: so is every descriptor of the liveness sidecar each
 * holder keeps (shm_open there has no O_CLOEXEC: the flag is set right after). */
static void test_descriptors_are_close_on_exec(void **state) {
  (void)state;
  const char *key = ts_key("cloexec");
  cshm *c = created(key, 100);
  cshm *a = attached(key, CSHM_READ_ONLY);
  struct stat seg;
  assert_int_equal(stat(ts_shm_path(key), &seg), 0);
  assert_true(cloexec_descriptors_of(&seg, "segment") >= 2); /* one per handle */
#if CSHM_TEST_PORTABLE
  char live[600];
  cshm__diag d;
  assert_int_equal(cshm__sidecar_path(cshm_native_key(c), ".live", live, sizeof live, &d),
                   CSHM_OK);
  struct stat sidecar;
  assert_int_equal(stat(live, &sidecar), 0);
  assert_true(cloexec_descriptors_of(&sidecar, "liveness sidecar") >= 2);
#endif
  cshm_free(a);
  cshm_free(c);
}

/* ---- sizes ---------------------------------------------------------------------- */

/* SIZE_MAX cannot be mapped: ESIZE, before any system call. */
static void test_size_max_is_esize(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("sizemax"));
  EXPECT_RC(h, cshm_create(h, SIZE_MAX, CSHM_READ_WRITE), CSHM_ESIZE);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* A size that overflows only once the 64 KiB header area is added: ESIZE. */
static void test_size_overflowing_with_header_is_esize(void **state) {
  (void)state;
  cshm *h = new_handle(ts_key("sizeoverflow"));
  EXPECT_RC(h, cshm_create(h, SIZE_MAX - 1000, CSHM_READ_WRITE), CSHM_ESIZE);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
}

/* A size more than /dev/shm has free, or skips the test where there is no limit. */
static size_t beyond_free_space(void) {
  struct statvfs vfs;
  assert_int_equal(statvfs("/dev/shm", &vfs), 0);
  if (vfs.f_blocks == 0)
    skip(); /* an unlimited tmpfs has no free space to exceed */
  uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
  uint64_t want = avail + (1ull << 30);
  if (want > (uint64_t)SIZE_MAX / 2)
    skip(); /* cannot express on this build without hitting ESIZE instead */
  return (size_t)want;
}

/* More than /dev/shm has free: ENOMEM up front (not a SIGBUS later), and nothing is
 * left under the name (in the portable profile: not even a sidecar). */
static void test_size_beyond_free_space_is_enomem_and_leaves_nothing(void **state) {
  (void)state;
  size_t want = beyond_free_space();
  const char *key = ts_key("toobig");
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, want, CSHM_READ_WRITE), CSHM_ENOMEM);
  assert_false(cshm_is_attached(h));
  assert_false(path_exists(ts_shm_path(key)));
  assert_int_equal(ts_key_sidecars_left(key), 0);
  cshm_free(h);
}

/* A create that failed claims nothing: an object another program puts under the name
 * afterwards is foreign, never reclaimed (EEXIST, its bytes intact) nor attached
 * (ECORRUPT). (In the portable profile a liveness sidecar left by the failed create
 * would mark the object as made by this user's cshm, and create would replace it.) */
static void test_failed_create_leaves_no_claim_on_the_name(void **state) {
  (void)state;
  size_t want = beyond_free_space();
  const char *key = ts_key("failed-claim");
  char native[256], path[1100];
  EXPECT_RC(NULL, cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT), CSHM_OK);
  shm_path(key, path, sizeof path);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_create(h, want, CSHM_READ_WRITE), CSHM_ENOMEM);

  int fd = shm_open(native, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  unsigned char foreign[CSHM__HEADER_SIZE];
  memset(foreign, 'F', sizeof foreign);
  assert_int_equal(write(fd, foreign, sizeof foreign), (ssize_t)sizeof foreign);
  close(fd);

  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_false(cshm_is_attached(h));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  unsigned char head[8];
  read_at(path, 0, head, sizeof head);
  assert_true(all_equal(head, sizeof head, 'F'));
  assert_int_equal(shm_unlink(native), 0);
  assert_int_equal(ts_sidecars_left(native), 0);
}

/* ---- header defences ------------------------------------------------------------ */

static void test_bad_magic_is_ecorrupt(void **state) {
  (void)state;
  static const char garbage[8] = {'g', 'a', 'r', 'b', 'a', 'g', 'e', '!'};
  assert_bad_header("bad-magic", offsetof(cshm__header, magic), garbage, sizeof garbage,
                    CSHM_ECORRUPT);
}

/* A newer format major is refused, not misread. */
static void test_other_major_is_eversion(void **state) {
  (void)state;
  uint16_t major = (uint16_t)(CSHM__FORMAT_MAJOR + 1u);
  assert_bad_header("bad-major", offsetof(cshm__header, major), &major, sizeof major,
                    CSHM_EVERSION);
}

/* A segment made by a build with another lock ABI is refused. */
static void test_other_lock_abi_is_eversion(void **state) {
  (void)state;
  const char *key = ts_key("bad-lockabi");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0);
  uint32_t abi;
  read_at(path, offsetof(cshm__header, lock_abi), &abi, sizeof abi);
  abi ^= 0x00010000u;
  write_at(path, offsetof(cshm__header, lock_abi), &abi, sizeof abi);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EVERSION);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  remove_spoiled(key, path);
}

/* A creator in another PID namespace: its robust mutex's owner ids would be
 * meaningless here, so attach says ENOTSUP. */
static void test_other_pid_namespace_is_enotsup(void **state) {
  (void)state;
  const char *key = ts_key("bad-pidns");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0);
  uint64_t ns;
  read_at(path, offsetof(cshm__header, pid_namespace), &ns, sizeof ns);
  if (ns == 0) { /* the namespace is unknown here (not Linux): nothing to compare */
    remove_spoiled(key, path);
    skip();
  }
  ns = ns + 1 != 0 ? ns + 1 : 1;
  write_at(path, offsetof(cshm__header, pid_namespace), &ns, sizeof ns);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOTSUP);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  remove_spoiled(key, path);
}

/* Another key's digest: two keys that derive one short name are told apart (EKEY). */
static void test_other_key_digest_is_ekey(void **state) {
  (void)state;
  const char *key = ts_key("bad-sha1");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0);
  uint8_t sha[20];
  read_at(path, offsetof(cshm__header, key_sha1), sha, sizeof sha);
  sha[0] ^= 0xff;
  write_at(path, offsetof(cshm__header, key_sha1), sha, sizeof sha);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EKEY);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  remove_spoiled(key, path);
}

/* CSHM_ATTACH_KEEP: looking at an orphan (its creator died) leaves it in place, even
 * as its only holder; a plain attachment's detach removes it, as the last holder. */
static void test_attach_keep_leaves_an_orphan(void **state) {
  (void)state;
  const char *key = ts_key("keep-orphan");
  make_orphan(key, 4096, 0x5a);
  for (int i = 0; i < 2; i++) {
    cshm *h = new_handle(key);
    EXPECT_RC(h, cshm_attach_ex(h, CSHM_READ_ONLY, CSHM_ATTACH_KEEP, 0), CSHM_OK);
    assert_int_equal(((const unsigned char *)cshm_const_data(h))[4095], 0x5a);
    EXPECT_RC(h, cshm_detach(h), CSHM_OK);
    assert_true(path_exists(ts_shm_path(key)));
    cshm_free(h);
  }
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_OK);
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);
  assert_false(path_exists(ts_shm_path(key)));
  cshm_free(h);
}

/* CSHM_ATTACH_KEEP on a segment in use: the observer outlives its creator and, as
 * the last holder, removes it - it does not leave the application's segment behind
 * as an orphan. */
static void test_attach_keep_of_a_live_segment_is_removed_last(void **state) {
  (void)state;
  const char *key = ts_key("keep-live");
  cshm *owner = new_handle(key);
  EXPECT_RC(owner, cshm_create(owner, 4096, CSHM_READ_WRITE), CSHM_OK);
  cshm *observer = new_handle(key);
  EXPECT_RC(observer, cshm_attach_ex(observer, CSHM_READ_ONLY, CSHM_ATTACH_KEEP, 0), CSHM_OK);
  cshm_free(owner); /* not the last holder: the observer still is one */
  assert_true(path_exists(ts_shm_path(key)));
  cshm_free(observer);
  assert_false(path_exists(ts_shm_path(key)));
}

/* A live segment made for another key with the same derived name: attach says so
 * (EKEY), create finds the name taken (EEXIST: a live segment is never replaced). */
static void test_live_collision_create_is_eexist(void **state) {
  (void)state;
  const char *key = ts_key("live-collision");
  char path[1100];
  shm_path(key, path, sizeof path);
  cshm *owner = new_handle(key);
  EXPECT_RC(owner, cshm_create(owner, 4096, CSHM_READ_WRITE), CSHM_OK);
  uint8_t sha[20];
  read_at(path, offsetof(cshm__header, key_sha1), sha, sizeof sha);
  sha[0] ^= 0xff;
  write_at(path, offsetof(cshm__header, key_sha1), sha, sizeof sha);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_EKEY);
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  cshm_free(owner); /* the last holder: removes the name */
}

/* The attacher's wait for a BUILDING header, shortened for one test and restored
 * by the teardown even when an assertion fails. */
static unsigned saved_ready_wait_ms;

static int short_ready_wait(void **state) {
  (void)state;
  saved_ready_wait_ms = cshm__ready_wait_ms;
  cshm__ready_wait_ms = 10;
  return 0;
}

static int restore_ready_wait(void **state) {
  (void)state;
  cshm__ready_wait_ms = saved_ready_wait_ms;
  return 0;
}

/* A header that never becomes READY: attach waits (bounded) and then reports
 * ECORRUPT instead of hanging.
 * Portable profile (by design): attach and create run under the name's admin lock,
 * so no creator can be at work while an attacher looks: a segment this user's cshm
 * made (its liveness sidecar exists) that is not READY was never completed - its
 * creator died. Attach says CSHM_ENOENT at once, leaves it in place, and the next
 * create replaces it. */
static void test_never_ready_is_ecorrupt_after_wait(void **state) {
  (void)state;
  const uint32_t building = CSHM__STATE_BUILDING;
#if CSHM_TEST_PORTABLE
  const char *key = ts_key("bad-state");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0x5a);
  write_at(path, offsetof(cshm__header, state), &building, sizeof building);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  assert_false(cshm_is_attached(h));
  assert_true(path_exists(path));
  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, 2048, CSHM_READ_WRITE, 0, &made), CSHM_OK);
  assert_true(made);
  assert_true(all_zero(cshm_const_data(h), 2048));
  cshm_free(h);
  assert_false(path_exists(path));
  assert_int_equal(ts_key_sidecars_left(key), 0);
#else
  assert_bad_header("bad-state", offsetof(cshm__header, state), &building, sizeof building,
                    CSHM_ECORRUPT);
#endif
}

/* A header claiming more data than the object holds: ECORRUPT, never a SIGBUS. The
 * claim is one byte more than the object has room for: 4096 + 1 for the orphan's
 * 4096 bytes of data (and, in the portable profile, one more than its rounding to
 * 16 KiB units leaves: a claim within the rounded object is not a lie). */
static void test_user_size_beyond_object_is_ecorrupt(void **state) {
  (void)state;
  const char *key = ts_key("bad-size");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0x5a);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  const uint64_t size = (uint64_t)st.st_size - CSHM__DATA_OFFSET + 1;
#if !CSHM_TEST_PORTABLE
  assert_int_equal(size, 4096 + 1);
#endif
  write_at(path, offsetof(cshm__header, user_size), &size, sizeof size);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  assert_null(cshm_data(h));
  cshm_free(h);
  remove_spoiled(key, path);
}

/* ---- foreign and truncated objects ---------------------------------------------- */

/* Makes a plain shm object (not cshm's) of `len` bytes of 'F' under a recorded name,
 * short enough for macOS (the portable profile's 31 bytes, "/" included). */
static void make_foreign(char *name, size_t cap, const char *label, size_t len) {
  static unsigned seq;
  snprintf(name, cap, "/cshmt-f%d-%u-%.6s", (int)getpid(), seq++, label);
  assert_true(strlen(name) <= 31);
  ts_record_native(name);
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  unsigned char *buf = malloc(len);
  assert_non_null(buf);
  memset(buf, 'F', len);
  assert_int_equal(write(fd, buf, len), (ssize_t)len);
  free(buf);
  close(fd);
}

/* A foreign object under the name is never reclaimed (create EEXIST, its bytes
 * intact) and never attached (ECORRUPT). Portable profile: the failed create leaves
 * no sidecar - a liveness file left behind would mark the object as made by this
 * user's cshm, and the next create would replace it - so a second create fails the
 * same way. */
static void check_foreign_object(const char *label, size_t len) {
  char name[256], path[300];
  make_foreign(name, sizeof name, label, len);
  snprintf(path, sizeof path, "/dev/shm%s", name);

  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_OK);
  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_false(cshm_is_attached(h));
  assert_int_equal(ts_sidecars_left(name), 0);
  EXPECT_RC(h, cshm_create(h, 100, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_false(cshm_is_attached(h));

  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, (off_t)len);
  unsigned char head[8];
  read_at(path, 0, head, sizeof head);
  assert_true(all_equal(head, sizeof head, 'F'));

  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  assert_true(path_exists(path));
  assert_int_equal(shm_unlink(name), 0);
  assert_int_equal(ts_sidecars_left(name), 0);
}

/* Smaller than a header. */
static void test_small_foreign_object_is_never_reclaimed(void **state) {
  (void)state;
  check_foreign_object("small", 64);
}

/* Large enough for a header and a data page, without cshm's magic. */
static void test_large_foreign_object_is_never_reclaimed(void **state) {
  (void)state;
  check_foreign_object("large", CSHM__DATA_OFFSET + 4096);
}

/* An object under a cshm name that is too short to hold a header, which this user's
 * cshm never made: ECORRUPT (in the portable profile too: no liveness sidecar says
 * otherwise). */
static void test_truncated_object_is_ecorrupt(void **state) {
  (void)state;
  const char *key = ts_key("truncated");
  char native[256];
  EXPECT_RC(NULL, cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT), CSHM_OK);
  int fd = shm_open(native, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 100), 0);
  close(fd);
  cshm *h = new_handle(key);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  assert_int_equal(shm_unlink(native), 0);
  assert_int_equal(ts_sidecars_left(native), 0);
}

/* An orphan of ours cut short, smaller than a header. Default build: attach says
 * ECORRUPT, as for any truncated object. Portable profile (by design): this user's
 * cshm made it (its liveness sidecar exists), so it is a segment that was never
 * completed: attach says CSHM_ENOENT and leaves it, and the next create replaces
 * it. */
static void test_truncated_orphan_of_ours(void **state) {
  (void)state;
  const char *key = ts_key("truncated-ours");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 4096, 0x5a);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 100), 0);
  close(fd);
  cshm *h = new_handle(key);
#if CSHM_TEST_PORTABLE
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ENOENT);
  assert_false(cshm_is_attached(h));
  assert_true(path_exists(path));
  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, 4096, CSHM_READ_WRITE, 0, &made), CSHM_OK);
  assert_true(made);
  assert_true(all_zero(cshm_const_data(h), 4096));
  cshm_free(h);
  assert_false(path_exists(path));
  assert_int_equal(ts_key_sidecars_left(key), 0);
#else
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  remove_spoiled(key, path);
#endif
}

/* ---- regressions: two last detachers at once ------------------------------------ */

/* Each of two threads detaches its own handle of one segment, released together by
 * a barrier. Whatever the interleaving, the later of the two finds no holder left
 * and removes the name (two detachers that each tried to upgrade their own shared
 * lock could both fail and leak the segment). */
#define DUAL_DETACH_ROUNDS 300

typedef struct detacher {
  cshm *h;
  pthread_barrier_t *go;
  int rc;
} detacher;

static void *detacher_main(void *arg) {
  detacher *t = arg;
  pthread_barrier_wait(t->go);
  t->rc = cshm_detach(t->h);
  return NULL;
}

static void test_two_last_detachers_at_once_leave_nothing(void **state) {
  (void)state;
  for (int round = 0; round < DUAL_DETACH_ROUNDS; round++) {
    const char *key = ts_key("dual-detach");
    char path[1100];
    shm_path(key, path, sizeof path);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    detacher t[2] = {{created(key, 4096), &go, CSHM_EUNKNOWN},
                     {attached(key, CSHM_READ_WRITE), &go, CSHM_EUNKNOWN}};
    pthread_t tid[2];
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&tid[i], NULL, detacher_main, &t[i]), 0);
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_join(tid[i], NULL), 0);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 2; i++) {
      EXPECT_RC(t[i].h, t[i].rc, CSHM_OK);
      cshm_free(t[i].h);
    }
    errno = 0;
    bool gone = access(path, F_OK) != 0 && errno == ENOENT;
    if (!gone)
      print_error("round %d: %s is still there after both holders detached\n", round, path);
    assert_true(gone);
  }
}

/* ---- regressions: a FIFO under a name -------------------------------------------- */

/* A FIFO planted under a segment's name: opening it must not block (a read-only open
 * of a FIFO waits for a writer). Every call answers at once - ECORRUPT where the
 * object would be read, EEXIST where create finds the name taken - and the FIFO is
 * left alone. A regression shows as a hang, caught by the suite's ctest TIMEOUT. */
static void test_fifo_under_name_is_an_error_never_a_hang(void **state) {
  (void)state;
#if CSHM_TEST_PORTABLE
  /* Linux default build only: macOS's shm namespace is no directory, so no FIFO can
   * be planted under a name there, and glibc's shm_open (which the portable profile
   * uses on Linux) would block opening one - a hazard of Linux alone. */
  skip();
#endif
  static unsigned seq;
  char name[256], path[300];
  snprintf(name, sizeof name, "/cshm-test-fifo-%d-%u", (int)getpid(), seq++);
  snprintf(path, sizeof path, "/dev/shm%s", name);
  ts_record_native(name);
  assert_int_equal(mkfifo(path, 0600), 0);

  cshm *h = new_handle(NULL);
  EXPECT_RC(h, cshm_set_native_key(h, name, CSHM_KEY_DEFAULT), CSHM_OK);
  cshm_info info;
  EXPECT_RC(h, cshm_inspect(h, &info), CSHM_ECORRUPT);
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_ONLY), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  EXPECT_RC(h, cshm_attach(h, CSHM_READ_WRITE), CSHM_ECORRUPT);
  assert_false(cshm_is_attached(h));
  EXPECT_RC(h, cshm_create(h, 4096, CSHM_READ_WRITE), CSHM_EEXIST);
  assert_false(cshm_is_attached(h));
  cshm_free(h);

  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISFIFO(st.st_mode)); /* never replaced nor removed */
  assert_int_equal(unlink(path), 0);
}

/* ---- regressions: CSHM_CREATE_OR_ATTACH ignores the size of an existing segment -- */

/* An existing segment is attached whatever size is asked: 0 (which create alone
 * refuses) and more than /dev/shm has free (which the free-space check alone would
 * refuse), RESERVE included - nothing is sized or reserved on attach. */
static void test_create_or_attach_ignores_size_of_existing(void **state) {
  (void)state;
  const char *key = ts_key("coa-anysize");
  cshm *owner = created(key, 4096);
  memcpy(cshm_data(owner), "kept", 5);

  cshm *h = new_handle(key);
  bool made = true;
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &made), CSHM_OK);
  assert_false(made);
  assert_int_equal(cshm_size(h), 4096);
  assert_string_equal((const char *)cshm_const_data(h), "kept");
  EXPECT_RC(h, cshm_detach(h), CSHM_OK);

  struct statvfs vfs;
  assert_int_equal(statvfs("/dev/shm", &vfs), 0);
  uint64_t huge = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize + (1ull << 30);
  if (huge > (uint64_t)SIZE_MAX / 2)
    huge = (uint64_t)SIZE_MAX / 2;
  made = true;
  EXPECT_RC(h,
            cshm_create_ex(h, (size_t)huge, CSHM_READ_WRITE,
                           CSHM_CREATE_OR_ATTACH | CSHM_CREATE_RESERVE, &made),
            CSHM_OK);
  assert_false(made);
  assert_int_equal(cshm_size(h), 4096);
  assert_string_equal((const char *)cshm_const_data(h), "kept");
  cshm_free(h);
  cshm_free(owner);
  assert_false(path_exists(ts_shm_path(key)));
}

/* On a missing key CSHM_CREATE_OR_ATTACH creates, so size 0 is ESIZE (as create),
 * with *created false and nothing under the name. */
static void test_create_or_attach_missing_with_size_0_is_esize(void **state) {
  (void)state;
  const char *key = ts_key("coa-zero");
  cshm *h = new_handle(key);
  bool made = true;
  EXPECT_RC(h, cshm_create_ex(h, 0, CSHM_READ_WRITE, CSHM_CREATE_OR_ATTACH, &made), CSHM_ESIZE);
  assert_false(made);
  assert_false(cshm_is_attached(h));
  assert_false(path_exists(ts_shm_path(key)));
  cshm_free(h);
}

/* ---- cshm_inspect --------------------------------------------------------------- */

/* A live segment: its exact size, format 1.0, this process as creator, one holder,
 * a free lock. The inspecting handle stays unattached. */
static void test_inspect_live_segment(void **state) {
  (void)state;
  const char *key = ts_key("inspect-live");
  cshm *owner = created(key, 4096);
  cshm *h = new_handle(key);
  cshm_info info;
  memset(&info, 0xff, sizeof info);
  EXPECT_RC(h, cshm_inspect(h, &info), CSHM_OK);
  assert_int_equal(info.size, 4096);
  assert_int_equal(info.format_major, 1);
  assert_int_equal(info.format_minor, CSHM__FORMAT_MINOR);
  assert_int_equal(info.creator_pid, (uint32_t)getpid());
  assert_int_equal(info.attached, 1);
  assert_false(info.locked);
  assert_int_equal(info.lock_owner, 0);
  assert_false(cshm_is_attached(h));
  cshm_free(h);
  cshm_free(owner);
  assert_false(path_exists(ts_shm_path(key)));
}

/* A thread that holds the lock until told to let go, and tells its thread id. */
typedef struct lock_keeper {
  cshm *h;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool locked;
  bool release;
  int lock_rc;
  int unlock_rc;
  uint32_t tid;
} lock_keeper;

static void *lock_keeper_main(void *arg) {
  lock_keeper *k = arg;
  int rc = cshm_lock(k->h);
  pthread_mutex_lock(&k->mu);
  k->lock_rc = rc;
  k->tid = (uint32_t)syscall(SYS_gettid);
  k->locked = true;
  pthread_cond_broadcast(&k->cv);
  while (!k->release)
    pthread_cond_wait(&k->cv, &k->mu);
  pthread_mutex_unlock(&k->mu);
  k->unlock_rc = rc >= 0 ? cshm_unlock(k->h) : CSHM_OK;
  return NULL;
}

/* While a thread holds the lock, inspect says so and names it (its kernel thread id);
 * inspect only reads the lock word, so the holder's unlock still works afterwards.
 * Portable profile (by design): the lock word holds the owner process's liveness
 * token, not a thread id - inspect says `locked` and leaves lock_owner 0. */
static void test_inspect_reports_lock_owner_thread(void **state) {
  (void)state;
  const char *key = ts_key("inspect-owner");
  cshm *owner = created(key, 4096);
  cshm *h = new_handle(key);
  lock_keeper k = {.h = owner, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
                   .lock_rc = CSHM_EUNKNOWN, .unlock_rc = CSHM_EUNKNOWN};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, lock_keeper_main, &k), 0);
  pthread_mutex_lock(&k.mu);
  while (!k.locked)
    pthread_cond_wait(&k.cv, &k.mu);
  pthread_mutex_unlock(&k.mu);
  /* No assertion until the thread is joined: it must not be left waiting. */
  cshm_info info;
  memset(&info, 0, sizeof info);
  int inspect_rc = cshm_inspect(h, &info);
  pthread_mutex_lock(&k.mu);
  k.release = true;
  pthread_cond_broadcast(&k.cv);
  pthread_mutex_unlock(&k.mu);
  assert_int_equal(pthread_join(t, NULL), 0);

  EXPECT_RC(owner, k.lock_rc, CSHM_OK);
  EXPECT_RC(h, inspect_rc, CSHM_OK);
  EXPECT_RC(owner, k.unlock_rc, CSHM_OK);
  assert_true(info.locked);
#if CSHM_TEST_PORTABLE
  assert_int_equal(info.lock_owner, 0);
#else
  assert_int_not_equal(info.lock_owner, 0);
  assert_int_equal(info.lock_owner, k.tid);
#endif
  assert_int_equal(info.attached, 1);
  /* Released: inspect sees a free lock again. */
  EXPECT_RC(h, cshm_inspect(h, &info), CSHM_OK);
  assert_false(info.locked);
  assert_int_equal(info.lock_owner, 0);
  cshm_free(h);
  cshm_free(owner);
}

/* An orphan: no holder (attached 0), its size and format; and inspect disturbs
 * nothing - the name stays, and the next create still reclaims it. */
static void test_inspect_orphan_reports_no_holder_and_disturbs_nothing(void **state) {
  (void)state;
  const char *key = ts_key("inspect-orphan");
  char path[1100];
  shm_path(key, path, sizeof path);
  make_orphan(key, 2000, 0x11);
  cshm *h = new_handle(key);
  cshm_info info;
  memset(&info, 0xff, sizeof info);
  EXPECT_RC(h, cshm_inspect(h, &info), CSHM_OK);
  assert_int_equal(info.attached, 0);
  assert_int_equal(info.size, 2000);
  assert_int_equal(info.format_major, 1);
  assert_int_equal(info.format_minor, CSHM__FORMAT_MINOR);
  assert_int_not_equal(info.creator_pid, (uint32_t)getpid()); /* the child made it */
  assert_int_equal(info.lock_owner, 0);
  assert_false(cshm_is_attached(h));
  assert_true(path_exists(path));

  bool made = false;
  EXPECT_RC(h, cshm_create_ex(h, 1000, CSHM_READ_WRITE, 0, &made), CSHM_OK);
  assert_true(made);
  assert_int_equal(cshm_size(h), 1000);
  assert_true(all_zero(cshm_const_data(h), 1000));
  cshm_free(h);
  assert_false(path_exists(path));
}

/* The documented errors: ENOENT for a missing segment; EINVAL for an attached
 * handle, a NULL out, a NULL handle. */
static void test_inspect_errors(void **state) {
  (void)state;
  cshm_info info;
  cshm *missing = new_handle(ts_key("inspect-missing"));
  EXPECT_RC(missing, cshm_inspect(missing, &info), CSHM_ENOENT);
  EXPECT_RC(missing, cshm_inspect(missing, NULL), CSHM_EINVAL);
  cshm_free(missing);

  const char *key = ts_key("inspect-attached");
  cshm *h = created(key, 100);
  EXPECT_RC(h, cshm_inspect(h, &info), CSHM_EINVAL);
  assert_true(cshm_is_attached(h)); /* the failed inspect did not detach */
  cshm_free(h);

  EXPECT_RC(NULL, cshm_inspect(NULL, &info), CSHM_EINVAL);
}

/* ---- cshm_list ------------------------------------------------------------------ */

typedef struct list_probe {
  const char *wanted; /* a native name to look for */
  int seen;           /* how often it was listed */
  int calls;
  int stop_after; /* return nonzero at this call; 0: never */
} list_probe;

static int list_cb(const char *native, void *ctx) {
  list_probe *p = ctx;
  p->calls++;
  if (p->wanted != NULL && strcmp(native, p->wanted) == 0)
    p->seen++;
  return p->stop_after != 0 && p->calls >= p->stop_after;
}

/* A live segment's native name is listed (once); after its last detach it is not.
 * Portable profile (by design): macOS cannot list its shared-memory objects, so
 * cshm_list says CSHM_ENOTSUP (with a live segment present, and without calling the
 * callback). */
static void test_list_includes_live_segment(void **state) {
  (void)state;
  const char *key = ts_key("list-live");
  cshm *h = created(key, 100);
  list_probe p = {cshm_native_key(h), 0, 0, 0};
#if CSHM_TEST_PORTABLE
  EXPECT_RC(NULL, cshm_list(list_cb, &p), CSHM_ENOTSUP);
  assert_int_equal(p.calls, 0);
  assert_non_null(strstr(cshm_last_error_string(), "cshm_list"));
  cshm_free(h);
#else
  EXPECT_RC(NULL, cshm_list(list_cb, &p), CSHM_OK);
  assert_int_equal(p.seen, 1);
  char native[256];
  snprintf(native, sizeof native, "%s", cshm_native_key(h));
  cshm_free(h);
  p = (list_probe){native, 0, 0, 0};
  EXPECT_RC(NULL, cshm_list(list_cb, &p), CSHM_OK);
  assert_int_equal(p.seen, 0);
#endif
}

static void test_list_without_callback_is_einval(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_list(NULL, NULL), CSHM_EINVAL);
}

/* The callback's nonzero return stops the listing: with two of our segments present
 * there are at least two names, yet the callback runs once. */
static void test_list_stops_when_callback_returns_nonzero(void **state) {
  (void)state;
#if CSHM_TEST_PORTABLE
  skip(); /* nothing to stop: cshm_list is CSHM_ENOTSUP (test_list_includes_live_segment) */
#endif
  cshm *a = created(ts_key("list-stop-a"), 100);
  cshm *b = created(ts_key("list-stop-b"), 100);
  list_probe all = {NULL, 0, 0, 0};
  EXPECT_RC(NULL, cshm_list(list_cb, &all), CSHM_OK);
  assert_true(all.calls >= 2);
  list_probe first = {NULL, 0, 0, 1};
  EXPECT_RC(NULL, cshm_list(list_cb, &first), CSHM_OK);
  assert_int_equal(first.calls, 1);
  cshm_free(b);
  cshm_free(a);
}

/* ---- application groups ----------------------------------------------------------- */

/* The native name `key` derives to, compared with `expected`. */
static void assert_derives(const char *key, const char *expected) {
  char native[256];
  EXPECT_RC(NULL, cshm_native_key_for(native, sizeof native, key, CSHM_KEY_DEFAULT), CSHM_OK);
  assert_string_equal(native, expected);
}

/* The application group is process-wide: whatever a failed assertion left, the next
 * test derives plain names again. */
static int clear_app_group(void **state) {
  (void)state;
#if CSHM_TEST_PORTABLE
  cshm_set_app_group(NULL);
#endif
  return 0;
}

#if CSHM_TEST_PORTABLE
/* Portable profile (the Apple App Sandbox form, DESIGN.md §5): with an application
 * group every derived name is "<group>/<stem>" within macOS's 31 bytes - the whole
 * stem when it fits, else the group and as much of the key's hash as fits (at least
 * 12 characters). A group that leaves less room (more than 18 bytes), or that is not
 * printable ASCII without "/", is refused with CSHM_EKEY and the group stays as it
 * was; "" and NULL clear it. Only names are derived here: glibc's shm_open refuses a
 * name with a second "/", so no segment is made. */
static void test_app_group_prefixes_derived_names(void **state) {
  (void)state;
  /* The sidecar directory is chosen at its first use, from the group set then: this
   * suite's is already in use, and stays. */
  const char *dir;
  cshm__diag d;
  assert_int_equal(cshm__sidecar_dir(&dir, &d), CSHM_OK);

  EXPECT_RC(NULL, cshm_set_app_group("group.x"), CSHM_OK);
  assert_derives("a", "group.x/cshm_a_q336in72uwt7zyk5"); /* 31 bytes: the whole stem */
  assert_derives("my_shared_memory", "group.x/2p5koc4w43euvfwl"); /* the hash only */
  cshm *h = new_handle("my_shared_memory");
  assert_string_equal(cshm_native_key(h), "group.x/2p5koc4w43euvfwl");
  cshm_free(h);

  /* 18 bytes: 12 characters of the hash are left. */
  EXPECT_RC(NULL, cshm_set_app_group("group.com.example1"), CSHM_OK);
  assert_derives("my_shared_memory", "group.com.example1/2p5koc4w43eu");
  /* Refused, and the group in force is kept. */
  EXPECT_RC(NULL, cshm_set_app_group("group.com.example12"), CSHM_EKEY);
  assert_non_null(strstr(cshm_last_error_string(), "cshm_set_app_group"));
  EXPECT_RC(NULL, cshm_set_app_group("group/x"), CSHM_EKEY);
  EXPECT_RC(NULL, cshm_set_app_group("group x"), CSHM_EKEY);
  EXPECT_RC(NULL, cshm_set_app_group("group.\xc3\xa9"), CSHM_EKEY);
  assert_derives("my_shared_memory", "group.com.example1/2p5koc4w43eu");

  /* "" and NULL clear it: the plain names of DESIGN.md §5 again. */
  EXPECT_RC(NULL, cshm_set_app_group(""), CSHM_OK);
  assert_derives("my_shared_memory", "/cshm_myshare_2p5koc4w43euvfwl");
  EXPECT_RC(NULL, cshm_set_app_group("group.x"), CSHM_OK);
  EXPECT_RC(NULL, cshm_set_app_group(NULL), CSHM_OK);
  assert_derives("a", "/cshm_a_q336in72uwt7zyk5");
}
#else
/* Default build: application groups are an Apple matter (the portable profile):
 * cshm_set_app_group says CSHM_ENOTSUP, for clearing too, and names stay plain. */
static void test_app_group_prefixes_derived_names(void **state) {
  (void)state;
  EXPECT_RC(NULL, cshm_set_app_group("group.x"), CSHM_ENOTSUP);
  assert_non_null(strstr(cshm_last_error_string(), "cshm_set_app_group"));
  EXPECT_RC(NULL, cshm_set_app_group(""), CSHM_ENOTSUP);
  EXPECT_RC(NULL, cshm_set_app_group(NULL), CSHM_ENOTSUP);
  assert_derives("my_shared_memory", "/cshm_myshare_2p5koc4w43euvfwl");
}
#endif

/* ---- last ----------------------------------------------------------------------- */

/* Nothing is left under any name the suite used: no object, and in the portable
 * profile no sidecar either. */
static void no_leftovers(void **state) {
  (void)state;
  assert_int_equal(ts_leftovers(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      /* Qt's promises */
      cmocka_unit_test(test_create_gives_data_and_exact_size),
      cmocka_unit_test(test_create_on_live_key_fails_then_attach_works_twice),
      cmocka_unit_test(test_attach_missing_is_enoent_and_leaves_handle_unattached),
      cmocka_unit_test(test_detach_then_reattach_works),
      cmocka_unit_test(test_detach_clears_size_and_data),
      cmocka_unit_test(test_new_memory_is_zero),
      cmocka_unit_test(test_simple_producer_consumer),
      cmocka_unit_test(test_simple_double_producer_consumer),
      cmocka_unit_test(test_remove_while_attached_qt),
      /* exact size and layout */
      cmocka_unit_test(test_size_is_exact_for_creator_and_attacher),
      cmocka_unit_test(test_object_is_header_area_plus_size),
      cmocka_unit_test(test_data_is_page_aligned),
      /* read-only */
      cmocka_unit_test(test_read_only_attach_reads_creator_data),
      cmocka_unit_test(test_read_only_attach_write_faults),
      cmocka_unit_test(test_read_only_create_gives_read_only_data),
      /* ownership */
      cmocka_unit_test(test_last_detacher_removes),
      cmocka_unit_test(test_creator_may_detach_first),
      cmocka_unit_test(test_remove_while_attached_keeps_old_data_and_spares_new),
      cmocka_unit_test(test_remove_missing_is_enoent),
      /* flags */
      cmocka_unit_test(test_create_or_attach_creates_when_missing),
      cmocka_unit_test(test_create_or_attach_attaches_existing_with_its_size),
      cmocka_unit_test(test_create_reserve_commits_memory),
      /* orphans */
      cmocka_unit_test(test_create_reclaims_orphan),
      cmocka_unit_test(test_create_no_reclaim_refuses_orphan),
      cmocka_unit_test(test_orphan_can_be_attached_and_detach_removes_it),
      /* permissions and descriptors */
      cmocka_unit_test(test_create_applies_permissions_despite_umask),
      cmocka_unit_test(test_default_permissions_are_0600),
#if !CSHM_TEST_PORTABLE
      cmocka_unit_test(test_modes_without_owner_write_create),
      cmocka_unit_test(test_owner_check_follows_seteuid),
#endif
      cmocka_unit_test(test_descriptors_are_close_on_exec),
      /* sizes */
      cmocka_unit_test(test_size_max_is_esize),
      cmocka_unit_test(test_size_overflowing_with_header_is_esize),
      cmocka_unit_test(test_size_beyond_free_space_is_enomem_and_leaves_nothing),
      cmocka_unit_test(test_failed_create_leaves_no_claim_on_the_name),
      /* header defences */
      cmocka_unit_test(test_bad_magic_is_ecorrupt),
      cmocka_unit_test(test_other_major_is_eversion),
      cmocka_unit_test(test_other_lock_abi_is_eversion),
      cmocka_unit_test(test_other_pid_namespace_is_enotsup),
      cmocka_unit_test(test_child_in_new_pid_namespace_is_enotsup),
      cmocka_unit_test(test_other_key_digest_is_ekey),
      cmocka_unit_test(test_live_collision_create_is_eexist),
      cmocka_unit_test(test_attach_keep_leaves_an_orphan),
      cmocka_unit_test(test_attach_keep_of_a_live_segment_is_removed_last),
      cmocka_unit_test_setup_teardown(test_never_ready_is_ecorrupt_after_wait, short_ready_wait,
                                      restore_ready_wait),
      cmocka_unit_test(test_user_size_beyond_object_is_ecorrupt),
      /* foreign and truncated objects */
      cmocka_unit_test(test_small_foreign_object_is_never_reclaimed),
      cmocka_unit_test(test_large_foreign_object_is_never_reclaimed),
      cmocka_unit_test(test_truncated_object_is_ecorrupt),
      cmocka_unit_test(test_truncated_orphan_of_ours),
      /* regressions of the review (last detachers, FIFOs, OR_ATTACH sizes) */
      cmocka_unit_test(test_two_last_detachers_at_once_leave_nothing),
      cmocka_unit_test(test_fifo_under_name_is_an_error_never_a_hang),
      cmocka_unit_test(test_create_or_attach_ignores_size_of_existing),
      cmocka_unit_test(test_create_or_attach_missing_with_size_0_is_esize),
      /* inspect and list */
      cmocka_unit_test(test_inspect_live_segment),
      cmocka_unit_test(test_inspect_reports_lock_owner_thread),
      cmocka_unit_test(test_inspect_orphan_reports_no_holder_and_disturbs_nothing),
      cmocka_unit_test(test_inspect_errors),
      cmocka_unit_test(test_list_includes_live_segment),
      cmocka_unit_test(test_list_without_callback_is_einval),
      cmocka_unit_test(test_list_stops_when_callback_returns_nonzero),
      /* application groups */
      cmocka_unit_test_teardown(test_app_group_prefixes_derived_names, clear_app_group),
      cmocka_unit_test(no_leftovers),
  };
  return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
