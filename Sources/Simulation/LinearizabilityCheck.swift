import KMS
import Linearizability

/// The sequential specification of one key's state as the workload touches it: whether
/// it is enabled, and its description. Crypto calls read the enabled bit.
struct KeyStateModel: LinearizabilityModel {
    struct State: Hashable {
        var enabled = true
        var description = "sim"
    }

    typealias Input = KeyedInputBox
    typealias Output = KeyStateOp.Output
    typealias PartitionKey = KeyID

    func initialState(for key: KeyID) -> State { State() }

    func partition(_ input: KeyedInputBox) -> KeyID { input.key }

    func step(_ state: State, _ input: KeyedInputBox, _ output: Output) -> (ok: Bool, next: State) {
        var next = state
        switch input.input {
        case let .setEnabled(enabled):
            next.enabled = enabled
            return (output == .ok || output == .unknown, next)
        case let .setDescription(text):
            next.description = text
            return (output == .ok || output == .unknown, next)
        case .describe:
            return (output == .described(enabled: state.enabled, description: state.description), state)
        case .crypto:
            return (output == (state.enabled ? .cryptoAllowed : .cryptoDisabled), state)
        }
    }

    func isReadOnly(_ input: KeyedInputBox) -> Bool {
        switch input.input {
        case .describe, .crypto: return true
        case .setEnabled, .setDescription: return false
        }
    }
}

/// The model's input type: the operation and the key it is about.
struct KeyedInputBox: CustomStringConvertible {
    let key: KeyID
    let input: KeyStateOp.Input
    var description: String { "\(input)" }
}

/// Checks the recorded key-state history: linearizable writes; reads (describe and crypto
/// calls) at most the lease's staleness old, converted to simulated time with the clock
/// drift bound. In linearizable mode reads get no slack at all.
enum LinearizabilityCheck {
    static let budgetSteps = 2_000_000

    static func run(history: [KeyStateOp], parameters: SimParameters) -> (String, SimFailure?) {
        guard !history.isEmpty else { return ("empty history", nil) }
        let operations = history.map { op in
            HistoryOperation<KeyedInputBox, KeyStateOp.Output>(
                clientID: op.client, input: KeyedInputBox(key: op.key, input: op.input),
                invocation: op.invokeMs, response: op.completeMs, output: op.output)
        }
        let staleness = parameters.linearizableReads
            ? 0
            // +1 ms: node clocks round local time down, so local elapsed time may understate real time by 1 ms.
            : Int64((Double(parameters.maxStalenessMs + 1) / (1 - parameters.clockDriftMax)).rounded(.up))
        let keys = Set(history.map(\.key)).count
        do {
            let result = try checkBoundedStaleness(model: KeyStateModel(), history: operations,
                                                   maxStaleness: staleness, budget: budgetSteps)
            if result.isOK { return ("ok (\(history.count) ops, \(keys) keys, read slack \(staleness) ms)", nil) }
            if let violation = result.violation {
                return ("violation", .safety("key state history is not linearizable within the \(staleness) ms staleness bound: \(violation.description)"))
            }
            return ("unknown: search budget exhausted (\(budgetSteps) steps per key)", nil)
        } catch {
            return ("not checked: \(error)", .safety("history could not be checked: \(error)"))
        }
    }
}
