import Foundation

/// What happened to one input file: the per-file accounting of `summary.json`.
public final class InputStats {
    public enum Role: String, Sendable { case contacts, memberships }

    public let role: Role
    public let path: String
    public var format: ByteStream.Format = .plain
    public var inflater: String?
    public var storedBytes = 0
    public var uncompressedBytes = 0
    public var gzipMembers = 0
    public var delimiter: UInt8 = 0x2C
    public var columns: [ColumnMap.Role: String] = [:]
    public var rowsRead = 0
    public var rowsCounted = 0
    public var rowsFiltered = 0
    public var blankLines = 0
    public var rejected: [RejectReason: Int] = [:]
    public var fingerprint = ""

    public init(role: Role, path: String) {
        self.role = role
        self.path = path
    }

    public var rowsRejected: Int { rejected.values.reduce(0, +) }

    /// The row the run history keeps for this file.
    public var record: InputRecord {
        let rejectedJSON = JSON.object(RejectReason.allCases.sorted().map { ($0.rawValue, .int(rejected[$0] ?? 0)) })
        return InputRecord(role: role.rawValue, path: path, format: format.rawValue, bytes: storedBytes,
                           uncompressedBytes: uncompressedBytes, rowsRead: rowsRead, rowsCounted: rowsCounted,
                           rowsRejected: rowsRejected, rowsFiltered: rowsFiltered,
                           rejectedJSON: rejectedJSON.compact(),
                           fingerprint: fingerprint)
    }

    /// rows_read = rows_counted + rows_rejected + rows_filtered, the promise `summary.json` makes.
    public var balances: Bool { rowsRead == rowsCounted + rowsRejected + rowsFiltered }
}

/// Writes rejected rows to `rejects.csv` (staged) as they are found, and counts them.
public final class RejectLog {
    private let sink: FileSink
    public private(set) var total = 0
    public private(set) var byReason: [RejectReason: Int] = [:]
    /// Rejected rows that could not be attributed to a team (malformed rows).
    public private(set) var withoutTeam = 0
    /// The first few rejects: for the HTML report and the `--max-rejects` message.
    public private(set) var examples: [RejectExample] = []
    static let exampleCount = 10
    private let limit: Int?
    private var row: [UInt8] = []

    /// Raw rows are cut to this many bytes in `rejects.csv` (SPEC §3.4).
    public static let rawLimit = 1024

    init(sink: FileSink, limit: Int?) throws {
        self.sink = sink
        self.limit = limit
        try sink.write(Array("file,line,reason,raw\n".utf8))
    }

    /// Records one rejected row.
    /// - Throws: `.data` when the rejects exceed `--max-rejects`.
    func add(file: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer, hasTeam: Bool) throws {
        total += 1
        byReason[reason, default: 0] += 1
        if !hasTeam { withoutTeam += 1 }
        if examples.count < Self.exampleCount { examples.append(RejectExample(file: file, line: line, reason: reason)) }
        var cut = min(raw.count, Self.rawLimit)
        if cut < raw.count {
            while cut > 0 && raw[cut] & 0xC0 == 0x80 { cut -= 1 }   // not inside a UTF-8 sequence
        }
        row.removeAll(keepingCapacity: true)
        CSVWriter.appendField(file.utf8, to: &row)
        row.append(0x2C)
        row.append(contentsOf: String(line).utf8)
        row.append(0x2C)
        row.append(contentsOf: reason.rawValue.utf8)
        row.append(0x2C)
        CSVWriter.appendField(UnsafeRawBufferPointer(rebasing: raw[0..<cut]), to: &row)
        row.append(0x0A)
        try sink.write(row)
        if let limit, total > limit {
            let f = examples[0]
            throw HeadcountError(.data, "more than \(limit) rows rejected (--max-rejects \(limit)); the first: "
                                 + "\(f.file) line \(f.line) (\(f.reason.rawValue))")
        }
    }

    func close() throws { try sink.close() }
}
