// swift-tools-version:6.0
// Keyraft: a distributed key management service. See README.md and docs/.
//
// Dependency direction (lowest first; nothing imports upward):
//   RaftCore, COpenSSL, CRocksDB  →  KeyraftCrypto  →  KMS  →  KeyraftNode
//   KeyraftCrypto  →  Envelope  →  KeyraftClient (with KMSWire)
//   Storage (RocksDB), Transport (NIO), KMSWire, APIServer, KeyraftClient are adapters.
//   Executables compose everything.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Keyraft",
    products: [
        .library(name: "KeyraftCrypto", targets: ["KeyraftCrypto"]),
        .library(name: "KMS", targets: ["KMS"]),
        .library(name: "KeyraftClient", targets: ["KeyraftClient", "Envelope"]),
        .executable(name: "keyraft", targets: ["keyraft"]),
        .executable(name: "keyraft-bench", targets: ["keyraft-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CRocksDB",
            pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev"])]
        ),

        // Pure Raft: standard library only (checked by scripts/check-deps.py).
        .target(name: "RaftCore", swiftSettings: strict),

        // The one module that touches key material.
        .target(name: "KeyraftCrypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Seeded entropy for tests and the simulator. The server executable must never
        // depend on this target (checked by scripts/check-deps).
        .target(
            name: "KeyraftCryptoDeterministic",
            dependencies: ["KeyraftCrypto"],
            swiftSettings: strict
        ),
        .target(name: "KMS", dependencies: ["KeyraftCrypto"], swiftSettings: strict),
        .target(name: "Storage", dependencies: ["CRocksDB", "RaftCore", "KeyraftNode"], swiftSettings: strict),
        // Child process of the storage crash test: writes synced batches until it is SIGKILLed.
        .executableTarget(
            name: "storage-crash-helper",
            dependencies: ["Storage", "RaftCore"],
            swiftSettings: strict
        ),
        // AWS JSON 1.1 wire basics and SigV4 signing and verification.
        // A strict JSON reader and a compact writer on bytes (standard library only): the
        // request path's JSON, kept off Foundation's Codable machinery.
        .target(name: "JSONText", swiftSettings: strict),
        .target(name: "KMSWire", dependencies: ["KeyraftCrypto", "KMS", "JSONText"], swiftSettings: strict),
        // The framed, streaming envelope format for data of any size (pure: no network).
        .target(name: "Envelope", dependencies: ["KeyraftCrypto"], swiftSettings: strict),
        // The Swift client SDK: typed KMS calls over pooled TLS 1.3 connections with
        // endpoint failover, and envelope encryption through GenerateDataKey with a cache.
        .target(
            name: "KeyraftClient",
            dependencies: [
                "KMSWire", "KeyraftCrypto", "Envelope",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // The single-threaded node driver: Raft Ready loop, forwarding, read leases, scheduler.
        .target(
            name: "KeyraftNode",
            dependencies: ["RaftCore", "KMS", "KeyraftCrypto"],
            swiftSettings: strict
        ),

        // Porcupine-style linearizability checking (standard library only).
        .target(name: "Linearizability", swiftSettings: strict),
        // Hash-chained JSON-lines audit trail: writer with rotation, and verifier.
        .target(name: "Audit", dependencies: ["KeyraftCrypto", "JSONText"], swiftSettings: strict),
        // The deterministic simulator: the real node code on simulated disk, network and time.
        // Release builds of this target only (never the node code it runs: RaftCore,
        // KeyraftNode and KMS are compiled exactly as for the server) skip the runtime
        // exclusivity checks on its own single-threaded classes: the simulated disk is
        // read through a class property several times per Raft input, and those checks
        // were 9 % of a simulation's instructions (docs/BENCHMARKS.md, "Simulator speed").
        // Debug builds, which the simulator tests run, keep them.
        .target(
            name: "Simulation",
            dependencies: ["KeyraftNode", "RaftCore", "KMS", "KeyraftCrypto", "KeyraftCryptoDeterministic", "Linearizability"],
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // X.509 certificates for the cluster CA, nodes and clients, through OpenSSL's API.
        .target(name: "KeyraftCerts", dependencies: ["COpenSSL"], swiftSettings: strict),
        // Mutual-TLS 1.3 peer links: framing, reconnects, bounded queues.
        .target(
            name: "Transport",
            dependencies: [
                "KeyraftNode", "RaftCore", "KeyraftCerts",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The AWS-compatible HTTPS API (TLS 1.3, SigV4) in front of a node.
        .target(
            name: "APIServer",
            dependencies: [
                "KMSWire", "KMS", "KeyraftNode",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // One node process: configuration, RocksDB, the node driver on its own event loop,
        // peer links and the API.
        .target(
            name: "KeyraftServer",
            dependencies: [
                "KeyraftNode", "RaftCore", "KMS", "KMSWire", "KeyraftCrypto", "Storage", "Transport", "APIServer",
                "KeyraftCerts", "Audit",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "keyraft",
            dependencies: [
                "KeyraftServer", "KeyraftCerts", "Audit", "KeyraftCrypto", "RaftCore", "KeyraftClient", "Envelope",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "keyraft-sim", dependencies: ["Simulation"], swiftSettings: strict),
        .executableTarget(
            name: "keyraft-bench",
            dependencies: [
                "KeyraftCrypto", "KMS", "Storage", "RaftCore", "KMSWire", "KeyraftServer", "Transport", "KeyraftNode",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),

        .testTarget(
            name: "KeyraftCryptoTests",
            dependencies: ["KeyraftCrypto", "KeyraftCryptoDeterministic"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KMSTests",
            dependencies: ["KMS", "KeyraftCrypto", "KeyraftCryptoDeterministic"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage", "CRocksDB", "RaftCore", "KeyraftNode", "KMS", "KeyraftCrypto"],
            swiftSettings: strict
        ),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore"], exclude: ["testdata"], swiftSettings: strict),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "RaftCore"], swiftSettings: strict),
        .testTarget(name: "LinearizabilityTests", dependencies: ["Linearizability"], swiftSettings: strict),
        .testTarget(name: "AuditTests", dependencies: ["Audit"], swiftSettings: strict),
        .testTarget(name: "KeyraftCertsTests", dependencies: ["KeyraftCerts"], swiftSettings: strict),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "KeyraftServer", "Transport", "APIServer", "KeyraftCerts", "KeyraftNode", "RaftCore", "KMS", "KMSWire",
                "KeyraftCrypto",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EnvelopeTests",
            dependencies: ["Envelope", "KeyraftCrypto", "KeyraftCryptoDeterministic", "KMS"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KeyraftClientTests",
            dependencies: [
                "KeyraftClient", "Envelope", "KMSWire", "KeyraftCrypto",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KMSWireTests",
            dependencies: ["KMSWire", "KMS", "JSONText", "KeyraftCrypto", "KeyraftCryptoDeterministic"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
