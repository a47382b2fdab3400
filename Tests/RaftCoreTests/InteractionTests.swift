import Testing
@testable import RaftCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs every script in testdata/ and compares the trace with the expected output stored in the
/// same file. `RAFT_REWRITE=1 swift test` regenerates the expected output (review it as a diff).
@Suite struct InteractionTests {
    static let testdataDir: String = {
        let file = "\(#filePath)"
        let dir = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return dir + "/testdata"
    }()

    /// Every `*.txt` script in testdata/, sorted by name.
    static let scripts: [String] = {
        var names: [String] = []
        guard let dir = opendir(testdataDir) else { return names }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".txt") { names.append(String(name.dropLast(4))) }
        }
        return names.sorted()
    }()

    @Test func atLeastFifteenScripts() {
        #expect(Self.scripts.count >= 15)
    }

    @Test(arguments: scripts)
    func script(_ name: String) throws {
        let path = "\(Self.testdataDir)/\(name).txt"
        let original = try #require(readTextFile(path), "missing \(path)")
        let (actual, mismatches) = runScript(original)
        if getenv("RAFT_REWRITE") != nil {
            writeTextFile(path, actual)
            return
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.joined(separator: "\n"))")
    }
}

/// Executes a script; returns the rewritten file and a list of mismatching blocks.
func runScript(_ text: String, env: InteractionEnv = InteractionEnv()) -> (String, [String]) {
    var out: [String] = []
    var mismatches: [String] = []
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var i = 0
    while i < lines.count {
        let line = lines[i]
        if line.isEmpty || line.hasPrefix("#") {
            out.append(line)
            i += 1
            continue
        }
        var expected: [String] = []
        i += 1
        if i < lines.count && lines[i] == "----" {
            i += 1
            while i < lines.count && !lines[i].isEmpty {
                expected.append(lines[i])
                i += 1
            }
        }
        let actual = env.run(line)
        if actual != expected {
            mismatches.append("command: \(line)\nexpected:\n\(expected.joined(separator: "\n"))\nactual:\n\(actual.joined(separator: "\n"))")
        }
        out.append(line)
        out.append("----")
        out.append(contentsOf: actual)
    }
    var result = out.joined(separator: "\n")
    while result.hasSuffix("\n\n") { result.removeLast() }
    if !result.hasSuffix("\n") { result += "\n" }
    return (result, mismatches)
}

func readTextFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        data.append(contentsOf: buf[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

func writeTextFile(_ path: String, _ text: String) {
    guard let f = fopen(path, "wb") else { return }
    defer { fclose(f) }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
}
