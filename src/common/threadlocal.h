#ifndef CSHM_COMMON_THREADLOCAL_H
#define CSHM_COMMON_THREADLOCAL_H

/* C11's _Thread_local, spelled the way each compiler accepts it. */
#if defined(_MSC_VER) && !defined(__clang__)
#define CSHM__THREAD_LOCAL __declspec(thread)
#else
#define CSHM__THREAD_LOCAL _Thread_local
#endif

/* For a small thread-local read on a hot path (8 bytes at most): the initial-exec
 * model reads it at a fixed offset from the thread pointer, where the default model
 * of position-independent code calls __tls_get_addr and saves registers around it.
 * A shared library loaded at run time takes it from the static TLS surplus glibc
 * keeps for this. */
#if defined(__GNUC__) && !defined(_WIN32)
#define CSHM__THREAD_LOCAL_FAST CSHM__THREAD_LOCAL __attribute__((tls_model("initial-exec")))
#else
#define CSHM__THREAD_LOCAL_FAST CSHM__THREAD_LOCAL
#endif

#endif
