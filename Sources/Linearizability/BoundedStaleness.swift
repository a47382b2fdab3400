// Bounded-staleness reads (Keyraft's lease reads).
//
// A node holding a read lease serves a read at local time `t` from its applied state. The
// lease was granted by a ReadIndex round sent at `s > t − maxStaleness` whose commit index
// the node had applied, so the state it reads:
//
// 1. contains every write acknowledged before `s`, hence every write acknowledged before
//    `t − maxStaleness`;
// 2. contains only committed writes, i.e. a prefix of the one log order (the write
//    linearization), never anything not yet invoked by time `t`.
//
// So the read returns the state at some point of the write linearization between
// `t − maxStaleness` and `t`. With `invocation ≤ t ≤ response`, that point lies in
// `[invocation − maxStaleness, response]`: exactly "the read is linearizable once its
// window is stretched back by `maxStaleness`". Writes keep their real windows (they go
// through the log and must be linearizable as they are). Because using `invocation`
// instead of the unknown `t` can only widen the window, the check never reports a false
// violation; it can miss staleness up to `t − invocation` beyond the bound.
//
// Caveats:
// - Times are the history's (global, virtual) clock. If node clocks drift from it, add
//   the maximum drift to `maxStaleness`.
// - Session guarantees are not checked: a client may miss its own recent write or see
//   reads go backwards within the bound — that is what bounded staleness allows.
// - A read that times out should be recorded as pending or dropped; it carries no
//   information either way.

/// The history with every read-only operation's invocation moved `maxStaleness` earlier,
/// clamped at 0 (or kept, if it was already negative). Indices are preserved, so results
/// on the transformed history refer to the original indices.
@inlinable
public func applyingReadStaleness<M: LinearizabilityModel>(
    _ maxStaleness: Int64,
    to history: [HistoryOperation<M.Input, M.Output>],
    model: M
) -> [HistoryOperation<M.Input, M.Output>] {
    precondition(maxStaleness >= 0, "negative staleness bound")
    return history.map { op in
        guard model.isReadOnly(op.input) else { return op }
        var shifted = op
        let (earlier, overflow) = op.invocation.subtractingReportingOverflow(maxStaleness)
        let floor = min(op.invocation, 0)
        shifted.invocation = overflow ? floor : max(earlier, floor)
        return shifted
    }
}

/// Checks a history whose reads may be up to `maxStaleness` stale (lease reads) and whose
/// writes are linearizable: each read may take effect anywhere in
/// `[invocation − maxStaleness, response]`, each write in `[invocation, response]`.
/// Reads are the operations for which `model.isReadOnly` is true. See `checkLinearizability`
/// for `budget`, limits and errors.
@inlinable
public func checkBoundedStaleness<M: LinearizabilityModel>(
    model: M,
    history: [HistoryOperation<M.Input, M.Output>],
    maxStaleness: Int64,
    budget: Int,
    maxOperationsPerPartition: Int = defaultMaxOperationsPerPartition
) throws(LinearizabilityError) -> CheckResult<M> {
    guard maxStaleness >= 0 else { throw .negativeStaleness(maxStaleness) }
    try validate(history)
    return try checkLinearizability(
        model: model,
        history: applyingReadStaleness(maxStaleness, to: history, model: model),
        budget: budget,
        maxOperationsPerPartition: maxOperationsPerPartition
    )
}
