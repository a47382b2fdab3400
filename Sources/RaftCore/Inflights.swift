/// A bounded FIFO of append messages sent to one follower and not yet acknowledged.
/// Each element records the last index the message carried and its entry bytes.
/// Invariants: `count <= maxCount`; `bytes` is the sum of the recorded sizes.
struct Inflights {
    private var items: [(index: LogIndex, bytes: Int)] = []
    private var head = 0
    /// Bytes currently in flight.
    private(set) var bytes = 0
    /// Upper bound on messages in flight.
    let maxCount: Int
    /// Upper bound on bytes in flight (0 = unbounded).
    let maxBytes: Int

    init(maxCount: Int, maxBytes: Int) {
        precondition(maxCount > 0 && maxBytes >= 0, "invalid inflight bounds")
        self.maxCount = maxCount
        self.maxBytes = maxBytes
    }

    var count: Int { items.count - head }

    /// Whether no more messages may be sent.
    var isFull: Bool { count >= maxCount || (maxBytes > 0 && bytes >= maxBytes) }

    /// Records a message carrying entries up to `index` of `size` bytes.
    mutating func add(index: LogIndex, bytes size: Int) {
        precondition(!isFull, "inflights overflow")
        if let last = items.last, head < items.count { precondition(index > last.index, "inflights out of order") }
        items.append((index, size))
        bytes += size
    }

    /// Frees every message whose last index is ≤ `index` (acknowledged).
    mutating func freeLE(_ index: LogIndex) {
        while head < items.count, items[head].index <= index {
            bytes -= items[head].bytes
            head += 1
        }
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        precondition(bytes >= 0, "inflight bytes negative")
    }

    mutating func reset() {
        items.removeAll(keepingCapacity: true)
        head = 0
        bytes = 0
    }
}
