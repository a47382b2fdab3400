// swift-tools-version:6.0
// Keyraft: a distributed key management service. See README.md and docs/.
//
// Dependency direction (lowest first; nothing imports upward):
//   RaftCore, COpenSSL, CRocksDB  →  KeyraftCrypto  →  KMS  →  KeyraftNode
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
        .executable(name: "keyraft-bench", targets: ["keyraft-bench"]),
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
        .target(name: "KMSWire", dependencies: ["KeyraftCrypto", "KMS"], swiftSettings: strict),
        // The single-threaded node driver: Raft Ready loop, forwarding, read leases, scheduler.
        .target(
            name: "KeyraftNode",
            dependencies: ["RaftCore", "KMS", "KeyraftCrypto"],
            swiftSettings: strict
        ),

        // Porcupine-style linearizability checking (standard library only).
        .target(name: "Linearizability", swiftSettings: strict),
        // Hash-chained JSON-lines audit trail: writer with rotation, and verifier.
        .target(name: "Audit", dependencies: ["KeyraftCrypto"], swiftSettings: strict),
        // The deterministic simulator: the real node code on simulated disk, network and time.
        .target(
            name: "Simulation",
            dependencies: ["KeyraftNode", "RaftCore", "KMS", "KeyraftCrypto", "KeyraftCryptoDeterministic", "Linearizability"],
            swiftSettings: strict
        ),
        .executableTarget(name: "keyraft-sim", dependencies: ["Simulation"], swiftSettings: strict),
        .executableTarget(
            name: "keyraft-bench",
            dependencies: ["KeyraftCrypto", "KMS", "Storage", "RaftCore"],
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
        .testTarget(
            name: "KMSWireTests",
            dependencies: ["KMSWire", "KMS", "KeyraftCrypto", "KeyraftCryptoDeterministic"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
