import Foundation

/// A team's plan and contact limit, from `--quotas`.
public struct Quota: Sendable, Equatable {
    public var plan: String
    public var contactLimit: Int
}

/// One price tier, from `--tiers`.
public struct Tier: Sendable, Equatable {
    public var name: String
    public var contactLimit: Int
    public var monthlyPrice: Money
}

/// Reads the small billing inputs: `--quotas` and `--tiers` (CSV, gzip or plain).
public enum BillingInputs {
    /// `team_id,plan,contact_limit`: one row per team.
    /// - Throws: `.usage` naming the file and line for a missing column, a duplicate team,
    ///   or a limit that is not a whole number ≥ 0 of at most 18 digits.
    public static func quotas(path: String) throws -> [[UInt8]: Quota] {
        var out: [[UInt8]: Quota] = [:]
        var firstLine: [[UInt8]: Int] = [:]
        try readRows(path, columns: ["team_id", "plan", "contact_limit"],
                     aliases: ["team_id": ColumnMap.aliases[.team]!]) { line, f in
            let team = f[0]
            if let first = firstLine[team] {
                throw HeadcountError(.usage, "team '\(ColumnMap.printable(String(decoding: team, as: UTF8.self)))' appears again "
                                     + "(first on line \(first))", file: path, line: line)
            }
            guard let limit = wholeNumber(f[2]) else {
                throw HeadcountError(.usage, limitRule, file: path, line: line)
            }
            firstLine[team] = line
            out[team] = Quota(plan: String(decoding: f[1], as: UTF8.self), contactLimit: limit)
        }
        return out
    }

    /// `tier,contact_limit,monthly_price`, ascending by contact_limit.
    /// - Throws: `.usage` naming the file and line for a bad limit or price, or tiers out of order.
    public static func tiers(path: String) throws -> [Tier] {
        var out: [Tier] = []
        try readRows(path, columns: ["tier", "contact_limit", "monthly_price"], aliases: [:]) { line, f in
            guard let limit = wholeNumber(f[1]) else {
                throw HeadcountError(.usage, limitRule, file: path, line: line)
            }
            guard let price = Money(parsing: String(decoding: f[2], as: UTF8.self)), price.micros >= 0 else {
                throw HeadcountError(.usage, "monthly_price must be a decimal amount ≥ 0 (e.g. 49.00)",
                                     file: path, line: line)
            }
            if let last = out.last, limit <= last.contactLimit {
                throw HeadcountError(.usage, "tiers must be in ascending contact_limit order "
                                     + "(\(limit) after \(last.contactLimit))", file: path, line: line)
            }
            out.append(Tier(name: String(decoding: f[0], as: UTF8.self), contactLimit: limit, monthlyPrice: price))
        }
        if out.isEmpty { throw HeadcountError(.usage, "no tiers in the file", file: path) }
        return out
    }

    /// Digits of a contact limit at most, so that a limit and the counts compared with it stay far
    /// from `Int.max`.
    static let maxLimitDigits = 18
    static let limitRule = "contact_limit must be a whole number ≥ 0 of at most \(maxLimitDigits) digits"

    static func wholeNumber(_ bytes: [UInt8]) -> Int? {
        let s = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty, s.count <= maxLimitDigits, s.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(s)
    }

    /// Calls `row(line, fields)` with the named columns of every row.
    static func readRows(_ path: String, columns: [String], aliases: [String: [String]],
                         _ row: (Int, [[UInt8]]) throws -> Void) throws {
        let stream = try ByteStream(file: InputFile(path: path))
        let reader = CSVReader(source: stream)
        let located: (Error) -> Error = { error in
            guard var e = error as? HeadcountError else { return error }
            if e.file == nil { e.file = path }
            return e
        }
        do {
            guard let header = try reader.readHeader() else {
                throw HeadcountError(.usage, "no header row; expected \(columns.joined(separator: ","))", file: path)
            }
            let names = header.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased() }
            let index = try columns.map { column -> Int in
                for name in aliases[column] ?? [column] {
                    if let i = names.firstIndex(of: name.lowercased()) { return i }
                }
                throw HeadcountError(.usage, "no \(column) column; " + ColumnMap.describeHeader(header),
                                     file: path, line: 1)
            }
            loop: while true {
                switch try reader.next() {
                case .end: break loop
                case .malformed(let why): throw HeadcountError(.usage, "malformed row: \(why)", file: path, line: reader.line)
                case .record:
                    guard reader.fieldCount == header.count else {
                        throw HeadcountError(.usage, "\(reader.fieldCount) fields, the header has \(header.count)",
                                             file: path, line: reader.line)
                    }
                    try row(reader.line, index.map { Array(reader.field($0)) })
                }
            }
        } catch {
            throw located(error)
        }
    }
}
