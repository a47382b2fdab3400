import ArgumentParser
import Dispatch
import Envelope
import Foundation
import Glibc
import KeyraftClient
import KeyraftCrypto

/// `keyraft encrypt` and `keyraft decrypt`: whole files through the envelope format, in
/// bounded memory (one read chunk and one frame at a time), with the cluster found through
/// the aws CLI's environment variables.
enum FileEncryption {
    /// Bytes read from the input per step.
    static let readChunkBytes = 1 << 20

    /// `k=v` options as a context; an empty key or a repeated key is refused.
    static func context(_ pairs: [String]) throws -> [String: String] {
        var context: [String: String] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--context takes key=value, got '\(pair)'")
            }
            let key = String(pair[..<equals])
            guard context[key] == nil else { throw ValidationError("--context names '\(key)' twice") }
            context[key] = String(pair[pair.index(after: equals)...])
        }
        return context
    }

    static func makeClient(frameBytes: Int = EnvelopeFormat.frameBytesDefault) throws -> EnvelopeClient {
        let configuration = try KeyraftClient.Configuration.fromEnvironment()
        return EnvelopeClient(client: try KeyraftClient(configuration: configuration), frameBytes: frameBytes)
    }

    /// Runs async work from a synchronous command and waits for it.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { result.set(.success(try await body())) } catch { result.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try result.get()
    }

    /// Prints `keyraft <command>: <error>` on stderr and exits 1.
    static func fail(_ command: String, _ error: any Error) -> ExitCode {
        FileHandle.standardError.write(Data("keyraft \(command): \(error)\n".utf8))
        return .failure
    }
}

/// Carries the (non-copyable) encryptor out of the async call that made it; `take` hands it
/// over once.
final class EncryptorBox: @unchecked Sendable {
    // @unchecked: written once by the task that makes it, read after that task has finished.
    private var encryptor: EnvelopeEncryptor?

    init(_ encryptor: consuming EnvelopeEncryptor) { self.encryptor = consume encryptor }

    func take() -> EnvelopeEncryptor? { encryptor.take() }
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) { lock.withLock { result = value } }

    func get() throws -> T {
        guard let result = lock.withLock({ result }) else { preconditionFailure("no result") }
        return try result.get()
    }
}

struct EncryptFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt a file of any size under a KMS key: one GenerateDataKey call, then AES-256-GCM frames (docs/FORMATS.md).",
        discussion: "The cluster comes from the aws CLI's environment (AWS_ENDPOINT_URL_KMS or KEYRAFT_ENDPOINTS, AWS_CA_BUNDLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).")

    @Option(help: "The KMS key: key id, key ARN, alias/NAME or alias ARN.")
    var key: String

    @Option(name: .customLong("context"), help: "An encryption context pair key=value (repeatable); decrypting needs no copy of it.")
    var contextPairs: [String] = []

    @Option(name: .customLong("in"), help: "The file to encrypt.")
    var input: String

    @Option(name: .customLong("out"), help: "The encrypted file to write (e.g. FILE.kr).")
    var output: String

    @Option(help: "Plaintext bytes per frame (1 … 4194304).")
    var frameBytes = EnvelopeFormat.frameBytesDefault

    @Flag(help: "Replace --out if it exists.")
    var force = false

    func validate() throws {
        guard (1...EnvelopeFormat.frameBytesMax).contains(frameBytes) else {
            throw ValidationError("--frame-bytes must be 1 … \(EnvelopeFormat.frameBytesMax)")
        }
    }

    func run() throws {
        do {
            let context = try FileEncryption.context(contextPairs)
            let source = try InputFile(path: input)
            let sink = try TemporaryOutput(finalPath: output, force: force, mode: 0o644, notSameAs: source)
            defer { sink.discard() }
            let client = try FileEncryption.makeClient(frameBytes: frameBytes)
            let (key, size) = (key, source.size)
            let started = try FileEncryption.blocking {
                EncryptorBox(try await client.makeEncryptor(keyID: key, context: context, plaintextBytes: size))
            }
            guard var encryptor = started.take() else { preconditionFailure("the encryptor was taken twice") }
            let keyARN = encryptor.header.keyARN
            let progress = Progress(label: "encrypt", totalBytes: source.size)
            var chunk = [UInt8](repeating: 0, count: FileEncryption.readChunkBytes)
            while true {
                let count = try source.read(into: &chunk)
                if count == 0 { break }
                try sink.write(try encryptor.update(chunk[..<count]))
                progress.advance(by: count)
            }
            try sink.write(try encryptor.finish())
            try sink.commit()
            progress.finish()
            print("encrypted \(input) → \(output) (\(sink.bytesWritten) bytes) under \(keyARN)")
        } catch {
            throw FileEncryption.fail("encrypt", error)
        }
    }
}

struct DecryptFile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt a file written by keyraft encrypt. The output appears only once the whole file has verified.",
        discussion: "Writes a temporary file next to --out and renames it only after the final frame verified, so a truncated or altered input never leaves plaintext under the output name.")

    @Option(name: .customLong("in"), help: "The encrypted file.")
    var input: String

    @Option(name: .customLong("out"), help: "The plaintext file to write (created 0600).")
    var output: String

    @Option(name: .customLong("context"), help: "A pair key=value the file's encryption context must contain (repeatable).")
    var contextPairs: [String] = []

    @Flag(help: "Replace --out if it exists.")
    var force = false

    func run() throws {
        do {
            let required = try FileEncryption.context(contextPairs)
            let source = try InputFile(path: input)
            let sink = try TemporaryOutput(finalPath: output, force: force, mode: 0o600, notSameAs: source)
            defer { sink.discard() }
            let client = try FileEncryption.makeClient()
            var decryptor = EnvelopeDecryptor(requiredContext: required)
            let progress = Progress(label: "decrypt", totalBytes: source.size)
            var chunk = [UInt8](repeating: 0, count: FileEncryption.readChunkBytes)
            while true {
                let count = try source.read(into: &chunk)
                if count == 0 { break }
                try sink.write(try decryptor.update(chunk[..<count]))
                if decryptor.needsDataKey, let header = decryptor.header {
                    let key = try FileEncryption.blocking { try await client.dataKey(for: header) }
                    try sink.write(try decryptor.supplyDataKey(key))
                }
                progress.advance(by: count)
            }
            try decryptor.finish()
            try sink.commit()
            progress.finish()
            print("decrypted \(input) → \(output) (\(sink.bytesWritten) bytes), key \(decryptor.header?.keyARN ?? "?")")
        } catch {
            throw FileEncryption.fail("decrypt", error)
        }
    }
}
