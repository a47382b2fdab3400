import Foundation
import XCTest
import KeyraftCerts

/// Certificates issued by `CertificateAuthority`, checked with the `openssl` tool.
final class IssuanceTests: XCTestCase {
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

    func testNodeCertificateVerifiesForServerAndClientUseAndItsNames() throws {
        try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        let node = cluster.nodeCertificatePath(nodeID: 1), ca = cluster.authorityCertificatePath

        let plain = try OpenSSLCLI.verify(node, caFile: ca)
        XCTAssertEqual(plain.status, 0, plain.output)
        XCTAssertTrue(plain.output.contains("node-1.pem: OK"), plain.output)
        for extra in [
            ["-purpose", "sslserver", "-verify_hostname", "localhost"],
            ["-purpose", "sslserver", "-verify_hostname", "keyraft-node-1"],
            ["-purpose", "sslserver", "-verify_ip", "127.0.0.1"],
            ["-purpose", "sslclient"],
        ] {
            let result = try OpenSSLCLI.verify(node, caFile: ca, extra)
            XCTAssertEqual(result.status, 0, "\(extra): \(result.output)")
        }
        // The checks above can fail: a name the certificate does not carry is refused.
        for extra in [["-verify_hostname", "keyraft-node-2"], ["-verify_ip", "127.0.0.2"], ["-verify_hostname", "example.com"]] {
            let result = try OpenSSLCLI.verify(node, caFile: ca, extra)
            XCTAssertNotEqual(result.status, 0, "\(extra) should not verify: \(result.output)")
        }
    }

    func testNodeCertificateContents() throws {
        try cluster.writeNodeCertificate(
            nodeID: 7, authority: authority, dnsNames: ["localhost", "kms.example.com"], ipAddresses: ["127.0.0.1", "10.1.2.3", "::1"])
        let text = try OpenSSLCLI.text(cluster.nodeCertificatePath(nodeID: 7))
        for expected in [
            "Version: 3 (0x2)",
            "Signature Algorithm: ecdsa-with-SHA256",
            "Issuer: CN = Keyraft cluster CA",
            "Subject: CN = keyraft-node-7",
            "NIST CURVE: P-256",
            "X509v3 Basic Constraints: critical\n                CA:FALSE",
            "X509v3 Key Usage: critical\n                Digital Signature\n",
            "X509v3 Extended Key Usage: \n                TLS Web Server Authentication, TLS Web Client Authentication",
            "X509v3 Subject Key Identifier",
            "X509v3 Authority Key Identifier",
            "DNS:keyraft-node-7, DNS:localhost, DNS:kms.example.com, IP Address:127.0.0.1, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1",
        ] {
            XCTAssertTrue(text.contains(expected), "missing \(expected.debugDescription) in:\n\(text)")
        }
        let ipv6 = try OpenSSLCLI.verify(cluster.nodeCertificatePath(nodeID: 7), caFile: cluster.authorityCertificatePath,
                                         ["-purpose", "sslserver", "-verify_ip", "::1"])
        XCTAssertEqual(ipv6.status, 0, ipv6.output)
    }

    func testAuthorityCertificateContents() throws {
        let text = try OpenSSLCLI.text(cluster.authorityCertificatePath)
        for expected in [
            "Version: 3 (0x2)",
            "Signature Algorithm: ecdsa-with-SHA256",
            "Issuer: CN = Keyraft cluster CA",
            "Subject: CN = Keyraft cluster CA",
            "NIST CURVE: P-256",
            "X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0",
            "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n",
            "X509v3 Subject Key Identifier",
        ] {
            XCTAssertTrue(text.contains(expected), "missing \(expected.debugDescription) in:\n\(text)")
        }
        let selfCheck = try OpenSSLCLI.verify(cluster.authorityCertificatePath, caFile: cluster.authorityCertificatePath)
        XCTAssertEqual(selfCheck.status, 0, selfCheck.output)
        // About ten years, starting a minute before now.
        let dates = try OpenSSLCLI.run(["x509", "-noout", "-checkend", String(3_600 * 24 * 3_650), "-in", cluster.authorityCertificatePath])
        XCTAssertEqual(dates.status, 0, "the CA should outlive 3650 days: \(dates.output)")
        let tooLong = try OpenSSLCLI.run(["x509", "-noout", "-checkend", String(3_600 * 24 * 3_660), "-in", cluster.authorityCertificatePath])
        XCTAssertNotEqual(tooLong.status, 0, "the CA should expire before 3660 days")
    }

    func testDefaultLeafValidityIs825Days() throws {
        try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        let node = cluster.nodeCertificatePath(nodeID: 1)
        let day = 86_400
        XCTAssertEqual(try OpenSSLCLI.run(["x509", "-noout", "-checkend", String(824 * day), "-in", node]).status, 0)
        XCTAssertNotEqual(try OpenSSLCLI.run(["x509", "-noout", "-checkend", String(826 * day), "-in", node]).status, 0)
    }

    func testSerialsArePositiveSixteenBytesAndDistinct() throws {
        var serials = Set<String>()
        for id in UInt64(1)...4 {
            try cluster.writeNodeCertificate(nodeID: id, authority: authority)
            let result = try OpenSSLCLI.run(["x509", "-noout", "-serial", "-in", cluster.nodeCertificatePath(nodeID: id)])
            XCTAssertEqual(result.status, 0, result.output)
            let serial = result.output.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            XCTAssertEqual(serial.count, 32, "16 bytes: \(serial)")
            XCTAssertTrue("4567".contains(serial.first ?? "x"), "top bit clear, next bit set: \(serial)")
            serials.insert(serial)
        }
        XCTAssertEqual(serials.count, 4)
    }

    func testCertificateFromForeignAuthorityFailsVerification() throws {
        let foreign = ClusterCertificates(directory: scratch.file("foreign"))
        let foreignAuthority = try foreign.loadOrCreateAuthority().authority
        try foreign.writeNodeCertificate(nodeID: 1, authority: foreignAuthority)
        // Same subject and issuer names as a genuine node certificate; only the key differs.
        let result = try OpenSSLCLI.verify(foreign.nodeCertificatePath(nodeID: 1), caFile: cluster.authorityCertificatePath)
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("certificate signature failure") || result.output.contains("unable to get local issuer"),
                      result.output)
        let genuine = try OpenSSLCLI.verify(foreign.nodeCertificatePath(nodeID: 1), caFile: foreign.authorityCertificatePath)
        XCTAssertEqual(genuine.status, 0, genuine.output)
    }

    func testExpiredCertificateFailsVerification() throws {
        let day: Int64 = 86_400
        try cluster.writeNodeCertificate(
            nodeID: 3, authority: authority, validity: CertificateValidity(notBefore: now() - 10 * day, notAfter: now() - day))
        let result = try OpenSSLCLI.verify(cluster.nodeCertificatePath(nodeID: 3), caFile: cluster.authorityCertificatePath)
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("expired"), result.output)
    }

    func testNotYetValidCertificateFailsVerification() throws {
        let day: Int64 = 86_400
        try cluster.writeNodeCertificate(
            nodeID: 3, authority: authority, validity: CertificateValidity(notBefore: now() + day, notAfter: now() + 2 * day))
        let result = try OpenSSLCLI.verify(cluster.nodeCertificatePath(nodeID: 3), caFile: cluster.authorityCertificatePath)
        XCTAssertNotEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("not yet valid"), result.output)
    }

    func testClientCertificateIsForClientAuthenticationOnly() throws {
        try cluster.writeClientCertificate(name: "alice", authority: authority)
        let client = cluster.clientCertificatePath(name: "alice"), ca = cluster.authorityCertificatePath
        XCTAssertTrue(client.hasSuffix("/client-alice.pem"))
        let asClient = try OpenSSLCLI.verify(client, caFile: ca, ["-purpose", "sslclient"])
        XCTAssertEqual(asClient.status, 0, asClient.output)
        let asServer = try OpenSSLCLI.verify(client, caFile: ca, ["-purpose", "sslserver"])
        XCTAssertNotEqual(asServer.status, 0, asServer.output)
        let text = try OpenSSLCLI.text(client)
        XCTAssertTrue(text.contains("Subject: CN = alice\n"), text)
        XCTAssertTrue(text.contains("TLS Web Client Authentication"), text)
        XCTAssertFalse(text.contains("TLS Web Server Authentication"), text)
        XCTAssertFalse(text.contains("Subject Alternative Name"), text)
    }

    func testKeyMatchesCertificateAndIsP256() throws {
        try cluster.writeNodeCertificate(nodeID: 1, authority: authority)
        let keyText = try OpenSSLCLI.run(["pkey", "-noout", "-text", "-in", cluster.nodeKeyPath(nodeID: 1)])
        XCTAssertEqual(keyText.status, 0, keyText.output)
        XCTAssertTrue(keyText.output.contains("NIST CURVE: P-256"), keyText.output)
        let fromKey = try OpenSSLCLI.run(["pkey", "-pubout", "-in", cluster.nodeKeyPath(nodeID: 1)])
        let fromCertificate = try OpenSSLCLI.run(["x509", "-noout", "-pubkey", "-in", cluster.nodeCertificatePath(nodeID: 1)])
        XCTAssertEqual(fromKey.status, 0)
        XCTAssertTrue(fromKey.output.contains("BEGIN PUBLIC KEY"), fromKey.output)
        XCTAssertEqual(fromKey.output, fromCertificate.output)
        let keyFile = try String(contentsOfFile: cluster.nodeKeyPath(nodeID: 1), encoding: .utf8)
        XCTAssertTrue(keyFile.hasPrefix("-----BEGIN PRIVATE KEY-----\n"), "PKCS #8 PEM")
    }

    func testAuthorityLoadsFromPEMAndIssues() throws {
        let certificatePEM = try String(contentsOfFile: cluster.authorityCertificatePath, encoding: .utf8)
        let keyPEM = try String(contentsOfFile: cluster.authorityKeyPath, encoding: .utf8)
        let loaded = try CertificateAuthority(certificatePEM: certificatePEM, privateKeyPEM: keyPEM)
        XCTAssertEqual(loaded.certificate, authority.certificate)
        XCTAssertEqual(try loaded.certificate.pemRepresentation(), certificatePEM)
        let issued = try loaded.issueNodeCertificate(nodeID: 9)
        let path = scratch.file("node-9.pem")
        try issued.certificate.pemRepresentation().write(toFile: path, atomically: false, encoding: .utf8)
        let result = try OpenSSLCLI.verify(path, caFile: cluster.authorityCertificatePath)
        XCTAssertEqual(result.status, 0, result.output)
    }

    func testAuthorityRefusesMismatchedKeyAndNonCACertificate() throws {
        let other = try CertificateAuthority.create()
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try CertificateAuthority(certificate: authority.certificate, privateKey: other.privateKey)
        }, matches: { if case .unsupported = $0 { true } else { false } })
        let node = try authority.issueNodeCertificate(nodeID: 1)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try CertificateAuthority(certificate: node.certificate, privateKey: node.privateKey)
        }, matches: { if case .unsupported = $0 { true } else { false } })
        XCTAssertNoThrow(try CertificateAuthority(certificate: other.certificate, privateKey: other.privateKey))
    }

    func testInvalidRequestsAreRefused() {
        let invalid: (CertificateError) -> Bool = { if case .invalidArgument = $0 { true } else { false } }
        let authority = self.authority!
        for name in ["keyraft-node-2", "KEYRAFT-NODE-2", "../evil", "a/b", ".hidden", "-flag", "", "a,b", "a b",
                     String(repeating: "x", count: 65), "caf\u{e9}"] {
            assertThrowsCertificateError({ () throws(CertificateError) in
                _ = try authority.issueClientCertificate(name: name)
            }, "client name \(name.debugDescription)", matches: invalid)
        }
        for dns in ["a,DNS:evil.example", "bad_name", "-lead", "trail-", "a..b", "", "keyraft-node-2", "x:y"] {
            assertThrowsCertificateError({ () throws(CertificateError) in
                _ = try authority.issueNodeCertificate(nodeID: 1, dnsNames: [dns])
            }, "DNS name \(dns.debugDescription)", matches: invalid)
        }
        for ip in ["1.2.3", "256.0.0.1", "127.0.0.1,DNS:evil", "localhost", "01.2.3.4", ""] {
            assertThrowsCertificateError({ () throws(CertificateError) in
                _ = try authority.issueNodeCertificate(nodeID: 1, ipAddresses: [ip])
            }, "IP address \(ip.debugDescription)", matches: invalid)
        }
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try authority.issueNodeCertificate(nodeID: 0)
        }, matches: invalid)
        assertThrowsCertificateError({ () throws(CertificateError) in
            _ = try authority.issueNodeCertificate(nodeID: 1, validity: CertificateValidity(notBefore: 100, notAfter: 100))
        }, matches: invalid)
        // A node may name itself in its DNS names, in any case.
        XCTAssertNoThrow(try authority.issueNodeCertificate(nodeID: 2, dnsNames: ["KEYRAFT-NODE-2", "node2.local"]))
        XCTAssertNoThrow(try authority.issueClientCertificate(name: "app_1.prod@example-org"))
    }
}
