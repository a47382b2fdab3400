import APIServer
import Foundation
import KMS
import KMSWire
import KeyraftCerts
import KeyraftServer
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import XCTest

/// Records every call the API server hands over and answers each with a fixed body.
final class RecordingDispatcher: APIDispatcher {
    struct Received: Sendable {
        let call: APICall
        let principal: Principal
        let requestID: String
    }

    static let answer = Array(#"{"answer":"from the fake node"}"#.utf8)
    private let box = NIOLockedValueBox<[Received]>([])

    var received: [Received] { box.withLockedValue { $0 } }

    func dispatch(_ call: APICall, principal: Principal, requestID: String,
                  respond: @escaping @Sendable (Result<APIResult, AWSErrorBody>) -> Void) {
        box.withLockedValue { $0.append(Received(call: call, principal: principal, requestID: requestID)) }
        respond(.success(.json(Self.answer)))
    }
}

/// Keeps every audit entry the API server records.
final class RecordingAuditSink: APIAuditSink {
    private let box = NIOLockedValueBox<[APIAuditEntry]>([])

    var entries: [APIAuditEntry] { box.withLockedValue { $0 } }

    func record(_ entry: APIAuditEntry) { box.withLockedValue { $0.append(entry) } }
}

final class APIServerTests: XCTestCase {
    static let region = "us-east-1"
    static let accountID = "111122223333"
    static let alice = SigV4Credentials(accessKeyID: "AKIDKEYRAFTALICE0001", secretAccessKey: "alice-secret-0123456789abcdef")
    static let limited = SigV4Credentials(accessKeyID: "AKIDKEYRAFTLIMITED01", secretAccessKey: "limited-secret-0123456789abc")
    static let aliceARN = "arn:aws:iam::111122223333:user/alice"

    private var fixture: CertificateFixture!
    private var group: MultiThreadedEventLoopGroup!
    private var server: APIServer?
    private var dispatcher: RecordingDispatcher!
    private var audit: RecordingAuditSink!
    private var logs: LogRecorder!
    private var port = 0
    private let bodyBytesMax = 1_024

    override func setUpWithError() throws {
        fixture = try CertificateFixture(nodes: [1])
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        dispatcher = RecordingDispatcher()
        audit = RecordingAuditSink()
        logs = LogRecorder()
        let credentialsPath = fixture.scratch.file("credentials.json")
        try CredentialFile.write([
            (Self.alice.accessKeyID, Self.alice.secretAccessKey, Self.aliceARN, Self.accountID, ["kms:*", "keyraft:*"]),
            (Self.limited.accessKeyID, Self.limited.secretAccessKey, "arn:aws:iam::111122223333:user/limited",
             Self.accountID, ["kms:Encrypt"]),
        ], to: credentialsPath)
        var config = APIServerConfig(host: "127.0.0.1", port: 0,
                                     certificatePath: fixture.certificates.nodeCertificatePath(nodeID: 1),
                                     privateKeyPath: fixture.certificates.nodeKeyPath(nodeID: 1), region: Self.region)
        config.bodyBytesMax = bodyBytesMax
        let server = try APIServer(config: config, group: group, credentials: try CredentialFile(path: credentialsPath),
                                   dispatcher: dispatcher, observers: [audit], logger: logs.logger("api"))
        self.server = server
        port = try server.start()
        XCTAssertNotEqual(port, 0)
    }

    override func tearDownWithError() throws {
        server?.shutdown()
        server = nil
        try group?.syncShutdownGracefully()
        group = nil
        fixture?.remove()
    }

    // MARK: Helpers

    private func post(_ credentials: SigV4Credentials = alice, target: String, body: String) throws -> (status: Int, body: [UInt8]) {
        try post(credentials, target: target, bytes: Array(body.utf8))
    }

    private func post(_ credentials: SigV4Credentials, target: String, bytes: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        let client = try SignedClient(credentials: credentials, region: Self.region, caPath: fixture.caPath)
        return try client.post(host: "127.0.0.1", port: port, target: target, body: bytes, timeoutMs: 10_000, group: group)
    }

    /// `__type` of an AWS JSON error body.
    private func errorName(_ body: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        let name = object?["__type"] as? String
        XCTAssertNotNil(name, "not an AWS error body: \(String(decoding: body, as: UTF8.self))", file: file, line: line)
        return name
    }

    private func assertRefused(_ response: (status: Int, body: [UInt8]), status: Int = 400, _ name: AWSErrorName,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, file: file, line: line)
        XCTAssertEqual(errorName(response.body, file: file, line: line), name.rawValue, file: file, line: line)
        XCTAssertTrue(dispatcher.received.isEmpty, "a refused request reached the node", file: file, line: line)
    }

    // MARK: Tests

    func testSignedRequestReachesTheDispatcherWithItsPrincipal() throws {
        let response = try post(target: "TrentService.ListKeys", body: #"{"Limit": 5}"#)
        XCTAssertEqual(response.status, 200, String(decoding: response.body, as: UTF8.self))
        XCTAssertEqual(response.body, RecordingDispatcher.answer)
        XCTAssertEqual(dispatcher.received.count, 1)
        let received = try XCTUnwrap(dispatcher.received.first)
        XCTAssertEqual(received.principal, Principal(arn: Self.aliceARN, accountID: Self.accountID, identityActions: ["kms:*", "keyraft:*"]))
        XCTAssertFalse(received.requestID.isEmpty)
        guard case let .kms(operation, request) = received.call else { return XCTFail("not a KMS call: \(received.call)") }
        XCTAssertEqual(operation, .listKeys)
        XCTAssertEqual(request, .read(.listKeys(limit: 5, marker: nil)))
        // One audit record per call, naming who did what and how it ended.
        let entry = try XCTUnwrap(audit.entries.last)
        XCTAssertEqual(audit.entries.count, 1)
        XCTAssertEqual(entry.principal, Self.aliceARN)
        XCTAssertEqual(entry.operation, "TrentService.ListKeys")
        XCTAssertNil(entry.errorName)
        XCTAssertEqual(entry.requestID, received.requestID)
    }

    func testAuditRecordsEncryptionContextKeysOnlyThroughTheEntry() throws {
        let body = #"{"KeyId":"alias/app","Plaintext":"aGVsbG8=","EncryptionContext":{"tenant":"acme"}}"#
        _ = try post(target: "TrentService.Encrypt", body: body)
        let entry = try XCTUnwrap(audit.entries.last)
        XCTAssertEqual(entry.key, "alias/app")
        XCTAssertEqual(entry.context, ["tenant": "acme"]) // the file sink keeps only the keys
    }

    func testAdminCallWithoutThePermissionIsDeniedBeforeDispatch() throws {
        let response = try post(Self.limited, target: "KeyraftAdmin.GetNodeStatus", body: "{}")
        assertRefused(response, .accessDenied)
        let allowed = try post(Self.alice, target: "KeyraftAdmin.GetNodeStatus", body: "")
        XCTAssertEqual(allowed.status, 200)
        XCTAssertEqual(dispatcher.received.count, 1)
        guard case .admin(.getNodeStatus, _) = dispatcher.received.first?.call else { return XCTFail("not the admin call") }
    }

    func testWrongSecretIsInvalidSignature() throws {
        let wrong = SigV4Credentials(accessKeyID: Self.alice.accessKeyID, secretAccessKey: "not-alice-secret-0123456789")
        assertRefused(try post(wrong, target: "TrentService.ListKeys", body: "{}"), .invalidSignature)
        XCTAssertEqual(AWSErrorName.invalidSignature.rawValue, "InvalidSignatureException")
        // Refused calls are audited too, without a principal.
        let entry = try XCTUnwrap(audit.entries.last)
        XCTAssertEqual(entry.principal, "unauthenticated")
        XCTAssertEqual(entry.errorName, "InvalidSignatureException")
        XCTAssertTrue(dispatcher.received.isEmpty)
    }

    func testUnknownAccessKeyIsUnrecognizedClient() throws {
        let stranger = SigV4Credentials(accessKeyID: "AKIDNOBODYKNOWSME001", secretAccessKey: Self.alice.secretAccessKey)
        assertRefused(try post(stranger, target: "TrentService.ListKeys", body: "{}"), .unrecognizedClient)
        XCTAssertEqual(AWSErrorName.unrecognizedClient.rawValue, "UnrecognizedClientException")
    }

    func testUnknownTargetIsUnknownOperation() throws {
        assertRefused(try post(target: "TrentService.MintCoins", body: "{}"), .unknownOperation)
        assertRefused(try post(target: "KeyraftAdmin.Shutdown", body: "{}"), .unknownOperation)
    }

    func testMalformedJSONIsSerializationException() throws {
        assertRefused(try post(target: "TrentService.ListKeys", body: #"{"Limit": 5"#), .serialization)
        assertRefused(try post(target: "TrentService.ListKeys", body: "[1, 2]"), .serialization)
    }

    func testBodyOverTheLimitIs413() throws {
        let body = String(repeating: " ", count: bodyBytesMax - 2)
        // At the limit: accepted (whitespace is an empty body).
        XCTAssertEqual(try post(target: "TrentService.ListKeys", body: "{" + body + "}").status, 200)
        XCTAssertEqual(dispatcher.received.count, 1)
        let over = try post(target: "TrentService.ListKeys", body: "{ " + body + "}")
        XCTAssertEqual(over.status, 413)
        XCTAssertEqual(errorName(over.body), AWSErrorName.validation.rawValue)
        XCTAssertEqual(dispatcher.received.count, 1, "the oversized request was not dispatched")
    }

    /// A second server with the given timeouts, for the tests of connection deadlines.
    private func timeoutServer(requestTimeoutMs: Int64, idleTimeoutMs: Int64) throws -> (APIServer, port: Int) {
        var config = APIServerConfig(host: "127.0.0.1", port: 0,
                                     certificatePath: fixture.certificates.nodeCertificatePath(nodeID: 1),
                                     privateKeyPath: fixture.certificates.nodeKeyPath(nodeID: 1), region: Self.region)
        config.requestTimeoutMs = requestTimeoutMs
        config.idleTimeoutMs = idleTimeoutMs
        let credentialsPath = fixture.scratch.file("credentials-timeout.json")
        try CredentialFile.write([(Self.alice.accessKeyID, Self.alice.secretAccessKey, Self.aliceARN, Self.accountID, ["kms:*"])],
                                 to: credentialsPath)
        let server = try APIServer(config: config, group: group, credentials: try CredentialFile(path: credentialsPath),
                                   dispatcher: dispatcher, observers: [], logger: logs.logger("api-timeouts"))
        do { return (server, try server.start()) } catch {
            server.shutdown()
            throw error
        }
    }

    private func rawClient(port: Int) throws -> (RawTLSClient, closed: NIOLockedValueBox<Bool>) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(fixture.caPath))
        let client = try RawTLSClient.connect(group: group, port: port, configuration: tls, serverHostname: nil)
        let closed = NIOLockedValueBox(false)
        client.channel.closeFuture.whenComplete { _ in closed.withLockedValue { $0 = true } }
        return (client, closed)
    }

    /// Sends `bytes` to a server with a 300 ms request timeout (and an idle timeout too long
    /// to matter) and asserts it closes the connection without dispatching anything.
    private func assertCutOffAfterRequestTimeout(_ bytes: String, _ what: String,
                                                 file: StaticString = #filePath, line: UInt = #line) throws {
        // The idle timeout is too long to matter: only the request timeout can close the connection.
        let (slowServer, slowPort) = try timeoutServer(requestTimeoutMs: 300, idleTimeoutMs: 120_000)
        defer { slowServer.shutdown() }
        let (client, closed) = try rawClient(port: slowPort)
        defer { client.close() }
        client.write(Array(bytes.utf8))
        XCTAssertTrue(waitUntil(timeoutMs: 10_000) { closed.withLockedValue { $0 } }, "\(what) was not cut off",
                      file: file, line: line)
        XCTAssertTrue(dispatcher.received.isEmpty, file: file, line: line)
    }

    /// A request whose body stops arriving is cut off after `requestTimeoutMs` (slow clients),
    /// although no timer runs for requests that arrive whole.
    func testRequestStuckMidBodyIsClosedAfterTheRequestTimeout() throws {
        try assertCutOffAfterRequestTimeout("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"Limit\"",
                                            "a request stuck mid-body")
    }

    /// The same for a partial request that arrived pipelined behind a complete one: it is
    /// handed over while the first answer is written, with no read after it (NIO's pipelining
    /// handler replays the buffered read-complete with it, which arms the deadline).
    func testPipelinedRequestStuckMidBodyIsClosedAfterTheRequestTimeout() throws {
        // An unsigned (refused, keep-alive) request, then the start of another in the same write.
        try assertCutOffAfterRequestTimeout("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"
                                            + "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"Limit\"",
                                            "a pipelined request stuck mid-body")
    }

    /// A connection with nothing in flight closes `idleTimeoutMs` after its last request or
    /// answer; one that keeps sending stays open however many idle periods it spans.
    func testIdleConnectionClosesAndABusyOneStaysOpen() throws {
        let idleTimeoutMs: Int64 = 1_500
        let (server, serverPort) = try timeoutServer(requestTimeoutMs: 120_000, idleTimeoutMs: idleTimeoutMs)
        defer { server.shutdown() }
        // An unsigned request: refused with MissingAuthenticationToken, the connection kept alive.
        let request = Array("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}".utf8)

        let (busy, busyClosed) = try rawClient(port: serverPort)
        defer { busy.close() }
        try busy.handshake.wait()
        let started = NIODeadline.now()
        var sent = 0
        // Two idle periods of requests 100 ms apart.
        while (NIODeadline.now() - started).nanoseconds < 2 * idleTimeoutMs * 1_000_000 {
            busy.write(request)
            sent += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertGreaterThan(sent, 10)
        XCTAssertFalse(busyClosed.withLockedValue { $0 }, "a connection in use was closed as idle")
        XCTAssertTrue(waitUntil(timeoutMs: 20_000) { busyClosed.withLockedValue { $0 } },
                      "the connection was not closed once it fell idle")

        let (silent, silentClosed) = try rawClient(port: serverPort)
        defer { silent.close() }
        try silent.handshake.wait()
        XCTAssertTrue(waitUntil(timeoutMs: 20_000) { silentClosed.withLockedValue { $0 } },
                      "a connection that never sent a request was not closed")
        XCTAssertTrue(dispatcher.received.isEmpty)
    }

    func testChunkedBodyOverTheLimitIs413() throws {
        let parts = [Array(repeating: UInt8(ascii: " "), count: 600), Array(repeating: UInt8(ascii: " "), count: 600)]
        let response = try RawHTTPSClient.send(group: group, port: port, caPath: fixture.caPath,
                                               target: "TrentService.ListKeys", bodyParts: parts, signWith: Self.alice)
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(errorName(response.body), AWSErrorName.validation.rawValue)
        XCTAssertTrue(dispatcher.received.isEmpty)
        // Control: the same chunked request under the limit is served.
        let small = try RawHTTPSClient.send(group: group, port: port, caPath: fixture.caPath,
                                            target: "TrentService.ListKeys", bodyParts: [[UInt8(ascii: "{")], [UInt8(ascii: "}")]],
                                            signWith: Self.alice)
        XCTAssertEqual(small.status, 200)
        XCTAssertEqual(dispatcher.received.count, 1)
    }

    func testUnsignedRequestIsMissingAuthenticationToken() throws {
        let response = try RawHTTPSClient.send(group: group, port: port, caPath: fixture.caPath,
                                               target: "TrentService.ListKeys", bodyParts: [Array("{}".utf8)], signWith: nil)
        assertRefused(response, .missingAuthenticationToken)
    }

    func testCredentialFileReadableByOthersIsRefused() throws {
        let path = fixture.scratch.file("open-credentials.json")
        try CredentialFile.write([(Self.alice.accessKeyID, Self.alice.secretAccessKey, Self.aliceARN, Self.accountID, ["kms:*"])],
                                 to: path)
        XCTAssertNoThrow(try CredentialFile(path: path), "control: mode 0600 loads")
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        XCTAssertThrowsError(try CredentialFile(path: path)) { error in
            guard case let .tooOpen(reportedPath, mode) = error as? CredentialFile.LoadError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(reportedPath, path)
            XCTAssertEqual(mode, 0o644)
            XCTAssertFalse("\(error)".contains(Self.alice.secretAccessKey))
        }
    }
}

/// One HTTP/1.1 request over TLS 1.3 with a chunked body, optionally SigV4-signed.
enum RawHTTPSClient {
    static func send(group: any EventLoopGroup, port: Int, caPath: String, target: String, bodyParts: [[UInt8]],
                     signWith credentials: SigV4Credentials?) throws -> (status: Int, body: [UInt8]) {
        var request = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", "127.0.0.1:\(port)"),
            .init("Content-Type", "application/x-amz-json-1.1"),
            .init("X-Amz-Target", target),
        ], body: bodyParts.flatMap { $0 })
        if let credentials {
            request = try SigV4Signer(credentials: credentials, region: APIServerTests.region, service: "kms")
                .sign(request, date: Date()).request
        }
        var headers = HTTPHeaders(request.headers.map { ($0.name, $0.value) })
        headers.add(name: "Transfer-Encoding", value: "chunked")
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        let context = try NIOSSLContext(configuration: configuration)
        let loop = group.next()
        let promise = loop.makePromise(of: (Int, [UInt8]).self)
        let channel = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(ResponseReader(promise: promise))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .wait()
        defer { channel.close(promise: nil) }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)),
                      promise: nil)
        for part in bodyParts {
            var buffer = channel.allocator.buffer(capacity: part.count)
            buffer.writeBytes(part)
            channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let (status, body) = try outcome(of: promise.futureResult).get()
        return (status, body)
    }

    private final class ResponseReader: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private let promise: EventLoopPromise<(Int, [UInt8])>
        private var status = 0
        private var body: [UInt8] = []

        init(promise: EventLoopPromise<(Int, [UInt8])>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head): status = Int(head.status.code)
            case let .body(chunk): body.append(contentsOf: chunk.readableBytesView)
            case .end: promise.succeed((status, body))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ClosedEarly())
        }
    }
}
