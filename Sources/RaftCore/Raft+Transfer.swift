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
        guard let pr = tracker[target], tracker.membership.voters.contains(target) else {
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
        coverage.record(.transferTimeoutNow)
        send(Message(type: .timeoutNow, from: id, to: target))
        if !isPromotable {
            // A removed leader's hand-off is done once its successor is told to campaign.
            coverage.record(.removedLeaderSteppedDown)
            becomeFollower(term: term, leader: nil)
        }
    }

    func encodeNodeID(_ node: NodeID) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: node.rawValue >> UInt64(56 - 8 * $0)) }
    }
}
