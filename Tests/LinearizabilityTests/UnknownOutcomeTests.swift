import Linearizability
import Testing

@Suite struct UnknownOutcomeTests {
    @Test func timedOutWriteThatTookEffect() throws {
        let history = [
            put(0, "x", 1, 0, 10),
            pendingPut(1, "x", 2, 20),
            get(2, "x", 2, 30, 40),
        ]
        #expect(try check(history) == .ok)
    }

    @Test func timedOutWriteThatNeverTookEffect() throws {
        let history = [
            put(0, "x", 1, 0, 10),
            pendingPut(1, "x", 2, 20),
            get(2, "x", 1, 30, 40),
            put(0, "x", 3, 50, 60),
            get(2, "x", 3, 70, 80),
        ]
        #expect(try check(history) == .ok)
    }

    @Test func timedOutWriteThatTookEffectLate() throws {
        let history = [
            put(0, "x", 1, 0, 10),
            pendingPut(1, "x", 2, 20),
            get(2, "x", 1, 30, 40),
            get(2, "x", 2, 1_000, 1_010),
        ]
        #expect(try check(history) == .ok)
    }

    @Test func illegalWhateverTheTimedOutWriteDid() throws {
        // 2 was seen, then 1 again: no placement or omission of the pending put explains it.
        let backwards = [
            put(0, "x", 1, 0, 10),
            pendingPut(1, "x", 2, 20),
            get(2, "x", 2, 30, 40),
            get(2, "x", 1, 50, 60),
        ]
        #expect(try check(backwards).illegalPartition == "x")
        // A pending write cannot take effect before it was invoked.
        let early = [get(2, "x", 2, 0, 10), pendingPut(1, "x", 2, 20)]
        #expect(try check(early).illegalPartition == "x")
        // A value nobody wrote.
        let invented = [pendingPut(1, "x", 2, 0), get(2, "x", 3, 30, 40)]
        #expect(try check(invented).illegalPartition == "x")
    }

    @Test func aTimedOutWriteTakesEffectAtMostOnce() throws {
        let history = [
            pendingPut(0, "x", 1, 0),
            pendingPut(1, "x", 2, 0),
            get(2, "x", 1, 10, 20),
            get(2, "x", 2, 30, 40),
            get(2, "x", 1, 50, 60),
        ]
        #expect(try check(history).illegalPartition == "x")
        #expect(try check(Array(history.prefix(4))) == .ok)
    }

    @Test func onlyPendingOperations() throws {
        #expect(try check([pendingPut(0, "x", 1, 0), pendingPut(1, "y", 2, 5)]) == .ok)
        // Nothing to search, so even a zero budget gives a definite answer.
        #expect(try check([pendingPut(0, "x", 1, 0)], budget: 0) == .ok)
    }

    @Test func timedOutReadCarriesNoInformation() throws {
        let history = [
            put(0, "x", 1, 0, 10),
            Op.pending(clientID: 1, input: .get("x"), invocation: 5, output: .unknown),
            get(2, "x", 1, 30, 40),
        ]
        #expect(try check(history) == .ok)
    }
}

/// A register with compare-and-set whose timed-out CAS is accepted only where it could have
/// succeeded. Placing such an operation "at the end" is not always possible, so it tests
/// that the checker really omits pending operations rather than forcing them in somewhere.
struct CASRegister: LinearizabilityModel {
    enum Input: Hashable { case write(Int), read, cas(expected: Int, new: Int) }
    enum Output: Hashable { case ok, value(Int), swapped(Bool), unknown }

    func initialState(for key: Int) -> Int { 0 }
    func partition(_ input: Input) -> Int { 0 }

    func step(_ state: Int, _ input: Input, _ output: Output) -> (ok: Bool, next: Int) {
        switch (input, output) {
        case let (.write(value), .ok): return (true, value)
        case let (.read, .value(value)): return (value == state, state)
        case let (.cas(expected, new), .swapped(swapped)):
            return swapped == (state == expected) ? (true, swapped ? new : state) : (false, state)
        case let (.cas(expected, new), .unknown):
            return state == expected ? (true, new) : (false, state)
        default: return (false, state)
        }
    }
}

@Suite struct PendingOmissionTests {
    typealias CASOp = HistoryOperation<CASRegister.Input, CASRegister.Output>

    func op(_ input: CASRegister.Input, _ output: CASRegister.Output, _ invocation: Int64, _ response: Int64) -> CASOp {
        CASOp(clientID: 0, input: input, invocation: invocation, response: response, output: output)
    }

    @Test func pendingOperationThatCannotApplyIsOmitted() throws {
        let history = [
            op(.write(5), .ok, 0, 10),
            .pending(clientID: 1, input: .cas(expected: 0, new: 1), invocation: 20, output: .unknown),
            op(.read, .value(5), 30, 40),
        ]
        #expect(try checkLinearizability(model: CASRegister(), history: history, budget: 1_000) == .ok)
    }

    @Test func pendingOperationThatAppliedIsFound() throws {
        let history = [
            op(.write(5), .ok, 0, 10),
            .pending(clientID: 1, input: .cas(expected: 5, new: 1), invocation: 20, output: .unknown),
            op(.read, .value(1), 30, 40),
            op(.read, .value(5), 50, 60),
        ]
        let result = try checkLinearizability(model: CASRegister(), history: history, budget: 1_000)
        #expect(result.illegalPartition == 0)
        #expect(try checkLinearizability(model: CASRegister(), history: Array(history.prefix(3)), budget: 1_000) == .ok)
    }
}

@Suite struct ManyPendingTests {
    /// Twenty timed-out puts, all concurrent with everything after them.
    func history(finalRead: Int) -> [Op] {
        (0..<20).map { pendingPut($0, "x", $0, Int64($0)) }
            + [
                put(30, "x", 100, 500, 510),
                get(31, "x", 100, 600, 610),
                get(31, "x", 7, 700, 710),
                get(31, "x", finalRead, 800, 810),
            ]
    }

    @Test func manyPendingWritesStayCheap() throws {
        // Refuting this naively means trying every subset of the pending puts (2^20);
        // pending operations are only placed where something observes them.
        #expect(try check(history(finalRead: 7), budget: 20_000) == .ok)
        #expect(try check(history(finalRead: 8), budget: 20_000) == .ok)  // 7 then 8
        #expect(try check(history(finalRead: 100), budget: 20_000).illegalPartition == "x")
        #expect(try check(history(finalRead: -1), budget: 20_000).illegalPartition == "x")
    }

    @Test func pendingReadsAreFree() throws {
        let reads = (0..<40).map {
            Op.pending(clientID: $0, input: .get("x"), invocation: Int64($0), output: .unknown)
        }
        let history = reads + [put(50, "x", 1, 100, 110), get(51, "x", nil, 200, 210)]
        #expect(try check(history, budget: 2_000).illegalPartition == "x")
    }
}

@Suite struct SubsumptionTests {
    /// Each round writes v twice, once timed out and once acknowledged, then reads v. Either
    /// write explains the read; the configurations that used the pending one are dominated
    /// by those that did not (same state, fewer pending operations used). The final read is
    /// impossible, so refuting it explores every round: without that dominance, 2^rounds.
    func history(rounds: Int) -> [Op] {
        var history: [Op] = []
        for round in 0..<rounds {
            let t = Int64(round) * 100
            history.append(pendingPut(0, "x", round, t))
            history.append(put(1, "x", round, t, t + 5))
            history.append(get(2, "x", round, t + 2, t + 15))
        }
        history.append(get(2, "x", -1, Int64(rounds) * 100, Int64(rounds) * 100 + 5))
        return history
    }

    @Test func dominatedConfigurationsArePruned() throws {
        let result = try check(history(rounds: 14), budget: 50_000)
        let violation = try #require(result.violation)
        #expect(violation.blocking == 14 * 3)
        #expect(witnessIsConsistent(violation))
        // Subset tests count as steps, and the budget is still exact.
        #expect(try check(history(rounds: 14), budget: violation.steps) == result)
        #expect(try check(history(rounds: 14), budget: violation.steps - 1) == .unknown(unfinishedPartitions: ["x"]))
    }
}
