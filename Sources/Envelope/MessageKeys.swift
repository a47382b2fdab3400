import KeyraftCrypto

/// The per-message key schedule (docs/FORMATS.md, "Why a key per message"):
///
/// - message key = HKDF-SHA256(IKM: data key, salt: message id,
///   info: "keyraft-envelope-v1 key" ‖ algorithm id, 32 bytes)
/// - commitment  = HKDF-SHA256(IKM: data key, salt: message id,
///   info: "keyraft-envelope-v1 commit" ‖ algorithm id, 32 bytes)
///
/// The header tag and every frame are sealed with the message key; nonces are derived
/// from sequence numbers (0 for the header, 1, 2, … for frames), which is safe because no
/// two messages share a message key even when they share a data key.
struct MessageKeys {
    static let keyInfoLabel = Array("keyraft-envelope-v1 key".utf8)
    static let commitInfoLabel = Array("keyraft-envelope-v1 commit".utf8)

    /// Invariant: 32 bytes, unique to one message id.
    let key: SecretBytes
    /// Invariant: `EnvelopeFormat.commitmentBytes` bytes.
    let commitment: [UInt8]

    init(dataKey: SecretBytes, messageID: [UInt8], algorithm: EnvelopeAlgorithm) throws(EnvelopeError) {
        guard dataKey.count == EnvelopeFormat.dataKeyBytes else {
            throw .invalidArgument("data key of \(dataKey.count) bytes, expected \(EnvelopeFormat.dataKeyBytes)")
        }
        precondition(messageID.count == EnvelopeFormat.messageIDBytes)
        do {
            key = try HKDF.deriveKey(inputKeyMaterial: dataKey, salt: messageID,
                                     info: Self.keyInfoLabel + [algorithm.rawValue],
                                     outputByteCount: AESGCM.keyByteCount)
            let commit = try HKDF.deriveKey(inputKeyMaterial: dataKey, salt: messageID,
                                            info: Self.commitInfoLabel + [algorithm.rawValue],
                                            outputByteCount: EnvelopeFormat.commitmentBytes)
            commitment = commit.withUnsafeBytes { Array($0) }
        } catch {
            throw .crypto(error)
        }
        assert(key.count == AESGCM.keyByteCount && commitment.count == EnvelopeFormat.commitmentBytes)
    }

    /// The GCM nonce of sequence number `sequence`: eight zero bytes, then the number
    /// (u32, big-endian). The header uses 0, frames 1 … `EnvelopeFormat.sequenceMax`.
    static func nonce(sequence: UInt32) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 8)
        nonce.appendUInt32(sequence)
        assert(nonce.count == AESGCMSizes.nonceBytes)
        return nonce
    }

    /// The header tag: AES-256-GCM with nonce 0 over no plaintext, the header body as AAD.
    func headerTag(body: [UInt8]) throws(EnvelopeError) -> [UInt8] {
        do {
            let box = try AESGCM.seal([], key: key, nonce: Self.nonce(sequence: 0), aad: body)
            return box.tag
        } catch {
            throw .crypto(error)
        }
    }

    /// A frame's AAD: the message id, then the frame's nine header bytes (type, sequence
    /// number, length).
    static func frameAAD(messageID: [UInt8], frameHeader: ArraySlice<UInt8>) -> [UInt8] {
        precondition(frameHeader.count == EnvelopeFormat.frameHeaderBytes)
        return messageID + frameHeader
    }
}
