import Linearizability
import Testing

/// Histories generated from a sequential execution (so linearizable by construction), with
/// each operation's window stretched around its true point at random.
@Suite struct RandomizedTests {
    struct Generated {
        var history: [Op]
        /// Indices of reads with a known response (candidates for corruption).
        var reads: [Int]
    }

    /// `count` operations over a few keys. Operation i takes effect at 10·i + 5; its window
    /// is that point widened by up to `spread` on each side. Some writes time out (pending,
    /// response = ∞), and only some of those really take effect. With `staleness` > 0, reads
    /// return the state at a random point up to `staleness` before their true point.
    static func generate(
        seed: UInt64, count: Int, spread: Int, staleness: Int64 = 0, pendingPercent: Int = 15
    ) -> Generated {
        var random = SplitMix64(seed: seed)
        let keys = ["k0", "k1", "k2"]
        var values: [String: [(time: Int64, value: Int?)]] = [:]  // per key, in time order
        for key in keys { values[key] = [(Int64.min, nil)] }
        func value(of key: String, at time: Int64) -> Int? {
            values[key]!.last { $0.time <= time }!.value
        }
        var history: [Op] = []
        var reads: [Int] = []
        var nextValue = 1
        for i in 0..<count {
            let point = Int64(10 * i + 5)
            let invocation = point - Int64(random.below(spread + 1))
            let response = point + Int64(random.below(spread + 1))
            let client = random.below(5)
            let key = keys[random.below(keys.count)]
            let roll = random.below(100)
            if roll < 45 {
                let written = nextValue
                nextValue += 1
                if random.chance(pendingPercent) {
                    // Timed out: took effect or not, the client never knows.
                    if random.chance(50) { values[key]!.append((point, written)) }
                    history.append(pendingPut(client, key, written, invocation))
                } else {
                    values[key]!.append((point, written))
                    history.append(put(client, key, written, invocation, response))
                }
            } else if roll < 50 {
                values[key]!.append((point, nil))
                history.append(delete(client, key, invocation, response))
            } else if roll < 53 {
                history.append(.pending(clientID: client, input: .get(key), invocation: invocation, output: .unknown))
            } else {
                let seen = point - Int64(random.below(Int(staleness) + 1))
                reads.append(history.count)
                history.append(get(client, key, value(of: key, at: seen), invocation, response))
            }
        }
        return Generated(history: history, reads: reads)
    }

    @Test(arguments: 0..<40)
    func generatedHistoriesPassAndCorruptedOnesFail(seed: UInt64) throws {
        let generated = Self.generate(seed: seed, count: 150, spread: 40)
        #expect(try check(generated.history) == .ok, "seed \(seed)")

        var random = SplitMix64(seed: seed ^ 0xC0FF_EE)
        let victim = generated.reads[random.below(generated.reads.count)]
        var corrupted = generated.history
        corrupted[victim].output = .value(-1)  // no put ever writes a negative value
        let result = try check(corrupted)
        let violation = try #require(result.violation, "seed \(seed)")
        #expect(violation.partition == corrupted[victim].input.key, "seed \(seed)")
        #expect(!violation.longestPrefix.contains(victim))
        #expect(witnessIsConsistent(violation))
    }

    @Test(arguments: 0..<20)
    func staleReadsWithinBoundPass(seed: UInt64) throws {
        let generated = Self.generate(seed: 1_000 + seed, count: 120, spread: 20, staleness: 60)
        let result = try checkBoundedStaleness(
            model: Reg(), history: generated.history, maxStaleness: 60, budget: bigBudget)
        #expect(result == .ok, "seed \(seed)")
    }

    @Test func staleGeneratorIsNotTriviallyLinearizable() throws {
        // Sanity check of the staleness property above: with the bound ignored, some
        // generated histories must fail, otherwise that test proves nothing.
        var failures = 0
        for seed in UInt64(0)..<20 {
            let generated = Self.generate(seed: 1_000 + seed, count: 120, spread: 20, staleness: 60)
            if try check(generated.history).isIllegal { failures += 1 }
        }
        #expect(failures > 0)
    }

    @Test func determinismOnRandomHistories() throws {
        for seed in UInt64(100)..<105 {
            var corrupted = Self.generate(seed: seed, count: 150, spread: 60).history
            corrupted[corrupted.count / 2] = get(0, "k1", -7, 700, 760)
            let first = try check(corrupted)
            #expect(first == (try check(corrupted)))
            #expect(first.isIllegal)
            let limited = try check(corrupted, budget: 200)
            #expect(limited == (try check(corrupted, budget: 200)))
        }
    }
}
