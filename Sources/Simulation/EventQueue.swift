import RaftCore

/// A min-heap of timed events. Ties are broken by insertion order, so the run is a
/// function of the seed alone. The heap orders small keys; events sit in slots, so
/// sifting never copies an event (with its message payload).
struct EventQueue<Event> {
    private struct Key {
        let time: Int64
        let sequence: UInt64
        let slot: Int
    }

    private var heap: [Key] = []
    private var slots: [Event?] = []
    private var freeSlots: [Int] = []
    private var nextSequence: UInt64 = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Int64? { heap.first?.time }

    /// Schedules `event`; returns false (dropping it) when the queue is full.
    @discardableResult
    mutating func push(_ event: Event, at time: Int64) -> Bool {
        guard heap.count < capacity else { return false }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: time, sequence: nextSequence, slot: slot))
        nextSequence += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
        assert(heap.count + freeSlots.count == slots.count)
        return true
    }

    mutating func pop() -> (time: Int64, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        let event = slots[top.slot].take()!
        freeSlots.append(top.slot)
        return (top.time, event)
    }

    private func less(_ a: Key, _ b: Key) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }
}

/// FNV-1a over every traced event: two runs with the same seed print the same hash.
struct TraceHasher {
    private(set) var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    /// When set (`keyraft-sim --trace`), every textual event is printed with its time.
    var printer: ((String) -> Void)?

    mutating func add(_ text: String) {
        printer?(text)
        for byte in text.utf8 { mix(byte) }
        mix(0x0A)
    }

    /// A client request sent, or its answer received: hashed as numbers (and the outcome's
    /// code), with the text built only when printing. Formatting two strings for every
    /// request cost more than all the hashing; the printed trace reads as before.
    mutating func add(_ event: ClientTraceEvent) {
        printer?(event.description)
        switch event {
        case let .submit(client, node):
            add(ClientTraceEvent.submitTag, UInt64(client), node.rawValue)
        case let .done(client, node, outcome):
            add(ClientTraceEvent.doneTag, UInt64(client), node.rawValue)
            for byte in outcome.utf8 { mix(byte) }
        }
    }

    /// Hashes three numbers (a message delivery: from, to, kind and term), little-endian.
    /// Fixed arity: a variadic list allocated an array for every delivery.
    mutating func add(_ a: UInt64, _ b: UInt64, _ c: UInt64) {
        add(a)
        add(b)
        add(c)
    }

    private mutating func add(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private mutating func mix(_ byte: UInt8) {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }

    var hex: String {
        let digits = Array("0123456789abcdef")
        return String((0..<16).map { digits[Int((hash >> UInt64(60 - 4 * $0)) & 0xF)] })
    }
}

/// What the workload traces for every request: kept as numbers until printed.
enum ClientTraceEvent: CustomStringConvertible {
    case submit(client: Int, node: NodeID)
    /// `outcome` is "ok" or the error's code.
    case done(client: Int, node: NodeID, outcome: String)

    /// Distinguish the two kinds (and both from a message delivery) in the hash.
    static let submitTag: UInt64 = 0x5355_424D_4954  // "SUBMIT"
    static let doneTag: UInt64 = 0x444F_4E45  // "DONE"

    var description: String {
        switch self {
        case let .submit(client, node): return "submit c\(client) n\(node)"
        case let .done(client, node, outcome): return "done c\(client) n\(node) \(outcome)"
        }
    }
}
