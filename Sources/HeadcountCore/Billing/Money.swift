/// A decimal amount in millionths: prices are never binary floating point,
/// so a billing file has no 0.1 + 0.2 errors.
///
/// 128 bits, so that a sum cannot wrap: a price has at most 12 digits before the point (under
/// 10^18 millionths, which a 64-bit sum of ten such prices would already exceed), and a report
/// totals one per team, for at most 2^32 teams.
public struct Money: Sendable, Equatable, Comparable {
    /// The amount × 1,000,000.
    public var micros: Int128

    public static let scale: Int128 = 1_000_000
    public static let zero = Money(micros: 0)

    public init(micros: Int128) { self.micros = micros }

    /// Parses "49", "49.9", "1234.56", "-3.5" (up to six decimals).
    public init?(parsing text: some StringProtocol) {
        var s = Substring(text).trimmingCharacters(in: .whitespaces)[...]
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit),
              whole.count <= 12 else { return nil }
        var micros = Int128(whole)! * Self.scale
        if parts.count == 2 {
            let frac = parts[1]
            guard !frac.isEmpty, frac.count <= 6, frac.allSatisfy(\.isASCIIDigit) else { return nil }
            micros += Int128(frac + String(repeating: "0", count: 6 - frac.count))!
        }
        self.micros = negative ? -micros : micros
    }

    public static func + (a: Money, b: Money) -> Money { Money(micros: a.micros + b.micros) }
    public static func - (a: Money, b: Money) -> Money { Money(micros: a.micros - b.micros) }
    public static func < (a: Money, b: Money) -> Bool { a.micros < b.micros }

    /// "49.00", "-12.50", "0.125" (at least two decimals, more only when needed).
    public var text: String {
        let sign = micros < 0 ? "-" : ""
        let v = micros.magnitude
        var frac = String(v % UInt128(Self.scale))
        frac = String(repeating: "0", count: 6 - frac.count) + frac
        while frac.count > 2 && frac.hasSuffix("0") { frac.removeLast() }
        return "\(sign)\(v / UInt128(Self.scale)).\(frac)"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
