import Foundation
import KMSWire
import Testing

/// Seeded mutations of a valid signed request: none may crash the verifier, and none that
/// changes a signed byte may verify.
@Suite struct SigV4MutationTests {
    typealias Fixture = KMSRequestFixture

    /// SplitMix64: a small deterministic generator, so a failure names its seed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let iterationsMax = 3_000
    static let seed: UInt64 = 0x4B45_5952_4146_5401

    /// `text` with whitespace runs collapsed and removed around commas.
    static func layoutFree(_ text: String) -> String {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
        return words.replacingOccurrences(of: " ,", with: ",").replacingOccurrences(of: ", ", with: ",")
    }

    @Test func mutatedAuthorizationOrDateNeverVerifies() throws {
        let request = try Fixture.signed().request
        var generator = SplitMix64(state: Self.seed)
        let alphabet = Array("AWS4-HMAC-SHA256 Credential=/;,= abcdefxyz0123456789\t\u{0}é".utf8)
        var refusedByName: [String: Int] = [:]
        for iteration in 0..<Self.iterationsMax {
            let field = iteration % 2 == 0 ? "Authorization" : "X-Amz-Date"
            guard let original = request.values(named: field).first else {
                Issue.record("fixture lacks \(field)")
                return
            }
            var bytes = Array(original.utf8)
            let edits = Int.random(in: 1...3, using: &generator)
            for _ in 0..<edits where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[index] = alphabet.randomElement(using: &generator) ?? 0x20
                case 1: bytes.remove(at: index)
                default: bytes.insert(alphabet.randomElement(using: &generator) ?? 0x20, at: index)
                }
            }
            let mutated = String(decoding: bytes, as: UTF8.self)
            // Whitespace around separators is insignificant: such a mutation may verify.
            if Self.layoutFree(mutated) == Self.layoutFree(original) { continue }
            let candidate = Fixture.setting(field, mutated, in: request)
            do {
                _ = try Fixture.verifier.verify(candidate, now: TestTime.boto)
                Issue.record("seed \(Self.seed) iteration \(iteration): mutated \(field) verified: \(mutated)")
            } catch {
                refusedByName[error.awsErrorName.rawValue, default: 0] += 1
                #expect(!error.message.contains(Fixture.credentials.secretAccessKey))
            }
        }
        print("SigV4 mutations refused by name: \(refusedByName.sorted { $0.key < $1.key })")
    }
}
