import Foundation
import Glibc
import KMSWire
import KeyraftServer
import NIOCore
import NIOPosix
import NIOSSL
import Transport

/// `keyraft-bench node-stats` and `keyraft-bench restart`: what a running `keyraft dev`
/// cluster costs (memory, disk, snapshot) and how long one node takes to serve again.
struct ClusterProbes {
    let directory: String
    let json: Bool

    private func view(group: any EventLoopGroup) throws -> ClusterView {
        let credentials = try DevCluster(directory: directory, nodeCount: 1).devCredentials()
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(directory + "/ca.pem"))
        let client = OneShotClient(signer: SigV4Signer(credentials: credentials, region: "us-east-1", service: "kms"),
                                   tls: try NIOSSLContext(configuration: configuration), group: group)
        return try ClusterView(directory: directory, client: client)
    }

    /// `VmRSS` and `VmHWM` of a process, in KiB.
    static func memory(pid: pid_t) -> (rssKiB: Int, peakKiB: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { line in Int(line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") }
        }
        guard let rss = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (rss, peak)
    }

    /// Bytes of every regular file under a folder.
    static func folderBytes(_ path: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total = 0
        while let name = walker.nextObject() as? String {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name),
               attributes[.type] as? FileAttributeType == .typeRegular, let size = attributes[.size] as? NSNumber {
                total += size.intValue
            }
        }
        return total
    }

    /// Per node: pid, RSS, peak RSS, data folder bytes, applied index; and the size of the
    /// leader's KMS state as a snapshot (`KeyraftAdmin.GetBackupSnapshot`).
    func nodeStats() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let cluster = try view(group: group)
        var nodes: [[String: Any]] = []
        for node in 1...cluster.configs.count {
            var row: [String: Any] = ["node": node, "data_bytes": Self.folderBytes(cluster.configs[node - 1].dataDir)]
            if let pid = DevCluster.runningPID(cluster.pidPath(node)) {
                row["pid"] = Int(pid)
                if let memory = Self.memory(pid: pid) { row["rss_kib"] = memory.rssKiB; row["peak_rss_kib"] = memory.peakKiB }
            }
            if let status = cluster.status(node, timeoutMs: 5_000) {
                row["role"] = status["Role"] as? String ?? "?"
                row["applied_index"] = (status["AppliedIndex"] as? NSNumber)?.intValue ?? 0
            }
            nodes.append(row)
        }
        var object: [String: Any] = ["nodes": nodes]
        let leader = try cluster.leader()
        let api = cluster.configs[leader - 1].apiAddress
        let started = Date()
        let answer = try cluster.client.post(LoadBenchmark.Endpoint(host: api.host, port: api.port, tls: true),
                                             target: "KeyraftAdmin.GetBackupSnapshot", body: Array("{}".utf8), timeoutMs: 120_000)
        if answer.status == 200, let decoded = (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any],
           let text = decoded["Snapshot"] as? String, let bytes = Data(base64Encoded: text) {
            object["snapshot_bytes"] = bytes.count
            object["snapshot_fetch_ms"] = Date().timeIntervalSince(started) * 1_000
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(pad("node", 6) + pad("role", 10) + pad("pid", 9) + pad("RSS MiB", 10) + pad("peak MiB", 10) + pad("data MiB", 10) + "applied")
        for row in nodes {
            func mib(_ key: String) -> String { (row[key] as? Int).map { format(Double($0) / (key == "data_bytes" ? 1_048_576 : 1_024), digits: 1) } ?? "-" }
            print(pad("\(row["node"]!)", 6) + pad(row["role"] as? String ?? "down", 10) + pad((row["pid"] as? Int).map(String.init) ?? "-", 9)
                  + pad(mib("rss_kib"), 10) + pad(mib("peak_rss_kib"), 10) + pad(mib("data_bytes"), 10) + "\(row["applied_index"] ?? "-")")
        }
        if let bytes = object["snapshot_bytes"] as? Int {
            print(String(format: "KMS state snapshot (leader): %.2f MiB", Double(bytes) / 1_048_576))
        }
    }

    /// SIGTERMs one node (a follower unless `node` is given), starts it again and times
    /// each step until it serves: exit, API answering, lease valid and caught up with the
    /// leader's commit index, first successful Decrypt of a ciphertext made before the stop.
    func restart(node requested: Int?, keyraftBinary: String) throws {
        signal(SIGCHLD, SIG_IGN) // the restarted node is reaped by the system
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let cluster = try view(group: group)
        let leader = try cluster.leader()
        let node = requested ?? (1...cluster.configs.count).first { $0 != leader }!
        func endpoint(_ node: Int) -> LoadBenchmark.Endpoint {
            let api = cluster.configs[node - 1].apiAddress
            return LoadBenchmark.Endpoint(host: api.host, port: api.port, tls: true)
        }
        func call(_ node: Int, _ target: String, _ body: String, timeoutMs: Int64 = 10_000) -> [String: Any]? {
            guard let answer = try? cluster.client.post(endpoint(node), target: target, body: Array(body.utf8), timeoutMs: timeoutMs),
                  answer.status == 200 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
        }
        guard let key = call(leader, "TrentService.CreateKey", #"{"Description":"restart"}"#),
              let arn = (key["KeyMetadata"] as? [String: Any])?["Arn"] as? String,
              let encrypted = call(leader, "TrentService.Encrypt", #"{"KeyId":"\#(arn)","Plaintext":"aGVsbG8="}"#),
              let blob = encrypted["CiphertextBlob"] as? String
        else { throw SignedClient.Failure(description: "cannot make a ciphertext on the leader (node \(leader))") }
        guard let pid = DevCluster.runningPID(cluster.pidPath(node)) else {
            throw SignedClient.Failure(description: "node \(node) is not running")
        }
        let memoryBefore = Self.memory(pid: pid)
        let stopAt = Date()
        kill(pid, SIGTERM)
        while kill(pid, 0) == 0, Date().timeIntervalSince(stopAt) < 60 { usleep(5_000) }
        let stoppedMs = Date().timeIntervalSince(stopAt) * 1_000
        let target = (cluster.status(leader)?["CommitIndex"] as? NSNumber)?.uint64Value ?? 0
        unlink(cluster.pidPath(node))
        let startAt = Date()
        let newPID = try DevCluster.spawn(binary: keyraftBinary, arguments: ["server", "--config", cluster.directory + "/node-\(node).yaml"],
                                          logPath: cluster.directory + "/node-\(node).log")
        var apiMs: Double?
        var caughtUpMs: Double?
        var decryptMs: Double?
        while decryptMs == nil || caughtUpMs == nil, Date().timeIntervalSince(startAt) < 300 {
            if let status = cluster.status(node, timeoutMs: 500) {
                if apiMs == nil { apiMs = Date().timeIntervalSince(startAt) * 1_000 }
                if caughtUpMs == nil, cluster.serves(node, status),
                   ((status["AppliedIndex"] as? NSNumber)?.uint64Value ?? 0) >= target {
                    caughtUpMs = Date().timeIntervalSince(startAt) * 1_000
                }
                if decryptMs == nil, call(node, "TrentService.Decrypt", #"{"CiphertextBlob":"\#(blob)"}"#, timeoutMs: 2_000) != nil {
                    decryptMs = Date().timeIntervalSince(startAt) * 1_000
                }
            } else {
                usleep(10_000)
            }
        }
        guard let apiMs, let caughtUpMs, let decryptMs else {
            throw SignedClient.Failure(description: "node \(node) did not serve within 300 s of its restart; see node-\(node).log")
        }
        let memoryAfter = Self.memory(pid: newPID)
        if json {
            var object: [String: Any] = [
                "node": node, "leader": leader, "stop_ms": stoppedMs, "api_ms": apiMs, "caught_up_ms": caughtUpMs,
                "first_decrypt_ms": decryptMs, "target_index": target,
            ]
            if let memoryBefore { object["rss_kib_before"] = memoryBefore.rssKiB }
            if let memoryAfter { object["rss_kib_after"] = memoryAfter.rssKiB }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let before = memoryBefore.map { format(Double($0.rssKiB) / 1_024, digits: 1) } ?? "?"
        let after = memoryAfter.map { format(Double($0.rssKiB) / 1_024, digits: 1) } ?? "?"
        print("keyraft-bench restart: node \(node) (leader is node \(leader)): SIGTERM to exit \(format(stoppedMs, digits: 0)) ms; "
              + "from start: API answers \(format(apiMs, digits: 0)) ms, lease valid and applied ≥ \(target) at "
              + "\(format(caughtUpMs, digits: 0)) ms, first Decrypt \(format(decryptMs, digits: 0)) ms; RSS \(before) MiB before, \(after) MiB after")
    }
}
