import KeyraftCrypto

/// Writes one envelope message, streaming: feed plaintext in chunks of any size with
/// `update`, then call `finish` once. Memory is bounded by one frame plus the chunk.
///
/// The output of the first call starts with the header. A regular frame is written as
/// soon as `frameBytes` plaintext bytes are known; `finish` writes the final frame with
/// what is left (possibly nothing).
///
/// Not copyable: a copy would carry the same message keys and sequence numbers, and two
/// copies fed different data would seal different frames under the same nonces. `finish`
/// consumes it.
public struct EnvelopeEncryptor: ~Copyable, Sendable {
    /// The message's header; its bytes start the output.
    public let header: EnvelopeHeader
    private let keys: MessageKeys
    /// Plaintext not yet sealed. Invariant: fewer than `header.frameBytes` bytes.
    private var pending: [UInt8]
    /// The sequence number of the next frame. Invariant: ≥ 1.
    private var nextSequence: UInt32
    private var headerWritten: Bool
    /// The most plaintext this message may take (nil: no bound), and what it has taken.
    private let plaintextBytesMax: Int64?
    private var plaintextBytes: Int64

    /// Starts a message.
    ///
    /// - Parameters:
    ///   - dataKey: the 32-byte plaintext data key (from GenerateDataKey).
    ///   - encryptedDataKey: the same key as KMS encrypted it, stored in the header.
    ///   - keyARN: the ARN of the KMS key that encrypted it.
    ///   - encryptionContext: the context the data key was generated under.
    ///   - frameBytes: plaintext bytes per frame, 1 … `EnvelopeFormat.frameBytesMax`.
    ///   - entropy: where the 32-byte message id comes from.
    ///   - plaintextBytesMax: if set, `update` refuses plaintext beyond it (a data key from a
    ///     cache was charged for this many bytes).
    public init(
        dataKey: SecretBytes, encryptedDataKey: [UInt8], keyARN: String, encryptionContext: [String: String],
        frameBytes: Int = EnvelopeFormat.frameBytesDefault, entropy: some EntropySource, plaintextBytesMax: Int64? = nil
    ) throws(EnvelopeError) {
        if let plaintextBytesMax, plaintextBytesMax < 0 { throw .invalidArgument("plaintextBytesMax must not be negative") }
        let messageID: [UInt8]
        do {
            messageID = try entropy.bytes(count: EnvelopeFormat.messageIDBytes)
        } catch {
            throw .crypto(error)
        }
        let algorithm = EnvelopeAlgorithm.aes256GCMHKDFSHA256Committing
        // Everything that can throw comes first: a non-copyable value is initialised whole or not at all.
        let keys = try MessageKeys(dataKey: dataKey, messageID: messageID, algorithm: algorithm)
        let body = try EnvelopeHeader.encodeBody(
            algorithm: algorithm, frameBytes: frameBytes, messageID: messageID, context: encryptionContext,
            keyARN: keyARN, encryptedDataKey: encryptedDataKey, commitment: keys.commitment)
        let tag = try keys.headerTag(body: body)
        self.keys = keys
        header = EnvelopeHeader(
            body: body, tag: tag, algorithm: algorithm, frameBytes: frameBytes,
            messageID: messageID, context: encryptionContext, keyARN: keyARN, encryptedDataKey: encryptedDataKey,
            commitment: keys.commitment)
        pending = []
        pending.reserveCapacity(frameBytes)
        nextSequence = 1
        headerWritten = false
        self.plaintextBytesMax = plaintextBytesMax
        plaintextBytes = 0
    }

    /// Encrypts `chunk`; returns the bytes to write next (the header first, then every
    /// frame completed by this chunk).
    public mutating func update(_ chunk: ArraySlice<UInt8>) throws(EnvelopeError) -> [UInt8] {
        if let plaintextBytesMax, Int64(chunk.count) > plaintextBytesMax - plaintextBytes {
            throw .plaintextExceedsDeclaredSize(declared: plaintextBytesMax)
        }
        plaintextBytes += Int64(chunk.count)
        let frameBytes = header.frameBytes
        var out = takeHeader()
        out.reserveCapacity(out.count + (pending.count + chunk.count) / frameBytes
                            * (frameBytes + EnvelopeFormat.frameHeaderBytes + EnvelopeFormat.tagBytes))
        var rest = chunk
        while !rest.isEmpty {
            if pending.isEmpty, rest.count >= frameBytes {
                // A whole frame straight from the chunk, without copying it into `pending`.
                try sealRegular(rest.prefix(frameBytes), into: &out)
                rest = rest.dropFirst(frameBytes)
                continue
            }
            let taken = min(frameBytes - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(taken))
            rest = rest.dropFirst(taken)
            if pending.count == frameBytes {
                try sealRegular(pending[...], into: &out)
                pending.removeAll(keepingCapacity: true)
            }
        }
        assert(pending.count < frameBytes)
        return out
    }

    public mutating func update(_ chunk: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        try update(chunk[...])
    }

    /// Ends the message: returns the remaining bytes (the header if nothing was written
    /// yet, and the final frame).
    public consuming func finish() throws(EnvelopeError) -> [UInt8] {
        var out = takeHeader()
        try FrameCodec.seal(pending[...], type: .final, sequence: nextSequence, frameBytes: header.frameBytes,
                            keys: keys, messageID: header.messageID, into: &out)
        pending.removeAll()
        return out
    }

    private mutating func takeHeader() -> [UInt8] {
        guard !headerWritten else { return [] }
        headerWritten = true
        return header.bytes
    }

    private mutating func sealRegular(_ plaintext: ArraySlice<UInt8>, into out: inout [UInt8]) throws(EnvelopeError) {
        // The final frame needs a number too, so a regular frame may not take the last one.
        guard nextSequence < EnvelopeFormat.sequenceMax else { throw .messageTooLarge }
        try FrameCodec.seal(plaintext, type: .regular, sequence: nextSequence, frameBytes: header.frameBytes,
                            keys: keys, messageID: header.messageID, into: &out)
        nextSequence += 1
    }

    /// The size of a whole message for `plaintextBytes` of input, for progress reports
    /// and preallocation.
    public static func messageBytes(plaintextBytes: Int64, headerBytes: Int, frameBytes: Int) -> Int64 {
        precondition(plaintextBytes >= 0 && frameBytes >= 1)
        let overhead = Int64(EnvelopeFormat.frameHeaderBytes + EnvelopeFormat.tagBytes)
        let frames = plaintextBytes / Int64(frameBytes) + 1 // regular frames, then the final one
        return Int64(headerBytes) + plaintextBytes + frames * overhead
    }
}
