// Cache prefetch hints for the vector index's graph walk, which Swift cannot spell itself:
// a search asks for the next neighbour's vector while it compares the current one.
#ifndef BASALT_VECTOR_PREFETCH_H
#define BASALT_VECTOR_PREFETCH_H

/// Hints that the cache line holding `address` will be read soon (kept in every cache level).
static inline __attribute__((always_inline)) void basalt_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
