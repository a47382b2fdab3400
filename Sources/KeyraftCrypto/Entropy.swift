import COpenSSL

/// Where randomness comes from: GCM nonces, key ids, key material, election jitter.
///
/// Injected everywhere so the simulator can replay a run from a seed. The production
/// source is `SystemEntropy`; a seeded source lives in the separate
/// `KeyraftCryptoDeterministic` target, which the server executable does not link.
public protocol EntropySource: AnyObject {
    /// Fills `buffer` completely with random bytes, or throws `.entropyUnavailable`.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(CryptoError)
}

extension EntropySource {
    /// Returns `count` random bytes. For key material use `SecretBytes.random` instead.
    public func bytes(count: Int) throws(CryptoError) -> [UInt8] {
        precondition(count >= 0)
        var failure: CryptoError?
        let result = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(CryptoError) {
                try self.fill(UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return result
    }
}

/// The production entropy source: OpenSSL's CSPRNG (`RAND_bytes`).
public final class SystemEntropy: EntropySource, Sendable {
    public init() {}

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        precondition(buffer.count <= Int(Int32.max))
        guard RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1 else {
            ERR_clear_error()
            throw .entropyUnavailable
        }
    }
}
