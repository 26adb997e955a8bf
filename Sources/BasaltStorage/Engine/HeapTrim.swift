import CMalloc

/// Hands heap memory freed by a compaction back to the kernel.
///
/// A compaction frees its inputs' in-memory parts (summaries, bloom filters, seek indexes) once
/// its outputs are published. glibc keeps such freed memory in its arenas for reuse: the large
/// arrays are usually not mapped on their own (the mmap threshold rises with every large block
/// freed), and free memory below an arena's top is only returned by `malloc_trim`. Without it the
/// node's resident memory rose to the largest compaction's peak and stayed there (docs/storage.md,
/// "Memory").
enum HeapTrim {
    static func returnFreedMemory() {
        _ = malloc_trim(0)
    }
}
