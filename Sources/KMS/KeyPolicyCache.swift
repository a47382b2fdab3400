/// Parsed key policies of the few documents most keys share — the default policy above
/// all — so that applying CreateKey or PutKeyPolicy does not parse the same document again.
///
/// Parsing goes through `JSONSerialization` (about 70,000 instructions a document) and
/// every node parses every policy it applies; the simulator's profile showed it at 8 %.
/// `KeyPolicy.parse` is a pure function of the document, so a hit returns exactly what
/// parsing would; refused documents are not remembered (they throw again when parsed).
/// Bounded: at most `entriesMax` documents, the oldest replaced first. Single-threaded,
/// like the `KMSService` that owns it.
final class KeyPolicyCache {
    static let entriesMax = 8
    private var entries: [(document: String, policy: KeyPolicy)] = []
    /// The entry to replace next once the cache is full.
    private var oldest = 0

    func parse(_ document: String) throws(KMSError) -> KeyPolicy {
        for entry in entries where entry.document == document { return entry.policy }
        let policy = try KeyPolicy.parse(document)
        if entries.count < KeyPolicyCache.entriesMax {
            entries.append((document, policy))
        } else {
            entries[oldest] = (document, policy)
            oldest = (oldest + 1) % KeyPolicyCache.entriesMax
        }
        assert(entries.count <= KeyPolicyCache.entriesMax)
        return policy
    }
}
