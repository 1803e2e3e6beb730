/* Named crash windows for tests (DESIGN.md §8).
 *
 * In a testing build (CSHM_TESTING) each cshm__test_point(name) checks the
 * environment: when CSHM_TEST_STOP equals `name`, the process writes "name\n" to the
 * descriptor named by CSHM_TEST_FD and then waits forever, so a test can kill it in
 * exactly that window. In a normal build the points compile to nothing. */
#ifndef CSHM_COMMON_TESTPOINT_H
#define CSHM_COMMON_TESTPOINT_H

#ifdef CSHM_TESTING
void cshm__test_point(const char *name);
#else
#define cshm__test_point(name) ((void)(name))
#endif

#endif
