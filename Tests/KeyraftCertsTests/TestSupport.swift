import Foundation
import XCTest
import KeyraftCerts

/// Runs the `openssl` command-line tool: an independent implementation checks what the
/// library wrote.
enum OpenSSLCLI {
    static let path = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Result {
        var status: Int32
        /// Standard output and standard error, interleaved.
        var output: String
    }

    static func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let executable = try XCTUnwrap(path, "the openssl command-line tool is required", file: file, line: line)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// `openssl verify -CAfile ca [extra] cert`.
    static func verify(_ certificate: String, caFile: String, _ extra: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try run(["verify", "-CAfile", caFile] + extra + [certificate], file: file, line: line)
    }

    /// `openssl x509 -noout -text`.
    static func text(_ certificate: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try run(["x509", "-noout", "-text", "-in", certificate], file: file, line: line)
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        return result.output
    }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "keyraft-certs-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Asserts that `body` throws a `CertificateError` for which `matches` holds.
func assertThrowsCertificateError(
    _ body: () throws(CertificateError) -> Void,
    _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line,
    matches: (CertificateError) -> Bool
) {
    do {
        try body()
        XCTFail("expected a CertificateError. \(message)", file: file, line: line)
    } catch {
        XCTAssertTrue(matches(error), "unexpected error: \(error). \(message)", file: file, line: line)
    }
}

func permissions(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try XCTUnwrap(attributes[.posixPermissions] as? Int, file: file, line: line)
}

func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
