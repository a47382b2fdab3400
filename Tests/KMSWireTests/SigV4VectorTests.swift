import Foundation
import KMSWire
import Testing

/// Every case of the AWS SigV4 test suite (`shared/vectors/sigv4`), header signing only:
/// the signer must reproduce the canonical request, the string to sign, the signature and
/// the Authorization header byte for byte, and the verifier must accept the signed request
/// at the vector's timestamp. The `query-*` files (presigned URLs) are out of scope.
@Suite struct SigV4VectorTests {
    /// One case folder.
    struct VectorCase {
        let name: String
        let credentials: SigV4Credentials
        let region: String
        let service: String
        let date: Date
        let options: SigV4Signer.Options
        let request: SigV4Request
        let signedRequest: SigV4Request
        let canonicalRequest: String
        let stringToSign: String
        let signature: String
    }

    enum Outcome {
        case ran(matched: Bool)
        case skipped(String)
    }

    static let caseCountMax = 1_000

    @Test func allHeaderSigningCasesMatch() throws {
        let directory = SigV4Vectors.directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            SigV4Vectors.missing(directory.path)
            return
        }
        let folders = names.sorted().filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(
                atPath: directory.appendingPathComponent(name).path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        try #require(folders.count <= Self.caseCountMax)
        var ran = 0, matched = 0
        var skips: [String] = []
        for folder in folders {
            switch run(directory.appendingPathComponent(folder), name: folder) {
            case .ran(let ok):
                ran += 1
                if ok { matched += 1 }
            case .skipped(let reason):
                skips.append("\(folder): \(reason)")
            }
        }
        let reasons = skips.isEmpty ? "" : " (" + skips.joined(separator: "; ") + ")"
        print("SigV4 vectors: \(ran) cases ran, \(matched) matched, \(skips.count) skipped\(reasons)")
        #expect(ran > 0, "no SigV4 vector case ran in \(directory.path)")
        #expect(matched == ran)
    }

    private func run(_ folder: URL, name: String) -> Outcome {
        let vector: VectorCase
        do {
            guard let loaded = try load(folder, name: name) else {
                return .skipped("no header-signing files")
            }
            vector = loaded
        } catch {
            Issue.record("\(name): cannot load: \(error)")
            return .ran(matched: false)
        }
        var ok = true
        func check(_ condition: Bool, _ what: String) {
            if !condition {
                ok = false
                Issue.record("\(name): \(what) differs")
            }
        }
        let signer = SigV4Signer(
            credentials: vector.credentials, region: vector.region, service: vector.service, options: vector.options)
        do {
            let signed = try signer.sign(vector.request, date: vector.date)
            check(signed.canonicalRequest == vector.canonicalRequest, "canonical request")
            check(signed.stringToSign == vector.stringToSign, "string to sign")
            check(signed.signature == vector.signature, "signature")
            check(signed.request.values(named: "authorization") == vector.signedRequest.values(named: "authorization"),
                  "Authorization header")
        } catch {
            check(false, "signing (\(error))")
        }
        let verifier = SigV4Verifier(
            region: vector.region, service: vector.service, store: TableCredentialStore(vector.credentials),
            normalizesPath: vector.options.normalizesPath)
        do {
            let verified = try verifier.verify(vector.signedRequest, now: vector.date)
            check(verified.accessKeyID == vector.credentials.accessKeyID, "verified access key")
        } catch {
            check(false, "verification (\(error.awsErrorName.rawValue): \(error.message))")
        }
        return .ran(matched: ok)
    }

    private func load(_ folder: URL, name: String) throws -> VectorCase? {
        func bytes(_ file: String) throws -> [UInt8] {
            Array(try Data(contentsOf: folder.appendingPathComponent(file)))
        }
        func text(_ file: String) throws -> String { String(decoding: try bytes(file), as: UTF8.self) }
        let required = ["header-canonical-request.txt", "header-string-to-sign.txt", "header-signature.txt",
                        "header-signed-request.txt", "request.txt", "context.json"]
        guard required.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) })
        else { return nil }
        let context = try #require(try JSONSerialization.jsonObject(with: Data(try bytes("context.json"))) as? [String: Any])
        let credentials = try #require(context["credentials"] as? [String: Any])
        let token = credentials["token"] as? String
        return VectorCase(
            name: name,
            credentials: SigV4Credentials(
                accessKeyID: try #require(credentials["access_key_id"] as? String),
                secretAccessKey: try #require(credentials["secret_access_key"] as? String),
                sessionToken: token),
            region: try #require(context["region"] as? String),
            service: try #require(context["service"] as? String),
            date: TestTime.date(try #require(context["timestamp"] as? String)),
            options: SigV4Signer.Options(
                normalizesPath: context["normalize"] as? Bool ?? true,
                addsContentSHA256Header: context["sign_body"] as? Bool ?? false,
                signsSessionToken: !(context["omit_session_token"] as? Bool ?? false)),
            request: try HTTPRequestText.parse(try bytes("request.txt")),
            signedRequest: try HTTPRequestText.parse(try bytes("header-signed-request.txt")),
            canonicalRequest: try text("header-canonical-request.txt"),
            stringToSign: try text("header-string-to-sign.txt"),
            signature: try text("header-signature.txt"))
    }
}
