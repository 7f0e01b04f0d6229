import CIntrinsics

/// One field of the current record: a byte range in the reader's buffer.
public struct FieldRange {
    public var start: Int
    public var end: Int
    /// The field was quoted and holds doubled quotes that must be undoubled.
    public var hasEscapes: Bool
}

/// An RFC 4180 CSV reader over bytes, one record at a time.
///
/// Quoted fields may hold delimiters, doubled quotes and line breaks; lines
/// end with LF or CRLF; a UTF-8 byte order mark at the start is skipped.
/// Fields are byte ranges into one reused buffer and are valid only until the
/// next call to `next()`: no allocation per row or field.
///
/// A record that cannot be read (an unterminated quote, text after a closing
/// quote, a record longer than `maxRecordBytes`) is reported as malformed and
/// reading resumes on the line after the one where it started, so one stray
/// quote costs one row, not the rest of the file. Memory is bounded by
/// `maxRecordBytes` whatever the input.
public final class CSVReader {
    public enum Outcome: Equatable {
        /// A record is available through `fieldCount`, `field(_:)` and `rawRecord`.
        case record
        /// A record that cannot be split into fields; `rawRecord` holds its start.
        case malformed(String)
        /// No more records.
        case end
    }

    /// Where a record is longer than this, it is rejected rather than buffered.
    public static let defaultMaxRecordBytes = 1 << 20
    /// Bytes requested from the source per refill (by default).
    public static let defaultRefillSize = 1 << 20

    public private(set) var delimiter: UInt8
    public let quote: UInt8 = 0x22
    public let maxRecordBytes: Int
    /// The 1-based line where the current record starts.
    public private(set) var line = 0
    /// Lines that held nothing; skipped, not rows.
    public private(set) var blankLines = 0
    /// Fields in the current record (may exceed the ones stored).
    public private(set) var fieldCount = 0

    private let source: ChunkSource
    /// The bytes being parsed: `own`, or a region a `PrefetchingReader` lent in place.
    private var buffer: UnsafeMutableRawBufferPointer
    /// The reader's own buffer: for sources that only copy, and for a line being discarded.
    private let own: UnsafeMutableRawBufferPointer
    /// The source, when it lends its chunks in place and has room to carry a record in front
    /// of them: then no byte is copied but a record cut by a chunk's end.
    private let lender: PrefetchingReader?
    private var pos = 0
    private var end = 0
    private var eof = false
    private var nextLine = 1

    private var fields: UnsafeMutablePointer<FieldRange>
    private var fieldCapacity: Int
    /// Fields kept per record; the rest are only counted (a row with a million fields stays cheap).
    private var storedFieldLimit = Int.max
    /// Where escaped fields are undoubled; reused.
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 8)
    private var recordStart = 0
    private var recordEnd = 0

    public init(source: ChunkSource, delimiter: UInt8? = nil, maxRecordBytes: Int = defaultMaxRecordBytes,
                refillSize: Int = defaultRefillSize) {
        self.source = source
        self.delimiter = delimiter ?? 0x2C
        self.maxRecordBytes = maxRecordBytes
        // Room for a record of the limit, a refill after it, and the 1 KiB a rejected row keeps.
        own = .allocate(byteCount: max(refillSize + maxRecordBytes, 2048) + Self.slack, alignment: 64)
        buffer = own
        if let prefetching = source as? PrefetchingReader, prefetching.headroom >= maxRecordBytes {
            lender = prefetching
        } else {
            lender = nil
        }
        fieldCapacity = 64
        fields = .allocate(capacity: fieldCapacity)
        explicitDelimiter = delimiter != nil
    }

    private let explicitDelimiter: Bool

    /// Readable bytes kept after the data in either buffer, the lender's padding.
    static let slack = PrefetchingReader.padding

    deinit {
        own.deallocate()
        fields.deallocate()
        scratch.deallocate()
    }

    /// Keeps at most `n` fields per record (the others are counted only).
    public func limitStoredFields(to n: Int) { storedFieldLimit = max(1, n) }

    // MARK: - Header

    /// Reads the header record, skipping a BOM and detecting a tab delimiter
    /// unless one was given. Returns nil when the input holds no record.
    public func readHeader() throws -> [[UInt8]]? {
        while end - pos < 3 && !eof { try refill(keepingFrom: pos) }
        if end - pos >= 3 && buffer[pos] == 0xEF && buffer[pos + 1] == 0xBB && buffer[pos + 2] == 0xBF {
            pos += 3
        }
        if !explicitDelimiter { try detectDelimiter() }
        while true {
            switch try next() {
            case .end: return nil
            case .malformed(let why): throw HeadcountError(.data, "header row is malformed: \(why)", line: line)
            case .record:
                if fieldCount == 1 && field(0).count == 0 { continue }
                return (0..<min(fieldCount, storedFieldLimit)).map { Array(field($0)) }
            }
        }
    }

    /// Tab when the first line holds more tabs than commas (outside quotes), comma otherwise.
    private func detectDelimiter() throws {
        var newline: Int? = nil
        while true {
            if let nl = findByte(0x0A, from: pos, to: end) { newline = nl; break }
            if eof || end - pos >= maxRecordBytes { break }
            try refill(keepingFrom: pos)
        }
        var tabs = 0, commas = 0, inQuotes = false
        for i in pos..<(newline ?? end) {
            let c = buffer[i]
            if c == quote { inQuotes.toggle() } else if !inQuotes {
                if c == 0x09 { tabs += 1 } else if c == 0x2C { commas += 1 }
            }
        }
        delimiter = tabs > commas ? 0x09 : 0x2C
    }

    // MARK: - Records

    /// Reads the next record. Blank lines are skipped (and counted in `blankLines`).
    /// - Complexity: O(bytes of the record); amortised no allocation.
    public func next() throws -> Outcome {
        while true {
            if pos == end {
                if eof { return .end }
                try refill(keepingFrom: pos)
                if pos == end && eof { return .end }
                continue
            }
            switch parseOrdinary(from: pos) ?? parse(from: pos) {
            case .complete(let next, let newlines, let malformed):
                // Longer than the limit even when it happens to be in hand: the same record is
                // rejected wherever the buffer's boundaries fall.
                if next - pos > maxRecordBytes {
                    return try giveUp("row longer than \(maxRecordBytes) bytes")
                }
                line = nextLine
                nextLine += 1 + newlines
                recordStart = pos
                recordEnd = lineEnd(next, from: pos)
                pos = next
                if let malformed { return .malformed(malformed) }
                if fieldCount == 1 && fields[0].start == fields[0].end && recordEnd == recordStart {
                    blankLines += 1
                    continue
                }
                return .record
            case .needMore:
                if end - pos >= maxRecordBytes {
                    return try giveUp("row longer than \(maxRecordBytes) bytes")
                }
                try refill(keepingFrom: pos)
            case .unterminated:
                return try giveUp("unterminated quoted field")
            }
        }
    }

    /// Rejects the record that starts at `pos` and resumes on the next line.
    private func giveUp(_ reason: String) throws -> Outcome {
        // The raw text kept is the first line cut at 1 KiB, however much happens to be in hand:
        // read on until the line ends, 1 KiB is here, or the input ends.
        while end - pos < 1024 && !eof && findByte(0x0A, from: pos, to: end) == nil {
            let inHand = end - pos
            try refill(keepingFrom: pos)
            if end - pos == inHand && !eof { break }   // no room for more (cannot happen: see `own`)
        }
        line = nextLine
        nextLine += 1
        recordStart = pos
        fieldCount = 0
        // The raw text kept for the reject: the first line, as much as is in hand.
        if let nl = findByte(0x0A, from: pos, to: end) {
            recordEnd = lineEnd(nl + 1, from: pos)
            pos = nl + 1
            return .malformed(reason)
        }
        recordEnd = min(end, pos + 1024)
        // The first line is longer than the buffer: keep 1 KiB for the reject and discard the
        // rest, in the reader's own buffer (a lent region goes back to its source when read on).
        let keep = recordEnd - recordStart
        carriedBlock = Int.min
        own.baseAddress!.copyMemory(from: buffer.baseAddress! + recordStart, byteCount: keep)
        buffer = own
        recordStart = 0
        recordEnd = keep
        pos = keep
        end = keep
        while true {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[keep...]))
            if n == 0 { eof = true; pos = keep; end = keep; return .malformed(reason) }
            if let nl = findByte(0x0A, from: keep, to: keep + n) {
                pos = nl + 1
                end = keep + n
                return .malformed(reason)
            }
        }
    }

    /// The end of a record's text without its line break.
    @inline(__always)
    private func lineEnd(_ next: Int, from start: Int) -> Int {
        var e = next
        if e > start && buffer[e - 1] == 0x0A {
            e -= 1
            if e > start && buffer[e - 1] == 0x0D { e -= 1 }
        }
        return e
    }

    /// The bytes of the current record as read, without its line break, at most `limit` bytes.
    public func rawRecord(limit: Int = 1024) -> UnsafeRawBufferPointer {
        let n = min(limit, max(0, recordEnd - recordStart))
        return UnsafeRawBufferPointer(start: buffer.baseAddress! + recordStart, count: n)
    }

    /// Whether field `i` exists in the stored fields of the current record.
    @inline(__always)
    public func hasField(_ i: Int) -> Bool { i < min(fieldCount, storedFieldLimit) }

    /// The bytes of field `i`, quotes removed and doubled quotes undoubled.
    /// Valid until the next call to `next()` or `field(_:)` on an escaped field.
    @inline(__always)
    public func field(_ i: Int) -> UnsafeRawBufferPointer {
        assert(hasField(i))
        let f = fields[i]
        if !f.hasEscapes {
            return UnsafeRawBufferPointer(start: buffer.baseAddress! + f.start, count: f.end - f.start)
        }
        return unescaped(f)
    }

    private func unescaped(_ f: FieldRange) -> UnsafeRawBufferPointer {
        if scratch.count < f.end - f.start {
            scratch.deallocate()
            scratch = .allocate(byteCount: max(f.end - f.start, 4096), alignment: 8)
        }
        var i = f.start
        var n = 0
        while i < f.end {
            let c = buffer[i]
            scratch[n] = c
            n += 1
            i += (c == quote && i + 1 < f.end && buffer[i + 1] == quote) ? 2 : 1
        }
        return UnsafeRawBufferPointer(start: scratch.baseAddress, count: n)
    }

    // MARK: - The scanner

    private enum ParseResult {
        case complete(next: Int, newlines: Int, malformed: String?)
        case needMore
        case unterminated
    }

    @inline(__always)
    private func addField(_ start: Int, _ end: Int, escaped: Bool) {
        if fieldCount < storedFieldLimit {
            if fieldCount == fieldCapacity { growFields() }
            fields[fieldCount] = FieldRange(start: start, end: end, hasEscapes: escaped)
        }
        fieldCount += 1
    }

    private func growFields() {
        let bigger = UnsafeMutablePointer<FieldRange>.allocate(capacity: fieldCapacity * 2)
        bigger.update(from: fields, count: fieldCapacity)
        fields.deallocate()
        fields = bigger
        fieldCapacity *= 2
    }

    /// The fast path for an ordinary record, one without quotes that ends within the bytes in
    /// hand: its delimiters and line feed come from 64-byte masks (`headcount_csv_masks`), one
    /// or two for a typical row, instead of a search per field. The bits left over after a
    /// record's line feed are kept for the record after it, so each byte is looked at once
    /// (a 93-byte row took two masks, 128 bytes, when each record started its own). nil:
    /// anything else (a quote anywhere in the record, fewer than 64 bytes left to look at, or
    /// more fields than are stored yet), which `parse` then handles from the start of the
    /// record; both give the same fields.
    @inline(__always)
    private func parseOrdinary(from start: Int) -> ParseResult? {
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let delim = delimiter
        // Kept in locals: stored through `fields`, the properties would be reloaded per field.
        let fields = self.fields
        let limit = storedFieldLimit
        let stored = min(limit, fieldCapacity)
        var n = 0
        var fieldStart = start
        var block: Int
        var mask: UInt64
        var special: UInt64 = 0
        /// Stores field `n` (or only counts it past the stored ones); false when the fields
        /// array must grow first, which `parse` does.
        @inline(__always) func keep(_ fieldEnd: Int) -> Bool {
            if n < stored {
                fields[n] = FieldRange(start: fieldStart, end: fieldEnd, hasEscapes: false)
            } else if stored < limit {
                return false
            }
            return true
        }
        if UInt(bitPattern: start &- carriedBlock) < 64 {
            block = carriedBlock
            let from = ~UInt64(0) << UInt64(start - block)
            mask = carriedMask & from
            special = carriedSpecial & from
        } else {
            guard start + 64 <= end else { return nil }
            block = start
            mask = headcount_csv_masks(base + block, delim, &special)
        }
        while true {
            while mask != 0 {
                let at = block + mask.trailingZeroBitCount
                let lowest = mask & (0 &- mask)
                if special & lowest != 0 {
                    if base[at] != 0x0A { return nil }   // a quote
                    guard keep(at > fieldStart && base[at - 1] == 0x0D ? at - 1 : at) else { return nil }
                    fieldCount = n + 1
                    mask &= mask &- 1
                    (carriedBlock, carriedMask, carriedSpecial) = (block, mask, special & mask)
                    return .complete(next: at + 1, newlines: 0, malformed: nil)
                }
                guard keep(at) else { return nil }
                n += 1
                fieldStart = at + 1
                mask &= mask &- 1
            }
            block += 64
            guard block + 64 <= end else { return nil }
            mask = headcount_csv_masks(base + block, delim, &special)
        }
    }

    /// The 64 bytes at `carriedBlock` whose structure bits past the last record `parseOrdinary`
    /// read are `carriedMask` (and `carriedSpecial`); `Int.min` when there are none. Valid
    /// while the buffer holds the same bytes at the same place: every refill drops them.
    private var carriedBlock = Int.min
    private var carriedMask: UInt64 = 0
    private var carriedSpecial: UInt64 = 0

    /// Splits one record starting at `start`; pure with respect to the buffer.
    private func parse(from start: Int) -> ParseResult {
        let base = UnsafeRawPointer(buffer.baseAddress!)
        let delim = delimiter
        let quote = self.quote
        var i = start
        var newlines = 0
        var malformed: String? = nil
        fieldCount = 0
        while true {
            if i == end {
                // The record ends at the end of the input without a line break.
                if !eof { return .needMore }
                addField(i, i, escaped: false)
                return .complete(next: i, newlines: newlines, malformed: malformed)
            }
            if base.load(fromByteOffset: i, as: UInt8.self) == quote {
                var j = i + 1
                var escaped = false
                var close = -1
                while j < end {
                    let c = base.load(fromByteOffset: j, as: UInt8.self)
                    if c == quote {
                        if j + 1 == end && !eof { return .needMore }
                        if j + 1 < end && base.load(fromByteOffset: j + 1, as: UInt8.self) == quote {
                            escaped = true
                            j += 2
                            continue
                        }
                        close = j
                        break
                    }
                    if c == 0x0A { newlines += 1 }
                    j += 1
                }
                if close < 0 { return eof ? .unterminated : .needMore }
                addField(i + 1, close, escaped: escaped)
                i = close + 1
                if i == end {
                    if !eof { return .needMore }
                    return .complete(next: i, newlines: newlines, malformed: malformed)
                }
                let c = base.load(fromByteOffset: i, as: UInt8.self)
                if c == delim { i += 1; continue }
                if c == 0x0A { return .complete(next: i + 1, newlines: newlines, malformed: malformed) }
                if c == 0x0D {
                    if i + 1 == end && !eof { return .needMore }
                    if i + 1 < end && base.load(fromByteOffset: i + 1, as: UInt8.self) == 0x0A {
                        return .complete(next: i + 2, newlines: newlines, malformed: malformed)
                    }
                }
                // Text after a closing quote: the row is malformed; find where it ends.
                malformed = malformed ?? "text after a closing quote"
            }
            // Unquoted field (or the rest of a malformed one): up to the delimiter or LF.
            guard let stop = findDelimiterOrNewline(from: i, delim) else {
                if !eof { return .needMore }
                addField(i, end, escaped: false)
                return .complete(next: end, newlines: newlines, malformed: malformed)
            }
            let c = base.load(fromByteOffset: stop, as: UInt8.self)
            if c == delim {
                addField(i, stop, escaped: false)
                i = stop + 1
                continue
            }
            let fieldEnd = (stop > i && base.load(fromByteOffset: stop - 1, as: UInt8.self) == 0x0D) ? stop - 1 : stop
            addField(i, fieldEnd, escaped: false)
            return .complete(next: stop + 1, newlines: newlines, malformed: malformed)
        }
    }

    /// The first delimiter or LF at or after `from`, eight bytes at a time.
    @inline(__always)
    private func findDelimiterOrNewline(from: Int, _ delim: UInt8) -> Int? {
        let base = UnsafeRawPointer(buffer.baseAddress!)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let d = ones &* UInt64(delim)
        let n = ones &* 0x0A
        var i = from
        while i + 8 <= end {
            let w = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let x = w ^ d, y = w ^ n
            let hit = ((x &- ones) & ~x | (y &- ones) & ~y) & highs
            if hit != 0 { return i + hit.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < end {
            let c = base.load(fromByteOffset: i, as: UInt8.self)
            if c == delim || c == 0x0A { return i }
            i += 1
        }
        return nil
    }

    private func findByte(_ byte: UInt8, from: Int, to: Int) -> Int? {
        var i = from
        while i < to {
            if buffer[i] == byte { return i }
            i += 1
        }
        return nil
    }

    // MARK: - Buffering

    /// Moves the bytes from `keep` to the front and reads more after them.
    private func refill(keepingFrom keep: Int) throws {
        carriedBlock = Int.min
        if let lender, end - keep <= lender.headroom {
            let carry = UnsafeRawBufferPointer(start: buffer.baseAddress! + keep, count: end - keep)
            guard let region = try lender.lend(carrying: carry) else {
                eof = true
                return
            }
            // The region is followed by the lender's padding, the same slack as the own buffer's.
            buffer = UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(mutating: region.baseAddress!),
                                                   count: region.count + Self.slack)
            pos -= keep
            end = region.count
            return
        }
        if buffer.baseAddress != own.baseAddress {
            // Leaving a lent region: what is kept moves to the own buffer.
            let n = end - keep
            if n > 0 { own.baseAddress!.copyMemory(from: buffer.baseAddress! + keep, byteCount: n) }
            buffer = own
            pos -= keep
            end = n
        } else if keep > 0 {
            let n = end - keep
            if n > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + keep, byteCount: n) }
            pos -= keep
            end = n
        }
        let room = buffer.count - Self.slack - end
        guard room > 0 else { return }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end..<(end + room)]))
        if n == 0 { eof = true }
        end += n
    }
}
