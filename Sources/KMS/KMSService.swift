import KeyraftCrypto

/// The KMS of one node: the replicated state, the in-memory cache of unwrapped key
/// versions, and the operations with AWS semantics.
///
/// Synchronous and single-threaded, like the node driver that owns it. Writes are two
/// steps: the leader `prepare`s a request into a `KMSCommand` (drawing ids and material
/// from entropy and the time from its clock), the command goes through the Raft log, and
/// every node `apply`s it. Reads and cryptographic calls run against the local state.
public final class KMSService {
    public private(set) var state: KMSState
    private let cache: KeyMaterialCache
    private let policyCache = KeyPolicyCache()
    /// The cluster root key; nil while the node is sealed.
    public private(set) var rootKey: SecretBytes?

    public var config: KMSConfig { state.config }
    public var isSealed: Bool { rootKey == nil }

    public init(config: KMSConfig, rootKey: SecretBytes?, cachedVersionsMax: Int = 100_000) {
        if let rootKey { precondition(rootKey.count == KeyWrap.rootKeyByteCount, "root key must be 256 bits") }
        state = KMSState(config: config)
        cache = KeyMaterialCache(entriesMax: cachedVersionsMax)
        self.rootKey = rootKey
    }

    /// Unseals the node with its root key.
    public func unseal(rootKey: SecretBytes) {
        precondition(rootKey.count == KeyWrap.rootKeyByteCount, "root key must be 256 bits")
        cache.removeAll()
        self.rootKey = rootKey
    }

    // MARK: Replication

    /// Applies a committed command. Pure in the state; drops cached material of deleted keys.
    @discardableResult
    public func apply(_ command: KMSCommand) -> Result<KMSState.Outcome, KMSError> {
        let result = state.apply(command, parsePolicy: policyCache.parse)
        if case let .success(.keyDeleted(id)) = result {
            cache.drop(id)
            assert(!cache.contains(id), "crypto-shredding: no material of a deleted key stays in memory")
        }
        return result
    }

    public func snapshot() -> [UInt8] { state.snapshot() }

    public func restore(snapshot: [UInt8]) throws(KMSDecodingError) {
        var restored = try KMSState(restoring: snapshot)
        precondition(restored.config == state.config, "a snapshot from another region or account")
        restored.canaryRotationDropsOldVersion = state.canaryRotationDropsOldVersion
        state = restored
        cache.removeAll()
    }

    /// Switches on the `rotation-drops-old-version` canary. Simulator only.
    @_spi(Canaries) public func enableRotationDropsOldVersionCanary() {
        state.canaryRotationDropsOldVersion = true
    }

    /// True if some cached material of `id` is in memory (tests: crypto-shredding).
    public func hasCachedMaterial(_ id: KeyID) -> Bool { cache.contains(id) }

    // MARK: Shared helpers

    func requireUnsealed() throws(KMSError) -> SecretBytes {
        guard let rootKey else {
            throw KMSError(.dependencyTimeout, "This node is sealed: it has no root key yet. Retry, or use another node.")
        }
        return rootKey
    }

    /// `KeyPolicy.parse`, from memory for documents seen recently.
    func parsePolicy(_ document: String) throws(KMSError) -> KeyPolicy { try policyCache.parse(document) }

    /// Checks the key policy of `id`; AccessDeniedException unless some statement allows.
    func authorize(_ principal: Principal, _ action: String, _ id: KeyID,
                   context: EncryptionContext = [:]) throws(KMSError) {
        let arn = config.keyARN(id)
        guard let policy = state.policies[id] else { throw .keyNotFound(arn) }
        let decision = policy.evaluate(KeyPolicy.Request(principal: principal, action: action, keyARN: arn,
                                                         encryptionContext: context))
        guard decision == .allowed else {
            let why = decision == .explicitDeny
                ? "with an explicit deny in a resource-based policy"
                : "because no resource-based policy allows the \(action) action"
            throw KMSError(.accessDenied, "User: \(principal.arn) is not authorized to perform: \(action) on resource: \(arn) \(why)")
        }
    }

    /// Actions without a key (CreateKey, ListKeys, GenerateRandom) need identity permission only.
    func authorizeIdentity(_ principal: Principal, _ action: String) throws(KMSError) {
        guard principal.identityActions.contains(where: { globMatch($0, action, caseInsensitive: true) }) else {
            throw KMSError(.accessDenied, "User: \(principal.arn) is not authorized to perform: \(action) because no identity-based policy allows the \(action) action")
        }
    }

    func material(_ id: KeyID, _ version: KeyVersion) throws(KMSError) -> SecretBytes {
        let rootKey = try requireUnsealed()
        guard let records = state.versions[id], Int(version.rawValue) >= 1, Int(version.rawValue) <= records.count else {
            throw .missingKeyVersion()
        }
        do {
            return try cache.material(id, records[Int(version.rawValue) - 1], rootKey: rootKey)
        } catch {
            // The root key does not unwrap this version: wrong root key or corrupted state.
            throw KMSError(.internalError, "Key material of \(config.keyARN(id)) could not be unwrapped.")
        }
    }

    func metadata(_ key: KeyRecord) -> KeyMetadata {
        KeyMetadata(accountID: config.accountID, keyID: key.id.description, arn: config.keyARN(key.id),
                    creationDate: key.creationDate, enabled: key.state == .enabled, description: key.description,
                    keyState: key.state, deletionDate: key.deletionDate,
                    pendingDeletionWindowInDays: key.pendingWindowDays)
    }
}

/// Input checks with AWS's validation wording.
enum Validate {
    static func length(_ field: String, _ count: Int, _ range: ClosedRange<Int>, into failures: inout [String]) {
        if count < range.lowerBound {
            failures.append(KMSError.constraint(field, "Member must have length greater than or equal to \(range.lowerBound)"))
        } else if count > range.upperBound {
            failures.append(KMSError.constraint(field, "Member must have length less than or equal to \(range.upperBound)"))
        }
    }

    static func value(_ field: String, _ value: Int, _ range: ClosedRange<Int>, into failures: inout [String]) {
        if value < range.lowerBound {
            failures.append(KMSError.constraint(field, "Member must have value greater than or equal to \(range.lowerBound)"))
        } else if value > range.upperBound {
            failures.append(KMSError.constraint(field, "Member must have value less than or equal to \(range.upperBound)"))
        }
    }

    static func check(_ failures: [String]) throws(KMSError) {
        if !failures.isEmpty { throw KMSError.validation(failures) }
    }

    /// Encryption context: keys non-empty, and at most 8 KiB of keys and values in all.
    static func context(_ context: EncryptionContext, field: String = "encryptionContext",
                        into failures: inout [String]) {
        let bytes = context.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        if bytes > 8192 {
            failures.append(KMSError.constraint(field, "Member must have total length less than or equal to 8192"))
        }
        if context.keys.contains(where: \.isEmpty) {
            failures.append(KMSError.constraint(field, "Member keys must have length greater than or equal to 1"))
        }
    }

    static func algorithm(_ algorithm: String?, field: String = "encryptionAlgorithm") throws(KMSError) {
        guard let algorithm, algorithm != "SYMMETRIC_DEFAULT" else { return }
        let known = ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"]
        guard known.contains(algorithm) else {
            throw KMSError.validation([KMSError.constraint(
                field, "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]")])
        }
        throw KMSError(.invalidKeyUsage, "The encryption algorithm \(algorithm) is not supported by symmetric keys.")
    }

    static func limit(_ limit: Int?, into failures: inout [String]) -> Int {
        guard let limit else { return 100 }
        value("limit", limit, 1...1000, into: &failures)
        return limit
    }
}
