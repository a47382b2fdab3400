import KMSWire

/// Why a call failed.
///
/// `.service` is an answer from Keyraft in the AWS shape; everything else is about getting
/// an answer at all. Descriptions never contain request or answer bodies.
public enum KeyraftClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The service answered with an AWS error (`__type` and `message`).
    case service(KeyraftServiceError)
    /// No server received the request: every attempt failed to connect or to complete the
    /// TLS handshake. Safe to repeat, whatever the call.
    case unreachable(String)
    /// The request was sent, but no whole answer arrived (timeout, lost connection). A
    /// write may have been applied: check before repeating it.
    case outcomeUnknown(String)
    /// The answer was not the JSON the operation promises.
    case invalidResponse(String)
    /// An argument or the configuration is unusable (endpoint URL, CA bundle, credentials).
    case invalidConfiguration(String)
    /// The client was shut down.
    case shutDown
    /// The calling task was cancelled between attempts. A request already sent is not
    /// abandoned (it ends within the request timeout); its outcome is the error before this.
    case cancelled

    /// The AWS error name (`NotFoundException`, …) of a service error, nil otherwise.
    public var awsErrorName: String? {
        if case let .service(error) = self { return error.name }
        return nil
    }

    public var description: String {
        switch self {
        case let .service(error): return error.description
        case let .unreachable(reason): return "no endpoint reachable: \(reason)"
        case let .outcomeUnknown(reason): return "outcome unknown (the request was sent): \(reason)"
        case let .invalidResponse(reason): return "invalid response: \(reason)"
        case let .invalidConfiguration(reason): return "invalid configuration: \(reason)"
        case .shutDown: return "the client was shut down"
        case .cancelled: return "the calling task was cancelled"
        }
    }
}

/// An error answer from the service.
public struct KeyraftServiceError: Sendable, Hashable, CustomStringConvertible {
    /// The AWS error name from `__type`, without any `namespace#` prefix.
    public let name: String
    /// The service's message.
    public let message: String
    /// The HTTP status.
    public let httpStatus: Int
    /// `x-amzn-RequestId`, for matching the server's logs.
    public let requestID: String?
    /// The endpoint that answered.
    public let endpoint: String

    public init(name: String, message: String, httpStatus: Int, requestID: String?, endpoint: String) {
        self.name = name
        self.message = message
        self.httpStatus = httpStatus
        self.requestID = requestID
        self.endpoint = endpoint
    }

    /// The name as a known Keyraft error, if it is one.
    public var knownName: AWSErrorName? { AWSErrorName(rawValue: name) }

    public var description: String {
        "\(name): \(message) (HTTP \(httpStatus) from \(endpoint)\(requestID.map { ", request \($0)" } ?? ""))"
    }
}
