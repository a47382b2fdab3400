/// The default cap on operations in one partition (see `checkLinearizability`).
public let defaultMaxOperationsPerPartition = 20_000

/// Why a history was refused before any search.
public enum LinearizabilityError: Error, Equatable, Sendable {
    /// `history[index]` responds before it is invoked.
    case invocationAfterResponse(index: Int, invocation: Int64, response: Int64)
    /// A partition holds more operations than the cap allows.
    case partitionTooLarge(partition: String, operations: Int, limit: Int)
    /// A negative staleness bound.
    case negativeStaleness(Int64)
}

/// A counterexample: the search could not extend any linearization past this point.
///
/// Indices refer to the `history` array given to the checker.
public struct Violation<M: LinearizabilityModel> {
    public typealias Op = HistoryOperation<M.Input, M.Output>

    public var partition: M.PartitionKey
    /// The longest linearizable prefix the search found (history indices, in linearization
    /// order). Every linearization attempt got stuck; this one got furthest.
    public var longestPrefix: [Int]
    /// The model state after `longestPrefix`.
    public var stateAfterPrefix: M.State
    /// An operation that had responded while still unlinearized after `longestPrefix`: it
    /// (or something concurrent with it) should have taken effect, but nothing fits.
    public var blocking: Int
    /// The operations that could have come next after `longestPrefix` (in history index
    /// order, including `blocking`); none leads to a full linearization.
    public var candidates: [Int]
    /// The operations mentioned above, keyed by history index: `operations[i]` is
    /// `history[i]`.
    public var operations: [Int: Op]
    /// Search steps spent on this partition.
    public var steps: Int
    /// A human-readable rendering using the model's `describe` functions.
    public var description: String
}

extension Violation: CustomStringConvertible {}
extension Violation: Equatable where M.Input: Equatable, M.Output: Equatable {}
extension Violation: Sendable
where M.PartitionKey: Sendable, M.State: Sendable, M.Input: Sendable, M.Output: Sendable {}

/// The verdict of a linearizability check.
public enum CheckResult<M: LinearizabilityModel> {
    /// Every partition is linearizable.
    case ok
    /// A partition is not linearizable (the smallest such key, if several were found).
    /// Definite, whatever happened to other partitions.
    case illegal(partition: M.PartitionKey, Violation<M>)
    /// No violation found, but the step budget ran out on these partitions (sorted): the
    /// checker does not know. Never a guess either way.
    case unknown(unfinishedPartitions: [M.PartitionKey])

    public var isOK: Bool {
        if case .ok = self { true } else { false }
    }

    public var isIllegal: Bool {
        if case .illegal = self { true } else { false }
    }

    public var isUnknown: Bool {
        if case .unknown = self { true } else { false }
    }

    /// The violating partition, if any.
    public var illegalPartition: M.PartitionKey? {
        if case let .illegal(key, _) = self { key } else { nil }
    }

    public var violation: Violation<M>? {
        if case let .illegal(_, violation) = self { violation } else { nil }
    }
}

extension CheckResult: CustomStringConvertible {
    public var description: String {
        switch self {
        case .ok: "linearizable"
        case let .illegal(_, violation): violation.description
        case let .unknown(keys): "unknown: step budget exhausted on partitions \(keys)"
        }
    }
}

extension CheckResult: Equatable where M.Input: Equatable, M.Output: Equatable {}
extension CheckResult: Sendable
where M.PartitionKey: Sendable, M.State: Sendable, M.Input: Sendable, M.Output: Sendable {}

/// Checks that `history` is linearizable with respect to `model`.
///
/// The history is split by `model.partition`; each partition is checked independently with
/// the Wing & Gong search and Lowe's memoization, in ascending key order. The first illegal
/// partition (in key order) stops the check and is reported; partitions whose search ran
/// out of budget are reported as `.unknown` if no partition is illegal.
///
/// - Parameters:
///   - budget: search steps allowed **per partition**; a partition gets a definite answer
///     iff its search needs at most `budget` steps. A step is one attempt to linearize an
///     operation, one backtrack, one switch to pending candidates, or one cache subset
///     test. Steps, not time, so the result is deterministic. Roughly 0.5–1 million steps
///     per second in a release build (register model); debug builds are several times
///     slower. The memoization cache holds at most `budget` entries per partition.
///   - maxOperationsPerPartition: larger partitions are refused. Memory per partition is
///     O(n) for the history plus, for the cache, at most `budget` × (⌈n/64⌉ × 8 bytes +
///     one `State` + small overhead); e.g. n = 20 000 and budget = 1 000 000 is up to
///     ~2.5 GB, so keep `budget` × n modest.
/// - Throws: `LinearizabilityError` if an operation is invoked after its response or a
///   partition is too large; nothing is checked then.
/// - Complexity: exponential in the worst case (the problem is NP-complete), bounded by
///   `budget` per partition; O(n log n) per partition before the search.
@inlinable
public func checkLinearizability<M: LinearizabilityModel>(
    model: M,
    history: [HistoryOperation<M.Input, M.Output>],
    budget: Int,
    maxOperationsPerPartition: Int = defaultMaxOperationsPerPartition
) throws(LinearizabilityError) -> CheckResult<M> {
    try validate(history)

    // Group by key. Each group lists history indices in increasing order; keys are then
    // sorted, so Dictionary order never matters.
    var groups: [M.PartitionKey: [Int]] = [:]
    for (index, op) in history.enumerated() {
        groups[model.partition(op.input), default: []].append(index)
    }
    let keys = groups.keys.sorted()
    for key in keys where groups[key]!.count > maxOperationsPerPartition {
        throw .partitionTooLarge(
            partition: String(describing: key),
            operations: groups[key]!.count,
            limit: maxOperationsPerPartition
        )
    }

    var unfinished: [M.PartitionKey] = []
    for key in keys {
        let indices = groups[key]!
        let ops = indices.map { history[$0] }
        let outcome = PartitionSearch<M>.run(
            model: model,
            initialState: model.initialState(for: key),
            operations: ops,
            budget: budget
        )
        switch outcome {
        case .linearizable:
            continue
        case .budgetExhausted:
            unfinished.append(key)
        case let .illegal(witness, steps):
            let violation = makeViolation(
                model: model, key: key, indices: indices, ops: ops, witness: witness, steps: steps)
            return .illegal(partition: key, violation)
        }
    }
    return unfinished.isEmpty ? .ok : .unknown(unfinishedPartitions: unfinished)
}

@inlinable
func validate<Input, Output>(_ history: [HistoryOperation<Input, Output>]) throws(LinearizabilityError) {
    for (index, op) in history.enumerated() where op.invocation > op.response {
        throw .invocationAfterResponse(index: index, invocation: op.invocation, response: op.response)
    }
}

/// Off the hot path (once, for the violation reported): called, not inlined.
@usableFromInline
func makeViolation<M: LinearizabilityModel>(
    model: M,
    key: M.PartitionKey,
    indices: [Int],
    ops: [HistoryOperation<M.Input, M.Output>],
    witness: PartitionSearch<M>.Witness,
    steps: Int
) -> Violation<M> {
    var operations: [Int: HistoryOperation<M.Input, M.Output>] = [:]
    for local in witness.prefix + witness.candidates { operations[indices[local]] = ops[local] }

    func line(_ local: Int) -> String {
        let op = ops[local]
        let response = op.isPending ? "pending" : String(op.response)
        return "#\(indices[local]) client \(op.clientID) [\(op.invocation), \(response)] "
            + model.describe(input: op.input, output: op.output)
    }

    let shown = 10
    var text = "not linearizable: partition \(key) (\(ops.count) operations, \(steps) search steps)\n"
    text += "longest linearizable prefix: \(witness.prefix.count) operations\n"
    if witness.prefix.count > shown {
        text += "  ... \(witness.prefix.count - shown) earlier operations omitted\n"
    }
    for local in witness.prefix.suffix(shown) { text += "  \(line(local))\n" }
    text += "state after prefix: \(model.describe(state: witness.stateAfterPrefix))\n"
    text += "stuck: \(line(witness.blocking)) returned but cannot be linearized\n"
    text += "candidates for the next step (none leads to a linearization):\n"
    for local in witness.candidates { text += "  \(line(local))\n" }

    return Violation(
        partition: key,
        longestPrefix: witness.prefix.map { indices[$0] },
        stateAfterPrefix: witness.stateAfterPrefix,
        blocking: indices[witness.blocking],
        candidates: witness.candidates.map { indices[$0] },
        operations: operations,
        steps: steps,
        description: text
    )
}
