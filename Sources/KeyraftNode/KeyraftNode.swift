@_spi(Canaries) import KMS
import KeyraftCrypto
@_spi(Canaries) import RaftCore

/// One Keyraft node: the Raft core, the KMS state machine, and the glue between them.
///
/// Single-threaded and synchronous: the runtime (or the simulator) calls `tick()`,
/// `receive(_:from:)` and `submit(_:principal:completion:)` from one thread, and every
/// call runs the Ready loop — persist, send, apply, advance — before it returns.
/// Completions run inside these calls.
public final class KeyraftNode {
    public let id: NodeID
    public let config: NodeConfig
    public let kms: KMSService
    /// Unchecked by the runtime's exclusivity enforcement: every access is one call into
    /// the core, which calls out only to `storage` (reads) and its random generator, and
    /// neither holds this node, so no access to `raft` can begin while another is active.
    /// Checked, this was the most frequent runtime exclusivity check of a simulation.
    @exclusivity(unchecked) var raft: RawNode
    let storage: any NodeStorage
    let network: any PeerNetwork
    let clock: any NodeClock
    let entropy: any EntropySource
    /// Drawn at start: entries proposed by an earlier life of this node never complete
    /// a request of this one.
    let incarnation: UInt64

    // `@exclusivity(unchecked)` marks state no two accesses of which can overlap, so the
    // runtime exclusivity check (a thread-local lookup per access, several per Raft input;
    // docs/BENCHMARKS.md, "Simulator speed") could never fire: scalars, whose every access
    // is one load or store; the read queues and the lease, whose accesses call only pure
    // predicates and struct methods (completions and re-submissions always run on a copy
    // taken before, never inside an access); and the Raft core (see `raft`). The write
    // table and the forwarding memory keep the check.
    @exclusivity(unchecked) var ticks: UInt64 = 0
    @exclusivity(unchecked) var nextSequence: UInt64 = 1
    /// Writes waiting for their entry to be applied here (or for the leader to refuse them).
    var pendingWrites: [UInt64: PendingRequest] = [:]
    /// Reads waiting for the lease, or for their ReadIndex batch to be applied.
    @exclusivity(unchecked) var pendingReads: [PendingRead] = []
    /// ReadIndex rounds in flight or answered: sequence, answer, the tick it was sent.
    @exclusivity(unchecked) var readBatches: [(sequence: UInt64, index: LogIndex?, sentTick: UInt64)] = []
    @exclusivity(unchecked) var lease: ReadLease
    /// Keys the scheduler has a maintenance command in flight for, until the given tick.
    var maintenanceInFlight: [KeyID: UInt64] = [:]
    @exclusivity(unchecked) var lastSnapshotIndex: LogIndex
    /// Set by the server: periodic snapshots are then written off the node's thread.
    public var snapshotWriter: (any SnapshotWriter)?
    /// The index of the snapshot `snapshotWriter` is writing; one at a time.
    private var snapshotInFlight: LogIndex?
    @exclusivity(unchecked) public private(set) var softState = SoftState(leader: nil, role: .follower)
    /// The last hard state handed out for persistence.
    @exclusivity(unchecked) private var lastHardState = HardState()
    /// True between `ready()` and `advance()`, when the core must not be re-entered.
    @exclusivity(unchecked) private var handlingReady = false
    /// True inside `batch(_:)`: events wait for one Ready pass at its end.
    @exclusivity(unchecked) private var batching = false
    /// Submissions made by completions while a Ready was being handled.
    @exclusivity(unchecked) private var deferredSubmissions: [(NodeRequest, Principal, NodeCompletion)] = []
    /// Forwarded writes already proposed, until the given tick: a duplicated forward
    /// message must not apply a write twice. Kept for the origin's request timeout plus an
    /// election timeout (the origin never re-sends after its timeout), bounded by
    /// `forwardedWritesRememberedMax`: the leader's forwarded write rate is at most this
    /// bound over that window.
    private var recentForwards: [RequestOrigin: UInt64] = [:]
    /// When this node last became leader (monotonic ms); nil while it is not the leader.
    @exclusivity(unchecked) private var leaderSinceMs: Int64?
    /// When this leader last started a leadership transfer (monotonic ms).
    @exclusivity(unchecked) private var transferStartedMs: Int64 = .min
    /// Set when the known leader changed during a Ready: in-flight writes are failed after
    /// that Ready's committed entries are applied (those may complete some of them).
    @exclusivity(unchecked) private var failInFlightWrites = false
    /// Set when storage failed or a committed entry did not decode: the node stops.
    @exclusivity(unchecked) public private(set) var haltReason: String?
    /// Observers for the simulator's checkers and for metrics; never change behaviour.
    public var onApply: ((Entry) -> Void)?
    public var onRoleChange: ((SoftState) -> Void)?
    /// Called with each hard state the node persists, before it is persisted.
    public var onHardState: ((HardState) -> Void)?

    struct PendingRequest {
        let request: NodeRequest
        let deadlineTick: UInt64
        let completion: NodeCompletion
    }

    struct PendingRead {
        let request: KMSReadRequest
        let principal: Principal
        let deadlineTick: UInt64
        /// True when the read waits for a ReadIndex round rather than for the lease.
        let needsReadIndex: Bool
        var batch: UInt64?
        let completion: NodeCompletion
    }

    public init(config: NodeConfig, kmsConfig: KMSConfig, rootKey: SecretBytes?, storage: any NodeStorage,
                network: any PeerNetwork, clock: any NodeClock, entropy: any EntropySource,
                random: any RandomNumberGenerator) throws(StorageError) {
        self.id = config.id
        self.config = config
        self.storage = storage
        self.network = network
        self.clock = clock
        self.entropy = entropy
        kms = KMSService(config: kmsConfig, rootKey: rootKey)
        if config.canaries.contains(.rotationDropsOldVersion) { kms.enableRotationDropsOldVersionCanary() }
        var word: UInt64 = 0
        let drawn = withUnsafeMutableBytes(of: &word) { (try? entropy.fill($0)) != nil }
        // Without entropy a node can create no key and no nonce; it must not start at all.
        precondition(drawn, "the entropy source failed at start")
        incarnation = word
        let snapshot = try storage.snapshot()
        if !snapshot.data.isEmpty {
            do { try kms.restore(snapshot: snapshot.data) } catch {
                throw StorageError.corrupted("snapshot at index \(snapshot.metadata.index) does not decode: \(error)")
            }
        }
        lastSnapshotIndex = snapshot.metadata.index
        appliedIndex = snapshot.metadata.index
        var raftConfig = RaftConfig(id: config.id)
        raftConfig.electionTimeoutTicks = config.electionTimeoutTicks
        raftConfig.heartbeatTimeoutTicks = config.heartbeatTimeoutTicks
        raftConfig.maxSizePerMsgBytes = config.maxSizePerMsgBytes
        raftConfig.maxInflightMsgs = config.maxInflightMsgs
        raftConfig.appliedIndex = snapshot.metadata.index
        raftConfig.canaries = config.raftCanaries
        raftConfig.verifyInvariants = config.verifyInvariants
        raft = RawNode(config: raftConfig, storage: storage, random: random)
        switch config.readConsistency {
        case let .lease(maxStalenessMs): lease = ReadLease(maxStalenessMs: maxStalenessMs)
        case .linearizable: lease = ReadLease(maxStalenessMs: 1)
        }
        precondition(config.requestTimeoutTicks > 0 && config.pendingRequestsMax > 0)
    }

    public var isHalted: Bool { haltReason != nil }
    public var status: RaftStatus { raft.status }
    /// The last index applied to the KMS state (kept here: `raft.status` builds a whole report).
    @exclusivity(unchecked) public private(set) var appliedIndex: LogIndex
    public func leaseIsValid() -> Bool { lease.isValid(nowMs: clock.monotonicMs) }

    // MARK: Events

    /// Advances time by one tick: Raft timers, lease refresh, the scheduler, request timeouts.
    public func tick() {
        guard !isHalted else { return }
        ticks += 1
        raft.tick()
        // The lease mode refreshes on every node; the leader also does in linearizable mode,
        // where the round confirms its leadership for refusing writes (`leaderRecentlyConfirmed`).
        let refreshes: Bool
        if case .lease = config.readConsistency { refreshes = true } else { refreshes = softState.role == .leader }
        if refreshes, ticks % UInt64(config.leaseRefreshTicks) == 0 {
            refreshLease()
        }
        if softState.role == .leader, ticks % UInt64(config.schedulerIntervalTicks) == 0 {
            runScheduler()
        }
        expireRequests()
        if !batching { drain() }
    }

    /// Handles a message from a peer.
    public func receive(_ message: PeerMessage, from peer: NodeID) {
        guard !isHalted else { return }
        switch message {
        case let .raft(raftMessage):
            guard raftMessage.from == peer, raftMessage.to == id else { return }
            try? raft.step(raftMessage)
        case let .forward(write):
            // Only a current member may hand in a client's write (and vouch for its principal):
            // a removed node's certificate may still be valid.
            let members = raft.membership
            guard write.origin.node == peer, members.isVoter(peer) || members.isLearner(peer) else { return }
            proposeForwarded(write)
        case let .forwardFailed(origin, error):
            guard origin.node == id, origin.incarnation == incarnation else { return }
            pendingWrites.removeValue(forKey: origin.sequence)?.completion(.failure(error))
        }
        if !batching { drain() }
    }

    /// Accepts a client request. The completion runs exactly once, possibly before this returns.
    /// A completion may submit the next request at once: a submission made while a Ready is
    /// being handled is queued and taken up when that Ready is done.
    public func submit(_ request: NodeRequest, principal: Principal, completion: @escaping NodeCompletion) {
        if handlingReady {
            guard deferredSubmissions.count < config.pendingRequestsMax else {
                completion(.failure(KMSError(.dependencyTimeout, "Too many requests are waiting on this node. Retry later.")))
                return
            }
            deferredSubmissions.append((request, principal, completion))
            return
        }
        guard !isHalted else {
            completion(.failure(KMSError(.dependencyTimeout, "This node has stopped. Use another node.")))
            return
        }
        guard pendingWrites.count + pendingReads.count < config.pendingRequestsMax else {
            completion(.failure(KMSError(.dependencyTimeout, "Too many requests are waiting on this node. Retry later.")))
            return
        }
        switch request {
        case let .write(write): submitWrite(write, principal: principal, completion: completion)
        case let .read(read): submitRead(read, principal: principal, completion: completion)
        }
        if !batching { drain() }
    }

    /// Runs `body` — several `tick`, `receive` and `submit` calls — with one Ready pass at
    /// its end, so the entries they append share one synced write and their messages one
    /// flush. The production runtime batches whatever arrived during one event-loop turn;
    /// the simulator delivers events one at a time.
    public func batch(_ body: () -> Void) {
        precondition(!batching && !handlingReady, "batches do not nest and cannot start inside a Ready")
        batching = true
        body()
        batching = false
        drain()
    }

    // MARK: Membership

    /// Proposes adding, promoting or removing a node (leader only; one change at a time).
    /// The change takes effect on each node when its entry is applied.
    public func proposeMembershipChange(_ change: MembershipChange) throws(RaftError) {
        precondition(!isHalted, "membership change on a stopped node")
        try raft.proposeMembershipChange(change)
        drain()
    }

    /// Hands leadership to `target` (on the leader; a follower forwards the request).
    public func transferLeadership(to target: NodeID) throws(RaftError) {
        precondition(!isHalted, "leadership transfer on a stopped node")
        try raft.transferLeadership(to: target)
        if softState.role == .leader { transferStartedMs = clock.monotonicMs }
        drain()
    }

    /// Snapshots the applied state now and compacts the log behind it, keeping the last
    /// `keepingEntries` (default `entriesKeptAfterSnapshot`). Returns the snapshot's index.
    @discardableResult
    public func snapshotNow(keepingEntries: Int? = nil) -> LogIndex {
        precondition(!handlingReady && !batching, "snapshotNow runs between events")
        precondition(keepingEntries ?? 0 >= 0, "cannot keep a negative number of entries")
        maybeSnapshot(force: true, keep: keepingEntries)
        return lastSnapshotIndex
    }

    // MARK: Writes

    private func submitWrite(_ write: KMSWriteRequest, principal: Principal, completion: @escaping NodeCompletion) {
        let origin = RequestOrigin(node: id, incarnation: incarnation, sequence: nextSequence)
        nextSequence += 1
        pendingWrites[origin.sequence] = PendingRequest(request: .write(write),
                                                        deadlineTick: ticks + UInt64(config.requestTimeoutTicks),
                                                        completion: completion)
        if softState.role == .leader {
            if let error = propose(write, principal: principal, origin: origin) {
                pendingWrites.removeValue(forKey: origin.sequence)?.completion(.failure(error))
            }
        } else if let leader = softState.leader {
            network.send(.forward(ForwardedWrite(origin: origin, request: write, principal: principal)), to: leader)
        } else {
            pendingWrites.removeValue(forKey: origin.sequence)?.completion(.failure(noLeader()))
        }
    }

    private func proposeForwarded(_ write: ForwardedWrite) {
        guard recentForwards[write.origin] == nil else { return }  // a duplicate of one already proposed
        guard recentForwards.count < config.forwardedWritesRememberedMax else {
            network.send(.forwardFailed(origin: write.origin, error: KMSError(
                .dependencyTimeout, "The leader has too many forwarded writes in flight. Retry later.")), to: write.origin.node)
            return
        }
        if let error = propose(write.request, principal: write.principal, origin: write.origin) {
            network.send(.forwardFailed(origin: write.origin, error: error), to: write.origin.node)
        } else {
            recentForwards[write.origin] = ticks + UInt64(config.requestTimeoutTicks + config.electionTimeoutTicks)
        }
    }

    /// Prepares and proposes one write on the leader; returns the error to answer with, if any.
    private func propose(_ write: KMSWriteRequest, principal: Principal, origin: RequestOrigin) -> KMSError? {
        guard softState.role == .leader else { return noLeader() }
        // Validation and authorization read the state: it must hold every committed entry,
        // or a new leader would judge a write against a state missing acknowledged changes
        // (a revoked policy, a created key). Until then the client retries.
        guard leaderStateIsCurrent() else {
            return KMSError(.dependencyTimeout, "The new leader is catching up with committed changes. Retry shortly.")
        }
        let command: KMSCommand
        do {
            command = try kms.prepare(write, principal: principal, now: Timestamp(milliseconds: clock.nowMs),
                                      entropy: entropy)
        } catch {
            // A refusal is final only if this node is still the leader: a deposed leader that
            // has not noticed yet (cut off, paused) would judge against a stale state, e.g.
            // "not found" for a key its successor created. Accepted writes need no such check:
            // they only take effect if they commit.
            guard leaderRecentlyConfirmed() else {
                if !lease.hasRoundInFlight { refreshLease() }
                return KMSError(.dependencyTimeout, "The leader could not confirm its leadership just now. Retry.")
            }
            return error
        }
        do {
            try raft.propose(EntryEnvelope(origin: origin, command: command).encoded())
            return nil
        } catch {
            return KMSError(.dependencyTimeout, "The leader could not accept the write (\(error)). Retry.")
        }
    }

    /// True when a majority acknowledged this node's leadership after a moment less than
    /// 80 % of an election timeout ago. Followers that acknowledged a leader grant no vote
    /// for an election timeout (check-quorum), so no other leader can exist yet; the margin
    /// covers clock rates that differ by up to 10 %.
    ///
    /// A leadership transfer breaks that argument (the target's election is forced past the
    /// followers' check), so while one runs, and until a round sent an election timeout after
    /// it started, this leader does not count as confirmed.
    public var isConfirmedLeader: Bool { leaderRecentlyConfirmed() && leaderStateIsCurrent() }

    private func leaderRecentlyConfirmed() -> Bool {
        guard let since = leaderSinceMs, raft.leadTransferee == nil else { return false }
        let confirmed = lease.confirmedSentAtMs
        let electionMs = Int64(config.electionTimeoutTicks) * config.tickMs
        guard confirmed >= since, transferStartedMs == .min || confirmed > transferStartedMs + electionMs else { return false }
        return clock.monotonicMs - confirmed < electionMs * 8 / 10
    }

    /// True when this leader has committed an entry of its own term and applied everything
    /// committed: only then does its state reflect every acknowledged write.
    private func leaderStateIsCurrent() -> Bool {
        let commit = lastHardState.commit
        guard appliedIndex >= commit, let term = try? storage.term(at: commit) else { return false }
        return term == lastHardState.term
    }

    private func noLeader() -> KMSError {
        KMSError(.dependencyTimeout, "The cluster has no leader at the moment. Retry shortly.")
    }

    // MARK: Reads

    private func submitRead(_ read: KMSReadRequest, principal: Principal, completion: @escaping NodeCompletion) {
        guard case .lease = config.readConsistency else {
            enqueueRead(read, principal: principal, needsReadIndex: true, completion: completion)
            return
        }
        if canServeUnderLease() {
            serveUnderLease(read, principal: principal, completion: completion)
        } else {
            enqueueRead(read, principal: principal, needsReadIndex: false, completion: completion)
            refreshLease()
        }
    }

    private func enqueueRead(_ read: KMSReadRequest, principal: Principal, needsReadIndex: Bool,
                             completion: @escaping NodeCompletion) {
        pendingReads.append(PendingRead(request: read, principal: principal,
                                        deadlineTick: ticks + UInt64(config.requestTimeoutTicks),
                                        needsReadIndex: needsReadIndex, batch: nil, completion: completion))
    }

    /// Serves from local state. If the answer is "not found" (a key, alias or key version
    /// this node may simply not have applied yet), it first catches up with one ReadIndex
    /// round, so a client never gets a final error that a fresher node would not give.
    private func serveUnderLease(_ read: KMSReadRequest, principal: Principal, completion: @escaping NodeCompletion) {
        let result = serve(read, principal: principal)
        if case let .failure(error) = result, error.mayReflectStaleState {
            enqueueRead(read, principal: principal, needsReadIndex: true, completion: completion)
        } else {
            completion(result)
        }
    }

    private func canServeUnderLease() -> Bool {
        lease.isValid(nowMs: clock.monotonicMs) || config.canaries.contains(.leaseIgnoresStaleness) && lease.validUntilMs > .min
    }

    private func serve(_ read: KMSReadRequest, principal: Principal) -> Result<NodeResponse, KMSError> {
        do {
            return .success(.read(try kms.execute(read, principal: principal, entropy: entropy)))
        } catch {
            return .failure(error)
        }
    }

    private func refreshLease() {
        try? raft.readIndex(context: lease.beginRefresh(nowMs: clock.monotonicMs, node: id.rawValue, incarnation: incarnation))
    }

    /// One ReadIndex round for every read that needs one and is not yet in a batch.
    private func startReadBatch() {
        guard pendingReads.contains(where: { $0.needsReadIndex && $0.batch == nil }) else { return }
        let sequence = nextSequence
        nextSequence += 1
        let context = ReadContext(kind: .batch, node: id.rawValue, incarnation: incarnation, sequence: sequence)
        do {
            try raft.readIndex(context: context.encoded)
        } catch {
            return  // No leader known: the reads wait for the next attempt or their deadline.
        }
        readBatches.append((sequence, nil, ticks))
        for i in pendingReads.indices where pendingReads[i].needsReadIndex && pendingReads[i].batch == nil {
            pendingReads[i].batch = sequence
        }
    }

    /// Serves every waiting read that is now safe to serve.
    private func serveReadyReads() {
        guard !pendingReads.isEmpty else {
            readBatches.removeAll()  // no read waits on any round
            return
        }
        let applied = appliedIndex
        let leaseValid = canServeUnderLease()
        let current = pendingReads
        pendingReads = []
        for read in current {
            if read.needsReadIndex {
                let caughtUp = readBatches.contains { $0.sequence == read.batch && $0.index.map { $0 <= applied } == true }
                if caughtUp { read.completion(serve(read.request, principal: read.principal)) } else { pendingReads.append(read) }
            } else if leaseValid {
                serveUnderLease(read.request, principal: read.principal, completion: read.completion)
            } else {
                pendingReads.append(read)
            }
        }
        // A batch no read waits on is done, answered or not (a late answer is then ignored).
        readBatches.removeAll { batch in !pendingReads.contains { $0.batch == batch.sequence } }
    }

    // MARK: Timeouts and the scheduler

    /// Runs on every tick; the collections are rebuilt only when something expired (most
    /// ticks nothing does, and rebuilding the dictionaries showed in the simulator's profile).
    private func expireRequests() {
        if pendingWrites.values.contains(where: { $0.deadlineTick <= ticks }) {
            let expired = pendingWrites.filter { $0.value.deadlineTick <= ticks }.keys.sorted()
            for sequence in expired {
                pendingWrites.removeValue(forKey: sequence)?.completion(.failure(
                    KMSError(.dependencyTimeout, "The write was not confirmed in time; it may or may not have been applied.")))
            }
        }
        if pendingReads.contains(where: { $0.deadlineTick <= ticks }) {
            var kept: [PendingRead] = []
            for read in pendingReads {
                if read.deadlineTick <= ticks {
                    read.completion(.failure(KMSError(.dependencyTimeout,
                                                      "This node could not confirm fresh state in time. Retry, or use another node.")))
                } else {
                    kept.append(read)
                }
            }
            pendingReads = kept
        }
        // A ReadIndex round unanswered for an election timeout was lost (a dropped message, a
        // leader change): its reads go back into the next round.
        let isStale = { (batch: (sequence: UInt64, index: LogIndex?, sentTick: UInt64)) in
            batch.index == nil && batch.sentTick + UInt64(self.config.electionTimeoutTicks) <= self.ticks
        }
        if readBatches.contains(where: isStale) {
            let staleBatches = readBatches.filter(isStale)
            for batch in staleBatches {
                for i in pendingReads.indices where pendingReads[i].batch == batch.sequence { pendingReads[i].batch = nil }
            }
            readBatches.removeAll { batch in staleBatches.contains { $0.sequence == batch.sequence } }
        }
        assert(readBatches.count <= pendingReads.count + 1, "read batches are bounded by the reads waiting on them")
        // Removed in place: rebuilding a leader's forwarded-write memory on every tick
        // re-hashed every entry (the simulator's profile).
        for key in maintenanceInFlight.compactMap({ $0.value <= ticks ? $0.key : nil }) {
            maintenanceInFlight.removeValue(forKey: key)
        }
        for origin in recentForwards.compactMap({ $0.value <= ticks ? $0.key : nil }) {
            recentForwards.removeValue(forKey: origin)
        }
        assert(!recentForwards.values.contains { $0 <= ticks }, "expired forwards are forgotten")
    }

    private func runScheduler() {
        let now = Timestamp(milliseconds: clock.nowMs)
        let due = kms.dueMaintenance(now: now, entropy: entropy, limit: config.maintenancePerRoundMax)
        for command in due {
            guard let key = command.keyID, maintenanceInFlight[key] == nil else { continue }
            do {
                try raft.propose(EntryEnvelope(origin: nil, command: command).encoded())
                maintenanceInFlight[key] = ticks + UInt64(config.requestTimeoutTicks)
            } catch {
                return
            }
        }
    }

    // MARK: The Ready loop

    /// Runs Ready rounds until the core has nothing more: persist, send, apply, advance.
    func drain() {
        // Two passes: serving reads may send some back for a ReadIndex catch-up round.
        for _ in 0..<2 {
            startReadBatch()
            var rounds = 0
            while !isHalted, let ready = raft.readyIfAny() {
                rounds += 1
                precondition(rounds <= 10_000, "the Ready loop does not converge")
                handlingReady = true
                handle(ready)
                handlingReady = false
            }
            guard !isHalted else {
                failDeferredSubmissions()
                return
            }
            serveReadyReads()
            takeUpDeferredSubmissions()
            // A second pass only if serving sent reads back for a catch-up round.
            guard pendingReads.contains(where: { $0.needsReadIndex && $0.batch == nil }) else { return }
        }
    }

    /// Runs the submissions completions made while a Ready was handled (bounded: each one
    /// came from a completed request, and there are at most `pendingRequestsMax`).
    private func takeUpDeferredSubmissions() {
        guard !deferredSubmissions.isEmpty else { return }
        let queued = deferredSubmissions
        deferredSubmissions.removeAll()
        for (request, principal, completion) in queued { submit(request, principal: principal, completion: completion) }
    }

    private func failDeferredSubmissions() {
        let queued = deferredSubmissions
        deferredSubmissions.removeAll()
        for (_, _, completion) in queued {
            completion(.failure(KMSError(.dependencyTimeout, "This node has stopped. Use another node.")))
        }
    }

    private func handle(_ ready: Ready) {
        if let soft = ready.softState { becomeRole(soft) }
        if let hardState = ready.hardState {
            onHardState?(hardState)
            lastHardState = hardState
        }
        sendAll(ready.messages)
        do {
            try storage.persist(hardState: ready.hardState, entries: ready.entries, snapshot: ready.snapshot,
                                sync: ready.mustSync)
        } catch {
            halt("storage failed: \(error)")
            return
        }
        sendAll(ready.messagesAfterPersist)
        if let snapshot = ready.snapshot, !snapshot.data.isEmpty {
            do { try kms.restore(snapshot: snapshot.data) } catch {
                halt("snapshot at index \(snapshot.metadata.index) does not decode: \(error)")
                return
            }
            lastSnapshotIndex = snapshot.metadata.index
            appliedIndex = max(appliedIndex, snapshot.metadata.index)
        }
        for entry in ready.committedEntries {
            apply(entry)
            if isHalted { return }  // never apply past an entry that failed, nor snapshot such a state
        }
        if let last = ready.committedEntries.last { appliedIndex = max(appliedIndex, last.index) }
        if failInFlightWrites {
            failInFlightWrites = false
            let error = KMSError(.dependencyTimeout, "The leader changed while this write was in flight; it may or may not have been applied. Retry.")
            for sequence in pendingWrites.keys.sorted() { pendingWrites.removeValue(forKey: sequence)?.completion(.failure(error)) }
        }
        for state in ready.readStates { readIndexAnswered(state) }
        raft.advance(ready)
        assert(appliedIndex == raft.status.applied, "the driver's applied index matches the core's")
        lease.applied(upTo: appliedIndex)
        maybeSnapshot()
    }

    private func sendAll(_ messages: [Message]) {
        for message in messages { network.send(.raft(message), to: message.to) }
    }

    private func becomeRole(_ soft: SoftState) {
        let wasLeader = softState.role == .leader
        let leaderChanged = soft.leader != softState.leader
        if soft.role == .leader, !wasLeader { leaderSinceMs = clock.monotonicMs }
        if soft.role != .leader { leaderSinceMs = nil }
        softState = soft
        if wasLeader, soft.role != .leader { maintenanceInFlight.removeAll() }
        // Writes in flight went to (or were proposed by) a leader that is gone: answer them
        // now with a retryable error instead of at their timeout, so clients move on to the
        // new leader within an election rather than a request timeout. Like a timeout, the
        // answer is ambiguous: the old leader's entry may still commit.
        if leaderChanged, !pendingWrites.isEmpty { failInFlightWrites = true }
        onRoleChange?(soft)
    }

    private func apply(_ entry: Entry) {
        onApply?(entry)
        guard entry.kind == .normal, !entry.data.isEmpty else { return }
        let envelope: EntryEnvelope
        do { envelope = try EntryEnvelope(decoding: entry.data) } catch {
            halt("committed entry \(entry.index) does not decode: \(error)")
            return
        }
        var command = envelope.command
        if config.canaries.contains(.applyReadsLocalClock) { command = command.restamped(Timestamp(milliseconds: clock.nowMs)) }
        let result = kms.apply(command)
        if let key = command.keyID, envelope.origin == nil { maintenanceInFlight[key] = nil }
        guard let origin = envelope.origin, origin.node == id, origin.incarnation == incarnation,
              let pending = pendingWrites.removeValue(forKey: origin.sequence),
              case let .write(request) = pending.request
        else { return }
        switch result {
        case .success: pending.completion(.success(.write(kms.response(to: request, command: command))))
        case let .failure(error): pending.completion(.failure(error))
        }
    }

    private func readIndexAnswered(_ state: ReadState) {
        guard let context = ReadContext(state.requestContext), context.node == id.rawValue,
              context.incarnation == incarnation
        else { return }  // not ours, or an answer meant for an earlier life of this node
        switch context.kind {
        case .lease: lease.answered(sequence: context.sequence, index: state.index)
        case .batch:
            if let i = readBatches.firstIndex(where: { $0.sequence == context.sequence }) { readBatches[i].index = state.index }
        }
    }

    private func maybeSnapshot(force: Bool = false, keep kept: Int? = nil) {
        let applied = appliedIndex
        guard !isHalted, applied > lastSnapshotIndex else { return }
        guard force || applied.rawValue >= lastSnapshotIndex.rawValue + UInt64(config.snapshotEveryEntries) else { return }
        // One background snapshot at a time; the next applied entry asks again once it is written.
        if !force, snapshotWriter != nil, snapshotInFlight != nil { return }
        let keep = UInt64(kept ?? config.entriesKeptAfterSnapshot)
        let compactTo = applied.rawValue > keep ? LogIndex(applied.rawValue - keep) : LogIndex.zero
        let term: Term
        do { term = try storage.term(at: applied) } catch {
            halt("storage has no term for applied index \(applied): \(error)")
            return
        }
        let metadata = SnapshotMetadata(index: applied, term: term, membership: raft.status.membership)
        if !force, let writer = snapshotWriter {
            assert(snapshotInFlight == nil, "checked above")
            snapshotInFlight = applied
            // The state is a value: handing it over is O(1). While the writer holds it, the
            // first write to each of its collections copies that collection (O(n), here).
            writer.write(kms.state, metadata: metadata, compactUpTo: compactTo) { [weak self] result in
                self?.snapshotWritten(at: applied, result)
            }
            return
        }
        let snapshot = Snapshot(metadata: metadata, data: kms.snapshot())
        do {
            try storage.saveSnapshot(snapshot, compactUpTo: compactTo)
            lastSnapshotIndex = applied
        } catch {
            halt("storage failed while saving a snapshot: \(error)")
        }
    }

    private func snapshotWritten(at index: LogIndex, _ result: Result<Bool, StorageError>) {
        precondition(snapshotInFlight == index, "a background snapshot finished that was not in flight")
        snapshotInFlight = nil
        switch result {
        case .success(true):
            assert(index > lastSnapshotIndex, "a committed snapshot moves forward")
            lastSnapshotIndex = index
        case .success(false):
            break  // an installed or forced snapshot at or beyond it took its place
        case let .failure(error):
            if !isHalted { halt("storage failed while saving a snapshot: \(error)") }
        }
    }

    /// Stops the node: every waiting request fails with a retryable error (the process is
    /// going away, like a closed connection), and nothing runs afterwards.
    public func shutdown() {
        if !isHalted { halt("shut down") }
    }

    private func halt(_ reason: String) {
        haltReason = reason
        let error = KMSError(.dependencyTimeout, "This node has stopped. Use another node.")
        for sequence in pendingWrites.keys.sorted() { pendingWrites[sequence]!.completion(.failure(error)) }
        pendingWrites.removeAll()
        for read in pendingReads { read.completion(.failure(error)) }
        pendingReads.removeAll()
    }
}

extension KMSCommand {
    /// The key a command is about, if any.
    var keyID: KeyID? {
        switch self {
        case let .createKey(c): return c.keyID
        case let .updateKeyDescription(id, _), let .enableKey(id), let .disableKey(id),
             let .scheduleKeyDeletion(id, _, _), let .cancelKeyDeletion(id), let .enableKeyRotation(id, _, _),
             let .disableKeyRotation(id), let .putKeyPolicy(id, _), let .deleteKey(id, _):
            return id
        case let .rotateKey(r): return r.keyID
        case .createAlias, .updateAlias, .deleteAlias: return nil
        }
    }

    /// The `apply-reads-local-clock` canary: replaces the leader's timestamps with `now`.
    func restamped(_ now: Timestamp) -> KMSCommand {
        switch self {
        case let .scheduleKeyDeletion(id, days, _): return .scheduleKeyDeletion(id, pendingWindowDays: days, at: now)
        case let .enableKeyRotation(id, days, _): return .enableKeyRotation(id, periodDays: days, at: now)
        case let .deleteKey(id, _): return .deleteKey(id, at: now)
        case let .createAlias(name, target, _): return .createAlias(name: name, target: target, at: now)
        case let .updateAlias(name, target, _): return .updateAlias(name: name, target: target, at: now)
        default: return self
        }
    }
}
