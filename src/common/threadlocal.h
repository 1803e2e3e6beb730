#ifndef CSHM_COMMON_THREADLOCAL_H
#define CSHM_COMMON_THREADLOCAL_H

/* C11's _Thread_local, spelled the way each compiler accepts it. */
#if defined(_MSC_VER) && !defined(__clang__)
#define CSHM__THREAD_LOCAL __declspec(thread)
#else
#define CSHM__THREAD_LOCAL _Thread_local
#endif

#endif
