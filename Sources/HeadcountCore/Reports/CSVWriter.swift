/// Builds RFC 4180 CSV text as bytes: fields quoted only when they must be.
public struct CSVWriter {
    /// The text written so far and, past `used`, zeroed room that `row(within:_:)` writes rows
    /// into in place.
    private var storage: [UInt8] = []
    private var used = 0

    /// The text written so far.
    public var bytes: [UInt8] { used == storage.count ? storage : Array(storage[..<used]) }

    public init() {}

    /// A writer with room for `bytes` before it grows (a large report's rows, estimated).
    public init(reserving bytes: Int) { storage.reserveCapacity(bytes) }

    /// Appends one row; `fields` are raw bytes, quoted when they hold a comma, quote, CR or LF.
    public mutating func row<S: Sequence>(_ fields: [S]) where S.Element == UInt8 {
        storage.removeSubrange(used...)
        for (i, f) in fields.enumerated() {
            if i > 0 { storage.append(0x2C) }
            Self.appendField(f, to: &storage)
        }
        storage.append(0x0A)
        used = storage.count
    }

    public mutating func row(_ fields: [String]) {
        row(fields.map { Array($0.utf8) })
    }

    /// Whether a field holding `byte` must be quoted: a comma, quote, CR or LF.
    @inline(__always)
    static func needsQuotes(_ byte: UInt8) -> Bool { byte == 0x2C || byte == 0x22 || byte == 0x0A || byte == 0x0D }

    public static func appendField<S: Sequence>(_ field: S, to out: inout [UInt8]) where S.Element == UInt8 {
        if !field.contains(where: needsQuotes) {
            out.append(contentsOf: field)
            return
        }
        out.append(0x22)
        for b in field {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
    }
}

extension CSVWriter {
    /// Appends one row that `body` writes in place, in at most `bound` bytes (`RowBuilder`'s
    /// bounds), straight into the writer's room, which grows by doubling. The files are
    /// rendered at the end of a run, after the last row is counted, and the longest of them
    /// decides when the run ends: written into a temporary row and appended, M's 127,000 rows
    /// of `audiences.csv` took 26-39 ms to render, in place 7.6-12 ms (BENCHMARKS.md).
    public mutating func row(within bound: Int, _ body: (inout RowBuilder) -> Void) {
        let needed = used + bound + 1
        if needed > storage.count {
            storage.append(contentsOf: repeatElement(0, count: max(needed, 2 * storage.count, 4096) - storage.count))
        }
        let start = used
        used += storage.withUnsafeMutableBytes { room in
            var row = RowBuilder(room.baseAddress! + start)
            body(&row)
            invariant(row.count < bound + 1, "a report row longer than its bound")
            row.put(0x0A)
            return row.count
        }
    }
}

/// One CSV row written in place (`CSVWriter.row(within:_:)`), its fields quoted as
/// `CSVWriter.appendField` quotes them.
public struct RowBuilder {
    private let start: UnsafeMutableRawPointer
    private var end: UnsafeMutableRawPointer
    /// Whether a field was written (the next one follows a comma): an empty first field writes
    /// no byte.
    private var hasField = false

    init(_ start: UnsafeMutableRawPointer) {
        self.start = start
        end = start
    }

    /// Bytes written so far.
    var count: Int { end - start }

    /// The most a field of `n` bytes takes, its comma included: quoted, every byte a doubled quote.
    public static func bound(bytes n: Int) -> Int { 2 * n + 3 }
    /// The most a number takes, its comma included: a sign and 20 digits.
    public static let numberBound = 22
    /// The most an amount in hundredths takes, its comma included.
    public static let hundredthsBound = numberBound + 3

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        end.storeBytes(of: byte, as: UInt8.self)
        end += 1
    }

    @inline(__always)
    private mutating func separate() {
        if hasField { put(0x2C) }
        hasField = true
    }

    /// A field of raw bytes, quoted when it holds a comma, quote, CR or LF.
    public mutating func field(_ f: UnsafeRawBufferPointer) {
        separate()
        if !f.contains(where: CSVWriter.needsQuotes) {
            if let base = f.baseAddress { end.copyMemory(from: base, byteCount: f.count) }
            end += f.count
            return
        }
        put(0x22)
        for b in f {
            if b == 0x22 { put(0x22) }
            put(b)
        }
        put(0x22)
    }

    /// A field of text, its UTF-8 bytes quoted as `field(_:)` quotes them.
    public mutating func field(text: String) {
        var text = text
        text.withUTF8 { field(UnsafeRawBufferPointer($0)) }
    }

    /// A whole number.
    public mutating func field(_ n: Int) {
        separate()
        number(n.magnitude, negative: n < 0)
    }

    /// An amount in hundredths, as `Decimal2.format(hundredths:)` writes it ("12.34", "-0.05").
    public mutating func field(hundredths: Int) {
        separate()
        let v = hundredths.magnitude
        number(v / 100, negative: hundredths < 0)
        put(0x2E)
        put(UInt8(truncatingIfNeeded: v % 100 / 10) + 0x30)
        put(UInt8(truncatingIfNeeded: v % 10) + 0x30)
    }

    /// The decimal digits, counted first, then written in place from the last.
    private mutating func number(_ magnitude: UInt, negative: Bool) {
        if negative { put(0x2D) }
        var digits = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        end += NumberFormat.writeDigits(magnitude, endingAt: end + digits)
    }
}

/// Fixed-point formatting for report numbers: no binary floating point in a billing file.
public enum Decimal2 {
    /// `part / whole * 100` rounded half up to two decimals ("12.34"); "0.00" when `whole` is 0.
    public static func percent(_ part: Int, of whole: Int) -> String {
        format(hundredths: percentHundredths(part, of: whole))
    }

    /// `part / whole * 100` in hundredths, rounded half up (0 when `whole` is 0).
    public static func percentHundredths(_ part: Int, of whole: Int) -> Int {
        guard whole > 0 else { return 0 }
        let magnitude = (Int(part.magnitude) * 20_000 + whole) / (2 * whole)
        return part < 0 ? -magnitude : magnitude
    }

    /// An amount in hundredths as "123.45" (with a sign when negative).
    public static func format(hundredths: Int) -> String {
        let sign = hundredths < 0 ? "-" : ""
        let v = hundredths.magnitude
        let frac = v % 100
        return "\(sign)\(v / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}
