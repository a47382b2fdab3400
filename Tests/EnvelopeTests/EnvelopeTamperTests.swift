import Envelope
import KeyraftCrypto
import KeyraftCryptoDeterministic
import Testing

/// Every way a message can be altered is detected, and names what was wrong.
@Suite struct EnvelopeTamperTests {
    static let frame = 16
    /// Three regular frames and a final frame of 5 bytes.
    static let plaintext = Fixture.plaintext(3 * frame + 5)

    func message() throws -> [UInt8] { try Fixture.encrypt(Self.plaintext, frameBytes: Self.frame) }

    func decrypt(_ bytes: [UInt8], chunk: Int = 1_000, key: SecretBytes = Fixture.dataKey(),
                 required: [String: String] = [:]) throws(EnvelopeError) -> [UInt8] {
        try Fixture.decrypt(bytes, chunkBytes: chunk, key: key, requiredContext: required)
    }

    @Test func everySingleBitFlipAnywhereIsDetected() throws {
        let original = try message()
        for offset in original.indices {
            for bit in [0, 7] {
                var altered = original
                altered[offset] ^= UInt8(1 << bit)
                #expect(throws: EnvelopeError.self, "byte \(offset) bit \(bit)") { _ = try decrypt(altered) }
            }
        }
    }

    @Test func alteredHeaderFieldsFailTheHeaderChecks() throws {
        let original = try message()
        let (header, _) = try Fixture.split(original)
        let tagStart = header.count - 16
        let commitmentStart = tagStart - 32
        for offset in 0..<header.count {
            var altered = original
            altered[offset] ^= 0x01
            do {
                _ = try decrypt(altered)
                Issue.record("header byte \(offset) altered and accepted")
            } catch {
                switch offset {
                case 0..<4: #expect(error == .notAnEnvelope)
                case 4: #expect(error == .unsupportedVersion(0))
                case 5: #expect(error == .unsupportedAlgorithm(0))
                case 10..<42: #expect(error == .dataKeyMismatch, "message id → another derived key")
                case commitmentStart..<tagStart: #expect(error == .dataKeyMismatch)
                case tagStart...: #expect(error == .headerAuthenticationFailed)
                default:
                    // Lengths and contents of the context, ARN, EDK and the frame size:
                    // the strict parse refuses them, or the tag does not verify, or a
                    // changed length moves the commitment (or the end of the header past
                    // the end of the input).
                    switch error {
                    case .malformedHeader, .headerAuthenticationFailed, .dataKeyMismatch, .truncated: break
                    default: Issue.record("header byte \(offset): unexpected \(error)")
                    }
                }
            }
        }
    }

    @Test func reorderedFramesAreRefused() throws {
        let (header, frames) = try Fixture.split(try message())
        let swapped = header + frames[1] + frames[0] + frames[2] + frames[3]
        #expect(throws: EnvelopeError.frameOutOfOrder(expected: 1, found: 2)) { _ = try decrypt(swapped) }
    }

    @Test func duplicatedFramesAreRefused() throws {
        let (header, frames) = try Fixture.split(try message())
        let duplicated = header + frames[0] + frames[0] + frames[1] + frames[2] + frames[3]
        #expect(throws: EnvelopeError.frameOutOfOrder(expected: 2, found: 1)) { _ = try decrypt(duplicated) }
    }

    @Test func droppedFramesAreRefused() throws {
        let (header, frames) = try Fixture.split(try message())
        let dropped = header + frames[0] + frames[2] + frames[3]
        #expect(throws: EnvelopeError.frameOutOfOrder(expected: 2, found: 3)) { _ = try decrypt(dropped) }
    }

    @Test func truncationAnywhereIsRefused() throws {
        let original = try message()
        let (header, frames) = try Fixture.split(original)
        // Without the final frame: every frame so far verified, but the message is incomplete.
        let withoutFinal = header + frames[0] + frames[1] + frames[2]
        #expect(throws: EnvelopeError.truncated) { _ = try decrypt(withoutFinal) }
        // Cut at every length.
        for length in 0..<original.count {
            #expect(throws: EnvelopeError.self, "cut at \(length)") { _ = try decrypt(Array(original[..<length])) }
        }
    }

    @Test func truncationPastTheHeaderIsReportedAsTruncation() throws {
        let original = try message()
        let (header, _) = try Fixture.split(original)
        for length in header.count..<original.count {
            #expect(throws: EnvelopeError.truncated, "cut at \(length)") { _ = try decrypt(Array(original[..<length])) }
        }
    }

    @Test func aRegularFrameMarkedFinalIsRefused() throws {
        let (header, frames) = try Fixture.split(try message())
        var lastRegular = frames[2]
        lastRegular[0] = 1 // claims to be final, but has a full frame of data
        #expect(throws: EnvelopeError.malformedFrame(sequence: 3, reason: "final frame of 16 bytes, frame size 16")) {
            _ = try decrypt(header + frames[0] + frames[1] + lastRegular)
        }
        var final = frames[3]
        final[0] = 0 // the final frame claims to be regular
        #expect(throws: EnvelopeError.self) { _ = try decrypt(header + frames[0] + frames[1] + frames[2] + final) }
    }

    @Test func aForgedFinalMarkerWithAFittingLengthFailsTheTag() throws {
        // Shorten the third frame into a "final" one: type, length and ciphertext all
        // consistent, but the AAD binds the type and length, so the tag fails.
        let (header, frames) = try Fixture.split(try message())
        var forged = Array(frames[2][0..<9]) + Array(frames[2][9..<14]) + Array(frames[2].suffix(16))
        forged[0] = 1
        forged[8] = 5
        #expect(throws: EnvelopeError.frameAuthenticationFailed(sequence: 3)) {
            _ = try decrypt(header + frames[0] + frames[1] + forged)
        }
    }

    @Test func modifiedFrameBytesFailTheTag() throws {
        let (header, frames) = try Fixture.split(try message())
        for offset in 9..<frames[1].count {
            var altered = frames[1]
            altered[offset] ^= 0x80
            #expect(throws: EnvelopeError.frameAuthenticationFailed(sequence: 2), "frame byte \(offset)") {
                _ = try decrypt(header + frames[0] + altered + frames[2] + frames[3])
            }
        }
    }

    @Test func trailingBytesAreRefused() throws {
        let original = try message()
        let (_, frames) = try Fixture.split(original)
        #expect(throws: EnvelopeError.trailingData) { _ = try decrypt(original + [0]) }
        #expect(throws: EnvelopeError.trailingData) { _ = try decrypt(original + frames[3]) }
        // Also when the extra bytes come in a later chunk.
        #expect(throws: EnvelopeError.trailingData) { _ = try decrypt(original + [1, 2, 3], chunk: original.count) }
    }

    @Test func framesFromAnotherMessageUnderTheSameDataKeyAreRefused() throws {
        let a = try Fixture.encrypt(Self.plaintext, frameBytes: Self.frame, entropy: SeededEntropy(seed: 1))
        let b = try Fixture.encrypt(Self.plaintext, frameBytes: Self.frame, entropy: SeededEntropy(seed: 2))
        let (headerA, framesA) = try Fixture.split(a)
        let (_, framesB) = try Fixture.split(b)
        let spliced = headerA + framesA[0] + framesB[1] + framesA[2] + framesA[3]
        #expect(throws: EnvelopeError.frameAuthenticationFailed(sequence: 2)) { _ = try decrypt(spliced) }
    }

    @Test func theWrongDataKeyIsRefusedBeforeAnyFrame() throws {
        #expect(throws: EnvelopeError.dataKeyMismatch) { _ = try decrypt(try message(), key: Fixture.dataKey(0x22)) }
        #expect(throws: EnvelopeError.invalidArgument("data key of 16 bytes, expected 32")) {
            _ = try decrypt(try message(), key: SecretBytes(copying: [UInt8](repeating: 0x11, count: 16)))
        }
    }

    @Test func aRequiredContextThatDiffersIsRefused() throws {
        let original = try message()
        #expect(try decrypt(original, required: ["tenant": "acme"]) == Self.plaintext)
        #expect(try decrypt(original, required: Fixture.context) == Self.plaintext)
        #expect(throws: EnvelopeError.contextMismatch(key: "tenant")) { _ = try decrypt(original, required: ["tenant": "evil"]) }
        #expect(throws: EnvelopeError.contextMismatch(key: "absent")) { _ = try decrypt(original, required: ["absent": "x"]) }
    }

    @Test func aRequiredContextIsComparedByBytesNotByUnicodeEquivalence() throws {
        // "café" precomposed (U+00E9) and decomposed (e + U+0301) are equal as Swift strings
        // but are different contexts to KMS and to the header tag.
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(precomposed == decomposed)
        let bytes = try Fixture.encrypt(Self.plaintext, frameBytes: Self.frame, context: ["tenant": precomposed])
        #expect(try decrypt(bytes, required: ["tenant": precomposed]) == Self.plaintext)
        #expect(throws: EnvelopeError.contextMismatch(key: "tenant")) { _ = try decrypt(bytes, required: ["tenant": decomposed]) }
    }

    @Test func aContextChangedInTheHeaderFailsTheTag() throws {
        // Change the value "acme" to "acmf": still a valid canonical context, same length.
        var altered = try message()
        let acme = Array("acme".utf8)
        let start = try #require((0..<(altered.count - 4)).first { Array(altered[$0..<($0 + 4)]) == acme })
        altered[start + 3] = UInt8(ascii: "f")
        #expect(throws: EnvelopeError.headerAuthenticationFailed) { _ = try decrypt(altered) }
        // And a reader that requires the original context notices before asking for a key.
        var decryptor = EnvelopeDecryptor(requiredContext: ["tenant": "acme"])
        #expect(throws: EnvelopeError.contextMismatch(key: "tenant")) { _ = try decryptor.update(altered) }
    }

    @Test func somethingElseEntirelyIsNotAnEnvelope() {
        var decryptor = EnvelopeDecryptor()
        #expect(throws: EnvelopeError.notAnEnvelope) { _ = try decryptor.update(Array("%PDF".utf8)) }
        var empty = EnvelopeDecryptor()
        #expect(throws: EnvelopeError.truncated) { try empty.finish() }
    }
}
