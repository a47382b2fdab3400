import KeyraftCryptoDeterministic

/// The simulator's only source of randomness: every draw comes from the run's seed.
final class SimRandom {
    private let generator: SeededEntropy

    init(seed: UInt64) { generator = SeededEntropy(seed: seed) }

    func next() -> UInt64 { generator.next() }

    /// Uniform in `0..<bound` (bound > 0), without modulo bias.
    func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        let threshold = (0 &- bound) % bound
        while true {
            let value = next()
            if value >= threshold { return value % bound }
        }
    }

    func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(below(UInt64(range.upperBound - range.lowerBound + 1)))
    }

    func int64(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(below(UInt64(range.upperBound - range.lowerBound + 1)))
    }

    /// True with probability `p` (0...1).
    func chance(_ p: Double) -> Bool {
        guard p > 0 else { return false }
        return Double(next() >> 11) / Double(1 << 53) < p
    }

    func pick<T>(_ items: [T]) -> T {
        precondition(!items.isEmpty)
        return items[Int(below(UInt64(items.count)))]
    }

    /// A child generator with its own stream, so adding draws in one component does not
    /// shift every other component's randomness.
    func fork() -> SimRandom { SimRandom(seed: next()) }
}

/// Adapts a `SimRandom` to the standard library's protocol, for the Raft core's jitter.
struct SimRandomGenerator: RandomNumberGenerator {
    let random: SimRandom
    mutating func next() -> UInt64 { random.next() }
}
