import Foundation
import KMSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A minimal blocking HTTPS client for Keyraft's own tools (`keyraft dev`, `keyraft
/// cluster`): one SigV4-signed POST per connection, TLS 1.3, the cluster CA as the only
/// trust root.
public struct SignedClient: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Answers larger than this are refused (status documents; backups pass a larger bound).
    public static let answerBytesMaxDefault = 16 << 20
    public let credentials: SigV4Credentials
    public let region: String
    private let tls: NIOSSLContext

    public init(credentials: SigV4Credentials, region: String, caPath: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        tls = try NIOSSLContext(configuration: configuration)
        self.credentials = credentials
        self.region = region
    }

    /// Posts `body` with `X-Amz-Target: target` and returns the status and body.
    public func post(host: String, port: Int, target: String, body: [UInt8], timeoutMs: Int64,
                     group: any EventLoopGroup, answerBytesMax: Int = SignedClient.answerBytesMaxDefault) throws -> (status: Int, body: [UInt8]) {
        let unsigned = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", "\(host):\(port)"),
            .init("Content-Type", "application/x-amz-json-1.1"),
            .init("X-Amz-Target", target),
        ], body: body)
        let signed = try SigV4Signer(credentials: credentials, region: region, service: "kms").sign(unsigned, date: Date())
        var headers = HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        headers.replaceOrAdd(name: "Connection", value: "close")
        let isAddress = host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        let serverName = isAddress ? nil : host
        let tls = self.tls
        // One loop for the connection, its promise and its timeout.
        let loop = group.next()
        let promise = loop.makePromise(of: (Int, [UInt8]).self)
        let channel: any Channel
        do {
            channel = try ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(timeoutMs))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(ResponseCollector(promise: promise, bodyBytesMax: answerBytesMax))
                }
            }
            .connect(host: host, port: port)
            .wait()
        } catch {
            promise.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
            promise.fail(Failure(description: "no answer from \(host):\(port) within \(timeoutMs) ms"))
        }
        defer { timeout.cancel() }
        var buffer = channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let (status, responseBody) = try promise.futureResult.wait()
        return (status, responseBody)
    }
}

/// Collects one HTTP answer (status and body, bounded) into a promise; fails it if the
/// connection errs or closes first. Shared with the benchmarks' plain-HTTP setup calls.
public final class ResponseCollector: ChannelInboundHandler {
    public typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<(Int, [UInt8])>
    private var status = 0
    private var body: [UInt8] = []
    private let bodyBytesMax: Int

    public init(promise: EventLoopPromise<(Int, [UInt8])>, bodyBytesMax: Int) {
        self.promise = promise
        self.bodyBytesMax = bodyBytesMax
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head): status = Int(head.status.code)
        case let .body(chunk):
            guard body.count + chunk.readableBytes <= bodyBytesMax else {
                promise.fail(SignedClient.Failure(description: "answer over \(bodyBytesMax) bytes"))
                context.close(promise: nil)
                return
            }
            body.append(contentsOf: chunk.readableBytesView)
        case .end: promise.succeed((status, body))
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        promise.fail(SignedClient.Failure(description: "connection closed before an answer"))
    }
}
