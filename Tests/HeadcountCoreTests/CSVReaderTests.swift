import Testing
@testable import HeadcountCore

@Suite struct CSVReaderTests {
    @Test func plainRowsAndTrailingLineWithoutNewline() throws {
        let r = try records("a,b,c\n1,2,3\n4,,6")
        #expect(r.header == ["a", "b", "c"])
        #expect(r.rows == [["1", "2", "3"], ["4", "", "6"]])
        #expect(r.lines == [2, 3])
    }

    /// Unquoted rows go through the 64-byte mask path and fall back to the field-by-field
    /// parser at a quote or near the end of the bytes in hand; both must split alike. Rows of
    /// every length around the 64-byte blocks, a quote inside a field (literal there) early
    /// and late, CRLF, empty fields, read in pieces of every kind.
    @Test func maskPathAndFieldPathSplitAlike() throws {
        var text = "a,b,c,d\n"
        var expected: [[String]] = []
        for length in 0..<150 {
            var fields = ["f\(length)", String(repeating: "x", count: length), "", "tail"]
            if length % 7 == 3 { fields[1] = String(repeating: "y", count: length / 2) + "q\"uote" }
            if length % 11 == 5 { fields[3] = "la\"te" + String(repeating: "z", count: length) }
            text += fields.joined(separator: ",") + (length % 3 == 0 ? "\r\n" : "\n")
            expected.append(fields)
        }
        for step in [1, 5, 63, 64, 65, 1000, Int.max] {
            let r = try records(text, step: step)
            #expect(r.header == ["a", "b", "c", "d"])
            #expect(r.rows == expected, "step \(step)")
            #expect(r.lines == Array(2...151), "step \(step)")
        }
    }

    /// The mask bits left after one record's line feed serve the records after it in the same
    /// 64 bytes: short rows several to a block, a quote in a later row of a block (that row
    /// alone takes the field-by-field parser), a row of more fields than are stored at first,
    /// blank lines and CRLF among them; read whole, in pieces, and in lent chunks.
    @Test func recordsThatShareA64ByteBlockSplitAlike() throws {
        var text = "a,b,c\n"
        var expected: [[String]] = []
        for k in 0..<300 {
            var fields: [String]
            switch k % 9 {
            case 2: fields = ["q\"\(k)", "", "x"]
            case 4: fields = (0..<(100 + k)).map { "v\($0)" }
            case 6: fields = [String(k), "y", ""]
            default: fields = [String(k % 10), "", String(repeating: "z", count: k % 5)]
            }
            text += fields.joined(separator: ",") + (k % 4 == 1 ? "\r\n" : "\n")
            if k % 13 == 0 { text += "\n" }
            expected.append(fields)
        }
        // The first row that differs, not all 300 (some are hundreds of fields long).
        func firstDifference(_ rows: [[String]]) -> Int? {
            (0..<max(rows.count, expected.count)).first { $0 >= rows.count || $0 >= expected.count || rows[$0] != expected[$0] }
        }
        for step in [1, 9, 64, 200, Int.max] {
            #expect(firstDifference(try records(text, step: step).rows) == nil, "step \(step)")
        }
        for chunk in [64, 100, 4096] {
            #expect(firstDifference(try records(text, lentChunks: chunk).rows) == nil, "chunk \(chunk)")
        }
    }

    @Test func quotesDoubledQuotesDelimitersAndNewlinesInside() throws {
        let r = try records("h1,h2\n\"a,b\",\"say \"\"hi\"\"\"\n\"multi\nline\",x\nlast,\"\"\n")
        #expect(r.rows == [["a,b", "say \"hi\""], ["multi\nline", "x"], ["last", ""]])
        #expect(r.lines == [2, 3, 5])
    }

    @Test func crlfAndBOM() throws {
        let r = try records("\u{FEFF}email,team\r\nx@y.z,t1\r\n\"q\",t2\r\n")
        #expect(r.header == ["email", "team"])
        #expect(r.rows == [["x@y.z", "t1"], ["q", "t2"]])
    }

    @Test func blankLinesAreSkippedNotRows() throws {
        let r = try records("a\n\nx\n\r\ny\n")
        #expect(r.rows == [["x"], ["y"]])
        #expect(r.lines == [3, 5])
    }

    @Test func tabDelimiterDetectedFromHeader() throws {
        let r = try records("email\tteam_id\nx@y.z\tt,1\n")
        #expect(r.rows == [["x@y.z", "t,1"]])
    }

    @Test func explicitDelimiter() throws {
        let r = try records("email;team\nx@y.z;t1\n", delimiter: UInt8(ascii: ";"))
        #expect(r.rows == [["x@y.z", "t1"]])
    }

    @Test func unterminatedQuoteCostsOneRowAndReadingResumes() throws {
        let r = try records("a,b\n1,\"open\n2,ok\n3,ok\n")
        // The open quote runs to the end of the input: the row is rejected and reading
        // resumes on the next line.
        #expect(r.rows == [["!unterminated quoted field"], ["2", "ok"], ["3", "ok"]])
        #expect(r.lines == [2, 3, 4])
    }

    @Test func textAfterClosingQuoteIsMalformed() throws {
        let r = try records("a,b\n\"x\"y,1\nz,2\n")
        #expect(r.rows == [["!text after a closing quote"], ["z", "2"]])
    }

    @Test func overlongRowIsRejectedWithBoundedMemory() throws {
        let long = String(repeating: "x", count: 10_000)
        let r = try records("a,b\n\(long),1\nz,2\n", step: 777, maxRecordBytes: 1024)
        #expect(r.rows.count == 2)
        #expect(r.rows[0][0].hasPrefix("!row longer than"))
        #expect(r.rows[1] == ["z", "2"])
        #expect(r.lines == [2, 3])
    }

    @Test func sameRecordsWhateverTheChunkBoundaries() throws {
        let text = "team,email,note\r\n\"t,1\",\"A@B.C\",\"multi\r\nline \"\"q\"\"\"\r\nt2,x@y.z,\r\n\"\",\"\",\"\"\nlast,row,here"
        let whole = try records(text)
        for step in [1, 2, 3, 5, 7, 16, 64] {
            let pieces = try records(text, step: step)
            #expect(pieces.rows == whole.rows, "step \(step)")
            #expect(pieces.lines == whole.lines, "step \(step)")
        }
        #expect(whole.rows.count == 4)
    }

    /// The limit counts the row's bytes with its line break, and holds wherever the reads end:
    /// a row is rejected when it is longer, whether or not it happens to be in hand whole.
    @Test func rowLimitIsExactWhateverTheReads() throws {
        let limit = 100
        for length in [limit - 1, limit, limit + 1, limit + 2] {
            let row = String(repeating: "y", count: length - 3) + ",1\n"   // `length` bytes with its LF
            let text = "a,b\n" + row + "z,2\n"
            for step in [Int.max, 1, 7, 64] {
                let r = try records(text, step: step, maxRecordBytes: limit)
                let expected = length <= limit ? [String(repeating: "y", count: length - 3), "1"]
                                               : ["!row longer than \(limit) bytes"]
                #expect(r.rows == [expected, ["z", "2"]], "length \(length), step \(step)")
                #expect(r.lines == [2, 3])
            }
        }
    }

    /// Parsing chunks in place gives what copying gives: records cut anywhere (inside quotes,
    /// between CR and LF, inside the BOM), rows longer than the limit (read on in the reader's
    /// own buffer, then back to lent chunks), an unterminated quote at the end, blank lines.
    @Test(arguments: [1, 2, 3, 5, 7, 16, 64, 100, 1000])
    func lentChunksGiveTheSameRecordsAsCopies(chunk: Int) throws {
        let long = String(repeating: "x", count: 3000)
        let texts = [
            "team,email,note\r\n\"t,1\",\"A@B.C\",\"multi\r\nline \"\"q\"\"\"\r\nt2,x@y.z,\r\n\"\",\"\",\"\"\nlast,row,here",
            "\u{FEFF}email,team\r\nx@y.z,t1\r\n\"q\",t2\r\n\n\r\n" + String(repeating: "a@b.c,t3\n", count: 300),
            "a,b\n\(long),1\nz,2\n\(long)\n\(long),\"q\"\nlast,1\n",
            "a,b\n1,\"open\n2,ok\n3,ok\n\"x\"y,1\nz,2\n4,\"never closed",
            "email\tteam_id\n" + (0..<200).map { "p\($0)@x.io\tt\($0 % 7)\n" }.joined(),
        ]
        for (k, text) in texts.enumerated() {
            for limit in [300, 1024, 1 << 20] {
                let copied = try records(text, maxRecordBytes: limit)
                for step in [Int.max, 3] {
                    let lent = try records(text, step: step, maxRecordBytes: limit, lentChunks: chunk)
                    #expect(lent.header == copied.header, "text \(k), limit \(limit), step \(step)")
                    #expect(lent.rows == copied.rows, "text \(k), limit \(limit), step \(step)")
                    #expect(lent.lines == copied.lines, "text \(k), limit \(limit), step \(step)")
                    #expect(lent.raw == copied.raw, "text \(k), limit \(limit), step \(step)")
                }
            }
        }
    }

    @Test func rawRecordIsTheRowWithoutItsLineBreak() throws {
        let reader = CSVReader(source: MemorySource("a,b\r\n1,\"2\"\r\n"))
        _ = try reader.readHeader()
        #expect(try reader.next() == .record)
        #expect(Array(reader.rawRecord()) == Array("1,\"2\"".utf8))
    }

    @Test func millionFieldsAreCountedNotStored() throws {
        let reader = CSVReader(source: MemorySource("a,b\n" + String(repeating: ",", count: 1_000_000) + "\n"))
        _ = try reader.readHeader()
        reader.limitStoredFields(to: 3)
        #expect(try reader.next() == .record)
        #expect(reader.fieldCount == 1_000_001)
        #expect(reader.hasField(2) && !reader.hasField(3))
    }
}
