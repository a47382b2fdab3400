/// How the leader replicates to one follower.
public enum ProgressState: UInt8, Sendable, CustomStringConvertible {
    /// Unknown match: send one append per heartbeat and wait for the answer.
    case probe = 0
    /// Known match: stream appends optimistically, bounded by the inflights.
    case replicate = 1
    /// A snapshot is on its way; send nothing until it is reported.
    case snapshot = 2

    public var description: String {
        switch self {
        case .probe: "StateProbe"
        case .replicate: "StateReplicate"
        case .snapshot: "StateSnapshot"
        }
    }
}

/// The leader's view of one follower (Figure 2: nextIndex and matchIndex, plus flow control).
/// Invariants: `match < next`; in snapshot state `pendingSnapshot > 0`.
struct Progress {
    /// Highest index known replicated on the follower.
    var match: LogIndex
    /// Next index to send.
    var next: LogIndex
    var state: ProgressState = .probe
    /// Index of the snapshot in flight (snapshot state only).
    var pendingSnapshot: LogIndex = .zero
    /// Whether the follower has been heard from since the last check-quorum round.
    var recentActive = false
    /// In probe state: an append was sent and the next must wait for a heartbeat response.
    var probeSent = false
    /// In snapshot state: leader ticks since the snapshot was sent (retry bound).
    var snapshotElapsedTicks = 0
    var inflights: Inflights
    var isLearner: Bool

    init(next: LogIndex, maxInflightMsgs: Int, maxInflightBytes: Int, isLearner: Bool) {
        precondition(next > .zero, "next index must be positive")
        self.match = .zero
        self.next = next
        self.inflights = Inflights(maxCount: maxInflightMsgs, maxBytes: maxInflightBytes)
        self.isLearner = isLearner
    }

    private mutating func resetState(_ newState: ProgressState) {
        probeSent = false
        snapshotElapsedTicks = 0
        pendingSnapshot = .zero
        state = newState
        inflights.reset()
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            let pending = pendingSnapshot
            resetState(.probe)
            next = max(match + 1, pending + 1)
        } else {
            resetState(.probe)
            next = match + 1
        }
        precondition(match < next, "probe: match must be below next")
    }

    mutating func becomeReplicate() {
        resetState(.replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        resetState(.snapshot)
        pendingSnapshot = index
        precondition(index > .zero, "snapshot index must be positive")
    }

    /// Records that entries up to `lastIndex` (of `bytes`) were just sent.
    mutating func sentEntries(lastIndex: LogIndex, entryCount: Int, bytes: Int) {
        switch state {
        case .replicate:
            if entryCount > 0 {
                inflights.add(index: lastIndex, bytes: bytes)
                next = lastIndex + 1
            }
        case .probe:
            // One probe per round trip, empty or not: wait for its answer or a heartbeat.
            probeSent = true
        case .snapshot:
            preconditionFailure("sending entries in snapshot state")
        }
    }

    /// Handles an acknowledgement up to `index`; returns whether it taught us anything.
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        precondition(match < next, "match must stay below next")
        return updated
    }

    /// Handles a rejection of an append at `rejected` with the follower's hint `matchHint`.
    /// Returns false when the rejection is stale.
    mutating func maybeDecrTo(rejected: LogIndex, matchHint: LogIndex) -> Bool {
        if state == .replicate {
            // Stale if the rejected index is already below what we know matches.
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // In probe state only the latest probe (next - 1) counts.
        if next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        probeSent = false
        precondition(next > match, "backtracking passed match")
        return true
    }

    /// Whether appends to this follower must wait.
    var isPaused: Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflights.isFull
        case .snapshot: true
        }
    }
}

/// Everything the leader knows about its followers, and the vote tally while campaigning.
/// Node ids are iterated in ascending order only (never Dictionary order).
///
/// Progress is kept in a small array parallel to `nodeIDs` rather than a dictionary keyed
/// by node id: clusters have a handful of members, a linear scan over a few ids is cheaper
/// than hashing, and the leader looks progress up several times per message (the
/// simulator's profile showed NodeID hashing at 10 % of its time).
struct ProgressTracker {
    private(set) var membership: Membership
    /// All members, voters then learners, each ascending (`membership.allNodes`, cached:
    /// computing it allocates, and every broadcast iterates it).
    /// Invariant: equals `membership.allNodes`; changes only in `apply`.
    private(set) var nodeIDs: [NodeID] = []
    /// `progresses[i]` is the progress of `nodeIDs[i]`.
    /// Invariant: `progresses.count == nodeIDs.count`.
    private var progresses: [Progress] = []
    /// Votes received in the current election, by voter.
    private(set) var votes: [NodeID: Bool] = [:]
    let maxInflightMsgs: Int
    let maxInflightBytes: Int

    init(membership: Membership, maxInflightMsgs: Int, maxInflightBytes: Int) {
        self.membership = Membership()
        self.maxInflightMsgs = maxInflightMsgs
        self.maxInflightBytes = maxInflightBytes
        apply(membership, nextIndex: LogIndex(1))
    }

    /// Switches to a new configuration; new members start probing at `nextIndex`.
    mutating func apply(_ newMembership: Membership, nextIndex: LogIndex) {
        let ids = newMembership.allNodes
        var kept: [Progress] = []
        kept.reserveCapacity(ids.count)
        for id in ids {
            var progress = position(of: id).map { progresses[$0] }
                ?? Progress(next: nextIndex, maxInflightMsgs: maxInflightMsgs, maxInflightBytes: maxInflightBytes,
                            isLearner: false)
            progress.isLearner = newMembership.isLearner(id)
            kept.append(progress)
        }
        membership = newMembership
        nodeIDs = ids
        progresses = kept
        precondition(Set(nodeIDs).count == nodeIDs.count, "a member listed twice")
        checkShape()
    }

    /// Every member has exactly one progress. Checked where the shape changes, and cheap
    /// enough for the per-input invariant check.
    func checkShape() {
        precondition(progresses.count == nodeIDs.count, "member without progress")
    }

    /// Where `id` sits in `nodeIDs`, if it is a member.
    func position(of id: NodeID) -> Int? {
        for i in nodeIDs.indices where nodeIDs[i] == id { return i }
        return nil
    }

    subscript(id: NodeID) -> Progress? {
        get { position(of: id).map { progresses[$0] } }
        set {
            guard let newValue, let i = position(of: id) else {
                preconditionFailure("progress entries change only via apply")
            }
            progresses[i] = newValue
        }
    }

    /// The leader's per-follower invariants (see `Progress`), checked in place: copying
    /// each progress out (its inflights included) cost more than the checks.
    func checkLeaderInvariants(lastIndex: LogIndex, maxInflightMsgs: Int, canariesOn: Bool) {
        for i in progresses.indices {
            let peer = nodeIDs[i]
            let match = progresses[i].match, next = progresses[i].next
            precondition(match < next, "progress \(peer): match \(match) ≥ next \(next)")
            precondition(match <= lastIndex || canariesOn, "progress \(peer) beyond our log")
            precondition(progresses[i].inflights.count <= maxInflightMsgs, "inflights over bound")
            precondition(progresses[i].state != .snapshot || progresses[i].pendingSnapshot > .zero,
                         "snapshot state without snapshot")
        }
    }

    /// The match index of `id`, if it is a member (without copying its progress).
    func match(of id: NodeID) -> LogIndex? {
        position(of: id).map { progresses[$0].match }
    }

    /// Calls `body` with each member and its progress, in `nodeIDs` order.
    func forEach(_ body: (NodeID, Progress) -> Void) {
        for i in nodeIDs.indices { body(nodeIDs[i], progresses[i]) }
    }

    /// Resets every progress to probe at `next` (on becoming leader), except `selfID` which matches `selfMatch`.
    mutating func resetAll(next: LogIndex, selfID: NodeID, selfMatch: LogIndex) {
        for i in nodeIDs.indices {
            var p = Progress(next: next, maxInflightMsgs: maxInflightMsgs,
                             maxInflightBytes: maxInflightBytes, isLearner: membership.isLearner(nodeIDs[i]))
            if nodeIDs[i] == selfID {
                p.match = selfMatch
                p.next = max(next, selfMatch + 1)
                p.becomeReplicate()
            }
            progresses[i] = p
        }
    }

    /// The highest index replicated on a quorum of voters.
    func committedIndex() -> LogIndex {
        Quorum.committedIndex(membership) { match(of: $0) }
    }

    mutating func resetVotes() {
        if !votes.isEmpty { votes = [:] }
    }

    /// Records a vote; the first answer from a voter counts.
    mutating func recordVote(from id: NodeID, granted: Bool) {
        if votes[id] == nil { votes[id] = granted }
    }

    /// The election result among `electorate` (the configuration the campaign counts in).
    func voteResult(in electorate: Membership) -> VoteResult { Quorum.voteResult(electorate, votes: votes) }

    /// Whether a quorum of voters (counting `selfID`) was recently active.
    func quorumActive(selfID: NodeID) -> Bool {
        var active: [NodeID: Bool] = [:]
        for id in membership.allVoters { active[id] = id == selfID || (self[id]?.recentActive ?? false) }
        return Quorum.voteResult(membership, votes: active) == .won
    }

    /// Snapshots unanswered for `limitTicks` are presumed lost: probe again (which resends).
    /// Returns how many were given up on.
    mutating func tickSnapshots(limitTicks: Int) -> Int {
        var retried = 0
        for i in progresses.indices where progresses[i].state == .snapshot {
            progresses[i].snapshotElapsedTicks += 1
            if progresses[i].snapshotElapsedTicks >= limitTicks {
                progresses[i].pendingSnapshot = .zero
                progresses[i].becomeProbe()
                retried += 1
            }
        }
        return retried
    }

    mutating func clearRecentActive(except selfID: NodeID) {
        for i in nodeIDs.indices { progresses[i].recentActive = nodeIDs[i] == selfID }
    }
}
