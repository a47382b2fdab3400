import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// Writing certificate and key files so that a reader never sees a partial file and a key
/// file never exists, even for an instant, with a mode wider than the one asked for.
///
/// Each file is first written to a fresh temporary file in the same directory, created with
/// its final mode by `open(O_CREAT | O_EXCL, mode)` (never `chmod`ed afterwards), filled and
/// fsynced. `commit` then moves the files into place: `link` when existing files must not be
/// replaced (it fails atomically with `EEXIST`), `rename` when they may be.
enum SecureFiles {
    static let privateKeyMode: mode_t = 0o600
    static let certificateMode: mode_t = 0o644
    static let directoryMode: mode_t = 0o700
    /// Retries of one `write` or `fsync` interrupted by a signal before giving up.
    static let interruptedRetriesMax = 100

    /// A filled temporary file waiting to be moved to `finalPath`.
    struct Pending {
        let temporaryPath: String
        let finalPath: String
    }

    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Creates `path` (not its parents) with mode 0700 unless it already exists.
    static func makeDirectory(_ path: String) throws(CertificateError) {
        guard mkdir(path, directoryMode) == 0 || errno == EEXIST else {
            throw .fileSystem(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// Writes a temporary file next to `finalPath` with `mode`; `fill` writes the contents to
    /// the descriptor. The temporary file is removed if anything fails.
    static func prepare(
        _ finalPath: String, mode: mode_t, fill: (Int32) throws(CertificateError) -> Void
    ) throws(CertificateError) -> Pending {
        let temporaryPath = finalPath + ".tmp-" + (try randomSuffix())
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw .fileSystem(operation: "open", path: temporaryPath, errno: errno) }
        do throws(CertificateError) {
            try fill(descriptor)
            try retryingInterrupts("fsync", temporaryPath) { fsync(descriptor) }
        } catch {
            close(descriptor)
            unlink(temporaryPath)
            throw error
        }
        // Closed exactly once: after a failed close the descriptor number may already be reused.
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw .fileSystem(operation: "close", path: temporaryPath, errno: code)
        }
        return Pending(temporaryPath: temporaryPath, finalPath: finalPath)
    }

    /// Moves every pending file into place, or none of them: on failure the temporary files
    /// and any file this call already linked are removed (in replace mode, files already
    /// renamed over old ones stay, since the old contents are gone).
    static func commit(_ files: [Pending], replace: Bool, directory: String) throws(CertificateError) {
        var committed: [String] = []
        for (index, file) in files.enumerated() {
            let moved = replace ? rename(file.temporaryPath, file.finalPath) : link(file.temporaryPath, file.finalPath)
            if moved != 0 {
                let code = errno
                for rest in files[index...] { unlink(rest.temporaryPath) }
                if !replace { for path in committed { unlink(path) } }
                if code == EEXIST { throw .fileExists(path: file.finalPath) }
                throw .fileSystem(operation: replace ? "rename" : "link", path: file.finalPath, errno: code)
            }
            if !replace { unlink(file.temporaryPath) }
            committed.append(file.finalPath)
        }
        syncDirectory(directory)
    }

    /// Removes a prepared file that will not be committed.
    static func discard(_ file: Pending) {
        unlink(file.temporaryPath)
    }

    /// Writes all of `bytes` to `descriptor`.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(CertificateError) {
        var offset = 0
        var interrupts = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                guard errno == EINTR, interrupts < interruptedRetriesMax else {
                    throw .fileSystem(operation: "write", path: path, errno: errno)
                }
                interrupts += 1
                continue
            }
            guard written > 0 else { throw .fileSystem(operation: "write (no progress)", path: path, errno: EIO) }
            offset += written
        }
    }

    /// Best effort: the files themselves are already fsynced; this makes their names durable.
    private static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    private static func retryingInterrupts(
        _ operation: String, _ path: String, _ call: () -> Int32
    ) throws(CertificateError) {
        for _ in 0...interruptedRetriesMax {
            if call() == 0 { return }
            guard errno == EINTR else { break }
        }
        throw .fileSystem(operation: operation, path: path, errno: errno)
    }

    private static func randomSuffix() throws(CertificateError) -> String {
        var bytes = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw LibCrypto.failure("drawing a file name") }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }, as: UTF8.self)
    }
}
