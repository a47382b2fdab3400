/// The replicated KMS state: keys, their versions, aliases and policies.
///
/// Changed only by `apply(_:)`, a pure function of the state and a command: no clock,
/// no randomness, no I/O. Every node that applies the same commands holds the same
/// state, and `snapshot()` of it is byte-identical.
public struct KMSState: Equatable, Sendable {
    public static let aliasesPerKeyMax = 50
    public static let onDemandRotationsMax = 25
    public static let versionsPerKeyMax = 10_000

    public let config: KMSConfig
    public internal(set) var keys: [KeyID: KeyRecord] = [:]
    /// Versions of each key, oldest first. Invariant: `versions[id][i].version == i + 1`.
    public internal(set) var versions: [KeyID: [KeyVersionRecord]] = [:]
    public internal(set) var aliases: [String: AliasRecord] = [:]
    /// Key ids in ascending order, for ListKeys paging and snapshots.
    public private(set) var sortedKeyIDs: [KeyID] = []
    /// Parsed policies, derived from `keys[id].policy`.
    private(set) var policies: [KeyID: KeyPolicy] = [:]
    private var aliasCounts: [KeyID: Int] = [:]
    /// The `rotation-drops-old-version` canary: a rotation forgets the oldest version.
    var canaryRotationDropsOldVersion = false

    public init(config: KMSConfig) { self.config = config }

    /// What an applied command did, beyond the state change itself.
    public enum Outcome: Equatable, Sendable {
        case applied
        /// The key, its versions and aliases are gone; drop any unwrapped material.
        case keyDeleted(KeyID)
    }

    /// Applies one command. A refused command leaves the state unchanged.
    public mutating func apply(_ command: KMSCommand) -> Result<Outcome, KMSError> {
        apply(command, parsePolicy: KeyPolicy.parse)
    }

    /// Applies one command, parsing policy documents with `parsePolicy`, which must return
    /// exactly what `KeyPolicy.parse` would (`KeyPolicyCache.parse` does, from memory).
    mutating func apply(_ command: KMSCommand,
                        parsePolicy: (String) throws(KMSError) -> KeyPolicy) -> Result<Outcome, KMSError> {
        let before = keys.count
        let result: Result<Outcome, KMSError>
        do throws(KMSError) {
            result = .success(try applyThrowing(command, parsePolicy: parsePolicy))
        } catch {
            result = .failure(error)
        }
        assert(keys.count == sortedKeyIDs.count && keys.count == versions.count, "key indexes diverged")
        assert(abs(keys.count - before) <= 1, "one command changes at most one key's existence")
        return result
    }

    private mutating func applyThrowing(_ command: KMSCommand,
                                        parsePolicy: (String) throws(KMSError) -> KeyPolicy) throws(KMSError) -> Outcome {
        switch command {
        case let .createKey(c): try createKey(c, parsePolicy: parsePolicy)
        case let .updateKeyDescription(id, description):
            try mutateKey(id, allowPendingDeletion: false) { $0.description = description }
        case let .enableKey(id):
            try mutateKey(id, allowPendingDeletion: false) { $0.state = .enabled }
        case let .disableKey(id):
            try mutateKey(id, allowPendingDeletion: false) { $0.state = .disabled }
        case let .scheduleKeyDeletion(id, days, at):
            try mutateKey(id, allowPendingDeletion: false) { key in
                key.state = .pendingDeletion
                key.deletionDate = at.adding(days: days)
                key.pendingWindowDays = days
            }
        case let .cancelKeyDeletion(id):
            let key = try existingKey(id)
            guard key.state == .pendingDeletion else {
                throw KMSError(.invalidState, "\(config.keyARN(id)) is not pending deletion.")
            }
            keys[id]!.state = .disabled
            keys[id]!.deletionDate = nil
            keys[id]!.pendingWindowDays = nil
        case let .createAlias(name, target, at): try createAlias(name, target, at)
        case let .updateAlias(name, target, at): try updateAlias(name, target, at)
        case let .deleteAlias(name):
            guard let alias = aliases.removeValue(forKey: name) else { throw aliasNotFound(name) }
            decrementAliasCount(alias.targetKeyID)
        case let .enableKeyRotation(id, days, at):
            try mutateKey(id, allowPendingDeletion: false, requireEnabled: true) { key in
                key.rotation.enabled = true
                key.rotation.periodDays = days
                key.rotation.nextRotationDate = at.adding(days: days)
            }
        case let .disableKeyRotation(id):
            try mutateKey(id, allowPendingDeletion: false, requireEnabled: true) { key in
                key.rotation.enabled = false
                key.rotation.nextRotationDate = nil
            }
        case let .rotateKey(r): try rotateKey(r)
        case let .putKeyPolicy(id, policy):
            _ = try existingKey(id)
            let parsed = try parsePolicy(policy)
            keys[id]!.policy = policy
            policies[id] = parsed
        case let .deleteKey(id, at):
            let key = try existingKey(id)
            guard key.state == .pendingDeletion, let date = key.deletionDate, date <= at else {
                throw KMSError(.conflict, "\(config.keyARN(id)) is not due for deletion.")
            }
            deleteKey(id)
            return .keyDeleted(id)
        }
        return .applied
    }

    // MARK: Keys

    private mutating func createKey(_ c: KMSCommand.CreateKey,
                                    parsePolicy: (String) throws(KMSError) -> KeyPolicy) throws(KMSError) {
        guard keys[c.keyID] == nil else {
            throw KMSError(.alreadyExists, "Key \(config.keyARN(c.keyID)) already exists.")
        }
        let policy = try parsePolicy(c.policy)
        keys[c.keyID] = KeyRecord(
            id: c.keyID, description: c.description, state: .enabled, creationDate: c.creationDate,
            deletionDate: nil, pendingWindowDays: nil, policy: c.policy, rotation: RotationSettings(),
            tags: c.tags, currentVersion: .first)
        versions[c.keyID] = [KeyVersionRecord(version: .first, wrappedMaterial: c.wrappedMaterial,
                                              creationDate: c.creationDate, rotationType: .initial)]
        policies[c.keyID] = policy
        let position = insertionIndex(of: c.keyID)
        sortedKeyIDs.insert(c.keyID, at: position)
        assert(position == 0 || sortedKeyIDs[position - 1] < c.keyID)
    }

    private mutating func rotateKey(_ r: KMSCommand.RotateKey) throws(KMSError) {
        let key = try usableKey(r.keyID)
        let arn = config.keyARN(r.keyID)
        guard r.newVersion.rawValue == key.currentVersion.rawValue + 1 else {
            throw KMSError(.conflict, "A rotation of \(arn) is already in progress.")
        }
        guard key.currentVersion.rawValue < KMSState.versionsPerKeyMax else {
            throw KMSError(.limitExceeded, "\(arn) has reached its maximum number of versions.")
        }
        var updated = key
        switch r.type {
        case .onDemand:
            guard key.rotation.onDemandCount < KMSState.onDemandRotationsMax else {
                throw KMSError(.limitExceeded,
                               "\(arn) has reached the maximum of \(KMSState.onDemandRotationsMax) on-demand rotations.")
            }
            updated.rotation.onDemandCount += 1
            updated.rotation.lastOnDemandDate = r.date
        case .automatic:
            guard key.rotation.enabled, let next = key.rotation.nextRotationDate, next <= r.date else {
                throw KMSError(.conflict, "\(arn) is not due for automatic rotation.")
            }
            updated.rotation.nextRotationDate = r.date.adding(days: key.rotation.periodDays)
        case .initial:
            throw KMSError(.validation, "A rotation cannot create an initial version.")
        }
        updated.currentVersion = r.newVersion
        keys[r.keyID] = updated
        versions[r.keyID]!.append(KeyVersionRecord(version: r.newVersion, wrappedMaterial: r.wrappedMaterial,
                                                   creationDate: r.date, rotationType: r.type))
        if canaryRotationDropsOldVersion {
            versions[r.keyID]!.removeFirst()
            return
        }
        assert(versions[r.keyID]!.count == Int(r.newVersion.rawValue), "versions are dense from 1")
    }

    private mutating func deleteKey(_ id: KeyID) {
        keys[id] = nil
        versions[id] = nil
        policies[id] = nil
        aliasCounts[id] = nil
        for name in aliases.keys.sorted() where aliases[name]!.targetKeyID == id {
            aliases[name] = nil
        }
        let position = insertionIndex(of: id)
        precondition(position < sortedKeyIDs.count && sortedKeyIDs[position] == id, "sorted index lost a key")
        sortedKeyIDs.remove(at: position)
    }

    private mutating func mutateKey(
        _ id: KeyID, allowPendingDeletion: Bool, requireEnabled: Bool = false, _ change: (inout KeyRecord) -> Void
    ) throws(KMSError) {
        let key = requireEnabled ? try usableKey(id) : try existingKey(id)
        if !allowPendingDeletion, key.state == .pendingDeletion { throw .invalidState(config.keyARN(id), key.state) }
        var updated = key
        change(&updated)
        keys[id] = updated
    }

    func existingKey(_ id: KeyID) throws(KMSError) -> KeyRecord {
        guard let key = keys[id] else { throw .keyNotFound(config.keyARN(id)) }
        return key
    }

    /// The key, if it is Enabled; DisabledException or KMSInvalidStateException otherwise.
    func usableKey(_ id: KeyID) throws(KMSError) -> KeyRecord {
        let key = try existingKey(id)
        switch key.state {
        case .enabled: return key
        case .disabled: throw .disabled(config.keyARN(id))
        case .pendingDeletion: throw .invalidState(config.keyARN(id), key.state)
        }
    }

    private func insertionIndex(of id: KeyID) -> Int {
        var low = 0
        var high = sortedKeyIDs.count
        while low < high {
            let mid = (low + high) / 2
            if sortedKeyIDs[mid] < id { low = mid + 1 } else { high = mid }
        }
        return low
    }

    // MARK: Aliases

    private mutating func createAlias(_ name: String, _ target: KeyID, _ at: Timestamp) throws(KMSError) {
        try AliasName.validate(name)
        guard aliases[name] == nil else {
            throw KMSError(.alreadyExists, "An alias with the name \(config.aliasARN(name)) already exists")
        }
        try checkAliasTarget(target)
        aliases[name] = AliasRecord(name: name, targetKeyID: target, creationDate: at, lastUpdatedDate: at)
        aliasCounts[target, default: 0] += 1
    }

    private mutating func updateAlias(_ name: String, _ target: KeyID, _ at: Timestamp) throws(KMSError) {
        guard let alias = aliases[name] else { throw aliasNotFound(name) }
        guard alias.targetKeyID != target else { return }
        try checkAliasTarget(target)
        aliases[name]!.targetKeyID = target
        aliases[name]!.lastUpdatedDate = at
        decrementAliasCount(alias.targetKeyID)
        aliasCounts[target, default: 0] += 1
    }

    /// Keeps `aliasCounts` free of zero entries, so equal states compare equal.
    private mutating func decrementAliasCount(_ id: KeyID) {
        let remaining = aliasCounts[id, default: 0] - 1
        precondition(remaining >= 0, "alias count below zero")
        aliasCounts[id] = remaining == 0 ? nil : remaining
    }

    private func checkAliasTarget(_ target: KeyID) throws(KMSError) {
        let key = try existingKey(target)
        guard key.state != .pendingDeletion else { throw .invalidState(config.keyARN(target), key.state) }
        guard aliasCounts[target, default: 0] < KMSState.aliasesPerKeyMax else {
            throw KMSError(.limitExceeded, "\(config.keyARN(target)) already has \(KMSState.aliasesPerKeyMax) aliases.")
        }
    }

    private func aliasNotFound(_ name: String) -> KMSError {
        KMSError(.notFound, "Alias \(config.aliasARN(name)) is not found.")
    }

    /// Restores derived indexes after a snapshot is loaded.
    mutating func rebuildIndexes() throws(KMSError) {
        sortedKeyIDs = keys.keys.sorted()
        policies = [:]
        for id in sortedKeyIDs { policies[id] = try KeyPolicy.parse(keys[id]!.policy) }
        aliasCounts = [:]
        for alias in aliases.values { aliasCounts[alias.targetKeyID, default: 0] += 1 }
    }
}

/// AWS alias naming rules.
public enum AliasName {
    public static let bytesMax = 256

    public static func validate(_ name: String) throws(KMSError) {
        let utf8 = Array(name.utf8)
        guard (1...bytesMax).contains(utf8.count) else {
            throw KMSError.validation([KMSError.constraint("aliasName", "Member must have length less than or equal to \(bytesMax)")])
        }
        let allowed = utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ":") || c == UInt8(ascii: "/") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        guard allowed, name.hasPrefix("alias/"), name.count > "alias/".count else {
            throw KMSError(.invalidAliasName, "Alias must start with the prefix \"alias/\" followed by [a-zA-Z0-9:/_-].")
        }
        guard !name.hasPrefix("alias/aws/") else {
            throw KMSError(.invalidAliasName, "Alias names that begin with alias/aws/ are reserved.")
        }
    }
}
