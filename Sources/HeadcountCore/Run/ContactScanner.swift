import Foundation

/// What a file's scanner hands on: a batch of rows, then the end of the file.
enum ScanItem {
    case batch(lane: Int, RowBatch)
    /// The file of `lane` was read to its end, or failed.
    case end(lane: Int, Error?)
}

/// Where the scanners of the files being read hand their batches to the counting thread:
/// one queue, so that the counting thread takes whichever file's batch is ready. Batches
/// of one file arrive in order, followed by its `end`.
typealias ScanQueue = BlockingQueue<ScanItem>

/// Scans one file on its own thread: CSV fields, validation, the `--as-of`
/// filter, the email key and its 128-bit hash, a batch of rows at a time. The
/// counting thread then only interns ids and counts, so the two halves of the
/// per-row work run on two cores (and inflating on a third thread).
///
/// Everything here is a pure function of the row's bytes: the team's hash is
/// computed from its bytes (`ByteInterner.stableHash`), not from the team table.
final class ContactScanner {
    struct Columns {
        var width: Int
        var email: Int
        var team: Int?
        var audience: Int?
        var unsubscribed: Int?
        var contactID: Int?
        var created: Int?
        var asOf: Int64?
        var fixedTeamHash: UInt64
        /// A memberships file: rows are (contact id, audience[, team]); the join happens on
        /// the counting thread, so every row keeps its raw text for a possible reject.
        var memberships = false
    }

    /// In a membership row's `flags`: the audience id is not valid UTF-8.
    static let invalidAudience: UInt32 = 1

    /// Batches in flight per file: 32 (65,536 rows, about 9 MB) absorb a scheduler time slice
    /// when three threads share two cores; with 4, the stage that kept running soon found
    /// the next one's queue full or empty and a core sat idle (M: 7% slower). A file read
    /// alone gets up to four times as many (`OpenedInput.depthFactor`).
    static let depth = 32

    private let condition = NSCondition()
    private var empty: [RowBatch]
    private var cancelled = false
    /// Once it has had to wait for an empty batch, the scanning thread sleeps until this many
    /// are back (half its batches, at most four), and then fills them in one stretch.
    private let refillAfter: Int
    private var waitingForEmpty = false

    /// Starts scanning `input`; its batches and its end go to `deliver` under `lane`.
    /// - Throws: `.environment` when the system will not start the scanning thread.
    init(input: OpenedInput, columns: Columns, lane: Int, depth: Int = ContactScanner.depth,
         deliver: @escaping (ScanItem) -> Void) throws {
        empty = (0..<depth).map { _ in RowBatch() }
        refillAfter = Self.wakeAfter(depth: depth)
        try OpenedInput.located(input.path) {
            try Workers.start("scanning", name: "hc-scan") { [self] in self.scan(input, columns, lane, deliver) }
        }
    }

    deinit { cancel() }

    /// Tells the scanning thread to stop after its current batch. Does not wait: on a pipe
    /// that never ends, waiting would hang a run that has already failed.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// Hands a consumed batch back for reuse.
    func recycle(_ batch: RowBatch) {
        batch.reset()
        condition.lock()
        empty.append(batch)
        let wake = waitingForEmpty && empty.count >= refillAfter
        if wake { waitingForEmpty = false }
        condition.unlock()
        // After unlocking, as `BlockingQueue.post` does.
        if wake { condition.broadcast() }
    }

    /// How many batches a waiting thread of the pipeline sleeps for, at most (see
    /// `BlockingQueue`): enough to halve its wake-ups several times over, few enough that the
    /// thread it waits on never runs dry meanwhile.
    static let wakeAfter = 4

    /// `wakeAfter` for a pipeline whose scanners have `depth` batches: at most half of them,
    /// so that the other side can always post that many while this one sleeps.
    static func wakeAfter(depth: Int) -> Int { max(1, min(wakeAfter, depth / 2)) }

    private func scan(_ input: OpenedInput, _ c: Columns, _ lane: Int, _ deliver: (ScanItem) -> Void) {
        let reader = input.reader
        let normalizer = EmailNormalizer()
        func takeEmpty() -> RowBatch? {
            condition.lock()
            defer { condition.unlock() }
            if empty.isEmpty && !cancelled {
                waitingForEmpty = true
                while empty.count < refillAfter && !cancelled { condition.wait() }
                waitingForEmpty = false
            }
            // The batch given back longest ago, as `PrefetchingReader` reuses its chunks: the
            // counting thread's core may still hold the lines of the one it gave back last.
            return cancelled ? nil : empty.removeFirst()
        }
        var failed: Error?
        while let b = takeEmpty() {
            let more: Bool
            do {
                more = try OpenedInput.located(input.path) { try fill(b, reader, c, normalizer) }
            } catch {
                (failed, more) = (error, false)
            }
            if b.count > 0 || more {
                b.position = input.bytesConsumed
                deliver(.batch(lane: lane, b))
            }
            if !more {
                deliver(.end(lane: lane, failed))
                return
            }
        }
        // Cancelled: the counting thread has stopped listening.
    }

    /// Scans rows into `b` until it is full (true) or the file ends (false).
    private func fill(_ b: RowBatch, _ reader: CSVReader, _ c: Columns, _ normalizer: EmailNormalizer) throws -> Bool {
        while b.count < RowBatch.capacity {
            let outcome = try reader.next()
            if outcome == .end { return false }
            var row = ScannedRow(key: Key128(low: 0, high: 0), teamHash: c.fixedTeamHash, audienceHash: 0,
                                 line: reader.line, teamOffset: 0, teamLength: ScannedRow.fixedTeam,
                                 audienceOffset: 0, audienceLength: ScannedRow.none,
                                 flags: RecordFlags.subscribed.rawValue, outcome: .counted, reason: .malformedRow,
                                 hasTeam: true)
            var contact = Key128(low: 0, high: 0)
            if c.memberships {
                scanMembership(outcome, reader, c, b, &row, &contact)
            } else {
                scanRow(outcome, reader, c, normalizer, b, &row, &contact)
            }
            if c.contactID != nil { b.contacts[b.count] = contact }
            if row.outcome == .rejected || c.memberships {
                let raw = reader.rawRecord()
                b.raws[b.count] = (b.keep(raw), UInt32(raw.count))
            }
            b.rows[b.count] = row
            b.count += 1
        }
        return true
    }

    /// Field `index` of a malformed row's raw text (its first line, cut at 1 KiB), when it and
    /// every field before it are whole: unquoted, or quoted with a closing quote right before a
    /// delimiter (a field with doubled quotes is not read). nil otherwise, and for a field that
    /// runs to the end of a raw text that was cut or holds only that one field.
    /// - Complexity: O(raw bytes); only for rows already rejected as malformed.
    static func readableField(_ index: Int, of raw: UnsafeRawBufferPointer, delimiter: UInt8)
        -> UnsafeRawBufferPointer?
    {
        let quote: UInt8 = 0x22
        var start = 0
        for k in 0...index {
            guard start <= raw.count else { return nil }
            var end: Int
            var field: Range<Int>
            if start < raw.count && raw[start] == quote {
                guard let close = raw[(start + 1)...].firstIndex(of: quote) else { return nil }
                end = close + 1
                field = (start + 1)..<close
                guard end == raw.count || raw[end] == delimiter else { return nil }   // text after it, or ""
            } else {
                end = raw[start...].firstIndex(of: delimiter) ?? raw.count
                field = start..<end
                if raw[field].contains(quote) { return nil }
            }
            if k == index {
                // Whole only when a delimiter ends it, or the text ends uncut with more than one field.
                guard end < raw.count || (raw.count < RejectLog.rawLimit && index > 0) else { return nil }
                return UnsafeRawBufferPointer(rebasing: raw[field])
            }
            start = end + 1
        }
        return nil
    }

    /// A membership row: the contact id's key, the team and audience bytes; the counting
    /// thread joins it to the contacts and decides.
    @inline(__always)
    private func scanMembership(_ outcome: CSVReader.Outcome, _ reader: CSVReader, _ c: Columns, _ b: RowBatch,
                                _ row: inout ScannedRow, _ contact: inout Key128) {
        guard outcome == .record, reader.fieldCount == c.width else {
            row.outcome = .rejected
            row.reason = .malformedRow
            return
        }
        row.flags = 0
        contact = ContactIndex.key(of: reader.field(c.contactID!))
        if let teamCol = c.team {
            let t = reader.field(teamCol)
            row.teamOffset = b.keep(t)
            row.teamLength = UInt32(t.count)
            row.teamHash = ByteInterner.stableHash(t, seed: ReportJob.teamSeed)
        }
        let a = reader.field(c.audience!)
        if !ReportJob.isValidUTF8(a) { row.flags = Self.invalidAudience }
        row.audienceOffset = b.keep(a)
        row.audienceLength = UInt32(a.count)
    }

    @inline(__always)
    private func scanRow(_ outcome: CSVReader.Outcome, _ reader: CSVReader, _ c: Columns, _ normalizer: EmailNormalizer,
                         _ b: RowBatch, _ row: inout ScannedRow, _ contact: inout Key128) {
        func reject(_ reason: RejectReason) {
            row.outcome = .rejected
            row.reason = reason
        }
        /// Keeps the row's team id and its hash; returns the hash.
        func keep(team t: UnsafeRawBufferPointer) -> UInt64 {
            row.teamOffset = b.keep(t)
            row.teamLength = UInt32(t.count)
            row.teamHash = ByteInterner.stableHash(t, seed: ReportJob.teamSeed)
            return row.teamHash
        }
        // A malformed row is still its team's rejected row when its team can be read, as the
        // SPEC's teams.csv asks; only one with no readable team is counted in summary.json alone.
        // A row split into the wrong number of fields has a readable team when it holds the team
        // column, unless it is a single field (a stray line, not a row of this table, whose one
        // value may be anything); a row that could not be split (a broken quote, a row over the
        // limit) when every field up to the team column is whole in its first line
        // (`readableField`). In a file with no team column every row is in the fixed team.
        guard outcome == .record else {
            if let teamCol = c.team {
                guard let t = Self.readableField(teamCol, of: reader.rawRecord(), delimiter: reader.delimiter),
                      ReportJob.isValidUTF8(t)
                else {
                    row.hasTeam = false
                    return reject(.malformedRow)
                }
                _ = keep(team: t)
            }
            return reject(.malformedRow)
        }
        let wellFormed = reader.fieldCount == c.width
        var teamHash = c.fixedTeamHash
        if let teamCol = c.team {
            guard wellFormed || (reader.fieldCount > 1 && reader.hasField(teamCol)) else {
                row.hasTeam = false
                return reject(.malformedRow)
            }
            let t = reader.field(teamCol)
            guard ReportJob.isValidUTF8(t) else {
                row.hasTeam = false
                return reject(wellFormed ? .invalidUTF8 : .malformedRow)
            }
            teamHash = keep(team: t)
        }
        guard wellFormed else { return reject(.malformedRow) }
        if let asOf = c.asOf {
            guard let created = InstantParser.parse(reader.field(c.created!)) else { return reject(.invalidValue) }
            if created > asOf {
                row.outcome = .filtered
                if let col = c.contactID {
                    let id = reader.field(col)
                    if id.count > 0 { contact = ContactIndex.key(of: id) }
                }
                return
            }
        }
        if let col = c.unsubscribed {
            guard let unsubscribed = ReportJob.parseBool(reader.field(col)) else { return reject(.invalidValue) }
            if unsubscribed { row.flags = RecordFlags.unsubscribed.rawValue }
        }
        if let col = c.audience {
            let a = reader.field(col)
            if a.count > 0 {
                guard ReportJob.isValidUTF8(a) else { return reject(.invalidUTF8) }
                row.audienceOffset = b.keep(a)
                row.audienceLength = UInt32(a.count)
                row.audienceHash = ByteInterner.hash(a, ownerHash: teamHash, seed: ReportJob.audienceSeed)
            }
        }
        switch normalizer.normalize(reader.field(c.email)) {
        case .invalid(let reason):
            return reject(reason)
        case .valid(let email):
            row.key = ByteHash.hash128(email, seed: teamHash)
        }
        if let col = c.contactID {
            let id = reader.field(col)
            if id.count > 0 { contact = ContactIndex.key(of: id) }
        }
    }
}
