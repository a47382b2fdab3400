import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `keyraft-bench baseline-server`: the same stack as Keyraft's API (NIOSSL TLS 1.3,
/// NIOHTTP1 with pipelining assistance, the same number of event-loop threads as a node)
/// answering every request with a fixed JSON body the size of a Decrypt answer, and
/// nothing else: no signature check, no decoding, no node loop, no cryptography. The upper
/// bound of this stack on this machine for `keyraft-bench load`.
struct BaselineServer {
    let host: String
    let port: Int
    let certificatePath: String
    let privateKeyPath: String
    let threads: Int

    /// A Decrypt answer's shape and size (KeyId, 32 bytes of plaintext, algorithm).
    static let answer = Array(("{\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"KeyId\":\"arn:aws:kms:us-east-1:111122223333:key/"
                               + "0b7f8a1e-9d3c-4c1e-8f4a-2a6b5c7d8e9f\",\"Plaintext\":\""
                               + Data(repeating: 0x61, count: 32).base64EncodedString() + "\"}").utf8)

    func run() throws {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)))
        configuration.minimumTLSVersion = .tlsv13
        let tls = try NIOSSLContext(configuration: configuration)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        defer { try? group.syncShutdownGracefully() }
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls))
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(FixedAnswerHandler())
                }
            }
            .bind(host: host, port: port)
            .wait()
        print("keyraft-bench baseline-server: https://\(host):\(channel.localAddress?.port ?? port), \(threads) threads, "
              + "\(Self.answer.count)-byte answer to every request")
        fflush(nil)
        try channel.closeFuture.wait()
    }
}

/// Reads a request whole, then writes the fixed answer.
final class FixedAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var keepAlive = true
    private var version = HTTPVersion.http1_1

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            keepAlive = head.isKeepAlive
            version = head.version
        case .body: break
        case .end:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/x-amz-json-1.1")
            headers.add(name: "Content-Length", value: String(BaselineServer.answer.count))
            headers.add(name: "x-amzn-RequestId", value: "00000000-0000-0000-0000-000000000000")
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: BaselineServer.answer.count)
            buffer.writeBytes(BaselineServer.answer)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let keepAlive = self.keepAlive
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
