import Envelope
import KMS
import KeyraftCrypto
import KeyraftCryptoDeterministic
import Testing

@Suite struct EnvelopeRoundTripTests {
    static let frame = 64

    @Test(arguments: [0, 1, frame - 1, frame, frame + 1, 5 * frame + 3, 7 * frame])
    func roundTripsAtEverySizeAroundFrames(size: Int) throws {
        let plaintext = Fixture.plaintext(size)
        for chunk in [1, 7, Self.frame, 1_000] {
            let message = try Fixture.encrypt(plaintext, frameBytes: Self.frame, chunkBytes: chunk)
            for readChunk in [1, 13, 10_000] {
                #expect(try Fixture.decrypt(message, chunkBytes: readChunk) == plaintext, "size \(size) chunk \(chunk)/\(readChunk)")
            }
        }
    }

    @Test(arguments: [0, 1, frame - 1, frame, frame + 1, 5 * frame + 3, 7 * frame])
    func framesAreRegularThenOneShortFinal(size: Int) throws {
        let message = try Fixture.encrypt(Fixture.plaintext(size), frameBytes: Self.frame)
        let (header, frames) = try Fixture.split(message)
        #expect(frames.count == size / Self.frame + 1)
        for (index, frame) in frames.enumerated() {
            let isLast = index == frames.count - 1
            #expect(frame[0] == (isLast ? 1 : 0), "type byte")
            #expect(Array(frame[1..<5]) == [0, 0, 0, UInt8(index + 1)], "sequence numbers count from 1")
            #expect(frame.count == 9 + (isLast ? size % Self.frame : Self.frame) + 16)
        }
        // Data that ends on a frame boundary ends with an empty final frame.
        if size % Self.frame == 0 { #expect(frames.last?.count == 25) }
        #expect(Int64(message.count) == EnvelopeEncryptor.messageBytes(
            plaintextBytes: Int64(size), headerBytes: header.count, frameBytes: Self.frame))
    }

    /// A data key from the cache is charged for the declared size: the encryptor holds the
    /// caller to it, exactly at the bound and one byte past it.
    @Test func declaredSizeIsABound() throws {
        var encryptor = try EnvelopeEncryptor(
            dataKey: Fixture.dataKey(), encryptedDataKey: Fixture.encryptedDataKey, keyARN: Fixture.keyARN,
            encryptionContext: Fixture.context, frameBytes: Self.frame, entropy: SeededEntropy(seed: 3),
            plaintextBytesMax: 100)
        var message = try encryptor.update(Fixture.plaintext(60))
        message += try encryptor.update(Fixture.plaintext(40, seed: 8))
        #expect(throws: EnvelopeError.plaintextExceedsDeclaredSize(declared: 100)) { try encryptor.update([0]) }
        message += try encryptor.finish()
        #expect(try Fixture.decrypt(message) == Fixture.plaintext(60) + Fixture.plaintext(40, seed: 8),
                "the refused byte left the message as it was")
        #expect(throws: EnvelopeError.invalidArgument("plaintextBytesMax must not be negative")) {
            _ = try EnvelopeEncryptor(
                dataKey: Fixture.dataKey(), encryptedDataKey: Fixture.encryptedDataKey, keyARN: Fixture.keyARN,
                encryptionContext: Fixture.context, entropy: SeededEntropy(seed: 3), plaintextBytesMax: -1)
        }
    }

    @Test func largeMessageAtDefaultFrameSize() throws {
        let plaintext = Fixture.plaintext(3 * EnvelopeFormat.frameBytesDefault + 12_345)
        let message = try Fixture.encrypt(plaintext, frameBytes: EnvelopeFormat.frameBytesDefault, chunkBytes: 100_000)
        #expect(try Fixture.decrypt(message, chunkBytes: 65_537) == plaintext)
    }

    @Test func headerCarriesWhatTheReaderNeeds() throws {
        let message = try Fixture.encrypt([1, 2, 3], frameBytes: 16, entropy: CountingEntropy())
        var decryptor = EnvelopeDecryptor()
        // One byte at a time: the header is only reported once whole.
        for (index, byte) in message.enumerated() {
            _ = try decryptor.update([byte])
            if decryptor.needsDataKey {
                let header = try #require(decryptor.header)
                #expect(index + 1 == header.bytes.count)
                #expect(header.encryptionContext == Fixture.context)
                #expect(header.keyARN == Fixture.keyARN)
                #expect(header.encryptedDataKey == Fixture.encryptedDataKey)
                #expect(header.frameBytes == 16)
                #expect(header.messageID == Array(0..<32))
                #expect(header.algorithm == .aes256GCMHKDFSHA256Committing)
                break
            }
        }
        #expect(decryptor.needsDataKey)
    }

    @Test func canonicalContextMatchesTheCiphertextBlobsEncoding() throws {
        let contexts: [[String: String]] = [[:], ["a": "bc"], ["ab": "c"], Fixture.context, ["é": "ü", "z": "", "": "x"]]
        for context in contexts {
            let bytes = CanonicalContext.encode(context)
            #expect(bytes == CanonicalEncryptionContext.encode(context))
            #expect(try CanonicalContext.decode(bytes[...]) == context)
        }
    }

    @Test func canonicalContextParsingIsStrict() {
        // Keys out of order ("b" before "a").
        let unsorted: [UInt8] = [0, 0, 0, 2, 0, 0, 0, 1, 0x62, 0, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 0, 0]
        #expect(throws: EnvelopeError.self) { try CanonicalContext.decode(unsorted[...]) }
        // A duplicate key.
        let duplicate: [UInt8] = [0, 0, 0, 2, 0, 0, 0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 0, 0]
        #expect(throws: EnvelopeError.self) { try CanonicalContext.decode(duplicate[...]) }
        // Trailing bytes, a short field, invalid UTF-8, an absurd count.
        #expect(throws: EnvelopeError.self) { try CanonicalContext.decode([0, 0, 0, 0, 9][...]) }
        #expect(throws: EnvelopeError.self) { try CanonicalContext.decode([0, 0, 0, 1, 0, 0, 0, 5, 0x61][...]) }
        #expect(throws: EnvelopeError.self) {
            try CanonicalContext.decode([0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0, 0, 0, 0][...])
        }
        #expect(throws: EnvelopeError.self) { try CanonicalContext.decode([0xFF, 0xFF, 0xFF, 0xFF][...]) }
    }

    @Test func encryptorRefusesOutOfRangeArguments() {
        func make(frame: Int = 64, arn: String = Fixture.keyARN, edk: [UInt8] = Fixture.encryptedDataKey,
                  key: SecretBytes = Fixture.dataKey(), context: [String: String] = [:]) throws {
            _ = try EnvelopeEncryptor(dataKey: key, encryptedDataKey: edk, keyARN: arn, encryptionContext: context,
                                      frameBytes: frame, entropy: SeededEntropy(seed: 1))
        }
        #expect(throws: EnvelopeError.self) { try make(frame: 0) }
        #expect(throws: EnvelopeError.self) { try make(frame: EnvelopeFormat.frameBytesMax + 1) }
        #expect(throws: EnvelopeError.self) { try make(arn: "") }
        #expect(throws: EnvelopeError.self) { try make(edk: []) }
        #expect(throws: EnvelopeError.self) { try make(key: SecretBytes(copying: [UInt8](repeating: 1, count: 16))) }
        #expect(throws: EnvelopeError.self) { try make(context: ["k": String(repeating: "v", count: 20_000)]) }
    }

    @Test func messagesUnderOneDataKeyDifferInKeyAndCiphertext() throws {
        let plaintext = Fixture.plaintext(100)
        let a = try Fixture.encrypt(plaintext, frameBytes: 64, entropy: SeededEntropy(seed: 1))
        let b = try Fixture.encrypt(plaintext, frameBytes: 64, entropy: SeededEntropy(seed: 2))
        let (headerA, framesA) = try Fixture.split(a)
        let (headerB, framesB) = try Fixture.split(b)
        #expect(headerA != headerB)
        // Same plaintext, same data key, same nonces: the per-message key makes the frames differ.
        #expect(framesA[0][9...] != framesB[0][9...])
    }

    @Test func decryptorBoundsWhatItBuffersWhileWaitingForTheKey() throws {
        let message = try Fixture.encrypt(Fixture.plaintext(10), frameBytes: 64)
        var decryptor = EnvelopeDecryptor()
        _ = try decryptor.update(message)
        #expect(decryptor.needsDataKey)
        let filler = [UInt8](repeating: 0, count: EnvelopeDecryptor.awaitingKeyBufferBytesMax)
        #expect(throws: EnvelopeError.dataKeyNotSupplied) { _ = try decryptor.update(filler) }
    }

    @Test func readerRefusesFramesLargerThanItsBound() throws {
        let message = try Fixture.encrypt(Fixture.plaintext(10), frameBytes: 1_024)
        var decryptor = EnvelopeDecryptor(frameBytesMax: 512)
        #expect(throws: EnvelopeError.malformedHeader("frame size 1024")) { _ = try decryptor.update(message) }
    }
}
