import Foundation
import KMSWire
import KeyraftCrypto

/// The typed KMS calls, one per operation Keyraft serves (`KMSOperation`). Any `keyID`
/// argument accepts a key id, key ARN, alias name (`alias/x`) or alias ARN.
extension KeyraftClient {
    // MARK: Keys

    public func createKey(
        description: String? = nil, policy: String? = nil, keyUsage: String? = nil, keySpec: String? = nil,
        tags: [KeyraftTag] = [], bypassPolicyLockoutSafetyCheck: Bool = false
    ) async throws -> KeyMetadata {
        var body = RequestBody()
        body.string("Description", description)
        body.string("Policy", policy)
        body.string("KeyUsage", keyUsage)
        body.string("KeySpec", keySpec)
        body.tags("Tags", tags)
        body.flag("BypassPolicyLockoutSafetyCheck", bypassPolicyLockoutSafetyCheck)
        return try await keyMetadata(.createKey, body)
    }

    public func describeKey(keyID: String) async throws -> KeyMetadata {
        try await keyMetadata(.describeKey, keyBody(keyID))
    }

    /// One page; pass `nextMarker` back as `marker` while `truncated`.
    public func listKeys(limit: Int? = nil, marker: String? = nil) async throws -> KeyList {
        var body = RequestBody()
        body.int("Limit", limit)
        body.string("Marker", marker)
        return try await decoded(.listKeys, body, as: KeyList.self)
    }

    public func updateKeyDescription(keyID: String, description: String) async throws {
        var body = keyBody(keyID)
        body.string("Description", description)
        _ = try await send(.updateKeyDescription, body)
    }

    public func enableKey(keyID: String) async throws {
        _ = try await send(.enableKey, keyBody(keyID))
    }

    public func disableKey(keyID: String) async throws {
        _ = try await send(.disableKey, keyBody(keyID))
    }

    /// `pendingWindowInDays` 7 … 30, default 30.
    public func scheduleKeyDeletion(
        keyID: String, pendingWindowInDays: Int? = nil
    ) async throws -> ScheduledKeyDeletion {
        var body = keyBody(keyID)
        body.int("PendingWindowInDays", pendingWindowInDays)
        return try await decoded(.scheduleKeyDeletion, body, as: ScheduledKeyDeletion.self)
    }

    /// Returns the key ARN; the key is Disabled afterwards.
    public func cancelKeyDeletion(keyID: String) async throws -> String {
        try await decoded(.cancelKeyDeletion, keyBody(keyID), as: Wire.KeyIDOutput.self).KeyId
    }

    // MARK: Aliases

    public func createAlias(aliasName: String, targetKeyID: String) async throws {
        _ = try await send(.createAlias, aliasBody(aliasName, targetKeyID))
    }

    public func updateAlias(aliasName: String, targetKeyID: String) async throws {
        _ = try await send(.updateAlias, aliasBody(aliasName, targetKeyID))
    }

    public func deleteAlias(aliasName: String) async throws {
        var body = RequestBody()
        body.string("AliasName", aliasName)
        _ = try await send(.deleteAlias, body)
    }

    public func listAliases(
        keyID: String? = nil, limit: Int? = nil, marker: String? = nil
    ) async throws -> AliasList {
        var body = RequestBody()
        body.string("KeyId", keyID)
        body.int("Limit", limit)
        body.string("Marker", marker)
        return try await decoded(.listAliases, body, as: AliasList.self)
    }

    // MARK: Cryptography

    /// Encrypts 1 … 4096 bytes under the key, bound to `context`.
    public func encrypt(
        keyID: String, plaintext: [UInt8], context: [String: String] = [:], algorithm: String? = nil
    ) async throws -> EncryptResult {
        var body = keyBody(keyID)
        body.blob("Plaintext", plaintext)
        body.context("EncryptionContext", context)
        body.string("EncryptionAlgorithm", algorithm)
        let output = try await decoded(.encrypt, body, as: Wire.EncryptOutput.self)
        return EncryptResult(ciphertextBlob: [UInt8](output.CiphertextBlob), keyARN: output.KeyId,
                             encryptionAlgorithm: output.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT")
    }

    /// Decrypts a ciphertext blob; `keyID`, when given, must name the key the blob names
    /// (else `IncorrectKeyException`); `context` must be exactly the one given to Encrypt.
    public func decrypt(
        ciphertextBlob: [UInt8], keyID: String? = nil, context: [String: String] = [:], algorithm: String? = nil
    ) async throws -> DecryptResult {
        var body = RequestBody()
        body.blob("CiphertextBlob", ciphertextBlob)
        body.string("KeyId", keyID)
        body.context("EncryptionContext", context)
        body.string("EncryptionAlgorithm", algorithm)
        let output = try await decoded(.decrypt, body, as: Wire.DecryptOutput.self)
        return DecryptResult(plaintext: [UInt8](output.Plaintext), keyARN: output.KeyId,
                             encryptionAlgorithm: output.EncryptionAlgorithm ?? "SYMMETRIC_DEFAULT")
    }

    /// Decrypts and re-encrypts inside the service, optionally under another key and context.
    public func reEncrypt(
        ciphertextBlob: [UInt8], destinationKeyID: String, sourceKeyID: String? = nil,
        sourceContext: [String: String] = [:], destinationContext: [String: String] = [:]
    ) async throws -> ReEncryptResult {
        var body = RequestBody()
        body.blob("CiphertextBlob", ciphertextBlob)
        body.string("DestinationKeyId", destinationKeyID)
        body.string("SourceKeyId", sourceKeyID)
        body.context("SourceEncryptionContext", sourceContext)
        body.context("DestinationEncryptionContext", destinationContext)
        let output = try await decoded(.reEncrypt, body, as: Wire.ReEncryptOutput.self)
        return ReEncryptResult(
            ciphertextBlob: [UInt8](output.CiphertextBlob), sourceKeyARN: output.SourceKeyId, keyARN: output.KeyId,
            sourceEncryptionAlgorithm: output.SourceEncryptionAlgorithm ?? "SYMMETRIC_DEFAULT",
            destinationEncryptionAlgorithm: output.DestinationEncryptionAlgorithm ?? "SYMMETRIC_DEFAULT")
    }

    /// A fresh data key, in plaintext and encrypted under the key. The plaintext length is
    /// checked against the size asked for.
    public func generateDataKey(
        keyID: String, size: DataKeySize = .aes256, context: [String: String] = [:]
    ) async throws -> GeneratedDataKey {
        let output = try await decoded(.generateDataKey, dataKeyBody(keyID, size, context), as: Wire.DataKeyOutput.self)
        guard let plaintext = output.Plaintext else { throw KeyraftClientError.invalidResponse("GenerateDataKey: no Plaintext") }
        let key = SecretBytes(copying: plaintext)
        guard key.count == size.byteCount else {
            throw KeyraftClientError.invalidResponse("GenerateDataKey: \(key.count) bytes of key, asked for \(size.byteCount)")
        }
        return GeneratedDataKey(plaintext: key, ciphertextBlob: [UInt8](output.CiphertextBlob), keyARN: output.KeyId)
    }

    public func generateDataKeyWithoutPlaintext(
        keyID: String, size: DataKeySize = .aes256, context: [String: String] = [:]
    ) async throws -> EncryptedDataKey {
        let output = try await decoded(.generateDataKeyWithoutPlaintext, dataKeyBody(keyID, size, context),
                                       as: Wire.DataKeyOutput.self)
        return EncryptedDataKey(ciphertextBlob: [UInt8](output.CiphertextBlob), keyARN: output.KeyId)
    }

    /// 1 … 1024 random bytes from the cluster's CSPRNG.
    public func generateRandom(numberOfBytes: Int) async throws -> [UInt8] {
        var body = RequestBody()
        body.int("NumberOfBytes", numberOfBytes)
        return [UInt8](try await decoded(.generateRandom, body, as: Wire.RandomOutput.self).Plaintext)
    }

    // MARK: Rotation

    /// `rotationPeriodInDays` 90 … 2560, default 365.
    public func enableKeyRotation(keyID: String, rotationPeriodInDays: Int? = nil) async throws {
        var body = keyBody(keyID)
        body.int("RotationPeriodInDays", rotationPeriodInDays)
        _ = try await send(.enableKeyRotation, body)
    }

    public func disableKeyRotation(keyID: String) async throws {
        _ = try await send(.disableKeyRotation, keyBody(keyID))
    }

    public func getKeyRotationStatus(keyID: String) async throws -> KeyRotationStatus {
        try await decoded(.getKeyRotationStatus, keyBody(keyID), as: KeyRotationStatus.self)
    }

    /// Returns the key ARN.
    public func rotateKeyOnDemand(keyID: String) async throws -> String {
        try await decoded(.rotateKeyOnDemand, keyBody(keyID), as: Wire.KeyIDOutput.self).KeyId
    }

    public func listKeyRotations(
        keyID: String, limit: Int? = nil, marker: String? = nil
    ) async throws -> KeyRotationList {
        var body = keyBody(keyID)
        body.int("Limit", limit)
        body.string("Marker", marker)
        return try await decoded(.listKeyRotations, body, as: KeyRotationList.self)
    }

    // MARK: Key policies

    public func getKeyPolicy(keyID: String, policyName: String? = nil) async throws -> KeyPolicyDocument {
        var body = keyBody(keyID)
        body.string("PolicyName", policyName)
        return try await decoded(.getKeyPolicy, body, as: KeyPolicyDocument.self)
    }

    public func putKeyPolicy(
        keyID: String, policy: String, policyName: String? = nil, bypassPolicyLockoutSafetyCheck: Bool = false
    ) async throws {
        var body = keyBody(keyID)
        body.string("Policy", policy)
        body.string("PolicyName", policyName)
        body.flag("BypassPolicyLockoutSafetyCheck", bypassPolicyLockoutSafetyCheck)
        _ = try await send(.putKeyPolicy, body)
    }

    /// The policy names (Keyraft has one: `default`).
    public func listKeyPolicies(keyID: String) async throws -> [String] {
        try await decoded(.listKeyPolicies, keyBody(keyID), as: Wire.PolicyNamesOutput.self).PolicyNames
    }

    // MARK: Helpers

    private func keyBody(_ keyID: String) -> RequestBody {
        var body = RequestBody()
        body.string("KeyId", keyID)
        return body
    }

    private func aliasBody(_ aliasName: String, _ targetKeyID: String) -> RequestBody {
        var body = RequestBody()
        body.string("AliasName", aliasName)
        body.string("TargetKeyId", targetKeyID)
        return body
    }

    private func dataKeyBody(_ keyID: String, _ size: DataKeySize, _ context: [String: String]) -> RequestBody {
        var body = keyBody(keyID)
        switch size {
        case .aes128: body.string("KeySpec", "AES_128")
        case .aes256: body.string("KeySpec", "AES_256")
        case let .bytes(count): body.int("NumberOfBytes", count)
        }
        body.context("EncryptionContext", context)
        return body
    }

    private func keyMetadata(_ operation: KMSOperation, _ body: RequestBody) async throws(KeyraftClientError) -> KeyMetadata {
        try await decoded(operation, body, as: Wire.KeyMetadataOutput.self).metadata
    }

    private func decoded<T: Decodable>(
        _ operation: KMSOperation, _ body: RequestBody, as type: T.Type
    ) async throws(KeyraftClientError) -> T {
        let answer = try await send(operation, body)
        return try ResponseDecoding.decode(type, from: answer, operation: operation.rawValue)
    }
}

extension DataKeySize {
    var byteCount: Int {
        switch self {
        case .aes128: return 16
        case .aes256: return 32
        case let .bytes(count): return count
        }
    }
}
