import KeyraftNode
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import RaftCore

public struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

public struct TransportConfig: Sendable {
    public var nodeID: NodeID
    public var listen: PeerAddress
    /// Every other member's peer address.
    public var peers: [NodeID: PeerAddress]
    public var tls: TLSFiles
    /// The largest frame; bigger messages (snapshots) are streamed in chunks of this size.
    public var maxFrameBytes = 4 << 20
    /// The largest message after reassembly (a snapshot).
    public var maxMessageBytes = 1 << 30
    /// Messages kept for a link that is connecting; beyond this they are dropped (Raft retries).
    public var queuedMessagesMax = 1_024
    /// A link whose unsent bytes exceed this drops further messages until it drains.
    public var writeBufferHighWaterBytes = 32 << 20
    public var reconnectBackoffMinMs: Int64 = 50
    public var reconnectBackoffMaxMs: Int64 = 2_000
    public var connectTimeoutMs: Int64 = 2_000
    /// An accepted connection that has not finished its TLS handshake by then is closed.
    public var handshakeTimeoutMs: Int64 = 5_000
    /// Inbound connections beyond this are closed at once (before any handshake work).
    public var inboundConnectionsMax = 256

    public init(nodeID: NodeID, listen: PeerAddress, peers: [NodeID: PeerAddress], tls: TLSFiles) {
        self.nodeID = nodeID
        self.listen = listen
        self.peers = peers
        self.tls = tls
    }

    var limits: FrameLimits { FrameLimits(maxFrameBytes: maxFrameBytes, maxMessageBytes: maxMessageBytes) }
}

/// Mutual-TLS 1.3 links between nodes.
///
/// Each node dials every peer and sends only on its own outbound connection; it receives on
/// the connections peers dialled to it. So a link carries one direction, and no two nodes
/// ever race to decide which of two connections to keep.
///
/// Sending never blocks and never grows without bound: a link that is connecting keeps at
/// most `queuedMessagesMax` messages, a connected link whose socket buffer is over the high
/// water mark drops messages, and Raft's retries recover them. Messages written while the
/// node handles one Ready go out with one flush.
///
/// Threading: `send`, `setPeers`, and every outbound link live on `loop`, the node's event
/// loop. Inbound connections run on any loop of the group and hand decoded messages to
/// `deliver`, which the owner hops onto the node's loop.
public final class PeerTransport: PeerNetwork, @unchecked Sendable {
    // @unchecked: mutable state is only touched on `loop` (asserted on each entry point).
    public let config: TransportConfig
    public let loop: any EventLoop
    private let group: any EventLoopGroup
    private let serverContext: NIOSSLContext
    private let clientContext: NIOSSLContext
    private let logger: Logger
    private let deliver: @Sendable (PeerMessage, NodeID) -> Void
    private var links: [NodeID: OutboundLink] = [:]
    private var serverChannel: (any Channel)?
    private var stopped = false
    private let inboundConnections = NIOLockedValueBox(0)
    /// Messages dropped because a link was down or full (for metrics and tests).
    public private(set) var droppedMessages = 0

    /// Loads the TLS material (throws on unreadable or invalid files) without opening sockets.
    public init(config: TransportConfig, group: any EventLoopGroup, loop: any EventLoop, logger: Logger,
                deliver: @escaping @Sendable (PeerMessage, NodeID) -> Void) throws {
        precondition(config.peers[config.nodeID] == nil, "a node is not its own peer")
        self.config = config
        self.group = group
        self.loop = loop
        self.logger = logger
        self.deliver = deliver
        serverContext = try PeerTLS.serverContext(config.tls)
        clientContext = try PeerTLS.clientContext(config.tls)
    }

    /// Binds the peer port and returns it (the configured one, or the one the system chose
    /// for port 0). Call once, off the event loop.
    public func start() throws -> Int {
        let context = serverContext
        let limits = config.limits
        let deliver = self.deliver
        let logger = self.logger
        let handshakeTimeout = TimeAmount.milliseconds(config.handshakeTimeoutMs)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [inboundConnections, config] channel in
                let admitted = inboundConnections.withLockedValue { count -> Bool in
                    guard count < config.inboundConnectionsMax else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in inboundConnections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: context))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(limits: limits)))
                    try sync.addHandler(InboundPeerHandler(logger: logger, deliver: deliver,
                                                           remote: channel.remoteAddress,
                                                           handshakeTimeout: handshakeTimeout))
                }
            }
            .bind(host: config.listen.host, port: config.listen.port)
            .wait()
        let port = channel.localAddress?.port ?? config.listen.port
        try loop.submit {
            self.serverChannel = channel
            // Every link is dialled now and kept up (reconnecting with backoff), so link
            // state is known for every peer, not only for those this node sends to.
            for (peer, address) in self.config.peers {
                let link = OutboundLink(peer: peer, address: address)
                self.links[peer] = link
                self.connect(link)
            }
        }.wait()
        logger.info("peer transport listening", metadata: ["port": "\(port)"])
        return port
    }

    /// Replaces the set of peers (a membership change): new peers get a link, removed ones
    /// are closed.
    public func setPeers(_ peers: [NodeID: PeerAddress]) {
        loop.preconditionInEventLoop()
        for (peer, link) in links where peers[peer] == nil || peers[peer] != link.address {
            links.removeValue(forKey: peer)
            link.close()
        }
        for (peer, address) in peers where links[peer] == nil && peer != config.nodeID {
            let link = OutboundLink(peer: peer, address: address)
            links[peer] = link
            connect(link)
        }
    }

    public func send(_ message: PeerMessage, to peer: NodeID) {
        loop.preconditionInEventLoop()
        guard !stopped, let link = links[peer] else { return }
        let payload = PeerMessageCodec.encode(message)
        guard payload.count <= config.maxMessageBytes else {
            logger.error("message over the transport's limit dropped", metadata: ["peer": "\(peer)", "bytes": "\(payload.count)"])
            droppedMessages += 1
            return
        }
        switch link.state {
        case let .connected(channel):
            guard channel.isWritable else {
                droppedMessages += 1
                return
            }
            write(payload, on: channel, link: link)
        case .idle:
            enqueue(payload, link: link)
            connect(link)
        case .connecting, .backingOff:
            enqueue(payload, link: link)
        }
    }

    /// True while the outbound link to `peer` has a connection.
    public func linkIsConnected(_ peer: NodeID) -> Bool {
        loop.preconditionInEventLoop()
        if case .connected = links[peer]?.state { return true }
        return false
    }

    /// Closes every link and the listener. Call off the event loop.
    public func shutdown() {
        let server: (any Channel)? = try? loop.submit { () -> (any Channel)? in
            self.stopped = true
            for link in self.links.values { link.close() }
            self.links = [:]
            defer { self.serverChannel = nil }
            return self.serverChannel
        }.wait() ?? nil
        if let server { try? server.close().wait() }
    }

    // MARK: Links

    private func enqueue(_ payload: [UInt8], link: OutboundLink) {
        guard link.queue.count < config.queuedMessagesMax else {
            droppedMessages += 1
            return
        }
        link.queue.append(payload)
    }

    private func write(_ payload: [UInt8], on channel: any Channel, link: OutboundLink) {
        var buffer = channel.allocator.buffer(capacity: payload.count + FrameEncoder.headerBytes)
        FrameEncoder.encode(payload, limits: config.limits, into: &buffer)
        channel.write(buffer, promise: nil)
        guard !link.flushScheduled else { return }
        link.flushScheduled = true
        // Runs after the current task: everything one Ready sends leaves in one flush.
        loop.execute {
            link.flushScheduled = false
            channel.flush()
        }
    }

    private func connect(_ link: OutboundLink) {
        loop.preconditionInEventLoop()
        guard !stopped else { return }
        link.state = .connecting
        let context = clientContext
        let expectedName = PeerTLS.expectedName(of: link.peer)
        let highWater = config.writeBufferHighWaterBytes
        let logger = self.logger
        let peer = link.peer
        let handshakeTimeout = TimeAmount.milliseconds(config.handshakeTimeoutMs)
        // Completed by the link's handler once the handshake has shown the peer is `peer`.
        let verified = loop.makePromise(of: Void.self)
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(config.connectTimeoutMs))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: highWater / 2, high: highWater))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: expectedName))
                    try sync.addHandler(OutboundPeerHandler(peer: peer, logger: logger, verified: verified,
                                                            handshakeTimeout: handshakeTimeout))
                }
            }
            .connect(host: link.address.host, port: link.address.port)
        connected.whenFailure { verified.fail($0) }
        // Nothing is written before the peer is verified: NIOSSL's host name check also passes
        // when any IP address in the certificate matches the socket's, and node certificates
        // carry 127.0.0.1 (and the host's address) for HTTPS clients, so another node at the
        // dialled address would otherwise receive this link's messages.
        connected.flatMap { channel in verified.futureResult.map { channel } }
            .whenComplete { [weak self] result in
                guard let self else { return }
                self.loop.preconditionInEventLoop()
                // The link may have been replaced or closed while connecting.
                guard self.links[link.peer] === link, !self.stopped else {
                    if case let .success(channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case let .success(channel):
                    link.failures = 0
                    link.state = .connected(channel)
                    let queued = link.queue
                    link.queue = []
                    for payload in queued { self.write(payload, on: channel, link: link) }
                    channel.closeFuture.whenComplete { _ in self.linkClosed(link, channel: channel) }
                case let .failure(error):
                    link.failures += 1
                    if link.failures == 1 {
                        logger.warning("cannot reach peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
                    }
                    self.backOff(link)
                }
            }
    }

    private func linkClosed(_ link: OutboundLink, channel: any Channel) {
        loop.preconditionInEventLoop()
        guard case let .connected(current) = link.state, current === channel else { return }
        link.failures += 1
        logger.info("peer link closed", metadata: ["peer": "\(link.peer)"])
        guard links[link.peer] === link, !stopped else { return }
        backOff(link)
    }

    private func backOff(_ link: OutboundLink) {
        link.state = .backingOff
        let exponent = min(link.failures, 16)
        let delayMs = min(config.reconnectBackoffMinMs << Int64(max(exponent - 1, 0)), config.reconnectBackoffMaxMs)
        // Up to 25 % jitter, so peers restarted together do not reconnect in lockstep.
        let jitterMs = Int64.random(in: 0...max(delayMs / 4, 1))
        loop.scheduleTask(in: .milliseconds(delayMs + jitterMs)) { [weak self] in
            guard let self, self.links[link.peer] === link, case .backingOff = link.state else { return }
            self.connect(link)
        }
    }
}

/// One direction of a peer link. Lives on the node's loop.
final class OutboundLink: @unchecked Sendable {
    // @unchecked: only touched on the node's loop.
    enum State {
        case idle
        case connecting
        case connected(any Channel)
        case backingOff
    }

    let peer: NodeID
    let address: PeerAddress
    var state = State.idle
    var queue: [[UInt8]] = []
    /// Consecutive failed connects or lost connections; reset by a completed handshake.
    var failures = 0
    var flushScheduled = false

    init(peer: NodeID, address: PeerAddress) {
        self.peer = peer
        self.address = address
    }

    func close() {
        queue = []
        if case let .connected(channel) = state { channel.close(promise: nil) }
        state = .idle
    }
}

/// Why an outbound link was not verified.
enum OutboundLinkError: Error, Equatable {
    /// The handshake completed, but the certificate names another node (nil: no node).
    case wrongPeer(expected: NodeID, found: NodeID?)
    case handshakeTimedOut
    case closedBeforeHandshake
}

/// The dialling side: checks that the peer's verified certificate names the node dialled,
/// then completes `verified`. Nothing is expected back on an outbound link; errors close it.
final class OutboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: NodeID
    private let logger: Logger
    /// Succeeded once the peer is known to be `peer`; failed on anything else. Completed once.
    private let verified: EventLoopPromise<Void>
    private let handshakeTimeout: TimeAmount
    private var timeout: Scheduled<Void>?

    init(peer: NodeID, logger: Logger, verified: EventLoopPromise<Void>, handshakeTimeout: TimeAmount) {
        self.peer = peer
        self.logger = logger
        self.verified = verified
        self.handshakeTimeout = handshakeTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let verified = self.verified
        timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            verified.fail(OutboundLinkError.handshakeTimedOut)
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        verified.fail(OutboundLinkError.closedBeforeHandshake) // no effect once completed
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            timeout?.cancel()
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            let found = certificate.flatMap(PeerIdentity.nodeID(of:))
            guard found == peer else {
                logger.warning("peer link refused: the certificate names another node", metadata: [
                    "peer": "\(peer)", "certificate.node": "\(found.map { "\($0)" } ?? "none")",
                ])
                verified.fail(OutboundLinkError.wrongPeer(expected: peer, found: found))
                context.close(promise: nil)
                return
            }
            verified.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        verified.fail(OutboundLinkError.closedBeforeHandshake) // no effect once completed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        logger.warning("peer sent data on an outbound link; closing it", metadata: ["peer": "\(peer)"])
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("peer link refused or failed", metadata: ["peer": "\(peer)", "error": "\(error)"])
        verified.fail(error)
        context.close(promise: nil)
    }
}

/// The accepting side: learns the peer's id from its certificate, then decodes messages.
final class InboundPeerHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]

    private let logger: Logger
    private let deliver: @Sendable (PeerMessage, NodeID) -> Void
    private let remote: SocketAddress?
    private let handshakeTimeout: TimeAmount
    private var peer: NodeID?
    private var timeout: Scheduled<Void>?

    init(logger: Logger, deliver: @escaping @Sendable (PeerMessage, NodeID) -> Void, remote: SocketAddress?,
         handshakeTimeout: TimeAmount) {
        self.logger = logger
        self.deliver = deliver
        self.remote = remote
        self.handshakeTimeout = handshakeTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timeout = context.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timeout?.cancel() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            timeout?.cancel()
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate
            guard let certificate, let id = PeerIdentity.nodeID(of: certificate) else {
                logger.warning("peer refused: its certificate names no node", metadata: ["remote": "\(remote.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            }
            peer = id
            logger.info("peer connected", metadata: ["peer": "\(id)"])
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let peer else {
            context.close(promise: nil)
            return
        }
        let bytes = unwrapInboundIn(data)
        do {
            deliver(try PeerMessageCodec.decode(bytes), peer)
        } catch {
            logger.warning("malformed message from peer; closing the link", metadata: ["peer": "\(peer)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("peer connection refused or failed", metadata: [
            "peer": "\(peer.map { "\($0)" } ?? "unknown")", "remote": "\(remote.map { "\($0)" } ?? "?")", "error": "\(error)",
        ])
        context.close(promise: nil)
    }
}
