import Foundation
import KMS
import KMSWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

public struct APIServerConfig: Sendable {
    public var host: String
    public var port: Int
    public var certificatePath: String
    public var privateKeyPath: String
    public var region: String
    /// Requests with a larger body are refused with 413 before it is read.
    public var bodyBytesMax = KMSRequestDecoder.bodyBytesMax
    /// A request must arrive whole within this time of its first byte (slow clients).
    public var requestTimeoutMs: Int64 = 30_000
    /// A connection with no request in flight is closed after this long.
    public var idleTimeoutMs: Int64 = 60_000
    /// Connections beyond this are closed at once.
    public var connectionsMax = 1_024
    /// SigV4 clock skew allowed (AWS: 15 minutes).
    public var clockSkewSecondsMax: Int64 = 900

    public init(host: String, port: Int, certificatePath: String, privateKeyPath: String, region: String) {
        self.host = host
        self.port = port
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.region = region
    }
}

/// What every connection shares: immutable after start.
struct APIShared: Sendable {
    let config: APIServerConfig
    let verifier: SigV4Verifier<CredentialFile>
    let dispatcher: any APIDispatcher
    let observers: [any APIAuditSink]
    let logger: Logger
}

/// The AWS-compatible HTTPS endpoint: TLS 1.3 (NIOSSL), HTTP/1.1 (NIOHTTP1), the AWS JSON
/// 1.1 protocol, SigV4. One instance per node; every node serves every operation.
public final class APIServer: Sendable {
    private let shared: APIShared
    private let group: any EventLoopGroup
    private let tls: NIOSSLContext
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let connections = NIOLockedValueBox(0)

    public init(config: APIServerConfig, group: any EventLoopGroup, credentials: CredentialFile,
                dispatcher: any APIDispatcher, observers: [any APIAuditSink], logger: Logger) throws {
        var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(config.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: config.privateKeyPath, format: .pem)))
        tlsConfiguration.minimumTLSVersion = .tlsv13
        // On shutdown, wait this long for a client's close_notify (NIOSSL's default is 5 s,
        // which an idle keep-alive client never sends: a stop took 5 s per open connection).
        tlsConfiguration.shutdownTimeout = .milliseconds(200)
        tls = try NIOSSLContext(configuration: tlsConfiguration)
        self.group = group
        shared = APIShared(
            config: config,
            verifier: SigV4Verifier(region: config.region, service: "kms", store: credentials,
                                    clockSkewSecondsMax: config.clockSkewSecondsMax),
            dispatcher: dispatcher, observers: observers, logger: logger)
    }

    /// Binds and returns the port. Call once, off the event loops.
    public func start() throws -> Int {
        let shared = self.shared
        let tls = self.tls
        let connections = self.connections
        let bound = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let admitted = connections.withLockedValue { count -> Bool in
                    guard count < shared.config.connectionsMax else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in connections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls))
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(APIHandler(shared: shared))
                }
            }
            .bind(host: shared.config.host, port: shared.config.port)
            .wait()
        channel.withLockedValue { $0 = bound }
        let port = bound.localAddress?.port ?? shared.config.port
        shared.logger.info("API listening", metadata: ["port": "\(port)"])
        return port
    }

    public func shutdown() {
        let bound = channel.withLockedValue { current -> (any Channel)? in
            defer { current = nil }
            return current
        }
        try? bound?.close().wait()
    }
}

/// One HTTP connection: reads a request whole (bounded), authenticates it, decodes it,
/// hands it to the node and writes the answer. Pipelined requests wait their turn
/// (`HTTPServerPipelineHandler`).
final class APIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, [UInt8])
        /// The request was refused before its body arrived; the connection closes after the answer.
        case refused
        case dispatched
    }

    private let shared: APIShared
    private var state = State.idle
    private var deadline: Scheduled<Void>?
    /// When the current request's head arrived.
    private var startedAt = NIODeadline.now()
    /// The last read or answer: the connection closes `idleTimeoutMs` after it when no
    /// request is in flight.
    private var lastActivity = NIODeadline.now()
    /// One timer per connection, re-armed only when it fires: activity just moves
    /// `lastActivity`. (NIO's `IdleStateHandler` tracked every write with a promise and a
    /// callback, three per answer.)
    private var idleTimer: Scheduled<Void>?

    init(shared: APIShared) { self.shared = shared }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleTimer(context: context, at: lastActivity + idleTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if idleTimer == nil { armIdleTimer(context: context, at: lastActivity + idleTimeout) }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        idleTimer?.cancel()
        idleTimer = nil
    }

    private var idleTimeout: TimeAmount { .milliseconds(shared.config.idleTimeoutMs) }

    private func armIdleTimer(context: ChannelHandlerContext, at when: NIODeadline) {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: when) {
            handler.value.idleTimerFired(context: boundContext.value)
        }
    }

    private func idleTimerFired(context: ChannelHandlerContext) {
        let due = lastActivity + idleTimeout
        let now = NIODeadline.now()
        switch state {
        case .idle where now >= due:
            idleTimer = nil
            context.close(promise: nil)
        case .idle:
            armIdleTimer(context: context, at: due)
        case .receiving, .refused, .dispatched:
            // A request is being read (its own deadline covers it) or answered: look again later.
            armIdleTimer(context: context, at: max(due, now + idleTimeout))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case let (.head(head), .idle):
            startedAt = .now()
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > shared.config.bodyBytesMax {
                state = .refused
                respond(context: context, version: head.version, keepAlive: false, audit: unauthenticated(head),
                        result: .failure(AWSErrorBody(.validation, "Request body must be at most \(shared.config.bodyBytesMax) bytes.")),
                        statusOverride: 413)
                return
            }
            state = .receiving(head, [])
        case let (.body(chunk), .receiving(head, body)):
            guard body.count + chunk.readableBytes <= shared.config.bodyBytesMax else {
                state = .refused
                respond(context: context, version: head.version, keepAlive: false, audit: unauthenticated(head),
                        result: .failure(AWSErrorBody(.validation, "Request body must be at most \(shared.config.bodyBytesMax) bytes.")),
                        statusOverride: 413)
                return
            }
            var body = body
            state = .idle // drop the reference so `append` does not copy
            body.append(contentsOf: chunk.readableBytesView)
            state = .receiving(head, body)
        case let (.end, .receiving(head, body)):
            state = .dispatched
            deadline?.cancel()
            deadline = nil
            handle(context: context, head: head, body: body)
        case (_, .refused):
            break
        default:
            // A part out of order cannot come from NIOHTTP1's decoder; close rather than guess.
            context.close(promise: nil)
        }
    }

    /// A request still incomplete when the bytes read so far are used up gets a deadline
    /// for the rest (slow clients). Most requests arrive whole in one read and need no timer.
    func channelReadComplete(context: ChannelHandlerContext) {
        lastActivity = .now()
        if case .receiving = state, deadline == nil {
            let channel = context.channel
            let remainingMs = shared.config.requestTimeoutMs - (NIODeadline.now() - startedAt).nanoseconds / 1_000_000
            deadline = context.eventLoop.scheduleTask(in: .milliseconds(max(0, remainingMs))) {
                channel.close(promise: nil)
            }
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        shared.logger.debug("API connection failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private var requestIDs = RequestIDs()

    /// The audit entry of a request nobody has been authenticated for yet.
    private func unauthenticated(_ head: HTTPRequestHead) -> APIAuditEntry {
        // The target is caller input: bounded before it reaches the log.
        let target = head.headers.first(name: "x-amz-target").map { String($0.prefix(128)) } ?? "unknown"
        return APIAuditEntry(requestID: requestIDs.next(), principal: "unauthenticated", operation: target, key: nil,
                             context: [:], errorName: nil)
    }

    private func handle(context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        var audit = unauthenticated(head)
        let call: APICall
        let principal: Principal
        do {
            principal = try authenticate(head: head, body: body)
            audit.principal = principal.arn
            call = try decodeCall(head: head, body: body, principal: principal)
            (audit.key, audit.context) = AuditFields.of(call)
        } catch {
            respond(context: context, version: head.version, keepAlive: head.isKeepAlive, audit: audit, result: .failure(error))
            return
        }
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let version = head.version
        let keepAlive = head.isKeepAlive
        shared.dispatcher.dispatch(call, principal: principal, requestID: audit.requestID) { [audit] result in
            // The node's loop is one of the API's loops: answers for its connections need no hop.
            if loop.inEventLoop {
                handler.value.respond(context: boundContext.value, version: version, keepAlive: keepAlive,
                                      audit: audit, result: result)
            } else {
                loop.execute {
                    handler.value.respond(context: boundContext.value, version: version, keepAlive: keepAlive,
                                          audit: audit, result: result)
                }
            }
        }
    }

    /// Checks the signature. Nothing about the operation is looked at before the caller is known.
    private func authenticate(head: HTTPRequestHead, body: [UInt8]) throws(AWSErrorBody) -> Principal {
        let (path, query) = Self.split(head.uri)
        let request = SigV4Request(method: head.method.rawValue, path: path, query: query,
                                   headers: head.headers.map { SigV4Request.Header($0.name, $0.value) }, body: body)
        do { return try shared.verifier.verify(request, now: Date()).principal } catch { throw error.errorBody }
    }

    /// Names and decodes the operation of an authenticated request.
    private func decodeCall(head: HTTPRequestHead, body: [UInt8], principal: Principal) throws(AWSErrorBody) -> APICall {
        guard head.method == .POST, Self.split(head.uri).0 == "/" else {
            throw AWSErrorBody(.unknownOperation, "Requests must be POST to /.")
        }
        let target = head.headers.first(name: "x-amz-target")
        if let admin = AdminOperation(target: target) {
            guard principal.isAllowed(admin.action) else {
                throw AWSErrorBody(.accessDenied, "User: \(principal.arn) is not authorized to perform: \(admin.action)")
            }
            return .admin(admin, body)
        }
        let operation: KMSOperation
        do { operation = try KMSOperation(target: target) } catch { throw error.errorBody }
        return .kms(operation, try KMSRequestDecoder.decode(operation, body: body))
    }

    private static func split(_ uri: String) -> (String, String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }

    private func respond(context: ChannelHandlerContext, version: HTTPVersion, keepAlive: Bool, audit: APIAuditEntry,
                         result: Result<APIResult, AWSErrorBody>, statusOverride: Int? = nil) {
        let requestID = audit.requestID
        if !shared.observers.isEmpty {
            var entry = audit
            switch result {
            case let .success(answer): entry.key = AuditFields.keyARN(of: answer) ?? entry.key
            case let .failure(error): entry.errorName = error.name.rawValue
            }
            entry.durationNanos = (NIODeadline.now() - startedAt).nanoseconds
            for observer in shared.observers { observer.record(entry) }
        }
        deadline?.cancel()
        deadline = nil
        lastActivity = .now()
        let status: Int
        let body: [UInt8]
        switch result {
        case let .success(.write(response)): (status, body) = (200, KMSResponseEncoder.encode(response))
        case let .success(.read(response)): (status, body) = (200, KMSResponseEncoder.encode(response))
        case let .success(.json(bytes)): (status, body) = (200, bytes)
        case let .success(.encodeLater(encode)): (status, body) = (200, encode())
        case let .failure(error):
            (status, body) = (statusOverride ?? error.httpStatus, error.json)
            if error.httpStatus >= 500 {
                // 5xx messages are the server's own fixed texts (no caller input): they say why.
                shared.logger.warning("request failed", metadata: [
                    "requestId": "\(requestID)", "operation": "\(audit.operation)", "error": "\(error.name.rawValue)",
                    "reason": "\(error.message)",
                ])
            }
        }
        // One line per request at debug level: who, what, how it ended. Never bodies.
        shared.logger.debug("request", metadata: [
            "requestId": "\(requestID)", "principal": "\(audit.principal)", "operation": "\(audit.operation)",
            "status": "\(status)", "ms": "\((NIODeadline.now() - startedAt).nanoseconds / 1_000_000)",
        ])
        let refused: Bool
        if case .refused = state { refused = true } else { refused = false }
        // Ready for the next request before writing: the pipelining handler hands over a
        // queued request synchronously from inside the write of `.end`.
        if !refused { state = .idle }
        let keepOpen = keepAlive && !refused
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: AWSErrorBody.contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "x-amzn-RequestId", value: requestID)
        if !keepOpen { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status),
                                                             headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepOpen {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Request ids in the UUID form AWS uses, without a system call each: 64 random bits per
/// connection and 64 bits of a per-connection counter started at a random value. Unique per
/// connection; across connections, collisions need two equal 128-bit random draws.
struct RequestIDs {
    private let high: UInt64
    private var low: UInt64

    init() {
        var random = SystemRandomNumberGenerator()
        high = random.next()
        low = random.next()
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    mutating func next() -> String {
        low &+= 1
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (index, word) in [high, low].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 { out.append(UInt8(ascii: "-")) }
                out.append(Self.hexDigits[Int(word >> UInt64(60 - 4 * nibble) & 0xF)])
            }
        }
        assert(out.count == 36, "a UUID has 36 characters")
        return String(decoding: out, as: UTF8.self)
    }
}
