import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// Keep-alive connections to one endpoint: at most `connectionsMax` open, idle ones reused,
/// each carrying one request at a time. Callers beyond that wait in a bounded queue.
final class ConnectionPool: Sendable {
    typealias Lease = PoolLease<HTTPConnection>
    private typealias State = PoolState<HTTPConnection, CheckedContinuation<Lease, any Error>>

    struct Settings: Sendable {
        var connectionsMax: Int
        var waitersMax: Int
        var idleTimeout: Duration
        var connectTimeout: Duration
        var answerBytesMax: Int
    }

    let endpoint: KeyraftEndpoint
    private let settings: Settings
    private let tls: NIOSSLContext
    private let group: any EventLoopGroup
    private let state: NIOLockedValueBox<State>

    init(endpoint: KeyraftEndpoint, settings: Settings, tls: NIOSSLContext, group: any EventLoopGroup) {
        self.endpoint = endpoint
        self.settings = settings
        self.tls = tls
        self.group = group
        state = NIOLockedValueBox(State(connectionsMax: settings.connectionsMax, waitersMax: settings.waitersMax,
                                        idleNanosecondsMax: settings.idleTimeout.clientNanoseconds))
    }

    /// Sends one request on a pooled (or new) connection and returns the answer.
    ///
    /// A reused connection that turns out closed before the request was written is
    /// replaced by a new one once, transparently: nothing was sent.
    func execute(head: HTTPRequestHead, body: [UInt8], timeout: Duration) async throws(ConnectionFailure) -> HTTPResponse {
        var replacedStale = false
        while true {
            let lease = try await acquire()
            let connection: HTTPConnection
            let reused: Bool
            switch lease {
            case let .reuse(existing):
                connection = existing
                reused = true
            case .create:
                do {
                    connection = try await HTTPConnection.connect(
                        to: endpoint, tls: tls, group: group, timeout: .nanoseconds(Int64(settings.connectTimeout.clientNanoseconds)),
                        bodyBytesMax: settings.answerBytesMax)
                } catch {
                    release(nil)
                    throw error
                }
                reused = false
            }
            do {
                let response = try await connection.execute(
                    head: head, body: body, timeout: .nanoseconds(Int64(timeout.clientNanoseconds)))
                let reusable = response.keepAlive && connection.isActive
                if !reusable { connection.close() }
                release(reusable ? connection : nil)
                return response
            } catch {
                connection.close()
                release(nil)
                if case .notSent = error, reused, !replacedStale {
                    replacedStale = true
                    continue
                }
                throw error
            }
        }
    }

    private func acquire() async throws(ConnectionFailure) -> Lease {
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                let action = state.withLockedValue { state -> State.AcquireAction? in
                    guard !state.isShutDown else { return nil }
                    return state.acquire(waiter: continuation, now: .now(), isUsable: { $0.isActive })
                }
                switch action {
                case nil:
                    continuation.resume(throwing: ConnectionFailure.refusedLocally("the client was shut down"))
                case let .lease(lease, close)?:
                    close.forEach { $0.close() }
                    continuation.resume(returning: lease)
                case let .queued(close)?:
                    close.forEach { $0.close() }
                case .refused?:
                    continuation.resume(throwing: ConnectionFailure.refusedLocally(
                        "more than \(settings.waitersMax) requests waiting for a connection to \(endpoint)"))
                }
            }
        } catch {
            throw (error as? ConnectionFailure) ?? .connectFailed("\(error)")
        }
    }

    private func release(_ connection: HTTPConnection?) {
        let action = state.withLockedValue { $0.release(connection, now: .now()) }
        switch action {
        case let .none(close):
            close.forEach { $0.close() }
        case let .handOver(waiter, lease, close):
            close.forEach { $0.close() }
            waiter.resume(returning: lease)
        }
    }

    /// Closes idle connections and fails waiting callers; leased connections close when
    /// their request ends.
    func shutDown() {
        let (close, fail) = state.withLockedValue { $0.shutDown() }
        close.forEach { $0.close() }
        fail.forEach { $0.resume(throwing: ConnectionFailure.connectFailed("the client was shut down")) }
    }
}
