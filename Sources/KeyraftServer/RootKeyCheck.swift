import APIServer
import Foundation
import KeyraftCrypto

/// A sealed cluster's root key lives only in Shamir shares held by operators. Nodes keep
/// a check value instead — `HMAC-SHA256(root key, "keyraft root key check v1")`, 64 hex
/// characters — so a node unsealed with shares of some other split, which reconstruct a
/// well-formed but wrong key, refuses it instead of serving with it.
public enum RootKeyCheck {
    static let label = Array("keyraft root key check v1".utf8)

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func value(of rootKey: SecretBytes) -> String {
        HMACSHA256.authenticationCode(for: label, key: rootKey).map { String(format: "%02x", $0) }.joined()
    }

    public static func load(path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Invalid(description: "root key check file \(path) cannot be read")
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard value.count == 64, value.allSatisfy(\.isHexDigit) else {
            throw Invalid(description: "root key check file \(path) must hold 64 hexadecimal characters")
        }
        return value.lowercased()
    }

    /// `keyraft operator init`: draws a root key, writes its check value to `checkPath`
    /// (refusing to replace one) and returns the shares. The key itself is never stored.
    public static func initialize(checkPath: String, shares: Int, threshold: Int,
                                  entropy: SystemEntropy = SystemEntropy()) throws -> [Shamir.Share] {
        guard !FileManager.default.fileExists(atPath: checkPath) else {
            throw Invalid(description: "\(checkPath) exists: this cluster is initialised already")
        }
        let rootKey = try SecretBytes.generate(count: RootKeyFile.keyBytes, using: entropy)
        let split = try Shamir.split(rootKey, shares: shares, threshold: threshold, entropy: entropy)
        try SecretFile.write(Array((value(of: rootKey) + "\n").utf8), to: checkPath)
        return split
    }
}

/// Shares given to one node so far, until they reconstruct its root key.
struct UnsealProgress {
    static let sharesMax = Shamir.sharesMax
    private(set) var shares: [Shamir.Share] = []

    enum Outcome {
        case needMore(have: Int, need: Int)
        case unsealed(SecretBytes)
        case refused(String)
    }

    /// Adds one share. A bad set is discarded as a whole: which share was wrong cannot be
    /// told, so the operator starts again.
    mutating func add(_ share: Shamir.Share, check: String) -> Outcome {
        if shares.contains(share) { return .refused("This share was given already.") }
        guard shares.count < Self.sharesMax else {
            shares = []
            return .refused("Too many shares; all discarded. Start again.")
        }
        shares.append(share)
        do {
            let key = try Shamir.combine(shares)
            shares = []
            guard RootKeyCheck.value(of: key) == check else {
                return .refused("The shares reconstruct a key that is not this cluster's root key; all discarded. Start again.")
            }
            return .unsealed(key)
        } catch let error as Shamir.Error {
            switch error {
            case let .belowThreshold(have, need): return .needMore(have: have, need: need)
            case .duplicateShare:
                shares.removeLast()
                return .refused("This share was given already.")
            case .malformedShare:
                shares.removeLast()
                return .refused("The share is malformed.")
            case .sharesFromDifferentSplits:
                shares.removeLast()
                return .refused("The share belongs to a different split than the shares given before.")
            case .verificationFailed, .invalidParameters:
                shares = []
                return .refused("The shares do not reconstruct the root key: one is wrong or damaged; all discarded. Start again.")
            }
        } catch {
            shares = []
            return .refused("The shares could not be combined; all discarded. Start again.")
        }
    }
}
