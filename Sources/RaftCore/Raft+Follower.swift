/// Follower and candidate behaviour: accepting the leader's log, counting votes.
extension Raft {
    mutating func stepFollower(_ m: Message) {
        switch m.type {
        case .append, .heartbeat, .snapshot:
            electionElapsedTicks = 0
            lead = m.from
            handleLeaderMessage(m)
        case .timeoutNow:
            // The leader chose us: campaign at once, skipping pre-vote and the lease check.
            hup(transfer: true)
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, requestContext: m.context))
        case .transferLeader:
            guard let leader = lead else { return }
            send(Message(type: .transferLeader, from: id, to: leader, context: m.context))
        default:
            break
        }
    }

    mutating func stepCandidate(_ m: Message) {
        switch m.type {
        case .append, .heartbeat, .snapshot:
            // Someone won this term (§5.2): stand down and follow.
            becomeFollower(term: m.term, leader: m.from)
            handleLeaderMessage(m)
        case .voteResponse where role == .candidate:
            poll(from: m.from, granted: !m.reject, pre: false)
        case .preVoteResponse where role == .preCandidate:
            poll(from: m.from, granted: !m.reject, pre: true)
        default:
            break
        }
    }

    private mutating func handleLeaderMessage(_ m: Message) {
        switch m.type {
        case .append: handleAppend(m)
        case .heartbeat: handleHeartbeat(m)
        case .snapshot: handleSnapshot(m)
        default: preconditionFailure("not a leader message: \(m.type)")
        }
    }

    /// AppendEntries receiver (Figure 2): match the previous entry, append, adopt the commit.
    mutating func handleAppend(_ m: Message) {
        precondition(role != .leader, "a leader never accepts appends in its own term")
        if m.index < log.committed {
            send(Message(type: .appendResponse, from: id, to: m.from, index: log.committed))
            return
        }
        let lastBefore = log.lastIndex
        guard let lastNew = log.maybeAppend(index: m.index, logTerm: m.logTerm, entries: m.entries,
                                              canariesOn: !config.canaries.isEmpty) else {
            // CANARY followerOvercommit: trust the leader's commit even when our log does not match.
            if config.has(.followerOvercommit) { log.commitTo(min(m.commit, log.lastIndex)) }
            rejectAppend(m)
            return
        }
        if let conflict = log.lastConflictIndex, conflict <= lastBefore { coverage.record(.conflictTruncated) }
        // Only entries known to match the leader may be committed: the min with the last
        // new entry keeps a stale suffix beyond it out of the committed prefix.
        var newCommit = min(m.commit, lastNew)
        // CANARY followerOvercommit: trust the leader's commit up to our (possibly stale) tail.
        if config.has(.followerOvercommit) { newCommit = min(m.commit, log.lastIndex) }
        log.commitTo(newCommit)
        precondition(log.committed <= log.lastIndex, "follower commit beyond its log")
        send(Message(type: .appendResponse, from: id, to: m.from, index: lastNew))
    }

    /// Rejects with a hint for fast backtracking: our last index ≤ the probe whose term ≤ the
    /// leader's term there, so the leader can skip every entry of a conflicting term at once.
    private mutating func rejectAppend(_ m: Message) {
        let probe = min(m.index, log.lastIndex)
        let (hintIndex, hintTerm) = log.findConflictByTerm(index: probe, term: m.logTerm)
        precondition(hintIndex <= m.index, "hint beyond the rejected probe")
        send(Message(type: .appendResponse, from: id, to: m.from, logTerm: hintTerm, index: m.index,
                     reject: true, rejectHint: hintIndex))
    }

    mutating func handleHeartbeat(_ m: Message) {
        // The leader sends min(match, commit), which we are known to hold.
        log.commitTo(min(m.commit, log.lastIndex))
        send(Message(type: .heartbeatResponse, from: id, to: m.from, context: m.context))
    }

    mutating func handleSnapshot(_ m: Message) {
        guard let snap = m.snapshot, !snap.isEmpty else { return }
        if restore(snap) {
            send(Message(type: .appendResponse, from: id, to: m.from, index: log.lastIndex))
        } else {
            send(Message(type: .appendResponse, from: id, to: m.from, index: log.committed))
        }
    }

    /// Installs a snapshot unless our log already holds its last entry. Returns whether it did.
    private mutating func restore(_ snap: Snapshot) -> Bool {
        let meta = snap.metadata
        if meta.index <= log.committed { return false }
        precondition(role == .follower, "only followers install snapshots")
        if log.matchTerm(meta.index, meta.term) {
            // We hold the entry already: fast-forward the commit instead of discarding the log.
            log.commitTo(meta.index)
            return false
        }
        log.restore(snap)
        coverage.record(.snapshotInstalled)
        tracker.apply(meta.membership, nextIndex: log.lastIndex + 1)
        precondition(log.lastIndex == meta.index && log.committed == meta.index, "snapshot not installed")
        return true
    }
}
