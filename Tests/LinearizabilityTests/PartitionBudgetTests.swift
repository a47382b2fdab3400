import Linearizability
import Testing

@Suite struct PartitionBudgetTests {
    @Test func illegalPartitionIsReported() throws {
        let history = [
            put(0, "a", 1, 0, 10),
            put(1, "b", 1, 0, 10),
            get(2, "a", 1, 20, 30),
            get(2, "b", nil, 20, 30),  // illegal on b
            put(0, "a", 2, 40, 50),
            get(1, "a", 2, 60, 70),
        ]
        let result = try check(history)
        #expect(result.illegalPartition == "b")
        let violation = try #require(result.violation)
        #expect(violation.partition == "b")
        #expect(violation.blocking == 3)
        #expect(violation.longestPrefix == [1])
        #expect(witnessIsConsistent(violation))
    }

    @Test func partitionsAreIndependent() throws {
        // The read of "b" would be illegal if "a"'s write counted.
        let history = [put(0, "a", 1, 0, 10), get(1, "b", nil, 20, 30), get(1, "a", 1, 20, 30)]
        #expect(try check(history) == .ok)
        #expect(try check([put(0, "a", 1, 0, 10), get(1, "b", 1, 20, 30)]).illegalPartition == "b")
    }

    @Test func smallestIllegalKeyWins() throws {
        let history = [
            get(0, "c", 1, 0, 10),
            get(0, "b", 1, 0, 10),
            get(0, "a", nil, 0, 10),
        ]
        #expect(try check(history).illegalPartition == "b")
    }

    /// `n` puts of distinct values, all concurrent, then a read of a value nobody wrote.
    /// Refuting it means visiting every (subset of puts, last put) pair: n · 2^(n-1).
    func adversarial(_ n: Int, key: String = "x", readValue: Int = -1) -> [Op] {
        (0..<n).map { put($0, key, $0, 0, 1_000 + Int64($0)) } + [get(n, key, readValue, 2_000, 2_010)]
    }

    @Test func tinyBudgetGivesUnknownBigBudgetGivesAnswer() throws {
        let history = adversarial(11)
        #expect(try check(history, budget: 100) == .unknown(unfinishedPartitions: ["x"]))

        let result = try check(history)
        let violation = try #require(result.violation)
        #expect(violation.partition == "x")
        #expect(violation.blocking == 11)
        #expect(violation.longestPrefix.count == 11)
        #expect(witnessIsConsistent(violation))
        #expect(violation.steps > 11 * 1024)  // the memo table had to fill up

        // The budget is exact: the steps the answer took suffice, one fewer does not.
        #expect(try check(history, budget: violation.steps) == result)
        #expect(try check(history, budget: violation.steps - 1) == .unknown(unfinishedPartitions: ["x"]))

        // A legal variant (the read sees the last put) is found quickly.
        #expect(try check(adversarial(11, readValue: 10), budget: 1_000) == .ok)
    }

    @Test func sameInputSameResult() throws {
        let history = adversarial(9, key: "p") + adversarial(9, key: "q", readValue: 3)
            + [get(50, "r", 1, 0, 10)]
        let first = try check(history)
        let second = try check(history)
        #expect(first == second)
        #expect(first.illegalPartition == "p")
        let unknownFirst = try check(history, budget: 50)
        #expect(unknownFirst == (try check(history, budget: 50)))
        // "r" is illegal and definite even though "p" is unfinished.
        #expect(unknownFirst.illegalPartition == "r")
    }

    @Test func unknownListsUnfinishedPartitionsOnly() throws {
        let history = adversarial(9, key: "q") + adversarial(9, key: "p") + [put(0, "a", 1, 0, 10)]
        #expect(try check(history, budget: 50) == .unknown(unfinishedPartitions: ["p", "q"]))
    }
}
