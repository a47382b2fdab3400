/// A map of independent registers: `put(key, value)`, `get(key)`, `delete(key)`.
///
/// Partitioned by key. A register holds `Value?` (`nil` = absent). Outputs:
/// - `put` and `delete` answer `.ok`;
/// - `get` answers `.value(v)` with the value read (`nil` if absent);
/// - any operation whose client timed out answers `.unknown`, recorded as pending
///   (`response == Int64.max`): `step` accepts it in every state and applies the effect;
///   the checker also tries leaving it out entirely (see `LinearizabilityModel`).
public struct RegisterModel<Key: Hashable & Comparable, Value: Hashable>: LinearizabilityModel {
    public enum Input: Hashable {
        case put(Key, Value)
        case get(Key)
        case delete(Key)

        public var key: Key {
            switch self {
            case let .put(key, _), let .get(key), let .delete(key): key
            }
        }
    }

    public enum Output: Hashable {
        case ok
        case value(Value?)
        case unknown
    }

    public typealias State = Value?
    public typealias PartitionKey = Key

    /// The value of every key before any operation, unless `initialValues` says otherwise.
    public var initialValue: Value?
    public var initialValues: [Key: Value]

    public init(initialValue: Value? = nil, initialValues: [Key: Value] = [:]) {
        self.initialValue = initialValue
        self.initialValues = initialValues
    }

    public func initialState(for key: Key) -> Value? {
        initialValues[key] ?? initialValue
    }

    public func partition(_ input: Input) -> Key { input.key }

    public func step(_ state: Value?, _ input: Input, _ output: Output) -> (ok: Bool, next: Value?) {
        switch (input, output) {
        case let (.put(_, value), .ok), let (.put(_, value), .unknown):
            return (true, value)
        case (.delete, .ok), (.delete, .unknown):
            return (true, nil)
        case let (.get, .value(read)):
            return (read == state, state)
        case (.get, .unknown):
            return (true, state)
        default:
            return (false, state)
        }
    }

    public func isReadOnly(_ input: Input) -> Bool {
        if case .get = input { true } else { false }
    }

    public func describe(input: Input, output: Output) -> String {
        let result: String
        switch output {
        case .ok: result = "ok"
        case let .value(value): result = value.map { "\($0)" } ?? "nil"
        case .unknown: result = "unknown"
        }
        switch input {
        case let .put(key, value): return "put(\(key), \(value)) -> \(result)"
        case let .get(key): return "get(\(key)) -> \(result)"
        case let .delete(key): return "delete(\(key)) -> \(result)"
        }
    }

    public func describe(state: Value?) -> String {
        state.map { "\($0)" } ?? "nil"
    }
}

extension RegisterModel: Sendable where Key: Sendable, Value: Sendable {}
extension RegisterModel.Input: Sendable where Key: Sendable, Value: Sendable {}
extension RegisterModel.Output: Sendable where Value: Sendable {}
