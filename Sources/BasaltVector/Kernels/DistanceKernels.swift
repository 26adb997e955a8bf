/// The distance kernels every vector comparison goes through: squared euclidean distance and the
/// dot product of two float32 vectors in contiguous memory.
///
/// Each kernel walks the vectors in 16-lane SIMD blocks with two independent fused multiply-add
/// accumulators (so consecutive FMAs do not wait on each other), then 4-lane blocks, then single
/// lanes. Nothing allocates and nothing is dynamically dispatched. On x86-64 the module is compiled
/// for AVX2 + FMA (`-target-cpu haswell`, Package.swift): a 16-lane block is two 256-bit
/// `vfmadd` instructions.
public enum DistanceKernels {
    /// Σ (a[i] - b[i])² over `count` components.
    @inlinable @inline(__always)
    public static func squaredEuclidean(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            let d0 = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            let d1 = ra.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self)
            acc0.addProduct(d0, d0)
            acc1.addProduct(d1, d1)
            i &+= 32
        }
        if i + 16 <= count {
            let d0 = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
                - rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            acc0.addProduct(d0, d0)
            i &+= 16
        }
        var acc4 = SIMD4<Float>()
        while i + 4 <= count {
            let d = ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self)
                - rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self)
            acc4.addProduct(d, d)
            i &+= 4
        }
        var sum = (acc0 + acc1).sum() + acc4.sum()
        while i < count {
            let d = a[i] - b[i]
            sum.addProduct(d, d)
            i &+= 1
        }
        return sum
    }

    /// Σ a[i] · b[i] over `count` components.
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= count {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self),
                            rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self))
            acc1.addProduct(ra.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self),
                            rb.loadUnaligned(fromByteOffset: (i &+ 16) &* 4, as: SIMD16<Float>.self))
            i &+= 32
        }
        if i + 16 <= count {
            acc0.addProduct(ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self),
                            rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self))
            i &+= 16
        }
        var acc4 = SIMD4<Float>()
        while i + 4 <= count {
            acc4.addProduct(ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self),
                            rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self))
            i &+= 4
        }
        var sum = (acc0 + acc1).sum() + acc4.sum()
        while i < count {
            sum.addProduct(a[i], b[i])
            i &+= 1
        }
        return sum
    }

    /// Σ a[i]², the squared norm.
    @inlinable
    public static func squaredNorm(_ a: UnsafePointer<Float>, _ count: Int) -> Float {
        dot(a, a, count)
    }

    /// Σ (a[i] - b[i])² over `count` signed 8-bit codes, in exact integer arithmetic (the scalar
    /// quantiser's kernel). Codes are in -127…127, so a difference squared is at most 254² and no
    /// sum of up to 33,000 components (``ScalarQuantizer/maximumDimension``) can overflow.
    ///
    /// A plain loop on purpose: LLVM vectorises this widening multiply-add into `vpmovsxbw` +
    /// `vpmaddwd`, where SIMD16 conversions (`init(truncatingIfNeeded:)`) were left as calls to
    /// unspecialised generic code in every iteration.
    @inlinable @inline(__always)
    public static func squaredEuclidean(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        var sum: Int32 = 0
        var i = 0
        while i < count {
            let d = Int32(truncatingIfNeeded: a[i]) &- Int32(truncatingIfNeeded: b[i])
            sum &+= d &* d
            i &+= 1
        }
        return sum
    }

    /// Σ a[i] · b[i] over `count` signed 8-bit codes, in exact integer arithmetic (127² per
    /// component: no overflow below 133,000 components). A plain loop, vectorised as above.
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ count: Int) -> Int32 {
        var sum: Int32 = 0
        var i = 0
        while i < count {
            sum &+= Int32(truncatingIfNeeded: a[i]) &* Int32(truncatingIfNeeded: b[i])
            i &+= 1
        }
        return sum
    }
}
