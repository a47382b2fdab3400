import KMSWire
import KeyraftCrypto
@testable import KeyraftClient
import Testing

enum KMSOperationList {
    static let all = KMSOperation.allCases
}

@Suite struct PoolStateTests {
    typealias State = PoolState<String, Int>

    func now(_ seconds: UInt64 = 0) -> ClientInstant { ClientInstant(nanoseconds: seconds * 1_000_000_000) }

    @Test func opensUpToTheBoundThenQueuesThenRefuses() {
        var state = State(connectionsMax: 2, waitersMax: 1, idleNanosecondsMax: 20_000_000_000)
        guard case .lease(.create, _) = state.acquire(waiter: 1, now: now(), isUsable: { _ in true }),
              case .lease(.create, _) = state.acquire(waiter: 2, now: now(), isUsable: { _ in true }),
              case .queued = state.acquire(waiter: 3, now: now(), isUsable: { _ in true }),
              case .refused = state.acquire(waiter: 4, now: now(), isUsable: { _ in true })
        else {
            Issue.record("expected create, create, queued, refused")
            return
        }
        #expect(state.leased == 2 && state.waiterCount == 1)
        // A released connection goes straight to the waiter.
        guard case let .handOver(waiter, .reuse(connection), _) = state.release("c1", now: now()) else {
            Issue.record("expected a hand-over")
            return
        }
        #expect(waiter == 3 && connection == "c1" && state.leased == 2)
        // A broken one frees the slot for a new connection when nobody waits.
        guard case .none = state.release(nil, now: now()) else { Issue.record("expected none"); return }
        #expect(state.leased == 1)
    }

    @Test func reusesTheMostRecentIdleConnectionAndDropsStaleOnes() {
        var state = State(connectionsMax: 3, waitersMax: 0, idleNanosecondsMax: 20_000_000_000)
        for _ in 0..<3 { _ = state.acquire(waiter: 0, now: now(), isUsable: { _ in true }) }
        _ = state.release("old", now: now(0))
        _ = state.release("closed", now: now(5))
        _ = state.release("new", now: now(10))
        guard case let .lease(.reuse(first), close) = state.acquire(waiter: 0, now: now(11), isUsable: { $0 != "closed" }) else {
            Issue.record("expected reuse")
            return
        }
        #expect(first == "new" && close == ["closed"])
        // "old" has been idle 25 s by now: closed, and a new connection is opened instead.
        guard case let .lease(.create, close2) = state.acquire(waiter: 0, now: now(25), isUsable: { _ in true }) else {
            Issue.record("expected create")
            return
        }
        #expect(close2 == ["old"] && state.idleCount == 0 && state.leased == 2)
    }

    @Test func shutDownFailsWaitersAndClosesIdleConnections() {
        var state = State(connectionsMax: 1, waitersMax: 5, idleNanosecondsMax: 1)
        _ = state.acquire(waiter: 0, now: now(), isUsable: { _ in true })
        _ = state.acquire(waiter: 7, now: now(), isUsable: { _ in true })
        let (close, fail) = state.shutDown()
        #expect(close.isEmpty && fail == [7])
        guard case let .none(closeOnRelease) = state.release("c", now: now()) else { Issue.record("expected none"); return }
        #expect(closeOnRelease == ["c"] && state.leased == 0)
    }
}

@Suite struct DataKeyCacheTests {
    func material(_ tag: UInt8) -> DataKeyMaterial {
        DataKeyMaterial(plaintext: SecretBytes(copying: [UInt8](repeating: tag, count: 32)),
                        encryptedDataKey: [tag], keyARN: "arn:aws:kms:us-east-1:1:key/\(tag)")
    }

    func at(_ seconds: UInt64) -> ClientInstant { ClientInstant(nanoseconds: seconds * 1_000_000_000) }

    let key = DataKeyCache.EncryptionKey(keyID: "alias/x", context: [0, 0, 0, 0])

    @Test func boundedByMessages() {
        var cache = DataKeyCache(limits: DataKeyCacheLimits(maxAge: .seconds(60), maxMessages: 3, maxBytes: 1_000))
        #expect(cache.useForEncryption(key, plaintextBytes: 10, now: at(0)) == nil)
        cache.storeForEncryption(key, material: material(1), plaintextBytes: 10, now: at(0))
        #expect(cache.useForEncryption(key, plaintextBytes: 10, now: at(1))?.encryptedDataKey == [1])
        #expect(cache.useForEncryption(key, plaintextBytes: 10, now: at(1))?.encryptedDataKey == [1])
        #expect(cache.useForEncryption(key, plaintextBytes: 10, now: at(1)) == nil, "three messages used it")
        #expect(cache.encryptionEntryCount == 0)
    }

    @Test func boundedByBytes() {
        var cache = DataKeyCache(limits: DataKeyCacheLimits(maxAge: .seconds(60), maxMessages: 100, maxBytes: 100))
        cache.storeForEncryption(key, material: material(1), plaintextBytes: 60, now: at(0))
        #expect(cache.useForEncryption(key, plaintextBytes: 41, now: at(0)) == nil, "60 + 41 > 100")
        cache.storeForEncryption(key, material: material(2), plaintextBytes: 60, now: at(0))
        #expect(cache.useForEncryption(key, plaintextBytes: 40, now: at(0))?.encryptedDataKey == [2])
        #expect(cache.encryptionEntryCount == 0, "exactly at the limit: dropped")
        // A message larger than the limit is never cached.
        cache.storeForEncryption(key, material: material(3), plaintextBytes: 100, now: at(0))
        #expect(cache.encryptionEntryCount == 0)
    }

    @Test func boundedByAge() {
        var cache = DataKeyCache(limits: DataKeyCacheLimits(maxAge: .seconds(10), maxMessages: 100, maxBytes: 1_000))
        cache.storeForEncryption(key, material: material(1), plaintextBytes: 1, now: at(0))
        #expect(cache.useForEncryption(key, plaintextBytes: 1, now: at(9)) != nil)
        #expect(cache.useForEncryption(key, plaintextBytes: 1, now: at(10)) == nil)
        let decryption = DataKeyCache.DecryptionKey(keyARN: "arn", encryptedDataKey: [1], context: [])
        cache.storeForDecryption(decryption, dataKey: material(1).plaintext, now: at(0))
        #expect(cache.lookupForDecryption(decryption, now: at(9)) != nil)
        #expect(cache.lookupForDecryption(decryption, now: at(10)) == nil)
    }

    @Test func decryptionEntriesAreFoundByKeyCiphertextAndContext() {
        var cache = DataKeyCache(limits: DataKeyCacheLimits())
        let stored = DataKeyCache.DecryptionKey(keyARN: "arn:a", encryptedDataKey: [1, 2], context: [0, 0, 0, 0])
        cache.storeForDecryption(stored, dataKey: material(9).plaintext, now: at(0))
        #expect(cache.lookupForDecryption(stored, now: at(1)) != nil)
        #expect(cache.lookupForDecryption(.init(keyARN: "arn:b", encryptedDataKey: [1, 2], context: [0, 0, 0, 0]), now: at(1)) == nil)
        #expect(cache.lookupForDecryption(.init(keyARN: "arn:a", encryptedDataKey: [1, 3], context: [0, 0, 0, 0]), now: at(1)) == nil)
        #expect(cache.lookupForDecryption(.init(keyARN: "arn:a", encryptedDataKey: [1, 2], context: [0, 0, 0, 1]), now: at(1)) == nil)
    }

    @Test func entriesAreBoundedOldestFirst() {
        var cache = DataKeyCache(limits: DataKeyCacheLimits(entriesMax: 2))
        for index in 0..<5 {
            cache.storeForEncryption(.init(keyID: "k\(index)", context: []), material: material(UInt8(index)),
                                     plaintextBytes: 1, now: at(UInt64(index)))
        }
        #expect(cache.encryptionEntryCount == 2)
        #expect(cache.useForEncryption(.init(keyID: "k4", context: []), plaintextBytes: 1, now: at(5)) != nil)
        #expect(cache.useForEncryption(.init(keyID: "k0", context: []), plaintextBytes: 1, now: at(5)) == nil)
    }
}

@Suite struct WireTests {
    @Test func errorNamesLoseTheirNamespace() {
        #expect(ResponseDecoding.errorNameAndMessage(Array(#"{"__type":"NotFoundException","message":"m"}"#.utf8)) == ("NotFoundException", "m"))
        #expect(ResponseDecoding.errorNameAndMessage(Array(#"{"__type":"com.amazonaws.kms#DisabledException","Message":"x"}"#.utf8)) == ("DisabledException", "x"))
        #expect(ResponseDecoding.errorNameAndMessage(Array(#"{"__type":"ThrottlingException:http://x"}"#.utf8)).name == "ThrottlingException")
        #expect(ResponseDecoding.errorNameAndMessage(Array("<html>".utf8)).name == nil)
    }

    @Test func requestBodiesLeaveOutAbsentMembers() {
        var body = RequestBody()
        body.string("KeyId", "alias/x")
        body.string("Marker", nil)
        body.blob("Plaintext", [1, 2, 3])
        body.context("EncryptionContext", [:])
        body.flag("BypassPolicyLockoutSafetyCheck", false)
        #expect(String(decoding: body.encoded(), as: UTF8.self) == #"{"KeyId":"alias/x","Plaintext":"AQID"}"#)
    }

    @Test func endpointsParse() throws {
        #expect(try KeyraftEndpoint(url: "https://127.0.0.1:8443") == KeyraftEndpoint(host: "127.0.0.1", port: 8443))
        #expect(try KeyraftEndpoint(url: " https://kms.example/ ") == KeyraftEndpoint(host: "kms.example", port: 443))
        #expect(try KeyraftEndpoint(url: "https://127.0.0.1:8443").isAddressLiteral)
        #expect(try !KeyraftEndpoint(url: "https://kms.example:1").isAddressLiteral)
        for bad in ["http://127.0.0.1:1", "127.0.0.1:1", "https://x:1/path", "https://:1", "https://x:99999"] {
            #expect(throws: KeyraftClientError.self, "\(bad)") { _ = try KeyraftEndpoint(url: bad) }
        }
    }

    @Test func configurationFromTheAwsEnvironment() throws {
        var environment = [
            "AWS_ENDPOINT_URL_KMS": "https://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "S",
            "AWS_CA_BUNDLE": "/ca.pem", "AWS_DEFAULT_REGION": "eu-west-1",
        ]
        var configuration = try KeyraftClient.Configuration.fromEnvironment(environment)
        #expect(configuration.endpoints == [KeyraftEndpoint(host: "127.0.0.1", port: 1)])
        #expect(configuration.region == "eu-west-1" && configuration.caBundlePath == "/ca.pem")
        #expect(configuration.credentials.accessKeyID == "AK")
        environment["KEYRAFT_ENDPOINTS"] = "https://127.0.0.1:1,https://127.0.0.1:2"
        environment["AWS_REGION"] = "us-west-2"
        configuration = try KeyraftClient.Configuration.fromEnvironment(environment)
        #expect(configuration.endpoints.map(\.port) == [1, 2] && configuration.region == "us-west-2")
        environment["AWS_SECRET_ACCESS_KEY"] = nil
        #expect(throws: KeyraftClientError.self) { _ = try KeyraftClient.Configuration.fromEnvironment(environment) }
    }
}
