import Foundation
import KMSWire
import Testing

/// A credential store over a fixed table, for tests. A key with a session token accepts
/// only that token; a key without one accepts only requests without a token.
struct TableCredentialStore: SigV4CredentialStore {
    struct Entry: Sendable {
        var secret: String
        var sessionToken: String?
        var principal: String
    }

    var entries: [String: Entry]

    init(_ entries: [String: Entry]) {
        self.entries = entries
    }

    /// A store holding exactly `credentials`, with principal `principal`.
    init(_ credentials: SigV4Credentials, principal: String = "test-principal") {
        self.entries = [credentials.accessKeyID: Entry(
            secret: credentials.secretAccessKey, sessionToken: credentials.sessionToken, principal: principal)]
    }

    func credential(forAccessKeyID accessKeyID: String, sessionToken: String?) -> SigV4StoredCredential<String>? {
        guard let entry = entries[accessKeyID], entry.sessionToken == sessionToken else { return nil }
        return SigV4StoredCredential(secretAccessKey: entry.secret, principal: entry.principal)
    }
}

/// Parses the HTTP request text of the SigV4 test suite: a request line, `Name:value`
/// header lines (a line starting with whitespace continues the previous value, kept with
/// its line break), a blank line, then the body.
enum HTTPRequestText {
    enum ParseError: Error, CustomStringConvertible {
        case malformed(String)
        var description: String {
            switch self { case .malformed(let reason): return "malformed request text: \(reason)" }
        }
    }

    static let linesMax = 1_000

    static func parse(_ bytes: [UInt8]) throws -> SigV4Request {
        let text = String(decoding: bytes, as: UTF8.self)
        let (head, body) = split(text)
        let lines = head.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        guard lines.count <= linesMax, let requestLine = lines.first else { throw ParseError.malformed("no request line") }
        guard let firstSpace = requestLine.firstIndex(of: " "), let lastSpace = requestLine.lastIndex(of: " "),
              firstSpace < lastSpace
        else { throw ParseError.malformed("request line '\(requestLine)'") }
        let method = String(requestLine[..<firstSpace])
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        let path: String
        let query: String
        if let question = target.firstIndex(of: "?") {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = String(target)
            query = ""
        }
        var headers: [SigV4Request.Header] = []
        for line in lines.dropFirst() where !line.isEmpty {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { throw ParseError.malformed("continuation without header") }
                headers[headers.count - 1].value += "\n" + line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw ParseError.malformed("header line '\(line)'") }
            headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        return SigV4Request(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))
    }

    /// The text before the first empty line, and the text after it.
    private static func split(_ text: String) -> (Substring, Substring) {
        if let range = text.range(of: "\n\n") {
            return (text[..<range.lowerBound], text[range.upperBound...])
        }
        if let range = text.range(of: "\r\n\r\n") {
            return (text[..<range.lowerBound], text[range.upperBound...])
        }
        return (text[...], "")
    }
}

/// Where the SigV4 test suite lives, and what to do when it is missing.
enum SigV4Vectors {
    /// `$KEYRAFT_VECTORS/sigv4` (KEYRAFT_VECTORS names the shared vectors directory, as in
    /// the main repository; a directory that itself holds the cases is accepted too), else
    /// `../shared/vectors/sigv4` next to the package root, found from this file's path.
    static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["KEYRAFT_VECTORS"], !override.isEmpty {
            let base = URL(fileURLWithPath: override)
            let nested = base.appendingPathComponent("sigv4")
            return FileManager.default.fileExists(atPath: nested.path) ? nested : base
        }
        // Tests/KMSWireTests/TestSupport.swift → package root → ../shared/vectors/sigv4
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/vectors/sigv4")
    }

    /// Records a missing vector directory: always a failure under `CI=true`; elsewhere a
    /// failure too unless `KEYRAFT_ALLOW_MISSING_VECTORS=1` (then a printed skip).
    static func missing(_ path: String) {
        let environment = ProcessInfo.processInfo.environment
        if environment["CI"] == "true" || environment["KEYRAFT_ALLOW_MISSING_VECTORS"] != "1" {
            Issue.record("SigV4 test vectors missing: \(path)")
        } else {
            print("SKIPPED: SigV4 test vectors missing: \(path) (KEYRAFT_ALLOW_MISSING_VECTORS=1)")
        }
    }
}

/// Fixed instants for tests.
enum TestTime {
    /// 2026-11-29T08:15:00Z, the time of the boto3 example in TOOLCHAIN-NOTES.
    static let boto = date("2026-11-29T08:15:00Z")

    static func date(_ iso8601: String) -> Date {
        guard let date = ISO8601DateFormatter().date(from: iso8601) else {
            Issue.record("bad test date \(iso8601)")
            return Date(timeIntervalSince1970: 0)
        }
        return date
    }
}

/// Runs `body`, expecting a `SigV4VerificationError`; returns it (nil, recorded, if none).
func verificationError<Store: SigV4CredentialStore>(
    _ verifier: SigV4Verifier<Store>, _ request: SigV4Request, now: Date,
    sourceLocation: SourceLocation = #_sourceLocation
) -> SigV4VerificationError? {
    do {
        _ = try verifier.verify(request, now: now)
        Issue.record("verification unexpectedly succeeded", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
