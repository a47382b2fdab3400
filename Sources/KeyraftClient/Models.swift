import Foundation
import KeyraftCrypto

// The typed results of KMS calls. Members follow the AWS shapes (docs: shared KMS-API.md);
// every `keyARN` is what the service returned in `KeyId`, which is always the key ARN.

/// A tag given to CreateKey.
public struct KeyraftTag: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// DescribeKey's and CreateKey's `KeyMetadata`.
public struct KeyMetadata: Sendable, Hashable, Decodable {
    public let awsAccountID: String
    /// The bare key id (a UUID).
    public let keyID: String
    public let arn: String
    public let creationDate: Date
    public let enabled: Bool
    public let description: String
    public let keyUsage: String
    /// `Enabled`, `Disabled`, `PendingDeletion`, …
    public let keyState: String
    public let deletionDate: Date?
    public let pendingDeletionWindowInDays: Int?
    public let origin: String
    public let keyManager: String
    public let keySpec: String
    public let encryptionAlgorithms: [String]
    public let multiRegion: Bool?

    enum CodingKeys: String, CodingKey {
        case awsAccountID = "AWSAccountId", keyID = "KeyId", arn = "Arn", creationDate = "CreationDate"
        case enabled = "Enabled", description = "Description", keyUsage = "KeyUsage", keyState = "KeyState"
        case deletionDate = "DeletionDate", pendingDeletionWindowInDays = "PendingDeletionWindowInDays"
        case origin = "Origin", keyManager = "KeyManager", keySpec = "KeySpec"
        case encryptionAlgorithms = "EncryptionAlgorithms", multiRegion = "MultiRegion"
    }
}

/// One page of ListKeys.
public struct KeyList: Sendable, Hashable, Decodable {
    public struct Entry: Sendable, Hashable, Decodable {
        public let keyID: String
        public let keyARN: String
        enum CodingKeys: String, CodingKey { case keyID = "KeyId", keyARN = "KeyArn" }
    }

    public let keys: [Entry]
    /// Pass to the next call as `marker` while `truncated`.
    public let nextMarker: String?
    public let truncated: Bool

    enum CodingKeys: String, CodingKey { case keys = "Keys", nextMarker = "NextMarker", truncated = "Truncated" }
}

/// One page of ListAliases.
public struct AliasList: Sendable, Hashable, Decodable {
    public struct Entry: Sendable, Hashable, Decodable {
        public let aliasName: String
        public let aliasARN: String
        /// The bare key id the alias points to.
        public let targetKeyID: String?
        public let creationDate: Date?
        public let lastUpdatedDate: Date?
        enum CodingKeys: String, CodingKey {
            case aliasName = "AliasName", aliasARN = "AliasArn", targetKeyID = "TargetKeyId"
            case creationDate = "CreationDate", lastUpdatedDate = "LastUpdatedDate"
        }
    }

    public let aliases: [Entry]
    public let nextMarker: String?
    public let truncated: Bool

    enum CodingKeys: String, CodingKey { case aliases = "Aliases", nextMarker = "NextMarker", truncated = "Truncated" }
}

/// ScheduleKeyDeletion's answer.
public struct ScheduledKeyDeletion: Sendable, Hashable, Decodable {
    public let keyARN: String
    public let deletionDate: Date
    public let keyState: String
    public let pendingWindowInDays: Int

    enum CodingKeys: String, CodingKey {
        case keyARN = "KeyId", deletionDate = "DeletionDate", keyState = "KeyState", pendingWindowInDays = "PendingWindowInDays"
    }
}

/// Encrypt's answer.
public struct EncryptResult: Sendable, Hashable {
    public let ciphertextBlob: [UInt8]
    public let keyARN: String
    public let encryptionAlgorithm: String
}

/// Decrypt's answer.
public struct DecryptResult: Sendable, Hashable {
    public let plaintext: [UInt8]
    public let keyARN: String
    public let encryptionAlgorithm: String
}

/// ReEncrypt's answer.
public struct ReEncryptResult: Sendable, Hashable {
    public let ciphertextBlob: [UInt8]
    public let sourceKeyARN: String
    public let keyARN: String
    public let sourceEncryptionAlgorithm: String
    public let destinationEncryptionAlgorithm: String
}

/// How large a data key GenerateDataKey makes: `KeySpec` or `NumberOfBytes`.
public enum DataKeySize: Sendable, Hashable {
    case aes128
    case aes256
    /// 1 … 1024 bytes.
    case bytes(Int)
}

/// GenerateDataKey's answer: the key in plaintext (kept in `SecretBytes`) and encrypted.
public struct GeneratedDataKey: Sendable {
    public let plaintext: SecretBytes
    public let ciphertextBlob: [UInt8]
    public let keyARN: String
}

/// GenerateDataKeyWithoutPlaintext's answer.
public struct EncryptedDataKey: Sendable, Hashable {
    public let ciphertextBlob: [UInt8]
    public let keyARN: String
}

/// GetKeyRotationStatus's answer.
public struct KeyRotationStatus: Sendable, Hashable, Decodable {
    public let keyARN: String
    public let enabled: Bool
    public let rotationPeriodInDays: Int?
    public let nextRotationDate: Date?
    public let onDemandRotationStartDate: Date?

    enum CodingKeys: String, CodingKey {
        case keyARN = "KeyId", enabled = "KeyRotationEnabled", rotationPeriodInDays = "RotationPeriodInDays"
        case nextRotationDate = "NextRotationDate", onDemandRotationStartDate = "OnDemandRotationStartDate"
    }
}

/// One page of ListKeyRotations.
public struct KeyRotationList: Sendable, Hashable, Decodable {
    public struct Entry: Sendable, Hashable, Decodable {
        public let keyARN: String
        public let rotationDate: Date
        /// `AUTOMATIC` or `ON_DEMAND`.
        public let rotationType: String
        enum CodingKeys: String, CodingKey { case keyARN = "KeyId", rotationDate = "RotationDate", rotationType = "RotationType" }
    }

    public let rotations: [Entry]
    public let nextMarker: String?
    public let truncated: Bool

    enum CodingKeys: String, CodingKey { case rotations = "Rotations", nextMarker = "NextMarker", truncated = "Truncated" }
}

/// GetKeyPolicy's answer.
public struct KeyPolicyDocument: Sendable, Hashable, Decodable {
    public let policy: String
    public let policyName: String?
    enum CodingKeys: String, CodingKey { case policy = "Policy", policyName = "PolicyName" }
}

/// The wire shapes of answers that carry blobs (base64 `Data`) or that the public types
/// reshape.
enum Wire {
    struct KeyMetadataOutput: Decodable {
        let metadata: KeyMetadata
        enum CodingKeys: String, CodingKey { case metadata = "KeyMetadata" }
    }

    struct KeyIDOutput: Decodable {
        let KeyId: String
    }

    struct EncryptOutput: Decodable {
        let CiphertextBlob: Data
        let KeyId: String
        let EncryptionAlgorithm: String?
    }

    struct DecryptOutput: Decodable {
        let Plaintext: Data
        let KeyId: String
        let EncryptionAlgorithm: String?
    }

    struct ReEncryptOutput: Decodable {
        let CiphertextBlob: Data
        let SourceKeyId: String
        let KeyId: String
        let SourceEncryptionAlgorithm: String?
        let DestinationEncryptionAlgorithm: String?
    }

    struct DataKeyOutput: Decodable {
        let CiphertextBlob: Data
        let KeyId: String
        let Plaintext: Data?
    }

    struct RandomOutput: Decodable {
        let Plaintext: Data
    }

    struct PolicyNamesOutput: Decodable {
        let PolicyNames: [String]
    }
}
