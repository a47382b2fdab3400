import APIServer
import Dispatch
import Foundation
import Glibc
import KMS
import KeyraftCrypto
import KeyraftNode
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RaftCore
import Storage
import Transport

/// One running node process: storage, the node on its event loop, peer links, the API.
public final class ServerProcess: @unchecked Sendable {
    // @unchecked: the fields are set once in `start` and read in `stop`, both on the caller's thread.
    public let config: ServerConfig
    private let logger: Logger
    private var group: MultiThreadedEventLoopGroup?
    private var storage: RocksDBNodeStorage?
    private(set) var transport: PeerTransport?
    private var api: APIServer?
    private var host: NodeHost?
    private var snapshotWriter: BackgroundSnapshotWriter?
    private var admin: AdminServer?
    public private(set) var adminPort: Int?
    public private(set) var apiPort = 0
    public private(set) var peerPort = 0

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Opens everything and starts serving. Throws with a message naming what is wrong.
    public func start() throws {
        let rootKey: SecretBytes?
        let rootKeyCheck: String?
        switch config.rootKey {
        case let .file(path):
            rootKey = try RootKeyFile.load(path: path)
            rootKeyCheck = nil
        case let .shares(checkFile):
            rootKey = nil
            rootKeyCheck = try RootKeyCheck.load(path: checkFile)
            logger.notice("starting sealed: give it shares with keyraft operator unseal")
        }
        let credentials = try CredentialFile(path: config.credentialsFile)
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let storage: RocksDBNodeStorage
        do {
            storage = try RocksDBNodeStorage(path: config.dataDir, bootstrap: Membership(voters: config.initialVoters))
        } catch {
            throw ServerConfig.Invalid("storage at \(config.dataDir): \(error)")
        }
        self.storage = storage
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.eventLoopThreads)
        self.group = group
        let loop = group.next()
        let hostBox = NIOLockedValueBox<NodeHost?>(nil)
        var transportConfig = TransportConfig(nodeID: config.nodeID, listen: config.peerAddress, peers: config.peers, tls: config.tls)
        transportConfig.maxMessageBytes = 1 << 30
        let transport = try PeerTransport(config: transportConfig, group: group, loop: loop, logger: logger) { message, peer in
            hostBox.withLockedValue { $0 }?.deliver(message, from: peer)
        }
        self.transport = transport
        let kmsConfig = KMSConfig(region: config.region, accountID: config.accountID)
        let nodeConfig = config.nodeConfig
        // The store is handed to the node loop, which alone uses it until `stop` closes it.
        let metrics = NodeMetrics()
        let handedOver = UncheckedSendable(MeasuredStorage(storage, fsyncLatency: metrics.fsyncLatency))
        let writer = BackgroundSnapshotWriter(storage: storage, logger: logger)
        snapshotWriter = writer
        let host = try loop.submit { () throws -> NodeHost in
            let node = try KeyraftNode(config: nodeConfig, kmsConfig: kmsConfig, rootKey: rootKey, storage: handedOver.value,
                                       network: transport, clock: SystemClock(), entropy: SystemEntropy(),
                                       random: SystemRandomNumberGenerator())
            let host = NodeHost(node: node, loop: loop, kmsConfig: kmsConfig, metrics: metrics, logger: self.logger)
            writer.runOnLoop = { [weak host] body in host?.runAsEvent(body) }
            writer.isStopped = { [weak node] in node?.isHalted ?? true }
            node.snapshotWriter = writer
            host.rootKeyCheck = rootKeyCheck
            host.rootKeyCheckValue = rootKeyCheck ?? rootKey.map(RootKeyCheck.value(of:))
            host.linkIsUp = { transport.linkIsConnected($0) }
            return host
        }.wait()
        hostBox.withLockedValue { $0 = host }
        self.host = host
        peerPort = try transport.start()
        host.start(tickMs: config.tickMs)
        var apiConfig = APIServerConfig(host: config.apiAddress.host, port: config.apiAddress.port,
                                        certificatePath: config.tls.certificatePath,
                                        privateKeyPath: config.tls.privateKeyPath, region: config.region)
        apiConfig.bodyBytesMax = 64 * 1024
        let audit = try FileAuditSink(directory: config.auditDir, node: "node-\(config.nodeID.rawValue)", logger: logger)
        let api = try APIServer(config: apiConfig, group: group, credentials: credentials, dispatcher: host,
                                observers: [audit, metrics], logger: logger)
        self.api = api
        apiPort = try api.start()
        if let address = config.adminAddress {
            let admin = AdminServer(group: group, metrics: metrics, host: host, logger: logger)
            self.admin = admin
            adminPort = try admin.start(host: address.host, port: address.port)
        }
        if let pidFile = config.pidFile {
            try Data("\(getpid())\n".utf8).write(to: URL(fileURLWithPath: pidFile), options: .atomic)
        }
        logger.info("node started", metadata: ["node": "\(config.nodeID.rawValue)", "api": "\(apiPort)", "peer": "\(peerPort)"])
    }

    /// Stops serving, closes links and storage. Idempotent.
    public func stop() {
        admin?.shutdown()
        admin = nil
        api?.shutdown()
        api = nil
        transport?.shutdown()
        transport = nil
        host?.stop()
        host = nil
        // A snapshot being staged writes to the store: it finishes first (its commit then
        // finds the node stopped and leaves the chunks for the next open to remove).
        snapshotWriter?.drain()
        snapshotWriter = nil
        storage?.close()
        storage = nil
        try? group?.syncShutdownGracefully()
        group = nil
        if let pidFile = config.pidFile { unlink(pidFile) }
        logger.info("node stopped", metadata: ["node": "\(config.nodeID.rawValue)"])
    }

    /// Runs a node until SIGTERM or SIGINT. The `keyraft server` command.
    public static func runUntilSignalled(configPath: String) -> Int32 {
        let config: ServerConfig
        do { config = try ServerConfig.load(path: configPath) } catch {
            FileHandle.standardError.write(Data("keyraft server: \(error)\n".utf8))
            return 2
        }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        // Every line carries the node's current term and role (NodeHost updates them).
        LoggingSystem.bootstrap({ label, provider in
            var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
            handler.logLevel = level
            return handler
        }, metadataProvider: RaftLogContext.provider)
        var logger = Logger(label: "keyraft")
        logger[metadataKey: "node"] = "\(config.nodeID.rawValue)"
        let process = ServerProcess(config: config, logger: logger)
        do { try process.start() } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            process.stop()
            return 1
        }
        let signalled = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { signalled.signal() }
            source.resume()
            sources.append(source)
        }
        // SIGHUP re-reads the configuration's peers (a node added or moved) and updates the links.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        if let transport = process.transport {
            // The handler holds the transport itself, never reads the process's fields, and is
            // cancelled before the process stops.
            hangup.setEventHandler { reloadPeers(transport: transport, nodeID: config.nodeID, configPath: configPath, logger: logger) }
        }
        hangup.resume()
        signalled.wait()
        hangup.cancel()
        logger.info("stopping on signal")
        process.stop()
        _ = sources
        return 0
    }
}

/// Moves a value that is not `Sendable` to another thread whose exclusive use of it is
/// guaranteed by the caller (the value is not touched by the sender meanwhile).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Re-reads `peers` from the configuration file (SIGHUP); other changes need a restart.
func reloadPeers(transport: PeerTransport, nodeID: NodeID, configPath: String, logger: Logger) {
    do {
        let fresh = try ServerConfig.load(path: configPath)
        guard fresh.nodeID == nodeID else {
            logger.error("configuration reload refused: nodeId changed")
            return
        }
        try transport.loop.submit { transport.setPeers(fresh.peers) }.wait()
        logger.info("peers reloaded", metadata: ["peers": "\(fresh.peers.keys.map(\.rawValue).sorted())"])
    } catch {
        logger.error("configuration reload failed; keeping the old peers", metadata: ["error": "\(error)"])
    }
}
