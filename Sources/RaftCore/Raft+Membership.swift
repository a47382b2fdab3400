/// Single-server membership changes: proposed one at a time, effective when applied.
extension Raft {
    mutating func proposeMembershipChange(_ change: MembershipChange) throws(RaftError) {
        guard role == .leader else { throw .notLeader(knownLeader: lead) }
        if pendingConfIndex > log.applied {
            throw .membershipChangeRefused(reason: "change at \(pendingConfIndex) not yet applied")
        }
        let current = tracker.membership
        if case .failure(let error) = current.applying(change) { throw .membershipChangeRefused(reason: error.reason) }
        if change.kind == .addVoter && current.isLearner(change.node) {
            // A learner joins the quorum only once it holds everything committed, so adding
            // it cannot stall commits while it catches up.
            let match = tracker[change.node]?.match ?? .zero
            guard match >= log.committed else {
                throw .membershipChangeRefused(reason: "learner \(change.node) not caught up (\(match) < \(log.committed))")
            }
        }
        try propose(change.encoded, kind: .membershipChange)
        pendingConfIndex = log.lastIndex
        precondition(pendingConfIndex > log.applied, "pending change must lie ahead of applied")
    }

    /// Applies a committed change (the entry has been handed to the application).
    mutating func applyMembershipChange(_ change: MembershipChange) {
        guard case .success(let next) = tracker.membership.applying(change) else { return }
        let previous = tracker.membership
        tracker.apply(next, nextIndex: log.lastIndex + 1)
        guard role == .leader else { return }
        if !next.isVoter(id) {
            // A leader removed (or demoted) by the change it committed steps down; the
            // remaining voters elect a successor after their election timeout.
            becomeFollower(term: term, leader: nil)
            return
        }
        if let target = leadTransferee, !next.isVoter(target) { leadTransferee = nil }
        if maybeCommit() { broadcastAppend() }
        for peer in next.allNodes where !previous.allNodes.contains(peer) { sendAppend(to: peer) }
    }
}

/// ReadIndex (§6.4 of the dissertation): linearizable reads without writing to the log.
extension Raft {
    /// A local read request: answered here as leader, else forwarded to the known leader.
    mutating func readIndex(context: [UInt8]) throws(RaftError) {
        if role == .leader {
            handleReadIndexRequest(context: context, requester: id)
            return
        }
        guard let leader = lead else { throw .notLeader(knownLeader: nil) }
        send(Message(type: .readIndex, from: id, to: leader, context: context))
    }

    /// Queues a read at the leader. Before the leader has committed an entry of its own term
    /// its commit index may lag the true one, so the read waits for that first commit.
    mutating func handleReadIndexRequest(context: [UInt8], requester: NodeID) {
        precondition(role == .leader, "read index served by a non-leader")
        guard hasCommittedEntryInCurrentTerm else {
            if pendingReads.count < config.maxPendingReadIndexRequests {
                pendingReads.append((context, requester))
            }
            return
        }
        if tracker.membership.voters == [id] {
            answerRead(PendingRead(context: context, index: log.committed, requester: requester, acks: [id]))
            return
        }
        guard readOnly.add(context: context, index: log.committed, requester: requester, selfID: id) else { return }
        broadcastHeartbeat(context: context)
    }

    /// Called once the leader first commits in its term.
    mutating func releasePendingReads() {
        let waiting = pendingReads
        pendingReads.removeAll()
        precondition(waiting.count <= config.maxPendingReadIndexRequests, "pending reads overflow")
        for read in waiting { handleReadIndexRequest(context: read.context, requester: read.requester) }
    }

    /// A heartbeat response echoed `context`: once a quorum did, leadership at that time is proven.
    mutating func recordReadAck(context: [UInt8], from peer: NodeID) {
        guard let acks = readOnly.recordAck(context: context, from: peer) else { return }
        var votes: [NodeID: Bool] = [:]
        for ack in acks { votes[ack] = true }
        guard Quorum.voteResult(voters: tracker.membership.voters, votes: votes) == .won else { return }
        for read in readOnly.confirm(through: context) { answerRead(read) }
    }

    private mutating func answerRead(_ read: PendingRead) {
        precondition(read.index <= log.committed, "read index beyond commit")
        if read.requester == id {
            readStates.append(ReadState(index: read.index, requestContext: read.context))
        } else {
            send(Message(type: .readIndexResponse, from: id, to: read.requester, index: read.index, context: read.context))
        }
    }
}

/// Leadership transfer (§3.10 of the dissertation): catch the target up, then tell it to campaign.
extension Raft {
    mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        if role == .leader {
            try startTransfer(to: target)
            return
        }
        guard let leader = lead else { throw .notLeader(knownLeader: nil) }
        send(Message(type: .transferLeader, from: id, to: leader, context: encodeNodeID(target)))
    }

    mutating func startTransfer(to target: NodeID) throws(RaftError) {
        precondition(role == .leader, "only a leader transfers leadership")
        guard target != id else { return }
        guard let pr = tracker[target], tracker.membership.isVoter(target) else {
            throw .transferRefused(reason: "\(target) is not a voter")
        }
        if leadTransferee == target { return }
        // Proposals are refused until the transfer ends; it is abandoned after an election timeout.
        electionElapsedTicks = 0
        leadTransferee = target
        if pr.match == log.lastIndex {
            sendTimeoutNow(to: target)
        } else {
            sendAppend(to: target)
        }
    }

    mutating func sendTimeoutNow(to target: NodeID) {
        precondition(leadTransferee == target, "timeout-now to a node that is not the transferee")
        send(Message(type: .timeoutNow, from: id, to: target))
    }

    func encodeNodeID(_ node: NodeID) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: node.rawValue >> UInt64(56 - 8 * $0)) }
    }
}
