import Testing
@testable import HeadcountCore

/// The `unsubscribed` column's values (SPEC §1: true/false, t/f, 1/0, yes/no; empty = false).
@Suite struct FieldValueTests {
    func bool(_ bytes: [UInt8]) -> Bool? { bytes.withUnsafeBytes { ReportJob.parseBool($0) } }
    func bool(_ s: String) -> Bool? { bool(Array(s.utf8)) }

    @Test func everySpellingInAnyCaseWithBlanksAround() {
        for yes in ["true", "t", "1", "yes", "TRUE", "True", "T", "YES", "yEs", " true", "true\t", "\t 1 "] {
            #expect(bool(yes) == true, "\(yes.debugDescription)")
        }
        for no in ["false", "f", "0", "no", "FALSE", "False", "F", "NO", "nO", " false ", "\t0"] {
            #expect(bool(no) == false, "\(no.debugDescription)")
        }
        for empty in ["", " ", "\t\t "] { #expect(bool(empty) == false, "\(empty.debugDescription)") }
    }

    @Test func anythingElseIsNotABoolean() {
        for bad in ["2", "-1", "truee", "tru", "y", "n", "on", "off", "yes!", "fals", "nope", "true false",
                    "00", "01", "10", "ttrue", "\u{00A0}true", "trué"] {
            #expect(bool(bad) == nil, "\(bad.debugDescription)")
        }
    }

    /// NUL bytes are not leading zeros of a shorter word.
    @Test func nulBytesAreNotABoolean() {
        #expect(bool([0]) == nil)
        #expect(bool([0, 0x74]) == nil)             // "\0t"
        #expect(bool([0, 0x74, 0x72, 0x75, 0x65]) == nil)
        #expect(bool([0x31, 0]) == nil)
        #expect(bool([0, 0x6E, 0x6F]) == nil)
    }

    /// Ids are checked for UTF-8 a word at a time: a non-ASCII byte at any position of any
    /// length up to 24 is seen, and then the bytes are validated.
    @Test func idsAreCheckedForUTF8AtEveryPositionAndLength() {
        func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { ReportJob.isValidUTF8($0) } }
        for n in 0...24 {
            let ascii = [UInt8](repeating: 0x61, count: n)
            #expect(valid(ascii))
            for k in 0..<n {
                var lone = ascii
                lone[k] = 0xC3                       // a lead byte with nothing after it
                #expect(!valid(lone), "length \(n), position \(k)")
                var high = ascii
                high[k] = 0x80                       // a continuation byte alone
                #expect(!valid(high), "length \(n), position \(k)")
                if k + 1 < n {
                    var pair = ascii
                    pair[k] = 0xC3; pair[k + 1] = 0xA9   // é
                    #expect(valid(pair), "length \(n), position \(k)")
                }
            }
        }
    }
}
