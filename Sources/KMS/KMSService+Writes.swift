import KeyraftCrypto

extension KMSService {
    public static let descriptionBytesMax = 8192
    public static let deletionWindowDaysRange = 7...30
    public static let defaultDeletionWindowDays = 30

    /// Turns a write request into the command the leader proposes, after validating it
    /// and checking the caller's permission against the current state. Key ids, key
    /// material (wrapped under the root key) and timestamps are decided here, once.
    public func prepare(_ request: KMSWriteRequest, principal: Principal, now: Timestamp,
                        entropy: some EntropySource) throws(KMSError) -> KMSCommand {
        switch request {
        case let .createKey(r):
            return try prepareCreateKey(r, principal: principal, now: now, entropy: entropy)
        case let .updateKeyDescription(reference, description):
            var failures: [String] = []
            Validate.length("description", description.utf8.count, 0...KMSService.descriptionBytesMax, into: &failures)
            try Validate.check(failures)
            let id = try authorizedKey(reference, request, principal)
            return .updateKeyDescription(id, description: description)
        case let .enableKey(reference):
            return .enableKey(try authorizedKey(reference, request, principal))
        case let .disableKey(reference):
            return .disableKey(try authorizedKey(reference, request, principal))
        case let .scheduleKeyDeletion(reference, window):
            let days = window ?? KMSService.defaultDeletionWindowDays
            var failures: [String] = []
            Validate.value("pendingWindowInDays", days, KMSService.deletionWindowDaysRange, into: &failures)
            try Validate.check(failures)
            let id = try authorizedKey(reference, request, principal)
            return .scheduleKeyDeletion(id, pendingWindowDays: days, at: now)
        case let .cancelKeyDeletion(reference):
            return .cancelKeyDeletion(try authorizedKey(reference, request, principal))
        case let .createAlias(name, target):
            try AliasName.validate(name)
            let id = try aliasTarget(target, request, principal)
            return .createAlias(name: name, target: id, at: now)
        case let .updateAlias(name, target):
            try AliasName.validate(name)
            guard let alias = state.aliases[name] else {
                throw KMSError(.notFound, "Alias \(config.aliasARN(name)) is not found.")
            }
            try authorize(principal, request.action, alias.targetKeyID)
            let id = try aliasTarget(target, request, principal)
            return .updateAlias(name: name, target: id, at: now)
        case let .deleteAlias(name):
            try AliasName.validate(name)
            guard let alias = state.aliases[name] else {
                throw KMSError(.notFound, "Alias \(config.aliasARN(name)) is not found.")
            }
            try authorize(principal, request.action, alias.targetKeyID)
            return .deleteAlias(name: name)
        case let .enableKeyRotation(reference, period):
            let days = period ?? RotationSettings.defaultPeriodDays
            var failures: [String] = []
            Validate.value("rotationPeriodInDays", days, RotationSettings.periodDaysRange, into: &failures)
            try Validate.check(failures)
            let id = try authorizedKey(reference, request, principal)
            return .enableKeyRotation(id, periodDays: days, at: now)
        case let .disableKeyRotation(reference):
            return .disableKeyRotation(try authorizedKey(reference, request, principal))
        case let .rotateKeyOnDemand(reference):
            let id = try authorizedKey(reference, request, principal)
            let key = try state.usableKey(id)
            return .rotateKey(try newVersion(of: key, type: .onDemand, now: now, entropy: entropy))
        case let .putKeyPolicy(reference, name, policy, bypass):
            if let name, name != "default" {
                throw KMSError.validation([KMSError.constraint("policyName", "Member must satisfy regular expression pattern: default")])
            }
            let id = try authorizedKey(reference, request, principal)
            let parsed = try parsePolicy(policy)
            try parsed.checkConditionKeysSupported()
            if !bypass { try checkLockout(parsed, principal: principal, keyARN: config.keyARN(id)) }
            return .putKeyPolicy(id, policy: policy)
        }
    }

    /// The response to a write once its command has been applied on this node.
    public func response(to request: KMSWriteRequest, command: KMSCommand) -> KMSWriteResponse {
        switch command {
        case let .createKey(c):
            guard let key = state.keys[c.keyID] else { return .empty }
            return .keyMetadata(metadata(key))
        case let .scheduleKeyDeletion(id, days, _):
            guard let key = state.keys[id], let date = key.deletionDate else { return .empty }
            return .scheduledDeletion(keyARN: config.keyARN(id), deletionDate: date, keyState: key.state,
                                      pendingWindowInDays: days)
        case let .cancelKeyDeletion(id):
            return .keyID(arn: config.keyARN(id))
        case let .rotateKey(r):
            return .keyID(arn: config.keyARN(r.keyID))
        default:
            return .empty
        }
    }

    /// The leader's scheduler: automatic rotations and ended deletion windows that are due
    /// at `now`, at most `limit` commands, in key-id order.
    public func dueMaintenance(now: Timestamp, entropy: some EntropySource, limit: Int) -> [KMSCommand] {
        precondition(limit > 0)
        var commands: [KMSCommand] = []
        let keys = state.keys
        for id in state.sortedKeyIDs where commands.count < limit {
            // The leader scans every key every scheduler round: read the dates in place
            // (through the values view) instead of copying each whole record out.
            guard let position = keys.index(forKey: id) else { preconditionFailure("key index out of sync") }
            let status = keys.values[position].state
            if status == .pendingDeletion, let date = keys.values[position].deletionDate, date <= now {
                commands.append(.deleteKey(id, at: now))
            } else if status == .enabled, keys.values[position].rotation.enabled,
                      let next = keys.values[position].rotation.nextRotationDate, next <= now,
                      let rotation = try? newVersion(of: keys.values[position], type: .automatic, now: now, entropy: entropy) {
                commands.append(.rotateKey(rotation))
            }
        }
        assert(commands.count <= limit)
        return commands
    }

    // MARK: Helpers

    private func prepareCreateKey(_ r: CreateKeyRequest, principal: Principal, now: Timestamp,
                                  entropy: some EntropySource) throws(KMSError) -> KMSCommand {
        var failures: [String] = []
        Validate.length("description", (r.description ?? "").utf8.count, 0...KMSService.descriptionBytesMax, into: &failures)
        Validate.length("tags", r.tags.count, 0...KMSCommand.tagsMax, into: &failures)
        for tag in r.tags {
            Validate.length("tagKey", tag.key.utf8.count, 1...128, into: &failures)
            Validate.length("tagValue", tag.value.utf8.count, 0...256, into: &failures)
        }
        try Validate.check(failures)
        if let usage = r.keyUsage, usage != KeyMetadata.keyUsage {
            throw KMSError(.validation, "KeyUsage \(usage) is not compatible with KeySpec \(r.keySpec ?? KeyMetadata.keySpec).")
        }
        if let spec = r.keySpec, spec != KeyMetadata.keySpec {
            throw KMSError(.unsupportedOperation, "KeySpec \(spec) is not supported; Keyraft offers SYMMETRIC_DEFAULT.")
        }
        if let origin = r.origin, origin != KeyMetadata.origin {
            throw KMSError(.unsupportedOperation, "Origin \(origin) is not supported; Keyraft offers AWS_KMS.")
        }
        try authorizeIdentity(principal, "kms:CreateKey")
        let document = r.policy ?? KeyPolicy.defaultDocument(config)
        let policy = try parsePolicy(document)
        try policy.checkConditionKeysSupported()
        let keyID = try draw { () throws(CryptoError) in try KeyID.generate(using: entropy) }
        if !r.bypassPolicyLockoutSafetyCheck {
            try checkLockout(policy, principal: principal, keyARN: config.keyARN(keyID))
        }
        let wrapped = try wrapFreshMaterial(entropy)
        return .createKey(KMSCommand.CreateKey(keyID: keyID, wrappedMaterial: wrapped, creationDate: now,
                                               description: r.description ?? "", policy: document, tags: r.tags))
    }

    private func newVersion(of key: KeyRecord, type: RotationType, now: Timestamp,
                            entropy: some EntropySource) throws(KMSError) -> KMSCommand.RotateKey {
        if type == .onDemand, key.rotation.onDemandCount >= KMSState.onDemandRotationsMax {
            throw KMSError(.limitExceeded,
                           "\(config.keyARN(key.id)) has reached the maximum of \(KMSState.onDemandRotationsMax) on-demand rotations.")
        }
        return KMSCommand.RotateKey(keyID: key.id, newVersion: KeyVersion(key.currentVersion.rawValue + 1),
                                    wrappedMaterial: try wrapFreshMaterial(entropy), date: now, type: type)
    }

    /// 256 bits of fresh material, wrapped under the root key at once; the plaintext is
    /// zeroed when this returns.
    private func wrapFreshMaterial(_ entropy: some EntropySource) throws(KMSError) -> [UInt8] {
        let rootKey = try requireUnsealed()
        return try draw { () throws(CryptoError) in
            let material = try SecretBytes.generate(count: AESGCM.keyByteCount, using: entropy)
            return try KeyWrap.wrap(material, under: rootKey)
        }
    }

    private func draw<T>(_ body: () throws(CryptoError) -> T) throws(KMSError) -> T {
        do { return try body() } catch {
            throw KMSError(.dependencyTimeout, "The entropy source failed: \(error). Retry the request.")
        }
    }

    private func authorizedKey(_ reference: String, _ request: KMSWriteRequest,
                               _ principal: Principal) throws(KMSError) -> KeyID {
        let id = try state.resolveKey(reference)
        try authorize(principal, request.action, id)
        return id
    }

    /// Alias targets must be a key id or key ARN, never another alias.
    private func aliasTarget(_ reference: String, _ request: KMSWriteRequest,
                             _ principal: Principal) throws(KMSError) -> KeyID {
        if reference.hasPrefix("alias/") || reference.contains(":alias/") {
            throw KMSError(.validation, "TargetKeyId must be a key id or key ARN, not an alias.")
        }
        let id = try state.resolveKey(reference, field: "targetKeyId")
        try authorize(principal, request.action, id)
        return id
    }

    /// The lockout safety check: a new policy must let the caller change it again.
    private func checkLockout(_ policy: KeyPolicy, principal: Principal, keyARN: String) throws(KMSError) {
        let request = KeyPolicy.Request(principal: principal, action: "kms:PutKeyPolicy", keyARN: keyARN)
        guard policy.evaluate(request) == .allowed else {
            throw KMSError(.malformedPolicyDocument,
                           "The new key policy will not allow you to update the key policy in the future.")
        }
    }
}
