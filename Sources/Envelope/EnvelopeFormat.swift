/// The constants of the envelope message format, version 1. The layout is documented
/// byte by byte in docs/FORMATS.md ("Envelope message").
public enum EnvelopeFormat {
    /// The first four bytes of every message: `KREN` (Keyraft ENvelope).
    public static let magic: [UInt8] = [0x4B, 0x52, 0x45, 0x4E]
    /// The only version this code writes and reads.
    public static let version: UInt8 = 1
    /// Random bytes that name one message; the salt of its key derivation.
    public static let messageIDBytes = 32
    /// The key-commitment value stored in the header.
    public static let commitmentBytes = 32
    /// AES-GCM tags, for the header and for every frame.
    public static let tagBytes = AESGCMSizes.tagBytes
    /// The bytes of a data key (AES-256).
    public static let dataKeyBytes = 32
    /// Type, sequence number and length in front of every frame.
    public static let frameHeaderBytes = 9

    /// Plaintext bytes per regular frame unless the caller chooses otherwise.
    public static let frameBytesDefault = 64 * 1024
    /// The largest frame size a writer may choose and a reader accepts: what bounds a
    /// reader's memory, since one frame is held at a time.
    public static let frameBytesMax = 4 * 1024 * 1024
    /// Bounds on the variable-length header fields (each also fits its u16 length).
    public static let contextBytesMax = 16 * 1024
    public static let keyARNBytesMax = 2048
    public static let encryptedDataKeyBytesMax = 6144

    /// magic, version, algorithm, frame size, message id, then three u16 lengths.
    static let fixedHeaderBytes = 4 + 1 + 1 + 4 + messageIDBytes + 2 + 2 + 2
    /// The largest header a reader accepts.
    public static let headerBytesMax = fixedHeaderBytes + contextBytesMax + keyARNBytesMax
        + encryptedDataKeyBytesMax + commitmentBytes + tagBytes

    /// The largest sequence number: a message holds at most this many frames.
    public static let sequenceMax = UInt32.max
}

/// The algorithm suites of the format.
public enum EnvelopeAlgorithm: UInt8, Sendable, Hashable {
    /// AES-256-GCM frames under a per-message key derived with HKDF-SHA256 from the data
    /// key and the message id, with a 32-byte key commitment in the header.
    case aes256GCMHKDFSHA256Committing = 0x01
}

/// What a frame's type byte says.
enum FrameType: UInt8 {
    /// Exactly `frameBytes` of plaintext; more frames follow.
    case regular = 0x00
    /// The last frame: 0 ..< `frameBytes` of plaintext.
    case final = 0x01
}

/// Sizes the format shares with `KeyraftCrypto.AESGCM`, restated so the format's numbers
/// are visible in one file.
enum AESGCMSizes {
    static let tagBytes = 16
    static let nonceBytes = 12
}
