import Foundation
import KMS
import KeyraftCrypto

/// Seal and open throughput of `AESGCM`, and the cost of the ciphertext blob format.
struct CryptoBenchmark {
    let secondsPerCase: Double
    let sizes = [32, 1024, 4096]

    func run() throws {
        let entropy = SystemEntropy()
        let key = try SecretBytes.generate(count: AESGCM.keyByteCount, using: entropy)
        let aad = [UInt8](repeating: 0x61, count: 45)  // a blob header plus a small context
        print("keyraft-bench crypto: AES-256-GCM via OpenSSL \(opensslVersion()), \(secondsPerCase)s per case")
        print(pad("operation", 28) + pad("size", 8) + pad("ops/s", 14) + "MB/s")
        for size in sizes {
            let plaintext = try entropy.bytes(count: size)
            let nonce = try entropy.bytes(count: AESGCM.nonceByteCount)
            let box = try AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad)
            let sealRate = measure {
                _ = try! AESGCM.seal(plaintext, key: key, nonce: nonce, aad: aad)
            }
            report("seal", size: size, opsPerSecond: sealRate)
            let openRate = measure {
                _ = try! AESGCM.open(box, key: key, aad: aad)
            }
            report("open", size: size, opsPerSecond: openRate)
        }
        try blobCosts(key: key, entropy: entropy)
    }

    private func blobCosts(key: SecretBytes, entropy: SystemEntropy) throws {
        let keyID = try KeyID.generate(using: entropy)
        let context: EncryptionContext = ["tenant": "acme", "purpose": "benchmark"]
        let plaintext = try entropy.bytes(count: 32)
        let blob = try CiphertextBlob.seal(plaintext, keyID: keyID, keyVersion: .first, key: key,
                                          context: context, entropy: entropy)
        let bytes = blob.encoded()
        let encodeRate = measure { _ = blob.encoded() }
        let decodeRate = measure { _ = try! CiphertextBlob(decoding: bytes) }
        let contextRate = measure { _ = CanonicalEncryptionContext.encode(context) }
        let sealRate = measure {
            _ = try! CiphertextBlob.seal(plaintext, keyID: keyID, keyVersion: .first, key: key,
                                         context: context, entropy: entropy)
        }
        let openRate = measure { _ = try! blob.open(key: key, context: context) }
        print("ciphertext blob (32 B plaintext, 2-pair context):")
        for (name, rate) in [("encode", encodeRate), ("decode", decodeRate),
                             ("context encode", contextRate),
                             ("seal (nonce+header+GCM)", sealRate), ("open (parse not incl.)", openRate)] {
            print("  " + pad(name, 26) + pad(format(1e9 / rate, digits: 0) + " ns/op", 14)
                  + format(rate, digits: 0) + " ops/s")
        }
    }

    /// Runs `body` in batches until `secondsPerCase` has passed; returns operations per second.
    private func measure(_ body: () -> Void) -> Double {
        for _ in 0..<1000 { body() }  // warm up
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(secondsPerCase * 1000))
        var operations = 0
        let batch = 1000
        while clock.now < deadline {
            for _ in 0..<batch { body() }
            operations += batch
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(operations) / seconds
    }

    private func report(_ name: String, size: Int, opsPerSecond: Double) {
        let megabytesPerSecond = opsPerSecond * Double(size) / 1e6
        print(pad(name, 28) + pad("\(size)", 8) + pad(format(opsPerSecond, digits: 0), 14)
              + format(megabytesPerSecond, digits: 1))
    }
}

func opensslVersion() -> String { "3 (system libcrypto)" }

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func format(_ value: Double, digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
