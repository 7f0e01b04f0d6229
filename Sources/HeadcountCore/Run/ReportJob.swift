import Foundation

/// What a finished `report` run produced.
public struct ReportOutcome: Sendable {
    public var data: ReportData
    public var outputDirectory: String
    /// The file names written into `outputDirectory`.
    public var files: [String]
}

/// One `headcount report` run: reads the dumps, counts, writes the reports.
///
/// Stages: every input is opened and its header checked (a missing file or
/// column fails before any work); contact files are streamed (inflate on
/// its own thread, CSV scan, email key, count); membership files are
/// joined to the contacts by contact id; the counter's results become
/// `ReportData`; the report files are staged and renamed into place together.
public final class ReportJob {
    public let configuration: ReportConfiguration
    public private(set) var runID: String
    public let startedAt: Date

    /// Seeds of the id tables; fixed, so that keys (and partitions) are the same on every run.
    static let teamSeed: UInt64 = 0x7465_616d_5f69_6473
    static let audienceSeed: UInt64 = 0x6175_6469_656e_6365

    private let teams = ByteInterner(seed: teamSeed)
    private let audiences = ByteInterner(seed: audienceSeed)
    private let teamContactRows = Counts()
    private let teamRejectedRows = Counts()
    /// The concrete type, not `ContactCounter`: a call through the protocol is not inlined,
    /// and the per-row insert through it cost 5-8% of a run.
    private let counter: PartitionedCounter
    /// The contact index and its thread, when memberships are joined.
    private var indexStage: IndexStage?
    /// Whether the memberships were joined on disk (`JoinSpill`), for the tests.
    private(set) var joinedOnDisk = false
    /// The threads that joined it (fewer than `--threads` under a small memory limit), for the tests.
    private(set) var joinThreads = 0
    private var billing = BillingReport(quotas: nil, tiers: nil)
    /// Stored bytes of all contact files (0 when unknown: a pipe), and of those already read.
    private var contactBytes = 0
    /// Stored bytes of the files read to their end, and of the files being read.
    private var bytesDone = 0
    private var bytesInFlight = 0
    private var allBytes = 0
    private var rowsDone = 0

    /// Tells the counter, the contact index and the progress line how far the run is; once a batch.
    private func noteProgress(contacts: Bool) {
        let done = bytesDone + bytesInFlight
        if contactBytes > 0 && contacts {
            counter.noteProgress(Double(done) / Double(contactBytes))
            counter.noteMemoryElsewhere(teams.bytes + audiences.bytes + (indexStage?.bytes ?? 0))
        }
        configuration.progress?(ProgressSnapshot(bytesRead: done, totalBytes: allBytes, rows: rowsDone))
    }

    /// Tells the progress line how far the work after reading is.
    private func noteStep(_ name: String, _ done: Int, of total: Int) {
        configuration.progress?(ProgressSnapshot(bytesRead: allBytes, totalBytes: allBytes, rows: rowsDone,
                                                 step: ProgressStep(name: name, done: done, total: total)))
    }

    public init(configuration: ReportConfiguration, counter: PartitionedCounter? = nil) {
        self.configuration = configuration
        self.counter = counter ?? PartitionedCounter(memoryLimit: configuration.memoryLimit,
                                                     temporaryDirectory: configuration.temporaryDirectory,
                                                     threads: configuration.threads)
        let now = configuration.fixedEpoch.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date()
        startedAt = now
        let stamp = Timestamp.compact(now)
        runID = configuration.fixedEpoch != nil ? stamp : stamp + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }

    /// Runs the report.
    /// - Throws: `HeadcountError`; nothing is written to the output folder when it throws.
    public func run() throws -> ReportOutcome {
        let config = configuration
        try config.validate()
        if config.formats.contains(.html) {
            // Not waited for: `render` waits on the template's own one-time initialisation.
            _ = BackgroundWork(name: "hc-template", limited: false) { HTMLReport.compileReportTemplate() }
        }
        let history = try config.historyPath.map { try HistoryStore(path: $0) }
        if let history {
            runID = try history.begin(id: runID, label: config.label, startedAt: Timestamp.iso8601(startedAt),
                              rulesJSON: JSON.object(rules).compact(), optionsJSON: JSON.object(options).compact(),
                              asOf: asOfText, inputs: config.contacts + config.memberships)
            ActiveRun.register(database: config.historyPath!, runID: runID)
        }
        defer { ActiveRun.clear() }
        defer { indexStage?.stop() }
        do {
            return try count(history: history)
        } catch {
            let finished = Timestamp.iso8601(config.fixedEpoch.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date())
            try? history?.fail(id: runID, error: "\(error)", finishedAt: finished)
            throw error
        }
    }

    private func count(history: HistoryStore?) throws -> ReportOutcome {
        let config = configuration
        billing = BillingReport(quotas: try config.quotasPath.map { try BillingInputs.quotas(path: $0) },
                                tiers: try config.tiersPath.map { try BillingInputs.tiers(path: $0) })
        let contacts = try config.contacts.sortedByPath().map { try OpenedInput(role: .contacts, path: $0, config) }
        let memberships = try config.memberships.sortedByPath().map {
            try OpenedInput(role: .memberships, path: $0, config)
        }
        for input in contacts where input.columns.index[.email] == nil {
            throw missingColumn(.email, in: input)
        }
        if config.asOf != nil {
            for input in contacts where input.columns.index[.created] == nil {
                throw missingColumn(.created, in: input, why: " (needed by --as-of)")
            }
        }
        if !memberships.isEmpty {
            indexStage = try IndexStage(index: ContactIndex(), teams: teams, audienceSeed: Self.audienceSeed,
                                        budget: config.memoryLimit / Self.indexShare,
                                        temporaryDirectory: config.temporaryDirectory)
            for input in contacts where input.columns.index[.contactID] == nil {
                throw missingColumn(.contactID, in: input, why: " (needed to join --memberships)")
            }
            for input in memberships {
                if input.columns.index[.contactID] == nil { throw missingColumn(.contactID, in: input) }
                if input.columns.index[.audience] == nil { throw missingColumn(.audience, in: input) }
            }
        }

        let out = try OutputFolder(path: config.outputDirectory ?? "Reports/\(runID)")
        do {
            let rejects = try RejectLog(sink: out.open("rejects.csv"), limit: config.maxRejects,
                                        lanes: contacts.count + memberships.count,
                                        temporaryDirectory: config.temporaryDirectory)
            contactBytes = contacts.map { $0.size ?? 0 }.reduce(0, +)
            allBytes = contactBytes + memberships.map { $0.size ?? 0 }.reduce(0, +)
            // Every contact must be known before a membership is joined. In the global layout a
            // contacts file has a row per contact, so nearly every row is a new one; a membership
            // adds an audience to a contact already counted.
            counter.recordsAreMostlyNew = !memberships.isEmpty
            try read(contacts, firstLane: 0, rejects: rejects)
            counter.recordsAreMostlyNew = false
            try read(memberships, firstLane: contacts.count, rejects: rejects)
            if let spill = try indexStage?.takeSpill() {
                joinedOnDisk = true
                try join(spill, memberships, firstLane: contacts.count, rejects: rejects)
            }

            let all = contacts + memberships
            for input in all where !input.stats.balances {
                throw HeadcountError(.data, "internal accounting error: rows read \(input.stats.rowsRead) ≠ "
                                     + "counted + rejected + filtered; no report written", file: input.path)
            }
            let audienceTeam = (0..<audiences.count).map { audiences.owner(of: $0) }
            if counter.isSpilling {
                counter.onMerged = { [self] done, total in noteStep("merging spilled partitions", done, of: total) }
            }
            // Synced to the disk while the partitions are tallied, which keep the cores busy (a
            // thread that only makes the run sooner: not one `HEADCOUNT_MAX_THREADS` counts).
            let closingRejects = BackgroundWork(name: "hc-rejects", limited: false) { try rejects.close() }
            let counted = Result { try counter.finish(teams: teams.count, audienceTeam: audienceTeam,
                                                      policy: config.unsubscribedPolicy) }
            if let error = closingRejects.wait() { throw error }
            let result = try counted.get()
            let data = makeReportData(result, audienceTeam: audienceTeam, inputs: all.map(\.stats), rejects: rejects)
            // The history records the results while the report files are rendered: neither
            // needs the other, and the history's 150,000 rows of a large run take as long.
            var recording: BackgroundWork?
            if let history {
                let records = all.map(\.stats.record)
                // The rejects file is complete (closed above) under its temporary name.
                let rejectsPath = rejects.total > 0 ? out.temporaryPath(for: "rejects.csv") : nil
                let rejectRows = rejects.total
                // Read and compressed on a thread of its own while the results are written, and
                // written last (M: 12-20 ms that the history, the longest step of a run's end, waited).
                let kept = KeptRejectsReading(path: rejectsPath, rows: rejectRows)
                recording = BackgroundWork(name: "hc-history") {
                    try history.complete(data, inputs: records,
                                         summaryJSON: String(decoding: ReportRenderer.summaryJSON(data), as: UTF8.self),
                                         keepingRejects: kept.get)
                }
            }
            let files: [String]
            do {
                files = try ReportRenderer.stage(data, formats: config.formats, in: out, keepRejects: rejects.total > 0)
            } catch {
                if recording?.wait() == nil {
                    try? history?.fail(id: runID, error: "\(error)", finishedAt: data.finishedAt, evenIfComplete: true)
                }
                throw error
            }
            if let error = recording?.wait() { throw error }
            do {
                try out.commit()
            } catch {
                try? history?.fail(id: runID, error: "\(error)", finishedAt: data.finishedAt, evenIfComplete: true)
                throw error
            }
            return ReportOutcome(data: data, outputDirectory: out.path, files: files)
        } catch {
            out.discard()
            throw error
        }
    }

    private func missingColumn(_ role: ColumnMap.Role, in input: OpenedInput, why: String = "") -> HeadcountError {
        let looked = ColumnMap.describe(role, overrides: configuration.columnOverrides)
        return HeadcountError(.usage, "no \(role.rawValue) column\(why): looked for \(looked); "
                                  + ColumnMap.describeHeader(input.header),
                              file: input.path, line: 1)
    }

    // MARK: - Ids

    @inline(__always)
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        isASCII(bytes) || String(validating: bytes, as: UTF8.self) != nil
    }

    /// Whether every byte is below 0x80, looked at eight bytes at a time: a byte loop's exit, at
    /// a different length every row, was mispredicted often enough to cost the scanner 1.4% of
    /// a run on M (ids are 5 to 10 bytes).
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let p = bytes.baseAddress else { return true }
        let n = bytes.count
        var seen: UInt64 = 0
        var i = 0
        while i + 8 <= n {
            seen |= ByteHash.read64(p, i)
            i += 8
        }
        if i < n { seen |= ByteHash.readTail(p, i, n - i) }
        return seen & 0x8080_8080_8080_8080 == 0
    }

    /// true/false, t/f, 1/0, yes/no in any case, blanks around; empty is false. nil: not a boolean.
    /// The word is compared together with its length, so that NUL bytes cannot pass for the
    /// leading zeros of a shorter word ("\0t" is not "t", and "\0" is not empty).
    @inline(__always)
    static func parseBool(_ field: UnsafeRawBufferPointer) -> Bool? {
        // The dumps' own spellings first, as whole words: one load and one compare.
        if field.count == 5 && field.loadUnaligned(as: UInt32.self) == 0x736c_6166 && field[4] == 0x65 { return false }
        if field.count == 4 && field.loadUnaligned(as: UInt32.self) == 0x6575_7274 { return true }
        var s = 0, e = field.count
        while s < e && (field[s] == 0x20 || field[s] == 0x09) { s += 1 }
        while e > s && (field[e - 1] == 0x20 || field[e - 1] == 0x09) { e -= 1 }
        if e - s > 5 { return nil }
        var word: UInt64 = 0
        for i in s..<e {
            let c = field[i]
            word = word << 8 | UInt64((c &- 0x41) < 26 ? c | 0x20 : c)
        }
        switch (e - s, word) {
        case (0, _): return false
        case (4, 0x74_7275_65), (1, 0x74), (1, 0x31), (3, 0x79_6573): return true       // true t 1 yes
        case (5, 0x66_616c_7365), (1, 0x66), (1, 0x30), (2, 0x6e_6f): return false      // false f 0 no
        default: return nil
        }
    }

    // MARK: - Reading

    /// Reads `inputs` (all contacts files, or all memberships files), up to `--threads` files at
    /// once, each with its own inflating and scanning threads; this thread counts whichever
    /// file's batch is ready. The counts are sums and the id tables are sorted before output,
    /// so the results do not depend on which file is read first; rejects keep the file order
    /// through `RejectLog`'s lanes.
    private func read(_ inputs: [OpenedInput], firstLane: Int, rejects: RejectLog) throws {
        guard !inputs.isEmpty else { return }
        // Woken for a few batches at a time, or for a file's end (after which its scanner posts
        // nothing more); every scanner can post that many on its own.
        let queue = ScanQueue(wakeAfter: ContactScanner.wakeAfter(depth: inputs.map(\.batchesAhead).min()!)) {
            if case .end = $0 { return true }
            return false
        }
        var scanners = [ContactScanner?](repeating: nil, count: inputs.count)
        var fixedTeams = [Int?](repeating: nil, count: inputs.count)
        var positions = [Int](repeating: 0, count: inputs.count)
        defer { for scanner in scanners { scanner?.cancel() } }
        var started = 0, open = 0
        func start() throws {
            let i = started
            try inputs[i].startReading()
            let columns: ContactScanner.Columns
            if inputs[i].stats.role == .contacts {
                (columns, fixedTeams[i]) = contactColumns(inputs[i])
            } else {
                columns = membershipColumns(inputs[i])
            }
            if let indexStage, inputs[i].stats.role == .memberships {
                // Joined on the index thread on their way here.
                scanners[i] = try ContactScanner(input: inputs[i], columns: columns, lane: i,
                                                 depth: inputs[i].batchesAhead) {
                    indexStage.post(.join($0, to: queue))
                }
            } else {
                // A scanner about to wait for its next chunk has posted all it will for a while:
                // the counting thread takes those batches now instead of sleeping until there
                // are `wakeAfter` of them or its patience (2 ms) runs out, a core idle meanwhile
                // (M: wall time minus half the CPU 0.083 -> 0.065 s, medians of sixteen
                // alternating rounds).
                inputs[i].whenReadingWaits { [queue] in queue.hurry() }
                scanners[i] = try ContactScanner(input: inputs[i], columns: columns, lane: i,
                                                 depth: inputs[i].batchesAhead, deliver: queue.post)
            }
            started += 1
            open += 1
        }
        while started < min(inputs.count, configuration.threads) { try start() }
        while open > 0 {
            switch queue.take() {
            case .batch(let i, let batch):
                let input = inputs[i]
                if input.stats.role == .contacts {
                    try countContacts(batch, input, fixedTeam: fixedTeams[i], lane: firstLane + i, rejects: rejects)
                } else {
                    try countMemberships(batch, input, lane: firstLane + i, rejects: rejects)
                }
                bytesInFlight += batch.position - positions[i]
                positions[i] = batch.position
                rowsDone += batch.count
                noteProgress(contacts: input.stats.role == .contacts)
                if let indexStage, input.stats.role == .contacts {
                    // The index thread adds the batch's contact ids, then recycles it.
                    batch.progress = contactBytes > 0 ? Double(bytesDone + bytesInFlight) / Double(contactBytes) : 0
                    indexStage.post(.add(batch, scanners[i]!))
                } else {
                    scanners[i]!.recycle(batch)
                }
            case .end(let i, let error):
                if let error { throw error }
                inputs[i].finish()
                bytesInFlight -= positions[i]
                bytesDone += inputs[i].stats.storedBytes
                scanners[i] = nil
                open -= 1
                // A join on disk decides this file's rows, and so its rejects, after every file.
                if inputs[i].stats.role == .contacts || indexStage?.isSpilling != true {
                    try rejects.finish(lane: firstLane + i)
                }
                if started < inputs.count { try start() }
            }
        }
    }

    // MARK: - Contacts

    /// The columns the scanner reads from a contacts file, and the team of its rows when the
    /// file has no team column.
    private func contactColumns(_ input: OpenedInput) -> (ContactScanner.Columns, Int?) {
        let cols = input.columns
        let defaultTeam = Array(configuration.defaultTeam.utf8)
        let fixedTeam: Int? = cols.index[.team] == nil
            ? defaultTeam.withUnsafeBytes { teams.lookup($0) ?? internNewTeam($0) }
            : nil
        let columns = ContactScanner.Columns(
            width: cols.header.count, email: cols.index[.email]!, team: cols.index[.team],
            audience: cols.index[.audience], unsubscribed: cols.index[.unsubscribed],
            contactID: indexStage == nil ? nil : cols.index[.contactID], created: cols.index[.created],
            asOf: configuration.asOf,
            fixedTeamHash: defaultTeam.withUnsafeBytes { ByteInterner.stableHash($0, seed: Self.teamSeed) })
        return (columns, fixedTeam)
    }

    /// Counts one batch of contact rows.
    private func countContacts(_ batch: RowBatch, _ input: OpenedInput, fixedTeam: Int?, lane: Int,
                               rejects: RejectLog) throws {
        let stats = input.stats
        let path = input.path
        // Only the contact index reads a row's team index; written otherwise, the row's cache
        // line would go back and forth between this core and the scanner's for nothing.
        let keepTeamIndex = indexStage != nil
        var counted = 0
        stats.rowsRead += batch.count
        defer { stats.rowsCounted += counted }
        let rows = batch.rows, count = batch.count
        let teamOf = teamScratch, audienceOf = audienceScratch
        // Three passes over the batch: its teams, its audiences, then the counting. Each pass's
        // loop is short, so more of its table misses are in flight at once (M: the counting
        // thread 1.42-1.49 s of CPU in one pass, 1.29-1.37 s in two, and a further 0.07 s less
        // in three; perf, alternating).
        internTeams(batch, fixedTeam: fixedTeam, keepTeamIndex: keepTeamIndex)
        internAudiences(batch)
        for i in 0..<count {
            let row = rows[i]
            let team = Int(teamOf[i])
            switch row.outcome {
            case .rejected:
                if team >= 0 { teamRejectedRows[team] += 1 }
                stats.rejected[row.reason, default: 0] += 1
                try rejects.add(lane: lane, file: path, line: row.line, reason: row.reason,
                                raw: batch.raw(i), hasTeam: team >= 0)
            case .filtered:
                stats.rowsFiltered += 1
            case .counted:
                counter.insert(row.key, team: UInt32(team), audience: audienceOf[i], flags: RecordFlags(rawValue: row.flags))
                counted += 1
            }
        }
    }

    /// The first pass of `countContacts`: each row's team index into `teamScratch` (-1: none).
    /// A function of its own, as is the second pass: inside `countContacts`, too large a
    /// function for the compiler to inline the id tables' lookups into, each lookup was a call.
    private func internTeams(_ batch: RowBatch, fixedTeam: Int?, keepTeamIndex: Bool) {
        let rows = batch.rows, count = batch.count
        let teamOf = teamScratch
        let teams = self.teams, audiences = self.audiences
        for i in 0..<min(Self.prefetchAhead, count) { teams.prefetch(rows[i].teamHash) }
        for i in 0..<count {
            if i + Self.prefetchAhead < count {
                teams.prefetch(rows[i + Self.prefetchAhead].teamHash)
                // The audience's slot too (its hash is the scanner's): the misses of both passes
                // overlap here, and the second pass finds its slots in cache (M: the counting
                // thread 1.09 -> 1.05 s of CPU, medians of seven alternating `perf` runs).
                audiences.prefetch(rows[i + Self.prefetchAhead].audienceHash)
            }
            var team = -1
            if rows[i].hasTeam {
                if let fixedTeam, rows[i].teamLength == ScannedRow.fixedTeam {
                    team = fixedTeam
                } else {
                    let hash = rows[i].teamHash
                    let bytes = batch.bytes(rows[i].teamOffset, rows[i].teamLength)
                    team = teams.lookup(bytes, hash: hash) ?? internNewTeam(bytes, hash: hash)
                }
                teamContactRows[team] += 1
                if keepTeamIndex { batch.teamIndices[i] = UInt32(team) }
            }
            teamOf[i] = Int32(team)
        }
    }

    /// The second pass of `countContacts`: each counted row's audience index into
    /// `audienceScratch`, from the teams of the first.
    private func internAudiences(_ batch: RowBatch) {
        let rows = batch.rows, count = batch.count
        let teamOf = teamScratch, audienceOf = audienceScratch
        let audiences = self.audiences
        for i in 0..<min(Self.prefetchAhead, count) { audiences.prefetch(rows[i].audienceHash) }
        for i in 0..<count {
            if i + Self.prefetchAhead < count { audiences.prefetch(rows[i + Self.prefetchAhead].audienceHash) }
            var audience = noAudience
            if rows[i].outcome == .counted && rows[i].audienceLength != ScannedRow.none {
                let team = UInt32(truncatingIfNeeded: teamOf[i]), hash = rows[i].audienceHash
                let bytes = batch.bytes(rows[i].audienceOffset, rows[i].audienceLength)
                audience = UInt32(audiences.lookup(bytes, owner: team, hash: hash)
                                  ?? audiences.intern(bytes, owner: team, hash: hash))
            }
            audienceOf[i] = audience
        }
    }

    /// Each row's team index (-1: none), from the first pass of `countContacts` for the others.
    private let teamScratch = UnsafeMutablePointer<Int32>.allocate(capacity: RowBatch.capacity)

    /// Each counted row's audience index, from the audience pass of `countContacts` (and of
    /// `countMemberships`) for the counting pass.
    private let audienceScratch = UnsafeMutablePointer<UInt32>.allocate(capacity: RowBatch.capacity)

    deinit {
        teamScratch.deallocate()
        audienceScratch.deallocate()
    }

    /// How many rows ahead the id-table slots a row will use are asked for: the tables outgrow
    /// L2, and this keeps several misses in flight at once instead of one at a time.
    static let prefetchAhead = 16

    /// Adds a team id the scanner already checked.
    private func internNewTeam(_ bytes: UnsafeRawBufferPointer, hash: UInt64? = nil) -> Int {
        let i = hash.map { teams.intern(bytes, hash: $0) } ?? teams.intern(bytes)
        teamContactRows.append(0)
        teamRejectedRows.append(0)
        return i
    }

    // MARK: - Memberships

    private func membershipColumns(_ input: OpenedInput) -> ContactScanner.Columns {
        let cols = input.columns
        return ContactScanner.Columns(
            width: cols.header.count, email: 0, team: cols.index[.team], audience: cols.index[.audience],
            unsubscribed: nil, contactID: cols.index[.contactID], created: nil, asOf: nil, fixedTeamHash: 0,
            memberships: true)
    }

    /// Counts one batch of membership rows, joined to their contacts on the index thread.
    private func countMemberships(_ batch: RowBatch, _ input: OpenedInput, lane: Int, rejects: RejectLog) throws {
        let stats = input.stats
        let path = input.path
        let joined = batch.joined, rows = batch.rows, count = batch.count
        stats.rowsRead += count
        var counted = 0
        defer { stats.rowsCounted += counted }
        // Two passes, as in `countContacts`: the audiences of the batch, then the counting.
        let audienceOf = audienceScratch
        for i in 0..<min(Self.prefetchAhead, count) { audiences.prefetch(joined[i].audienceHash) }
        for i in 0..<count {
            if i + Self.prefetchAhead < count { audiences.prefetch(joined[i + Self.prefetchAhead].audienceHash) }
            guard !joined[i].deferred && !joined[i].filtered && joined[i].outcome == nil else { continue }
            let team = joined[i].team, hash = joined[i].audienceHash
            let bytes = batch.bytes(rows[i].audienceOffset, rows[i].audienceLength)
            audienceOf[i] = UInt32(audiences.lookup(bytes, owner: team, hash: hash)
                                   ?? audiences.intern(bytes, owner: team, hash: hash))
        }
        for i in 0..<count {
            let j = joined[i]
            if j.deferred { continue }
            if j.filtered {
                stats.rowsFiltered += 1
            } else if let reason = j.outcome {
                let row = rows[i]
                stats.rejected[reason, default: 0] += 1
                try rejects.add(lane: lane, file: path, line: row.line, reason: reason,
                                raw: batch.raw(i), hasTeam: true)
            } else {
                counter.insert(j.contact, team: j.team, audience: audienceOf[i], flags: [])
                counted += 1
            }
        }
    }

    /// The share of `--memory-limit` the contact index may hold before it moves to disk: a
    /// quarter, so that the index growing past it once more still leaves the counting tables
    /// room.
    static let indexShare = 4

    /// Joins the memberships that went to disk (`JoinSpill`): the parts of the contact ids are
    /// decided on every thread (`JoinSpill.decide`, with the decisions of `IndexStage.join` and
    /// `countMemberships`) and counted here one after another; then their rejects are written
    /// in file and line order and their files' reject lanes closed.
    private func join(_ spill: JoinSpill, _ inputs: [OpenedInput], firstLane: Int, rejects: RejectLog) throws {
        try spill.finishWriting()
        var runs: [JoinSpill.RejectRun] = []
        let teams = self.teams
        let lanes = inputs.count
        // Parts in flight hold no more than the index's share of the memory limit: one per
        // thread, and one more where it fits (it keeps the threads busy while the counting waits
        // for the next part: M-global at 256MiB, 5.8 s against 6.1 s, medians of five).
        let inFlight = configuration.memoryLimit / Self.indexShare / max(1, spill.largestPartBytes)
        let threads = max(1, min(configuration.threads, inFlight))
        let ahead = max(threads, min(threads + 1, inFlight))
        joinThreads = threads
        try spill.joinParts(threads: threads, ahead: ahead, decide: { part in
            try spill.decide(part: part, lanes: lanes, teamHash: { teams.hash(of: Int($0)) },
                             audienceSeed: Self.audienceSeed)
        }, consume: { part in
            for lane in 0..<lanes {
                let stats = inputs[lane].stats
                stats.rowsFiltered += part.filtered[lane]
                stats.rowsCounted += part.countedRows[lane]
                for (reason, n) in part.rejected[lane] { stats.rejected[reason, default: 0] += n }
            }
            // The parts decided and waiting, and the indexes of those being decided.
            counter.noteMemoryElsewhere(teams.bytes + audiences.bytes + ahead * (part.indexBytes + part.bytes))
            let counted = part.counted
            part.audienceBytes.withUnsafeBytes { bytes in
                for i in 0..<min(Self.prefetchAhead, counted.count) { audiences.prefetch(counted[i].audienceHash) }
                for i in counted.indices {
                    if i + Self.prefetchAhead < counted.count { audiences.prefetch(counted[i + Self.prefetchAhead].audienceHash) }
                    let c = counted[i]
                    let audience = UnsafeRawBufferPointer(rebasing: bytes[Int(c.audienceStart)..<Int(c.audienceStart + c.audienceLength)])
                    let index = audiences.lookup(audience, owner: c.team, hash: c.audienceHash)
                        ?? audiences.intern(audience, owner: c.team, hash: c.audienceHash)
                    counter.insert(c.contact, team: c.team, audience: UInt32(index), flags: [])
                }
            }
            runs.append(part.run)
            noteStep("joining on disk", runs.count, of: JoinSpill.parts)
        })
        try JoinSpill.mergeRejects(runs) { lane, line, reason, raw in
            try rejects.add(lane: firstLane + lane, file: inputs[lane].path, line: line, reason: reason, raw: raw,
                            hasTeam: true)
        }
        for i in inputs.indices { try rejects.finish(lane: firstLane + i) }
        spill.removeAll()
    }

    // MARK: - Results

    /// - Parameter audienceTeam: each audience's team (as given to the counter).
    private func makeReportData(_ r: CountResult, audienceTeam: [UInt32], inputs: [InputStats],
                                rejects: RejectLog) -> ReportData {
        let teamIDs = (0..<teams.count).map { teams.bytes(of: $0) }
        let teamTable = teams
        // A team is a row when it has contact rows: a file with no team column puts its rows in
        // `--team`'s team, which is known before any row is read, and an empty file leaves it
        // without any (a report of no rows has no teams, whichever columns its file has).
        let order = (0..<teams.count).filter { teamContactRows[$0] > 0 }.map(teamTable.sortKey(of:))
            .sorted(by: teamTable.precedes).map(\.index)
        var rank = [Int](repeating: 0, count: teams.count)
        for (i, t) in order.enumerated() { rank[t] = i }
        let billing = self.billing
        let teamRows = order.map { t in
            var row = TeamRow(teamID: teamIDs[t], contactRows: teamContactRows[t], audiences: r.audiences[t],
                              legacyContacts: r.legacy[t], globalContacts: r.global[t],
                              unsubscribedContacts: r.unsubscribed[t], contactsWithoutAudience: r.withoutAudience[t],
                              rejectedRows: teamRejectedRows[t])
            if !billing.isEmpty { row.extra = billing.columns(for: row) }
            return row
        }
        // Audiences in their teams' order by a counting sort on the team's rank, then each team's
        // few audiences by their ids: one sort of 127,000 (rank, prefix) keys through a closure was
        // 10 ms on the one thread of this step (M).
        let audienceTable = audiences
        var teamStart = [Int](repeating: 0, count: teams.count + 1)
        for a in 0..<audiences.count where r.audienceContacts[a] > 0 { teamStart[rank[Int(audienceTeam[a])] + 1] += 1 }
        for t in 0..<teams.count { teamStart[t + 1] += teamStart[t] }
        var keys = [ByteInterner.SortKey](repeating: (0, 0), count: teamStart[teams.count])
        var next = teamStart
        for a in 0..<audiences.count where r.audienceContacts[a] > 0 {
            let t = rank[Int(audienceTeam[a])]
            keys[next[t]] = audienceTable.sortKey(of: a)
            next[t] += 1
        }
        for t in 0..<teams.count where teamStart[t + 1] - teamStart[t] > 1 {
            keys[teamStart[t]..<teamStart[t + 1]].sort(by: audienceTable.precedes)
        }
        let audienceOrder = keys.map(\.index)
        // On two threads, half each: 127,000 rows on M (27 ms on one thread, with the other core
        // idle, when each row's id was an array of its own; `IDBytes` keeps it in the row).
        let audienceRows = [AudienceRow](unsafeUninitializedCapacity: audienceOrder.count) { rows, initialized in
            guard let rows = rows.baseAddress else { return }
            let halves = audienceOrder.count >= 4096 ? 2 : 1
            Workers.forEach(halves) { half in
                let lower = audienceOrder.count * half / halves, upper = audienceOrder.count * (half + 1) / halves
                for k in lower..<upper {
                    let a = audienceOrder[k]
                    (rows + k).initialize(to: AudienceRow(
                        teamID: teamIDs[Int(audienceTeam[a])], audienceID: audienceTable.idBytes(of: a),
                        contacts: r.audienceContacts[a], sharedContacts: r.audienceShared[a],
                        exclusiveContacts: r.audienceExclusive[a]))
                }
            }
            initialized = audienceOrder.count
        }
        let finished = configuration.fixedEpoch.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date()
        var data = ReportData(
            runID: runID, label: configuration.label, toolVersion: HeadcountVersion.current,
            startedAt: Timestamp.iso8601(startedAt), finishedAt: Timestamp.iso8601(finished),
            rules: rules, options: options, inputs: inputs.map(Self.json),
            teams: teamRows, audiences: audienceRows, audiencesPerEmail: r.audiencesPerEmail,
            rejectedByReason: rejects.byReason, rejectedWithoutTeam: rejects.withoutTeam,
            // Over every file, as the rejects are: with memberships, a total over the contacts
            // files alone did not balance (its rows_counted was short by the membership rejects).
            rowsRead: inputs.reduce(0) { $0 + $1.rowsRead },
            rowsFiltered: inputs.reduce(0) { $0 + $1.rowsFiltered })
        data.extraHeader = billing.header
        data.rejectExamples = rejects.examples
        data.asOf = asOfText
        if !billing.isEmpty {
            data.billing = billing.summary(teamRows, quotasPath: configuration.quotasPath,
                                           tiersPath: configuration.tiersPath)
        }
        return data
    }

    /// `--as-of` in ISO 8601 (UTC, microseconds when they are not zero).
    var asOfText: String? {
        configuration.asOf.map { InstantParser.format($0) }
    }

    /// The rules in effect, for `summary.json` and the history.
    var rules: [(String, JSON)] {
        let config = configuration
        return [
            ("email_key", .string("trim whitespace (ASCII and Unicode), lowercase (full Unicode mapping); "
                                  + "plus tags and dots kept")),
            ("key", .string("128-bit seeded hash of team and normalised email")),
            ("unsubscribed_policy", .string(config.unsubscribedPolicy.rawValue)),
            ("as_of", asOfText.map(JSON.string) ?? .null),
            ("max_rejects", config.maxRejects.map(JSON.int) ?? .null),
            ("default_team", .string(config.defaultTeam)),
        ]
    }

    /// The options that shape the output (not the thread count, which never changes it).
    var options: [(String, JSON)] {
        let config = configuration
        var overrides: [(String, JSON)] = []
        for role in ColumnMap.Role.allCases {
            if let name = config.columnOverrides[role] { overrides.append((role.rawValue, .string(name))) }
        }
        return [
            ("layout", .string(config.memberships.isEmpty ? "legacy" : "global")),
            ("formats", .array(config.formats.map { .string($0.rawValue) })),
            ("delimiter", .string(config.delimiter.map(Self.delimiterName) ?? "auto")),
            ("column_overrides", .object(overrides)),
        ]
    }

    static func delimiterName(_ d: UInt8) -> String { d == 0x09 ? "tab" : String(UnicodeScalar(d)) }

    static func json(_ s: InputStats) -> JSON {
        var columns: [(String, JSON)] = []
        for role in ColumnMap.Role.allCases {
            if let name = s.columns[role] { columns.append((role.rawValue, .string(name))) }
        }
        return .object([
            ("role", .string(s.role.rawValue)),
            ("path", .string(s.path)),
            ("format", .string(s.format.rawValue)),
            ("bytes_read", .int(s.storedBytes)),
            ("uncompressed_bytes", .int(s.uncompressedBytes)),
            ("gzip_members", .int(s.gzipMembers)),
            ("delimiter", .string(delimiterName(s.delimiter))),
            ("columns", .object(columns)),
            ("rows_read", .int(s.rowsRead)),
            ("rows_counted", .int(s.rowsCounted)),
            ("rows_rejected", .int(s.rowsRejected)),
            ("rows_filtered", .int(s.rowsFiltered)),
            ("blank_lines", .int(s.blankLines)),
            ("rejected_by_reason", .object(RejectReason.allCases.sorted().map { ($0.rawValue, .int(s.rejected[$0] ?? 0)) })),
        ])
    }
}

extension Array where Element == String {
    /// Sorted by the bytes of each path, so that file order does not change any output.
    func sortedByPath() -> [String] {
        sorted { [UInt8]($0.utf8).lexicographicallyPrecedes([UInt8]($1.utf8)) }
    }
}
