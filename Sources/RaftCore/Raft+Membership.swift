/// Membership changes: single-server changes, or joint consensus for several at once. One
/// change is pending at a time; each takes effect on a node when its entry is applied.
extension Raft {
    mutating func proposeMembershipChange(_ transition: MembershipTransition) throws(RaftError) {
        guard role == .leader else { throw .notLeader(knownLeader: lead) }
        if pendingConfIndex > log.applied {
            throw .membershipChangeRefused(reason: "change at \(pendingConfIndex) not yet applied")
        }
        // A new leader first commits an entry of its own term, so no uncommitted change from an
        // earlier term can still commit alongside this one (the single-server change fix).
        guard hasCommittedEntryInCurrentTerm else {
            throw .membershipChangeRefused(reason: "no entry of term \(term) committed yet")
        }
        let current = tracker.membership
        if case .failure(let error) = current.applying(transition) { throw .membershipChangeRefused(reason: error.reason) }
        try checkPromotionsCaughtUp(transition)
        try propose(transition.encoded, kind: .membershipChange)
        pendingConfIndex = log.lastIndex
        precondition(pendingConfIndex > log.applied, "pending change must lie ahead of applied")
    }

    /// A learner joins the quorum only once it holds everything committed, so promoting it
    /// cannot stall commits while it catches up.
    private func checkPromotionsCaughtUp(_ transition: MembershipTransition) throws(RaftError) {
        let changes: [MembershipChange]
        switch transition {
        case .single(let c): changes = [c]
        case .enterJoint(let cs): changes = cs
        case .leaveJoint: changes = []
        }
        for change in changes where change.kind == .addVoter && tracker.membership.isLearner(change.node) {
            let match = tracker[change.node]?.match ?? .zero
            guard match >= log.committed else {
                throw .membershipChangeRefused(reason: "learner \(change.node) not caught up (\(match) < \(log.committed))")
            }
        }
    }

    /// Applies a committed transition (the entry has been handed to the application).
    mutating func applyMembershipChange(_ transition: MembershipTransition) {
        guard case .success(let next) = tracker.membership.applying(transition) else { return }
        let previous = tracker.membership
        tracker.apply(next, nextIndex: log.lastIndex + 1)
        if next.isJoint && !previous.isJoint { coverage.record(.jointEntered) }
        if previous.isJoint && !next.isJoint { coverage.record(.jointLeft) }
        if (role == .candidate || role == .preCandidate) && !next.isVoter(id) {
            // Removed while campaigning: a node outside the configuration must not win.
            becomeFollower(term: term, leader: nil)
        }
        guard role == .leader else { return }
        if let target = leadTransferee, !next.voters.contains(target) { leadTransferee = nil }
        if !next.isVoter(id) {
            handOffAfterRemoval(next)
            return
        }
        if maybeCommit() { broadcastAppend() }
        for peer in next.allNodes where !previous.allNodes.contains(peer) { sendAppend(to: peer) }
    }

    /// A leader removed (or demoted) by a change it committed hands leadership to the most
    /// up-to-date remaining voter: the transfer's catch-up also tells that voter the change is
    /// committed, so the successor starts from the new configuration. The removed leader keeps
    /// leading (refusing proposals) for at most one election timeout, then steps down (see
    /// `tickHeartbeat`). A leader removed by a joint change stays in the outgoing set, and so
    /// leads normally, until the joint configuration is left.
    private mutating func handOffAfterRemoval(_ next: Membership) {
        precondition(role == .leader && !next.isVoter(id), "hand-off by a leader that is still a voter")
        let candidates = next.voters.filter { tracker[$0] != nil }
        guard let target = candidates.max(by: { (tracker[$0]!.match, $1) < (tracker[$1]!.match, $0) }) else {
            coverage.record(.removedLeaderSteppedDown)
            becomeFollower(term: term, leader: nil)
            return
        }
        electionElapsedTicks = 0
        if maybeCommit() { broadcastAppend() }
        if leadTransferee != target { try? startTransfer(to: target) }
    }

    /// The leader of a joint configuration proposes leaving it as soon as it may: once the
    /// entry entering it is applied and the leader has committed an entry of its own term.
    mutating func maybeAutoLeaveJoint() {
        guard role == .leader, tracker.membership.isJoint, pendingConfIndex <= log.applied,
              hasCommittedEntryInCurrentTerm, leadTransferee == nil else { return }
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: .membershipChange,
                          data: MembershipTransition.leaveJoint.encoded)
        appendAsLeader([entry])
        pendingConfIndex = log.lastIndex
        broadcastAppend()
        precondition(pendingConfIndex > log.applied, "leave-joint must lie ahead of applied")
    }
}
