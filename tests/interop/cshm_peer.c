/* The cshm side of the interop tests: a cshm handle driven by the line protocol of
 * peer.h, the same one qt_probe.cpp speaks, plus what only cshm has (key types,
 * try-lock, timed lock, create flags, removal, inspection). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cshm/cshm.h"

static void reply(const char *line) {
  puts(line);
  fflush(stdout);
}

static void fail(int rc, const char *detail) {
  printf("err %s %s\n", cshm_error_name(rc), detail);
  fflush(stdout);
}

static char *unhex(const char *s, size_t *len) {
  size_t n = strlen(s) / 2;
  char *out = malloc(n + 1);
  if (out == NULL)
    exit(3);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1)
      exit(3);
    out[i] = (char)v;
  }
  out[n] = '\0';
  if (len != NULL)
    *len = n;
  return out;
}

static void print_hex_ok(const unsigned char *p, size_t n) {
  fputs("ok ", stdout);
  for (size_t i = 0; i < n; i++)
    printf("%02x", p[i]);
  putchar('\n');
  fflush(stdout);
}

static bool type_named(const char *s, cshm_key_type *t) {
  static const struct {
    const char *name;
    cshm_key_type type;
  } types[] = {{"default", CSHM_KEY_DEFAULT},
               {"qt-legacy", CSHM_KEY_QT_LEGACY},
               {"qt-legacy-posix", CSHM_KEY_QT_LEGACY_POSIX},
               {"qt-platform-safe", CSHM_KEY_QT_PLATFORM_SAFE}};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp(s, types[i].name) == 0) {
      *t = types[i].type;
      return true;
    }
  return false;
}

int main(void) {
  cshm *h;
  if (cshm_new(&h, NULL) != CSHM_OK)
    return 3;
  cshm_key_type type = CSHM_KEY_QT_LEGACY;
  if (cshm_set_key_type(h, type) != CSHM_OK)
    return 3;
  char line[8192];
  printf("ready cshm %s\n", cshm_version_string());
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    char *arg = strchr(line, ' ');
    if (arg != NULL)
      *arg++ = '\0';
    else
      arg = line + strlen(line);
    const char *cmd = line;
    int rc = CSHM_OK;
    if (strcmp(cmd, "type") == 0) {
      if (!type_named(arg, &type)) {
        fail(CSHM_EINVAL, "unknown key type");
        continue;
      }
      rc = cshm_set_key_type(h, type);
      rc < 0 ? fail(rc, cshm_error_string(h)) : reply("ok");
    } else if (strcmp(cmd, "key") == 0) {
      char *key = unhex(arg, NULL);
      rc = cshm_set_key(h, key);
      free(key);
      if (rc < 0) {
        fail(rc, cshm_error_string(h));
      } else {
        const char *n = cshm_native_key(h);
        print_hex_ok((const unsigned char *)n, strlen(n));
      }
    } else if (strcmp(cmd, "native") == 0) {
      char *native = unhex(arg, NULL);
      rc = cshm_set_native_key(h, native, type);
      free(native);
      rc < 0 ? fail(rc, cshm_error_string(h)) : reply("ok");
    } else if (strcmp(cmd, "create") == 0) {
      unsigned flags = 0;
      if (strstr(arg, "noreclaim") != NULL)
        flags |= CSHM_CREATE_NO_RECLAIM;
      if (strstr(arg, "orattach") != NULL)
        flags |= CSHM_CREATE_OR_ATTACH;
      cshm_access mode = strstr(arg, " ro") != NULL ? CSHM_READ_ONLY : CSHM_READ_WRITE;
      bool created = false;
      rc = cshm_create_ex(h, (size_t)strtoull(arg, NULL, 10), mode, flags, &created);
      if (rc < 0)
        fail(rc, cshm_error_string(h));
      else
        printf("ok %zu %s\n", cshm_size(h), created ? "created" : "attached"), fflush(stdout);
    } else if (strcmp(cmd, "attach") == 0) {
      /* "attach rw|ro [MS]": with MS, cshm_attach_timeout(). */
      cshm_access mode = strncmp(arg, "ro", 2) == 0 ? CSHM_READ_ONLY : CSHM_READ_WRITE;
      const char *ms = strchr(arg, ' ');
      rc = ms != NULL ? cshm_attach_timeout(h, mode, (uint32_t)strtoul(ms + 1, NULL, 10))
                      : cshm_attach(h, mode);
      if (rc < 0)
        fail(rc, cshm_error_string(h));
      else
        printf("ok %zu\n", cshm_size(h)), fflush(stdout);
    } else if (strcmp(cmd, "lock") == 0 || strcmp(cmd, "trylock") == 0 ||
               strcmp(cmd, "locktimeout") == 0) {
      rc = cmd[4] == '\0'       ? cshm_lock(h)
           : cmd[0] == 't'      ? cshm_try_lock(h)
                                : cshm_lock_timeout(h, (uint32_t)strtoul(arg, NULL, 10));
      if (rc < 0)
        fail(rc, cshm_error_string(h));
      else
        reply(rc == CSHM_OWNER_DIED ? "ok owner-died" : "ok");
    } else if (strcmp(cmd, "unlock") == 0) {
      rc = cshm_unlock(h);
      rc < 0 ? fail(rc, cshm_error_string(h)) : reply("ok");
    } else if (strcmp(cmd, "write") == 0) {
      size_t n;
      char *bytes = unhex(arg, &n);
      if (cshm_data(h) == NULL || n > cshm_size(h))
        fail(CSHM_EINVAL, "not attached or too long");
      else
        memcpy(cshm_data(h), bytes, n), reply("ok");
      free(bytes);
    } else if (strcmp(cmd, "read") == 0) {
      size_t n = (size_t)strtoull(arg, NULL, 10);
      if (cshm_const_data(h) == NULL || n > cshm_size(h))
        fail(CSHM_EINVAL, "not attached or too long");
      else
        print_hex_ok(cshm_const_data(h), n);
    } else if (strcmp(cmd, "size") == 0) {
      printf("ok %zu\n", cshm_size(h)), fflush(stdout);
    } else if (strcmp(cmd, "detach") == 0) {
      rc = cshm_detach(h);
      rc < 0 ? fail(rc, cshm_error_string(h)) : reply("ok");
    } else if (strcmp(cmd, "remove") == 0) {
      char *key = unhex(arg, NULL);
      rc = cshm_remove(key, type);
      free(key);
      rc < 0 ? fail(rc, cshm_last_error_string()) : reply("ok");
    } else if (strcmp(cmd, "info") == 0) {
      cshm_info info;
      rc = cshm_inspect(h, &info);
      if (rc < 0)
        fail(rc, cshm_error_string(h));
      else
        printf("ok size=%llu attached=%d locked=%d\n", (unsigned long long)info.size,
               info.attached, info.locked),
            fflush(stdout);
    } else if (strcmp(cmd, "pid") == 0) {
      printf("ok %d\n", (int)getpid()), fflush(stdout);
    } else if (strcmp(cmd, "exit") == 0) {
      break;
    } else {
      fail(CSHM_EINVAL, "unknown command");
    }
  }
  cshm_free(h);
  return 0;
}
