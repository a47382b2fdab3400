/// Whole-state invariant checks, run after every input when `RaftConfig.verifyInvariants` is on
/// (tests and the simulator always turn it on). Cheap invariants are asserted inline elsewhere.
extension Raft {
    func checkInvariants() {
        // Read once: without an unstable tail it is a call into storage.
        let lastIndex = log.lastIndex
        checkLogInvariants(lastIndex: lastIndex)
        checkRoleInvariants()
        checkBoundInvariants()
        if role == .leader { checkLeaderInvariants(lastIndex: lastIndex) }
    }

    private func checkLogInvariants(lastIndex: LogIndex) {
        precondition(log.applied <= log.committed, "applied \(log.applied) > commit \(log.committed)")
        precondition(log.committed <= lastIndex, "commit \(log.committed) > last index \(lastIndex)")
        precondition(log.applying >= log.applied && log.applying <= log.committed, "applying out of range")
        precondition(log.firstIndex <= lastIndex + 1, "first index beyond last + 1")
        let u = log.unstable
        for (i, e) in u.entries.enumerated() {
            precondition(e.index == u.offset + UInt64(i), "unstable entry \(e.index) out of place")
        }
        if let snap = u.snapshot { precondition(u.offset == snap.metadata.index + 1, "unstable offset vs snapshot") }
    }

    private func checkRoleInvariants() {
        // The double-vote canary lets a candidate vote again; let the simulator see the result.
        let votedSelf = vote == id || config.has(.doubleVote)
        switch role {
        case .leader:
            precondition(lead == id && votedSelf, "leader must lead and have voted for itself")
        case .candidate:
            precondition(votedSelf && lead == nil, "candidate votes for itself and knows no leader")
        case .preCandidate:
            precondition(lead == nil, "pre-candidate knows no leader")
        case .follower:
            precondition(lead != id, "follower believes it leads")
        }
        precondition(vote == nil || term > .zero, "vote recorded in term zero")
        // Only a removed leader handing off its leadership may lead from outside the voters.
        precondition(role == .follower || isPromotable || (role == .leader && leadTransferee != nil),
                     "\(role) outside the voters of its configuration")
        precondition(leadTransferee == nil || role == .leader, "only a leader transfers")
    }

    private func checkBoundInvariants() {
        precondition(pendingReads.count <= config.maxPendingReadIndexRequests, "pending reads unbounded")
        precondition(readOnly.queue.count <= config.maxPendingReadIndexRequests, "read queue unbounded")
        precondition(uncommittedBytes >= 0, "negative uncommitted bytes")
        tracker.checkShape()
    }

    private func checkLeaderInvariants(lastIndex: LogIndex) {
        tracker.checkLeaderInvariants(lastIndex: lastIndex, maxInflightMsgs: config.maxInflightMsgs,
                                      canariesOn: !config.canaries.isEmpty)
        if let own = tracker.match(of: id) { precondition(own <= persistedLastIndex, "leader counted unpersisted entries") }
    }
}
