#ifndef CSHM_COMMON_COMPILER_H
#define CSHM_COMMON_COMPILER_H

/* Keeps a function out of line: the rare path of a hot function, whose register saves
 * the hot path would otherwise pay on every call (compilers save them on entry). */
#if defined(_MSC_VER) && !defined(__clang__)
#define CSHM__NOINLINE __declspec(noinline)
#else
#define CSHM__NOINLINE __attribute__((noinline))
#endif

#endif
