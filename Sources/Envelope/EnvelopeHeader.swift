import KeyraftCrypto

/// The header of an envelope message: everything a reader needs before the first frame.
///
/// The fields come from the wire only after `EnvelopeDecryptor` has parsed them strictly;
/// they are authenticated only once the data key is supplied (commitment and tag).
public struct EnvelopeHeader: Sendable, Equatable {
    public let algorithm: EnvelopeAlgorithm
    /// Plaintext bytes per regular frame. Invariant: 1 … `EnvelopeFormat.frameBytesMax`.
    public let frameBytes: Int
    /// Invariant: `EnvelopeFormat.messageIDBytes` bytes.
    public let messageID: [UInt8]
    /// The encryption context the data key was generated under (and KMS Decrypt needs).
    public let encryptionContext: [String: String]
    /// The ARN of the KMS key that encrypted the data key.
    public let keyARN: String
    /// The data key as KMS encrypted it (a ciphertext blob).
    public let encryptedDataKey: [UInt8]
    /// Invariant: `EnvelopeFormat.commitmentBytes` bytes.
    public let commitment: [UInt8]
    /// Invariant: 16 bytes.
    public let tag: [UInt8]
    /// Every header byte before the tag, exactly as written: the tag's AAD.
    let body: [UInt8]

    /// The encoded header: its body, then the tag.
    public var bytes: [UInt8] { body + tag }

    /// Encodes the body of a new header. Checks every bound a reader checks.
    static func encodeBody(
        algorithm: EnvelopeAlgorithm, frameBytes: Int, messageID: [UInt8], context: [String: String],
        keyARN: String, encryptedDataKey: [UInt8], commitment: [UInt8]
    ) throws(EnvelopeError) -> [UInt8] {
        guard (1...EnvelopeFormat.frameBytesMax).contains(frameBytes) else {
            throw .invalidArgument("frame size \(frameBytes), allowed 1…\(EnvelopeFormat.frameBytesMax)")
        }
        let canonical = CanonicalContext.encode(context)
        guard canonical.count <= EnvelopeFormat.contextBytesMax else {
            throw .invalidArgument("encryption context of \(canonical.count) bytes encoded, at most \(EnvelopeFormat.contextBytesMax)")
        }
        let arn = Array(keyARN.utf8)
        guard (1...EnvelopeFormat.keyARNBytesMax).contains(arn.count) else {
            throw .invalidArgument("key ARN of \(arn.count) bytes")
        }
        guard (1...EnvelopeFormat.encryptedDataKeyBytesMax).contains(encryptedDataKey.count) else {
            throw .invalidArgument("encrypted data key of \(encryptedDataKey.count) bytes")
        }
        precondition(messageID.count == EnvelopeFormat.messageIDBytes && commitment.count == EnvelopeFormat.commitmentBytes)
        var out = EnvelopeFormat.magic
        out.append(EnvelopeFormat.version)
        out.append(algorithm.rawValue)
        out.appendUInt32(UInt32(frameBytes))
        out.append(contentsOf: messageID)
        out.appendUInt16(UInt16(canonical.count))
        out.append(contentsOf: canonical)
        out.appendUInt16(UInt16(arn.count))
        out.append(contentsOf: arn)
        out.appendUInt16(UInt16(encryptedDataKey.count))
        out.append(contentsOf: encryptedDataKey)
        out.append(contentsOf: commitment)
        return out
    }

    init(body: [UInt8], tag: [UInt8], algorithm: EnvelopeAlgorithm, frameBytes: Int, messageID: [UInt8],
         context: [String: String], keyARN: String, encryptedDataKey: [UInt8], commitment: [UInt8]) {
        self.body = body
        self.tag = tag
        self.algorithm = algorithm
        self.frameBytes = frameBytes
        self.messageID = messageID
        self.encryptionContext = context
        self.keyARN = keyARN
        self.encryptedDataKey = encryptedDataKey
        self.commitment = commitment
    }

    /// Parses a header off the front of `input`.
    ///
    /// - Returns: the header and its length in bytes, or nil when `input` is a valid
    ///   prefix that is too short to decide.
    /// - Throws: as soon as the bytes present are wrong (the magic is checked byte by byte,
    ///   so a file that is not an envelope fails at once).
    static func parse(_ input: ArraySlice<UInt8>, frameBytesMax: Int) throws(EnvelopeError) -> (EnvelopeHeader, Int)? {
        for (offset, byte) in input.prefix(EnvelopeFormat.magic.count).enumerated() where byte != EnvelopeFormat.magic[offset] {
            throw .notAnEnvelope
        }
        var reader = ByteReader(input)
        guard reader.bytes(EnvelopeFormat.magic.count) != nil, let version = reader.uint8() else { return nil }
        guard version == EnvelopeFormat.version else { throw .unsupportedVersion(version) }
        guard let algorithmID = reader.uint8() else { return nil }
        guard let algorithm = EnvelopeAlgorithm(rawValue: algorithmID) else { throw .unsupportedAlgorithm(algorithmID) }
        guard let frameSize = reader.uint32() else { return nil }
        guard frameSize >= 1, Int(frameSize) <= min(frameBytesMax, EnvelopeFormat.frameBytesMax) else {
            throw .malformedHeader("frame size \(frameSize)")
        }
        guard let messageID = reader.bytes(EnvelopeFormat.messageIDBytes) else { return nil }
        guard let contextBytes = try field(&reader, "encryption context", 4...EnvelopeFormat.contextBytesMax) else { return nil }
        let context = try CanonicalContext.decode(contextBytes)
        guard let arnBytes = try field(&reader, "key ARN", 1...EnvelopeFormat.keyARNBytesMax) else { return nil }
        guard let arn = String(validating: arnBytes, as: UTF8.self) else { throw .malformedHeader("key ARN is not UTF-8") }
        guard let edk = try field(&reader, "encrypted data key", 1...EnvelopeFormat.encryptedDataKeyBytesMax) else { return nil }
        guard let commitment = reader.bytes(EnvelopeFormat.commitmentBytes) else { return nil }
        let bodyBytes = reader.offset
        guard let tag = reader.bytes(EnvelopeFormat.tagBytes) else { return nil }
        let header = EnvelopeHeader(
            body: Array(input.prefix(bodyBytes)), tag: Array(tag), algorithm: algorithm, frameBytes: Int(frameSize),
            messageID: Array(messageID), context: context, keyARN: arn, encryptedDataKey: Array(edk),
            commitment: Array(commitment))
        assert(header.bytes.elementsEqual(input.prefix(reader.offset)))
        return (header, reader.offset)
    }

    /// A u16-length-prefixed field whose length must lie in `allowed`; nil if incomplete.
    private static func field(
        _ reader: inout ByteReader, _ name: String, _ allowed: ClosedRange<Int>
    ) throws(EnvelopeError) -> ArraySlice<UInt8>? {
        guard let length = reader.uint16() else { return nil }
        guard allowed.contains(Int(length)) else { throw .malformedHeader("\(name) length \(length)") }
        return reader.bytes(Int(length))
    }

    /// Checks the commitment, then the tag, with keys derived from `dataKey`.
    func authenticate(dataKey: SecretBytes) throws(EnvelopeError) -> MessageKeys {
        let keys = try MessageKeys(dataKey: dataKey, messageID: messageID, algorithm: algorithm)
        guard ConstantTime.equals(keys.commitment, commitment) else { throw .dataKeyMismatch }
        guard ConstantTime.equals(try keys.headerTag(body: body), tag) else { throw .headerAuthenticationFailed }
        return keys
    }
}
