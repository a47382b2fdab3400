import KeyraftCrypto

/// A deterministic entropy source: the same seed gives the same bytes, every run.
///
/// For tests and the simulator only. It lives in its own target so that the server
/// executable cannot pick it up by accident: `scripts/check-deps` fails the build if
/// `keyraft` ever depends on this module. The generator is xoshiro256** seeded through
/// SplitMix64: fast and well distributed, and not a CSPRNG.
public final class SeededEntropy: EntropySource, RandomNumberGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
        precondition(state != (0, 0, 0, 0), "xoshiro state must not be all zero")
    }

    public func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        var offset = 0
        while offset < buffer.count {
            var word = next()
            let take = min(8, buffer.count - offset)
            withUnsafeBytes(of: &word) { wordBytes in
                for i in 0..<take { buffer[offset + i] = wordBytes[i] }
            }
            offset += take
        }
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
