import CMalloc

/// Hands heap memory freed by a compaction back to the kernel.
///
/// A compaction frees its inputs' in-memory parts (summaries, bloom filters, seek indexes) once
/// its outputs are published. glibc keeps such freed memory in its arenas for reuse: the large
/// arrays are usually not mapped on their own (the mmap threshold rises with every large block
/// freed), and free memory below an arena's top is only returned by `malloc_trim`. Without it the
/// node's resident memory rose to the largest compaction's peak and stayed there (docs/storage.md,
/// "Memory").
///
/// Only after compactions of at least `minimumPartitions` partitions: below that the parts freed
/// are a few megabytes, which glibc reuses, while `malloc_trim` walks every arena under its lock.
/// (The bound was first added for failed CI runs that most likely came from a test helper giving
/// up without probing after its deadline, not from trimming.)
enum HeapTrim {
    static let minimumPartitions = 500_000

    static func returnFreedMemory() {
        _ = malloc_trim(0)
    }
}
