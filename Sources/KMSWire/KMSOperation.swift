/// The KMS operations Keyraft serves, named as in `X-Amz-Target: TrentService.<Operation>`.
public enum KMSOperation: String, Sendable, Hashable, CaseIterable {
    case createKey = "CreateKey"
    case describeKey = "DescribeKey"
    case listKeys = "ListKeys"
    case updateKeyDescription = "UpdateKeyDescription"
    case enableKey = "EnableKey"
    case disableKey = "DisableKey"
    case scheduleKeyDeletion = "ScheduleKeyDeletion"
    case cancelKeyDeletion = "CancelKeyDeletion"
    case createAlias = "CreateAlias"
    case updateAlias = "UpdateAlias"
    case deleteAlias = "DeleteAlias"
    case listAliases = "ListAliases"
    case encrypt = "Encrypt"
    case decrypt = "Decrypt"
    case reEncrypt = "ReEncrypt"
    case generateDataKey = "GenerateDataKey"
    case generateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext"
    case generateRandom = "GenerateRandom"
    case enableKeyRotation = "EnableKeyRotation"
    case disableKeyRotation = "DisableKeyRotation"
    case getKeyRotationStatus = "GetKeyRotationStatus"
    case rotateKeyOnDemand = "RotateKeyOnDemand"
    case listKeyRotations = "ListKeyRotations"
    case getKeyPolicy = "GetKeyPolicy"
    case putKeyPolicy = "PutKeyPolicy"
    case listKeyPolicies = "ListKeyPolicies"

    /// The service prefix of every KMS target.
    public static let targetPrefix = "TrentService."

    /// The `X-Amz-Target` value, e.g. `TrentService.Encrypt`.
    public var target: String { Self.targetPrefix + rawValue }

    /// The operation named by an `X-Amz-Target` value (surrounding whitespace ignored,
    /// otherwise an exact, case-sensitive match).
    ///
    /// - Throws: `UnknownOperationError` (`UnknownOperationException`, 400) when the header
    ///   is missing or names no operation Keyraft serves.
    public init(target: String?) throws(UnknownOperationError) {
        guard let target else { throw UnknownOperationError(target: nil) }
        // One hash lookup: the synthesised `init(rawValue:)` compares against every case in turn.
        guard let operation = Self.byTarget[SigV4Text.collapsedHeaderValue(target)] else {
            throw UnknownOperationError(target: target)
        }
        self = operation
    }

    private static let byTarget = Dictionary(uniqueKeysWithValues: allCases.map { ($0.target, $0) })
}

/// A request whose `X-Amz-Target` is missing or names no known operation.
public struct UnknownOperationError: Error, Sendable, Hashable {
    /// The target as received (never echoed to the client), or nil when absent.
    public let target: String?

    /// The wire error: `UnknownOperationException`, 400.
    public var errorBody: AWSErrorBody {
        AWSErrorBody(
            .unknownOperation,
            target == nil ? "The request has no X-Amz-Target header." : "The requested operation is not supported.")
    }
}
