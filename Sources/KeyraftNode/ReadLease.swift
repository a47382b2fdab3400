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
    private var nextSequence: UInt64 = 1
    let maxStalenessMs: Int64
    static let inflightMax = 16

    init(maxStalenessMs: Int64) {
        precondition(maxStalenessMs > 0)
        self.maxStalenessMs = maxStalenessMs
    }

    func isValid(nowMs: Int64) -> Bool { nowMs < validUntilMs }

    /// Starts a refresh; returns the ReadIndex context to send.
    mutating func beginRefresh(nowMs: Int64) -> [UInt8] {
        let sequence = nextSequence
        nextSequence += 1
        inflight.append((sequence, nowMs))
        if inflight.count > ReadLease.inflightMax { inflight.removeFirst(inflight.count - ReadLease.inflightMax) }
        assert(inflight.count <= ReadLease.inflightMax)
        return ReadContext.lease(sequence).encoded
    }

    /// A ReadIndex answer for one of our refreshes arrived.
    mutating func answered(sequence: UInt64, index: LogIndex) {
        guard let position = inflight.firstIndex(where: { $0.sequence == sequence }) else { return }
        answered.append((index, inflight[position].sentAtMs))
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

    /// Forgets everything (a restart, or losing track of the cluster).
    mutating func invalidate() {
        validUntilMs = .min
        inflight.removeAll()
        answered.removeAll()
    }
}

/// The context bytes of a ReadIndex request: a lease refresh or a batch of linearizable reads.
enum ReadContext: Equatable {
    case lease(UInt64)
    case batch(UInt64)

    var encoded: [UInt8] {
        let (tag, value): (UInt8, UInt64)
        switch self {
        case let .lease(sequence): (tag, value) = (0x4C, sequence)  // "L"
        case let .batch(sequence): (tag, value) = (0x42, sequence)  // "B"
        }
        return [tag] + stride(from: 56, through: 0, by: -8).map { UInt8(truncatingIfNeeded: value >> UInt64($0)) }
    }

    init?(_ bytes: [UInt8]) {
        guard bytes.count == 9 else { return nil }
        let value = bytes[1...].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        switch bytes[0] {
        case 0x4C: self = .lease(value)
        case 0x42: self = .batch(value)
        default: return nil
        }
    }
}
