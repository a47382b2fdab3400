import XCTest
import KeyraftCerts

final class NodeIdentityTests: XCTestCase {
    func testCanonicalNamesParse() {
        XCTAssertEqual(NodeIdentity.commonNamePrefix, "keyraft-node-")
        XCTAssertEqual(NodeIdentity.nodeID(fromCommonName: "keyraft-node-1"), 1)
        XCTAssertEqual(NodeIdentity.nodeID(fromCommonName: "keyraft-node-10"), 10)
        XCTAssertEqual(NodeIdentity.nodeID(fromCommonName: "keyraft-node-18446744073709551615"), UInt64.max)
        for id: UInt64 in [1, 2, 9, 10, 99, 100, 123_456_789, UInt64.max - 1, UInt64.max] {
            XCTAssertEqual(NodeIdentity.nodeID(fromCommonName: NodeIdentity.commonName(nodeID: id)), id)
        }
    }

    func testEveryOtherSpellingIsRefused() {
        for name in [
            "", "keyraft-node-", "keyraft-node-0", "keyraft-node-00", "keyraft-node-01", "keyraft-node-007",
            "keyraft-node-+1", "keyraft-node--1", "keyraft-node- 1", "keyraft-node-1 ", " keyraft-node-1",
            "keyraft-node-1\n", "keyraft-node-1\u{0}", "keyraft-node-1x", "keyraft-node-0x1", "keyraft-node-1e3",
            "keyraft-node-1.0", "keyraft-node-1_000",
            "keyraft-node-18446744073709551616",  // UInt64.max + 1
            "keyraft-node-99999999999999999999",  // 20 digits, overflows
            "keyraft-node-100000000000000000000", // 21 digits
            "Keyraft-node-1", "KEYRAFT-NODE-1", "keyraft_node_1", "keyraft-node1", "node-1", "1",
            "keyraft-node-\u{0661}",          // ARABIC-INDIC DIGIT ONE: a number, but not ASCII
            "keyraft-node-\u{FF11}",          // FULLWIDTH DIGIT ONE
            "keyraft-node-1\u{0301}",         // "1" with a combining accent
            "xkeyraft-node-1",
        ] {
            XCTAssertNil(NodeIdentity.nodeID(fromCommonName: name), name.debugDescription)
        }
    }
}
