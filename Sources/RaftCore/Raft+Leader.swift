/// Leader behaviour: acknowledgements, commit, and replication to followers.
extension Raft {
    mutating func stepLeader(_ m: Message) {
        guard tracker.position(of: m.from) != nil else { return } // Not a member (any more).
        switch m.type {
        case .appendResponse: handleAppendResponse(m)
        case .heartbeatResponse: handleHeartbeatResponse(m)
        case .readIndex: handleReadIndexRequest(context: m.context, requester: m.from)
        case .transferLeader:
            if let target = decodeNodeID(m.context) { try? startTransfer(to: target) }
        default:
            break // Same-term appends from another "leader" cannot happen unless a canary is on.
        }
    }

    private mutating func handleAppendResponse(_ m: Message) {
        guard var pr = tracker[m.from] else { return }
        pr.recentActive = true
        if m.reject {
            // Fast backtracking: the follower's hint (its last index with a term ≤ ours there),
            // refined by our own log, skips whole terms instead of one entry per round trip.
            var hint = m.rejectHint
            if m.logTerm > .zero { hint = log.findConflictByTerm(index: m.rejectHint, term: m.logTerm).0 }
            if hint + 1 < m.index { coverage.record(.fastBacktrack) }
            let backedOff = pr.maybeDecrTo(rejected: m.index, matchHint: hint)
            if backedOff && pr.state == .replicate { pr.becomeProbe() }
            tracker[m.from] = pr
            if backedOff { sendAppend(to: m.from) }
            return
        }
        guard m.index <= log.lastIndex else {
            // Only possible with two leaders in one term (a canary); keep running so the
            // simulator observes the violation instead of a trap.
            precondition(!config.canaries.isEmpty, "acknowledgement beyond our log")
            return
        }
        let wasPaused = pr.isPaused
        guard pr.maybeUpdate(m.index) else {
            tracker[m.from] = pr
            return
        }
        advanceProgressState(&pr, acked: m.index)
        tracker[m.from] = pr
        if maybeCommit() {
            broadcastAppend()
        } else if wasPaused {
            sendAppend(to: m.from)
        }
        var sends = 0
        while sends < config.maxInflightMsgs && maybeSendAppend(to: m.from, sendIfEmpty: false) { sends += 1 }
        if m.from == leadTransferee, tracker.match(of: m.from) == log.lastIndex { sendTimeoutNow(to: m.from) }
    }

    private func advanceProgressState(_ pr: inout Progress, acked index: LogIndex) {
        switch pr.state {
        case .probe:
            pr.becomeReplicate()
        case .snapshot:
            // The snapshot (or later appends) got through; resume ordinary replication, or
            // probe (and so send a newer snapshot) if the log was compacted past it meanwhile.
            if pr.match + 1 >= log.firstIndex {
                pr.becomeProbe()
                pr.becomeReplicate()
            } else if pr.match >= pr.pendingSnapshot {
                pr.becomeProbe()
            }
        case .replicate:
            pr.inflights.freeLE(index)
        }
    }

    private mutating func handleHeartbeatResponse(_ m: Message) {
        guard var pr = tracker[m.from] else { return }
        pr.recentActive = true
        pr.probeSent = false
        // Appends may have been lost while the window was full: fall back to probing so the
        // follower cannot stay stalled behind a full window forever.
        if pr.state == .replicate && pr.inflights.isFull {
            coverage.record(.inflightWindowFull)
            pr.becomeProbe()
        }
        tracker[m.from] = pr
        if pr.match < log.lastIndex || pr.state == .probe { sendAppend(to: m.from) }
        if !m.context.isEmpty { recordReadAck(context: m.context, from: m.from) }
    }

    /// Commits the quorum index if its entry is from this term (§5.4.2). Returns whether commit moved.
    mutating func maybeCommit() -> Bool {
        let quorumIndex = tracker.committedIndex()
        let hadCurrentTermCommit = hasCommittedEntryInCurrentTerm
        let moved: Bool
        if config.has(.commitPreviousTerm) {
            // CANARY commitPreviousTerm: count replicas of old-term entries as committed.
            moved = quorumIndex > log.committed && quorumIndex <= log.lastIndex
            if moved { log.commitTo(quorumIndex) }
        } else {
            moved = log.maybeCommit(index: min(quorumIndex, log.lastIndex), term: term)
        }
        precondition(log.committed <= log.lastIndex, "commit beyond last index")
        if moved && !hadCurrentTermCommit && hasCommittedEntryInCurrentTerm { releasePendingReads() }
        return moved
    }

    var hasCommittedEntryInCurrentTerm: Bool { log.zeroTermOnError(log.committed) == term }

    // MARK: Replication

    func decodeNodeID(_ bytes: [UInt8]) -> NodeID? {
        guard bytes.count == 8 else { return nil }
        let raw = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return raw == 0 ? nil : NodeID(raw)
    }

    mutating func broadcastAppend() {
        for peer in tracker.nodeIDs where peer != id { sendAppend(to: peer) }
    }

    mutating func sendAppend(to peer: NodeID) { _ = maybeSendAppend(to: peer, sendIfEmpty: true) }

    /// Sends the next batch of entries to `peer` unless paused; falls back to a snapshot when
    /// the entries are compacted. Returns whether a message was sent.
    mutating func maybeSendAppend(to peer: NodeID, sendIfEmpty: Bool) -> Bool {
        guard peer != id, var pr = tracker[peer], !pr.isPaused else { return false }
        let prevIndex = pr.next - 1
        guard let prevTerm = try? log.term(at: prevIndex),
              var entries = try? log.entries(from: pr.next, maxBytes: config.maxSizePerMsgBytes) else {
            return maybeSendSnapshot(to: peer, progress: &pr)
        }
        // Keep every message encodable, whatever maxSizePerMsgBytes allows.
        if entries.count > RaftCodec.maxEntriesPerMessage { entries = Array(entries[..<RaftCodec.maxEntriesPerMessage]) }
        if entries.isEmpty && !sendIfEmpty { return false }
        send(Message(type: .append, from: id, to: peer, logTerm: prevTerm, index: prevIndex,
                     entries: entries, commit: log.committed))
        let bytes = entries.reduce(0) { $0 + $1.sizeBytes }
        pr.sentEntries(lastIndex: entries.last?.index ?? prevIndex, entryCount: entries.count, bytes: bytes)
        tracker[peer] = pr
        return true
    }

    private mutating func maybeSendSnapshot(to peer: NodeID, progress pr: inout Progress) -> Bool {
        let snap: Snapshot
        do { snap = try log.snapshot() } catch { return false } // Temporarily unavailable: retry later.
        precondition(!snap.isEmpty, "entries compacted but no snapshot to send")
        pr.becomeSnapshot(snap.metadata.index)
        coverage.record(.snapshotSent)
        tracker[peer] = pr
        send(Message(type: .snapshot, from: id, to: peer, snapshot: snap))
        return true
    }

    /// Heartbeats carry a commit no higher than what the follower is known to hold.
    mutating func broadcastHeartbeat(context: [UInt8]) {
        for peer in tracker.nodeIDs where peer != id {
            guard let match = tracker.match(of: peer) else { continue }
            let commit = min(match, log.committed)
            send(Message(type: .heartbeat, from: id, to: peer, commit: commit, context: context))
        }
    }

    /// The application persisted entries up to `persistedLastIndex`: count ourselves.
    mutating func selfAcknowledge() {
        guard role == .leader, var pr = tracker[id] else { return }
        let persisted = persistedLastIndex
        guard persisted > pr.match else { return }
        _ = pr.maybeUpdate(persisted)
        tracker[id] = pr
        if maybeCommit() { broadcastAppend() }
    }

    // MARK: Proposals

    mutating func propose(_ data: [UInt8], kind: EntryKind = .normal) throws(RaftError) {
        guard role == .leader else { throw .notLeader(knownLeader: lead) }
        guard data.count <= RaftCodec.maxEntryDataBytes else {
            throw .proposalDropped(reason: .entryTooLarge(limitBytes: RaftCodec.maxEntryDataBytes))
        }
        guard leadTransferee == nil else { throw .proposalDropped(reason: .leadershipTransferInProgress) }
        guard tracker.membership.isVoter(id) else { throw .proposalDropped(reason: .leaderRemoved) }
        // Bound the uncommitted tail. An empty tail always admits one entry so a single
        // oversized proposal is not refused forever.
        if uncommittedBytes > 0 && uncommittedBytes + data.count > config.maxUncommittedEntriesBytes {
            coverage.record(.uncommittedCapHit)
            throw .proposalDropped(reason: .uncommittedBytesCapExceeded(limitBytes: config.maxUncommittedEntriesBytes))
        }
        uncommittedBytes += data.count
        appendAsLeader([Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)])
        broadcastAppend()
    }

    /// Releases the cap for entries the application has applied.
    mutating func reduceUncommittedBytes(_ applied: [Entry]) {
        guard role == .leader else { return }
        let bytes = applied.reduce(0) { $0 + $1.data.count }
        uncommittedBytes = max(0, uncommittedBytes - bytes)
    }

    // MARK: Reports from the application

    mutating func reportUnreachable(_ peer: NodeID) {
        guard role == .leader, var pr = tracker[peer] else { return }
        // Whatever was in flight is probably lost; probe again from what is known.
        if pr.state == .replicate { pr.becomeProbe() }
        tracker[peer] = pr
    }

    mutating func reportSnapshot(_ peer: NodeID, succeeded: Bool) {
        guard role == .leader, var pr = tracker[peer], pr.state == .snapshot else { return }
        if !succeeded { pr.pendingSnapshot = .zero }
        pr.becomeProbe()
        // Wait for the follower's answer (or a heartbeat) before probing again.
        pr.probeSent = true
        tracker[peer] = pr
    }
}
