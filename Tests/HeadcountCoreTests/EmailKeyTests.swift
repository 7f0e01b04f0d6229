import Testing
@testable import HeadcountCore

@Suite struct EmailKeyTests {
    func key(_ s: String) -> String {
        key(Array(s.utf8))
    }

    func key(_ bytes: [UInt8]) -> String {
        let n = EmailNormalizer()
        return bytes.withUnsafeBytes { b in
            switch n.normalize(b) {
            case .valid(let out): return String(decoding: out, as: UTF8.self)
            case .invalid(let reason): return "!" + reason.rawValue
            }
        }
    }

    @Test func trimsASCIIAndUnicodeWhitespace() {
        #expect(key("  alice@example.com\t") == "alice@example.com")
        #expect(key("\r\nalice@example.com\r\n") == "alice@example.com")
        #expect(key("\u{00A0}alice@example.com\u{00A0}") == "alice@example.com")
        #expect(key("\u{3000}alice@example.com\u{2028}\u{202F}") == "alice@example.com")
        #expect(key("\u{0085}\u{1680}alice@example.com\u{205F}") == "alice@example.com")
    }

    @Test func lowercasesASCIIAndUnicode() {
        #expect(key("Alice.Smith+News@Example.COM") == "alice.smith+news@example.com")
        #expect(key("JOSÉ@Example.com") == "josé@example.com")
        #expect(key("ŁUKASZ@MÜLLER-BAU.DE") == "łukasz@müller-bau.de")
        #expect(key("ΣΩ@example.com") == key("σω@example.com"))
    }

    @Test func keepsPlusTagsAndDots() {
        #expect(key("a.b+c@example.com") == "a.b+c@example.com")
        #expect(key("ab@example.com") != key("a.b@example.com"))
    }

    @Test func rejectsWhatTheSpecRejects() {
        for bad in ["", "   ", "no-at", "@example.com", "alice@", "ali ce@example.com", "ali\tce@x.y",
                    "a\u{01}b@x.y", "a\u{7F}b@x.y", "a\u{00A0}b@x.y", "jo\u{0085}sé@x.y", "@"] {
            #expect(key(bad) == "!invalid_email", "\(bad.debugDescription)")
        }
        #expect(key("a@b@c.d") == "a@b@c.d", "the last @ splits the address")
    }

    @Test func lengthLimitIs254BytesAfterTrimming() {
        let local = String(repeating: "x", count: 254 - "@example.com".count)
        #expect(key(" \(local)@example.com ") == "\(local)@example.com")
        #expect(key("x\(local)@example.com") == "!invalid_email")
        let unicode = String(repeating: "é", count: 130) + "@x.y"   // 265 bytes
        #expect(key(unicode) == "!invalid_email")
    }

    @Test func invalidUTF8IsItsOwnReason() {
        #expect(key([0x61, 0xFF, 0x40, 0x62, 0x2E, 0x63]) == "!invalid_utf8")
        #expect(key([0x61, 0xC3, 0x40, 0x62]) == "!invalid_utf8")
        #expect(key([0xED, 0xA0, 0x80, 0x40, 0x62]) == "!invalid_utf8")   // a surrogate
    }
}
