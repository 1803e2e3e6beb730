/* cshm: the command-line tool. Uses only the public API (and platform.h for the
 * two things a tool needs from the OS: starting a copy of itself, and waiting for
 * an interrupt). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "platform.h"

/* Exit codes (documented in --help and the README). */
enum {
  EXIT_OK = 0,
  EXIT_ERROR = 1,     /* any other cshm failure: the message says which */
  EXIT_USAGE = 2,     /* bad command line */
  EXIT_NOT_FOUND = 3, /* CSHM_ENOENT */
  EXIT_EXISTS = 4,    /* CSHM_EEXIST */
  EXIT_BUSY = 5,      /* CSHM_EBUSY, CSHM_ETIMEDOUT */
  EXIT_DENIED = 6     /* CSHM_EPERM */
};

static const char *program = "cshm";

static int exit_code_of(int rc) {
  switch (rc) {
  case CSHM_OK:
  case CSHM_OWNER_DIED: return EXIT_OK;
  case CSHM_ENOENT: return EXIT_NOT_FOUND;
  case CSHM_EEXIST: return EXIT_EXISTS;
  case CSHM_EBUSY:
  case CSHM_ETIMEDOUT: return EXIT_BUSY;
  case CSHM_EPERM: return EXIT_DENIED;
  default: return EXIT_ERROR;
  }
}

/* Reports a failed call on h (or, for NULL, the thread's last failure). */
static int report(const cshm *h, int rc) {
  fprintf(stderr, "%s: %s [%s]\n", program,
          h != NULL ? cshm_error_string(h) : cshm_last_error_string(), cshm_error_name(rc));
  return exit_code_of(rc);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", program);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry '%s --help'.\n", program);
  va_end(ap);
  return EXIT_USAGE;
}

/* ---- command line ----------------------------------------------------------- */

typedef struct options {
  const char *args[3];   /* positional arguments */
  int nargs;
  cshm_key_type type;
  bool native;           /* KEY is a native name */
  bool hex;
  bool or_attach, reserve;
  bool all;              /* notify --all */
  unsigned mode;
  bool mode_set;
  bool timeout_set;      /* --timeout given */
  uint32_t timeout_ms;   /* its value; CSHM_INFINITE for "infinite" */
  bool help;
  const char *usage; /* the command's usage line, for messages */
} options;

static bool parse_type(const char *s, cshm_key_type *t) {
  static const struct { const char *name; cshm_key_type type; } types[] = {
      {"default", CSHM_KEY_DEFAULT},
      {"qt-legacy", CSHM_KEY_QT_LEGACY},
      {"qt-legacy-posix", CSHM_KEY_QT_LEGACY_POSIX},
      {"qt-platform-safe", CSHM_KEY_QT_PLATFORM_SAFE},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(s, types[i].name) == 0) {
      *t = types[i].type;
      return true;
    }
  return false;
}

static const char *type_name(cshm_key_type t) {
  switch (t) {
  case CSHM_KEY_DEFAULT: return "default";
  case CSHM_KEY_QT_LEGACY: return "qt-legacy";
  case CSHM_KEY_QT_LEGACY_POSIX: return "qt-legacy-posix";
  case CSHM_KEY_QT_PLATFORM_SAFE: return "qt-platform-safe";
  }
  return "?";
}

/* Parses argv[first..] into o; `allowed` lists the options the command takes. */
static int parse(int argc, char **argv, int first, const char *allowed, options *o) {
  memset(o, 0, sizeof *o);
  o->mode = 0600;
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    const char *opt = a[0] == '-' && a[1] == '-' ? a + 2 : NULL;
    if (opt == NULL || strcmp(a, "-") == 0) {
      if (o->nargs == 3)
        return usage_error("too many arguments at '%s'", a);
      o->args[o->nargs++] = a;
      continue;
    }
    const char *value = strchr(opt, '=');
    size_t len = value != NULL ? (size_t)(value - opt) : strlen(opt);
    char name[32];
    if (len >= sizeof name)
      return usage_error("unknown option '%s'", a);
    memcpy(name, opt, len);
    name[len] = '\0';
    if (strcmp(name, "help") == 0) {
      o->help = true;
      continue;
    }
    char pattern[40];
    snprintf(pattern, sizeof pattern, " %s ", name);
    if (strstr(allowed, pattern) == NULL)
      return usage_error("unknown option '%s' for this command", a);
    bool takes_value = strcmp(name, "type") == 0 || strcmp(name, "mode") == 0 ||
                       strcmp(name, "timeout") == 0;
    if (takes_value && value == NULL) {
      if (i + 1 == argc)
        return usage_error("option '%s' needs a value", a);
      value = argv[++i];
    } else if (value != NULL) {
      if (!takes_value)
        return usage_error("option '%s' takes no value", a);
      value++;
    }
    char *end;
    if (strcmp(name, "type") == 0) {
      if (!parse_type(value, &o->type))
        return usage_error("unknown key type '%s' (default, qt-legacy, qt-legacy-posix, "
                           "qt-platform-safe)", value);
    } else if (strcmp(name, "mode") == 0) {
      errno = 0;
      unsigned long m = strtoul(value, &end, 8);
      if (errno != 0 || *end != '\0' || *value == '\0' || m > 0777)
        return usage_error("--mode wants octal permission bits such as 0644, not '%s'", value);
      o->mode = (unsigned)m;
      o->mode_set = true;
    } else if (strcmp(name, "timeout") == 0) {
      o->timeout_set = true;
      if (strcmp(value, "infinite") == 0) {
        o->timeout_ms = CSHM_INFINITE;
        continue;
      }
      errno = 0;
      long ms = strtol(value, &end, 10);
      if (errno != 0 || *end != '\0' || *value == '\0' || ms < 0 || ms >= (long)CSHM_INFINITE)
        return usage_error("--timeout wants milliseconds, not '%s' ('infinite': no limit)", value);
      o->timeout_ms = (uint32_t)ms;
    } else if (strcmp(name, "native") == 0) {
      o->native = true;
    } else if (strcmp(name, "hex") == 0) {
      o->hex = true;
    } else if (strcmp(name, "or-attach") == 0) {
      o->or_attach = true;
    } else if (strcmp(name, "reserve") == 0) {
      o->reserve = true;
    } else if (strcmp(name, "all") == 0) {
      o->all = true;
    }
  }
  return EXIT_OK;
}

static int want_args(const options *o, int min, int max) {
  if (o->nargs < min)
    return usage_error("missing argument; usage: %s %s", program, o->usage);
  if (o->nargs > max)
    return usage_error("unexpected argument '%s'", o->args[max]);
  return EXIT_OK;
}

/* A handle on KEY (or the native name, with --native) of the chosen type. */
static int open_handle(const options *o, cshm **out) {
  cshm *h = NULL;
  int rc = cshm_new(&h, NULL);
  if (rc < 0)
    return report(NULL, rc);
  if (o->native)
    rc = cshm_set_native_key(h, o->args[0], o->type);
  else if ((rc = cshm_set_key_type(h, o->type)) == CSHM_OK)
    rc = cshm_set_key(h, o->args[0]);
  if (rc == CSHM_OK && o->mode_set)
    rc = cshm_set_permissions(h, o->mode);
  if (rc < 0) {
    int code = report(h, rc);
    cshm_free(h);
    return code;
  }
  *out = h;
  return EXIT_OK;
}

/* The start of every command that takes exactly a KEY: its argument, then its handle. */
static int command_handle(const options *o, cshm **h) {
  int code = want_args(o, 1, 1);
  return code != EXIT_OK ? code : open_handle(o, h);
}

/* ---- commands ------------------------------------------------------------- */

typedef struct command {
  const char *name;
  const char *options; /* " name name " */
  const char *usage;
  const char *summary; /* for the command list of --help: one short line */
  const char *help;    /* for COMMAND --help: lines of at most 80 columns */
  int (*run)(const options *o);
} command;

/* The power of two a SIZE suffix stands for (binary, either case); 0 for none. */
static unsigned suffix_shift(char c) {
  switch (c) {
  case 'K': case 'k': return 10;
  case 'M': case 'm': return 20;
  case 'G': case 'g': return 30;
  default: return 0;
  }
}

static int size_too_large(const char *text) {
  return usage_error("SIZE '%s' is too large: more than %llu bytes", text,
                     (unsigned long long)SIZE_MAX);
}

/* Parses a SIZE: decimal digits, then optionally one of K, M, G in either case
 * (x 1024, 1024^2, 1024^3), and nothing else - no sign, space, "B" or "i" (a "KB"
 * could mean 1000). Returns EXIT_OK, or a usage error naming what was wrong. */
static int parse_size(const char *text, size_t *out) {
  size_t ndigits = strspn(text, "0123456789");
  const char *suffix = text + ndigits;
  unsigned shift = suffix_shift(suffix[0]);
  if (ndigits == 0 || (suffix[0] != '\0' && (shift == 0 || suffix[1] != '\0')))
    return usage_error("SIZE must be digits with an optional K, M or G suffix, not '%s'", text);
  size_t size = 0;
  for (size_t i = 0; i < ndigits; i++) {
    size_t digit = (size_t)(text[i] - '0');
    if (size > (SIZE_MAX - digit) / 10)
      return size_too_large(text);
    size = size * 10 + digit;
  }
  if (size > SIZE_MAX >> shift)
    return size_too_large(text);
  *out = size << shift;
  return EXIT_OK;
}

static int do_create(const options *o) {
  int code = want_args(o, 2, 2);
  if (code != EXIT_OK)
    return code;
  size_t size = 0; /* gcc -O3 cannot see that parse_size() sets it on EXIT_OK */
  if ((code = parse_size(o->args[1], &size)) != EXIT_OK)
    return code;
  cshm *h = NULL;
  if ((code = open_handle(o, &h)) != EXIT_OK)
    return code;
  bool created = false;
  unsigned flags = (o->or_attach ? CSHM_CREATE_OR_ATTACH : 0u) |
                   (o->reserve ? CSHM_CREATE_RESERVE : 0u);
  int rc = cshm_create_ex(h, size, CSHM_READ_WRITE, flags, &created);
  if (rc < 0) {
    code = report(h, rc);
    cshm_free(h);
    return code;
  }
  cshm_tool_hold_interrupts();
  printf("%s %s (%zu bytes); holding it until interrupted (Ctrl-C)\n",
         created ? "created" : "attached to", cshm_native_key(h), cshm_size(h));
  fflush(stdout);
  cshm_tool_wait_for_interrupt();
  cshm_free(h);
  printf("detached\n");
  return EXIT_OK;
}

/* How long read and write wait for the lock without --timeout. A short command must
 * not hang silently forever behind a holder that never lets go (a stuck process, or
 * a Qt POSIX semaphore whose holder died); --timeout infinite waits forever. */
#define READ_WRITE_WAIT_MS 5000u

/* The milliseconds left of `total` since `start` (CSHM_INFINITE stays so). */
static uint32_t time_left(unsigned long long start, uint32_t total) {
  if (total == CSHM_INFINITE)
    return CSHM_INFINITE;
  unsigned long long spent = cshm_tool_now_ms() - start;
  return spent >= total ? 0u : (uint32_t)(total - spent);
}

/* Attaches h with `mode` and `flags` (CSHM_ATTACH_*) and takes the lock, both within
 * `ms` together: the Qt key types on Unix take Qt's lock at attach as well. */
static int attach_and_lock(cshm *h, cshm_access mode, unsigned flags, uint32_t ms) {
  unsigned long long start = cshm_tool_now_ms();
  int rc = cshm_attach_ex(h, mode, flags, ms);
  return rc == CSHM_OK ? cshm_lock_timeout(h, time_left(start, ms)) : rc;
}

/* attach_and_lock() for read and write (--timeout, or READ_WRITE_WAIT_MS), saying
 * so if the lock's owner died. */
static int attach_locked(cshm *h, cshm_access mode, unsigned flags, const options *o) {
  int rc = attach_and_lock(h, mode, flags, o->timeout_set ? o->timeout_ms : READ_WRITE_WAIT_MS);
  if (rc == CSHM_OWNER_DIED)
    fprintf(stderr, "%s: note: the lock's previous owner died holding it\n", program);
  return rc;
}

/* report() for read and write: after the default bound ran out, how to wait longer. */
static int report_locked(const cshm *h, int rc, const options *o) {
  int code = report(h, rc);
  if (rc == CSHM_ETIMEDOUT && !o->timeout_set)
    fprintf(stderr, "%s: note: the lock stayed held for %u ms, the default bound of read "
            "and write; --timeout MS waits longer, --timeout infinite forever\n", program,
            READ_WRITE_WAIT_MS);
  return code;
}

static int do_write(const options *o) {
  int code = want_args(o, 1, 2);
  if (code != EXIT_OK)
    return code;
  const char *text = o->nargs == 2 ? o->args[1] : "-";
  char *input = NULL;
  size_t len;
  if (strcmp(text, "-") == 0) {
    size_t cap = 0;
    len = 0;
    for (;;) {
      if (len == cap) {
        cap = cap ? cap * 2 : 4096;
        char *grown = realloc(input, cap);
        if (grown == NULL) {
          free(input);
          fprintf(stderr, "%s: out of memory reading standard input\n", program);
          return EXIT_ERROR;
        }
        input = grown;
      }
      size_t got = fread(input + len, 1, cap - len, stdin);
      len += got;
      if (got == 0)
        break;
    }
    text = input;
  } else {
    len = strlen(text);
  }
  cshm *h = NULL;
  if ((code = open_handle(o, &h)) != EXIT_OK) {
    free(input);
    return code;
  }
  int rc = attach_locked(h, CSHM_READ_WRITE, 0, o);
  if (rc >= 0) {
    if (len > cshm_size(h)) {
      fprintf(stderr, "%s: %zu bytes do not fit the segment's %zu\n", program, len, cshm_size(h));
      code = EXIT_ERROR;
    } else {
      memcpy(cshm_data(h), text, len);
      /* A NUL after text when there is room, so that `cshm read` ends there. */
      if (len < cshm_size(h))
        ((char *)cshm_data(h))[len] = '\0';
    }
    rc = cshm_unlock(h);
  }
  if (rc < 0)
    code = report_locked(h, rc, o);
  cshm_free(h);
  free(input);
  return code;
}

static void print_hex(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    printf("%08zx ", i);
    for (size_t j = i; j < i + 16; j++)
      j < n ? printf(" %02x", p[j]) : printf("   ");
    printf("  |");
    for (size_t j = i; j < i + 16 && j < n; j++)
      putchar(p[j] >= 0x20 && p[j] < 0x7f ? p[j] : '.');
    printf("|\n");
  }
}

static int do_read(const options *o) {
  cshm *h = NULL;
  int code = command_handle(o, &h);
  if (code != EXIT_OK)
    return code;
  /* One look must not destroy a crashed application's data: a reader leaves an
   * orphan in place, even as the only one to attach (CSHM_ATTACH_KEEP). */
  int rc = attach_locked(h, CSHM_READ_ONLY, CSHM_ATTACH_KEEP, o);
  if (rc >= 0) {
    size_t size = cshm_size(h);
    unsigned char *copy = malloc(size);
    if (copy != NULL)
      memcpy(copy, cshm_const_data(h), size);
    rc = cshm_unlock(h);
    if (copy == NULL) {
      fprintf(stderr, "%s: out of memory\n", program);
      code = EXIT_ERROR;
    } else if (o->hex) {
      print_hex(copy, size);
    } else {
      const unsigned char *nul = memchr(copy, '\0', size);
      fwrite(copy, 1, nul != NULL ? (size_t)(nul - copy) : size, stdout);
      putchar('\n');
    }
    free(copy);
  }
  if (rc < 0)
    code = report_locked(h, rc, o);
  cshm_free(h);
  return code;
}

static void print_lock_state(const cshm_info *info) {
  switch (info->locked) {
  case CSHM_LOCK_FREE: printf("lock:        free\n"); break;
  case CSHM_LOCK_HELD:
    if (info->lock_owner != 0)
      printf("lock:        held by thread %u\n", (unsigned)info->lock_owner);
    else
      printf("lock:        held\n");
    break;
  case CSHM_LOCK_OWNER_DIED:
    printf("lock:        owner died holding it; the next locker is told\n");
    break;
  default: printf("lock:        unknown on this OS\n"); break;
  }
}

static int do_info(const options *o) {
  cshm *h = NULL;
  int code = command_handle(o, &h);
  if (code != EXIT_OK)
    return code;
  cshm_info info;
  int rc = cshm_inspect(h, &info);
  if (rc < 0) {
    code = report(h, rc);
  } else {
    if (cshm_key(h) != NULL)
      printf("key:         %s\n", cshm_key(h));
    printf("native name: %s\n", cshm_native_key(h));
    printf("key type:    %s\n", type_name(cshm_get_key_type(h)));
    printf("size:        %llu bytes\n", (unsigned long long)info.size);
    printf("format:      %u.%u\n", info.format_major, info.format_minor);
    printf("creator pid: %u\n", (unsigned)info.creator_pid);
    print_lock_state(&info);
    printf("attached:    %s\n", info.attached > 0    ? "yes"
                                : info.attached == 0 ? "no (an orphan: the next create replaces it)"
                                                     : "unknown on this OS");
  }
  cshm_free(h);
  return code;
}

static int do_rm(const options *o) {
  int code = want_args(o, 1, 1);
  if (code != EXIT_OK)
    return code;
  int rc = o->native ? cshm_remove_native(o->args[0], o->type) : cshm_remove(o->args[0], o->type);
  return rc < 0 ? report(NULL, rc) : EXIT_OK;
}

static int do_name(const options *o) {
  int code = want_args(o, 1, 1);
  if (code != EXIT_OK)
    return code;
  char native[1024];
  int rc = cshm_native_key_for(native, sizeof native, o->args[0], o->type);
  if (rc < 0)
    return report(NULL, rc);
  printf("%s\n", native);
  return EXIT_OK;
}

static void print_list_header(void) {
  printf("%-40s %12s  %s\n", "NATIVE NAME", "SIZE", "STATE");
}

static int list_one(const char *native, void *ctx) {
  bool *header_printed = ctx;
  if (!*header_printed) {
    print_list_header();
    *header_printed = true;
  }
  cshm *h = NULL;
  cshm_info info;
  if (cshm_new(&h, NULL) == CSHM_OK && cshm_set_native_key(h, native, CSHM_KEY_DEFAULT) == CSHM_OK &&
      cshm_inspect(h, &info) == CSHM_OK)
    printf("%-40s %12llu  %s\n", native, (unsigned long long)info.size,
           info.attached > 0 ? "attached" : info.attached == 0 ? "orphan" : "?");
  else
    printf("%-40s %12s  %s\n", native, "-", cshm_error_name(cshm_error(h)));
  cshm_free(h);
  return 0;
}

static int do_ls(const options *o) {
  int code = want_args(o, 0, 0);
  if (code != EXIT_OK)
    return code;
  bool header_printed = false;
  int rc = cshm_list(list_one, &header_printed);
  if (rc < 0)
    return report(NULL, rc); /* nothing printed: where listing is impossible, no table */
  if (!header_printed)
    print_list_header();
  return EXIT_OK;
}

static int do_lock(const options *o) {
  cshm *h = NULL;
  int code = command_handle(o, &h);
  if (code != EXIT_OK)
    return code;
  /* Without --timeout, wait as long as it takes: holding the lock is the point. */
  int rc = attach_and_lock(h, CSHM_READ_ONLY, 0, o->timeout_set ? o->timeout_ms : CSHM_INFINITE);
  if (rc < 0) {
    code = report(h, rc);
  } else {
    cshm_tool_hold_interrupts();
    printf("locked %s%s; holding the lock until interrupted (Ctrl-C)\n", cshm_native_key(h),
           rc == CSHM_OWNER_DIED ? " (its previous owner died holding it)" : "");
    fflush(stdout);
    cshm_tool_wait_for_interrupt();
    if ((rc = cshm_unlock(h)) < 0)
      code = report(h, rc);
    else
      printf("unlocked\n");
  }
  cshm_free(h);
  return code;
}

/* ---- wait and notify ------------------------------------------------------------ */

/* How long `wait` sleeps in one call before it looks for an interrupt: the library's
 * waits do not end on a signal, and a handle must not be detached from a signal
 * handler, so the tool wakes this often to see whether it was asked to stop. */
#define WAIT_SLICE_MS 100u

/* The library refuses the Qt key types (they have no notification) before it looks at
 * the attachment: asking it first, on the unattached handle, means a Qt segment is
 * never attached only to be refused (qt-legacy's attach would take Qt's lock). */
static int refuse_unwaitable(cshm *h) {
  uint32_t unused;
  int rc = cshm_event_value(h, &unused);
  return rc == CSHM_ENOTSUP ? report(h, rc) : EXIT_OK;
}

/* cshm_event_wait() for `ms` (CSHM_INFINITE: no limit), in slices of WAIT_SLICE_MS;
 * between two, *interrupt is set to a held interrupt's signal number, which ends the
 * wait (the return value then means nothing). */
static int wait_for_event(cshm *h, uint32_t seen, uint32_t ms, int *interrupt) {
  unsigned long long start = cshm_tool_now_ms();
  for (;;) {
    uint32_t left = time_left(start, ms);
    uint32_t slice = left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS;
    int rc = cshm_event_wait(h, seen, slice);
    if (rc != CSHM_ETIMEDOUT || slice == left)
      return rc;
    if ((*interrupt = cshm_tool_interrupt_pending()) != 0)
      return rc;
  }
}

/* The handle of wait and notify: attached read-write (a waiter registers in the
 * header, a signal changes it) as an observer: an orphan stays one. */
static int attach_for_events(const options *o, cshm **out, uint32_t ms) {
  cshm *h = NULL;
  int code = command_handle(o, &h);
  if (code != EXIT_OK)
    return code;
  if ((code = refuse_unwaitable(h)) == EXIT_OK) {
    int rc = cshm_attach_ex(h, CSHM_READ_WRITE, CSHM_ATTACH_KEEP, ms);
    if (rc == CSHM_OK) {
      *out = h;
      return EXIT_OK;
    }
    code = report(h, rc);
  }
  cshm_free(h);
  return code;
}

static int do_wait(const options *o) {
  /* Held from the start: an interrupt at any point ends the command through the
   * code below, which detaches. */
  cshm_tool_hold_interrupts();
  uint32_t ms = o->timeout_set ? o->timeout_ms : CSHM_INFINITE; /* waiting is the point */
  unsigned long long start = cshm_tool_now_ms();
  cshm *h = NULL;
  int code = attach_for_events(o, &h, ms);
  if (code != EXIT_OK)
    return code;
  uint32_t seen;
  int rc = cshm_event_value(h, &seen);
  int interrupt = 0;
  if (rc == CSHM_OK) {
    /* On stderr, so that stdout holds only the answer: v=$(cshm wait KEY). */
    fprintf(stderr, "%s: waiting for %s (event %u)\n", program, cshm_native_key(h),
            (unsigned)seen);
    rc = wait_for_event(h, seen, time_left(start, ms), &interrupt);
  }
  if (interrupt != 0) {
    fprintf(stderr, "%s: interrupted (signal %d) before the event changed\n", program,
            interrupt);
    code = 128 + interrupt; /* what a shell reports for a process the signal ended */
  } else if (rc == CSHM_OK && (rc = cshm_event_value(h, &seen)) == CSHM_OK) {
    printf("%u\n", (unsigned)seen);
  }
  if (rc < 0 && interrupt == 0)
    code = report(h, rc);
  cshm_free(h);
  return code;
}

static int do_notify(const options *o) {
  cshm *h = NULL;
  /* The default key type takes no user lock at attach: the bound does not apply. */
  int code = attach_for_events(o, &h, CSHM_INFINITE);
  if (code != EXIT_OK)
    return code;
  /* Both mechanisms: a `cshm wait` (or a program's cshm_event_wait()) watches the
   * event word, a program's consumer may sleep in cshm_wait() instead. */
  int rc = cshm_event_signal(h);
  if (rc == CSHM_OK)
    rc = o->all ? cshm_notify_all(h) : cshm_notify_one(h);
  if (rc < 0)
    code = report(h, rc);
  cshm_free(h);
  return code;
}

/* demo: two processes share "Hello, world!" through one segment. */
static int demo_fail(cshm *h, int rc) {
  int code = report(h, rc);
  cshm_free(h);
  return code;
}

static int demo_child(const char *key) {
  unsigned pid = cshm_tool_pid();
  cshm *h = NULL;
  int rc = cshm_new(&h, key);
  if (rc < 0)
    return report(NULL, rc);
  if ((rc = cshm_attach(h, CSHM_READ_WRITE)) < 0 || (rc = cshm_lock(h)) < 0)
    return demo_fail(h, rc);
  printf("[second process, pid %u] attached to %s and took the lock; it reads: \"%s\"\n", pid,
         cshm_native_key(h), (const char *)cshm_const_data(h));
  snprintf(cshm_data(h), cshm_size(h), "Hello back from pid %u!", pid);
  if ((rc = cshm_unlock(h)) < 0 || (rc = cshm_detach(h)) < 0)
    return demo_fail(h, rc);
  printf("[second process, pid %u] wrote a reply, unlocked and detached\n", pid);
  cshm_free(h);
  return EXIT_OK;
}

static int do_demo(const options *o) {
  int code = want_args(o, 0, 0);
  if (code != EXIT_OK)
    return code;
  unsigned pid = cshm_tool_pid();
  char key[64];
  snprintf(key, sizeof key, "cshm-demo-%u", pid);
  cshm *h = NULL;
  int rc = cshm_new(&h, key);
  if (rc < 0)
    return report(NULL, rc);
  if ((rc = cshm_create(h, 4096, CSHM_READ_WRITE)) < 0 || (rc = cshm_lock(h)) < 0)
    return demo_fail(h, rc);
  memcpy(cshm_data(h), "Hello, world!", sizeof "Hello, world!");
  if ((rc = cshm_unlock(h)) < 0)
    return demo_fail(h, rc);
  printf("[first process,  pid %u] created segment \"%s\" (native name %s, %zu bytes)\n", pid,
         key, cshm_native_key(h), cshm_size(h));
  printf("[first process,  pid %u] wrote \"Hello, world!\" under the lock; starting a second "
         "process\n", pid);
  fflush(stdout);
  int child = cshm_tool_run_self((const char *[]){"demo", "--child", key, NULL});
  if (child != 0) {
    fprintf(stderr, "%s: the second process failed (status %d)\n", program, child);
    cshm_free(h);
    return EXIT_ERROR;
  }
  if ((rc = cshm_lock(h)) < 0)
    return demo_fail(h, rc);
  printf("[first process,  pid %u] took the lock again; it reads: \"%s\"\n", pid,
         (const char *)cshm_const_data(h));
  if ((rc = cshm_unlock(h)) < 0 || (rc = cshm_detach(h)) < 0)
    return demo_fail(h, rc);
  rc = cshm_attach(h, CSHM_READ_ONLY);
  if (rc == CSHM_ENOENT)
    printf("[first process,  pid %u] detached last: %s\n", pid, cshm_tool_ownership_note());
  else if (rc == CSHM_OK)
    printf("[first process,  pid %u] detached; the segment lives on while other handles are "
           "open\n", pid);
  else
    return demo_fail(h, rc);
  cshm_free(h);
  return EXIT_OK;
}

static const command commands[] = {
    {"demo", " ", "demo", "Two processes share \"Hello, world!\"",
     "Starts a second process; the two share \"Hello, world!\" through a segment\n"
     "under its lock, then show the ownership rule at work.", do_demo},
    {"create", " type native mode or-attach reserve ", "create KEY SIZE",
     "Create a segment, hold it until Ctrl-C",
     "Creates a segment of SIZE bytes and holds it until interrupted; then detaches\n"
     "(on Unix the last detacher removes it).\n"
     "SIZE is decimal digits and an optional suffix K, M or G (either case) meaning\n"
     "x1024, x1024^2, x1024^3: 4k is 4096 bytes. Anything else (a sign, a space, a\n"
     "fraction, \"B\", \"KiB\") is bad usage, and so is a SIZE over SIZE_MAX bytes.\n"
     "  --mode OCTAL   permission bits (default 0600), applied exactly\n"
     "  --or-attach    attach if it exists\n"
     "  --reserve      commit the memory now (fails now instead of faulting later)",
     do_create},
    {"write", " type native timeout ", "write KEY [TEXT|-]", "Write TEXT or stdin under the lock",
     "Writes TEXT (or standard input, with - or no TEXT) at the start of the data,\n"
     "under the lock, followed by a NUL byte when there is room.\n"
     "  --timeout MS   wait at most MS ms to attach and lock (default 5000;\n"
     "                 'infinite')",
     do_write},
    {"read", " type native hex timeout ", "read KEY [--hex]", "Print the data under the lock",
     "Prints the data under the lock: as text up to the first NUL, or as a hex\n"
     "dump. An orphan (a crashed program's data) stays in place.\n"
     "  --hex          a hex dump\n"
     "  --timeout MS   wait at most MS ms to attach and lock (default 5000;\n"
     "                 'infinite')",
     do_read},
    {"info", " type native timeout ", "info KEY", "Describe a segment without attaching",
     "Describes a segment without attaching: native name, key type, size, format\n"
     "version, creator pid, the lock (free, held, or its owner died holding it:\n"
     "the next locker is told), whether anyone is attached.\n"
     "  --timeout MS   accepted as by read; info never waits for the lock (it reads\n"
     "                 its state without taking it), so there is nothing to bound",
     do_info},
    {"rm", " type native ", "rm KEY", "Remove a segment's name now",
     "Removes the segment's name now, whoever uses it (not on Windows: the kernel\n"
     "owns segments there). With --native, KEY is a native name such as 'cshm ls'\n"
     "prints: this removes an orphan whose key is unknown.", do_rm},
    {"name", " type ", "name KEY [--type TYPE]", "Print the native name KEY derives to",
     "Prints the native name KEY derives to.", do_name},
    {"ls", " ", "ls", "List this machine's segments (Linux)",
     "Lists the cshm segments of this machine (Linux only).", do_ls},
    {"lock", " type native timeout ", "lock KEY [--timeout MS]",
     "Take the lock, hold it until Ctrl-C",
     "Takes the segment's lock and holds it until interrupted.\n"
     "  --timeout MS   wait at most MS ms to attach and lock, together (default and\n"
     "                 'infinite': as long as it takes)",
     do_lock},
    {"wait", " type native timeout ", "wait KEY [--timeout MS]",
     "Wait for the event word to change",
     "Waits until the segment's event word changes (cshm_event_wait(): no lock is\n"
     "taken), then prints its new value on stdout. While waiting it says\n"
     "\"cshm: waiting for NAME (event N)\" on stderr. Only a change after the\n"
     "command read the value counts: one made before it started is not seen.\n"
     "Status 5 when the time runs out; an interrupt (Ctrl-C, SIGTERM, SIGHUP) ends\n"
     "the wait, detaching, with status 128 + the signal number (130 for Ctrl-C).\n"
     "No Qt key type: they have no notification (CSHM_ENOTSUP, status 1).\n"
     "  --timeout MS   wait at most MS ms to attach and see a change, together\n"
     "                 (default and 'infinite': as long as it takes)",
     do_wait},
    {"notify", " type native all ", "notify KEY [--all]", "Signal the event, wake a waiter",
     "Increments the segment's event word, waking every 'cshm wait' and every\n"
     "cshm_event_wait() (cshm_event_signal()), then wakes one program thread in\n"
     "cshm_wait() (cshm_notify_one()). Takes no lock and never waits for one.\n"
     "No Qt key type: they have no notification (CSHM_ENOTSUP, status 1).\n"
     "  --all          wake every thread in cshm_wait() (cshm_notify_all())",
     do_notify},
};

static void print_help(void) {
  printf("Usage: %s COMMAND [OPTIONS] ...\n\n"
         "Named shared-memory segments with a cross-process lock.\n\nCommands:\n",
         program);
  /* One line per command (.ci/steps/85-lint-docs.sh reads the first word of each),
   * the summaries in a column after the longest usage. */
  int width = 0;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if ((int)strlen(commands[i].usage) > width)
      width = (int)strlen(commands[i].usage);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    printf("  %-*s  %s\n", width, commands[i].usage, commands[i].summary);
  printf("\nOptions of the commands that take a KEY:\n"
         "  --type TYPE    key type: default, qt-legacy, qt-legacy-posix,\n"
         "                 qt-platform-safe\n"
         "  --native       KEY is a native name used verbatim (e.g. /cshm_x_...)\n"
         "\n'%s COMMAND --help' describes one command;\n"
         "'%s --version' prints the version.\n"
         "\nExit status: 0 success, 1 error, 2 bad usage, 3 not found, 4 already exists,\n"
         "5 lock busy or timed out, 6 permission denied; an interrupted wait:\n"
         "128 + the signal number.\n",
         program, program);
}

/* The tool's entry, with UTF-8 arguments: main() in platform_posix.c, wmain() in
 * platform_win32.c. */
int cshm_tool_main(int argc, char **argv) {
  cshm_tool_init(argv[0]);
  if (argc < 2)
    return usage_error("%s", "missing COMMAND");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
    print_help();
    return EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("cshm %s\n", cshm_version_string());
    return EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    const command *c = &commands[i];
    if (strcmp(argv[1], c->name) != 0)
      continue;
    options o;
    /* demo --child KEY is the demo's own re-entry: no option parsing. */
    if (c->run == do_demo && argc == 4 && strcmp(argv[2], "--child") == 0)
      return demo_child(argv[3]);
    int code = parse(argc, argv, 2, c->options, &o);
    if (code != EXIT_OK)
      return code;
    o.usage = c->usage;
    if (o.help) {
      printf("Usage: %s %s\n\n%s\n", program, c->usage, c->help);
      return EXIT_OK;
    }
    return c->run(&o);
  }
  return usage_error("unknown command '%s'", argv[1]);
}
