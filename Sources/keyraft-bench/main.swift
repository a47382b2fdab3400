// keyraft-bench: benchmarks that print numbers. Build in release:
//   swift build -c release --product keyraft-bench && .build/release/keyraft-bench crypto
// The whole suite, one run: scripts/bench-suite.sh (docs/BENCHMARKS.md).
import Foundation
import KMS
import KMSWire
import KeyraftCrypto
import KeyraftServer
import NIOCore

let usage = """
    usage: keyraft-bench crypto|storage [--seconds S]
           keyraft-bench load (--dir D | --endpoints URL,URL [--ca PEM | --plain-http] [--access-key K --secret-key S])
                              [--op create-key|encrypt|decrypt|generate-data-key|mixed] [--connections N]
                              [--seconds S | --count N] [--threads T] [--key-id ID] [--no-setup] [--timeout-ms MS]
                              [--only followers|leader] [--kill-leader-after-ms MS] [--write-connections W]
                              [--server-pids PID,PID] [--label L] [--json]
           keyraft-bench baseline-server --port P --cert PEM --key PEM [--host H] [--threads T]
           keyraft-bench failover|node-stats --dir D [--runs R] [--json]
           keyraft-bench restart --dir D [--node N] [--json]
      crypto   AES-256-GCM seal/open throughput at 32 B, 1 KiB, 4 KiB and ciphertext blob encode/decode cost
      storage  synced RocksDB write batches through the node's storage (1, 10, 100 entries per batch)
      failover SIGKILL the leader of a running cluster, time the first successful write, restart it; --runs R (default 5)
      load     closed-loop load: N keep-alive connections (TLS 1.3 for https://, plain HTTP for http:// or with
               --plain-http, e.g. moto_server; a server that closes after each answer gets a new connection per call)
               spread round-robin over the endpoints, each sending its next SigV4-signed request when the last is
               answered, for S seconds (default 10) or N requests in all. D is a `keyraft dev` folder (endpoints,
               ca.pem, the first credential of credentials.json); --endpoints/--ca/--access-key override it.
               --op mixed: Decrypt 60 %, Encrypt 20 %, GenerateDataKey 15 %, CreateKey 5 % (a fixed interleaved
               cycle of 20 calls, each connection starting at a different place). A key (and a ciphertext) is
               created first unless --key-id names one; --no-setup sends placeholder bodies (baseline-server).
               A failed connection is counted and reconnects to the next endpoint after 20 ms; a call with no
               answer within --timeout-ms (default 10000) counts as failed. --only followers|leader keeps only
               those endpoints of D (GetNodeStatus); --kill-leader-after-ms SIGKILLs D's leader during the run
               (and starts it again after the run, waiting until it has caught up);
               --write-connections W: W of the N connections send only CreateKey (a write waiting out a
               failover then holds up no read).
               Prints per call: ok, failed, per second, p50/p90/p99/p99.9/max latency of successful calls, and
               the longest time between two successful calls; and the CPU time used during the run by the server
               processes (--server-pids, default D's nodes), the load generator and the whole machine.
      baseline-server  NIOSSL TLS 1.3 + NIOHTTP1 answering a fixed Decrypt-sized JSON body to every request
               (threads default: as a node, max(2, min(cores, 4)))
      node-stats  per node: RSS, peak RSS, data folder size, applied index; the leader's KMS snapshot size
      restart  SIGTERM a follower (or --node N), start it again, time exit, API up, caught up, first Decrypt
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else {
    print(usage)
    exit(2)
}
arguments.removeFirst()
var secondsPerCase = 1.0
var secondsGiven = false
var load = LoadBenchmark.Options()
var runs = 5
var node: Int?
var port: Int?
var host = "127.0.0.1"
var certificatePath: String?
var privateKeyPath: String?
var threads: Int?
var accessKey: String?
var plainHTTP = false
var secretKey: String?
var keyraftBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/keyraft"
@MainActor func value(_ flag: String) -> String {
    guard let value = arguments.first else {
        print("\(flag) needs a value")
        exit(2)
    }
    arguments.removeFirst()
    return value
}
@MainActor func number(_ flag: String, _ range: ClosedRange<Int>) -> Int {
    guard let count = Int(value(flag)), range.contains(count) else {
        print("\(flag) needs a number in \(range.lowerBound)...\(range.upperBound)")
        exit(2)
    }
    return count
}
while let flag = arguments.first {
    arguments.removeFirst()
    switch flag {
    case "--seconds":
        guard let value = arguments.first.flatMap(Double.init), value > 0, value <= 900 else {
            print("--seconds needs a number in (0, 900]")
            exit(2)
        }
        arguments.removeFirst()
        secondsPerCase = value
        secondsGiven = true
    case "--count": load.count = number(flag, 1...100_000_000)
    case "--dir": load.clusterDir = value(flag)
    case "--endpoints":
        do {
            load.endpoints = try value(flag).split(separator: ",").map { try LoadBenchmark.Endpoint(url: String($0)) }
        } catch {
            print("\(error)")
            exit(2)
        }
    case "--ca": load.caPath = value(flag)
    case "--plain-http": plainHTTP = true
    case "--access-key": accessKey = value(flag)
    case "--secret-key": secretKey = value(flag)
    case "--region": load.region = value(flag)
    case "--op":
        guard let operation = LoadBenchmark.Operation(rawValue: value(flag)) else {
            print("--op is one of \(LoadBenchmark.Operation.allCases.map(\.rawValue).joined(separator: ", "))")
            exit(2)
        }
        load.operation = operation
    case "--connections": load.connections = number(flag, 1...1_024)
    case "--threads": threads = number(flag, 1...64)
    case "--key-id": load.keyID = value(flag)
    case "--server-pids": load.serverPIDs = value(flag).split(separator: ",").compactMap { pid_t($0) }
    case "--write-connections": load.writeConnections = number(flag, 0...1_023)
    case "--no-setup": load.noSetup = true
    case "--timeout-ms": load.timeoutMs = Int64(number(flag, 1...600_000))
    case "--only":
        guard let only = LoadBenchmark.Only(rawValue: value(flag)) else {
            print("--only is followers or leader")
            exit(2)
        }
        load.only = only
    case "--kill-leader-after-ms": load.killLeaderAfterMs = number(flag, 0...600_000)
    case "--label": load.label = value(flag)
    case "--json": load.json = true
    case "--runs": runs = number(flag, 1...100)
    case "--node": node = number(flag, 1...9)
    case "--port": port = number(flag, 0...65_535)
    case "--host": host = value(flag)
    case "--cert": certificatePath = value(flag)
    case "--key": privateKeyPath = value(flag)
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
        guard let clusterDir = load.clusterDir else {
            print("failover needs --dir")
            exit(2)
        }
        let files = try String(contentsOfFile: clusterDir + "/endpoints", encoding: .utf8).split(separator: "\n").count
        try FailoverBenchmark(cluster: try DevCluster(directory: clusterDir, nodeCount: files), runs: runs,
                              keyraftBinary: keyraftBinary).run()
    case "load":
        if secondsGiven { load.seconds = secondsPerCase }
        if let threads { load.threads = threads }
        if plainHTTP { load.endpoints = load.endpoints.map { LoadBenchmark.Endpoint(host: $0.host, port: $0.port, tls: false) } }
        load.keyraftBinary = keyraftBinary
        switch (accessKey, secretKey) {
        case let (key?, secret?): load.credentials = SigV4Credentials(accessKeyID: key, secretAccessKey: secret)
        case (nil, nil): break
        default:
            print("--access-key and --secret-key go together")
            exit(2)
        }
        try LoadBenchmark(options: try LoadBenchmark.resolve(load)).run()
    case "baseline-server":
        guard let port, let certificatePath, let privateKeyPath else {
            print("baseline-server needs --port, --cert and --key")
            exit(2)
        }
        try BaselineServer(host: host, port: port, certificatePath: certificatePath, privateKeyPath: privateKeyPath,
                           threads: threads ?? max(2, min(System.coreCount, 4))).run()
    case "node-stats", "restart":
        guard let clusterDir = load.clusterDir else {
            print("\(command) needs --dir")
            exit(2)
        }
        let probes = ClusterProbes(directory: clusterDir, json: load.json)
        if command == "restart" { try probes.restart(node: node, keyraftBinary: keyraftBinary) } else { try probes.nodeStats() }
    default:
        print(usage)
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("keyraft-bench: \(error)\n".utf8))
    exit(1)
}
