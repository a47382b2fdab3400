import COpenSSL

/// Key material in process memory.
///
/// The bytes live in one heap allocation that is zeroed with `OPENSSL_cleanse` when the
/// value is released. `description`, `debugDescription` and `dump` never show them, and
/// the type is deliberately not `Codable`: key material leaves memory only wrapped.
///
/// Invariant: the bytes never change after initialisation, so sharing across threads is safe.
public final class SecretBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer
    /// Number of secret bytes (not itself secret).
    public let count: Int

    /// Creates `count` bytes filled by `initializer`, which must write every byte.
    public init<E: Error>(
        count: Int,
        initializingWith initializer: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        precondition(count >= 0, "SecretBytes count must not be negative")
        // Allocate at least one byte so the base address is never nil.
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try initializer(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
        } catch {
            OPENSSL_cleanse(storage.baseAddress, storage.count)
            storage.deallocate()
            throw error
        }
        self.storage = storage
        self.count = count
    }

    /// Copies `bytes` into a new secret. The caller remains responsible for its own copy.
    public convenience init(copying bytes: some Collection<UInt8>) {
        let count = bytes.count
        self.init(count: count) { (buffer: UnsafeMutableRawBufferPointer) -> Void in
            var offset = 0
            for byte in bytes {
                buffer[offset] = byte
                offset += 1
            }
            precondition(offset == count)
        }
    }

    /// Draws `count` fresh bytes from `entropy`.
    public static func generate(count: Int, using entropy: some EntropySource) throws(CryptoError) -> SecretBytes {
        try SecretBytes(count: count) { (buffer) throws(CryptoError) in try entropy.fill(buffer) }
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// Calls `body` with a read-only view of the bytes. Do not let the pointer escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Compares in time independent of where the bytes differ.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in ConstantTime.equals(mine, theirs) }
        }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
