import KeyraftCrypto

/// Reads one envelope message, streaming.
///
/// 1. Feed bytes with `update` until `needsDataKey` (the header has been parsed; the
///    required context pairs were checked against it). `header` names the encrypted
///    data key, its KMS key and context.
/// 2. Decrypt the data key (KMS Decrypt) and pass it to `supplyDataKey`, which checks the
///    key commitment and the header tag and returns the plaintext of any frames already
///    buffered.
/// 3. Keep feeding with `update`, then call `finish`, which fails unless the final frame
///    was read and nothing followed it.
///
/// Plaintext is returned only from frames whose tag verified, but a truncated message
/// yields the plaintext of its authentic frames before `finish` reports the truncation:
/// treat the output as unconfirmed until `finish` returns (`keyraft decrypt` writes to a
/// temporary file and renames it only then).
///
/// Memory: one frame plus the chunk being fed. While waiting for the data key the reader
/// buffers input up to `awaitingKeyBufferBytesMax`.
public struct EnvelopeDecryptor: Sendable {
    private enum State {
        case readingHeader
        case awaitingDataKey(EnvelopeHeader)
        case readingFrames(EnvelopeHeader, MessageKeys, next: UInt32)
        case complete(EnvelopeHeader)
        case failed
    }

    /// How much input may wait for the data key before `update` refuses more.
    public static let awaitingKeyBufferBytesMax = 2 * (EnvelopeFormat.headerBytesMax + EnvelopeFormat.frameBytesMax)

    private var state = State.readingHeader
    private var pending = PendingBytes()
    private let requiredContext: [String: String]
    private let frameBytesMax: Int

    /// - Parameters:
    ///   - requiredContext: pairs the header's encryption context must contain, each with
    ///     the same value (the header may hold more pairs).
    ///   - frameBytesMax: the largest frame size to accept (bounds memory).
    public init(requiredContext: [String: String] = [:], frameBytesMax: Int = EnvelopeFormat.frameBytesMax) {
        precondition((1...EnvelopeFormat.frameBytesMax).contains(frameBytesMax))
        self.requiredContext = requiredContext
        self.frameBytesMax = frameBytesMax
    }

    /// The parsed header, once enough input has arrived.
    public var header: EnvelopeHeader? {
        switch state {
        case .readingHeader, .failed: return nil
        case let .awaitingDataKey(header), let .readingFrames(header, _, _), let .complete(header): return header
        }
    }

    /// True once the header is parsed and the data key has not been supplied yet.
    public var needsDataKey: Bool {
        if case .awaitingDataKey = state { return true }
        return false
    }

    /// True once the final frame has been read and verified.
    public var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// Consumes `chunk`; returns the plaintext of every frame it completed.
    public mutating func update(_ chunk: ArraySlice<UInt8>) throws(EnvelopeError) -> [UInt8] {
        try failing { (this: inout EnvelopeDecryptor) throws(EnvelopeError) in
            if case .complete = this.state {
                guard chunk.isEmpty else { throw .trailingData }
                return []
            }
            this.pending.append(chunk)
            return try this.advance()
        }
    }

    public mutating func update(_ chunk: [UInt8]) throws(EnvelopeError) -> [UInt8] { try update(chunk[...]) }

    /// Authenticates the header with the plaintext data key; returns the plaintext of any
    /// frames that were already buffered.
    public mutating func supplyDataKey(_ dataKey: SecretBytes) throws(EnvelopeError) -> [UInt8] {
        guard case let .awaitingDataKey(header) = state else { preconditionFailure("the data key is not awaited") }
        return try failing { (this: inout EnvelopeDecryptor) throws(EnvelopeError) in
            let keys = try header.authenticate(dataKey: dataKey)
            this.state = .readingFrames(header, keys, next: 1)
            return try this.advance()
        }
    }

    /// Checks that the message ended properly: the final frame verified, nothing after it.
    public mutating func finish() throws(EnvelopeError) {
        _ = try failing { (this: inout EnvelopeDecryptor) throws(EnvelopeError) in
            guard case .complete = this.state else { throw .truncated }
            guard this.pending.count == 0 else { throw .trailingData }
            return []
        }
    }

    /// Runs `body`; any error leaves the reader failed, and a failed reader is not used again.
    private mutating func failing(
        _ body: (inout EnvelopeDecryptor) throws(EnvelopeError) -> [UInt8]
    ) throws(EnvelopeError) -> [UInt8] {
        if case .failed = state { preconditionFailure("EnvelopeDecryptor used after it failed") }
        do {
            return try body(&self)
        } catch {
            state = .failed
            pending = PendingBytes()
            throw error
        }
    }

    /// Parses the header or opens frames as far as the buffered input allows.
    private mutating func advance() throws(EnvelopeError) -> [UInt8] {
        var out: [UInt8] = []
        while true {
            switch state {
            case .readingHeader:
                guard let (header, length) = try EnvelopeHeader.parse(pending.readable, frameBytesMax: frameBytesMax) else {
                    guard pending.count <= EnvelopeFormat.headerBytesMax else { throw .malformedHeader("longer than allowed") }
                    return out
                }
                try checkRequiredContext(header.encryptionContext)
                pending.consume(length)
                state = .awaitingDataKey(header)
            case .awaitingDataKey:
                guard pending.count <= Self.awaitingKeyBufferBytesMax else { throw .dataKeyNotSupplied }
                return out
            case let .readingFrames(header, keys, next):
                guard let frame = try FrameCodec.open(pending.readable, expected: next, frameBytes: header.frameBytes,
                                                      keys: keys, messageID: header.messageID)
                else { return out }
                pending.consume(frame.byteCount)
                out.append(contentsOf: frame.plaintext)
                if frame.isFinal {
                    state = .complete(header)
                } else {
                    guard next < EnvelopeFormat.sequenceMax else { throw .messageTooLarge }
                    state = .readingFrames(header, keys, next: next + 1)
                }
            case .complete:
                guard pending.count == 0 else { throw .trailingData }
                return out
            case .failed:
                preconditionFailure("unreachable: failures leave through `failing`")
            }
        }
    }

    /// Byte-exact, as KMS and the header tag bind the context: `String` equality would take
    /// canonically equivalent but different bytes (`é` vs `e` + combining accent) as equal.
    private func checkRequiredContext(_ context: [String: String]) throws(EnvelopeError) {
        for (key, value) in requiredContext.sorted(by: { $0.key < $1.key }) {
            let keyBytes = Array(key.utf8)
            guard let found = context.first(where: { Array($0.key.utf8) == keyBytes }),
                  Array(found.value.utf8) == Array(value.utf8)
            else { throw .contextMismatch(key: key) }
        }
    }
}

/// Input bytes not yet consumed, read from the front without shifting on every read.
struct PendingBytes {
    private var bytes: [UInt8] = []
    /// Invariant: `start <= bytes.count`.
    private var start = 0

    var count: Int { bytes.count - start }
    var readable: ArraySlice<UInt8> { bytes[start...] }

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        if start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 0 {
            // Shift the unread tail (less than one frame and one chunk) to the front.
            bytes.removeFirst(start)
            start = 0
        }
        bytes.append(contentsOf: chunk)
    }

    mutating func consume(_ count: Int) {
        precondition(count >= 0 && count <= self.count)
        start += count
    }
}
