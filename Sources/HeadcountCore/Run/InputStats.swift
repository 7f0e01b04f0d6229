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

/// Writes rejected rows to `rejects.csv` (staged) and counts them.
///
/// Every input file is a lane, numbered in the order its rows appear in `rejects.csv`
/// (contacts files by path, then memberships files). Files may be read at the same time,
/// so the rows of the lowest lane not yet finished are written straight through, and the
/// others wait in a temporary file each until the lanes before them finish: the file is
/// the same whatever order the reading threads run in.
public final class RejectLog {
    private let sink: FileSink
    public private(set) var total = 0
    public private(set) var byReason: [RejectReason: Int] = [:]
    /// Rejected rows that could not be attributed to a team (malformed rows).
    public private(set) var withoutTeam = 0
    static let exampleCount = 10
    private let limit: Int?
    private var row: [UInt8] = []
    private let temporaryDirectory: String

    private final class Lane {
        /// The first rejects of this file, for the HTML report and the `--max-rejects` message.
        var examples: [RejectExample] = []
        var held: FileSink?
        var heldPath: String?
        var finished = false
    }

    private let lanes: [Lane]
    /// Lanes below this one are finished and written out.
    private var firstOpen = 0

    /// Raw rows are cut to this many bytes in `rejects.csv` (SPEC §3.4).
    public static let rawLimit = 1024

    init(sink: FileSink, limit: Int?, lanes: Int = 1, temporaryDirectory: String = NSTemporaryDirectory()) throws {
        self.sink = sink
        self.limit = limit
        self.temporaryDirectory = temporaryDirectory
        self.lanes = (0..<max(1, lanes)).map { _ in Lane() }
        try sink.write(Array("file,line,reason,raw\n".utf8))
    }

    deinit {
        for lane in lanes { if let path = lane.heldPath { unlink(path); TemporaryFiles.unregister(path) } }
    }

    /// The first rejects, in the order of `rejects.csv`.
    public var examples: [RejectExample] { Array(lanes.lazy.flatMap { $0.examples }.prefix(Self.exampleCount)) }

    /// Records one rejected row of the file of `lane`.
    /// - Throws: `.data` when the rejects exceed `--max-rejects`.
    func add(lane index: Int = 0, file: String, line: Int, reason: RejectReason, raw: UnsafeRawBufferPointer,
             hasTeam: Bool) throws {
        total += 1
        byReason[reason, default: 0] += 1
        if !hasTeam { withoutTeam += 1 }
        let lane = lanes[index]
        if lane.examples.count < Self.exampleCount {
            lane.examples.append(RejectExample(file: file, line: line, reason: reason))
        }
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
        if index == firstOpen {
            try sink.write(row)
        } else {
            try held(lane, index).write(row)
        }
        if let limit, total > limit {
            let f = examples[0]
            throw HeadcountError(.data, "more than \(limit) rows rejected (--max-rejects \(limit)); the first: "
                                 + "\(f.file) line \(f.line) (\(f.reason.rawValue))")
        }
    }

    private func held(_ lane: Lane, _ index: Int) throws -> FileSink {
        if let held = lane.held { return held }
        let path = (temporaryDirectory as NSString).appendingPathComponent(
            "headcount-rejects-\(getpid())-\(index)-\(UInt32.random(in: 0...UInt32.max)).csv")
        TemporaryFiles.register(path)
        let held = try FileSink(path: path, reportedAs: path, durable: false)
        lane.held = held
        lane.heldPath = path
        return held
    }

    /// The file of `lane` was read to its end: writes out the lanes that were waiting for it.
    func finish(lane index: Int) throws {
        lanes[index].finished = true
        while firstOpen < lanes.count && lanes[firstOpen].finished {
            firstOpen += 1
            if firstOpen < lanes.count { try release(lanes[firstOpen]) }
        }
    }

    /// Copies what a lane held into `rejects.csv`; its later rows go straight there.
    private func release(_ lane: Lane) throws {
        guard let held = lane.held, let path = lane.heldPath else { return }
        try held.flush()
        let file = try InputFile(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try file.read(into: buffer)
            if n == 0 { break }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        lane.held = nil
        lane.heldPath = nil
        unlink(path)
        TemporaryFiles.unregister(path)
    }

    func close() throws { try sink.close() }
}
