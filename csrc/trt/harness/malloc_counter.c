/* LD_PRELOAD shim for the "enqueue allocates nothing" tests: counts malloc/calloc/realloc calls (operator new
 * goes through malloc) per thread. trtkit._trt_harness reads trtkit_malloc_count() around each enqueue it
 * drives. Built by the tests with `cc -shared -fPIC`; never part of the product. */
#include <stddef.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* ptr, size_t size);

/* initial-exec: a preloaded library has static TLS, and this must not call back into malloc. */
static __thread long allocations __attribute__((tls_model("initial-exec")));

void* malloc(size_t size) {
  ++allocations;
  return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) {
  ++allocations;
  return __libc_calloc(count, size);
}

void* realloc(void* ptr, size_t size) {
  ++allocations;
  return __libc_realloc(ptr, size);
}

long trtkit_malloc_count(void) {
  return allocations;
}
