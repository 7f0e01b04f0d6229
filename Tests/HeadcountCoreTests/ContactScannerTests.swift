import Testing
@testable import HeadcountCore

/// A malformed row's team is read from its raw text only where every field up to it is whole.
@Suite struct ContactScannerTests {
    func field(_ index: Int, _ raw: String, delimiter: Character = ",") -> String? {
        Array(raw.utf8).withUnsafeBytes { bytes in
            ContactScanner.readableField(index, of: bytes, delimiter: delimiter.asciiValue!)
                .map { String(decoding: $0, as: UTF8.self) }
        }
    }

    @Test func fieldsBeforeTheFaultAreReadable() {
        #expect(field(0, "t1,a1,\"broken@x.io,more") == "t1")
        #expect(field(1, "a@x.io,t1,\"broken") == "t1")
        #expect(field(1, "a@x.io,\"t 1\",\"a\"x") == "t 1")          // a quoted team, closed
        #expect(field(1, "a@x.io\tt1\t\"b", delimiter: "\t") == "t1")
        #expect(field(2, "a,,") == "")                                 // an empty last field of an uncut line
        #expect(field(1, "a,t1") == "t1")                              // the last field of an uncut line
        #expect(field(1, "a,,x") == "")                                // an empty team id is a team
    }

    @Test func aFieldAtOrAfterTheFaultIsNot() {
        #expect(field(1, "\"broken@x.io,t1,a1") == nil)                // the quote before it never closes
        #expect(field(1, "a\"b@x.io,t1") == nil)                       // a quote inside an unquoted field
        #expect(field(1, "\"a\"x,t1") == nil)                          // text after a closing quote
        #expect(field(1, "a,\"t\"\"1\",x") == nil)                     // doubled quotes are not undone here
        #expect(field(2, "a,t1") == nil)                               // the row ends before it
        #expect(field(0, "t1") == nil)                                 // a line of one field
        let cut = "t1," + String(repeating: "x", count: 2000)
        #expect(field(0, String(cut.prefix(1024))) == "t1")
        #expect(field(1, String(cut.prefix(1024))) == nil)             // runs into the cut
    }

    /// Any bytes at all: no crash; a field read never holds a quote (a quoted one may hold the
    /// delimiter), and is what splitting the text at its delimiters gives where nothing is quoted.
    @Test func anyBytesGiveAWholeFieldOrNone() {
        var rng = SplitMix(state: 11)
        let alphabet: [UInt8] = [0x61, 0x62, 0x2C, 0x22, 0x0A, 0x0D, 0x09, 0xFF]
        var read = 0
        for _ in 0..<20_000 {
            let raw = (0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let index = Int(rng.next() % 4)
            let got = raw.withUnsafeBytes { ContactScanner.readableField(index, of: $0, delimiter: 0x2C).map(Array.init) }
            guard let got else { continue }
            read += 1
            #expect(!got.contains(0x22), "\(raw) \(index)")
            if !raw.contains(0x22) {
                let parts = raw.split(separator: 0x2C, omittingEmptySubsequences: false)
                #expect(index < parts.count && Array(parts[index]) == got, "\(raw) \(index)")
            }
        }
        #expect(read > 1_000)
    }
}
