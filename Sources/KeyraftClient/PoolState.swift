/// What a caller of the pool gets.
enum PoolLease<Connection> {
    /// Use this idle connection.
    case reuse(Connection)
    /// Open a new connection in the slot reserved for the caller.
    case create
}

extension PoolLease: Sendable where Connection: Sendable {}

/// The bookkeeping of one endpoint's connection pool, pure: the pool performs the I/O
/// (connecting, closing, resuming waiters) the returned actions name.
///
/// Invariants: `leased + idle.count <= connectionsMax`; waiters exist only while every
/// connection is leased; `waiters.count <= waitersMax`.
struct PoolState<Connection, Waiter> {
    typealias Lease = PoolLease<Connection>

    enum AcquireAction {
        case lease(Lease, close: [Connection])
        /// Every slot is taken: the waiter was queued and will be handed a lease.
        case queued(close: [Connection])
        /// Too many callers are waiting already.
        case refused
    }

    enum ReleaseAction {
        /// Nothing waits; the slot is free or the connection is idle.
        case none(close: [Connection])
        /// Hand this lease to a waiter.
        case handOver(Waiter, Lease, close: [Connection])
    }

    let connectionsMax: Int
    let waitersMax: Int
    let idleNanosecondsMax: UInt64
    private(set) var leased = 0
    /// Most recently used last.
    private var idle: [(connection: Connection, since: ClientInstant)] = []
    private var waiters: [Waiter] = []
    private(set) var isShutDown = false

    init(connectionsMax: Int, waitersMax: Int, idleNanosecondsMax: UInt64) {
        precondition(connectionsMax >= 1 && waitersMax >= 0)
        self.connectionsMax = connectionsMax
        self.waitersMax = waitersMax
        self.idleNanosecondsMax = idleNanosecondsMax
    }

    var idleCount: Int { idle.count }
    var waiterCount: Int { waiters.count }

    /// A caller wants a connection. `isUsable` says whether an idle connection is still
    /// open; idle ones that are closed or idle too long are returned to be closed.
    mutating func acquire(waiter: Waiter, now: ClientInstant, isUsable: (Connection) -> Bool) -> AcquireAction {
        precondition(!isShutDown, "acquire after shutdown")
        var close: [Connection] = []
        while let last = idle.popLast() {
            if isUsable(last.connection), now.since(last.since) < idleNanosecondsMax {
                leased += 1
                close += idle.filter { !isUsable($0.connection) }.map(\.connection)
                idle.removeAll { !isUsable($0.connection) }
                checkInvariants()
                return .lease(.reuse(last.connection), close: close)
            }
            close.append(last.connection)
        }
        if leased < connectionsMax {
            leased += 1
            checkInvariants()
            return .lease(.create, close: close)
        }
        guard waiters.count < waitersMax else { return .refused }
        waiters.append(waiter)
        checkInvariants()
        return .queued(close: close)
    }

    /// A leased slot is given back, with its connection if that can carry another request.
    mutating func release(_ connection: Connection?, now: ClientInstant) -> ReleaseAction {
        precondition(leased >= 1, "release without a lease")
        if isShutDown {
            leased -= 1
            return .none(close: connection.map { [$0] } ?? [])
        }
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            // The slot passes to the waiter: `leased` is unchanged.
            return .handOver(waiter, connection.map { .reuse($0) } ?? .create, close: [])
        }
        leased -= 1
        if let connection { idle.append((connection, now)) }
        checkInvariants()
        return .none(close: [])
    }

    /// Stops the pool: returns the idle connections to close and the waiters to fail.
    mutating func shutDown() -> (close: [Connection], fail: [Waiter]) {
        isShutDown = true
        let result = (idle.map(\.connection), waiters)
        idle = []
        waiters = []
        return result
    }

    private func checkInvariants() {
        assert(leased >= 0 && leased + idle.count <= connectionsMax)
        assert(waiters.isEmpty || leased == connectionsMax)
        assert(waiters.count <= waitersMax)
    }
}

extension PoolState: Sendable where Connection: Sendable, Waiter: Sendable {}
