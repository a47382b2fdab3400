/// The Raft state machine: one node's term, vote, log, role and (as leader) follower progress.
/// Pure and synchronous: inputs are `step`, `tick` and the proposal calls; outputs accumulate in
/// `msgs`, `msgsAfterPersist`, `readStates` and the log's unstable tail until `RawNode.ready()`.
/// The role-specific behaviour lives in the `Raft+*.swift` files.
struct Raft {
    let config: RaftConfig
    var id: NodeID { config.id }

    /// Invariant: never decreases.
    var term: Term = .zero
    /// Invariant: set at most once per term (unless the double-vote canary is on).
    var vote: NodeID?
    var log: RaftLog
    var tracker: ProgressTracker
    var role: RaftRole = .follower
    var lead: NodeID?
    /// Target of a leadership transfer in progress (leader only).
    var leadTransferee: NodeID?
    /// Index of the latest membership-change entry; a new one waits until it is applied.
    var pendingConfIndex: LogIndex = .zero
    /// Payload bytes of entries appended this term and not yet applied (leader only).
    /// Invariant: `0 <= uncommittedBytes`.
    var uncommittedBytes = 0
    var readOnly: ReadOnly
    /// Read requests that arrived before the leader committed an entry of its term.
    /// Invariant: count ≤ `config.maxPendingReadIndexRequests`.
    var pendingReads: [(context: [UInt8], requester: NodeID)] = []
    /// Answered reads for the next Ready.
    var readStates: [ReadState] = []
    /// Messages that may leave at once.
    var msgs: [Message] = []
    /// Messages that may leave only after the next Ready's entries and hard state are durable.
    var msgsAfterPersist: [Message] = []
    var electionElapsedTicks = 0
    var heartbeatElapsedTicks = 0
    /// Invariant: in [electionTimeoutTicks, 2 × electionTimeoutTicks).
    var randomizedElectionTimeoutTicks: Int
    var rng: any RandomNumberGenerator
    /// The configuration the current campaign counts votes in (candidates only).
    var electorate: Membership?
    /// Rare paths taken (reported through `RawNode.coverage`).
    var coverage = RaftCoverage()

    init(config: RaftConfig, storage: any RaftLogStorage, random: any RandomNumberGenerator) {
        config.validate()
        self.config = config
        self.rng = random
        let initial = RaftLog.must { () throws(StorageError) in try storage.initialState() }
        self.log = RaftLog(storage: storage)
        self.tracker = ProgressTracker(membership: initial.membership, maxInflightMsgs: config.maxInflightMsgs,
                                       maxInflightBytes: config.maxInflightBytes)
        self.readOnly = ReadOnly(maxPending: config.maxPendingReadIndexRequests)
        self.randomizedElectionTimeoutTicks = config.electionTimeoutTicks
        restoreHardState(initial.hardState)
        restoreApplied(config.appliedIndex)
        becomeFollower(term: term, leader: nil)
    }

    private mutating func restoreHardState(_ hs: HardState) {
        precondition(hs.commit <= log.lastIndex, "hard state commit \(hs.commit) beyond last index \(log.lastIndex)")
        term = hs.term
        vote = hs.vote
        log.commitTo(hs.commit)
    }

    /// A commit-only hard state change needs no sync, so after a crash the durable commit may
    /// lag what the application applied; anything applied was committed, so commit catches up.
    private mutating func restoreApplied(_ applied: LogIndex) {
        guard applied > log.applied else { return }
        precondition(applied <= log.lastIndex, "applied index \(applied) beyond the durable log \(log.lastIndex)")
        log.commitTo(applied)
        log.appliedTo(applied)
    }

    var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    var softState: SoftState { SoftState(leader: lead, role: role) }

    /// Whether this node may campaign: it is a voter in the configuration it knows.
    var isPromotable: Bool { tracker.membership.isVoter(id) }

    /// Last index durably persisted (what a leader may count for itself).
    var persistedLastIndex: LogIndex {
        log.unstable.snapshot == nil ? log.unstable.offset - 1 : .zero
    }

    // MARK: Role transitions

    mutating func becomeFollower(term newTerm: Term, leader: NodeID?) {
        reset(term: newTerm)
        lead = leader
        role = .follower
    }

    mutating func becomePreCandidate() {
        precondition(role != .leader, "invalid transition leader -> pre-candidate")
        // Pre-vote changes neither term nor vote: a failed pre-campaign leaves no trace.
        tracker.resetVotes()
        lead = nil
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        precondition(role != .leader, "invalid transition leader -> candidate")
        reset(term: term.next)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        precondition(role == .candidate, "invalid transition \(role) -> leader")
        reset(term: term)
        role = .leader
        lead = id
        tracker.resetAll(next: log.lastIndex + 1, selfID: id, selfMatch: persistedLastIndex)
        // Entries up to here may hide an unapplied membership change; wait for them before another.
        pendingConfIndex = log.lastIndex
        // The empty entry commits earlier terms' entries indirectly (§5.4.2) and enables ReadIndex.
        let empty = Entry(term: term, index: log.lastIndex + 1)
        appendAsLeader([empty])
        uncommittedBytes = 0
    }

    private mutating func reset(term newTerm: Term) {
        precondition(newTerm >= term, "term went backwards \(term) -> \(newTerm)")
        if newTerm != term {
            term = newTerm
            vote = nil
        }
        lead = nil
        electionElapsedTicks = 0
        heartbeatElapsedTicks = 0
        resetRandomizedElectionTimeout()
        leadTransferee = nil
        electorate = nil
        tracker.resetVotes()
        pendingConfIndex = .zero
        uncommittedBytes = 0
        readOnly.reset()
        pendingReads.removeAll()
    }

    mutating func resetRandomizedElectionTimeout() {
        let base = config.electionTimeoutTicks
        // Jitter comes only from the injected generator (`rng`), never from ambient randomness.
        randomizedElectionTimeoutTicks = config.electionJitterDisabled ? base : base + Int(rng.next(upperBound: UInt64(base)))
        precondition(randomizedElectionTimeoutTicks >= base && randomizedElectionTimeoutTicks < 2 * base,
                     "randomized timeout out of range")
    }

    // MARK: Sending

    /// Queues `m` from this node, stamping the current term unless the caller set one.
    /// Responses that promise durable state go to `msgsAfterPersist`.
    mutating func send(_ message: consuming Message) {
        // Consumed: callers build the message for this call, and copying it into the
        // outbox (twice, as a parameter) showed in the simulator's profile.
        var m = message
        precondition(m.to != id, "sending to self")
        m.from = id
        if m.term == .zero { m.term = term }
        // CANARY ackBeforeSync: acknowledgements leave before the state they promise is durable.
        if m.type.needsPersistBeforeSend && !config.has(.ackBeforeSync) {
            msgsAfterPersist.append(consume m)
        } else {
            msgs.append(consume m)
        }
    }

    /// Appends entries as leader: assigns term and index; a leader only ever appends at its tail.
    mutating func appendAsLeader(_ entries: [Entry]) {
        precondition(role == .leader, "only a leader appends proposals")
        var entries = entries
        let last = log.lastIndex
        for i in entries.indices {
            entries[i].term = term
            entries[i].index = last + UInt64(i + 1)
        }
        let newLast = log.append(entries)
        precondition(newLast == last + UInt64(entries.count), "leader truncated its own log")
    }
}
