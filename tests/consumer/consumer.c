/* A C program built against cshm (installed, embedded, or found through pkg-config),
 * defining nothing: the generated headers carry the static/shared choice. */
#include <cshm/cshm.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (cshm_version() != CSHM_VERSION_HEX) {
    fprintf(stderr, "header %s, library %s\n", CSHM_VERSION_STRING, cshm_version_string());
    return 1;
  }
  /* The frozen default derivation: "/" + stem on POSIX, "Local\" + stem on Windows. */
  static const char stem[] = "cshm_myshare_2p5koc4w43euvfwl";
  char name[64] = "";
  size_t len;
  if (cshm_native_key_for(name, sizeof name, "my_shared_memory", CSHM_KEY_DEFAULT) != CSHM_OK ||
      (len = strlen(name)) < sizeof stem - 1 ||
      strcmp(name + len - (sizeof stem - 1), stem) != 0) {
    fprintf(stderr, "consumer: %s (%s)\n", name, cshm_last_error_string());
    return 1;
  }
  printf("consumer: cshm %s, my_shared_memory -> %s\n", cshm_version_string(), name);
  return 0;
}
