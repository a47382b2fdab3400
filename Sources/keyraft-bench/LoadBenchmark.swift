import Foundation
import Glibc
import Histogram
import KMSWire
import KeyraftNode
import KeyraftServer
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Transport

/// `keyraft-bench load`: closed-loop load over N keep-alive connections (TLS 1.3, or plain
/// HTTP for moto) spread round-robin over the endpoints; each connection sends its next
/// signed request when the last is answered. Runs for a time or a number of requests;
/// prints throughput and latency percentiles per call. A connection that fails (closed,
/// refused, or no answer within the timeout) is counted and reconnects to the next
/// endpoint, so the generator keeps going through a leader failure.
struct LoadBenchmark {
    /// What the connections send.
    enum Operation: String, CaseIterable {
        case createKey = "create-key"
        case encrypt
        case decrypt
        case generateDataKey = "generate-data-key"
        /// `Call.mixedSchedule`: Decrypt 60 %, Encrypt 20 %, GenerateDataKey 15 %, CreateKey 5 %.
        case mixed
    }

    /// One KMS call.
    enum Call: Int, CaseIterable, Sendable {
        case decrypt, encrypt, generateDataKey, createKey

        var target: String {
            switch self {
            case .decrypt: return "TrentService.Decrypt"
            case .encrypt: return "TrentService.Encrypt"
            case .generateDataKey: return "TrentService.GenerateDataKey"
            case .createKey: return "TrentService.CreateKey"
            }
        }

        var name: String { String(target.dropFirst("TrentService.".count)) }
        var isWrite: Bool { self == .createKey }

        /// 20 calls: 12 Decrypt, 4 Encrypt, 3 GenerateDataKey, 1 CreateKey, interleaved.
        /// Each connection starts at a different place in it.
        static let mixedSchedule: [Call] = [
            .decrypt, .encrypt, .decrypt, .generateDataKey, .decrypt, .decrypt, .encrypt, .decrypt, .createKey, .decrypt,
            .generateDataKey, .decrypt, .encrypt, .decrypt, .decrypt, .generateDataKey, .decrypt, .encrypt, .decrypt, .decrypt,
        ]
    }

    struct Endpoint: Sendable, CustomStringConvertible {
        var host: String
        var port: Int
        var tls: Bool
        var description: String { "\(tls ? "https" : "http")://\(host):\(port)" }

        init(host: String, port: Int, tls: Bool) {
            self.host = host
            self.port = port
            self.tls = tls
        }

        init(url text: String) throws {
            guard let url = URL(string: text.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme,
                  scheme == "https" || scheme == "http", let host = url.host, let port = url.port
            else { throw SignedClient.Failure(description: "'\(text)' is not an http(s) URL with a port") }
            self.init(host: host, port: port, tls: scheme == "https")
        }
    }

    enum Only: String { case followers, leader }

    struct Options {
        var endpoints: [Endpoint] = []
        var caPath: String?
        var credentials: SigV4Credentials?
        var region = "us-east-1"
        var operation = Operation.decrypt
        var connections = 16
        var threads = 1
        var seconds: Double?
        var count: Int?
        var json = false
        var label: String?
        /// Use this key instead of creating one.
        var keyID: String?
        var timeoutMs: Int64 = 10_000
        /// A `keyraft dev` folder: pid files and configs, for `killLeaderAfterMs` and `only`.
        var clusterDir: String?
        var only: Only?
        var killLeaderAfterMs: Int?
        /// Send placeholder bodies without creating a key first (for `baseline-server`).
        var noSetup = false
        /// This many of the connections send only CreateKey, the others `operation` (so a
        /// write waiting out a failover does not hold up the reads of its connection).
        var writeConnections = 0
        /// Restarts the node `killLeaderAfterMs` killed once the run is over.
        var keyraftBinary = ""
        /// Server processes whose CPU time the run reports (default with `clusterDir`: its nodes).
        var serverPIDs: [pid_t] = []
    }

    let options: Options

    /// Fills what `--dir` provides and the options leave open: endpoints, CA, credentials.
    static func resolve(_ options: Options) throws -> Options {
        var options = options
        if let directory = options.clusterDir {
            if options.endpoints.isEmpty {
                let text = try String(contentsOfFile: directory + "/endpoints", encoding: .utf8)
                options.endpoints = try text.split(separator: "\n").map { try Endpoint(url: String($0)) }
            }
            if options.caPath == nil { options.caPath = directory + "/ca.pem" }
            if options.credentials == nil {
                options.credentials = try DevCluster(directory: directory, nodeCount: 1).devCredentials()
            }
        }
        guard !options.endpoints.isEmpty else { throw SignedClient.Failure(description: "load needs --dir or --endpoints") }
        if options.credentials == nil {
            // moto accepts any signature; Keyraft needs real credentials (--access-key/--secret-key or --dir).
            options.credentials = SigV4Credentials(accessKeyID: "AKIDBENCHMARK", secretAccessKey: "benchmark-secret")
        }
        if options.endpoints.contains(where: \.tls), options.caPath == nil {
            throw SignedClient.Failure(description: "https endpoints need --ca (or --dir)")
        }
        if options.only != nil || options.killLeaderAfterMs != nil, options.clusterDir == nil {
            throw SignedClient.Failure(description: "--only and --kill-leader-after-ms need --dir")
        }
        if options.seconds == nil, options.count == nil { options.seconds = 10 }
        guard options.writeConnections < options.connections else {
            throw SignedClient.Failure(description: "--write-connections must leave at least one connection for --op")
        }
        return options
    }

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        defer { try? group.syncShutdownGracefully() }
        let credentials = options.credentials!
        let tls: NIOSSLContext?
        if let caPath = options.caPath {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv13
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
        }
        let setup = OneShotClient(signer: SigV4Signer(credentials: credentials, region: options.region, service: "kms"),
                                  tls: tls, group: group)
        var endpoints = options.endpoints
        var cluster: ClusterView?
        if let directory = options.clusterDir {
            cluster = try ClusterView(directory: directory, client: setup)
            if let only = options.only {
                let leader = try cluster!.leader()
                let leaderEndpoint = cluster!.configs[leader - 1].apiAddress
                let isLeader = { (endpoint: Endpoint) in endpoint.host == leaderEndpoint.host && endpoint.port == leaderEndpoint.port }
                endpoints = endpoints.filter { only == .leader ? isLeader($0) : !isLeader($0) }
                guard !endpoints.isEmpty else { throw SignedClient.Failure(description: "no endpoint is the \(only.rawValue)") }
            }
        }
        let bodies = try requestBodies(setup: setup, on: endpoints[0])
        let schedule: [Call]
        switch options.operation {
        case .createKey: schedule = [.createKey]
        case .encrypt: schedule = [.encrypt]
        case .decrypt: schedule = [.decrypt]
        case .generateDataKey: schedule = [.generateDataKey]
        case .mixed: schedule = Call.mixedSchedule
        }
        var serverPIDs = options.serverPIDs
        if serverPIDs.isEmpty, let cluster {
            serverPIDs = (1...cluster.configs.count).compactMap { DevCluster.runningPID(cluster.pidPath($0)) }
        }
        let cpuBefore = CPUSample(serverPIDs: serverPIDs)
        let started = NIODeadline.now()
        let plan = LoadPlan(
            endpoints: endpoints, tls: tls, signer: SigV4Signer(credentials: credentials, region: options.region, service: "kms"),
            bodies: bodies, schedules: [[.createKey], schedule], writeConnections: options.writeConnections, started: started,
            // A --count run is bounded too, by --seconds if given, else generously.
            deadline: started + .nanoseconds(Int64((options.seconds ?? Self.countRunSecondsMax) * 1e9)),
            tickets: options.count.map { NIOLockedValueBox($0) }, timeoutMs: options.timeoutMs)
        let killedAt = NIOLockedValueBox<(node: Int, micros: UInt64)?>(nil)
        var killer: Thread?
        if let afterMs = options.killLeaderAfterMs, let cluster {
            let thread = Thread {
                usleep(UInt32(afterMs) * 1_000)
                guard let leader = try? cluster.leader(), let pid = DevCluster.runningPID(cluster.pidPath(leader)) else {
                    FileHandle.standardError.write(Data("keyraft-bench: no leader to kill\n".utf8))
                    return
                }
                kill(pid, SIGKILL)
                let micros = UInt64((NIODeadline.now() - started).nanoseconds / 1_000)
                killedAt.withLockedValue { $0 = (leader, micros) }
            }
            thread.start()
            killer = thread
        }
        var futures: [EventLoopFuture<SlotResult>] = []
        for index in 0..<options.connections {
            let loop = group.next()
            let promise = loop.makePromise(of: SlotResult.self)
            loop.execute {
                let slot = LoadSlot(plan: plan, loop: loop, endpointIndex: index,
                                    schedule: plan.schedules[index < plan.writeConnections ? 0 : 1],
                                    scheduleIndex: (index * 7) % schedule.count, done: promise)
                slot.connect()
            }
            futures.append(promise.futureResult)
        }
        var total = SlotResult()
        for future in futures { total.merge(try future.wait()) }
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let cpu = CPUSample(serverPIDs: serverPIDs).since(cpuBefore)
        _ = killer
        let killed = killedAt.withLockedValue { $0 }
        var restartedMs: Double?
        if let killed, let cluster { restartedMs = try restart(node: killed.node, cluster: cluster) }
        report(total, endpoints: endpoints, elapsed: elapsed, killed: killed, restartedMs: restartedMs, cpu: cpu)
        if let count = options.count, let left = plan.tickets?.withLockedValue({ $0 }), left > 0 {
            // A count that was not reached is a failed run, not a short one.
            throw SignedClient.Failure(description: "stopped by the time limit with \(count - left) of \(count) requests sent")
        }
    }

    /// The time limit of a `--count` run without `--seconds`.
    static let countRunSecondsMax: Double = 6 * 3_600

    /// Starts a killed node again and waits until it has applied what the leader committed.
    private func restart(node: Int, cluster: ClusterView) throws -> Double {
        signal(SIGCHLD, SIG_IGN)
        unlink(cluster.pidPath(node))
        let startedAt = Date()
        _ = try DevCluster.spawn(binary: options.keyraftBinary, arguments: ["server", "--config", cluster.directory + "/node-\(node).yaml"],
                                 logPath: cluster.directory + "/node-\(node).log")
        let target = (try? cluster.leader()).flatMap { (cluster.status($0)?["CommitIndex"] as? NSNumber)?.uint64Value } ?? 0
        while Date().timeIntervalSince(startedAt) < 120 {
            if let status = cluster.status(node), cluster.serves(node, status),
               ((status["AppliedIndex"] as? NSNumber)?.uint64Value ?? 0) >= target {
                return Date().timeIntervalSince(startedAt) * 1_000
            }
            usleep(50_000)
        }
        throw SignedClient.Failure(description: "node \(node) did not catch up within 120 s of its restart")
    }

    /// The body of each call of the run (a key and a ciphertext made first when needed).
    private func requestBodies(setup: OneShotClient, on endpoint: Endpoint) throws -> [[UInt8]] {
        func call(_ call: Call, _ body: String) throws -> [String: Any] {
            let answer = try setup.post(endpoint, target: call.target, body: Array(body.utf8), timeoutMs: 10_000)
            guard answer.status == 200, let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else {
                throw SignedClient.Failure(description: "\(call.name) failed during setup: \(String(decoding: answer.body, as: UTF8.self))")
            }
            return object
        }
        let createKey = #"{"Description":"bench"}"#
        let plaintext = Data(repeating: 0x61, count: 32).base64EncodedString()
        if options.noSetup {
            // The sizes of real requests: a key ARN, and a ciphertext of 32 bytes as Keyraft makes them.
            let arn = "arn:aws:kms:us-east-1:111122223333:key/0b7f8a1e-9d3c-4c1e-8f4a-2a6b5c7d8e9f"
            let blob = Data(repeating: 0x42, count: 85).base64EncodedString()
            return [
                Array(#"{"CiphertextBlob":"\#(blob)"}"#.utf8),
                Array(#"{"KeyId":"\#(arn)","Plaintext":"\#(plaintext)"}"#.utf8),
                Array(#"{"KeyId":"\#(arn)","KeySpec":"AES_256"}"#.utf8),
                Array(createKey.utf8),
            ]
        }
        var keyID = options.keyID
        if keyID == nil, options.operation != .createKey || options.writeConnections > 0 {
            let key = try call(.createKey, createKey)
            guard let arn = (key["KeyMetadata"] as? [String: Any])?["Arn"] as? String else {
                throw SignedClient.Failure(description: "CreateKey answered no ARN")
            }
            keyID = arn
        }
        var bodies = [[UInt8]](repeating: [], count: Call.allCases.count)
        bodies[Call.createKey.rawValue] = Array(createKey.utf8)
        guard let keyID else { return bodies }
        let encrypt = #"{"KeyId":"\#(keyID)","Plaintext":"\#(plaintext)"}"#
        bodies[Call.encrypt.rawValue] = Array(encrypt.utf8)
        bodies[Call.generateDataKey.rawValue] = Array(#"{"KeyId":"\#(keyID)","KeySpec":"AES_256"}"#.utf8)
        let encrypted = try call(.encrypt, encrypt)
        guard let blob = encrypted["CiphertextBlob"] as? String else { throw SignedClient.Failure(description: "no ciphertext") }
        bodies[Call.decrypt.rawValue] = Array(#"{"CiphertextBlob":"\#(blob)"}"#.utf8)
        // Every node applies the key before the run (read-your-writes holds on the node written to only).
        if options.endpoints.count > 1 { usleep(500_000) }
        return bodies
    }

    private func report(_ total: SlotResult, endpoints: [Endpoint], elapsed: Double, killed: (node: Int, micros: UInt64)?,
                        restartedMs: Double?, cpu: CPUSample.Used) {
        struct Row {
            var name: String
            var ok: Int
            var failed: Int
            var histogram: Histogram<UInt64>
            var longestGapMicros: UInt64
            var gapStartMicros: UInt64
        }
        func longestGap(_ times: [UInt64]) -> (UInt64, UInt64) {
            let sorted = times.sorted()
            var best: (UInt64, UInt64) = (0, 0)
            for i in sorted.indices.dropFirst() where sorted[i] - sorted[i - 1] > best.0 {
                best = (sorted[i] - sorted[i - 1], sorted[i - 1])
            }
            return best
        }
        func row(_ name: String, _ calls: [Call]) -> Row {
            var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
            var times: [UInt64] = []
            var ok = 0
            var failed = 0
            for call in calls {
                let stats = total.calls[call.rawValue]
                ok += stats.ok
                failed += stats.failures.values.reduce(0, +)
                for value in stats.latenciesMicros { _ = histogram.record(value) }
                times += stats.completedMicros
            }
            let (gap, start) = longestGap(times)
            return Row(name: name, ok: ok, failed: failed, histogram: histogram, longestGapMicros: gap, gapStartMicros: start)
        }
        let used = Call.allCases.filter { total.calls[$0.rawValue].ok + total.calls[$0.rawValue].failures.values.reduce(0, +) > 0 }
        var rows = used.map { row($0.name, [$0]) }
        if used.count > 1 { rows.append(row("all", Call.allCases)) }
        let failures = total.failuresByKind()
        func ms(_ histogram: Histogram<UInt64>, _ percentile: Double) -> Double {
            histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000
        }
        if options.json {
            var object: [String: Any] = [
                "operation": options.operation.rawValue, "connections": options.connections, "endpoints": endpoints.map(\.description),
                "seconds": elapsed, "reconnects": total.reconnects, "connect_failures": total.connectFailures,
                "closed_after_answer": total.plannedReconnects,
                "calls": rows.map { row -> [String: Any] in
                    [
                        "call": row.name, "ok": row.ok, "failed": row.failed, "throughput_per_s": Double(row.ok) / elapsed,
                        "p50_ms": ms(row.histogram, 50), "p90_ms": ms(row.histogram, 90), "p99_ms": ms(row.histogram, 99),
                        "p999_ms": ms(row.histogram, 99.9), "max_ms": Double(row.histogram.max) / 1_000,
                        "longest_gap_ms": Double(row.longestGapMicros) / 1_000, "longest_gap_starts_at_ms": Double(row.gapStartMicros) / 1_000,
                    ]
                },
                "failures": Dictionary(uniqueKeysWithValues: failures.map { ("\($0.call) \($0.kind)", $0.count) }),
            ]
            let all = rows.last!
            object["ok"] = all.ok
            object["failed"] = all.failed
            object["throughput_per_s"] = Double(all.ok) / elapsed
            object["p50_ms"] = ms(all.histogram, 50)
            object["p99_ms"] = ms(all.histogram, 99)
            if let label = options.label { object["label"] = label }
            object["cpu"] = [
                "server_s": cpu.serverSeconds, "server_processes": cpu.serverProcesses, "client_s": cpu.clientSeconds,
                "machine_busy_s": cpu.machineBusySeconds, "machine_s": cpu.machineSeconds,
                "server_us_per_call": all.ok > 0 ? cpu.serverSeconds / Double(all.ok) * 1e6 : 0,
                "client_us_per_call": all.ok > 0 ? cpu.clientSeconds / Double(all.ok) * 1e6 : 0,
            ]
            if let killed { object["killed_node"] = killed.node; object["killed_at_ms"] = Double(killed.micros) / 1_000 }
            if let restartedMs { object["killed_node_restarted_caught_up_ms"] = restartedMs }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let how = options.count.map { "\($0) requests" } ?? String(format: "%.0f s", options.seconds ?? 0)
        print("keyraft-bench load: \(options.operation.rawValue), \(options.connections) connections over \(endpoints.count) endpoint(s) "
              + "(\(endpoints.map(\.description).joined(separator: ", "))), \(how), took \(String(format: "%.2f", elapsed)) s")
        print(pad("call", 16) + pad("ok", 9) + pad("failed", 8) + pad("per s", 9) + pad("p50 ms", 9) + pad("p90 ms", 9)
              + pad("p99 ms", 9) + pad("p99.9 ms", 10) + pad("max ms", 10) + "longest gap ms")
        for row in rows {
            print(pad(row.name, 16) + pad("\(row.ok)", 9) + pad("\(row.failed)", 8) + pad(format(Double(row.ok) / elapsed, digits: 0), 9)
                  + pad(format(ms(row.histogram, 50), digits: 2), 9) + pad(format(ms(row.histogram, 90), digits: 2), 9)
                  + pad(format(ms(row.histogram, 99), digits: 2), 9) + pad(format(ms(row.histogram, 99.9), digits: 2), 10)
                  + pad(format(Double(row.histogram.max) / 1_000, digits: 2), 10) + format(Double(row.longestGapMicros) / 1_000, digits: 1)
                  + (killed == nil ? "" : String(format: " (from %.0f ms)", Double(row.gapStartMicros) / 1_000)))
        }
        if !failures.isEmpty {
            print("failures: " + failures.map { "\($0.call) \($0.kind): \($0.count)" }.joined(separator: ", "))
        }
        if total.reconnects > 0 || total.connectFailures > 0 {
            print("reconnects \(total.reconnects), failed connection attempts \(total.connectFailures)")
        }
        if total.plannedReconnects > 0 {
            print("the server closed the connection after \(total.plannedReconnects) answers (no keep-alive): a new connection each")
        }
        let okAll = rows.last!.ok
        print(String(format: "CPU: server %.2f s (%d processes, %.0f µs per call), load generator %.2f s (%.0f µs per call), "
                     + "machine busy %.2f of %.2f s (other processes %.2f s)",
                     cpu.serverSeconds, cpu.serverProcesses, okAll > 0 ? cpu.serverSeconds / Double(okAll) * 1e6 : 0,
                     cpu.clientSeconds, okAll > 0 ? cpu.clientSeconds / Double(okAll) * 1e6 : 0,
                     cpu.machineBusySeconds, cpu.machineSeconds,
                     max(0, cpu.machineBusySeconds - cpu.serverSeconds - cpu.clientSeconds)))
        if let killed { print(String(format: "SIGKILLed the leader (node %d) at %.0f ms", killed.node, Double(killed.micros) / 1_000)) }
        if let restartedMs { print(String(format: "restarted it after the run: caught up in %.0f ms", restartedMs)) }
    }
}

/// Leader lookup on a `keyraft dev` cluster.
struct ClusterView: Sendable {
    let directory: String
    let configs: [ServerConfig]
    let client: OneShotClient

    init(directory: String, client: OneShotClient) throws {
        let files = (1...9).filter { FileManager.default.fileExists(atPath: directory + "/node-\($0).yaml") }
        guard !files.isEmpty else { throw SignedClient.Failure(description: "\(directory) holds no node-N.yaml") }
        self.directory = directory
        configs = try files.map { try ServerConfig.load(path: directory + "/node-\($0).yaml") }
        self.client = client
    }

    func pidPath(_ node: Int) -> String { directory + "/node-\(node).pid" }

    func status(_ node: Int, timeoutMs: Int64 = 1_000) -> [String: Any]? {
        let api = configs[node - 1].apiAddress
        guard let answer = try? client.post(LoadBenchmark.Endpoint(host: api.host, port: api.port, tls: true),
                                            target: "KeyraftAdmin.GetNodeStatus", body: Array("{}".utf8), timeoutMs: timeoutMs),
              answer.status == 200 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body))) as? [String: Any]
    }

    /// Whether a node's status says it serves reads: a valid lease, or linearizable mode
    /// (where only the leader holds a lease) and a known leader.
    func serves(_ node: Int, _ status: [String: Any]) -> Bool {
        if configs[node - 1].readConsistency == .linearizable { return ((status["LeaderId"] as? NSNumber)?.uint64Value ?? 0) != 0 }
        return status["LeaseValid"] as? Bool == true
    }

    /// The node that says it leads (retried for up to 10 s).
    func leader() throws -> Int {
        for _ in 0..<100 {
            for node in 1...configs.count where status(node)?["Role"] as? String == "Leader" { return node }
            usleep(100_000)
        }
        throw SignedClient.Failure(description: "no node reports itself leader")
    }
}

/// Blocking signed POSTs, one connection each, over TLS or plain HTTP.
struct OneShotClient: Sendable {
    let signer: SigV4Signer
    let tls: NIOSSLContext?
    let group: any EventLoopGroup

    func post(_ endpoint: LoadBenchmark.Endpoint, target: String, body: [UInt8], timeoutMs: Int64,
              answerBytesMax: Int = 1 << 30) throws -> (status: Int, body: [UInt8]) {
        let head = LoadPlan.signedHead(signer: signer, host: "\(endpoint.host):\(endpoint.port)", target: target, body: body, keepAlive: false)
        let tls = endpoint.tls ? self.tls : nil
        if endpoint.tls, tls == nil { throw SignedClient.Failure(description: "\(endpoint) needs a CA (--ca)") }
        let loop = group.next()
        let promise = loop.makePromise(of: (Int, [UInt8]).self)
        let channel = try ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(timeoutMs))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(ResponseCollector(promise: promise, bodyBytesMax: answerBytesMax))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .wait()
        defer { channel.close(promise: nil) }
        let timeout = loop.scheduleTask(in: .milliseconds(timeoutMs)) {
            promise.fail(SignedClient.Failure(description: "no answer from \(endpoint) within \(timeoutMs) ms"))
        }
        defer { timeout.cancel() }
        var buffer = channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let (status, answer) = try promise.futureResult.wait()
        return (status, answer)
    }
}

/// What every connection of a run shares (immutable, except the ticket count).
struct LoadPlan: Sendable {
    let endpoints: [LoadBenchmark.Endpoint]
    let tls: NIOSSLContext?
    let signer: SigV4Signer
    let bodies: [[UInt8]]
    /// CreateKey only (the first `writeConnections` connections), then the run's schedule.
    let schedules: [[LoadBenchmark.Call]]
    let writeConnections: Int
    let started: NIODeadline
    let deadline: NIODeadline
    /// Requests left to send (`--count`); nil when the run is timed.
    let tickets: NIOLockedValueBox<Int>?
    let timeoutMs: Int64

    /// Takes one request off the count; false when the run is over.
    func take() -> Bool {
        guard NIODeadline.now() < deadline else { return false }
        guard let tickets else { return true }
        return tickets.withLockedValue { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }

    var isOver: Bool {
        NIODeadline.now() >= deadline || (tickets?.withLockedValue { $0 <= 0 } ?? false)
    }

    /// A request signed now.
    static func signedHead(signer: SigV4Signer, host: String, target: String, body: [UInt8], keepAlive: Bool) -> HTTPRequestHead {
        let unsigned = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", host), .init("Content-Type", "application/x-amz-json-1.1"), .init("X-Amz-Target", target),
        ], body: body)
        let signed = try! signer.sign(unsigned, date: Date())
        var headers = HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        return HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
    }
}

struct CallStats: Sendable {
    var ok = 0
    /// By HTTP status and error type, or "timeout" / "connection lost".
    var failures: [String: Int] = [:]
    var latenciesMicros: [UInt64] = []
    /// When each successful call was answered, from the start of the run.
    var completedMicros: [UInt64] = []

    mutating func merge(_ other: CallStats) {
        ok += other.ok
        for (kind, count) in other.failures { failures[kind, default: 0] += count }
        latenciesMicros += other.latenciesMicros
        completedMicros += other.completedMicros
    }
}

struct SlotResult: Sendable {
    var calls = [CallStats](repeating: CallStats(), count: LoadBenchmark.Call.allCases.count)
    var reconnects = 0
    var connectFailures = 0
    /// New connections because the server closed after its answer (not failures).
    var plannedReconnects = 0

    mutating func merge(_ other: SlotResult) {
        for i in calls.indices { calls[i].merge(other.calls[i]) }
        reconnects += other.reconnects
        plannedReconnects += other.plannedReconnects
        connectFailures += other.connectFailures
    }

    func failuresByKind() -> [(call: String, kind: String, count: Int)] {
        LoadBenchmark.Call.allCases.flatMap { call in
            calls[call.rawValue].failures.sorted { $0.key < $1.key }.map { (call.name, $0.key, $0.value) }
        }
    }
}

/// One closed-loop client: a connection to one endpoint at a time; sends the next request
/// when the last is answered; reconnects (to the next endpoint) when the connection fails.
/// Lives on one event loop.
final class LoadSlot {
    private let plan: LoadPlan
    private let loop: any EventLoop
    private var endpointIndex: Int
    private let schedule: [LoadBenchmark.Call]
    private var scheduleIndex: Int
    private let done: EventLoopPromise<SlotResult>
    private var result = SlotResult()
    private var finished = false
    private var channel: (any Channel)?
    private var inFlight: LoadBenchmark.Call?
    private var sentAt = NIODeadline.now()
    private var timeout: Scheduled<Void>?
    private var reconnectAtOnce = false
    /// Latencies kept per call and connection; bounded so a long run cannot exhaust memory.
    private static let samplesMax = 2_000_000

    init(plan: LoadPlan, loop: any EventLoop, endpointIndex: Int, schedule: [LoadBenchmark.Call], scheduleIndex: Int,
         done: EventLoopPromise<SlotResult>) {
        self.plan = plan
        self.loop = loop
        self.endpointIndex = endpointIndex
        self.schedule = schedule
        self.scheduleIndex = scheduleIndex
        self.done = done
    }

    func connect() {
        loop.preconditionInEventLoop()
        guard !finished else { return }
        guard !plan.isOver else { return finish() }
        let endpoint = plan.endpoints[endpointIndex % plan.endpoints.count]
        let tls = endpoint.tls ? plan.tls : nil
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(plan.timeoutMs))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(LoadConnection(slot: bound.value))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .whenComplete { outcome in
                let slot = bound.value
                switch outcome {
                case let .success(channel):
                    if slot.finished { channel.close(promise: nil) }
                case .failure:
                    slot.result.connectFailures += 1
                    slot.retry()
                }
            }
    }

    /// Reconnects to the next endpoint shortly.
    private func retry() {
        guard !finished else { return }
        guard !plan.isOver else { return finish() }
        endpointIndex += 1
        result.reconnects += 1
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: .milliseconds(20)) { bound.value.connect() }
    }

    func active(context: ChannelHandlerContext) {
        channel = context.channel
        sendNext(context: context)
    }

    private func sendNext(context: ChannelHandlerContext) {
        guard !finished else { return }
        guard plan.take() else { return finish() }
        let call = schedule[scheduleIndex % schedule.count]
        scheduleIndex += 1
        let body = plan.bodies[call.rawValue]
        let endpoint = plan.endpoints[endpointIndex % plan.endpoints.count]
        let head = LoadPlan.signedHead(signer: plan.signer, host: "\(endpoint.host):\(endpoint.port)", target: call.target,
                                       body: body, keepAlive: true)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        inFlight = call
        sentAt = .now()
        let channel = context.channel
        let bound = NIOLoopBound(self, eventLoop: loop)
        timeout = loop.scheduleTask(in: .milliseconds(plan.timeoutMs)) {
            let slot = bound.value
            if let call = slot.inFlight {
                slot.result.calls[call.rawValue].failures["timeout", default: 0] += 1
                slot.inFlight = nil
            }
            channel.close(promise: nil)
        }
        context.write(NIOAny(HTTPClientRequestPart.head(head)), promise: nil)
        context.write(NIOAny(HTTPClientRequestPart.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)
    }

    /// An answer. `keepAlive` false (moto closes every connection after one answer): the
    /// next request goes on a new connection, at once and not counted as a reconnect.
    func answered(context: ChannelHandlerContext, status: Int, errorType: String?, keepAlive: Bool) {
        timeout?.cancel()
        timeout = nil
        guard let call = inFlight else { return }
        inFlight = nil
        let now = NIODeadline.now()
        if status == 200 {
            var stats = result.calls[call.rawValue]
            result.calls[call.rawValue] = CallStats()  // so the appends below do not copy
            stats.ok += 1
            if stats.latenciesMicros.count < Self.samplesMax {
                stats.latenciesMicros.append(UInt64(max(0, (now - sentAt).nanoseconds / 1_000)))
                stats.completedMicros.append(UInt64(max(0, (now - plan.started).nanoseconds / 1_000)))
            }
            result.calls[call.rawValue] = stats
        } else {
            result.calls[call.rawValue].failures["\(status) \(errorType ?? "")", default: 0] += 1
        }
        if keepAlive {
            sendNext(context: context)
        } else {
            reconnectAtOnce = true
            context.close(promise: nil)
        }
    }

    /// The connection closed or failed.
    func lost() {
        timeout?.cancel()
        timeout = nil
        channel = nil
        if let call = inFlight {
            result.calls[call.rawValue].failures["connection lost", default: 0] += 1
            inFlight = nil
        }
        if reconnectAtOnce {
            reconnectAtOnce = false
            result.plannedReconnects += 1
            connect()
        } else {
            retry()
        }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        timeout?.cancel()
        channel?.close(promise: nil)
        done.succeed(result)
    }
}

/// The handler of one load connection: hands answers and failures to its slot.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let slot: LoadSlot
    private var status = 0
    private var keepAlive = true
    private var errorBody: [UInt8] = []
    private var isLost = false

    init(slot: LoadSlot) { self.slot = slot }

    func channelActive(context: ChannelHandlerContext) {
        slot.active(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            status = Int(head.status.code)
            keepAlive = head.isKeepAlive
            errorBody.removeAll(keepingCapacity: true)
        case let .body(chunk):
            if status != 200, errorBody.count < 2_048 { errorBody.append(contentsOf: chunk.readableBytesView) }
        case .end:
            var errorType: String?
            if status != 200 {
                let object = (try? JSONSerialization.jsonObject(with: Data(errorBody))) as? [String: Any]
                errorType = (object?["__type"] as? String).map { String($0.split(separator: "#").last ?? "") }
            }
            slot.answered(context: context, status: status, errorType: errorType, keepAlive: keepAlive)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard !isLost else { return }
        isLost = true
        slot.lost()
    }
}

/// CPU time of the server processes, of this process and of the whole machine, from /proc.
struct CPUSample {
    struct Used {
        var serverSeconds: Double
        var serverProcesses: Int
        var clientSeconds: Double
        var machineBusySeconds: Double
        var machineSeconds: Double
    }

    var serverTicks: [pid_t: Int]
    var clientSeconds: Double
    var machineBusyTicks: Int
    var machineTicks: Int

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    init(serverPIDs: [pid_t]) {
        serverTicks = [:]
        for pid in serverPIDs {
            // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime, stime.
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            let fields = text[text.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) { serverTicks[pid] = user + system }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        clientSeconds = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        machineBusyTicks = 0
        machineTicks = 0
        if let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) {
            let values = line.split(separator: " ").dropFirst().compactMap { Int($0) }
            machineTicks = values.prefix(8).reduce(0, +)
            machineBusyTicks = machineTicks - (values.count > 4 ? values[3] + values[4] : 0)  // less idle and iowait
        }
    }

    /// What was used between `earlier` and this sample (processes gone since are left out).
    func since(_ earlier: CPUSample) -> Used {
        let server = serverTicks.reduce(0) { sum, entry in sum + entry.value - (earlier.serverTicks[entry.key] ?? entry.value) }
        return Used(serverSeconds: Double(server) / Self.ticksPerSecond, serverProcesses: serverTicks.count,
                    clientSeconds: clientSeconds - earlier.clientSeconds,
                    machineBusySeconds: Double(machineBusyTicks - earlier.machineBusyTicks) / Self.ticksPerSecond,
                    machineSeconds: Double(machineTicks - earlier.machineTicks) / Self.ticksPerSecond)
    }
}
