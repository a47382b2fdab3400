/// A fixed-size set of small integers: which operations of a partition are linearized.
@usableFromInline
struct Bitset: Hashable {
    @usableFromInline private(set) var words: [UInt64]

    @inlinable
    init(capacity: Int) {
        words = [UInt64](repeating: 0, count: (capacity + 63) / 64)
    }

    @inlinable
    mutating func insert(_ bit: Int) {
        words[bit >> 6] |= 1 << UInt64(bit & 63)
    }

    @inlinable
    mutating func remove(_ bit: Int) {
        words[bit >> 6] &= ~(1 << UInt64(bit & 63))
    }

    @inlinable
    func contains(_ bit: Int) -> Bool {
        words[bit >> 6] & (1 << UInt64(bit & 63)) != 0
    }
}

extension Bitset {
    /// Whether every element of `self` is in `other` (same capacity).
    @inlinable
    func isSubset(of other: Bitset) -> Bool {
        for i in words.indices where words[i] & ~other.words[i] != 0 { return false }
        return true
    }
}
