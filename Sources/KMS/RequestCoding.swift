/// Binary encodings of what a follower forwards to the leader (a write request and the
/// caller's principal) and of what the leader answers when it cannot propose it (a
/// `KMSError`). The peer transport frames these; see `PeerMessageCodec` in KeyraftNode.
///
/// Conventions are those of `KMSCommand.encoded()`: big-endian, a version byte first,
/// strings and lists behind a u32 length bounded by `ByteReader.blobBytesMax` or a count
/// limit, optionals behind a 0/1 presence byte. Decoding is strict: an unknown version,
/// tag or error code, a bool other than 0 or 1, truncation, an over-long length and
/// trailing bytes all throw, so every value has exactly one encoding.
///
/// Requests travel before validation — the leader validates them — so the codec carries
/// any value a client could send: negative or huge day counts, more tags than CreateKey
/// allows, long descriptions. Only the API's request size bounds them.

// MARK: - KMSWriteRequest

extension KMSWriteRequest {
    /// Format version written first in every encoded request.
    public static let encodingVersion: UInt8 = 1
    /// Tags in one encoded request. Well above CreateKey's 50, so the leader (not the codec)
    /// refuses too many tags, with AWS's ValidationException.
    static let tagsCountMax = 1 << 16

    private enum Opcode: UInt8 {
        case createKey = 1, updateKeyDescription, enableKey, disableKey, scheduleKeyDeletion,
             cancelKeyDeletion, createAlias, updateAlias, deleteAlias, enableKeyRotation,
             disableKeyRotation, rotateKeyOnDemand, putKeyPolicy
    }

    /// `version: u8, tag: u8`, then the fields of the case in declaration order.
    /// `Int?` is `present: bool` and an i64; `String?` is `present: bool` and a string.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(KMSWriteRequest.encodingVersion)
        switch self {
        case let .createKey(request):
            w.u8(Opcode.createKey.rawValue)
            w.createKeyRequest(request)
        case let .updateKeyDescription(keyID, description):
            w.u8(Opcode.updateKeyDescription.rawValue)
            w.string(keyID)
            w.string(description)
        case let .enableKey(keyID):
            w.u8(Opcode.enableKey.rawValue)
            w.string(keyID)
        case let .disableKey(keyID):
            w.u8(Opcode.disableKey.rawValue)
            w.string(keyID)
        case let .scheduleKeyDeletion(keyID, days):
            w.u8(Opcode.scheduleKeyDeletion.rawValue)
            w.string(keyID)
            w.optionalInt(days)
        case let .cancelKeyDeletion(keyID):
            w.u8(Opcode.cancelKeyDeletion.rawValue)
            w.string(keyID)
        case let .createAlias(aliasName, targetKeyID):
            w.u8(Opcode.createAlias.rawValue)
            w.string(aliasName)
            w.string(targetKeyID)
        case let .updateAlias(aliasName, targetKeyID):
            w.u8(Opcode.updateAlias.rawValue)
            w.string(aliasName)
            w.string(targetKeyID)
        case let .deleteAlias(aliasName):
            w.u8(Opcode.deleteAlias.rawValue)
            w.string(aliasName)
        case let .enableKeyRotation(keyID, days):
            w.u8(Opcode.enableKeyRotation.rawValue)
            w.string(keyID)
            w.optionalInt(days)
        case let .disableKeyRotation(keyID):
            w.u8(Opcode.disableKeyRotation.rawValue)
            w.string(keyID)
        case let .rotateKeyOnDemand(keyID):
            w.u8(Opcode.rotateKeyOnDemand.rawValue)
            w.string(keyID)
        case let .putKeyPolicy(keyID, policyName, policy, bypass):
            w.u8(Opcode.putKeyPolicy.rawValue)
            w.string(keyID)
            w.optionalString(policyName)
            w.string(policy)
            w.bool(bypass)
        }
        return w.bytes
    }

    /// Decodes strictly; never traps on malformed input.
    public init(decoding bytes: [UInt8]) throws(KMSDecodingError) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == KMSWriteRequest.encodingVersion else { throw .unknownVersion(version) }
        let rawTag = try r.u8()
        guard let tag = Opcode(rawValue: rawTag) else { throw .unknownTag(rawTag) }
        switch tag {
        case .createKey: self = .createKey(try r.createKeyRequest())
        case .updateKeyDescription: self = .updateKeyDescription(keyID: try r.string(), description: try r.string())
        case .enableKey: self = .enableKey(keyID: try r.string())
        case .disableKey: self = .disableKey(keyID: try r.string())
        case .scheduleKeyDeletion:
            self = .scheduleKeyDeletion(keyID: try r.string(), pendingWindowInDays: try r.optionalInt())
        case .cancelKeyDeletion: self = .cancelKeyDeletion(keyID: try r.string())
        case .createAlias: self = .createAlias(aliasName: try r.string(), targetKeyID: try r.string())
        case .updateAlias: self = .updateAlias(aliasName: try r.string(), targetKeyID: try r.string())
        case .deleteAlias: self = .deleteAlias(aliasName: try r.string())
        case .enableKeyRotation:
            self = .enableKeyRotation(keyID: try r.string(), rotationPeriodInDays: try r.optionalInt())
        case .disableKeyRotation: self = .disableKeyRotation(keyID: try r.string())
        case .rotateKeyOnDemand: self = .rotateKeyOnDemand(keyID: try r.string())
        case .putKeyPolicy:
            self = .putKeyPolicy(keyID: try r.string(), policyName: try r.optionalString(), policy: try r.string(),
                                 bypassPolicyLockoutSafetyCheck: try r.bool())
        }
        try r.expectEnd()
    }
}

extension ByteWriter {
    /// Five optional strings in declaration order, the tags (count, then key and value
    /// of each), then the bypass flag.
    fileprivate mutating func createKeyRequest(_ request: CreateKeyRequest) {
        optionalString(request.description)
        optionalString(request.policy)
        optionalString(request.keyUsage)
        optionalString(request.keySpec)
        optionalString(request.origin)
        count(request.tags.count, max: KMSWriteRequest.tagsCountMax)
        for tag in request.tags {
            string(tag.key)
            string(tag.value)
        }
        bool(request.bypassPolicyLockoutSafetyCheck)
    }
}

extension ByteReader {
    fileprivate mutating func createKeyRequest() throws(KMSDecodingError) -> CreateKeyRequest {
        let description = try optionalString()
        let policy = try optionalString()
        let keyUsage = try optionalString()
        let keySpec = try optionalString()
        let origin = try optionalString()
        // A tag is at least two empty strings: 8 bytes.
        let count = try count(max: KMSWriteRequest.tagsCountMax, elementBytesMin: 8)
        var tags: [Tag] = []
        tags.reserveCapacity(count)
        for _ in 0..<count {
            tags.append(Tag(key: try string(), value: try string()))
        }
        return CreateKeyRequest(description: description, policy: policy, keyUsage: keyUsage, keySpec: keySpec,
                                origin: origin, tags: tags, bypassPolicyLockoutSafetyCheck: try bool())
    }
}

// MARK: - Principal

extension Principal {
    /// Format version written first in every encoded principal.
    public static let encodingVersion: UInt8 = 1
    /// Identity actions in one encoded principal.
    static let identityActionsCountMax = 1 << 16

    /// `version: u8, arn: string, accountID: string, identityActions: count + strings`.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(Principal.encodingVersion)
        w.string(arn)
        w.string(accountID)
        w.count(identityActions.count, max: Principal.identityActionsCountMax)
        for action in identityActions { w.string(action) }
        return w.bytes
    }

    /// Decodes strictly; never traps on malformed input.
    public init(decoding bytes: [UInt8]) throws(KMSDecodingError) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == Principal.encodingVersion else { throw .unknownVersion(version) }
        let arn = try r.string()
        let accountID = try r.string()
        // An action is at least an empty string: 4 bytes.
        let count = try r.count(max: Principal.identityActionsCountMax, elementBytesMin: 4)
        var actions: [String] = []
        actions.reserveCapacity(count)
        for _ in 0..<count { actions.append(try r.string()) }
        try r.expectEnd()
        self.init(arn: arn, accountID: accountID, identityActions: actions)
    }
}

// MARK: - KMSError

extension KMSError {
    /// Format version written first in every encoded error.
    public static let encodingVersion: UInt8 = 1

    /// `version: u8, code: string (the AWS name, e.g. "NotFoundException"), message: string,
    /// namesMissingState: bool`.
    ///
    /// The flag keeps `mayReflectStaleState` across the wire. Only `missingKeyVersion()`
    /// sets it (and `.notFound` implies it without the flag), so it is derived here from
    /// the public property, and a decoder rebuilds it only as that exact error.
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        w.u8(KMSError.encodingVersion)
        w.string(code.rawValue)
        w.string(message)
        w.bool(mayReflectStaleState && code != .notFound)
        return w.bytes
    }

    /// Decodes strictly: an error code this build does not know throws.
    public init(decoding bytes: [UInt8]) throws(KMSDecodingError) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == KMSError.encodingVersion else { throw .unknownVersion(version) }
        // Codes are short ASCII names; 64 bytes is twice the longest.
        let name = try r.string(maxBytes: 64)
        guard let code = Code(rawValue: name) else { throw .invalidValue(field: "error code", value: 0) }
        let message = try r.string()
        let namesMissingState = try r.bool()
        try r.expectEnd()
        guard namesMissingState else {
            self.init(code, message)
            return
        }
        let missing = KMSError.missingKeyVersion()
        guard code == missing.code, message == missing.message else {
            throw .invalidValue(field: "error namesMissingState", value: 1)
        }
        self = missing
    }
}
