import JSONText
import KMS

/// Encodes KMS responses and errors as AWS JSON 1.1 bodies.
///
/// Blobs are base64; timestamps are epoch seconds (with fractions); every `KeyId` in a
/// response is the key ARN (the AWS Encryption SDK requires it), except `KeyMetadata.KeyId`
/// and `TargetKeyId`, which AWS gives as bare key ids.
public enum KMSResponseEncoder {
    public static func encode(_ response: KMSWriteResponse) -> [UInt8] { body(value(response)) }

    public static func encode(_ response: KMSReadResponse) -> [UInt8] {
        cryptoBody(response) ?? body(value(response))
    }

    /// The answers of the cryptographic calls, the hot path, written directly (members in
    /// bytewise order); the same bytes as `body(value(response))`, which a test checks.
    static func cryptoBody(_ response: KMSReadResponse) -> [UInt8]? {
        var writer = JSONWriter(capacity: 256)
        switch response {
        case let .decrypt(r):
            writer.raw("{\"EncryptionAlgorithm\":")
            writer.string(r.encryptionAlgorithm)
            writer.raw(",\"KeyId\":")
            writer.string(r.keyARN)
            writer.raw(",\"Plaintext\":")
            writer.base64String(r.plaintext)
        case let .encrypt(r):
            writer.raw("{\"CiphertextBlob\":")
            writer.base64String(r.ciphertextBlob)
            writer.raw(",\"EncryptionAlgorithm\":")
            writer.string(r.encryptionAlgorithm)
            writer.raw(",\"KeyId\":")
            writer.string(r.keyARN)
        case let .generateDataKey(r):
            writer.raw("{\"CiphertextBlob\":")
            writer.base64String(r.ciphertextBlob)
            writer.raw(",\"KeyId\":")
            writer.string(r.keyARN)
            if let plaintext = r.plaintext {
                writer.raw(",\"Plaintext\":")
                writer.base64String(plaintext)
            }
        default:
            return nil
        }
        writer.raw("}")
        return writer.bytes
    }

    /// The wire error for a KMS error: same AWS name, status from the one table in `AWSErrorName`.
    public static func errorBody(_ error: KMSError) -> AWSErrorBody {
        guard let name = AWSErrorName(rawValue: error.code.rawValue) else {
            return AWSErrorBody(.internalError, "An internal error occurred.")
        }
        return AWSErrorBody(name, error.message)
    }

    static func value(_ response: KMSWriteResponse) -> OutputValue {
        switch response {
        case .empty: return .object([:])
        case let .keyMetadata(metadata): return .object(["KeyMetadata": keyMetadata(metadata)])
        case let .keyID(arn): return .object(["KeyId": .string(arn)])
        case let .scheduledDeletion(arn, date, state, days):
            return .object(["KeyId": .string(arn), "DeletionDate": .number(date.epochSeconds),
                            "KeyState": .string(state.awsName), "PendingWindowInDays": .int(days)])
        }
    }

    static func value(_ response: KMSReadResponse) -> OutputValue {
        switch response {
        case let .keyMetadata(metadata): return .object(["KeyMetadata": keyMetadata(metadata)])
        case let .listKeys(list):
            return paged(["Keys": .array(list.keys.map { .object(["KeyId": .string($0.keyID), "KeyArn": .string($0.keyARN)]) })],
                         next: list.nextMarker)
        case let .listAliases(list):
            return paged(["Aliases": .array(list.aliases.map { alias in
                .object(["AliasName": .string(alias.aliasName), "AliasArn": .string(alias.aliasARN),
                         "TargetKeyId": .string(alias.targetKeyID),
                         "CreationDate": .number(alias.creationDate.epochSeconds),
                         "LastUpdatedDate": .number(alias.lastUpdatedDate.epochSeconds)])
            })], next: list.nextMarker)
        case let .rotationStatus(status):
            var members: [String: OutputValue] = ["KeyId": .string(status.keyARN), "KeyRotationEnabled": .bool(status.enabled)]
            if let days = status.rotationPeriodInDays { members["RotationPeriodInDays"] = .int(days) }
            if let date = status.nextRotationDate { members["NextRotationDate"] = .number(date.epochSeconds) }
            if let date = status.onDemandRotationStartDate { members["OnDemandRotationStartDate"] = .number(date.epochSeconds) }
            return .object(members)
        case let .listKeyRotations(list):
            return paged(["Rotations": .array(list.rotations.map {
                .object(["KeyId": .string($0.keyID), "RotationDate": .number($0.rotationDate.epochSeconds),
                         "RotationType": .string($0.rotationType.awsName)])
            })], next: list.nextMarker)
        case let .policy(document): return .object(["Policy": .string(document), "PolicyName": .string("default")])
        case let .policyNames(names): return .object(["PolicyNames": .array(names.map { .string($0) }), "Truncated": .bool(false)])
        case let .encrypt(r):
            return .object(["CiphertextBlob": .blob(r.ciphertextBlob), "KeyId": .string(r.keyARN),
                            "EncryptionAlgorithm": .string(r.encryptionAlgorithm)])
        case let .decrypt(r):
            return .object(["Plaintext": .blob(r.plaintext), "KeyId": .string(r.keyARN),
                            "EncryptionAlgorithm": .string(r.encryptionAlgorithm)])
        case let .reEncrypt(r):
            return .object(["CiphertextBlob": .blob(r.ciphertextBlob), "SourceKeyId": .string(r.sourceKeyARN),
                            "KeyId": .string(r.keyARN), "SourceEncryptionAlgorithm": .string(r.sourceEncryptionAlgorithm),
                            "DestinationEncryptionAlgorithm": .string(r.destinationEncryptionAlgorithm)])
        case let .generateDataKey(r):
            var members: [String: OutputValue] = ["CiphertextBlob": .blob(r.ciphertextBlob), "KeyId": .string(r.keyARN)]
            if let plaintext = r.plaintext { members["Plaintext"] = .blob(plaintext) }
            return .object(members)
        case let .randomBytes(bytes): return .object(["Plaintext": .blob(bytes)])
        }
    }

    static func keyMetadata(_ m: KeyMetadata) -> OutputValue {
        var members: [String: OutputValue] = [
            "AWSAccountId": .string(m.accountID), "KeyId": .string(m.keyID), "Arn": .string(m.arn),
            "CreationDate": .number(m.creationDate.epochSeconds), "Enabled": .bool(m.enabled),
            "Description": .string(m.description), "KeyUsage": .string(KeyMetadata.keyUsage),
            "KeyState": .string(m.keyState.awsName), "Origin": .string(KeyMetadata.origin),
            "KeyManager": .string(KeyMetadata.keyManager), "KeySpec": .string(KeyMetadata.keySpec),
            "CustomerMasterKeySpec": .string(KeyMetadata.keySpec),
            "EncryptionAlgorithms": .array(KeyMetadata.encryptionAlgorithms.map { .string($0) }),
            "MultiRegion": .bool(false),
        ]
        if let date = m.deletionDate { members["DeletionDate"] = .number(date.epochSeconds) }
        if let days = m.pendingDeletionWindowInDays { members["PendingDeletionWindowInDays"] = .int(days) }
        return .object(members)
    }

    private static func paged(_ members: [String: OutputValue], next: String?) -> OutputValue {
        var members = members
        members["Truncated"] = .bool(next != nil)
        if let next { members["NextMarker"] = .string(next) }
        return .object(members)
    }

    static func body(_ value: OutputValue) -> [UInt8] {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.bytes
    }
}

/// A JSON value in a response body.
enum OutputValue {
    case string(String), int(Int), number(Double), bool(Bool), blob([UInt8])
    indirect case array([OutputValue])
    indirect case object([String: OutputValue])

    /// Compact JSON with keys sorted bytewise (what `JSONEncoder` with `.sortedKeys` wrote
    /// before; tests keep the two equal).
    func write(to writer: inout JSONWriter) {
        switch self {
        case let .string(value): writer.string(value)
        case let .int(value): writer.integer(value)
        case let .number(value): writer.number(value)
        case let .bool(value): writer.bool(value)
        case let .blob(bytes): writer.base64String(bytes)
        case let .array(values):
            writer.byte(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                value.write(to: &writer)
            }
            writer.byte(UInt8(ascii: "]"))
        case let .object(members):
            writer.byte(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.string(key)
                writer.byte(UInt8(ascii: ":"))
                members[key]!.write(to: &writer)
            }
            writer.byte(UInt8(ascii: "}"))
        }
    }
}
