/// ReadIndex (§6.4 of the dissertation): linearizable reads without writing to the log.
extension Raft {
    /// A local read request: answered here as leader, else forwarded to the known leader.
    mutating func readIndex(context: [UInt8]) throws(RaftError) {
        guard context.count <= RaftCodec.maxContextBytes else { throw .readIndexDropped }
        if role == .leader {
            guard handleReadIndexRequest(context: context, requester: id) else { throw .readIndexDropped }
            return
        }
        guard let leader = lead else { throw .notLeader(knownLeader: nil) }
        send(Message(type: .readIndex, from: id, to: leader, context: context))
    }

    /// Queues a read at the leader. Before the leader has committed an entry of its own term
    /// its commit index may lag the true one, so the read waits for that first commit.
    /// Returns false when the request was dropped (queue full or duplicate context).
    @discardableResult
    mutating func handleReadIndexRequest(context: [UInt8], requester: NodeID) -> Bool {
        precondition(role == .leader, "read index served by a non-leader")
        guard hasCommittedEntryInCurrentTerm else {
            guard pendingReads.count < config.maxPendingReadIndexRequests else { return false }
            coverage.record(.readIndexPostponed)
            pendingReads.append((context, requester))
            return true
        }
        if tracker.membership.allVoters == [id] {
            answerRead(PendingRead(context: context, index: log.committed, requester: requester, acks: [id]))
            return true
        }
        guard readOnly.add(context: context, index: log.committed, requester: requester, selfID: id) else { return false }
        broadcastHeartbeat(context: context)
        precondition(readOnly.queue.count <= config.maxPendingReadIndexRequests, "read queue unbounded")
        return true
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
        guard Quorum.voteResult(tracker.membership, votes: votes) == .won else { return }
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
