// swift-tools-version:6.1
import PackageDescription

// Module layout and dependency direction: docs/ARCHITECTURE.md.
// Lower layers never import higher ones.

// The vector kernels are written for 256-bit SIMD with fused multiply-add: on x86-64 the vector
// module is compiled for Haswell (AVX2, FMA: x86-64-v3, every x86 server CPU since 2013). Elsewhere the
// compiler's default target is used.
#if arch(x86_64)
let vectorUnitSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let vectorUnitSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "Basalt",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "basalt", targets: ["basalt"]),
        .library(name: "BasaltClient", targets: ["BasaltClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .systemLibrary(
            name: "CSnappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // bcrypt for stored role credentials (libxcrypt's crypt_r / crypt_gensalt_rn).
        .systemLibrary(
            name: "CCrypt",
            pkgConfig: "libcrypt",
            providers: [.apt(["libcrypt-dev"])]
        ),
        // TLS for CQL clients and internode connections (OpenSSL over memory BIOs on the libuv sockets).
        .systemLibrary(
            name: "CTLS",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Cache prefetch hints for walks over linked memory: the vector index's graph search and
        // the memtable flush (a header with one inline function).
        .systemLibrary(name: "CPrefetch"),
        // glibc pieces the Glibc module does not export: malloc_trim (to hand memory freed by
        // compactions back to the kernel) and naming the calling thread (loops and workers).
        .systemLibrary(name: "CMalloc"),
        .target(
            name: "BasaltCore"
        ),
        .target(
            name: "BasaltStorage",
            dependencies: [
                "BasaltCore", "CSnappy", "CMalloc", "CPrefetch",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "BasaltNet",
            dependencies: [
                "BasaltCore", "CLibUV", "CTLS", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "BasaltCluster",
            dependencies: [
                "BasaltCore", "BasaltStorage", "BasaltNet",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "BasaltVector",
            dependencies: ["BasaltCore", "CPrefetch"],
            swiftSettings: vectorUnitSettings
        ),
        .target(
            name: "BasaltIndex",
            dependencies: [
                "BasaltCore", "BasaltStorage", "BasaltVector", "BasaltCluster",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The native-protocol codec (frames, v5 segments, requests, responses, result bodies,
        // compression), shared by the server's CQL front end and the client library.
        .target(
            name: "BasaltProtocol",
            dependencies: ["BasaltCore", "CSnappy", "CLZ4"]
        ),
        .target(
            name: "BasaltCQL",
            dependencies: [
                "BasaltCore", "BasaltProtocol", "BasaltStorage", "BasaltNet", "BasaltCluster", "BasaltVector", "BasaltIndex", "CSnappy", "CLZ4", "CCrypt",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "BasaltServer",
            dependencies: [
                "BasaltCore", "BasaltStorage", "BasaltNet", "BasaltCluster", "BasaltVector", "BasaltIndex", "BasaltCQL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .target(
            name: "BasaltClient",
            dependencies: [
                "BasaltCore", "BasaltNet", "BasaltProtocol",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "basalt",
            dependencies: [
                "BasaltCore", "BasaltStorage", "BasaltNet", "BasaltCluster", "BasaltServer", "BasaltClient", "BasaltVector", "BasaltIndex",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Process spawning and the binary under test, shared by the multi-process test targets.
        .target(name: "BasaltTestSupport", path: "Tests/Support"),
        .testTarget(name: "BasaltCoreTests", dependencies: ["BasaltCore"]),
        .testTarget(name: "BasaltVectorTests", dependencies: ["BasaltCore", "BasaltVector", "BasaltTestSupport"]),
        .testTarget(name: "BasaltIndexTests", dependencies: ["BasaltCore", "BasaltStorage", "BasaltVector", "BasaltIndex", "BasaltTestSupport"]),
        .testTarget(name: "BasaltStorageTests", dependencies: ["BasaltCore", "BasaltStorage"]),
        .testTarget(name: "BasaltNetTests", dependencies: ["BasaltCore", "BasaltNet"]),
        .testTarget(name: "BasaltClusterTests", dependencies: ["BasaltCore", "BasaltStorage", "BasaltNet", "BasaltCluster", "BasaltTestSupport"]),
        .testTarget(name: "BasaltCQLTests", dependencies: ["BasaltCore", "BasaltStorage", "BasaltNet", "BasaltProtocol", "BasaltCQL", "BasaltCluster", "BasaltIndex"]),
        .testTarget(name: "BasaltServerTests", dependencies: ["BasaltCore", "BasaltNet", "BasaltCluster", "BasaltServer", "BasaltStorage", "BasaltTestSupport"]),
        .testTarget(name: "BasaltClientTests", dependencies: ["BasaltClient", "BasaltCore", "BasaltNet", "BasaltProtocol", "BasaltCQL", "BasaltCluster", "BasaltServer", "BasaltTestSupport"]),
    ]
)
