import Testing
@testable import HeadcountCore

@Suite struct EmailKeyTests {
    func key(_ s: String) -> String {
        key(Array(s.utf8))
    }

    func key(_ bytes: [UInt8]) -> String {
        apply(EmailNormalizer.normalize, to: bytes)!
    }

    /// One of the normalizer's paths on `bytes`: the key as text, "!" and the reason for a
    /// reject, nil where the path does not answer.
    func apply(_ path: (EmailNormalizer) -> (UnsafeRawBufferPointer) -> EmailNormalizer.Result?,
               to bytes: [UInt8]) -> String? {
        let n = EmailNormalizer()
        return bytes.withUnsafeBytes { b in
            switch path(n)(b) {
            case .valid(let out)?: return String(decoding: out, as: UTF8.self)
            case .invalid(let reason)?: return "!" + reason.rawValue
            case nil: return nil
            }
        }
    }

    /// The byte-at-a-time rules the word-at-a-time path must agree with, for ASCII without
    /// surrounding whitespace.
    func modelKey(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty || bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F }) { return "!invalid_email" }
        guard let at = bytes.lastIndex(of: 0x40), at > 0, at < bytes.count - 1 else { return "!invalid_email" }
        return String(decoding: bytes.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// SPEC §2's full Unicode lowercase mapping (Unicode 3.13, as Python's `str.lower()` and ICU
    /// apply it): capital sigma that ends a word is final sigma. Expected keys from Python 3.11.
    @Test func capitalSigmaEndingAWordIsFinalSigma() {
        let cases = [
            ("ΟΔΥΣΣΕΥΣ@X.GR", "οδυσσευς@x.gr"), ("Σ@x.gr", "σ@x.gr"), ("ΑΣ.Β@x.gr", "ασ.β@x.gr"),
            ("a@ΠΑΡΑΣ", "a@παρας"), ("ΑΣ\u{301}@x.gr", "ας\u{301}@x.gr"), ("ΑΣ1@x", "ας1@x"), ("ΑΣ-Β@x", "ας-β@x"),
            ("aΣ@x", "aς@x"), ("İΣ@x", "i\u{307}ς@x"),
        ]
        for (address, expected) in cases {
            #expect(key(address) == expected, "\(address)")
            #expect(apply(EmailNormalizer.normalizeThroughString, to: Array(address.utf8)) == expected, "\(address)")
            // The two-byte table leaves sigma to the path that sees the letters around it.
            #expect(apply(EmailNormalizer.normalizeTwoByte, to: Array(address.utf8)) == nil, "\(address)")
        }
        // The same address typed in lowercase is the same contact; words without a capital
        // sigma still take the table.
        #expect(key("οδυσσευς@x.gr") == key("ΟΔΥΣΣΕΥΣ@X.GR"))
        #expect(apply(EmailNormalizer.normalizeTwoByte, to: Array("ΑΛΦΑ@x.gr".utf8)) == "αλφα@x.gr")
    }

    @Test func wordAtATimeAgreesWithByteAtATimeAtEveryPosition() {
        // Every length from 1 to 40 and every position of one byte that matters: the word
        // boundaries, '@' next to letters (a borrow could mistake "@A" for two '@'), the letters
        // beside 'A'...'Z', space, the controls, DEL.
        let specials: [UInt8] = [0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x3F, 0x20, 0x21, 0x00, 0x1F, 0x7F, 0x7E]
        var checked = 0
        for length in 1...40 {
            for position in 0..<length {
                for special in specials {
                    var bytes: [UInt8] = (0..<length).map { (i: Int) -> UInt8 in
                        let letter = UInt8(0x61 + (i * 7) % 26)
                        return i % 3 == 0 ? letter ^ 0x20 : letter
                    }
                    if length > 2 { bytes[length / 2] = 0x40 }
                    bytes[position] = special
                    if bytes.first == 0x20 || bytes.last == 0x20 || (0x09...0x0D).contains(bytes.first!)
                        || (0x09...0x0D).contains(bytes.last!) { continue }  // trimmed, not a byte rule
                    #expect(key(bytes) == modelKey(bytes), "\(bytes)")
                    checked += 1
                }
            }
        }
        #expect(checked > 10_000)
    }

    /// A non-ASCII letter at every position of every length (the 16-byte blocks, their overlap
    /// at the end, the 8-byte words) sends the address to the Unicode path whole.
    @Test func aNonASCIIByteAnywhereGivesTheUnicodeKey() {
        for length in 4...40 {
            for position in 0..<(length - 1) where position != length / 2 && position + 1 != length / 2 {
                var bytes: [UInt8] = (0..<length).map { UInt8(0x41 + ($0 * 5) % 26) }
                bytes[length / 2] = 0x40
                bytes[position] = 0xC3   // "É"
                bytes[position + 1] = 0x89
                let text = String(decoding: bytes, as: UTF8.self)
                let valid = bytes.first != 0x40 && bytes.last != 0x40
                #expect(key(bytes) == (valid ? text.lowercased() : "!invalid_email"), "\(text)")
            }
        }
    }

    func throughString(_ bytes: [UInt8]) -> String { apply(EmailNormalizer.normalizeThroughString, to: bytes)! }

    func viaTable(_ bytes: [UInt8]) -> String? { apply(EmailNormalizer.normalizeTwoByte, to: bytes) }

    /// Every character of two UTF-8 bytes, at the start, in the middle and at the end of each
    /// side of the "@", next to it, doubled, and beside ASCII capitals: wherever the table
    /// answers, it gives the key `String` gives (a lowercase mapping that depended on the
    /// neighbours, as a final sigma's may, would show here).
    @Test func twoByteCharactersGiveTheKeyStringGives() {
        var answered = 0
        for v in UInt32(0x80)..<0x800 {
            let c = String(Unicode.Scalar(v)!)
            for text in ["\(c)Ab@Example.COM", "A\(c)b@x.Y", "AB\(c)@X.y", "a@\(c)X.y", "a@X.y\(c)",
                         "\(c)\(c)@\(c)\(c)", "\(c)@x.y", "x@\(c)", "Xy\(c)Z\(c)@b\(c)C.D", "\(c)", "@\(c)@"] {
                let bytes = Array(text.utf8)
                guard let fast = viaTable(bytes) else { continue }
                #expect(fast == throughString(bytes), "U+\(String(v, radix: 16)) in \(text.debugDescription)")
                answered += 1
            }
        }
        // The table answers for nearly all; the rest (controls and U+0080...U+00A0, combining
        // marks beside an "@") are left to `String`.
        #expect(answered > 17_000)
    }

    @Test func anAtSignJoinedToANeighbourIsNotTheSplit() {
        // U+0301 after "@" and U+0600 before it join it into one character, which is not "@".
        #expect(key("a@\u{0301}b.c") == "!invalid_email")
        #expect(key("ab\u{0600}@c.d") == "!invalid_email")
        #expect(key("ab@c\u{0600}@d.e") == "ab@c\u{0600}@d.e", "the last \"@\" that stands alone splits it")
        #expect(viaTable(Array("a@\u{0301}b.c".utf8)) == nil)
        #expect(viaTable(Array("ab\u{0600}@c.d".utf8)) == nil)
        // A letter beside the "@" is no such character.
        #expect(viaTable(Array("JOSÉ@Éxample.com".utf8)) == "josé@éxample.com")
        #expect(viaTable(Array("ŁUKASZ@MÜLLER-BAU.DE".utf8)) == "łukasz@müller-bau.de")
        #expect(viaTable(Array("İ@x.y".utf8)) == "i\u{0307}@x.y", "a lowercase of three bytes")
        #expect(viaTable(Array("a\u{00A0}b@x.y".utf8)) == nil)
        #expect(viaTable(Array("日本@x.y".utf8)) == nil)
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

    /// The spelled-out set against Unicode's own properties, for every scalar.
    @Test func whitespaceOrControlIsUnicodesWhiteSpaceAndCc() {
        var disagreements: [UInt32] = []
        for v in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(v) else { continue }   // surrogates
            let unicode = scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
            if EmailNormalizer.isWhitespaceOrControl(v) != unicode { disagreements.append(v) }
        }
        #expect(disagreements == [])
        // Inside a non-ASCII address, each of them rejects it.
        for inside in ["\u{00A0}", "\u{0085}", "\u{009F}", "\u{1680}", "\u{2000}", "\u{200A}", "\u{2028}",
                       "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}", "\u{7F}", "\u{01}", " "] {
            #expect(key("jo\(inside)sé@x.y") == "!invalid_email", "\(inside.debugDescription)")
        }
        #expect(key("jo\u{200B}sé@x.y") == "jo\u{200B}sé@x.y", "U+200B is not White_Space")
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
