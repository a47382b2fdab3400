import Dispatch
import Foundation
import Glibc

/// A file read sequentially in chunks.
final class InputFile {
    let path: String
    private let descriptor: Int32
    /// The size of a regular file; nil for pipes and devices.
    let size: Int64?
    let device: UInt64
    let inode: UInt64

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw FileFailure("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        size = (info.st_mode & S_IFMT) == S_IFREG ? Int64(info.st_size) : nil
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }

    deinit { close(descriptor) }

    /// Fills `buffer` as far as the file allows; returns the byte count, 0 at the end.
    func read(into buffer: inout [UInt8]) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw FileFailure("cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            filled += count
        }
        return filled
    }
}

/// Output written to a temporary file next to its final name, moved into place only by
/// `commit` (after an fsync). Until then, and whenever the command fails or is
/// interrupted, nothing appears under the final name and the temporary file is removed.
final class TemporaryOutput {
    let finalPath: String
    let temporaryPath: String
    private let force: Bool
    private var descriptor: Int32
    private(set) var bytesWritten: Int64 = 0
    private var committed = false

    /// - Throws: when `finalPath` exists and `force` is false, or names the input itself.
    init(finalPath: String, force: Bool, mode: mode_t, notSameAs input: InputFile) throws {
        var existing = stat()
        if stat(finalPath, &existing) == 0 {
            guard UInt64(existing.st_dev) != input.device || UInt64(existing.st_ino) != input.inode else {
                throw FileFailure("--out \(finalPath) is the input file")
            }
            guard force else { throw FileFailure("\(finalPath) exists; pass --force to replace it") }
        }
        let url = URL(fileURLWithPath: finalPath)
        let random = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        temporaryPath = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(random).tmp").path
        self.finalPath = finalPath
        self.force = force
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw FileFailure("cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
        InterruptCleanup.shared.register(temporaryPath)
    }

    deinit { discard() }

    func write(_ bytes: [UInt8]) throws {
        precondition(!committed && descriptor >= 0)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw FileFailure("cannot write \(temporaryPath): \(String(cString: strerror(errno)))") }
            offset += count
        }
        bytesWritten += Int64(bytes.count)
    }

    /// Syncs the file and moves it to its final name: `rename` with `--force`, otherwise
    /// `link` (which fails rather than replace a file that appeared meanwhile) and `unlink`.
    func commit() throws {
        precondition(!committed && descriptor >= 0)
        guard fsync(descriptor) == 0 else { throw FileFailure("cannot sync \(temporaryPath): \(String(cString: strerror(errno)))") }
        guard close(descriptor) == 0 else { throw FileFailure("cannot close \(temporaryPath): \(String(cString: strerror(errno)))") }
        descriptor = -1
        if force {
            guard rename(temporaryPath, finalPath) == 0 else {
                throw FileFailure("cannot rename to \(finalPath): \(String(cString: strerror(errno)))")
            }
        } else {
            guard link(temporaryPath, finalPath) == 0 else {
                throw FileFailure("cannot create \(finalPath): \(String(cString: strerror(errno)))")
            }
            unlink(temporaryPath)
        }
        committed = true
        InterruptCleanup.shared.unregister(temporaryPath)
    }

    /// Removes the temporary file unless committed. Safe to call more than once.
    func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if !committed {
            unlink(temporaryPath)
            committed = true
            InterruptCleanup.shared.unregister(temporaryPath)
        }
    }
}

struct FileFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Removes registered temporary files when SIGINT or SIGTERM arrives, then exits with the
/// shell's status for that signal.
final class InterruptCleanup: @unchecked Sendable {
    static let shared = InterruptCleanup()
    private let lock = NSLock()
    private var paths: Set<String> = []
    private var sources: [any DispatchSourceSignal] = []

    private init() {}

    func register(_ path: String) {
        lock.withLock {
            paths.insert(path)
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [self] in
                    lock.withLock { paths.forEach { unlink($0) } }
                    _exit(128 + number)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    func unregister(_ path: String) {
        lock.withLock { _ = paths.remove(path) }
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal, at most 5 times a second.
final class Progress {
    private let label: String
    private let totalBytes: Int64?
    private let enabled = isatty(STDERR_FILENO) == 1
    private let started = DispatchTime.now()
    private var done: Int64 = 0
    private var lastDrawn: UInt64 = 0

    init(label: String, totalBytes: Int64?) {
        self.label = label
        self.totalBytes = totalBytes
    }

    func advance(by bytes: Int) {
        done += Int64(bytes)
        let now = DispatchTime.now().uptimeNanoseconds
        guard enabled, now - lastDrawn >= 200_000_000 else { return }
        lastDrawn = now
        draw()
    }

    func finish() {
        guard enabled else { return }
        draw()
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw() {
        let seconds = max(Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9, 0.001)
        let rate = Double(done) / seconds / 1_048_576
        let gib = { (bytes: Int64) in String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) }
        var line = "\r\(label) "
        if let totalBytes, totalBytes > 0 {
            let fraction = min(Double(done) / Double(totalBytes), 1)
            let width = 30
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            line += String(format: "%3.0f%%  ", fraction * 100) + gib(done) + " / " + gib(totalBytes)
        } else {
            line += gib(done)
        }
        line += String(format: "  %.0f MiB/s ", rate)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
