/// A change to the KMS state: the payload of one Raft log entry.
///
/// Everything nondeterministic — key ids, key material (already wrapped under the root
/// key), timestamps — is decided by the leader before proposing and travels inside the
/// command, so applying it is a pure function of the state and the command.
public enum KMSCommand: Equatable, Sendable {
    case createKey(CreateKey)
    case updateKeyDescription(KeyID, description: String)
    case enableKey(KeyID)
    case disableKey(KeyID)
    case scheduleKeyDeletion(KeyID, pendingWindowDays: Int, at: Timestamp)
    case cancelKeyDeletion(KeyID)
    case createAlias(name: String, target: KeyID, at: Timestamp)
    case updateAlias(name: String, target: KeyID, at: Timestamp)
    case deleteAlias(name: String)
    case enableKeyRotation(KeyID, periodDays: Int, at: Timestamp)
    case disableKeyRotation(KeyID)
    /// Adds `newVersion`; refused with ConflictException unless it is exactly current + 1.
    case rotateKey(RotateKey)
    case putKeyPolicy(KeyID, policy: String)
    /// The scheduler's end of a deletion window: crypto-shreds the key.
    case deleteKey(KeyID, at: Timestamp)

    public struct CreateKey: Equatable, Sendable {
        public let keyID: KeyID
        public let wrappedMaterial: [UInt8]
        public let creationDate: Timestamp
        public let description: String
        public let policy: String
        public let tags: [Tag]
    }

    public struct RotateKey: Equatable, Sendable {
        public let keyID: KeyID
        public let newVersion: KeyVersion
        public let wrappedMaterial: [UInt8]
        public let date: Timestamp
        public let type: RotationType
    }
}

// MARK: - Binary encoding (versioned)

extension KMSCommand {
    public static let encodingVersion: UInt8 = 1
    static let tagsMax = 50
    static let stringBytesMax = KeyPolicy.documentBytesMax

    private enum Opcode: UInt8 {
        case createKey = 1, updateKeyDescription, enableKey, disableKey, scheduleKeyDeletion,
             cancelKeyDeletion, createAlias, updateAlias, deleteAlias, enableKeyRotation,
             disableKeyRotation, rotateKey, putKeyPolicy, deleteKey
    }

    /// `version: u8, tag: u8`, then the fields of the case in declaration order.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(KMSCommand.encodingVersion)
        switch self {
        case let .createKey(c):
            w.u8(Opcode.createKey.rawValue)
            w.keyID(c.keyID)
            w.blob(c.wrappedMaterial)
            w.timestamp(c.creationDate)
            w.string(c.description)
            w.string(c.policy)
            w.u32(UInt32(c.tags.count))
            for tag in c.tags {
                w.string(tag.key)
                w.string(tag.value)
            }
        case let .updateKeyDescription(id, description):
            w.u8(Opcode.updateKeyDescription.rawValue)
            w.keyID(id)
            w.string(description)
        case let .enableKey(id):
            w.u8(Opcode.enableKey.rawValue)
            w.keyID(id)
        case let .disableKey(id):
            w.u8(Opcode.disableKey.rawValue)
            w.keyID(id)
        case let .scheduleKeyDeletion(id, days, at):
            w.u8(Opcode.scheduleKeyDeletion.rawValue)
            w.keyID(id)
            w.u32(UInt32(days))
            w.timestamp(at)
        case let .cancelKeyDeletion(id):
            w.u8(Opcode.cancelKeyDeletion.rawValue)
            w.keyID(id)
        case let .createAlias(name, target, at):
            w.u8(Opcode.createAlias.rawValue)
            w.string(name)
            w.keyID(target)
            w.timestamp(at)
        case let .updateAlias(name, target, at):
            w.u8(Opcode.updateAlias.rawValue)
            w.string(name)
            w.keyID(target)
            w.timestamp(at)
        case let .deleteAlias(name):
            w.u8(Opcode.deleteAlias.rawValue)
            w.string(name)
        case let .enableKeyRotation(id, days, at):
            w.u8(Opcode.enableKeyRotation.rawValue)
            w.keyID(id)
            w.u32(UInt32(days))
            w.timestamp(at)
        case let .disableKeyRotation(id):
            w.u8(Opcode.disableKeyRotation.rawValue)
            w.keyID(id)
        case let .rotateKey(r):
            w.u8(Opcode.rotateKey.rawValue)
            w.keyID(r.keyID)
            w.u32(r.newVersion.rawValue)
            w.blob(r.wrappedMaterial)
            w.timestamp(r.date)
            w.u8(r.type.rawValue)
        case let .putKeyPolicy(id, policy):
            w.u8(Opcode.putKeyPolicy.rawValue)
            w.keyID(id)
            w.string(policy)
        case let .deleteKey(id, at):
            w.u8(Opcode.deleteKey.rawValue)
            w.keyID(id)
            w.timestamp(at)
        }
        return w.bytes
    }

    /// Decodes strictly: unknown versions or tags, truncation and trailing bytes all throw.
    public init(decoding bytes: [UInt8]) throws(KMSDecodingError) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == KMSCommand.encodingVersion else { throw .unknownVersion(version) }
        let rawTag = try r.u8()
        guard let tag = Opcode(rawValue: rawTag) else { throw .unknownTag(rawTag) }
        let maxString = KMSCommand.stringBytesMax
        switch tag {
        case .createKey:
            let id = try r.keyID()
            let wrapped = try r.blob(maxBytes: 4096)
            let date = try r.timestamp()
            let description = try r.string(maxBytes: maxString)
            let policy = try r.string(maxBytes: maxString)
            let count = try r.count(max: KMSCommand.tagsMax)
            var tags: [Tag] = []
            for _ in 0..<count {
                tags.append(Tag(key: try r.string(maxBytes: 128), value: try r.string(maxBytes: 256)))
            }
            self = .createKey(CreateKey(keyID: id, wrappedMaterial: wrapped, creationDate: date,
                                        description: description, policy: policy, tags: tags))
        case .updateKeyDescription:
            self = .updateKeyDescription(try r.keyID(), description: try r.string(maxBytes: maxString))
        case .enableKey: self = .enableKey(try r.keyID())
        case .disableKey: self = .disableKey(try r.keyID())
        case .scheduleKeyDeletion:
            self = .scheduleKeyDeletion(try r.keyID(), pendingWindowDays: Int(try r.u32()), at: try r.timestamp())
        case .cancelKeyDeletion: self = .cancelKeyDeletion(try r.keyID())
        case .createAlias:
            self = .createAlias(name: try r.string(maxBytes: 256), target: try r.keyID(), at: try r.timestamp())
        case .updateAlias:
            self = .updateAlias(name: try r.string(maxBytes: 256), target: try r.keyID(), at: try r.timestamp())
        case .deleteAlias: self = .deleteAlias(name: try r.string(maxBytes: 256))
        case .enableKeyRotation:
            self = .enableKeyRotation(try r.keyID(), periodDays: Int(try r.u32()), at: try r.timestamp())
        case .disableKeyRotation: self = .disableKeyRotation(try r.keyID())
        case .rotateKey:
            let id = try r.keyID()
            let version = KeyVersion(try r.u32())
            let wrapped = try r.blob(maxBytes: 4096)
            let date = try r.timestamp()
            let rawType = try r.u8()
            guard let type = RotationType(rawValue: rawType) else {
                throw .invalidValue(field: "rotationType", value: UInt64(rawType))
            }
            self = .rotateKey(RotateKey(keyID: id, newVersion: version, wrappedMaterial: wrapped, date: date, type: type))
        case .putKeyPolicy: self = .putKeyPolicy(try r.keyID(), policy: try r.string(maxBytes: maxString))
        case .deleteKey: self = .deleteKey(try r.keyID(), at: try r.timestamp())
        }
        try r.expectEnd()
    }
}
