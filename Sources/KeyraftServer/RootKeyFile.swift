import APIServer
import Foundation
import Glibc
import KeyraftCrypto

/// The root key file: 32 bytes as 64 hexadecimal characters (a trailing newline allowed),
/// mode 0600. The root key wraps every key version's material at rest and in snapshots.
public enum RootKeyFile {
    public static let keyBytes = 32

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func load(path: String) throws -> SecretBytes {
        var info = stat()
        guard stat(path, &info) == 0 else { throw Invalid(description: "root key file \(path) cannot be read") }
        guard info.st_mode & 0o077 == 0 else {
            throw Invalid(description: "root key file \(path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 0600")
        }
        guard var text = FileManager.default.contents(atPath: path).map(Array.init) else {
            throw Invalid(description: "root key file \(path) cannot be read")
        }
        defer { text.withUnsafeMutableBytes { wipe($0) } }
        if text.last == UInt8(ascii: "\n") { text.removeLast() }
        guard text.count == keyBytes * 2 else {
            throw Invalid(description: "root key file \(path) must hold \(keyBytes * 2) hexadecimal characters")
        }
        var failed = false
        let key = SecretBytes(count: keyBytes) { (buffer: UnsafeMutableRawBufferPointer) in
            for index in 0..<keyBytes {
                guard let high = nibble(text[2 * index]), let low = nibble(text[2 * index + 1]) else {
                    failed = true
                    buffer[index] = 0
                    continue
                }
                buffer[index] = high << 4 | low
            }
        }
        // The message never shows the file's content.
        guard !failed else { throw Invalid(description: "root key file \(path) holds a character that is not hexadecimal") }
        return key
    }

    /// Creates a new random root key file (mode 0600). Refuses to overwrite one.
    public static func create(path: String, entropy: any EntropySource = SystemEntropy()) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw Invalid(description: "root key file \(path) exists; refusing to replace a root key")
        }
        var raw = [UInt8](repeating: 0, count: keyBytes)
        defer { raw.withUnsafeMutableBytes { wipe($0) } }
        try raw.withUnsafeMutableBytes { try entropy.fill($0) }
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(keyBytes * 2 + 1)
        for byte in raw {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        text.append(UInt8(ascii: "\n"))
        defer { text.withUnsafeMutableBytes { wipe($0) } }
        try SecretFile.write(text, to: path)
    }

    /// The value of one hexadecimal digit.
    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Zeroes a buffer in a way the optimiser keeps.
func wipe(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress else { return }
    explicit_bzero(base, buffer.count)
}
