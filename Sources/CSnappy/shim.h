#ifndef BASALT_CSNAPPY_SHIM_H
#define BASALT_CSNAPPY_SHIM_H
#include <snappy-c.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* CRC-32C with the x86-64 SSE4.2 `crc32` instruction, used by BasaltStorage to check SSTable chunks
 * and commit-log records quickly. Same values as BasaltCore's table-driven CRC32C (which stays the
 * fallback when the CPU lacks SSE4.2). `crc` is the running value, already inverted by the caller. */
#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static inline uint32_t basalt_crc32c_sse42(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p);
        p++;
        n--;
    }
    return c32;
}

static inline int basalt_cpu_has_sse42(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#else
static inline uint32_t basalt_crc32c_sse42(uint32_t crc, const void *data, size_t n) { (void)data; (void)n; return crc; }
static inline int basalt_cpu_has_sse42(void) { return 0; }
#endif
#endif
