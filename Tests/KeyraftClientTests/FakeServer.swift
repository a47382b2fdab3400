import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A TLS endpoint that misbehaves on purpose, to check the retry rule against answers a
/// healthy cluster does not give: every request is answered 503 DependencyTimeoutException,
/// or never answered.
final class FakeServer: Sendable {
    enum Mode: Sendable {
        case dependencyTimeout
        case neverAnswer
    }

    let port: Int
    private let channel: any Channel
    private let counter = NIOLockedValueBox(0)

    /// Requests received whole.
    var requests: Int { counter.withLockedValue { $0 } }

    init(mode: Mode, certificatePath: String, keyPath: String, group: any EventLoopGroup) throws {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        let tls = try NIOSSLContext(configuration: configuration)
        let counter = self.counter
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let sync = child.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls))
                    try sync.configureHTTPServerPipeline()
                    try sync.addHandler(FakeHandler(mode: mode, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
        port = channel.localAddress?.port ?? 0
    }

    func close() { try? channel.close().wait() }

    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort(group: any EventLoopGroup) throws -> Int {
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        return port
    }
}

private final class FakeHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let mode: FakeServer.Mode
    let counter: NIOLockedValueBox<Int>

    init(mode: FakeServer.Mode, counter: NIOLockedValueBox<Int>) {
        self.mode = mode
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        counter.withLockedValue { $0 += 1 }
        guard case .dependencyTimeout = mode else { return }
        let body = #"{"__type":"DependencyTimeoutException","message":"fake: the leader did not confirm in time"}"#
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-amz-json-1.1")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .serviceUnavailable, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
