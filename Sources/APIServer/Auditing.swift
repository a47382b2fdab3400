import KMS
import KMSWire

/// What the API knows about one finished call, for the audit trail. Carries encryption
/// context keys only through `context` (the sink keeps the keys, never the values), and
/// never plaintext, ciphertext or messages.
public struct APIAuditEntry: Sendable {
    public var requestID: String
    /// The principal ARN, or `unauthenticated` when SigV4 failed.
    public var principal: String
    /// The operation as named in `X-Amz-Target` (`TrentService.Encrypt`), or `unknown`.
    public var operation: String
    /// The key the call was about: the ARN from the answer when there is one, otherwise the
    /// reference the caller gave (key id, alias or ARN).
    public var key: String?
    public var context: EncryptionContext
    /// nil for success, else the AWS error name.
    public var errorName: String?
    /// From the first byte of the request to the answer being written, in nanoseconds.
    public var durationNanos: Int64 = 0
}

/// Where finished calls are recorded (the audit trail, metrics). Called once per request,
/// from the connection's event loop; implementations must be thread-safe.
public protocol APIAuditSink: Sendable {
    func record(_ entry: APIAuditEntry)
}

enum AuditFields {
    /// The key reference and encryption context a request names.
    static func of(_ call: APICall?) -> (key: String?, context: EncryptionContext) {
        guard case let .kms(_, decoded)? = call else { return (nil, [:]) }
        switch decoded {
        case let .write(write):
            switch write {
            case .createKey: return (nil, [:])
            case let .updateKeyDescription(keyID, _), let .enableKey(keyID), let .disableKey(keyID),
                 let .scheduleKeyDeletion(keyID, _), let .cancelKeyDeletion(keyID), let .enableKeyRotation(keyID, _),
                 let .disableKeyRotation(keyID), let .rotateKeyOnDemand(keyID), let .putKeyPolicy(keyID, _, _, _):
                return (keyID, [:])
            case let .createAlias(_, target), let .updateAlias(_, target): return (target, [:])
            case let .deleteAlias(alias): return (alias, [:])
            }
        case let .read(read):
            switch read {
            case .listKeys, .generateRandom: return (nil, [:])
            case let .listAliases(keyID, _, _): return (keyID, [:])
            case let .describeKey(keyID), let .getKeyRotationStatus(keyID), let .listKeyRotations(keyID, _, _),
                 let .getKeyPolicy(keyID, _), let .listKeyPolicies(keyID):
                return (keyID, [:])
            case let .encrypt(keyID, _, context, _): return (keyID, context)
            case let .decrypt(_, keyID, context, _): return (keyID, context)
            case let .reEncrypt(_, _, sourceContext, destinationKeyID, destinationContext):
                return (destinationKeyID, sourceContext.merging(destinationContext) { first, _ in first })
            case let .generateDataKey(keyID, _, _, context, _): return (keyID, context)
            }
        }
    }

    /// The key ARN an answer names, if any.
    static func keyARN(of result: APIResult) -> String? {
        switch result {
        case let .write(.keyMetadata(metadata)): return metadata.arn
        case let .read(.keyMetadata(metadata)): return metadata.arn
        case let .read(.encrypt(response)): return response.keyARN
        case let .read(.decrypt(response)): return response.keyARN
        case let .read(.reEncrypt(response)): return response.keyARN
        case let .read(.generateDataKey(response)): return response.keyARN
        default: return nil
        }
    }
}
