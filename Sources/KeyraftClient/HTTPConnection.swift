import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// A whole HTTP answer.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    /// False when the server asked to close the connection after this answer.
    var keepAlive: Bool
}

/// Why a connection could not carry a request, in the terms the retry rule needs.
enum ConnectionFailure: Error, Sendable, CustomStringConvertible {
    /// The TCP connect or the TLS handshake failed: no request byte left this process.
    case connectFailed(String)
    /// The connection was closed before the request was written.
    case notSent(String)
    /// This client refused the request before choosing a connection (its pool is full).
    case refusedLocally(String)
    /// Sent; no whole answer within the request timeout.
    case timedOut(milliseconds: Int64)
    /// Sent (perhaps partly); the connection failed before a whole answer.
    case lost(String)
    /// The answer's body was larger than allowed; the connection was closed.
    case answerTooLarge(bytesMax: Int)

    var description: String {
        switch self {
        case let .connectFailed(reason): return "connect failed: \(reason)"
        case let .notSent(reason): return "connection closed before the request was sent: \(reason)"
        case let .refusedLocally(reason): return "refused by the client: \(reason)"
        case let .timedOut(ms): return "no answer within \(ms) ms"
        case let .lost(reason): return "connection lost before a whole answer: \(reason)"
        case let .answerTooLarge(max): return "answer larger than \(max) bytes"
        }
    }

    var outcome: AttemptOutcome {
        switch self {
        case .connectFailed, .notSent: return .notSent
        case .refusedLocally: return .refusedLocally
        case .timedOut, .lost, .answerTooLarge: return .outcomeUnknown
        }
    }
}

/// One request for the handler: written as head, body, end; answered through `promise`.
struct RequestWork: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer
    let timeout: TimeAmount
    let promise: EventLoopPromise<HTTPResponse>
}

/// One keep-alive TLS connection carrying one request at a time.
///
/// Lives on its channel's event loop only; it is reached through the pipeline (a write of
/// `RequestWork`) and answers through the work's promise.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = RequestWork
    typealias OutboundOut = HTTPClientRequestPart

    private struct InFlight {
        let promise: EventLoopPromise<HTTPResponse>
        let timeout: Scheduled<Void>
        var head: HTTPResponseHead?
        var body: [UInt8] = []
    }

    private enum State {
        case handshaking
        case idle
        case busy(InFlight)
        case closed
    }

    private var state = State.handshaking
    private let handshake: EventLoopPromise<Void>
    private let bodyBytesMax: Int

    init(handshake: EventLoopPromise<Void>, bodyBytesMax: Int) {
        self.handshake = handshake
        self.bodyBytesMax = bodyBytesMax
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshaking = state, let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            state = .idle
            handshake.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let work = unwrapOutboundIn(data)
        guard case .idle = state, context.channel.isActive else {
            work.promise.fail(ConnectionFailure.notSent("the connection is \(stateName)"))
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timeoutMs = work.timeout.nanoseconds / 1_000_000
        let timeout = context.eventLoop.scheduleTask(in: work.timeout) {
            let (handler, context) = bound.value
            handler.fail(context: context, with: .timedOut(milliseconds: timeoutMs))
        }
        state = .busy(InFlight(promise: work.promise, timeout: timeout))
        let ended = context.eventLoop.makePromise(of: Void.self)
        ended.futureResult.whenComplete { result in
            if case let .failure(error) = result {
                let (handler, context) = bound.value
                handler.fail(context: context, with: .lost("write failed: \(error)"))
            }
            promise?.completeWith(result)
        }
        context.write(wrapOutboundOut(.head(work.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(work.body))), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: ended)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case var .busy(inFlight) = state else {
            // An answer nobody asked for: the connection is out of step; drop it.
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case let .head(head):
            inFlight.head = head
            state = .busy(inFlight)
        case var .body(chunk):
            guard inFlight.body.count + chunk.readableBytes <= bodyBytesMax else {
                fail(context: context, with: .answerTooLarge(bytesMax: bodyBytesMax))
                return
            }
            inFlight.body += chunk.readBytes(length: chunk.readableBytes) ?? []
            state = .busy(inFlight)
        case .end:
            inFlight.timeout.cancel()
            guard let head = inFlight.head else {
                fail(context: context, with: .lost("an answer without a head"))
                return
            }
            state = .idle
            inFlight.promise.succeed(HTTPResponse(status: Int(head.status.code), headers: head.headers,
                                                  body: inFlight.body, keepAlive: head.isKeepAlive))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .handshaking = state {
            state = .closed
            handshake.fail(ConnectionFailure.connectFailed("\(error)"))
            context.close(promise: nil)
            return
        }
        fail(context: context, with: .lost("\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .handshaking:
            handshake.fail(ConnectionFailure.connectFailed("closed during the TLS handshake"))
        case let .busy(inFlight):
            inFlight.timeout.cancel()
            inFlight.promise.fail(ConnectionFailure.lost("the server closed the connection"))
        case .idle, .closed:
            break
        }
        state = .closed
        context.fireChannelInactive()
    }

    /// Fails the request in flight, if any, and closes the connection.
    private func fail(context: ChannelHandlerContext, with failure: ConnectionFailure) {
        if case let .busy(inFlight) = state {
            inFlight.timeout.cancel()
            inFlight.promise.fail(failure)
        }
        state = .closed
        context.close(promise: nil)
    }

    private var stateName: String {
        switch state {
        case .handshaking: return "still in its TLS handshake"
        case .idle: return "closed"
        case .busy: return "busy"
        case .closed: return "closed"
        }
    }
}

/// A connected, handshaken TLS connection to one endpoint.
final class HTTPConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) { self.channel = channel }

    var isActive: Bool { channel.isActive }

    /// Connects and completes the TLS handshake within `timeout`.
    static func connect(
        to endpoint: KeyraftEndpoint, tls: NIOSSLContext, group: any EventLoopGroup, timeout: TimeAmount, bodyBytesMax: Int
    ) async throws(ConnectionFailure) -> HTTPConnection {
        let loop = group.next()
        let handshake = loop.makePromise(of: Void.self)
        let serverName = endpoint.isAddressLiteral ? nil : endpoint.host
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(HTTPConnectionHandler(handshake: handshake, bodyBytesMax: bodyBytesMax))
                }
            }
        // One deadline for connect and handshake together, so an attempt never takes 2 × timeout.
        let deadline = NIODeadline.now() + timeout
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            handshake.fail(error)
            throw .connectFailed("\(error)")
        }
        let handshakeTimeout = loop.scheduleTask(deadline: deadline) {
            handshake.fail(ConnectionFailure.connectFailed("TLS handshake not done within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        do {
            try await handshake.futureResult.get()
            handshakeTimeout.cancel()
        } catch {
            handshakeTimeout.cancel()
            channel.close(promise: nil)
            throw (error as? ConnectionFailure) ?? .connectFailed("\(error)")
        }
        return HTTPConnection(channel: channel)
    }

    /// Sends one request and waits for its whole answer.
    func execute(head: HTTPRequestHead, body: [UInt8], timeout: TimeAmount) async throws(ConnectionFailure) -> HTTPResponse {
        let promise = channel.eventLoop.makePromise(of: HTTPResponse.self)
        var buffer = channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        let written = channel.eventLoop.makePromise(of: Void.self)
        // If the write never reaches the handler (the pipeline is gone), nothing was sent.
        // Otherwise the handler has completed `promise` first and this does nothing.
        written.futureResult.whenFailure { error in promise.fail(ConnectionFailure.notSent("\(error)")) }
        channel.writeAndFlush(RequestWork(head: head, body: buffer, timeout: timeout, promise: promise), promise: written)
        do {
            return try await promise.futureResult.get()
        } catch {
            throw (error as? ConnectionFailure) ?? .lost("\(error)")
        }
    }

    func close() {
        channel.close(promise: nil)
    }
}
