import Foundation
import KeyraftNode
import NIOCore
import RaftCore
import Transport
import Yams

/// One node's configuration file (YAML). Relative paths are relative to the file's folder.
///
///     nodeId: 1
///     dataDir: node-1
///     peerAddress: 127.0.0.1:7101
///     apiAddress: 127.0.0.1:8101
///     adminAddress: 127.0.0.1:9101  # optional: /metrics, /healthz, /readyz over plain HTTP
///     peers: {2: "127.0.0.1:7102", 3: "127.0.0.1:7103"}
///     initialVoters: [1, 2, 3]
///     tls: {certificate: node-1.pem, privateKey: node-1.key, ca: ca.pem}
///     rootKeyFile: root.key          # or rootKeyCheckFile: root.check (sealed start)
///     credentialsFile: credentials.json
///     region: us-east-1
///     accountId: "111122223333"
///     tickMs: 100
///     electionTimeoutTicks: 10
///     readConsistency: lease        # or linearizable
///     maxStalenessMs: 5000
///     snapshotEveryEntries: 1000    # snapshot the KMS state and compact the log this often
///     eventLoopThreads: 2           # default: cores, at least 2, at most 4; 1 = everything on the node's loop
///     auditDir: node-1-audit        # default: <dataDir>-audit
///     pidFile: node-1.pid
///     logLevel: info
public struct ServerConfig: Sendable, Equatable {
    public var nodeID: NodeID
    public var dataDir: String
    public var peerAddress: PeerAddress
    public var apiAddress: PeerAddress
    public var adminAddress: PeerAddress?
    public var peers: [NodeID: PeerAddress]
    public var initialVoters: [NodeID]
    public var tls: TLSFiles
    /// Where the root key comes from: a file (the node starts unsealed), or only a check
    /// value (the node starts sealed until `keyraft operator unseal` gives it enough shares).
    public var rootKey: RootKeySource
    public var credentialsFile: String
    public var region: String
    public var accountID: String
    public var tickMs: Int64
    public var electionTimeoutTicks: Int
    public var heartbeatTimeoutTicks: Int
    public var requestTimeoutTicks: Int
    public var readConsistency: ReadConsistency
    /// Applied entries between snapshots of the KMS state (each one serialises the whole
    /// state on the node's loop: raise it for very many keys).
    public var snapshotEveryEntries: Int
    /// Threads of the process's event loops (API, peer links, admin); the node runs on one
    /// of them. With 1, every request is served on the node's own loop without a hop
    /// between threads.
    public var eventLoopThreads: Int
    public var auditDir: String
    public var pidFile: String?
    public var logLevel: String

    public enum RootKeySource: Sendable, Equatable {
        case file(String)
        case shares(checkFile: String)
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    struct File: Codable {
        var nodeId: UInt64
        var dataDir: String
        var peerAddress: String
        var apiAddress: String
        var adminAddress: String?
        var peers: [String: String]?
        var initialVoters: [UInt64]?
        var tls: TLS
        var rootKeyFile: String?
        var rootKeyCheckFile: String?
        var credentialsFile: String
        var region: String?
        var accountId: String?
        var tickMs: Int64?
        var electionTimeoutTicks: Int?
        var heartbeatTimeoutTicks: Int?
        var requestTimeoutTicks: Int?
        var readConsistency: String?
        var maxStalenessMs: Int64?
        var snapshotEveryEntries: Int?
        var eventLoopThreads: Int?
        var auditDir: String?
        var pidFile: String?
        var logLevel: String?

        struct TLS: Codable {
            var certificate: String
            var privateKey: String
            var ca: String
        }
    }

    public static func load(path: String) throws -> ServerConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw Invalid("cannot read \(path): \(error.localizedDescription)")
        }
        let file: File
        do { file = try YAMLDecoder().decode(File.self, from: text) } catch {
            throw Invalid("\(path): \(error)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try ServerConfig(file, base: base)
    }

    init(_ file: File, base: String) throws {
        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : base + "/" + path }
        guard let id = NodeID(validating: file.nodeId) else { throw Invalid("nodeId must be at least 1") }
        nodeID = id
        dataDir = resolve(file.dataDir)
        peerAddress = try Self.address(file.peerAddress, field: "peerAddress")
        apiAddress = try Self.address(file.apiAddress, field: "apiAddress")
        adminAddress = try file.adminAddress.map { try Self.address($0, field: "adminAddress") }
        var peers: [NodeID: PeerAddress] = [:]
        for (key, value) in file.peers ?? [:] {
            guard let raw = UInt64(key), let peer = NodeID(validating: raw), peer != id else {
                throw Invalid("peers: '\(key)' is not another node's id")
            }
            peers[peer] = try Self.address(value, field: "peers.\(key)")
        }
        self.peers = peers
        let voters = try (file.initialVoters ?? [file.nodeId]).map { raw -> NodeID in
            guard let voter = NodeID(validating: raw) else { throw Invalid("initialVoters: 0 is not a node id") }
            return voter
        }
        guard Set(voters).count == voters.count else { throw Invalid("initialVoters lists a node twice") }
        for voter in voters where voter != id && peers[voter] == nil {
            throw Invalid("initialVoters names node \(voter), which has no entry in peers")
        }
        initialVoters = voters
        tls = TLSFiles(certificatePath: resolve(file.tls.certificate), privateKeyPath: resolve(file.tls.privateKey),
                       caPath: resolve(file.tls.ca))
        switch (file.rootKeyFile, file.rootKeyCheckFile) {
        case let (path?, nil): rootKey = .file(resolve(path))
        case let (nil, path?): rootKey = .shares(checkFile: resolve(path))
        default: throw Invalid("set exactly one of rootKeyFile (unsealed start) and rootKeyCheckFile (sealed start, Shamir shares)")
        }
        credentialsFile = resolve(file.credentialsFile)
        region = file.region ?? "us-east-1"
        accountID = file.accountId ?? "111122223333"
        guard accountID.count == 12, accountID.allSatisfy(\.isNumber) else { throw Invalid("accountId must be 12 digits") }
        tickMs = file.tickMs ?? 100
        guard (10...1_000).contains(tickMs) else { throw Invalid("tickMs must be between 10 and 1000") }
        electionTimeoutTicks = file.electionTimeoutTicks ?? 10
        heartbeatTimeoutTicks = file.heartbeatTimeoutTicks ?? 1
        guard heartbeatTimeoutTicks >= 1, electionTimeoutTicks > heartbeatTimeoutTicks * 2 else {
            throw Invalid("electionTimeoutTicks must exceed twice heartbeatTimeoutTicks")
        }
        requestTimeoutTicks = file.requestTimeoutTicks ?? 50
        guard requestTimeoutTicks >= electionTimeoutTicks else { throw Invalid("requestTimeoutTicks must be at least electionTimeoutTicks") }
        switch file.readConsistency ?? "lease" {
        case "lease":
            let staleness = file.maxStalenessMs ?? 5_000
            guard staleness >= tickMs * 2 else { throw Invalid("maxStalenessMs must be at least two ticks") }
            readConsistency = .lease(maxStalenessMs: staleness)
        case "linearizable": readConsistency = .linearizable
        case let other: throw Invalid("readConsistency must be lease or linearizable, not '\(other)'")
        }
        snapshotEveryEntries = file.snapshotEveryEntries ?? NodeConfig(id: nodeID).snapshotEveryEntries
        guard (10...10_000_000).contains(snapshotEveryEntries) else {
            throw Invalid("snapshotEveryEntries must be between 10 and 10000000")
        }
        eventLoopThreads = file.eventLoopThreads ?? Self.eventLoopThreadsDefault
        guard (1...64).contains(eventLoopThreads) else { throw Invalid("eventLoopThreads must be between 1 and 64") }
        auditDir = file.auditDir.map(resolve) ?? dataDir + "-audit"
        pidFile = file.pidFile.map(resolve)
        logLevel = file.logLevel ?? "info"
    }

    /// One per core, at least 2 and at most 4.
    public static var eventLoopThreadsDefault: Int { max(2, min(System.coreCount, 4)) }

    static func address(_ text: String, field: String) throws -> PeerAddress {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65_535).contains(port), colon > text.startIndex
        else { throw Invalid("\(field): '\(text)' is not host:port") }
        return PeerAddress(host: String(text[..<colon]), port: port)
    }

    /// The node driver's settings.
    public var nodeConfig: NodeConfig {
        var config = NodeConfig(id: nodeID)
        config.tickMs = tickMs
        config.electionTimeoutTicks = electionTimeoutTicks
        config.heartbeatTimeoutTicks = heartbeatTimeoutTicks
        config.requestTimeoutTicks = requestTimeoutTicks
        config.readConsistency = readConsistency
        config.snapshotEveryEntries = snapshotEveryEntries
        // Refresh rounds also confirm the leader (a refusal is final only within 80 % of an
        // election timeout of one): at least two per such window, and four per staleness window.
        var refreshTicks = max(1, electionTimeoutTicks * 8 / 10 / 2)
        if case let .lease(maxStalenessMs) = readConsistency {
            refreshTicks = min(refreshTicks, max(1, Int(maxStalenessMs / tickMs / 4)))
        }
        config.leaseRefreshTicks = min(5, refreshTicks)
        return config
    }
}
