import Foundation
import XCTest

/// A real `keyraft dev --nodes 3` cluster in a temporary folder, started with the built
/// binary: `KEYRAFT_BIN`, else the package's `.build/debug/keyraft`.
final class LiveCluster: @unchecked Sendable {
    let folder: URL
    let process: Process
    /// `AWS_*` and `KEYRAFT_ENDPOINTS` as `keyraft dev` wrote them to `env`.
    let environment: [String: String]
    let binary: String

    var clusterFolder: URL { folder.appendingPathComponent("c") }
    var endpoints: [String] { environment["KEYRAFT_ENDPOINTS", default: ""].split(separator: ",").map(String.init) }

    /// The binary to test, or nil when it is not built.
    static func binaryPath() -> String? {
        if let path = ProcessInfo.processInfo.environment["KEYRAFT_BIN"], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        // Tests/KeyraftClientTests/LiveCluster.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent(".build/debug/keyraft").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Starts the cluster and waits (up to `readySeconds`) for it to write `endpoints`.
    init(binary: String, readySeconds: Double = 120) throws {
        self.binary = binary
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("keyraft-client-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let log = folder.appendingPathComponent("dev.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["dev", "--dir", folder.appendingPathComponent("c").path, "--nodes", "3"]
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let endpointsFile = folder.appendingPathComponent("c/endpoints").path
        let deadline = Date().addingTimeInterval(readySeconds)
        while !FileManager.default.fileExists(atPath: endpointsFile) {
            guard process.isRunning, Date() < deadline else {
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                Self.stop(process)
                throw ClusterFailure(description: "keyraft dev did not become ready: \(text.suffix(2_000))")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let env = try String(contentsOf: folder.appendingPathComponent("c/env"), encoding: .utf8)
        var environment: [String: String] = [:]
        for line in env.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        self.environment = environment
    }

    /// SIGTERM to the dev process, which stops every node; SIGKILL after 30 s.
    func stop() {
        Self.stop(process)
        try? FileManager.default.removeItem(at: folder)
    }

    private static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Runs the binary with the cluster's environment; returns the exit status and output.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = arguments
        child.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        child.standardOutput = pipe
        child.standardError = pipe
        try child.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return (child.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

struct ClusterFailure: Error, CustomStringConvertible {
    let description: String
}
