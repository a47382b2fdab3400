/// Snapshot and restore of the whole KMS state.
///
/// Keys are written in ascending id order and aliases in ascending name order, so two
/// nodes with the same state produce the same bytes. Wrapped material only: a snapshot
/// never holds plaintext key material.
extension KMSState {
    public static let snapshotVersion: UInt8 = 1
    static let snapshotKeysMax = 50_000_000

    public func snapshot() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + keys.count * 256)
        w.u8(KMSState.snapshotVersion)
        w.string(config.region)
        w.string(config.accountID)
        w.u32(UInt32(sortedKeyIDs.count))
        for id in sortedKeyIDs {
            encode(keys[id]!, versions[id]!, into: &w)
        }
        let aliasNames = aliases.keys.sorted()
        w.u32(UInt32(aliasNames.count))
        for name in aliasNames {
            let alias = aliases[name]!
            w.string(alias.name)
            w.keyID(alias.targetKeyID)
            w.timestamp(alias.creationDate)
            w.timestamp(alias.lastUpdatedDate)
        }
        return w.bytes
    }

    private func encode(_ key: KeyRecord, _ versions: [KeyVersionRecord], into w: inout ByteWriter) {
        w.keyID(key.id)
        w.string(key.description)
        w.u8(key.state.rawValue)
        w.timestamp(key.creationDate)
        w.optionalTimestamp(key.deletionDate)
        w.u32(UInt32(key.pendingWindowDays ?? 0))
        w.string(key.policy)
        w.bool(key.rotation.enabled)
        w.u32(UInt32(key.rotation.periodDays))
        w.optionalTimestamp(key.rotation.nextRotationDate)
        w.u32(UInt32(key.rotation.onDemandCount))
        w.optionalTimestamp(key.rotation.lastOnDemandDate)
        w.u32(UInt32(key.tags.count))
        for tag in key.tags {
            w.string(tag.key)
            w.string(tag.value)
        }
        w.u32(key.currentVersion.rawValue)
        w.u32(UInt32(versions.count))
        for version in versions {
            w.u32(version.version.rawValue)
            w.blob(version.wrappedMaterial)
            w.timestamp(version.creationDate)
            w.u8(version.rotationType.rawValue)
        }
    }

    /// Restores a state from `snapshot()` output, checking every invariant it relies on.
    public init(restoring bytes: [UInt8]) throws(KMSDecodingError) {
        var r = ByteReader(bytes)
        let version = try r.u8()
        guard version == KMSState.snapshotVersion else { throw .unknownVersion(version) }
        self.init(config: KMSConfig(region: try r.string(maxBytes: 64), accountID: try r.string(maxBytes: 64)))
        let keyCount = try r.count(max: KMSState.snapshotKeysMax)
        var previous: KeyID?
        for _ in 0..<keyCount {
            let (key, keyVersions) = try KMSState.decodeKey(&r)
            if let previous, !(previous < key.id) { throw .invalidValue(field: "key order", value: 0) }
            previous = key.id
            keys[key.id] = key
            versions[key.id] = keyVersions
        }
        let aliasCount = try r.count(max: KMSState.snapshotKeysMax)
        for _ in 0..<aliasCount {
            let alias = AliasRecord(name: try r.string(maxBytes: AliasName.bytesMax), targetKeyID: try r.keyID(),
                                    creationDate: try r.timestamp(), lastUpdatedDate: try r.timestamp())
            guard keys[alias.targetKeyID] != nil, aliases[alias.name] == nil else {
                throw .invalidValue(field: "alias target", value: 0)
            }
            aliases[alias.name] = alias
        }
        try r.expectEnd()
        do { try rebuildIndexes() } catch { throw .invalidValue(field: "policy", value: 0) }
    }

    private static func decodeKey(_ r: inout ByteReader) throws(KMSDecodingError) -> (KeyRecord, [KeyVersionRecord]) {
        let id = try r.keyID()
        let description = try r.string(maxBytes: KMSCommand.stringBytesMax)
        let rawState = try r.u8()
        guard let state = KeyState(rawValue: rawState) else { throw .invalidValue(field: "key state", value: UInt64(rawState)) }
        let creationDate = try r.timestamp()
        let deletionDate = try r.optionalTimestamp()
        let window = Int(try r.u32())
        let policy = try r.string(maxBytes: KeyPolicy.documentBytesMax)
        var rotation = RotationSettings()
        rotation.enabled = try r.bool()
        rotation.periodDays = Int(try r.u32())
        rotation.nextRotationDate = try r.optionalTimestamp()
        rotation.onDemandCount = Int(try r.u32())
        rotation.lastOnDemandDate = try r.optionalTimestamp()
        let tagCount = try r.count(max: KMSCommand.tagsMax)
        var tags: [Tag] = []
        for _ in 0..<tagCount { tags.append(Tag(key: try r.string(maxBytes: 128), value: try r.string(maxBytes: 256))) }
        let current = KeyVersion(try r.u32())
        let versionCount = try r.count(max: KMSState.versionsPerKeyMax)
        var versions: [KeyVersionRecord] = []
        for index in 0..<versionCount {
            let number = KeyVersion(try r.u32())
            guard number.rawValue == UInt32(index + 1) else { throw .invalidValue(field: "key version", value: UInt64(number.rawValue)) }
            let wrapped = try r.blob(maxBytes: 4096)
            let date = try r.timestamp()
            let rawType = try r.u8()
            guard let type = RotationType(rawValue: rawType) else { throw .invalidValue(field: "rotation type", value: UInt64(rawType)) }
            versions.append(KeyVersionRecord(version: number, wrappedMaterial: wrapped, creationDate: date, rotationType: type))
        }
        guard versionCount >= 1, current.rawValue == UInt32(versionCount) else {
            throw .invalidValue(field: "current version", value: UInt64(current.rawValue))
        }
        let key = KeyRecord(id: id, description: description, state: state, creationDate: creationDate,
                            deletionDate: deletionDate, pendingWindowDays: window == 0 ? nil : window, policy: policy,
                            rotation: rotation, tags: tags, currentVersion: current)
        return (key, versions)
    }
}
