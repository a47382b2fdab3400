/// A point in time: milliseconds since the Unix epoch. Produced by the leader's clock
/// and carried inside log entries; applying an entry never reads a clock.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static let millisecondsPerDay: Int64 = 86_400_000

    public func adding(days: Int) -> Timestamp {
        Timestamp(milliseconds: milliseconds + Int64(days) * Timestamp.millisecondsPerDay)
    }

    /// Seconds since the epoch, as the AWS JSON protocol sends timestamps.
    public var epochSeconds: Double { Double(milliseconds) / 1000 }

    public var description: String { "\(milliseconds)ms" }
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }
}

/// The lifecycle state of a key.
public enum KeyState: UInt8, Sendable, CaseIterable {
    case enabled = 1
    case disabled = 2
    case pendingDeletion = 3

    /// The name AWS uses in `KeyMetadata.KeyState`.
    public var awsName: String {
        switch self {
        case .enabled: return "Enabled"
        case .disabled: return "Disabled"
        case .pendingDeletion: return "PendingDeletion"
        }
    }
}

/// How a key version came to be.
public enum RotationType: UInt8, Sendable {
    /// Created with the key.
    case initial = 0
    case automatic = 1
    case onDemand = 2

    /// `RotationType` in ListKeyRotations (only rotations are listed, never `.initial`).
    public var awsName: String {
        switch self {
        case .initial: return "INITIAL"
        case .automatic: return "AUTOMATIC"
        case .onDemand: return "ON_DEMAND"
        }
    }
}

/// One version of a key's material, wrapped under the cluster root key (RFC 5649).
/// Each version is its own record: a key with many versions never becomes one big entry.
public struct KeyVersionRecord: Equatable, Sendable {
    public let version: KeyVersion
    /// Invariant: never plaintext; 40 bytes for 32 bytes of material.
    public let wrappedMaterial: [UInt8]
    public let creationDate: Timestamp
    public let rotationType: RotationType
}

/// Automatic-rotation settings of a key.
public struct RotationSettings: Equatable, Sendable {
    public static let periodDaysRange = 90...2560
    public static let defaultPeriodDays = 365

    public var enabled: Bool = false
    public var periodDays: Int = RotationSettings.defaultPeriodDays
    /// When the scheduler next rotates the key; nil while rotation is disabled.
    public var nextRotationDate: Timestamp?
    /// How many on-demand rotations the key has had (AWS allows 25).
    public var onDemandCount: Int = 0
    public var lastOnDemandDate: Timestamp?
}

public struct Tag: Equatable, Sendable {
    public let key: String
    public let value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Everything about one key except its versions.
public struct KeyRecord: Equatable, Sendable {
    public let id: KeyID
    public var description: String
    public var state: KeyState
    public let creationDate: Timestamp
    public var deletionDate: Timestamp?
    /// The pending window asked for by ScheduleKeyDeletion, reported by DescribeKey.
    public var pendingWindowDays: Int?
    /// Invariant: a validated policy document of at most 32 KiB.
    public var policy: String
    public var rotation: RotationSettings
    public var tags: [Tag]
    /// The version new encryptions use. Invariant: equals the number of versions.
    public var currentVersion: KeyVersion
}

/// An alias and the key it points at.
public struct AliasRecord: Equatable, Sendable {
    public let name: String
    public var targetKeyID: KeyID
    public let creationDate: Timestamp
    public var lastUpdatedDate: Timestamp
}

/// Cluster-wide naming settings: they appear in every ARN.
public struct KMSConfig: Equatable, Sendable {
    public var region: String
    public var accountID: String

    public init(region: String = "us-east-1", accountID: String = "111122223333") {
        self.region = region
        self.accountID = accountID
    }

    /// `arn:aws:kms:<region>:<account>:key/<id>`. Built on every authorization, so written
    /// into one buffer rather than through interpolation or appends.
    public func keyARN(_ id: KeyID) -> String {
        let prefix = "arn:aws:kms:", keyPart = ":key/"
        let length = prefix.utf8.count + region.utf8.count + 1 + accountID.utf8.count + keyPart.utf8.count
            + KeyID.textLength
        return String(unsafeUninitializedCapacity: length) { out in
            var position = copyUTF8(prefix, into: out, at: 0)
            position = copyUTF8(region, into: out, at: position)
            position = copyUTF8(":", into: out, at: position)
            position = copyUTF8(accountID, into: out, at: position)
            position = copyUTF8(keyPart, into: out, at: position)
            position = id.write(into: out, at: position)
            precondition(position == length, "key ARN length")
            return position
        }
    }

    public func aliasARN(_ name: String) -> String { "arn:aws:kms:\(region):\(accountID):\(name)" }
    public var accountRootARN: String { "arn:aws:iam::\(accountID):root" }
}

/// The authenticated caller of a request, from the credential store.
public struct Principal: Equatable, Sendable {
    /// e.g. `arn:aws:iam::111122223333:user/alice`.
    public let arn: String
    public let accountID: String
    /// The caller's own identity permissions (action patterns such as `kms:*` or
    /// `kms:Decrypt`). They matter where a key policy delegates to the account root.
    public let identityActions: [String]
    /// `arn:aws:iam::<accountID>:root`, which key policies use for the whole account
    /// (built once here rather than on every policy statement evaluated).
    public let accountRootARN: String

    public init(arn: String, accountID: String, identityActions: [String] = ["kms:*"]) {
        self.arn = arn
        self.accountID = accountID
        self.identityActions = identityActions
        accountRootARN = "arn:aws:iam::\(accountID):root"
    }
}

/// Copies `text`'s UTF-8 into `out` at `start`; returns the position after it.
private func copyUTF8(_ text: String, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
    var text = text
    return text.withUTF8 { bytes in
        precondition(start + bytes.count <= out.count, "no room for the text")
        guard let source = bytes.baseAddress else { return start }
        out.baseAddress!.advanced(by: start).update(from: source, count: bytes.count)
        return start + bytes.count
    }
}
