@testable import Audit
import Foundation
import Testing

@Suite struct AuditRecordTests {
    @Test func contextValuesNeverSerialized() throws {
        let record = AuditRecord(
            event: event(1, context: ["ssn": "123-45-6789", "department": "hr"]),
            previousHash: AuditRecord.genesisHash, sequence: 0)
        let line = String(decoding: try record.serializedLine(), as: UTF8.self)
        #expect(!line.contains("123-45-6789"))
        #expect(!line.contains("\"hr\""))
        #expect(line.contains(#""contextKeys":["department","ssn"]"#))
    }

    @Test func serializationIsCompactSortedAndRoundTrips() throws {
        let record = AuditRecord(event: event(7), previousHash: AuditRecord.genesisHash, sequence: 42)
        let line = try record.serializedLine()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.hasPrefix(#"{"contextKeys":["purpose"],"keyARN":"arn:aws:kms:us-east-1:111122223333:key/"#))
        #expect(text.contains(#""outcome":"NotFoundException""#))
        #expect(!text.contains(" ") && !text.contains("\n") && !text.contains("\\/"))
        #expect(try AuditRecord.parse(line: line) == record)
        #expect(AuditChain.hash(line: line).count == 64)
        #expect(AuditRecord.genesisHash == String(repeating: "0", count: 64))
    }

    @Test func successOutcomeAndMissingKeyARN() throws {
        var e = event(1)
        e.keyARN = nil
        let record = AuditRecord(event: e, previousHash: AuditRecord.genesisHash, sequence: 0)
        let line = try record.serializedLine()
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""outcome":"success""#))
        #expect(!text.contains("keyARN"))
        #expect(try AuditRecord.parse(line: line) == record)
    }
}
