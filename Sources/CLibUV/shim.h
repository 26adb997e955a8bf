#ifndef BASALT_CLIBUV_SHIM_H
#define BASALT_CLIBUV_SHIM_H
#include <uv.h>

#ifdef __linux__
#include <sys/prctl.h>
/// Names the calling thread (15 bytes kept). prctl is variadic, so Swift cannot call it directly.
static inline int basalt_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
#else
static inline int basalt_set_thread_name(const char *name) { (void)name; return 0; }
#endif

#endif
