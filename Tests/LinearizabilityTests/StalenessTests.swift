import Linearizability
import Testing

@Suite struct StalenessTests {
    func checkStale(_ history: [Op], _ staleness: Int64) throws -> CheckResult<Reg> {
        try checkBoundedStaleness(model: Reg(), history: history, maxStaleness: staleness, budget: bigBudget)
    }

    // put(2) was acknowledged at 30; the read starts at 40 and still sees 1: 10 ms stale.
    let staleRead = [
        put(0, "x", 1, 0, 10),
        put(0, "x", 2, 20, 30),
        get(1, "x", 1, 40, 45),
    ]

    @Test func staleReadWithinBoundPasses() throws {
        #expect(try check(staleRead).illegalPartition == "x")  // not linearizable
        #expect(try checkStale(staleRead, 15) == .ok)
        #expect(try checkStale(staleRead, 10) == .ok)  // exactly at the bound
    }

    @Test func staleReadBeyondBoundFails() throws {
        let result = try checkStale(staleRead, 5)
        #expect(result.illegalPartition == "x")
        #expect(result.violation?.blocking == 2)
        #expect(try checkStale(staleRead, 9).illegalPartition == "x")
    }

    @Test func writesKeepTheirRealWindows() throws {
        // The read at [40, 45] sees a value written at [50, 60]: reads may be stale, never
        // from the future, however large the bound. Shifting the write too would hide it.
        let history = [put(0, "x", 1, 0, 10), get(1, "x", 3, 40, 45), put(0, "x", 3, 50, 60)]
        #expect(try checkStale(history, 1_000).illegalPartition == "x")
    }

    @Test func readsStillSeeAPrefixOfWrites() throws {
        // A read may see the state after put(2) only while put(3) is younger than the bound:
        // put(3) was acknowledged at 50, the read starts at 100.
        let history = [
            put(0, "x", 1, 0, 10),
            put(0, "x", 2, 20, 30),
            put(0, "x", 3, 40, 50),
            get(1, "x", 2, 100, 105),
        ]
        #expect(try checkStale(history, 60) == .ok)
        #expect(try checkStale(history, 45).illegalPartition == "x")
    }

    @Test func shiftClampsAtZero() {
        let shifted = applyingReadStaleness(10, to: [get(0, "x", nil, 3, 8), put(0, "x", 1, 3, 8)], model: Reg())
        #expect(shifted[0].invocation == 0)
        #expect(shifted[1].invocation == 3)  // writes untouched
        let negative = applyingReadStaleness(10, to: [get(0, "x", nil, -5, 8)], model: Reg())
        #expect(negative[0].invocation == -5)
        let extreme = applyingReadStaleness(.max, to: [get(0, "x", nil, 7, 8)], model: Reg())
        #expect(extreme[0].invocation == 0)
    }

    @Test func negativeBoundIsRejected() {
        #expect(throws: LinearizabilityError.negativeStaleness(-1)) {
            try checkStale(staleRead, -1)
        }
    }
}
