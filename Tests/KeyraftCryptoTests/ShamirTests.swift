import Testing
import KeyraftCryptoDeterministic
@testable import KeyraftCrypto

@Suite("Shamir secret sharing")
struct ShamirTests {
    let entropy = SeededEntropy(seed: 77)

    @Test("GF(2^8) arithmetic: FIPS-197's example product, and every inverse")
    func field() {
        #expect(Shamir.gfMul(0x57, 0x83) == 0xC1)
        #expect(Shamir.gfMul(0x57, 0x13) == 0xFE)
        for a in 1...255 { #expect(Shamir.gfMul(UInt8(a), Shamir.gfInverse(UInt8(a))) == 1, "inverse of \(a)") }
    }

    @Test("every threshold-sized subset of a 3-of-5 split reconstructs the root key; any order")
    func everySubset() throws {
        let root = try SecretBytes.generate(count: 32, using: entropy)
        let shares = try Shamir.split(root, shares: 5, threshold: 3, entropy: entropy)
        #expect(shares.count == 5)
        var combinations = 0
        for a in 0..<5 {
            for b in (a + 1)..<5 {
                for c in (b + 1)..<5 {
                    #expect(try Shamir.combine([shares[c], shares[a], shares[b]]).constantTimeEquals(root))
                    combinations += 1
                }
            }
        }
        #expect(combinations == 10)
        #expect(try Shamir.combine(shares).constantTimeEquals(root), "more than the threshold is fine")
    }

    @Test("below the threshold, duplicated, wrong, damaged or mixed shares are refused")
    func refusals() throws {
        let root = try SecretBytes.generate(count: 32, using: entropy)
        let shares = try Shamir.split(root, shares: 5, threshold: 3, entropy: entropy)
        #expect(throws: Shamir.Error.belowThreshold(have: 2, need: 3)) { try Shamir.combine(Array(shares.prefix(2))) }
        #expect(throws: Shamir.Error.duplicateShare(x: 1)) { try Shamir.combine([shares[0], shares[0], shares[1]]) }
        var damaged = shares[1].bytes
        damaged[Shamir.headerBytes + 5] ^= 0x01
        #expect(throws: Shamir.Error.verificationFailed) {
            try Shamir.combine([shares[0], Shamir.Share(bytes: damaged), shares[2]])
        }
        let other = try Shamir.split(try SecretBytes.generate(count: 32, using: entropy), shares: 5, threshold: 3, entropy: entropy)
        #expect(throws: Shamir.Error.sharesFromDifferentSplits) { try Shamir.combine([shares[0], shares[1], other[2]]) }
        #expect(throws: Shamir.Error.malformedShare(index: 1)) {
            try Shamir.combine([shares[0], Shamir.Share(bytes: [1, 2, 3]), shares[2]])
        }
        #expect(throws: Shamir.Error.self) { try Shamir.split(root, shares: 5, threshold: 6, entropy: entropy) }
        #expect(throws: Shamir.Error.self) { try Shamir.split(root, shares: 256, threshold: 3, entropy: entropy) }
        #expect(throws: Shamir.Error.self) { try Shamir.split(root, shares: 3, threshold: 1, entropy: entropy) }
    }

    @Test("below the threshold the shares say nothing: every candidate secret is equally consistent")
    func perfectSecrecy() throws {
        // With a 2-of-2 split of one byte, one share alone is consistent with all 256 secrets:
        // for each candidate s there is exactly one line through (0, s) and the share.
        let secret = SecretBytes(copying: [0xA7])
        let shares = try Shamir.split(secret, shares: 2, threshold: 2, entropy: entropy)
        let x = shares[0].x
        let y = shares[0].y.first!
        var slopes = Set<UInt8>()
        for candidate in 0...255 {
            // y = s ^ a·x  ⇒  a = (y ^ s) / x: one slope per candidate, all distinct.
            slopes.insert(Shamir.gfMul(y ^ UInt8(candidate), Shamir.gfInverse(x)))
        }
        #expect(slopes.count == 256)
    }

    @Test("shares travel as text and never print their bytes")
    func text() throws {
        let root = try SecretBytes.generate(count: 32, using: entropy)
        let shares = try Shamir.split(root, shares: 3, threshold: 2, entropy: entropy)
        let parsed = shares.map { Shamir.Share(text: $0.text) }
        #expect(parsed == shares.map { Optional($0) })
        #expect(try Shamir.combine(parsed.compactMap { $0 }).constantTimeEquals(root))
        #expect(Shamir.Share(text: "keyraft-share-1-zz") == nil)
        #expect(Shamir.Share(text: "other-1-00") == nil)
        #expect("\(shares[0])" == "Shamir.Share(x: 1, redacted)")
        #expect(!"\(shares[0])".contains(shares[0].text.suffix(20)))
    }
}
