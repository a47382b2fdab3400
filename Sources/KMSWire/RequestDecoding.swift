import Foundation
import JSONText
import KMS

/// A KMS request decoded from its AWS JSON 1.1 body: a write (through the Raft log) or a
/// read or cryptographic call (served under the read lease).
public enum DecodedKMSRequest: Equatable, Sendable {
    case write(KMSWriteRequest)
    case read(KMSReadRequest)
}

/// Decodes request bodies into the KMS's typed requests.
///
/// Wrong JSON types are `SerializationException` (as AWS answers); a missing required
/// member is a `ValidationException` with AWS's wording (`Value null at 'keyId' failed to
/// satisfy constraint: Member must not be null`). Members the server does not use
/// (`GrantTokens`, `DryRun`, ...) are ignored, as AWS ignores what a request may carry.
/// Range checks on values belong to the KMS operations, which word them the same way.
public enum KMSRequestDecoder {
    /// Request bodies larger than this are refused before parsing (the API layer also bounds it).
    public static let bodyBytesMax = 64 * 1024

    public static func decode(_ operation: KMSOperation, body: [UInt8]) throws(AWSErrorBody) -> DecodedKMSRequest {
        let m = try Members(body)
        switch operation {
        case .createKey:
            let legacySpec = try m.string("CustomerMasterKeySpec")
            return .write(.createKey(CreateKeyRequest(
                description: try m.string("Description"), policy: try m.string("Policy"),
                keyUsage: try m.string("KeyUsage"), keySpec: try m.string("KeySpec") ?? legacySpec,
                origin: try m.string("Origin"), tags: try m.tags("Tags"),
                bypassPolicyLockoutSafetyCheck: try m.bool("BypassPolicyLockoutSafetyCheck") ?? false)))
        case .describeKey: return .read(.describeKey(keyID: try m.required("KeyId")))
        case .listKeys: return .read(.listKeys(limit: try m.int("Limit"), marker: try m.string("Marker")))
        case .updateKeyDescription:
            return .write(.updateKeyDescription(keyID: try m.required("KeyId"), description: try m.required("Description")))
        case .enableKey: return .write(.enableKey(keyID: try m.required("KeyId")))
        case .disableKey: return .write(.disableKey(keyID: try m.required("KeyId")))
        case .scheduleKeyDeletion:
            return .write(.scheduleKeyDeletion(keyID: try m.required("KeyId"),
                                               pendingWindowInDays: try m.int("PendingWindowInDays")))
        case .cancelKeyDeletion: return .write(.cancelKeyDeletion(keyID: try m.required("KeyId")))
        case .createAlias:
            return .write(.createAlias(aliasName: try m.required("AliasName"), targetKeyID: try m.required("TargetKeyId")))
        case .updateAlias:
            return .write(.updateAlias(aliasName: try m.required("AliasName"), targetKeyID: try m.required("TargetKeyId")))
        case .deleteAlias: return .write(.deleteAlias(aliasName: try m.required("AliasName")))
        case .listAliases:
            return .read(.listAliases(keyID: try m.string("KeyId"), limit: try m.int("Limit"), marker: try m.string("Marker")))
        case .encrypt:
            return .read(.encrypt(keyID: try m.required("KeyId"), plaintext: try m.requiredBlob("Plaintext"),
                                  context: try m.context("EncryptionContext"), algorithm: try m.string("EncryptionAlgorithm")))
        case .decrypt:
            return .read(.decrypt(ciphertextBlob: try m.requiredBlob("CiphertextBlob"), keyID: try m.string("KeyId"),
                                  context: try m.context("EncryptionContext"), algorithm: try m.string("EncryptionAlgorithm")))
        case .reEncrypt:
            return .read(.reEncrypt(ciphertextBlob: try m.requiredBlob("CiphertextBlob"), sourceKeyID: try m.string("SourceKeyId"),
                                    sourceContext: try m.context("SourceEncryptionContext"),
                                    destinationKeyID: try m.required("DestinationKeyId"),
                                    destinationContext: try m.context("DestinationEncryptionContext")))
        case .generateDataKey, .generateDataKeyWithoutPlaintext:
            return .read(.generateDataKey(keyID: try m.required("KeyId"), keySpec: try m.string("KeySpec"),
                                          numberOfBytes: try m.int("NumberOfBytes"), context: try m.context("EncryptionContext"),
                                          includePlaintext: operation == .generateDataKey))
        case .generateRandom: return .read(.generateRandom(numberOfBytes: try m.int("NumberOfBytes")))
        case .enableKeyRotation:
            return .write(.enableKeyRotation(keyID: try m.required("KeyId"), rotationPeriodInDays: try m.int("RotationPeriodInDays")))
        case .disableKeyRotation: return .write(.disableKeyRotation(keyID: try m.required("KeyId")))
        case .getKeyRotationStatus: return .read(.getKeyRotationStatus(keyID: try m.required("KeyId")))
        case .rotateKeyOnDemand: return .write(.rotateKeyOnDemand(keyID: try m.required("KeyId")))
        case .listKeyRotations:
            return .read(.listKeyRotations(keyID: try m.required("KeyId"), limit: try m.int("Limit"), marker: try m.string("Marker")))
        case .getKeyPolicy: return .read(.getKeyPolicy(keyID: try m.required("KeyId"), policyName: try m.string("PolicyName")))
        case .putKeyPolicy:
            return .write(.putKeyPolicy(keyID: try m.required("KeyId"), policyName: try m.string("PolicyName"),
                                        policy: try m.required("Policy"),
                                        bypassPolicyLockoutSafetyCheck: try m.bool("BypassPolicyLockoutSafetyCheck") ?? false))
        case .listKeyPolicies: return .read(.listKeyPolicies(keyID: try m.required("KeyId")))
        }
    }
}

/// The members of one JSON request object, with typed, AWS-worded accessors.
struct Members {
    let object: [String: JSONValue]

    init(_ body: [UInt8]) throws(AWSErrorBody) {
        guard body.count <= KMSRequestDecoder.bodyBytesMax else {
            throw AWSErrorBody(.validation, "The request body is larger than \(KMSRequestDecoder.bodyBytesMax) bytes.")
        }
        // An operation without input may send an empty body.
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            object = [:]
            return
        }
        guard let parsed = try? JSONReader.parse(body), case let .object(object) = parsed else {
            throw AWSErrorBody(.serialization, "The request body is not a JSON object.")
        }
        self.object = object
    }

    /// AWS names members in lower camel case in validation messages: `KeyId` → `keyId`.
    static func wireName(_ member: String) -> String { member.prefix(1).lowercased() + member.dropFirst() }

    private func present(_ member: String) -> JSONValue? {
        guard let value = object[member] else { return nil }
        if case .null = value { return nil }
        return value
    }

    private func typeError(_ member: String, _ expected: String) -> AWSErrorBody {
        AWSErrorBody(.serialization, "Member '\(member)' must be \(expected).")
    }

    func string(_ member: String) throws(AWSErrorBody) -> String? {
        guard let value = present(member) else { return nil }
        guard case let .string(text) = value else { throw typeError(member, "a string") }
        return text
    }

    func required(_ member: String) throws(AWSErrorBody) -> String {
        guard let text = try string(member) else {
            throw AWSValidationFailure.errorBody([.notNull(Members.wireName(member))])
        }
        return text
    }

    func int(_ member: String) throws(AWSErrorBody) -> Int? {
        guard let value = present(member) else { return nil }
        guard case let .number(number) = value, let int = Int(exactly: number) else { throw typeError(member, "an integer") }
        return int
    }

    func bool(_ member: String) throws(AWSErrorBody) -> Bool? {
        guard let value = present(member) else { return nil }
        guard case let .bool(flag) = value else { throw typeError(member, "a boolean") }
        return flag
    }

    func requiredBlob(_ member: String) throws(AWSErrorBody) -> [UInt8] {
        guard let text = try string(member) else {
            throw AWSValidationFailure.errorBody([.notNull(Members.wireName(member))])
        }
        guard let bytes = Base64.decode(text) else { throw typeError(member, "base64-encoded binary data") }
        return bytes
    }

    func context(_ member: String) throws(AWSErrorBody) -> EncryptionContext {
        guard let value = present(member) else { return [:] }
        guard case let .object(map) = value else { throw typeError(member, "a map of strings to strings") }
        var context: EncryptionContext = [:]
        for (key, entry) in map {
            guard case let .string(text) = entry else { throw typeError(member, "a map of strings to strings") }
            context[key] = text
        }
        return context
    }

    func tags(_ member: String) throws(AWSErrorBody) -> [Tag] {
        guard let value = present(member) else { return [] }
        guard case let .array(list) = value, list.count <= 50 else { throw typeError(member, "a list of at most 50 tags") }
        var tags: [Tag] = []
        for item in list {
            guard case let .object(tag) = item, case let .string(key)? = tag["TagKey"], case let .string(text)? = tag["TagValue"] else {
                throw typeError(member, "a list of {\"TagKey\", \"TagValue\"} objects")
            }
            tags.append(Tag(key: key, value: text))
        }
        return tags
    }
}

/// A wire error is what decoding throws: it already carries the AWS name and status.
extension AWSErrorBody: Error {}
