import Foundation
import Testing

/// Locates `../shared/vectors` (from the project root) or `$KEYRAFT_VECTORS`.
///
/// Under `CI=true` a missing vector file is a test failure, never a silent skip.
/// Elsewhere a missing file is reported as a recorded warning-style failure too unless
/// `KEYRAFT_ALLOW_MISSING_VECTORS=1` is set: a missing vector must always be seen.
enum Vectors {
    static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["KEYRAFT_VECTORS"] {
            return URL(fileURLWithPath: override)
        }
        // Tests/KeyraftCryptoTests/Vectors.swift → project root → ../shared/vectors
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/vectors")
    }

    /// The parsed JSON of a Wycheproof file, or nil (with the reason recorded) if it is missing.
    static func wycheproof(_ name: String) -> [String: Any]? {
        let url = directory.appendingPathComponent("wycheproof").appendingPathComponent(name)
        guard let data = try? Data(contentsOf: url) else {
            missing(url.path)
            return nil
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            Issue.record("vector file \(url.path) is not a JSON object")
            return nil
        }
        return object
    }

    static func missing(_ path: String) {
        let allow = ProcessInfo.processInfo.environment["KEYRAFT_ALLOW_MISSING_VECTORS"] == "1"
        let ci = ProcessInfo.processInfo.environment["CI"] == "true"
        if ci || !allow {
            Issue.record("test vector file missing: \(path)")
        } else {
            print("SKIPPED: test vector file missing: \(path) (KEYRAFT_ALLOW_MISSING_VECTORS=1)")
        }
    }

    /// One Wycheproof test case with its group's parameters merged in.
    struct Case {
        let group: [String: Any]
        let test: [String: Any]
        var id: Int { test["tcId"] as? Int ?? -1 }
        var result: String { test["result"] as? String ?? "" }
        var isValid: Bool { result == "valid" }
        func hex(_ field: String) -> [UInt8] { fromHex(test[field] as? String ?? "") }
        func int(_ field: String) -> Int { test[field] as? Int ?? group[field] as? Int ?? -1 }
    }

    static func cases(_ file: [String: Any], where include: ([String: Any]) -> Bool = { _ in true }) -> [Case] {
        let groups = file["testGroups"] as? [[String: Any]] ?? []
        return groups.filter(include).flatMap { group in
            (group["tests"] as? [[String: Any]] ?? []).map { Case(group: group, test: $0) }
        }
    }
}

func fromHex(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count / 2)
    var iterator = text.utf8.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        bytes.append(UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)!)
    }
    return bytes
}

func toHex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
