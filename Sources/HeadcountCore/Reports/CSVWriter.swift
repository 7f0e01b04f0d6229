/// Builds RFC 4180 CSV text as bytes: fields quoted only when they must be.
public struct CSVWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends one row; `fields` are raw bytes, quoted when they hold a comma, quote, CR or LF.
    public mutating func row<S: Sequence>(_ fields: [S]) where S.Element == UInt8 {
        for (i, f) in fields.enumerated() {
            if i > 0 { bytes.append(0x2C) }
            Self.appendField(f, to: &bytes)
        }
        bytes.append(0x0A)
    }

    public mutating func row(_ fields: [String]) {
        row(fields.map { Array($0.utf8) })
    }

    private var inRow = false

    /// Appends one field to the current row (large reports build rows field by field,
    /// without an array per row or a string per number).
    public mutating func field<S: Sequence>(_ f: S) where S.Element == UInt8 {
        if inRow { bytes.append(0x2C) }
        inRow = true
        Self.appendField(f, to: &bytes)
    }

    /// Appends a whole number as a field.
    public mutating func field(_ n: Int) {
        if inRow { bytes.append(0x2C) }
        inRow = true
        if n < 0 { bytes.append(0x2D) }
        var v = n.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(truncatingIfNeeded: v % 10) + 0x30)
            v /= 10
        } while v > 0
        bytes[start...].reverse()
    }

    /// Ends the current row.
    public mutating func endRow() {
        bytes.append(0x0A)
        inRow = false
    }

    public static func appendField<S: Sequence>(_ field: S, to out: inout [UInt8]) where S.Element == UInt8 {
        let needsQuotes = field.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
        if !needsQuotes {
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

/// Fixed-point formatting for report numbers: no binary floating point in a billing file.
public enum Decimal2 {
    /// `part / whole * 100` rounded half up to two decimals ("12.34"); "0.00" when `whole` is 0.
    public static func percent(_ part: Int, of whole: Int) -> String {
        guard whole > 0 else { return "0.00" }
        let magnitude = (Int(part.magnitude) * 20_000 + whole) / (2 * whole)
        return format(hundredths: part < 0 ? -magnitude : magnitude)
    }

    /// An amount in hundredths as "123.45" (with a sign when negative).
    public static func format(hundredths: Int) -> String {
        let sign = hundredths < 0 ? "-" : ""
        let v = hundredths.magnitude
        let frac = v % 100
        return "\(sign)\(v / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}
