import Foundation
import Histogram
import KMSWire
import KeyraftServer
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `keyraft-bench load`: closed-loop load over N keep-alive TLS 1.3 connections spread
/// round-robin over the endpoints; prints throughput and latency percentiles.
struct LoadBenchmark {
    enum Operation: String, CaseIterable {
        case createKey = "create-key"
        case encrypt
        case decrypt
        case generateDataKey = "generate-data-key"
    }

    struct Endpoint: Sendable {
        var host: String
        var port: Int
    }

    let endpoints: [Endpoint]
    let caPath: String
    let credentials: SigV4Credentials
    let region: String
    let operation: Operation
    let connections: Int
    let seconds: Double
    let json: Bool

    /// Reads the endpoints, CA and first credential of a `keyraft dev` folder.
    init(cluster directory: String, operation: Operation, connections: Int, seconds: Double, json: Bool) throws {
        let text = try String(contentsOfFile: directory + "/endpoints", encoding: .utf8)
        endpoints = try text.split(separator: "\n").map { line -> Endpoint in
            guard let url = URL(string: String(line)), let host = url.host, let port = url.port else {
                throw SignedClient.Failure(description: "\(directory)/endpoints: '\(line)' is not an https URL with a port")
            }
            return Endpoint(host: host, port: port)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/credentials.json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let first = (object["credentials"] as? [[String: Any]])?.first,
              let key = first["accessKeyId"] as? String, let secret = first["secretAccessKey"] as? String
        else { throw SignedClient.Failure(description: "\(directory)/credentials.json lists no credential") }
        credentials = SigV4Credentials(accessKeyID: key, secretAccessKey: secret)
        caPath = directory + "/ca.pem"
        region = "us-east-1"
        self.operation = operation
        self.connections = connections
        self.seconds = seconds
        self.json = json
    }

    func run() throws {
        precondition(!endpoints.isEmpty && connections > 0 && seconds > 0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let setupClient = try SignedClient(credentials: credentials, region: region, caPath: caPath)
        let body = try requestBody(setup: setupClient, group: group)
        let target = "TrentService." + targetName
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.minimumTLSVersion = .tlsv13
        tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        let tls = try NIOSSLContext(configuration: tlsConfiguration)
        let signer = SigV4Signer(credentials: credentials, region: region, service: "kms")
        let deadline = NIODeadline.now() + .nanoseconds(Int64(seconds * 1e9))
        let started = NIODeadline.now()
        var results: [EventLoopFuture<ConnectionResult>] = []
        for index in 0..<connections {
            let endpoint = endpoints[index % endpoints.count]
            let loop = group.next()
            let promise = loop.makePromise(of: ConnectionResult.self)
            let request = SignedRequestFactory(signer: signer, host: "\(endpoint.host):\(endpoint.port)", target: target, body: body)
            let connect = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                        try sync.addHTTPClientHandlers()
                        try sync.addHandler(LoadConnection(request: request, deadline: deadline, done: promise))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port)
            connect.whenFailure { promise.fail($0) }
            results.append(promise.futureResult)
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var ok = 0
        var failures: [Int: Int] = [:]
        for future in results {
            let result = try future.wait()
            ok += result.ok
            for (status, count) in result.failures { failures[status, default: 0] += count }
            for value in result.latenciesMicros { _ = histogram.record(value) }
        }
        let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        report(ok: ok, failures: failures, elapsed: elapsed, histogram: histogram)
    }

    private var targetName: String {
        switch operation {
        case .createKey: return "CreateKey"
        case .encrypt: return "Encrypt"
        case .decrypt: return "Decrypt"
        case .generateDataKey: return "GenerateDataKey"
        }
    }

    /// The body every request of the run sends (a key and a ciphertext made first if needed).
    private func requestBody(setup: SignedClient, group: any EventLoopGroup) throws -> [UInt8] {
        if operation == .createKey { return Array(#"{"Description":"bench"}"#.utf8) }
        let first = endpoints[0]
        func call(_ target: String, _ body: String) throws -> [String: Any] {
            let answer = try setup.post(host: first.host, port: first.port, target: "TrentService." + target,
                                        body: Array(body.utf8), timeoutMs: 10_000, group: group)
            guard answer.status == 200, let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else {
                throw SignedClient.Failure(description: "\(target) failed during setup: \(String(decoding: answer.body, as: UTF8.self))")
            }
            return object
        }
        let key = try call("CreateKey", #"{"Description":"bench"}"#)
        guard let keyID = (key["KeyMetadata"] as? [String: Any])?["Arn"] as? String else {
            throw SignedClient.Failure(description: "CreateKey answered no ARN")
        }
        let plaintext = Data(repeating: 0x61, count: 32).base64EncodedString()
        switch operation {
        case .createKey: preconditionFailure("handled above")
        case .encrypt: return Array(#"{"KeyId":"\#(keyID)","Plaintext":"\#(plaintext)"}"#.utf8)
        case .generateDataKey: return Array(#"{"KeyId":"\#(keyID)","KeySpec":"AES_256"}"#.utf8)
        case .decrypt:
            let encrypted = try call("Encrypt", #"{"KeyId":"\#(keyID)","Plaintext":"\#(plaintext)"}"#)
            guard let blob = encrypted["CiphertextBlob"] as? String else { throw SignedClient.Failure(description: "no ciphertext") }
            // Wait until every node has the key (read-your-writes holds on the first node only).
            usleep(500_000)
            return Array(#"{"CiphertextBlob":"\#(blob)"}"#.utf8)
        }
    }

    private func report(ok: Int, failures: [Int: Int], elapsed: Double, histogram: Histogram<UInt64>) {
        func ms(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1_000 }
        let throughput = Double(ok) / elapsed
        let failed = failures.values.reduce(0, +)
        if json {
            let object: [String: Any] = [
                "operation": operation.rawValue, "connections": connections, "endpoints": endpoints.count,
                "seconds": elapsed, "ok": ok, "failed": failed, "throughput_per_s": throughput,
                "p50_ms": ms(50), "p90_ms": ms(90), "p99_ms": ms(99), "p999_ms": ms(99.9), "max_ms": Double(histogram.max) / 1_000,
                "failures_by_status": Dictionary(uniqueKeysWithValues: failures.map { ("\($0.key)", $0.value) }),
            ]
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("keyraft-bench load: \(operation.rawValue), \(connections) connections over \(endpoints.count) endpoints, \(String(format: "%.1f", elapsed)) s")
        print("ok \(ok)  failed \(failed)\(failures.isEmpty ? "" : " \(failures.sorted { $0.key < $1.key })")")
        print(String(format: "throughput %.0f/s   p50 %.2f ms   p90 %.2f ms   p99 %.2f ms   p99.9 %.2f ms   max %.2f ms",
                     throughput, ms(50), ms(90), ms(99), ms(99.9), Double(histogram.max) / 1_000))
    }
}

struct ConnectionResult: Sendable {
    var ok = 0
    var failures: [Int: Int] = [:]
    var latenciesMicros: [UInt64] = []
}

/// Signs one request per call with the current time.
struct SignedRequestFactory: Sendable {
    let signer: SigV4Signer
    let host: String
    let target: String
    let body: [UInt8]

    func make() -> HTTPRequestHead {
        let unsigned = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", host), .init("Content-Type", "application/x-amz-json-1.1"), .init("X-Amz-Target", target),
        ], body: body)
        let signed = try! signer.sign(unsigned, date: Date())
        var headers = HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        return HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
    }
}

/// One closed-loop client connection: sends the next request when the last one is answered.
final class LoadConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let request: SignedRequestFactory
    private let deadline: NIODeadline
    private let done: EventLoopPromise<ConnectionResult>
    private var result = ConnectionResult()
    private var sentAt = NIODeadline.now()
    private var status = 0
    /// Latencies kept per connection; bounded so a long run cannot exhaust memory.
    private static let samplesMax = 2_000_000

    init(request: SignedRequestFactory, deadline: NIODeadline, done: EventLoopPromise<ConnectionResult>) {
        self.request = request
        self.deadline = deadline
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        sendNext(context: context)
        context.fireChannelActive()
    }

    private func sendNext(context: ChannelHandlerContext) {
        let head = request.make()
        var buffer = context.channel.allocator.buffer(capacity: request.body.count)
        buffer.writeBytes(request.body)
        sentAt = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head): status = Int(head.status.code)
        case .body: break
        case .end:
            let now = NIODeadline.now()
            if status == 200 {
                result.ok += 1
                if result.latenciesMicros.count < Self.samplesMax {
                    result.latenciesMicros.append(UInt64(max(0, (now - sentAt).nanoseconds / 1_000)))
                }
            } else {
                result.failures[status, default: 0] += 1
            }
            if now < deadline {
                sendNext(context: context)
            } else {
                done.succeed(result)
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        result.failures[-1, default: 0] += 1
        done.succeed(result)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) { done.succeed(result) }
}
