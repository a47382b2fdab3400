import Linearizability
import Testing

@Suite struct ClassicTests {
    // Porcupine's first register example: a put concurrent with two reads, one seeing the
    // old value and one the new; linearizable as get(nil), put(100), get(100).
    @Test func concurrentRegisterHistoryIsLinearizable() throws {
        let history = [
            put(0, "x", 100, 0, 100),
            get(1, "x", 100, 25, 75),
            get(2, "x", nil, 30, 60),
        ]
        #expect(try check(history) == .ok)
    }

    // Porcupine's second example: once a read has returned 200, a later read cannot see
    // the initial value again.
    @Test func readGoingBackInTimeIsIllegal() throws {
        let history = [
            put(0, "x", 200, 0, 100),
            get(1, "x", 200, 10, 30),
            get(2, "x", nil, 40, 90),
        ]
        let result = try check(history)
        #expect(result.illegalPartition == "x")
        let violation = try #require(result.violation)
        #expect(violation.longestPrefix == [0, 1])
        #expect(violation.stateAfterPrefix == 200)
        #expect(violation.blocking == 2)
        #expect(violation.candidates == [2])
        #expect(witnessIsConsistent(violation))
        #expect(violation.description.contains("partition x"))
        #expect(violation.description.contains("get(x) -> nil"))
    }

    @Test func readOfValueWrittenAfterReadCompletedIsIllegal() throws {
        let history = [
            get(0, "x", 5, 0, 10),
            put(1, "x", 5, 20, 30),
        ]
        #expect(try check(history).illegalPartition == "x")
        // The same read overlapping the write is fine.
        let overlapping = [get(0, "x", 5, 0, 25), put(1, "x", 5, 20, 30)]
        #expect(try check(overlapping) == .ok)
    }

    @Test func sequentialReadsInImpossibleOrderAreIllegal() throws {
        // Two concurrent puts may land in either order, but reads cannot see 2, 1, 2.
        let history = [
            put(0, "x", 1, 0, 100),
            put(1, "x", 2, 0, 100),
            get(2, "x", 2, 10, 20),
            get(2, "x", 1, 30, 40),
            get(2, "x", 2, 50, 60),
        ]
        let result = try check(history)
        #expect(result.illegalPartition == "x")
        #expect(witnessIsConsistent(try #require(result.violation)))
        // Reads seeing 1 then 2 (or 2 then 1) alone are fine.
        #expect(try check(Array(history.prefix(4))) == .ok)
        #expect(try check(Array(history.prefix(2)) + [history[3], history[4]]) == .ok)
    }

    @Test func deleteAndInitialValues() throws {
        let model = Reg(initialValue: 7, initialValues: ["y": 9])
        let history = [
            get(0, "x", 7, 0, 5),
            get(0, "y", 9, 0, 5),
            delete(1, "x", 10, 20),
            get(0, "x", nil, 30, 40),
        ]
        #expect(try check(history, model: model) == .ok)
        #expect(try check(history).illegalPartition == "x")  // default initial value is nil
        let stale = history + [get(2, "x", 7, 50, 60)]
        #expect(try check(stale, model: model).illegalPartition == "x")
    }

    @Test func touchingWindowsCountAsConcurrent() throws {
        // Response at 10 and invocation at 10: treated as concurrent (permissive).
        #expect(try check([put(0, "x", 1, 0, 10), get(1, "x", nil, 10, 20)]) == .ok)
        #expect(try check([put(0, "x", 1, 0, 10), get(1, "x", nil, 11, 20)]).illegalPartition == "x")
        // The same for a timed-out write invoked exactly when a read returns.
        #expect(try check([get(1, "x", 2, 0, 10), pendingPut(0, "x", 2, 10)]) == .ok)
        #expect(try check([get(1, "x", 2, 0, 10), pendingPut(0, "x", 2, 11)]).illegalPartition == "x")
    }

    @Test func emptyHistoryIsLinearizable() throws {
        #expect(try check([]) == .ok)
    }

    @Test func invocationAfterResponseIsRejected() {
        let history = [put(0, "x", 1, 0, 10), get(1, "x", 1, 30, 20)]
        #expect(throws: LinearizabilityError.invocationAfterResponse(index: 1, invocation: 30, response: 20)) {
            try check(history)
        }
    }

    @Test func oversizedPartitionIsRejected() {
        let history = (0..<5).map { put(0, "x", $0, Int64($0) * 10, Int64($0) * 10 + 5) }
        #expect(throws: LinearizabilityError.partitionTooLarge(partition: "x", operations: 5, limit: 4)) {
            try checkLinearizability(model: Reg(), history: history, budget: 100, maxOperationsPerPartition: 4)
        }
    }
}

@Suite struct DescriptionTests {
    @Test func resultsDescribeThemselves() throws {
        #expect(try check([]).description == "linearizable")
        let unknown: CheckResult<Reg> = .unknown(unfinishedPartitions: ["a", "b"])
        #expect(unknown.description == #"unknown: step budget exhausted on partitions ["a", "b"]"#)
        let illegal = try check([put(0, "x", 1, 0, 10), get(1, "x", 2, 20, 30)])
        let text = illegal.description
        #expect(text.contains("not linearizable: partition x"))
        #expect(text.contains("#1 client 1 [20, 30] get(x) -> 2"))
        #expect(text.contains("state after prefix: 1"))
    }
}
