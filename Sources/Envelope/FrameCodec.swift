import KeyraftCrypto

/// One frame on the wire: `type: u8, sequence: u32, length: u32, ciphertext, tag`.
///
/// A regular frame carries exactly `frameBytes` of plaintext; the final frame carries
/// 0 ..< `frameBytes`, so a message has exactly one encoding (data that ends on a frame
/// boundary is followed by an empty final frame).
enum FrameCodec {
    static func encodeHeader(type: FrameType, sequence: UInt32, length: Int) -> [UInt8] {
        var header = [type.rawValue]
        header.appendUInt32(sequence)
        header.appendUInt32(UInt32(length))
        assert(header.count == EnvelopeFormat.frameHeaderBytes)
        return header
    }

    /// Seals one frame and appends its wire bytes to `out`.
    static func seal(
        _ plaintext: ArraySlice<UInt8>, type: FrameType, sequence: UInt32, frameBytes: Int,
        keys: MessageKeys, messageID: [UInt8], into out: inout [UInt8]
    ) throws(EnvelopeError) {
        precondition(sequence >= 1, "sequence 0 is the header's nonce")
        precondition(type == .regular ? plaintext.count == frameBytes : plaintext.count < frameBytes)
        let header = encodeHeader(type: type, sequence: sequence, length: plaintext.count)
        let box: AESGCM.SealedBox
        do {
            box = try AESGCM.seal(Array(plaintext), key: keys.key, nonce: MessageKeys.nonce(sequence: sequence),
                                  aad: MessageKeys.frameAAD(messageID: messageID, frameHeader: header[...]))
        } catch {
            throw .crypto(error)
        }
        out.append(contentsOf: header)
        out.append(contentsOf: box.ciphertext)
        out.append(contentsOf: box.tag)
    }

    /// A frame read off the front of the input.
    struct Opened {
        var plaintext: [UInt8]
        var isFinal: Bool
        /// Wire bytes the frame took.
        var byteCount: Int
    }

    /// Opens the frame at the front of `input`, which must be number `expected`.
    ///
    /// - Returns: nil when `input` is a valid prefix too short to hold the whole frame.
    /// - Throws: on a wrong type, sequence number or length as soon as the nine header
    ///   bytes are present, or when the tag does not verify.
    static func open(
        _ input: ArraySlice<UInt8>, expected: UInt32, frameBytes: Int, keys: MessageKeys, messageID: [UInt8]
    ) throws(EnvelopeError) -> Opened? {
        var reader = ByteReader(input)
        guard let typeByte = reader.uint8(), let sequence = reader.uint32(), let length = reader.uint32() else { return nil }
        guard let type = FrameType(rawValue: typeByte) else {
            throw .malformedFrame(sequence: expected, reason: "unknown frame type \(typeByte)")
        }
        guard sequence == expected else { throw .frameOutOfOrder(expected: expected, found: sequence) }
        switch type {
        case .regular where Int(length) != frameBytes:
            throw .malformedFrame(sequence: sequence, reason: "regular frame of \(length) bytes, frame size \(frameBytes)")
        case .final where Int(length) >= frameBytes:
            throw .malformedFrame(sequence: sequence, reason: "final frame of \(length) bytes, frame size \(frameBytes)")
        default: break
        }
        guard let ciphertext = reader.bytes(Int(length)), let tag = reader.bytes(EnvelopeFormat.tagBytes) else { return nil }
        let header = input.prefix(EnvelopeFormat.frameHeaderBytes)
        do {
            let plaintext = try AESGCM.open(
                ciphertext: Array(ciphertext), tag: Array(tag), nonce: MessageKeys.nonce(sequence: sequence),
                key: keys.key, aad: MessageKeys.frameAAD(messageID: messageID, frameHeader: header))
            return Opened(plaintext: plaintext, isFinal: type == .final, byteCount: reader.offset)
        } catch .authenticationFailed {
            throw .frameAuthenticationFailed(sequence: sequence)
        } catch {
            throw .crypto(error)
        }
    }
}
