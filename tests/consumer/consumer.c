/* A program built against an installed cshm, defining nothing: the generated
 * headers carry the static/shared choice. */
#include <cshm/cshm.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (cshm_version() != CSHM_VERSION_HEX) {
    fprintf(stderr, "header %s, library %s\n", CSHM_VERSION_STRING, cshm_version_string());
    return 1;
  }
  char name[64];
  if (cshm_native_key_for(name, sizeof name, "my_shared_memory", CSHM_KEY_DEFAULT) != CSHM_OK ||
      strcmp(name, "/cshm_myshare_2p5koc4w43euvfwl") != 0) {
    fprintf(stderr, "%s\n", cshm_last_error_string());
    return 1;
  }
  printf("consumer: cshm %s, my_shared_memory -> %s\n", cshm_version_string(), name);
  return 0;
}
