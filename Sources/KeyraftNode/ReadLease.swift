import RaftCore

/// The node's read lease (ARCHITECTURE.md, "Safety of reads served by followers").
///
/// Every refresh sends a ReadIndex request, remembering the local time `s` it was sent.
/// The leader confirms its leadership with a quorum and answers with its commit index
/// `c`; once this node has applied `c`, it may serve reads until `s + maxStalenessMs`.
/// Every write acknowledged before `s` is then visible, so a read is never more than
/// `maxStalenessMs` stale by this node's own clock.
struct ReadLease {
    /// Refreshes in flight: sequence → local send time. Bounded by `inflightMax`.
    private var inflight: [(sequence: UInt64, sentAtMs: Int64)] = []
    /// Answered refreshes waiting for the node to apply up to their index.
    private var answered: [(index: LogIndex, sentAtMs: Int64)] = []
    private(set) var validUntilMs: Int64 = .min
    /// When the latest answered round was sent: on the leader, a majority acknowledged its
    /// leadership after that time.
    private(set) var confirmedSentAtMs: Int64 = .min
    private var nextSequence: UInt64 = 1
    let maxStalenessMs: Int64
    static let inflightMax = 16

    init(maxStalenessMs: Int64) {
        precondition(maxStalenessMs > 0)
        self.maxStalenessMs = maxStalenessMs
    }

    func isValid(nowMs: Int64) -> Bool { nowMs < validUntilMs }

    var hasRoundInFlight: Bool { !inflight.isEmpty }

    /// Starts a refresh; returns the ReadIndex context to send.
    mutating func beginRefresh(nowMs: Int64, node: UInt64, incarnation: UInt64) -> [UInt8] {
        let sequence = nextSequence
        nextSequence += 1
        inflight.append((sequence, nowMs))
        if inflight.count > ReadLease.inflightMax { inflight.removeFirst(inflight.count - ReadLease.inflightMax) }
        assert(inflight.count <= ReadLease.inflightMax)
        return ReadContext(kind: .lease, node: node, incarnation: incarnation, sequence: sequence).encoded
    }

    /// A ReadIndex answer for one of our refreshes arrived.
    mutating func answered(sequence: UInt64, index: LogIndex) {
        guard let position = inflight.firstIndex(where: { $0.sequence == sequence }) else { return }
        answered.append((index, inflight[position].sentAtMs))
        confirmedSentAtMs = max(confirmedSentAtMs, inflight[position].sentAtMs)
        inflight.remove(at: position)
        assert(answered.count <= ReadLease.inflightMax + 1)
    }

    /// Extends the lease with every answer whose index has been applied.
    mutating func applied(upTo applied: LogIndex) {
        var kept: [(index: LogIndex, sentAtMs: Int64)] = []
        for answer in answered {
            if answer.index <= applied {
                validUntilMs = max(validUntilMs, answer.sentAtMs + maxStalenessMs)
            } else {
                kept.append(answer)
            }
        }
        answered = kept
    }
}

/// The context bytes of a ReadIndex request: a lease refresh or a batch of linearizable
/// reads, unique across the cluster and across restarts — the leader drops a request whose
/// context is already queued, and a late answer must never match a request of another
/// node or of this node's earlier life.
///
/// `tag: u8 ("L" or "B"), node: u64, incarnation: u64, sequence: u64`.
struct ReadContext: Equatable {
    enum Kind: UInt8 {
        case lease = 0x4C  // "L"
        case batch = 0x42  // "B"
    }

    let kind: Kind
    let node: UInt64
    let incarnation: UInt64
    let sequence: UInt64

    var encoded: [UInt8] {
        var out: [UInt8] = [kind.rawValue]
        for value in [node, incarnation, sequence] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return out
    }

    init(kind: Kind, node: UInt64, incarnation: UInt64, sequence: UInt64) {
        self.kind = kind
        self.node = node
        self.incarnation = incarnation
        self.sequence = sequence
    }

    init?(_ bytes: [UInt8]) {
        guard bytes.count == 25, let kind = Kind(rawValue: bytes[0]) else { return nil }
        func u64(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        self.init(kind: kind, node: u64(1), incarnation: u64(9), sequence: u64(17))
    }
}
