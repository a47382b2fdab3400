import Foundation
import Glibc
import KMS
import KMSWire

/// The credential store: access key → secret, principal ARN, account and identity actions.
///
/// A JSON file of mode 0600 (refused when group or others can read it, since it holds
/// secrets):
///
///     {"credentials": [{"accessKeyId": "AKIA…", "secretAccessKey": "…",
///                       "principalArn": "arn:aws:iam::111122223333:user/dev",
///                       "accountId": "111122223333", "allowedActions": ["kms:*"]}]}
///
/// `allowedActions` are the principal's identity permissions (`kms:Encrypt`, `kms:*`,
/// `keyraft:GetNodeStatus`, `keyraft:*`). They are the default-deny side of least
/// privilege: a key policy that delegates to the account root grants only what they list,
/// and a missing list grants nothing.
public struct CredentialFile: SigV4CredentialStore, Sendable {
    public typealias Principal = KMS.Principal

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case tooOpen(path: String, mode: Int)
        case malformed(path: String, reason: String)

        public var description: String {
            switch self {
            case let .unreadable(path, reason): return "credential file \(path) cannot be read: \(reason)"
            case let .tooOpen(path, mode):
                return "credential file \(path) has mode \(String(mode, radix: 8)); it holds secrets and must be 0600"
            case let .malformed(path, reason): return "credential file \(path) is malformed: \(reason)"
            }
        }
    }

    struct Entry: Codable {
        var accessKeyId: String
        var secretAccessKey: String
        var principalArn: String
        var accountId: String
        var allowedActions: [String]?
    }

    struct Document: Codable {
        var credentials: [Entry]
    }

    private let byAccessKey: [String: SigV4StoredCredential<Principal>]

    public init(path: String) throws(LoadError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        let mode = Int(info.st_mode & 0o777)
        guard mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: mode) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        let document: Document
        do { document = try JSONDecoder().decode(Document.self, from: data) } catch {
            // DecodingError names the field, never a value.
            throw .malformed(path: path, reason: "\(error)")
        }
        var table: [String: SigV4StoredCredential<Principal>] = [:]
        for entry in document.credentials {
            guard !entry.accessKeyId.isEmpty, entry.secretAccessKey.count >= 16 else {
                throw .malformed(path: path, reason: "an access key id is empty or its secret is shorter than 16 characters")
            }
            guard table[entry.accessKeyId] == nil else {
                throw .malformed(path: path, reason: "access key \(entry.accessKeyId) is listed twice")
            }
            let principal = Principal(arn: entry.principalArn, accountID: entry.accountId,
                                      identityActions: entry.allowedActions ?? [])
            table[entry.accessKeyId] = SigV4StoredCredential(secretAccessKey: entry.secretAccessKey, principal: principal)
        }
        byAccessKey = table
    }

    public func credential(forAccessKeyID accessKeyID: String, sessionToken: String?) -> SigV4StoredCredential<Principal>? {
        // Keyraft issues no temporary credentials: any session token is refused.
        guard sessionToken == nil else { return nil }
        return byAccessKey[accessKeyID]
    }

    /// Writes a credential file with mode 0600 (created that way, never widened).
    public static func write(_ entries: [(accessKeyID: String, secret: String, principalARN: String, accountID: String,
                                          allowedActions: [String])], to path: String) throws {
        let document = Document(credentials: entries.map {
            Entry(accessKeyId: $0.accessKeyID, secretAccessKey: $0.secret, principalArn: $0.principalARN,
                  accountId: $0.accountID, allowedActions: $0.allowedActions)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try SecretFile.write(Array(try encoder.encode(document)), to: path)
    }
}

/// Identity permissions of a principal for actions outside a key policy (admin calls).
extension KMS.Principal {
    public func isAllowed(_ action: String) -> Bool {
        identityActions.contains { pattern in
            if pattern == "*" || pattern == action { return true }
            guard pattern.hasSuffix("*") else { return false }
            return action.hasPrefix(pattern.dropLast())
        }
    }
}

/// Files that hold secrets: created with mode 0600 and replaced atomically.
public enum SecretFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                close(fd)
                unlink(temporary)
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            written += n
        }
        let synced = fsync(fd) == 0
        let closed = close(fd) == 0
        guard synced, closed, rename(temporary, path) == 0 else {
            let code = POSIXErrorCode(rawValue: errno) ?? .EIO
            unlink(temporary)
            throw POSIXError(code)
        }
    }
}
