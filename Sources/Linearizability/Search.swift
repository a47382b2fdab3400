/// The Wing & Gong backtracking search with Lowe's memoization, for one partition.
///
/// Operations with a known response ("definite") live in a doubly linked list of call and
/// return entries ordered by time. Walking from the head, every call entry before the first
/// remaining return entry is a candidate to linearize next; the operation owning that
/// return entry must take effect no later than its response. Linearizing an operation
/// removes ("lifts") its entries; backtracking puts them back.
///
/// Pending operations (response `Int64.max`) never block anything: one may be linearized
/// next whenever it was invoked no later than the first remaining return, and may also be
/// left out. They live in a second list ordered by invocation and are tried only after the
/// definite candidates. The search succeeds once every definite operation is linearized.
///
/// Memoization (Lowe): a configuration is (linearized definite set D, linearized pending set
/// P, state s). Since pending operations may be omitted, (D, P, s) can do everything that
/// (D, P', s) can when P ⊆ P'; so a configuration is pruned when the cache holds one with
/// the same D and s and a subset of its P (with no pending operations this is plain
/// equality, as in Porcupine). Trying definite operations first makes small P's come first.
///
/// A second reduction: right after linearizing a pending operation x, a candidate q whose
/// outcome and resulting state are the same with or without x (say, a blind write that
/// overwrites x) is not tried: the parent reaches the same state by q alone, without using
/// x. So pending operations are only placed where something observes them, or at the end
/// (i.e. omitted). Without this, k pending writes cost 2^k. Likewise a pending operation
/// that leaves the state unchanged is never linearized (omitting it is as good).
///
/// Why the reductions keep the search complete: suppose the search fails although some cached
/// configuration C has a completion. Order configurations with a completion by (remaining
/// definite operations r, fewest leading pending operations j of a completion, |P|) and take
/// the least explored C. Exploring C tried the completion's first operation o. The child
/// was explored (smaller r or j: contradiction), or pruned by a cached C'' with the same D
/// and state and a P'' ⊆ P ∪ {o}, from which the rest of the completion is valid (the time
/// constraints depend only on D), so C'' is smaller: contradiction; or pruned by the second
/// reduction, so the parent (explored, same r, j no larger, smaller P) has the completion
/// o, … : contradiction. (A minimal-j completion never starts with a pending operation
/// that leaves the state unchanged: dropping it gives a smaller j.)
///
/// `@usableFromInline` and `@inlinable` (here and in the callers up to the public entry
/// points) so that a client's model is specialized into the search: called generically
/// across the module boundary, the search spent most of its time in runtime generics
/// (metadata lookups, witness calls); the simulator's final check was 6 % of its run.
@usableFromInline
struct PartitionSearch<M: LinearizabilityModel> {
    @usableFromInline typealias Op = HistoryOperation<M.Input, M.Output>

    @usableFromInline
    struct Witness {
        /// Local operation indices, in linearization order.
        @usableFromInline var prefix: [Int]
        @usableFromInline var stateAfterPrefix: M.State
        /// The operation whose response was reached while it was still unlinearized.
        @usableFromInline var blocking: Int
        /// Unlinearized operations that could have been linearized next, in index order
        /// (each failed the model or led to an explored dead end); includes `blocking`.
        @usableFromInline var candidates: [Int]
    }

    @usableFromInline
    enum Outcome {
        case linearizable(order: [Int], steps: Int)
        case illegal(Witness, steps: Int)
        case budgetExhausted(steps: Int)
    }

    @usableFromInline
    struct CacheKey: Hashable {
        @usableFromInline var definite: Bitset
        @usableFromInline var state: M.State

        @inlinable
        init(definite: Bitset, state: M.State) {
            self.definite = definite
            self.state = state
        }
    }

    @usableFromInline
    struct Frame {
        @usableFromInline var op: Int
        @usableFromInline var stateBefore: M.State
        /// Node in the definite list (call entry), or in the pending list.
        @usableFromInline var node: Int
        @usableFromInline var isPending: Bool
        /// For pending frames: the first remaining return entry when it was chosen.
        @usableFromInline var stopNode: Int

        @inlinable
        init(op: Int, stateBefore: M.State, node: Int, isPending: Bool, stopNode: Int) {
            self.op = op
            self.stateBefore = stateBefore
            self.node = node
            self.isPending = isPending
            self.stopNode = stopNode
        }
    }

    @inlinable
    static func run(model: M, initialState: M.State, operations ops: [Op], budget: Int) -> Outcome {
        let n = ops.count
        var definiteIndex = [Int](repeating: -1, count: n)
        var pendingIndex = [Int](repeating: -1, count: n)
        var definiteOps: [Int] = []
        var pendingOps: [Int] = []
        for (index, op) in ops.enumerated() {
            if op.isPending {
                pendingIndex[index] = pendingOps.count
                pendingOps.append(index)
            } else {
                definiteIndex[index] = definiteOps.count
                definiteOps.append(index)
            }
        }

        // Definite entries sorted by (time, call before return, op index): a total order,
        // so the result never depends on sort stability. Calls sort before returns at equal
        // times: operations that touch are concurrent.
        var entries: [(time: Int64, isReturn: Bool, op: Int)] = []
        entries.reserveCapacity(2 * definiteOps.count)
        for index in definiteOps {
            entries.append((ops[index].invocation, false, index))
            entries.append((ops[index].response, true, index))
        }
        entries.sort { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.isReturn != b.isReturn { return !a.isReturn }
            return a.op < b.op
        }

        // Definite list: node 0 is the head sentinel, entry k is node k + 1; -1 is "none".
        let nodeCount = entries.count + 1
        var next = [Int](repeating: -1, count: nodeCount)
        var prev = [Int](repeating: -1, count: nodeCount)
        var opOf = [Int](repeating: -1, count: nodeCount)
        var timeOf = [Int64](repeating: .min, count: nodeCount)
        var returnNodeOf = [Int](repeating: -1, count: nodeCount)  // call nodes only
        var returnNodeOfOp = [Int](repeating: -1, count: n)
        for (k, entry) in entries.enumerated() {
            let node = k + 1
            opOf[node] = entry.op
            timeOf[node] = entry.time
            prev[node] = node - 1
            next[node - 1] = node
            if entry.isReturn { returnNodeOfOp[entry.op] = node }
        }
        for node in 1..<nodeCount where !entries[node - 1].isReturn {
            returnNodeOf[node] = returnNodeOfOp[opOf[node]]
        }

        // Pending list, by (invocation, op index): node 0 is the head, op k is node k + 1.
        let pendingOrder = pendingOps.sorted { a, b in
            ops[a].invocation != ops[b].invocation ? ops[a].invocation < ops[b].invocation : a < b
        }
        let pendingNodeCount = pendingOrder.count + 1
        var pnext = [Int](repeating: -1, count: pendingNodeCount)
        var pprev = [Int](repeating: -1, count: pendingNodeCount)
        var popOf = [Int](repeating: -1, count: pendingNodeCount)
        for (k, index) in pendingOrder.enumerated() {
            popOf[k + 1] = index
            pprev[k + 1] = k
            pnext[k] = k + 1
        }

        var remaining = definiteOps.count
        var state = initialState
        var linearizedDefinite = Bitset(capacity: definiteOps.count)
        var linearizedPending = Bitset(capacity: pendingOps.count)
        var cache: [CacheKey: [Bitset]] = [:]
        var frames: [Frame] = []
        var witness: Witness?
        var steps = 0

        // The walk: first definite call entries up to the first return entry (`stopNode`),
        // then pending operations invoked no later than that return.
        var inDefinitePhase = true
        var entry = next[0]
        var pentry = 0
        var stopNode = -1

        while remaining > 0 {
            if steps >= budget { return .budgetExhausted(steps: steps) }
            steps += 1

            let candidate: Int
            if inDefinitePhase {
                // A definite operation is unlinearized, so its return entry is still listed.
                precondition(entry != -1, "linearizability search walked off the history")
                if returnNodeOf[entry] == -1 {
                    // The first remaining return entry: switch to pending candidates.
                    stopNode = entry
                    inDefinitePhase = false
                    pentry = pnext[0]
                    continue
                }
                candidate = opOf[entry]
            } else if pentry != -1, ops[popOf[pentry]].invocation <= timeOf[stopNode] {
                candidate = popOf[pentry]
            } else {
                // Dead end: the operation returning at `stopNode` cannot be linearized here.
                if witness == nil || frames.count > witness!.prefix.count {
                    witness = makeWitness(
                        prefix: frames.map(\.op), state: state, stopNode: stopNode,
                        next: next, opOf: opOf, pnext: pnext, popOf: popOf,
                        stopTime: timeOf[stopNode], ops: ops)
                }
                guard let frame = frames.popLast() else {
                    return .illegal(witness!, steps: steps)
                }
                state = frame.stateBefore
                if frame.isPending {
                    linearizedPending.remove(pendingIndex[frame.op])
                    let node = frame.node
                    pnext[pprev[node]] = node
                    if pnext[node] != -1 { pprev[pnext[node]] = node }
                    inDefinitePhase = false
                    stopNode = frame.stopNode
                    pentry = pnext[node]
                } else {
                    linearizedDefinite.remove(definiteIndex[frame.op])
                    remaining += 1
                    let call = frame.node
                    let ret = returnNodeOf[call]
                    next[prev[ret]] = ret
                    if next[ret] != -1 { prev[next[ret]] = ret }
                    next[prev[call]] = call
                    if next[call] != -1 { prev[next[call]] = call }
                    inDefinitePhase = true
                    entry = next[call]
                }
                continue
            }

            let op = ops[candidate]
            var (ok, newState) = model.step(state, op.input, op.output)
            if ok, !inDefinitePhase, newState == state {
                // A pending operation that changes nothing (a timed-out read): omitting it
                // is at least as good.
                ok = false
            } else if ok, let last = frames.last, last.isPending {
                // The pending operation just linearized is useless if this one ends in the
                // same state without it: that configuration is reachable from the parent
                // with a smaller pending set, so it dominates this one.
                let (okWithout, stateWithout) = model.step(last.stateBefore, op.input, op.output)
                if okWithout, stateWithout == newState { ok = false }
            }
            var accepted = false
            if ok {
                let isPending = !inDefinitePhase
                if isPending {
                    linearizedPending.insert(pendingIndex[candidate])
                } else {
                    linearizedDefinite.insert(definiteIndex[candidate])
                }
                let key = CacheKey(definite: linearizedDefinite, state: newState)
                if let slot = cache.index(forKey: key) {
                    // Subset tests are work too: charge them, so `budget` bounds the time.
                    steps += cache.values[slot].count
                    if steps > budget { return .budgetExhausted(steps: steps) }
                    accepted = !cache.values[slot].contains { $0.isSubset(of: linearizedPending) }
                    if accepted { cache.values[slot].append(linearizedPending) }
                } else {
                    cache[key] = [linearizedPending]
                    accepted = true
                }
                if accepted {
                    if isPending {
                        frames.append(Frame(op: candidate, stateBefore: state, node: pentry, isPending: true, stopNode: stopNode))
                        pnext[pprev[pentry]] = pnext[pentry]
                        if pnext[pentry] != -1 { pprev[pnext[pentry]] = pprev[pentry] }
                    } else {
                        frames.append(Frame(op: candidate, stateBefore: state, node: entry, isPending: false, stopNode: -1))
                        remaining -= 1
                        let call = entry
                        let ret = returnNodeOf[call]
                        next[prev[call]] = next[call]
                        if next[call] != -1 { prev[next[call]] = prev[call] }
                        next[prev[ret]] = next[ret]
                        if next[ret] != -1 { prev[next[ret]] = prev[ret] }
                    }
                    state = newState
                    inDefinitePhase = true
                    entry = next[0]
                } else if isPending {
                    linearizedPending.remove(pendingIndex[candidate])
                } else {
                    linearizedDefinite.remove(definiteIndex[candidate])
                }
            }
            if !accepted {
                if inDefinitePhase { entry = next[entry] } else { pentry = pnext[pentry] }
            }
        }
        return .linearizable(order: frames.map(\.op), steps: steps)
    }

    /// Off the hot path (once per dead end at most): called, not inlined.
    @usableFromInline
    static func makeWitness(
        prefix: [Int], state: M.State, stopNode: Int,
        next: [Int], opOf: [Int], pnext: [Int], popOf: [Int],
        stopTime: Int64, ops: [Op]
    ) -> Witness {
        var candidates: [Int] = []
        var node = next[0]
        while node != stopNode {  // only call entries precede the first return entry
            candidates.append(opOf[node])
            node = next[node]
        }
        node = pnext[0]
        while node != -1, ops[popOf[node]].invocation <= stopTime {
            candidates.append(popOf[node])
            node = pnext[node]
        }
        return Witness(prefix: prefix, stateAfterPrefix: state, blocking: opOf[stopNode], candidates: candidates.sorted())
    }
}
