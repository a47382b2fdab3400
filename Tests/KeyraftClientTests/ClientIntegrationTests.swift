import Envelope
import Foundation
import KMSWire
import KeyraftClient
import KeyraftCrypto
import NIOPosix
import XCTest

/// The client against a live 3-node `keyraft dev` cluster started with the real binary.
///
/// The binary comes from `KEYRAFT_BIN` or the package's `.build/debug/keyraft`; without it
/// the tests are skipped, except under `CI=true`, where that is a failure.
final class ClientIntegrationTests: XCTestCase {
    nonisolated(unsafe) static var cluster: LiveCluster?
    nonisolated(unsafe) static var setupFailure: String?

    override class func setUp() {
        super.setUp()
        guard let binary = LiveCluster.binaryPath() else {
            setupFailure = "the keyraft binary is not built (swift build --product keyraft, or set KEYRAFT_BIN)"
            return
        }
        do {
            cluster = try LiveCluster(binary: binary)
        } catch {
            setupFailure = "\(error)"
        }
    }

    override class func tearDown() {
        cluster?.stop()
        cluster = nil
        super.tearDown()
    }

    func liveCluster() throws -> LiveCluster {
        if let cluster = Self.cluster { return cluster }
        let reason = Self.setupFailure ?? "no cluster"
        if ProcessInfo.processInfo.environment["CI"] == "true" || LiveCluster.binaryPath() != nil {
            XCTFail(reason)
            throw ClusterFailure(description: reason)
        }
        throw XCTSkip(reason)
    }

    func configuration(_ cluster: LiveCluster, endpoints: [String]? = nil) throws -> KeyraftClient.Configuration {
        try Self.configuration(cluster, endpoints: endpoints)
    }

    static func configuration(_ cluster: LiveCluster, endpoints: [String]? = nil) throws -> KeyraftClient.Configuration {
        var environment = cluster.environment
        if let endpoints { environment["KEYRAFT_ENDPOINTS"] = endpoints.joined(separator: ",") }
        return try KeyraftClient.Configuration.fromEnvironment(environment)
    }

    // MARK: Typed calls

    func testTypedCallsCoverTheKeyLifecycle() async throws {
        let cluster = try liveCluster()
        // One endpoint for every call, so every read sees the writes before it.
        var sticky = try configuration(cluster)
        sticky.stickyEndpoint = true
        let client = try KeyraftClient(configuration: sticky)
        defer { client.shutdown() }

        let key = try await client.createKey(description: "client test", tags: [KeyraftTag(key: "team", value: "sdk")])
        XCTAssertEqual(key.keyState, "Enabled")
        XCTAssertTrue(key.arn.hasSuffix(key.keyID))
        let value1 = try await client.describeKey(keyID: key.arn).keyID
        XCTAssertEqual(value1, key.keyID)
        try await client.updateKeyDescription(keyID: key.keyID, description: "renamed")
        let value2 = try await client.describeKey(keyID: key.keyID).description
        XCTAssertEqual(value2, "renamed")

        // Paging: one key per page until the one just made is seen.
        var marker: String?
        var seen = false
        for _ in 0..<1_000 {
            let page = try await client.listKeys(limit: 1, marker: marker)
            seen = seen || page.keys.contains { $0.keyID == key.keyID }
            guard page.truncated, let next = page.nextMarker else { break }
            marker = next
        }
        XCTAssertTrue(seen)

        let alias = "alias/client-\(UUID().uuidString.prefix(8))"
        try await client.createAlias(aliasName: alias, targetKeyID: key.keyID)
        let aliases = try await client.listAliases(keyID: key.keyID)
        XCTAssertEqual(aliases.aliases.map(\.aliasName), [alias])
        let other = try await client.createKey(description: "second")
        try await client.updateAlias(aliasName: alias, targetKeyID: other.keyID)
        let value3 = try await client.describeKey(keyID: alias).keyID
        XCTAssertEqual(value3, other.keyID)
        try await client.deleteAlias(aliasName: alias)
        await assertService("NotFoundException") { _ = try await client.describeKey(keyID: alias) }

        // Cryptography.
        let context = ["tenant": "acme"]
        let sealed = try await client.encrypt(keyID: key.arn, plaintext: Array("hello".utf8), context: context)
        XCTAssertEqual(sealed.keyARN, key.arn)
        let opened = try await client.decrypt(ciphertextBlob: sealed.ciphertextBlob, context: context)
        XCTAssertEqual(opened.plaintext, Array("hello".utf8))
        await assertService("InvalidCiphertextException") {
            _ = try await client.decrypt(ciphertextBlob: sealed.ciphertextBlob, context: ["tenant": "evil"])
        }
        await assertService("IncorrectKeyException") {
            _ = try await client.decrypt(ciphertextBlob: sealed.ciphertextBlob, keyID: other.arn, context: context)
        }
        let moved = try await client.reEncrypt(ciphertextBlob: sealed.ciphertextBlob, destinationKeyID: other.arn,
                                               sourceContext: context, destinationContext: ["tenant": "globex"])
        XCTAssertEqual(moved.sourceKeyARN, key.arn)
        XCTAssertEqual(moved.keyARN, other.arn)
        let value4 = try await client.decrypt(ciphertextBlob: moved.ciphertextBlob, context: ["tenant": "globex"]).plaintext
        XCTAssertEqual(value4,
                       Array("hello".utf8))
        let dataKey = try await client.generateDataKey(keyID: key.keyID, size: .aes256, context: context)
        XCTAssertEqual(dataKey.plaintext.count, 32)
        let reopened = try await client.decrypt(ciphertextBlob: dataKey.ciphertextBlob, context: context)
        XCTAssertTrue(SecretBytes(copying: reopened.plaintext).constantTimeEquals(dataKey.plaintext))
        let value5 = try await client.generateDataKey(keyID: key.keyID, size: .bytes(64)).plaintext.count
        XCTAssertEqual(value5, 64)
        let value6 = try await client.generateDataKey(keyID: key.keyID, size: .aes128).plaintext.count
        XCTAssertEqual(value6, 16)
        let withoutPlaintext = try await client.generateDataKeyWithoutPlaintext(keyID: key.keyID)
        let value7 = try await client.decrypt(ciphertextBlob: withoutPlaintext.ciphertextBlob).plaintext.count
        XCTAssertEqual(value7, 32)
        let value8 = try await client.generateRandom(numberOfBytes: 48).count
        XCTAssertEqual(value8, 48)
        await assertService("ValidationException") { _ = try await client.generateRandom(numberOfBytes: 5_000) }

        // Rotation.
        try await client.enableKeyRotation(keyID: key.keyID, rotationPeriodInDays: 90)
        var status = try await client.getKeyRotationStatus(keyID: key.keyID)
        XCTAssertTrue(status.enabled)
        XCTAssertEqual(status.rotationPeriodInDays, 90)
        let value9 = try await client.rotateKeyOnDemand(keyID: key.keyID)
        XCTAssertEqual(value9, key.arn)
        let rotations = try await waitFor { try await client.listKeyRotations(keyID: key.keyID) } until: { !$0.rotations.isEmpty }
        XCTAssertEqual(rotations.rotations.first?.rotationType, "ON_DEMAND")
        try await client.disableKeyRotation(keyID: key.keyID)
        status = try await client.getKeyRotationStatus(keyID: key.keyID)
        XCTAssertFalse(status.enabled)
        // Old ciphertexts still open after a rotation.
        let value10 = try await client.decrypt(ciphertextBlob: sealed.ciphertextBlob, context: context).plaintext
        XCTAssertEqual(value10, Array("hello".utf8))

        // Policies.
        let value11 = try await client.listKeyPolicies(keyID: key.keyID)
        XCTAssertEqual(value11, ["default"])
        let policy = try await client.getKeyPolicy(keyID: key.keyID)
        XCTAssertTrue(policy.policy.contains("kms:*"))
        try await client.putKeyPolicy(keyID: key.keyID, policy: policy.policy)
        await assertService("MalformedPolicyDocumentException") {
            try await client.putKeyPolicy(keyID: key.keyID, policy: "{not json")
        }

        // State changes.
        try await client.disableKey(keyID: key.keyID)
        await assertService("DisabledException") { _ = try await client.encrypt(keyID: key.keyID, plaintext: [1]) }
        try await client.enableKey(keyID: key.keyID)
        let deletion = try await client.scheduleKeyDeletion(keyID: key.keyID, pendingWindowInDays: 7)
        XCTAssertEqual(deletion.keyState, "PendingDeletion")
        XCTAssertEqual(deletion.pendingWindowInDays, 7)
        await assertService("KMSInvalidStateException") { _ = try await client.encrypt(keyID: key.keyID, plaintext: [1]) }
        let value12 = try await client.cancelKeyDeletion(keyID: key.keyID)
        XCTAssertEqual(value12, key.arn)
        let value13 = try await client.describeKey(keyID: key.keyID).keyState
        XCTAssertEqual(value13, "Disabled")

        // A typed error carries the AWS name, message, status and request id.
        do {
            _ = try await client.describeKey(keyID: "alias/never-created")
            XCTFail("no error")
        } catch let KeyraftClientError.service(error) {
            XCTAssertEqual(error.knownName, .notFound)
            XCTAssertEqual(error.httpStatus, 400)
            XCTAssertFalse(error.message.isEmpty)
            XCTAssertNotNil(error.requestID)
        }
    }

    // MARK: Failover

    func testIdempotentCallsAndWritesFailOverAroundAnEndpointThatRefusesConnections() async throws {
        let cluster = try liveCluster()
        let closed = "https://127.0.0.1:\(try FakeServer.closedPort(group: MultiThreadedEventLoopGroup.singleton))"
        let client = try KeyraftClient(configuration: configuration(cluster, endpoints: [closed] + cluster.endpoints))
        defer { client.shutdown() }
        // The first call goes to the closed port first: a connect failure, so even a
        // write is repeated on the next endpoint.
        let key = try await client.createKey(description: "failover")
        XCTAssertEqual(client.endpointHealth()[0].isUp, false)
        try await waitUntilEveryNodeKnows(key.keyID, cluster)
        for index in 0..<30 {
            let sealed = try await client.encrypt(keyID: key.keyID, plaintext: [UInt8(index)])
            let value14 = try await client.decrypt(ciphertextBlob: sealed.ciphertextBlob).plaintext
            XCTAssertEqual(value14, [UInt8(index)])
        }
        let health = client.endpointHealth()
        XCTAssertFalse(health[0].isUp)
        XCTAssertGreaterThanOrEqual(health[0].consecutiveFailures, 1)
        XCTAssertTrue(health[1...].allSatisfy(\.isUp))
    }

    func testAClientWithNoReachableEndpointFailsWithinItsBounds() async throws {
        let cluster = try liveCluster()
        let group = MultiThreadedEventLoopGroup.singleton
        let closed = try (0..<2).map { _ in "https://127.0.0.1:\(try FakeServer.closedPort(group: group))" }
        var configuration = try configuration(cluster, endpoints: closed)
        configuration.attemptsMax = 3
        let client = try KeyraftClient(configuration: configuration)
        defer { client.shutdown() }
        let started = Date()
        do {
            _ = try await client.createKey(description: "nowhere")
            XCTFail("no error")
        } catch let KeyraftClientError.unreachable(reason) {
            XCTAssertTrue(reason.contains("127.0.0.1"))
        }
        // Three attempts and the waits between them: well under the 5 s backoff cap.
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testAWriteIsNotRepeatedAfterA5xxButAReadFailsOver() async throws {
        let cluster = try liveCluster()
        let folder = cluster.clusterFolder.path
        let fake = try FakeServer(mode: .dependencyTimeout, certificatePath: folder + "/node-1.pem",
                                  keyPath: folder + "/node-1.key", group: MultiThreadedEventLoopGroup.singleton)
        defer { fake.close() }
        let endpoints = ["https://127.0.0.1:\(fake.port)"] + cluster.endpoints
        let writer = try KeyraftClient(configuration: configuration(cluster, endpoints: endpoints))
        defer { writer.shutdown() }
        do {
            _ = try await writer.createKey(description: "maybe applied")
            XCTFail("a write answered 503 must not be repeated elsewhere")
        } catch let KeyraftClientError.service(error) {
            XCTAssertEqual(error.knownName, .dependencyTimeout)
            XCTAssertEqual(error.httpStatus, 503)
        }
        XCTAssertEqual(fake.requests, 1)
        let reader = try KeyraftClient(configuration: configuration(cluster, endpoints: endpoints))
        defer { reader.shutdown() }
        let value15 = try await reader.generateRandom(numberOfBytes: 8).count
        XCTAssertEqual(value15, 8)
        XCTAssertEqual(fake.requests, 2, "the read went to the fake first, then failed over")
        XCTAssertFalse(reader.endpointHealth()[0].isUp)
    }

    func testAWriteIsNotRepeatedAfterATimeoutButAReadFailsOver() async throws {
        let cluster = try liveCluster()
        let folder = cluster.clusterFolder.path
        let fake = try FakeServer(mode: .neverAnswer, certificatePath: folder + "/node-1.pem",
                                  keyPath: folder + "/node-1.key", group: MultiThreadedEventLoopGroup.singleton)
        defer { fake.close() }
        var configuration = try configuration(cluster, endpoints: ["https://127.0.0.1:\(fake.port)"] + cluster.endpoints)
        configuration.requestTimeout = .milliseconds(500)
        let writer = try KeyraftClient(configuration: configuration)
        defer { writer.shutdown() }
        do {
            _ = try await writer.createKey(description: "maybe applied")
            XCTFail("a write that timed out must not be repeated elsewhere")
        } catch let KeyraftClientError.outcomeUnknown(reason) {
            XCTAssertTrue(reason.contains("500 ms"), reason)
        }
        let reader = try KeyraftClient(configuration: configuration)
        defer { reader.shutdown() }
        let value16 = try await reader.generateRandom(numberOfBytes: 8).count
        XCTAssertEqual(value16, 8)
        XCTAssertEqual(fake.requests, 2)
    }

    // MARK: Envelope encryption

    func testEnvelopeMessagesThroughGenerateDataKeyAndDecrypt() async throws {
        let cluster = try liveCluster()
        let client = try KeyraftClient(configuration: configuration(cluster))
        defer { client.shutdown() }
        let key = try await client.createKey(description: "envelope")
        try await waitUntilEveryNodeKnows(key.keyID, cluster)
        let context = ["tenant": "acme", "purpose": "test"]
        let envelope = EnvelopeClient(client: client, frameBytes: 4_096)
        for size in [0, 1, 4_095, 4_096, 4_097, 300_000] {
            let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let message = try await envelope.encrypt(plaintext, keyID: key.keyID, context: context)
            let (opened, header) = try await envelope.decrypt(message, requiredContext: ["tenant": "acme"])
            XCTAssertEqual(opened, plaintext, "size \(size)")
            XCTAssertEqual(header.keyARN, key.arn)
            XCTAssertEqual(header.encryptionContext, context)
        }
        XCTAssertEqual(envelope.statistics.generateDataKeyCalls, 6)
        XCTAssertEqual(envelope.statistics.decryptCalls, 6)
        let message = try await envelope.encrypt([1, 2, 3], keyID: key.keyID, context: context)
        do {
            _ = try await envelope.decrypt(message, requiredContext: ["tenant": "globex"])
            XCTFail("context mismatch accepted")
        } catch let error as EnvelopeError {
            XCTAssertEqual(error, .contextMismatch(key: "tenant"))
        }
        // Tampering with the context in the header: KMS refuses the data key.
        var altered = message
        if let index = altered.firstIndex(of: UInt8(ascii: "m")) { altered[index] = UInt8(ascii: "n") } // "acme" → "acne"
        do {
            _ = try await envelope.decrypt(altered)
            XCTFail("altered context accepted")
        } catch let KeyraftClientError.service(error) {
            XCTAssertEqual(error.knownName, .invalidCiphertext)
        }
    }

    func testTheDataKeyCacheMakesBulkEncryptionCostFewKMSCalls() async throws {
        let cluster = try liveCluster()
        let client = try KeyraftClient(configuration: configuration(cluster))
        defer { client.shutdown() }
        let key = try await client.createKey(description: "cache")
        try await waitUntilEveryNodeKnows(key.keyID, cluster)
        let envelope = EnvelopeClient(client: client, cacheLimits: DataKeyCacheLimits(maxAge: .seconds(60), maxMessages: 10))
        var messages: [[UInt8]] = []
        for index in 0..<25 {
            messages.append(try await envelope.encrypt(Array("message \(index)".utf8), keyID: key.keyID, context: ["batch": "1"]))
        }
        // Ten messages per data key.
        XCTAssertEqual(envelope.statistics.generateDataKeyCalls, 3)
        XCTAssertEqual(envelope.statistics.encryptionCacheHits, 22)
        for (index, message) in messages.enumerated() {
            let value17 = try await envelope.decrypt(message).plaintext
            XCTAssertEqual(value17, Array("message \(index)".utf8))
        }
        XCTAssertEqual(envelope.statistics.decryptCalls, 3, "one Decrypt per distinct encrypted data key")
        XCTAssertEqual(envelope.statistics.decryptionCacheHits, 22)
        // Another context never shares a data key.
        _ = try await envelope.encrypt([1], keyID: key.keyID, context: ["batch": "2"])
        XCTAssertEqual(envelope.statistics.generateDataKeyCalls, 4)
    }

    // MARK: The CLI

    func testEncryptAndDecryptCommands() throws {
        let cluster = try liveCluster()
        let folder = cluster.folder.path
        let keyOutput = try cluster.run(["encrypt", "--help"])
        XCTAssertEqual(keyOutput.status, 0)
        // A key and an alias through the client, then the files through the binary.
        let alias = "alias/files-\(UUID().uuidString.prefix(8))"
        let created = try blocking { [cluster] in
            var sticky = try KeyraftClient.Configuration.fromEnvironment(cluster.environment)
            sticky.stickyEndpoint = true
            let client = try KeyraftClient(configuration: sticky)
            defer { client.shutdown() }
            let key = try await client.createKey(description: "files")
            try await client.createAlias(aliasName: alias, targetKeyID: key.keyID)
            try await ClientIntegrationTests.waitUntilEveryNodeKnows(alias, cluster)
            return key.arn
        }
        let plaintext = (0..<1_000_003).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        try Data(plaintext).write(to: URL(fileURLWithPath: folder + "/plain.bin"))
        var result = try cluster.run(["encrypt", "--key", alias, "--context", "tenant=acme", "--context", "kind=test",
                                      "--in", folder + "/plain.bin", "--out", folder + "/plain.kr", "--frame-bytes", "10000"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains(created), result.output)
        result = try cluster.run(["decrypt", "--in", folder + "/plain.kr", "--out", folder + "/plain.out", "--context", "tenant=acme"])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/plain.out")), Data(plaintext))
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/plain.out")
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)

        // No overwrite without --force.
        result = try cluster.run(["decrypt", "--in", folder + "/plain.kr", "--out", folder + "/plain.out"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("--force"), result.output)
        result = try cluster.run(["decrypt", "--in", folder + "/plain.kr", "--out", folder + "/plain.out", "--force"])
        XCTAssertEqual(result.status, 0, result.output)

        // A truncated or altered file leaves nothing under the output name, nor a temporary file.
        let message = try Data(contentsOf: URL(fileURLWithPath: folder + "/plain.kr"))
        try message.prefix(message.count - 100).write(to: URL(fileURLWithPath: folder + "/cut.kr"))
        var flipped = message
        flipped[flipped.count / 2] ^= 1
        try flipped.write(to: URL(fileURLWithPath: folder + "/flipped.kr"))
        for (input, expected) in [("cut.kr", "truncated"), ("flipped.kr", "failed authentication")] {
            result = try cluster.run(["decrypt", "--in", folder + "/" + input, "--out", folder + "/bad.out"])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.output.contains(expected), result.output)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/bad.out"))
        }
        result = try cluster.run(["decrypt", "--in", folder + "/plain.kr", "--out", folder + "/bad.out", "--context", "tenant=evil"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/bad.out"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    // MARK: Helpers

    /// Waits until every node serves `keyID` (a follower's reads lag a write by up to a
    /// lease refresh), so that round-robin calls after a write find the key.
    func waitUntilEveryNodeKnows(_ keyID: String, _ cluster: LiveCluster) async throws {
        try await Self.waitUntilEveryNodeKnows(keyID, cluster)
    }

    static func waitUntilEveryNodeKnows(_ keyID: String, _ cluster: LiveCluster) async throws {
        for endpoint in cluster.endpoints {
            let single = try KeyraftClient(configuration: configuration(cluster, endpoints: [endpoint]))
            defer { single.shutdown() }
            let deadline = Date().addingTimeInterval(5)
            while true {
                do {
                    _ = try await single.describeKey(keyID: keyID)
                    break
                } catch {
                    guard (error as? KeyraftClientError)?.awsErrorName == "NotFoundException", Date() < deadline else { throw error }
                    try await Task.sleep(nanoseconds: 50_000_000)
                }
            }
        }
    }

    func assertService(
        _ name: String, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            XCTFail("expected \(name), got success", file: file, line: line)
        } catch let KeyraftClientError.service(error) {
            XCTAssertEqual(error.name, name, error.message, file: file, line: line)
        } catch {
            XCTFail("expected \(name), got \(error)", file: file, line: line)
        }
    }

    /// Polls `body` (a read served under the lease, possibly by a follower that has not
    /// applied the last write yet) until `done` holds, for at most 5 s.
    func waitFor<T>(_ body: () async throws -> T, until done: (T) -> Bool) async throws -> T {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let value = try await body()
            if done(value) || Date() > deadline { return value }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
    }

    func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = NIOLockedResult<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try box.get()
    }
}

final class NIOLockedResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }
    func get() throws -> T { try lock.withLock { result }!.get() }
}
