import Foundation
import KeyraftCerts
import KeyraftNode
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import RaftCore
import Transport
import XCTest

/// A fresh folder under the system temporary directory; `remove()` deletes it.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory().appending("keyraft-server-tests-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Writes `text` to `path` with `mode`, replacing any file there.
func writeFile(_ text: String, to path: String, mode: Int) throws {
    try? FileManager.default.removeItem(atPath: path)
    XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                                 attributes: [.posixPermissions: mode]))
    // createFile honours the umask: set the mode explicitly so a test's 0644 really is 0644.
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
}

/// A cluster CA with node certificates 1, 2 and 3 in a scratch folder.
struct CertificateFixture {
    let scratch: ScratchDirectory
    let certificates: ClusterCertificates
    let authority: CertificateAuthority

    init(nodes: [UInt64] = [1, 2, 3]) throws {
        scratch = try ScratchDirectory()
        certificates = ClusterCertificates(directory: scratch.file("certs"))
        authority = try certificates.loadOrCreateAuthority().authority
        for node in nodes { try certificates.writeNodeCertificate(nodeID: node, authority: authority) }
    }

    var caPath: String { certificates.authorityCertificatePath }

    /// Node `id`'s TLS files, trusting this fixture's CA.
    func tls(node id: UInt64) -> TLSFiles {
        TLSFiles(certificatePath: certificates.nodeCertificatePath(nodeID: id),
                 privateKeyPath: certificates.nodeKeyPath(nodeID: id), caPath: caPath)
    }

    func remove() { scratch.remove() }
}

// MARK: - Logs

/// Keeps every log record of the loggers it makes, so tests can assert that a refusal was logged.
final class LogRecorder: Sendable {
    struct Record: Sendable, CustomStringConvertible {
        let label: String
        let level: Logger.Level
        let message: String
        let metadata: [String: String]

        var description: String { "[\(label)] \(level) \(message) \(metadata)" }
    }

    private let box = NIOLockedValueBox<[Record]>([])

    var records: [Record] { box.withLockedValue { $0 } }

    func append(_ record: Record) { box.withLockedValue { $0.append(record) } }

    func logger(_ label: String) -> Logger {
        Logger(label: label) { label in RecordingLogHandler(label: label, recorder: self) }
    }

    /// Records at warning or above from `label` (all labels when nil).
    func warnings(from label: String? = nil) -> [Record] {
        records.filter { $0.level >= .warning && (label == nil || $0.label == label) }
    }
}

struct RecordingLogHandler: LogHandler {
    let label: String
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        recorder.append(.init(label: label, level: event.level, message: event.message.description,
                              metadata: merged.mapValues { "\($0)" }))
    }
}

// MARK: - Waiting

struct TimedOut: Error {}

/// Polls `condition` every 10 ms until it holds or `timeoutMs` passes; returns whether it held.
func waitUntil(timeoutMs: Int = 10_000, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1_000)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// The result of `future`, or `TimedOut` after `timeoutMs`. Never blocks longer.
func outcome<T: Sendable>(of future: EventLoopFuture<T>, timeoutMs: Int64 = 10_000) -> Result<T, any Error> {
    let promise = future.eventLoop.makePromise(of: T.self)
    let timer = future.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) { promise.fail(TimedOut()) }
    future.cascade(to: promise)
    defer { timer.cancel() }
    do { return .success(try promise.futureResult.wait()) } catch { return .failure(error) }
}

// MARK: - Peer transport helpers

/// Collects what a transport delivers.
final class Inbox: Sendable {
    private let box = NIOLockedValueBox<[(message: PeerMessage, peer: NodeID)]>([])

    var received: [(message: PeerMessage, peer: NodeID)] { box.withLockedValue { $0 } }

    var deliver: @Sendable (PeerMessage, NodeID) -> Void {
        { [self] message, peer in box.withLockedValue { $0.append((message, peer)) } }
    }
}

extension PeerTransport {
    /// Sends on the transport's own loop, as the node driver does.
    func sendFromLoop(_ message: PeerMessage, to peer: NodeID) throws {
        try loop.submit { self.send(message, to: peer) }.wait()
    }
}

/// A small raft message whose fields identify it.
func heartbeat(from: UInt64, to: UInt64, term: UInt64, commit: UInt64 = 0) -> PeerMessage {
    .raft(Message(type: .heartbeat, from: NodeID(from), to: NodeID(to), term: Term(term), commit: LogIndex(commit)))
}

/// A raw TLS client that records how its handshake ended and any later error.
final class RawTLSClient: Sendable {
    let channel: any Channel
    /// Succeeds on `handshakeCompleted`; fails on an error or a close before it.
    let handshake: EventLoopFuture<Void>
    private let errorsBox: NIOLockedValueBox<[String]>

    var errors: [String] { errorsBox.withLockedValue { $0 } }

    private init(channel: any Channel, handshake: EventLoopFuture<Void>, errors: NIOLockedValueBox<[String]>) {
        self.channel = channel
        self.handshake = handshake
        self.errorsBox = errors
    }

    /// A client configuration presenting `certificate`/`key` and trusting `caPath`.
    static func configuration(certificatePath: String, keyPath: String, caPath: String) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        return configuration
    }

    static func connect(group: any EventLoopGroup, port: Int, configuration: TLSConfiguration,
                        serverHostname: String?) throws -> RawTLSClient {
        let context = try NIOSSLContext(configuration: configuration)
        let loop = group.next()
        let handshake = loop.makePromise(of: Void.self)
        let errors = NIOLockedValueBox<[String]>([])
        let channel = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
                    try sync.addHandler(HandshakeRecorder(handshake: handshake, errors: errors))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .wait()
        return RawTLSClient(channel: channel, handshake: handshake.futureResult, errors: errors)
    }

    /// Writes raw bytes (inside TLS) and flushes.
    func write(_ bytes: [UInt8]) {
        let channel = self.channel
        channel.eventLoop.execute {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func close() { try? channel.close().wait() }
}

/// The connection closed before the awaited event (a handshake, an answer).
struct ClosedEarly: Error {}

private final class HandshakeRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let handshake: EventLoopPromise<Void>
    private let errors: NIOLockedValueBox<[String]>

    init(handshake: EventLoopPromise<Void>, errors: NIOLockedValueBox<[String]>) {
        self.handshake = handshake
        self.errors = errors
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls { handshake.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.withLockedValue { $0.append("\(error)") }
        handshake.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ClosedEarly())
        context.fireChannelInactive()
    }
}
