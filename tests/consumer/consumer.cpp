// A C++ program built against cshm, defining nothing: creates a segment, writes to
// it under the lock, reads it back through a second handle, and checks that the
// segment is gone once both handles are freed (the last detacher removes it on Unix;
// Windows removes it with the last handle).
#include <cshm/cshm.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

int fail(const char *what, const cshm *h) {
  std::fprintf(stderr, "consumer_cxx: %s: %s\n", what,
               h != nullptr ? cshm_error_string(h) : cshm_last_error_string());
  return 1;
}

} // namespace

int main() {
  const std::string key =
      "cshm-consumer-cxx-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const char text[] = "Hello from C++";

  cshm *writer = nullptr;
  if (cshm_new(&writer, key.c_str()) != CSHM_OK)
    return fail("cshm_new", nullptr);
  if (cshm_create(writer, 4096, CSHM_READ_WRITE) != CSHM_OK)
    return fail("cshm_create", writer);
  if (cshm_lock(writer) != CSHM_OK)
    return fail("cshm_lock", writer);
  std::memcpy(cshm_data(writer), text, sizeof text);
  if (cshm_unlock(writer) != CSHM_OK)
    return fail("cshm_unlock", writer);

  cshm *reader = nullptr;
  if (cshm_new(&reader, key.c_str()) != CSHM_OK)
    return fail("cshm_new", nullptr);
  if (cshm_attach(reader, CSHM_READ_ONLY) != CSHM_OK)
    return fail("cshm_attach", reader);
  if (cshm_size(reader) != 4096 ||
      std::strcmp(static_cast<const char *>(cshm_const_data(reader)), text) != 0) {
    std::fprintf(stderr, "consumer_cxx: the second handle reads something else\n");
    return 1;
  }
  cshm_free(reader);
  cshm_free(writer);

  cshm *late = nullptr;
  if (cshm_new(&late, key.c_str()) != CSHM_OK)
    return fail("cshm_new", nullptr);
  const int rc = cshm_attach(late, CSHM_READ_ONLY);
  cshm_free(late);
  if (rc != CSHM_ENOENT) {
    std::fprintf(stderr, "consumer_cxx: after the last detach, attach gave %s\n",
                 cshm_error_name(rc));
    return 1;
  }
  std::printf("consumer_cxx: cshm %s, segment %s created, shared and removed\n",
              cshm_version_string(), key.c_str());
  return 0;
}
