import KeyraftCrypto

/// Unwrapped key versions, in memory only, as `SecretBytes`.
///
/// Bounded: past `entriesMax` versions the whole cache is dropped and refills on demand
/// (unwrapping costs about a microsecond). Entries of a deleted key are dropped at once.
final class KeyMaterialCache {
    let entriesMax: Int
    private var entries: [KeyID: [KeyVersion: SecretBytes]] = [:]
    private(set) var count = 0

    init(entriesMax: Int) {
        precondition(entriesMax > 0)
        self.entriesMax = entriesMax
    }

    /// The material of `version`, unwrapping `record` under `rootKey` if it is not cached.
    func material(_ id: KeyID, _ record: KeyVersionRecord, rootKey: SecretBytes) throws(CryptoError) -> SecretBytes {
        if let cached = entries[id]?[record.version] { return cached }
        let material = try KeyWrap.unwrap(record.wrappedMaterial, under: rootKey)
        precondition(material.count == AESGCM.keyByteCount, "key versions hold 256-bit material")
        if count >= entriesMax { removeAll() }
        entries[id, default: [:]][record.version] = material
        count += 1
        assert(count <= entriesMax)
        return material
    }

    func drop(_ id: KeyID) {
        count -= entries.removeValue(forKey: id)?.count ?? 0
        assert(count >= 0)
    }

    func removeAll() {
        entries.removeAll()
        count = 0
    }

    func contains(_ id: KeyID) -> Bool { entries[id] != nil }
}
