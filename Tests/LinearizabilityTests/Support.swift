import Linearizability

typealias Reg = RegisterModel<String, Int>
typealias Op = HistoryOperation<Reg.Input, Reg.Output>

let bigBudget = 5_000_000

func put(_ client: Int, _ key: String, _ value: Int, _ invocation: Int64, _ response: Int64) -> Op {
    Op(clientID: client, input: .put(key, value), invocation: invocation, response: response, output: .ok)
}

func get(_ client: Int, _ key: String, _ value: Int?, _ invocation: Int64, _ response: Int64) -> Op {
    Op(clientID: client, input: .get(key), invocation: invocation, response: response, output: .value(value))
}

func delete(_ client: Int, _ key: String, _ invocation: Int64, _ response: Int64) -> Op {
    Op(clientID: client, input: .delete(key), invocation: invocation, response: response, output: .ok)
}

/// A put whose client timed out: it may or may not have taken effect.
func pendingPut(_ client: Int, _ key: String, _ value: Int, _ invocation: Int64) -> Op {
    .pending(clientID: client, input: .put(key, value), invocation: invocation, output: .unknown)
}

func check(_ history: [Op], budget: Int = bigBudget, model: Reg = Reg()) throws -> CheckResult<Reg> {
    try checkLinearizability(model: model, history: history, budget: budget)
}

/// Replays the witness prefix on the model: it must be a legal sequence ending in the
/// reported state, so the witness is checkable independently of the search.
func witnessIsConsistent(_ violation: Violation<Reg>, model: Reg = Reg()) -> Bool {
    var state = model.initialState(for: violation.partition)
    for index in violation.longestPrefix {
        guard let op = violation.operations[index] else { return false }
        let (ok, next) = model.step(state, op.input, op.output)
        if !ok { return false }
        state = next
    }
    return state == violation.stateAfterPrefix
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded PRNG for reproducible tests.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0); the modulo bias is irrelevant here.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}
