/// A read request the leader is confirming with a heartbeat round.
struct PendingRead {
    /// The requester's context; unique among pending requests.
    var context: [UInt8]
    /// The leader's commit index when the request arrived.
    var index: LogIndex
    /// Who asked (the leader itself, or a follower to answer by message).
    var requester: NodeID
    /// Voters that acknowledged a heartbeat carrying this context (or a later one).
    var acks: Set<NodeID>
}

/// ReadIndex bookkeeping at the leader (§6.4 of the dissertation): requests queue in arrival
/// order; a heartbeat quorum acknowledging a request confirms it and every request before it.
/// Invariant: `queue.count <= maxPending`; contexts in `queue` are distinct.
struct ReadOnly {
    private(set) var queue: [PendingRead] = []
    let maxPending: Int

    init(maxPending: Int) {
        precondition(maxPending > 0, "read queue bound must be positive")
        self.maxPending = maxPending
    }

    var isFull: Bool { queue.count >= maxPending }

    /// Queues a request; returns false for a duplicate context or when full.
    mutating func add(context: [UInt8], index: LogIndex, requester: NodeID, selfID: NodeID) -> Bool {
        if isFull || queue.contains(where: { $0.context == context }) { return false }
        queue.append(PendingRead(context: context, index: index, requester: requester, acks: [selfID]))
        precondition(queue.count <= maxPending, "read queue overflow")
        return true
    }

    /// Records `from` acknowledging `context`; returns the ackers of that request, if still pending.
    mutating func recordAck(context: [UInt8], from: NodeID) -> Set<NodeID>? {
        guard let pos = queue.firstIndex(where: { $0.context == context }) else { return nil }
        queue[pos].acks.insert(from)
        return queue[pos].acks
    }

    /// Removes and returns every request up to and including `context`.
    mutating func confirm(through context: [UInt8]) -> [PendingRead] {
        guard let pos = queue.firstIndex(where: { $0.context == context }) else { return [] }
        let done = Array(queue[...pos])
        queue.removeFirst(pos + 1)
        return done
    }

    /// The newest pending context (sent with heartbeats), if any.
    var lastContext: [UInt8]? { queue.last?.context }

    mutating func reset() { queue.removeAll() }
}
