/// Why bytes could not be decoded. Decoding never traps.
public enum RaftCodecError: Error, Hashable, Sendable {
    /// The input ended inside a field.
    case truncated
    /// The leading version byte is not one this build reads.
    case unsupportedVersion(UInt8)
    /// The record tag names a different record than the one asked for.
    case wrongRecordType(expected: UInt8, found: UInt8)
    /// A field holds a value that is not allowed (unknown enum, zero node id, bad flag, ...).
    case invalidValue(field: String)
    /// A length prefix exceeds its maximum.
    case lengthExceeded(field: String, length: Int, maxLength: Int)
    /// Bytes remain after the record.
    case trailingBytes(count: Int)
}

/// Binary encoding of the core's records for the transport and storage.
///
/// Layout: `version (1 byte) | record tag (1 byte) | fields`. Integers are big-endian and fixed
/// width; byte arrays and lists carry a UInt32 length prefix bounded by the limits below;
/// optional node ids use 0 for "none"; booleans are 0 or 1.
public enum RaftCodec {
    /// Format version written in every record.
    public static let version: UInt8 = 1
    /// Upper bound on one entry's payload.
    public static let maxEntryDataBytes = 64 << 20
    /// Upper bound on entries in one message.
    public static let maxEntriesPerMessage = 1 << 16
    /// Upper bound on a snapshot's opaque data.
    public static let maxSnapshotDataBytes = 1 << 30
    /// Upper bound on a message context.
    public static let maxContextBytes = 1 << 16
    /// Upper bound on voters plus learners in one list.
    public static let maxMembers = 1024

    enum Tag: UInt8 {
        case message = 1, entry = 2, hardState = 3, snapshotMetadata = 4, snapshot = 5
    }

    // MARK: Public entry points

    /// Encodes a message.
    public static func encode(_ message: Message) -> [UInt8] { record(.message) { $0.message(message) } }
    /// Encodes an entry.
    public static func encode(_ entry: Entry) -> [UInt8] { record(.entry) { $0.entry(entry) } }
    /// Encodes a hard state.
    public static func encode(_ state: HardState) -> [UInt8] { record(.hardState) { $0.hardState(state) } }
    /// Encodes snapshot metadata.
    public static func encode(_ meta: SnapshotMetadata) -> [UInt8] { record(.snapshotMetadata) { $0.metadata(meta) } }
    /// Encodes a snapshot with its data.
    public static func encode(_ snapshot: Snapshot) -> [UInt8] { record(.snapshot) { $0.snapshot(snapshot) } }

    /// Decodes a message.
    public static func decodeMessage(_ bytes: [UInt8]) throws(RaftCodecError) -> Message {
        var r = try reader(bytes, .message)
        let m = try r.message()
        try r.finish()
        return m
    }

    /// Decodes an entry.
    public static func decodeEntry(_ bytes: [UInt8]) throws(RaftCodecError) -> Entry {
        var r = try reader(bytes, .entry)
        let e = try r.entry()
        try r.finish()
        return e
    }

    /// Decodes a hard state.
    public static func decodeHardState(_ bytes: [UInt8]) throws(RaftCodecError) -> HardState {
        var r = try reader(bytes, .hardState)
        let h = try r.hardState()
        try r.finish()
        return h
    }

    /// Decodes snapshot metadata.
    public static func decodeSnapshotMetadata(_ bytes: [UInt8]) throws(RaftCodecError) -> SnapshotMetadata {
        var r = try reader(bytes, .snapshotMetadata)
        let m = try r.metadata()
        try r.finish()
        return m
    }

    /// Decodes a snapshot.
    public static func decodeSnapshot(_ bytes: [UInt8]) throws(RaftCodecError) -> Snapshot {
        var r = try reader(bytes, .snapshot)
        let s = try r.snapshot()
        try r.finish()
        return s
    }

    private static func record(_ tag: Tag, _ body: (inout CodecWriter) -> Void) -> [UInt8] {
        var w = CodecWriter()
        w.u8(version)
        w.u8(tag.rawValue)
        body(&w)
        return w.bytes
    }

    private static func reader(_ bytes: [UInt8], _ tag: Tag) throws(RaftCodecError) -> CodecReader {
        var r = CodecReader(bytes)
        let v = try r.u8()
        guard v == version else { throw .unsupportedVersion(v) }
        let t = try r.u8()
        guard t == tag.rawValue else { throw .wrongRecordType(expected: tag.rawValue, found: t) }
        return r
    }
}

/// Appends big-endian fields.
struct CodecWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    mutating func u64(_ v: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }
    mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }

    mutating func blob(_ v: [UInt8], max: Int) {
        precondition(v.count <= max, "encoding a field beyond its maximum length")
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func entry(_ e: Entry) {
        u64(e.term.rawValue)
        u64(e.index.rawValue)
        u8(e.kind.rawValue)
        blob(e.data, max: RaftCodec.maxEntryDataBytes)
    }

    mutating func hardState(_ h: HardState) {
        u64(h.term.rawValue)
        u64(h.vote?.rawValue ?? 0)
        u64(h.commit.rawValue)
    }

    mutating func nodeList(_ ids: [NodeID]) {
        precondition(ids.count <= RaftCodec.maxMembers, "too many members to encode")
        u32(UInt32(ids.count))
        for id in ids { u64(id.rawValue) }
    }

    mutating func metadata(_ m: SnapshotMetadata) {
        u64(m.index.rawValue)
        u64(m.term.rawValue)
        nodeList(m.membership.voters)
        nodeList(m.membership.outgoingVoters)
        nodeList(m.membership.learners)
    }

    mutating func snapshot(_ s: Snapshot) {
        metadata(s.metadata)
        blob(s.data, max: RaftCodec.maxSnapshotDataBytes)
    }

    mutating func message(_ m: Message) {
        u8(m.type.rawValue)
        u64(m.from.rawValue)
        u64(m.to.rawValue)
        u64(m.term.rawValue)
        u64(m.logTerm.rawValue)
        u64(m.index.rawValue)
        u64(m.commit.rawValue)
        bool(m.reject)
        u64(m.rejectHint.rawValue)
        precondition(m.entries.count <= RaftCodec.maxEntriesPerMessage, "too many entries to encode")
        u32(UInt32(m.entries.count))
        for e in m.entries { entry(e) }
        bool(m.snapshot != nil)
        if let s = m.snapshot { snapshot(s) }
        blob(m.context, max: RaftCodec.maxContextBytes)
    }
}

/// Reads big-endian fields with bounds checks; every failure is a thrown `RaftCodecError`.
struct CodecReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private var remaining: Int { bytes.count - position }

    mutating func u8() throws(RaftCodecError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() throws(RaftCodecError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[position + i]) }
        position += 4
        return v
    }

    mutating func u64() throws(RaftCodecError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[position + i]) }
        position += 8
        return v
    }

    mutating func bool(_ field: String) throws(RaftCodecError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: field)
        }
    }

    mutating func count(_ field: String, max: Int) throws(RaftCodecError) -> Int {
        let n = Int(try u32())
        guard n <= max else { throw .lengthExceeded(field: field, length: n, maxLength: max) }
        return n
    }

    mutating func blob(_ field: String, max: Int) throws(RaftCodecError) -> [UInt8] {
        let n = try count(field, max: max)
        guard remaining >= n else { throw .truncated }
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }

    mutating func nodeID(_ field: String) throws(RaftCodecError) -> NodeID {
        let raw = try u64()
        guard raw != 0 else { throw .invalidValue(field: field) }
        return NodeID(raw)
    }

    mutating func finish() throws(RaftCodecError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }

    mutating func entry() throws(RaftCodecError) -> Entry {
        let term = Term(try u64())
        let index = LogIndex(try u64())
        guard let kind = EntryKind(rawValue: try u8()) else { throw .invalidValue(field: "entry.kind") }
        let data = try blob("entry.data", max: RaftCodec.maxEntryDataBytes)
        return Entry(term: term, index: index, kind: kind, data: data)
    }

    mutating func hardState() throws(RaftCodecError) -> HardState {
        let term = Term(try u64())
        let rawVote = try u64()
        let commit = LogIndex(try u64())
        return HardState(term: term, vote: rawVote == 0 ? nil : NodeID(rawVote), commit: commit)
    }

    mutating func nodeList(_ field: String) throws(RaftCodecError) -> [NodeID] {
        let n = try count(field, max: RaftCodec.maxMembers)
        var ids: [NodeID] = []
        for _ in 0..<n {
            let id = try nodeID(field)
            // Canonical form: strictly ascending, so each membership has one encoding.
            if let last = ids.last, id <= last { throw .invalidValue(field: field) }
            ids.append(id)
        }
        return ids
    }

    mutating func metadata() throws(RaftCodecError) -> SnapshotMetadata {
        let index = LogIndex(try u64())
        let term = Term(try u64())
        let voters = try nodeList("membership.voters")
        let outgoing = try nodeList("membership.outgoingVoters")
        let learners = try nodeList("membership.learners")
        guard Set(voters).isDisjoint(with: learners), Set(outgoing).isDisjoint(with: learners) else {
            throw .invalidValue(field: "membership.overlap")
        }
        let membership = Membership(voters: voters, learners: learners, outgoingVoters: outgoing)
        return SnapshotMetadata(index: index, term: term, membership: membership)
    }

    mutating func snapshot() throws(RaftCodecError) -> Snapshot {
        let meta = try metadata()
        let data = try blob("snapshot.data", max: RaftCodec.maxSnapshotDataBytes)
        return Snapshot(metadata: meta, data: data)
    }

    mutating func message() throws(RaftCodecError) -> Message {
        guard let type = MessageType(rawValue: try u8()) else { throw .invalidValue(field: "message.type") }
        let from = try nodeID("message.from")
        let to = try nodeID("message.to")
        var m = Message(type: type, from: from, to: to)
        m.term = Term(try u64())
        m.logTerm = Term(try u64())
        m.index = LogIndex(try u64())
        m.commit = LogIndex(try u64())
        m.reject = try bool("message.reject")
        m.rejectHint = LogIndex(try u64())
        let n = try count("message.entries", max: RaftCodec.maxEntriesPerMessage)
        // Each entry takes at least 21 bytes: refuse counts the input cannot hold before allocating.
        guard n <= remaining / 21 else { throw .truncated }
        for _ in 0..<n { m.entries.append(try entry()) }
        if try bool("message.hasSnapshot") { m.snapshot = try snapshot() }
        m.context = try blob("message.context", max: RaftCodec.maxContextBytes)
        return m
    }
}
