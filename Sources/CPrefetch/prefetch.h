// Cache prefetch hints, which Swift cannot spell itself. Walks over linked memory use them to
// overlap the next step's cache miss with the current step's work: the vector index asks for the
// next neighbour's vector while it compares the current one, a memtable flush for the skiplist
// node two ahead while it encodes the current partition.
#ifndef BASALT_PREFETCH_H
#define BASALT_PREFETCH_H

/// Hints that the cache line holding `address` will be read soon (kept in every cache level).
/// A hint only: any address is allowed, and nothing is read if it is not mapped.
static inline __attribute__((always_inline)) void basalt_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
