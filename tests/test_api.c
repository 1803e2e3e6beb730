/* Placeholder until the suite is written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cshm/cshm.h"
static void test_version(void **state) { (void)state; assert_int_equal(cshm_version(), CSHM_VERSION_HEX); }
int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_version)};
  return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
