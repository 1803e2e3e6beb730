/* libFuzzer target: key validation and name derivation for every key type. A key
 * is accepted exactly when it is non-empty valid UTF-8; a derived name is
 * deterministic and, for the default type, a valid short name of cshm's alphabet.
 * Native keys given verbatim are validated without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cshm/cshm.h"
#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_default_name(const char *name) {
  size_t len = strlen(name);
  if (len < 2 || len > 30 || strncmp(name, "/cshm_", 6) != 0)
    abort();
  for (size_t i = 1; i < len; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
          name[i] == '_'))
      abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *key = malloc(size + 1);
  if (key == NULL)
    return 0;
  memcpy(key, data, size);
  key[size] = '\0'; /* an embedded NUL ends the key, as in C */
  bool valid = key[0] != '\0' && cshm__utf8_valid(key);
  for (int t = CSHM_KEY_DEFAULT; t <= CSHM_KEY_QT_PLATFORM_SAFE; t++) {
    char a[1024], b[1024];
    int rc = cshm_native_key_for(a, sizeof a, key, (cshm_key_type)t);
    if (!valid && rc != CSHM_EKEY)
      abort(); /* invalid keys are refused for every type */
    if (rc == CSHM_OK) {
      if (cshm_native_key_for(b, sizeof b, key, (cshm_key_type)t) != CSHM_OK || strcmp(a, b) != 0)
        abort(); /* deterministic */
      if (t == CSHM_KEY_DEFAULT)
        check_default_name(a);
    } else if (valid && t == CSHM_KEY_DEFAULT) {
      abort(); /* every valid key has a default name */
    }
    cshm *h;
    if (cshm_new(&h, NULL) == CSHM_OK) {
      rc = cshm_set_native_key(h, key, (cshm_key_type)t);
      if (rc == CSHM_OK && strcmp(cshm_native_key(h), key) != 0)
        abort(); /* used verbatim */
      cshm_free(h);
    }
  }
  free(key);
  return 0;
}
