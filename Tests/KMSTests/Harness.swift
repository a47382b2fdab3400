import KeyraftCrypto
import KeyraftCryptoDeterministic
@testable import KMS

/// One KMS node's service with a manual clock and seeded entropy; writes go through
/// prepare → apply → response exactly as the node driver will run them.
final class Harness {
    let entropy: SeededEntropy
    let rootKey: SecretBytes
    let service: KMSService
    var now = Timestamp(milliseconds: 1_780_000_000_000)
    var log: [KMSCommand] = []
    let admin = Principal(arn: "arn:aws:iam::111122223333:user/admin", accountID: "111122223333")

    init(seed: UInt64 = 1) {
        entropy = SeededEntropy(seed: seed)
        rootKey = try! SecretBytes.generate(count: 32, using: entropy)
        service = KMSService(config: KMSConfig(), rootKey: rootKey)
    }

    @discardableResult
    func write(_ request: KMSWriteRequest, as principal: Principal? = nil) throws(KMSError) -> KMSWriteResponse {
        let command = try service.prepare(request, principal: principal ?? admin, now: now, entropy: entropy)
        try applyLogged(command)
        return service.response(to: request, command: command)
    }

    func applyLogged(_ command: KMSCommand) throws(KMSError) {
        // Every command goes through its binary encoding, as it would through the log.
        let decoded = try! KMSCommand(decoding: command.encoded())
        precondition(decoded == command)
        log.append(decoded)
        if case let .failure(error) = service.apply(decoded) { throw error }
    }

    func createKey(_ request: CreateKeyRequest = CreateKeyRequest(), as principal: Principal? = nil) throws(KMSError) -> String {
        guard case let .keyMetadata(metadata) = try write(.createKey(request), as: principal) else {
            fatalError("CreateKey returns metadata")
        }
        return metadata.keyID
    }

    func encrypt(_ key: String, _ text: String, context: EncryptionContext = [:], as principal: Principal? = nil) throws(KMSError) -> [UInt8] {
        try service.encrypt(keyID: key, plaintext: Array(text.utf8), context: context, principal: principal ?? admin,
                            entropy: entropy).ciphertextBlob
    }

    func decrypt(_ blob: [UInt8], key: String? = nil, context: EncryptionContext = [:], as principal: Principal? = nil) throws(KMSError) -> String {
        String(decoding: try service.decrypt(ciphertextBlob: blob, keyID: key, context: context,
                                             principal: principal ?? admin).plaintext, as: UTF8.self)
    }

    func advance(days: Int) { now = now.adding(days: days) }

    /// Runs the leader's scheduler once, applying what it proposes.
    func runScheduler() throws(KMSError) -> [KMSCommand] {
        let due = service.dueMaintenance(now: now, entropy: entropy, limit: 100)
        for command in due { try applyLogged(command) }
        return due
    }
}

/// The AWS error code a call fails with, or nil if it succeeds. Non-KMS errors fail the test.
func code<T>(_ body: () throws -> T) -> KMSError.Code? {
    do {
        _ = try body()
        return nil
    } catch let error as KMSError {
        return error.code
    } catch {
        fatalError("unexpected error type: \(error)")
    }
}

func message<T>(_ body: () throws -> T) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as KMSError {
        return error.message
    } catch {
        fatalError("unexpected error type: \(error)")
    }
}
