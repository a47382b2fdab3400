import NIOCore

/// A point on a monotonic clock, in nanoseconds. The endpoint selector, the pool state and
/// the data-key cache take it as an argument, so they never read a clock themselves.
struct ClientInstant: Comparable, Hashable, Sendable {
    var nanoseconds: UInt64

    static func < (a: ClientInstant, b: ClientInstant) -> Bool { a.nanoseconds < b.nanoseconds }

    func adding(nanoseconds delta: UInt64) -> ClientInstant {
        ClientInstant(nanoseconds: nanoseconds &+ delta < nanoseconds ? .max : nanoseconds + delta)
    }

    /// Nanoseconds from `earlier` to this instant; 0 if `earlier` is later.
    func since(_ earlier: ClientInstant) -> UInt64 { nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0 }

    /// The production clock: NIO's monotonic uptime.
    static func now() -> ClientInstant { ClientInstant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0 … `UInt64.max`.
    var clientNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return whole + UInt64(attoseconds / 1_000_000_000)
    }
}
