import Linearizability
import Testing

/// Cross-checks the search (with its memoization and pending-operation reductions) against
/// a plain enumeration of orders on many small random histories, legal and not.
@Suite struct BruteForceTests {
    /// Whether some subset of the pending operations plus all the others can be ordered
    /// respecting real time (a before b if a responds strictly before b is invoked) so that
    /// the model accepts every step.
    static func bruteForce<M: LinearizabilityModel>(
        _ model: M, _ key: M.PartitionKey, _ ops: [HistoryOperation<M.Input, M.Output>]
    ) -> Bool {
        func search(_ state: M.State, _ placed: [Bool]) -> Bool {
            if ops.indices.allSatisfy({ placed[$0] || ops[$0].isPending }) { return true }
            for o in ops.indices where !placed[o] {
                let mustPrecede = ops.indices.contains { d in
                    !placed[d] && d != o && ops[d].response < ops[o].invocation
                }
                if mustPrecede { continue }
                let (ok, next) = model.step(state, ops[o].input, ops[o].output)
                if !ok { continue }
                var nowPlaced = placed
                nowPlaced[o] = true
                if search(next, nowPlaced) { return true }
            }
            return false
        }
        return search(model.initialState(for: key), [Bool](repeating: false, count: ops.count))
    }

    static func window(_ random: inout SplitMix64) -> (Int64, Int64) {
        let invocation = Int64(random.below(8))
        return (invocation, invocation + Int64(random.below(5)))
    }

    @Test(arguments: 0..<8)
    func registerAgreesWithBruteForce(batch: UInt64) throws {
        var random = SplitMix64(seed: 0xB00 + batch)
        var verdicts = [0, 0]
        for _ in 0..<250 {
            var history: [Op] = []
            for client in 0..<(1 + random.below(8)) {
                let (invocation, response) = Self.window(&random)
                let pending = random.chance(25)
                let value = random.below(3)  // 0 stands for nil
                var op: Op
                switch random.below(5) {
                case 0, 1: op = put(client, "x", 1 + random.below(2), invocation, response)
                case 2: op = delete(client, "x", invocation, response)
                default: op = get(client, "x", value == 0 ? nil : value, invocation, response)
                }
                if pending || random.chance(25) {
                    op.response = Op.pendingResponse
                    op.output = .unknown
                }
                history.append(op)
            }
            let expected = Self.bruteForce(Reg(), "x", history)
            let result = try check(history)
            #expect(result.isOK == expected, "\(history)")
            #expect(result.isIllegal == !expected, "\(history)")
            if let violation = result.violation { #expect(witnessIsConsistent(violation)) }
            verdicts[expected ? 1 : 0] += 1
        }
        // Both verdicts must be well represented, or the comparison proves little.
        #expect(verdicts[0] > 40 && verdicts[1] > 40, "\(verdicts)")
    }

    @Test(arguments: 0..<8)
    func compareAndSetAgreesWithBruteForce(batch: UInt64) throws {
        typealias CASOp = HistoryOperation<CASRegister.Input, CASRegister.Output>
        var random = SplitMix64(seed: 0xCA5 + batch)
        var verdicts = [0, 0]
        for _ in 0..<250 {
            var history: [CASOp] = []
            for client in 0..<(1 + random.below(8)) {
                let (invocation, response) = Self.window(&random)
                let input: CASRegister.Input
                let output: CASRegister.Output
                switch random.below(3) {
                case 0: (input, output) = (.write(random.below(3)), .ok)
                case 1: (input, output) = (.read, .value(random.below(3)))
                default:
                    input = .cas(expected: random.below(3), new: random.below(3))
                    output = .swapped(random.chance(50))
                }
                if random.chance(50) {
                    history.append(.pending(clientID: client, input: input, invocation: invocation, output: .unknown))
                } else {
                    history.append(CASOp(clientID: client, input: input, invocation: invocation, response: response, output: output))
                }
            }
            let expected = Self.bruteForce(CASRegister(), 0, history)
            let result = try checkLinearizability(model: CASRegister(), history: history, budget: 1_000_000)
            #expect(result.isOK == expected, "\(history)")
            #expect(result.isIllegal == !expected, "\(history)")
            verdicts[expected ? 1 : 0] += 1
        }
        #expect(verdicts[0] > 40 && verdicts[1] > 40, "\(verdicts)")
    }
}
