import KeyraftCrypto

/// A request served from a node's local state under its read lease: reads and the
/// cryptographic calls. No log entry is written for these.
public enum KMSReadRequest: Equatable, Sendable {
    case describeKey(keyID: String)
    case listKeys(limit: Int?, marker: String?)
    case listAliases(keyID: String?, limit: Int?, marker: String?)
    case getKeyRotationStatus(keyID: String)
    case listKeyRotations(keyID: String, limit: Int?, marker: String?)
    case getKeyPolicy(keyID: String, policyName: String?)
    case listKeyPolicies(keyID: String)
    case encrypt(keyID: String, plaintext: [UInt8], context: EncryptionContext, algorithm: String?)
    case decrypt(ciphertextBlob: [UInt8], keyID: String?, context: EncryptionContext, algorithm: String?)
    case reEncrypt(ciphertextBlob: [UInt8], sourceKeyID: String?, sourceContext: EncryptionContext,
                   destinationKeyID: String, destinationContext: EncryptionContext)
    case generateDataKey(keyID: String, keySpec: String?, numberOfBytes: Int?, context: EncryptionContext,
                         includePlaintext: Bool)
    case generateRandom(numberOfBytes: Int?)
}

/// The answer to a `KMSReadRequest`.
public enum KMSReadResponse: Equatable, Sendable {
    case keyMetadata(KeyMetadata)
    case listKeys(ListKeysResponse)
    case listAliases(ListAliasesResponse)
    case rotationStatus(KeyRotationStatus)
    case listKeyRotations(ListKeyRotationsResponse)
    case policy(String)
    case policyNames([String])
    case encrypt(EncryptResponse)
    case decrypt(DecryptResponse)
    case reEncrypt(ReEncryptResponse)
    case generateDataKey(GenerateDataKeyResponse)
    case randomBytes([UInt8])
}

extension KMSService {
    /// Serves one read or cryptographic request from the local state.
    public func execute(_ request: KMSReadRequest, principal: Principal,
                        entropy: some EntropySource) throws(KMSError) -> KMSReadResponse {
        switch request {
        case let .describeKey(keyID):
            return .keyMetadata(try describeKey(keyID, principal: principal))
        case let .listKeys(limit, marker):
            return .listKeys(try listKeys(limit: limit, marker: marker, principal: principal))
        case let .listAliases(keyID, limit, marker):
            return .listAliases(try listAliases(keyID: keyID, limit: limit, marker: marker, principal: principal))
        case let .getKeyRotationStatus(keyID):
            return .rotationStatus(try getKeyRotationStatus(keyID, principal: principal))
        case let .listKeyRotations(keyID, limit, marker):
            return .listKeyRotations(try listKeyRotations(keyID, limit: limit, marker: marker, principal: principal))
        case let .getKeyPolicy(keyID, name):
            return .policy(try getKeyPolicy(keyID, policyName: name, principal: principal))
        case let .listKeyPolicies(keyID):
            return .policyNames(try listKeyPolicies(keyID, principal: principal))
        case let .encrypt(keyID, plaintext, context, algorithm):
            return .encrypt(try encrypt(keyID: keyID, plaintext: plaintext, context: context, algorithm: algorithm,
                                        principal: principal, entropy: entropy))
        case let .decrypt(blob, keyID, context, algorithm):
            return .decrypt(try decrypt(ciphertextBlob: blob, keyID: keyID, context: context, algorithm: algorithm,
                                        principal: principal))
        case let .reEncrypt(blob, sourceKeyID, sourceContext, destinationKeyID, destinationContext):
            return .reEncrypt(try reEncrypt(ciphertextBlob: blob, sourceKeyID: sourceKeyID, sourceContext: sourceContext,
                                            destinationKeyID: destinationKeyID, destinationContext: destinationContext,
                                            principal: principal, entropy: entropy))
        case let .generateDataKey(keyID, keySpec, numberOfBytes, context, includePlaintext):
            return .generateDataKey(try generateDataKey(keyID: keyID, keySpec: keySpec, numberOfBytes: numberOfBytes,
                                                        context: context, includePlaintext: includePlaintext,
                                                        principal: principal, entropy: entropy))
        case let .generateRandom(numberOfBytes):
            return .randomBytes(try generateRandom(numberOfBytes: numberOfBytes, principal: principal, entropy: entropy))
        }
    }
}
