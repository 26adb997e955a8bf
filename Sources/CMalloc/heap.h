// glibc pieces the Glibc module does not export: the heap controls (malloc_trim) and naming the
// calling thread (prctl is variadic, so Swift cannot call it directly).
#include <malloc.h>

#ifdef __linux__
#include <sys/prctl.h>
/// Names the calling thread as `top -H`, `perf` and /proc show it (15 bytes kept).
static inline int basalt_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
#else
static inline int basalt_set_thread_name(const char *name) { (void)name; return 0; }
#endif
