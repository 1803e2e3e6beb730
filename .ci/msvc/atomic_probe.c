/* Compiled by .ci/steps/52-msvc-syntax.sh for ARM64 Windows in MSVC mode, which then
 * reads the assembly: the load must be a load-acquire (ldar, or ldr then dmb) and
 * the store a store-release (stlr, or dmb then str). A volatile access with only
 * _ReadWriteBarrier() compiles to a bare ldr/str there (/volatile:iso), which lets
 * the processor reorder the segment's header and its state word. */
#include <stdint.h>

#include "atomic.h"

#ifndef CSHM__ATOMIC_MSVC
#error "atomic.h: clang in MSVC mode does not compile the branch cl.exe compiles"
#endif

uint32_t cshm_probe_load(const volatile uint32_t *p);
void cshm_probe_store(volatile uint32_t *p, uint32_t v);

uint32_t cshm_probe_load(const volatile uint32_t *p) { return cshm__atomic_load_acquire(p); }

void cshm_probe_store(volatile uint32_t *p, uint32_t v) { cshm__atomic_store_release(p, v); }
