/// A sequential specification of an object, used to judge concurrent histories.
///
/// The checker calls `step` only; everything else is partitioning and diagnostics.
/// Requirements, all of which the checker relies on for correctness and determinism:
///
/// - `step` is a pure function of its arguments (no clocks, randomness or hidden state).
/// - `State` equality is exact: two states that compare equal must accept exactly the same
///   future sequences of operations (the memoization cache merges them).
/// - `partition` splits the object into independent pieces (P-compositionality): operations
///   with different keys never affect each other's outcome. A register per key qualifies.
///
/// ## Operations with an unknown outcome
///
/// A client that timed out does not know whether its operation took effect. Record it as
/// *pending*: `response == HistoryOperation.pendingResponse` (`Int64.max`), with an output
/// that means "unknown" (for example `RegisterModel.Output.unknown`). `step` should answer
/// `ok: true` for such an output in every state where the operation could have taken effect
/// (for a put: every state) and return the state *with the effect applied*. The checker
/// itself covers the other possibility: a pending operation may be linearized at any point
/// after its invocation **or not at all** (the search succeeds as soon as every operation
/// with a known response is linearized; pending ones left over are omitted). So `step`
/// never needs to model "maybe": omission does not rely on it accepting the operation.
public protocol LinearizabilityModel {
    associatedtype State: Hashable
    associatedtype Input
    associatedtype Output
    associatedtype PartitionKey: Hashable & Comparable

    /// The state of the partition `key` before any operation.
    func initialState(for key: PartitionKey) -> State

    /// The independent piece of the object that `input` touches.
    func partition(_ input: Input) -> PartitionKey

    /// Applies `input` to `state`; `ok` says whether `output` is a legal answer.
    /// `next` is ignored when `ok` is false.
    func step(_ state: State, _ input: Input, _ output: Output) -> (ok: Bool, next: State)

    /// Whether `input` is a read (used only by the bounded-staleness check). Default: false.
    func isReadOnly(_ input: Input) -> Bool

    /// Diagnostics only. Defaults use `String(describing:)`.
    func describe(input: Input, output: Output) -> String
    /// Diagnostics only. Defaults use `String(describing:)`.
    func describe(state: State) -> String
}

extension LinearizabilityModel {
    public func isReadOnly(_ input: Input) -> Bool { false }

    public func describe(input: Input, output: Output) -> String {
        "\(input) -> \(output)"
    }

    public func describe(state: State) -> String { String(describing: state) }
}

/// One completed (or pending) operation of a concurrent history.
///
/// Times are virtual (milliseconds or ticks); only their order matters. An operation that
/// responds at `t` and one invoked at the same `t` are treated as concurrent (the permissive
/// choice: it never produces a false violation from coarse time stamps).
///
/// Named `HistoryOperation` rather than `Operation` to avoid clashing with
/// `Foundation.Operation` in modules that import both.
public struct HistoryOperation<Input, Output> {
    /// The response time of an operation whose outcome is unknown.
    public static var pendingResponse: Int64 { .max }

    /// Diagnostics only: the checker does not require a client's operations to be sequential.
    public var clientID: Int
    public var input: Input
    public var invocation: Int64
    /// `Int64.max` (`pendingResponse`) marks an operation whose outcome is unknown.
    public var response: Int64
    public var output: Output

    public init(clientID: Int, input: Input, invocation: Int64, response: Int64, output: Output) {
        self.clientID = clientID
        self.input = input
        self.invocation = invocation
        self.response = response
        self.output = output
    }

    /// An operation whose client never learned the outcome (for example it timed out).
    /// It may take effect at any point after `invocation`, or never.
    public static func pending(clientID: Int, input: Input, invocation: Int64, output: Output) -> Self {
        Self(clientID: clientID, input: input, invocation: invocation, response: pendingResponse, output: output)
    }

    /// Whether the outcome is unknown (`response == Int64.max`).
    public var isPending: Bool { response == Self.pendingResponse }
}

extension HistoryOperation: Equatable where Input: Equatable, Output: Equatable {}
extension HistoryOperation: Hashable where Input: Hashable, Output: Hashable {}
extension HistoryOperation: Sendable where Input: Sendable, Output: Sendable {}
