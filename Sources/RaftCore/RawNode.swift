/// The public face of the Raft core: feed it inputs, collect a `Ready`, act on it, `advance`.
/// Single-threaded and synchronous; it never performs I/O, reads a clock or draws randomness
/// except from the generator given at creation. `step`/`tick`/proposals may be called between
/// `ready()` and `advance(_:)`, but a second `ready()` must wait for `advance(_:)`.
public struct RawNode {
    var raft: Raft
    private var lastSoftState: SoftState
    private var lastHardState: HardState
    private var readyOutstanding = false

    /// Creates a node from storage (fresh, or restarting with `config.appliedIndex`).
    /// `random` supplies election jitter; pass a seeded generator for reproducible runs.
    public init(config: RaftConfig, storage: any RaftLogStorage, random: any RandomNumberGenerator) {
        raft = Raft(config: config, storage: storage, random: random)
        lastSoftState = raft.softState
        lastHardState = raft.hardState
    }

    /// Advances logical time by one tick (elections, heartbeats, check-quorum).
    public mutating func tick() {
        raft.tick()
        verify()
    }

    /// Handles a message from a peer. Throws only for a misaddressed message.
    public mutating func step(_ message: Message) throws(RaftError) {
        // Not `defer { verify() }`: the compiler copied the whole node into the defer on
        // every message (a quarter of this call's cost in the simulator's profile).
        do { try raft.step(message) } catch {
            verify()
            throw error
        }
        verify()
    }

    /// Starts an election now (pre-vote first if enabled).
    public mutating func campaign() {
        raft.hup(transfer: false)
        verify()
    }

    /// Proposes opaque data. Only the leader accepts: otherwise `.notLeader(knownLeader:)`;
    /// beyond `maxUncommittedEntriesBytes`, during a transfer or after removal `.proposalDropped`.
    public mutating func propose(_ data: [UInt8]) throws(RaftError) {
        defer { verify() }
        try raft.propose(data)
    }

    /// Proposes a single-server membership change; one change may be pending at a time.
    public mutating func proposeMembershipChange(_ change: MembershipChange) throws(RaftError) {
        defer { verify() }
        try raft.proposeMembershipChange(.single(change))
    }

    /// Proposes several changes at once through joint consensus: the cluster enters a joint
    /// configuration (decisions need a majority of the old and of the new voters) and the
    /// leader leaves it automatically once entering is applied. Demotions are single-server only.
    public mutating func proposeJointMembershipChange(_ changes: [MembershipChange]) throws(RaftError) {
        defer { verify() }
        guard !changes.isEmpty && changes.count <= MembershipTransition.maxJointChanges else {
            throw .membershipChangeRefused(reason: "a joint change needs 1...\(MembershipTransition.maxJointChanges) changes")
        }
        try raft.proposeMembershipChange(.enterJoint(changes))
    }

    /// Requests a linearizable read point. The answer arrives as a `ReadState` with the same
    /// context in a later Ready (on this node, even when it is a follower).
    public mutating func readIndex(context: [UInt8]) throws(RaftError) {
        defer { verify() }
        try raft.readIndex(context: context)
    }

    /// Asks the leader (this node or the known one) to hand leadership to `target`.
    public mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        defer { verify() }
        try raft.transferLeadership(to: target)
    }

    /// Tells the leader the snapshot sent to `peer` was installed (or failed).
    public mutating func reportSnapshot(to peer: NodeID, succeeded: Bool) {
        raft.reportSnapshot(peer, succeeded: succeeded)
    }

    /// Tells the leader `peer` could not be reached; replication to it falls back to probing.
    public mutating func reportUnreachable(_ peer: NodeID) { raft.reportUnreachable(peer) }

    /// The highest index the application may compact storage up to (everything applied).
    /// After compaction, peers that need older entries are sent `storage.snapshot()` instead.
    public var compactableIndex: LogIndex { raft.log.applied }

    /// The membership in force (cheap: `status` builds a whole report).
    public var membership: Membership { raft.tracker.membership }

    /// The target of a leadership transfer in progress on this leader, if any.
    public var leadTransferee: NodeID? { raft.leadTransferee }

    /// Whether `ready()` has anything to hand out.
    public var hasReady: Bool {
        if readyOutstanding { return false }
        // Reads `raft` in place: copying the whole state here dominated the simulator's profile.
        return !raft.msgs.isEmpty || !raft.msgsAfterPersist.isEmpty || !raft.log.unstable.entries.isEmpty
            || raft.log.hasNextCommittedEntries || !raft.readStates.isEmpty || raft.log.unstable.snapshot != nil
            || raft.hardState != lastHardState || raft.softState != lastSoftState
    }

    /// `ready()` if there is anything to hand out, else nil. A mutating access: callers that
    /// keep the node in a class property avoid copying the whole state for the check.
    public mutating func readyIfAny() -> Ready? {
        hasReady ? ready() : nil
    }

    /// Collects the pending work. Must be followed by `advance(_:)` before the next call.
    public mutating func ready() -> Ready {
        precondition(!readyOutstanding, "ready() called twice without advance()")
        let soft = raft.softState
        let hard = raft.hardState
        let committed = raft.log.nextCommittedEntries(maxBytes: raft.config.maxCommittedSizePerReadyBytes)
        let hardChanged = hard != lastHardState
        let unstable = raft.log.unstable
        // Sync when entries, a snapshot, or term/vote must survive a crash; commit alone need not.
        let mustSync = !unstable.entries.isEmpty || unstable.snapshot != nil
            || hard.term != lastHardState.term || hard.vote != lastHardState.vote
        let rd = Ready(
            softState: soft != lastSoftState ? soft : nil,
            hardState: hardChanged ? hard : nil,
            entries: unstable.entries,
            snapshot: unstable.snapshot,
            mustSync: mustSync,
            messages: raft.msgs,
            messagesAfterPersist: raft.msgsAfterPersist,
            committedEntries: committed,
            readStates: raft.readStates)
        raft.msgs.removeAll()
        raft.msgsAfterPersist.removeAll()
        raft.readStates.removeAll()
        if let last = committed.last { raft.log.acceptApplying(upTo: last.index) }
        lastSoftState = soft
        lastHardState = hard
        readyOutstanding = true
        precondition(committed.allSatisfy { $0.index <= raft.log.committed }, "handing out uncommitted entries")
        return rd
    }

    /// Confirms that `ready` was persisted, sent and applied as documented on `Ready`.
    public mutating func advance(_ ready: Ready) {
        precondition(readyOutstanding, "advance() without ready()")
        readyOutstanding = false
        if let snap = ready.snapshot {
            raft.log.stableSnapshotTo(index: snap.metadata.index)
            if snap.metadata.index > raft.log.applied { raft.log.appliedTo(snap.metadata.index) }
        }
        if let last = ready.entries.last { raft.log.stableTo(index: last.index, term: last.term) }
        raft.selfAcknowledge()
        applyCommitted(ready.committedEntries)
        precondition(raft.log.applied <= raft.log.committed, "applied beyond commit")
        verify()
    }

    private func verify() {
        if raft.config.verifyInvariants { raft.checkInvariants() }
    }

    private mutating func applyCommitted(_ entries: [Entry]) {
        guard let last = entries.last else { return }
        for entry in entries where entry.kind == .membershipChange {
            if let transition = MembershipTransition(encoded: entry.data) { raft.applyMembershipChange(transition) }
        }
        raft.reduceUncommittedBytes(entries)
        raft.log.appliedTo(last.index)
        // With the pending change applied, a follower may campaign again, and the leader may
        // accept the next change or leave a joint configuration.
        raft.maybeAutoLeaveJoint()
    }

    /// Rare paths this node has taken since it was created (for simulation reports).
    public var coverage: RaftCoverage { raft.coverage }

    /// A snapshot of the node's state.
    public var status: RaftStatus {
        var progress: [(NodeID, FollowerProgress)] = []
        if raft.role == .leader {
            raft.tracker.forEach { id, p in
                progress.append((id, FollowerProgress(match: p.match, next: p.next, state: p.state,
                                                      inflightMsgs: p.inflights.count, isPaused: p.isPaused,
                                                      isLearner: p.isLearner)))
            }
            progress.sort { $0.0 < $1.0 }
        }
        return RaftStatus(id: raft.id, hardState: raft.hardState, softState: raft.softState,
                          applied: raft.log.applied, lastIndex: raft.log.lastIndex,
                          membership: raft.tracker.membership, progress: progress,
                          leadTransferee: raft.leadTransferee)
    }
}
