import Foundation
import XCTest
import KeyraftCerts

/// Reading certificates and keys: DER and PEM, common names, and what is refused.
final class CertificateParsingTests: XCTestCase {
    private var scratch: ScratchDirectory!
    private var cluster: ClusterCertificates!
    private var authority: CertificateAuthority!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory()
        cluster = ClusterCertificates(directory: scratch.file("certs"))
        authority = try cluster.loadOrCreateAuthority().authority
    }

    override func tearDownWithError() throws {
        scratch.remove()
        // XCTest keeps test case instances alive: release what they hold so leak checks see only real leaks.
        scratch = nil
        cluster = nil
        authority = nil
    }

    /// The DER form as the `openssl` tool writes it.
    private func derFromCLI(_ pemPath: String) throws -> [UInt8] {
        let derPath = pemPath + ".der"
        let result = try OpenSSLCLI.run(["x509", "-in", pemPath, "-outform", "DER", "-out", derPath])
        XCTAssertEqual(result.status, 0, result.output)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: derPath)))
    }

    func testCommonNameOfDERRoundTrip() throws {
        let issued = try cluster.writeNodeCertificate(nodeID: 42, authority: authority)
        let der = try derFromCLI(cluster.nodeCertificatePath(nodeID: 42))
        XCTAssertEqual(der, issued.certificate.derBytes)
        XCTAssertEqual(try Certificate.commonName(ofCertificateDER: der), "keyraft-node-42")
        XCTAssertEqual(try NodeIdentity.nodeID(ofCertificateDER: der), 42)
        let pem = try String(contentsOfFile: cluster.nodeCertificatePath(nodeID: 42), encoding: .utf8)
        XCTAssertEqual(try Certificate.commonName(ofCertificatePEM: pem), "keyraft-node-42")

        try cluster.writeClientCertificate(name: "bob", authority: authority)
        let clientDER = try derFromCLI(cluster.clientCertificatePath(name: "bob"))
        XCTAssertEqual(try Certificate.commonName(ofCertificateDER: clientDER), "bob")
        XCTAssertNil(try NodeIdentity.nodeID(ofCertificateDER: clientDER), "a client is no node")
        XCTAssertEqual(try Certificate.commonName(ofCertificateDER: derFromCLI(cluster.authorityCertificatePath)),
                       "Keyraft cluster CA")
    }

    func testMalformedDERIsRefused() throws {
        let der = try authority.issueNodeCertificate(nodeID: 1).certificate.derBytes
        for (label, bytes) in [
            ("empty", []),
            ("truncated", Array(der.dropLast())),
            ("trailing byte", der + [0]),
            ("garbage", [UInt8](repeating: 0x30, count: 64)),
            ("a PEM text", Array("-----BEGIN CERTIFICATE-----".utf8)),
        ] as [(String, [UInt8])] {
            assertThrowsCertificateError({ () throws(CertificateError) in
                _ = try Certificate.commonName(ofCertificateDER: bytes)
            }, label, matches: { _ in true })
            assertThrowsCertificateError({ () throws(CertificateError) in
                _ = try Certificate(derBytes: bytes)
            }, label, matches: { _ in true })
        }
        XCTAssertEqual(try Certificate(derBytes: der).derBytes, der)
    }

    func testSubjectWithTwoCommonNamesIsRefused() throws {
        let keyPath = scratch.file("two.key"), certificatePath = scratch.file("two.pem")
        let made = try OpenSSLCLI.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=keyraft-node-1/CN=keyraft-node-2", "-keyout", keyPath, "-out", certificatePath,
        ])
        XCTAssertEqual(made.status, 0, made.output)
        let der = try derFromCLI(certificatePath)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try Certificate.commonName(ofCertificateDER: der)
        }, matches: { if case .unsupported = $0 { true } else { false } })

        let noName = try OpenSSLCLI.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/O=Keyraft", "-keyout", keyPath, "-out", certificatePath,
        ])
        XCTAssertEqual(noName.status, 0, noName.output)
        let noNameDER = try derFromCLI(certificatePath)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try Certificate.commonName(ofCertificateDER: noNameDER)
        }, matches: { if case .unsupported = $0 { true } else { false } })
    }

    func testPrivateKeyPEMRoundTrip() throws {
        let key = try PrivateKey.generateP256()
        let pem = try key.pemRepresentation()
        XCTAssertTrue(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        XCTAssertTrue(pem.hasSuffix("-----END PRIVATE KEY-----\n"))
        XCTAssertEqual(try PrivateKey(pem: pem).pemRepresentation(), pem)
        XCTAssertNotEqual(try PrivateKey.generateP256().pemRepresentation(), pem, "fresh keys differ")
    }

    func testOtherKeyTypesAndEncryptedKeysAreRefused() throws {
        let p384 = scratch.file("p384.key")
        XCTAssertEqual(try OpenSSLCLI.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384]).status, 0)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try PrivateKey(pemFile: p384)
        }, matches: { if case .unsupported = $0 { true } else { false } })

        let ed25519 = scratch.file("ed25519.key")
        XCTAssertEqual(try OpenSSLCLI.run(["genpkey", "-algorithm", "ED25519", "-out", ed25519]).status, 0)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try PrivateKey(pemFile: ed25519)
        }, matches: { if case .unsupported = $0 { true } else { false } })

        // An encrypted key fails at once instead of prompting for a pass phrase.
        let encrypted = scratch.file("encrypted.key")
        let made = try OpenSSLCLI.run(["pkey", "-in", cluster.authorityKeyPath, "-aes256", "-passout", "pass:secret", "-out", encrypted])
        XCTAssertEqual(made.status, 0, made.output)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try PrivateKey(pemFile: encrypted)
        }, matches: { if case .library = $0 { true } else { false } })

        // The traditional "BEGIN EC PRIVATE KEY" form is accepted.
        let traditional = scratch.file("traditional.key")
        XCTAssertEqual(try OpenSSLCLI.run(["ec", "-in", cluster.authorityKeyPath, "-out", traditional]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: traditional, encoding: .utf8).hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
        XCTAssertNoThrow(try PrivateKey(pemFile: traditional))
    }

    func testErrorsCarryOpenSSLReasonButNoKeyMaterial() throws {
        let pem = try String(contentsOfFile: cluster.authorityKeyPath, encoding: .utf8)
        var lines = pem.split(separator: "\n").map(String.init)
        XCTAssertGreaterThan(lines.count, 3)
        // Corrupt the body: drop its middle line, so the base64 decodes to broken DER.
        lines.remove(at: 2)
        let corrupted = lines.joined(separator: "\n") + "\n"
        do {
            _ = try PrivateKey(pem: corrupted)
            XCTFail("a corrupted key must not parse")
        } catch {
            guard case let .library(operation, openSSL) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertFalse(openSSL.isEmpty, "the OpenSSL reason is carried")
            XCTAssertTrue(openSSL.contains("error:"), openSSL)
            XCTAssertFalse(operation.isEmpty)
            let description = error.description
            for line in pem.split(separator: "\n") where !line.hasPrefix("-----") {
                for start in stride(from: 0, to: line.count - 8, by: 4) {
                    let fragment = line.dropFirst(start).prefix(8)
                    XCTAssertFalse(description.contains(fragment), "the error quotes key text: \(description)")
                }
            }
        }
        // A missing file names the file and the OS reason.
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try PrivateKey(pemFile: scratch.file("absent.key"))
        }, matches: { error in
            if case let .library(operation, openSSL) = error { operation.contains("absent.key") && !openSSL.isEmpty } else { false }
        })
    }
}
