/// Typed KMS requests and responses, free of any wire format. `KMSWire` maps the AWS
/// JSON 1.1 protocol onto these; the simulator uses them directly.

/// A request that changes state: prepared on the leader into a `KMSCommand`.
public enum KMSWriteRequest: Equatable, Sendable {
    case createKey(CreateKeyRequest)
    case updateKeyDescription(keyID: String, description: String)
    case enableKey(keyID: String)
    case disableKey(keyID: String)
    case scheduleKeyDeletion(keyID: String, pendingWindowInDays: Int?)
    case cancelKeyDeletion(keyID: String)
    case createAlias(aliasName: String, targetKeyID: String)
    case updateAlias(aliasName: String, targetKeyID: String)
    case deleteAlias(aliasName: String)
    case enableKeyRotation(keyID: String, rotationPeriodInDays: Int?)
    case disableKeyRotation(keyID: String)
    case rotateKeyOnDemand(keyID: String)
    case putKeyPolicy(keyID: String, policyName: String?, policy: String, bypassPolicyLockoutSafetyCheck: Bool)

    /// The policy action this request needs, e.g. `kms:CreateAlias`.
    public var action: String {
        switch self {
        case .createKey: return "kms:CreateKey"
        case .updateKeyDescription: return "kms:UpdateKeyDescription"
        case .enableKey: return "kms:EnableKey"
        case .disableKey: return "kms:DisableKey"
        case .scheduleKeyDeletion: return "kms:ScheduleKeyDeletion"
        case .cancelKeyDeletion: return "kms:CancelKeyDeletion"
        case .createAlias: return "kms:CreateAlias"
        case .updateAlias: return "kms:UpdateAlias"
        case .deleteAlias: return "kms:DeleteAlias"
        case .enableKeyRotation: return "kms:EnableKeyRotation"
        case .disableKeyRotation: return "kms:DisableKeyRotation"
        case .rotateKeyOnDemand: return "kms:RotateKeyOnDemand"
        case .putKeyPolicy: return "kms:PutKeyPolicy"
        }
    }
}

public struct CreateKeyRequest: Equatable, Sendable {
    public var description: String?
    public var policy: String?
    public var keyUsage: String?
    public var keySpec: String?
    public var origin: String?
    public var tags: [Tag]
    public var bypassPolicyLockoutSafetyCheck: Bool

    public init(description: String? = nil, policy: String? = nil, keyUsage: String? = nil, keySpec: String? = nil,
                origin: String? = nil, tags: [Tag] = [], bypassPolicyLockoutSafetyCheck: Bool = false) {
        self.description = description
        self.policy = policy
        self.keyUsage = keyUsage
        self.keySpec = keySpec
        self.origin = origin
        self.tags = tags
        self.bypassPolicyLockoutSafetyCheck = bypassPolicyLockoutSafetyCheck
    }
}

/// What a write returns once its command has been applied.
public enum KMSWriteResponse: Equatable, Sendable {
    case empty
    case keyMetadata(KeyMetadata)
    case keyID(arn: String)
    case scheduledDeletion(keyARN: String, deletionDate: Timestamp, keyState: KeyState, pendingWindowInDays: Int)
}

/// DescribeKey's `KeyMetadata`.
public struct KeyMetadata: Equatable, Sendable {
    public let accountID: String
    public let keyID: String
    public let arn: String
    public let creationDate: Timestamp
    public let enabled: Bool
    public let description: String
    public let keyState: KeyState
    public let deletionDate: Timestamp?
    public let pendingDeletionWindowInDays: Int?
    public static let keyUsage = "ENCRYPT_DECRYPT"
    public static let keySpec = "SYMMETRIC_DEFAULT"
    public static let origin = "AWS_KMS"
    public static let keyManager = "CUSTOMER"
    public static let encryptionAlgorithms = ["SYMMETRIC_DEFAULT"]
}

public struct ListKeysResponse: Equatable, Sendable {
    public let keys: [(keyID: String, keyARN: String)]
    public let nextMarker: String?
    public var truncated: Bool { nextMarker != nil }

    public static func == (a: ListKeysResponse, b: ListKeysResponse) -> Bool {
        a.nextMarker == b.nextMarker && a.keys.map(\.keyARN) == b.keys.map(\.keyARN)
    }
}

public struct AliasListEntry: Equatable, Sendable {
    public let aliasName: String
    public let aliasARN: String
    public let targetKeyID: String
    public let creationDate: Timestamp
    public let lastUpdatedDate: Timestamp
}

public struct ListAliasesResponse: Equatable, Sendable {
    public let aliases: [AliasListEntry]
    public let nextMarker: String?
    public var truncated: Bool { nextMarker != nil }
}

public struct KeyRotationStatus: Equatable, Sendable {
    public let keyARN: String
    public let enabled: Bool
    public let rotationPeriodInDays: Int?
    public let nextRotationDate: Timestamp?
    public let onDemandRotationStartDate: Timestamp?
}

public struct RotationListEntry: Equatable, Sendable {
    public let keyID: String
    public let rotationDate: Timestamp
    public let rotationType: RotationType
}

public struct ListKeyRotationsResponse: Equatable, Sendable {
    public let rotations: [RotationListEntry]
    public let nextMarker: String?
    public var truncated: Bool { nextMarker != nil }
}

public struct EncryptResponse: Equatable, Sendable {
    public let ciphertextBlob: [UInt8]
    public let keyARN: String
    public let encryptionAlgorithm = "SYMMETRIC_DEFAULT"
}

public struct DecryptResponse: Equatable, Sendable {
    public let plaintext: [UInt8]
    public let keyARN: String
    public let keyVersion: KeyVersion
    public let encryptionAlgorithm = "SYMMETRIC_DEFAULT"
}

public struct ReEncryptResponse: Equatable, Sendable {
    public let ciphertextBlob: [UInt8]
    public let sourceKeyARN: String
    public let keyARN: String
    public let sourceEncryptionAlgorithm = "SYMMETRIC_DEFAULT"
    public let destinationEncryptionAlgorithm = "SYMMETRIC_DEFAULT"
}

public struct GenerateDataKeyResponse: Equatable, Sendable {
    public let ciphertextBlob: [UInt8]
    /// Nil for GenerateDataKeyWithoutPlaintext.
    public let plaintext: [UInt8]?
    public let keyARN: String
}
