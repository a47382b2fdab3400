// keyraft-bench: benchmarks that print numbers. Build in release:
//   swift build -c release --product keyraft-bench && .build/release/keyraft-bench crypto
import Foundation
import KMS
import KeyraftCrypto
import KeyraftServer

let usage = """
    usage: keyraft-bench crypto|storage [--seconds S]
           keyraft-bench load --dir D [--op create-key|encrypt|decrypt|generate-data-key] [--connections N] [--seconds S] [--json]
      crypto   AES-256-GCM seal/open throughput at 32 B, 1 KiB, 4 KiB and ciphertext blob encode/decode cost
      storage  synced RocksDB write batches through the node's storage (1, 10, 100 entries per batch)
      failover SIGKILL the leader of a running cluster, time the first successful write, restart it; --runs R (default 5)
      load     closed-loop load on a running cluster (D is a `keyraft dev` folder: endpoints, ca.pem, credentials.json),
               N keep-alive TLS 1.3 connections spread round-robin over the endpoints
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
arguments.removeFirst()
var secondsPerCase = 1.0
var clusterDir: String?
var loadOperation = LoadBenchmark.Operation.decrypt
var connections = 16
var json = false
var runs = 5
var keyraftBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/keyraft"
@MainActor func value(_ flag: String) -> String {
    guard let value = arguments.first else {
        print("\(flag) needs a value")
        exit(2)
    }
    arguments.removeFirst()
    return value
}
while let flag = arguments.first {
    arguments.removeFirst()
    switch flag {
    case "--seconds":
        guard let value = arguments.first.flatMap(Double.init), value > 0, value <= 60 else {
            print("--seconds needs a number in (0, 60]")
            exit(2)
        }
        arguments.removeFirst()
        secondsPerCase = value
    case "--dir": clusterDir = value(flag)
    case "--op":
        guard let operation = LoadBenchmark.Operation(rawValue: value(flag)) else {
            print("--op is one of \(LoadBenchmark.Operation.allCases.map(\.rawValue).joined(separator: ", "))")
            exit(2)
        }
        loadOperation = operation
    case "--connections":
        guard let count = Int(value(flag)), (1...1_024).contains(count) else {
            print("--connections needs a number in 1...1024")
            exit(2)
        }
        connections = count
    case "--json": json = true
    case "--runs":
        guard let count = Int(value(flag)), (1...100).contains(count) else {
            print("--runs needs a number in 1...100")
            exit(2)
        }
        runs = count
    case "--keyraft": keyraftBinary = value(flag)
    default:
        print("unknown flag \(flag)\n\(usage)")
        exit(2)
    }
}

do {
    switch command {
    case "crypto": try CryptoBenchmark(secondsPerCase: secondsPerCase).run()
    case "storage": try StorageBenchmark(secondsPerCase: secondsPerCase).run()
    case "failover":
        guard let clusterDir else {
            print("failover needs --dir")
            exit(2)
        }
        let files = try String(contentsOfFile: clusterDir + "/endpoints", encoding: .utf8).split(separator: "\n").count
        try FailoverBenchmark(cluster: try DevCluster(directory: clusterDir, nodeCount: files), runs: runs,
                              keyraftBinary: keyraftBinary).run()
    case "load":
        guard let clusterDir else {
            print("load needs --dir")
            exit(2)
        }
        try LoadBenchmark(cluster: clusterDir, operation: loadOperation, connections: connections,
                          seconds: secondsPerCase, json: json).run()
    default:
        print(usage)
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("keyraft-bench: \(error)\n".utf8))
    exit(1)
}
