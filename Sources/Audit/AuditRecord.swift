import Foundation
import JSONText
import KeyraftCrypto

/// The outcome of one API call: success, or the AWS error name (`__type`) it failed with.
public enum AuditOutcome: Sendable, Hashable, Codable {
    case success
    /// An AWS error name such as `NotFoundException`. Never a message: messages may quote input.
    case failure(awsErrorName: String)

    static let successText = "success"

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = text == Self.successText ? .success : .failure(awsErrorName: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .success: try container.encode(Self.successText)
        case .failure(let name): try container.encode(name)
        }
    }
}

/// What the API layer knows about one call, before it is placed in the chain.
///
/// There is deliberately no field for plaintext, ciphertext or encryption-context values:
/// the context is reduced to its sorted keys here, so a value can never reach the log.
public struct AuditEvent: Sendable, Hashable {
    public var timeMs: UInt64
    public var node: String
    public var principal: String
    public var operation: String
    public var keyARN: String?
    // Invariant: sorted ascending, no duplicates.
    public private(set) var encryptionContextKeys: [String]
    public var outcome: AuditOutcome
    public var requestID: String

    /// - Parameter encryptionContext: the request's context; only its keys are kept.
    public init(
        timeMs: UInt64, node: String, principal: String, operation: String, keyARN: String?,
        encryptionContext: [String: String], outcome: AuditOutcome, requestID: String
    ) {
        self.timeMs = timeMs
        self.node = node
        self.principal = principal
        self.operation = operation
        self.keyARN = keyARN
        self.encryptionContextKeys = encryptionContext.keys.sorted()
        self.outcome = outcome
        self.requestID = requestID
    }
}

/// One line of the audit log: an event plus its place in the hash chain.
public struct AuditRecord: Sendable, Hashable, Codable {
    /// The `previousHash` of the first record of a chain: 64 zeros.
    public static let genesisHash = String(repeating: "0", count: 2 * SHA256.byteCount)

    public var event: AuditEvent
    /// Hex SHA-256 of the previous record's line bytes (without its newline).
    public var previousHash: String
    /// Increases by exactly one per record, across files.
    public var sequence: UInt64

    public init(event: AuditEvent, previousHash: String, sequence: UInt64) {
        self.event = event
        self.previousHash = previousHash
        self.sequence = sequence
    }

    enum CodingKeys: String, CodingKey {
        case time, node, principal, operation, keyARN, contextKeys, outcome, requestID
        case previousHash, sequence
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let keys = try c.decode([String].self, forKey: .contextKeys)
        event = AuditEvent(
            timeMs: try c.decode(UInt64.self, forKey: .time),
            node: try c.decode(String.self, forKey: .node),
            principal: try c.decode(String.self, forKey: .principal),
            operation: try c.decode(String.self, forKey: .operation),
            keyARN: try c.decodeIfPresent(String.self, forKey: .keyARN),
            encryptionContext: Dictionary(keys.map { ($0, "") }, uniquingKeysWith: { a, _ in a }),
            outcome: try c.decode(AuditOutcome.self, forKey: .outcome),
            requestID: try c.decode(String.self, forKey: .requestID)
        )
        previousHash = try c.decode(String.self, forKey: .previousHash)
        sequence = try c.decode(UInt64.self, forKey: .sequence)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event.timeMs, forKey: .time)
        try c.encode(event.node, forKey: .node)
        try c.encode(event.principal, forKey: .principal)
        try c.encode(event.operation, forKey: .operation)
        try c.encodeIfPresent(event.keyARN, forKey: .keyARN)
        try c.encode(event.encryptionContextKeys, forKey: .contextKeys)
        try c.encode(event.outcome, forKey: .outcome)
        try c.encode(event.requestID, forKey: .requestID)
        try c.encode(previousHash, forKey: .previousHash)
        try c.encode(sequence, forKey: .sequence)
    }

    /// The record's line: compact JSON with sorted keys, no trailing newline. Written by hand
    /// (one per API call, on the request path); byte-for-byte what `JSONEncoder` with
    /// `[.sortedKeys, .withoutEscapingSlashes]` writes for `encode(to:)`, which tests check.
    public func serializedLine() throws -> [UInt8] {
        var writer = JSONWriter(capacity: 384)
        // Keys in bytewise order.
        writer.raw("{\"contextKeys\":[")
        for (index, key) in event.encryptionContextKeys.enumerated() {
            if index > 0 { writer.byte(UInt8(ascii: ",")) }
            writer.string(key)
        }
        writer.raw("]")
        if let keyARN = event.keyARN {
            writer.raw(",\"keyARN\":")
            writer.string(keyARN)
        }
        writer.raw(",\"node\":")
        writer.string(event.node)
        writer.raw(",\"operation\":")
        writer.string(event.operation)
        writer.raw(",\"outcome\":")
        switch event.outcome {
        case .success: writer.string(AuditOutcome.successText)
        case .failure(let name): writer.string(name)
        }
        writer.raw(",\"previousHash\":")
        writer.string(previousHash)
        writer.raw(",\"principal\":")
        writer.string(event.principal)
        writer.raw(",\"requestID\":")
        writer.string(event.requestID)
        writer.raw(",\"sequence\":")
        writer.integer(sequence)
        writer.raw(",\"time\":")
        writer.integer(event.timeMs)
        writer.raw("}")
        let line = writer.bytes
        // JSON escapes control characters, so a line can never contain a raw newline.
        precondition(!line.contains(AuditChain.newline), "serialized audit record contains a newline")
        return line
    }

    /// Parses one line (without its newline).
    public static func parse(line: some Collection<UInt8>) throws -> AuditRecord {
        try JSONDecoder().decode(AuditRecord.self, from: Data(line))
    }
}

/// The hash chain's arithmetic, shared by the writer and the verifier.
enum AuditChain {
    static let newline = UInt8(ascii: "\n")

    /// Hex SHA-256 of a line's exact bytes (without its newline).
    static func hash(line: some Collection<UInt8>) -> String {
        let digest = SHA256.hash([UInt8](line))
        assert(digest.count == SHA256.byteCount)
        let hexDigits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(2 * digest.count)
        for byte in digest {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
