import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin port: plain HTTP for probes and scrapers, read-only, no secrets.
///
/// - `GET /metrics`: Prometheus text exposition.
/// - `GET /healthz`: 200 while the process runs.
/// - `GET /readyz`: 200 when the node knows a leader, is unsealed and holds a valid read
///   lease (so it can serve reads and cryptography now); 503 with the reason otherwise.
///
/// Bind it to loopback or a management network: it needs no credentials because it
/// answers nothing a client could use against keys.
final class AdminServer: Sendable {
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let group: any EventLoopGroup
    private let metrics: NodeMetrics
    private let host: NodeHost
    private let logger: Logger

    init(group: any EventLoopGroup, metrics: NodeMetrics, host: NodeHost, logger: Logger) {
        self.group = group
        self.metrics = metrics
        self.host = host
        self.logger = logger
    }

    func start(host address: String, port: Int) throws -> Int {
        let metrics = self.metrics
        let node = self.host
        let bound = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(IdleStateHandler(allTimeout: .seconds(30)))
                    try sync.addHandler(AdminHandler(metrics: metrics, node: node))
                }
            }
            .bind(host: address, port: port)
            .wait()
        channel.withLockedValue { $0 = bound }
        let boundPort = bound.localAddress?.port ?? port
        logger.info("admin listening (/metrics, /healthz, /readyz)", metadata: ["port": "\(boundPort)"])
        return boundPort
    }

    func shutdown() {
        let bound = channel.withLockedValue { current -> (any Channel)? in
            defer { current = nil }
            return current
        }
        try? bound?.close().wait()
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let metrics: NodeMetrics
    private let node: NodeHost
    private var head: HTTPRequestHead?

    init(metrics: NodeMetrics, node: NodeHost) {
        self.metrics = metrics
        self.node = node
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(requestHead): head = requestHead
        case .body: break // bodies are ignored (GET only)
        case .end:
            guard let head else { return }
            self.head = nil
            guard head.method == .GET || head.method == .HEAD else {
                respond(context: context, head: head, status: .methodNotAllowed, body: "GET only\n")
                return
            }
            switch head.uri.split(separator: "?").first.map(String.init) ?? "" {
            case "/metrics":
                respond(context: context, head: head, status: .ok, bytes: metrics.exposition(),
                        contentType: "text/plain; version=0.0.4")
            case "/healthz":
                respond(context: context, head: head, status: .ok, body: "ok\n")
            case "/readyz":
                let loop = context.eventLoop
                let handler = NIOLoopBound(self, eventLoop: loop)
                let boundContext = NIOLoopBound(context, eventLoop: loop)
                node.readiness().hop(to: loop).whenComplete { result in
                    let reason: String?
                    switch result {
                    case let .success(answer): reason = answer
                    case .failure: reason = "the node is stopping"
                    }
                    handler.value.respond(context: boundContext.value, head: head,
                                          status: reason == nil ? .ok : .serviceUnavailable,
                                          body: reason.map { "not ready: \($0)\n" } ?? "ready\n")
                }
            default:
                respond(context: context, head: head, status: .notFound, body: "not found\n")
            }
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, body: String) {
        respond(context: context, head: head, status: status, bytes: Array(body.utf8), contentType: "text/plain")
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, bytes: [UInt8],
                         contentType: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(bytes.count))
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                      promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
