import Foundation

/// A run as the history knows it.
public struct RunRecord: Sendable, Equatable {
    public var id: String
    public var label: String?
    public var startedAt: String
    public var finishedAt: String?
    /// running, complete, failed; `displayStatus` adds abandoned.
    public var status: String
    public var error: String?
    public var toolVersion: String
    public var asOf: String?
    public var pid: Int?
    public var host: String?
    public var inputs: [String]
    public var teams: Int?
    public var legacyContacts: Int?
    public var globalContacts: Int?

    /// How a run that is not complete stands, for messages: "failed (ERROR)", "is running",
    /// "is abandoned".
    public var ending: String {
        if status == "failed" { return error.map { "failed (\($0))" } ?? "failed" }
        return "is \(displayStatus)"
    }

    /// `running` becomes `abandoned` when the process that ran it (on this host) is gone.
    public var displayStatus: String {
        guard status == "running", let pid, host == HistoryStore.hostName else { return status }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM ? "running" : "abandoned"
    }
}

/// One input file as recorded with a run.
public struct InputRecord: Sendable {
    public var role: String
    public var path: String
    public var format: String
    public var bytes: Int
    public var uncompressedBytes: Int
    public var rowsRead: Int
    public var rowsCounted: Int
    public var rowsRejected: Int
    public var rowsFiltered: Int
    public var rejectedJSON: String
    /// Size plus the CRC-32s of the gzip members (or of the plain bytes): recognises the same dump.
    public var fingerprint: String
}

/// The run history: every `report` run, its inputs and its results, in SQLite.
///
/// WAL mode and a busy timeout let several runs write one database at once.
/// The schema evolves through named, forward-only migrations, each applied
/// once in its own transaction, so that a newer Headcount opens an older
/// history. Results are written in one transaction when a run completes.
public final class HistoryStore {
    let db: Database

    /// The default location, beside the reports.
    public static let defaultPath = "Reports/headcount.sqlite"

    /// Named migrations, in order. Never edit one that has shipped; add a new one.
    public static let migrations: [(name: String, sql: String)] = [
        ("001_runs_inputs_results", """
            CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                label TEXT,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
                error TEXT,
                tool_version TEXT NOT NULL,
                rules_json TEXT NOT NULL,
                options_json TEXT NOT NULL,
                as_of TEXT,
                pid INTEGER,
                host TEXT,
                summary_json TEXT
            );
            CREATE INDEX runs_label ON runs (label, started_at);
            CREATE TABLE run_inputs (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                ordinal INTEGER NOT NULL,
                role TEXT NOT NULL,
                path TEXT NOT NULL,
                format TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                uncompressed_bytes INTEGER NOT NULL,
                rows_read INTEGER NOT NULL,
                rows_counted INTEGER NOT NULL,
                rows_rejected INTEGER NOT NULL,
                rows_filtered INTEGER NOT NULL,
                rejected_json TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                PRIMARY KEY (run_id, ordinal)
            );
            CREATE TABLE team_results (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                team_id TEXT NOT NULL,
                contact_rows INTEGER NOT NULL,
                audiences INTEGER NOT NULL,
                legacy_contacts INTEGER NOT NULL,
                global_contacts INTEGER NOT NULL,
                duplicate_records INTEGER NOT NULL,
                reduction_pct TEXT NOT NULL,
                unsubscribed_contacts INTEGER NOT NULL,
                contacts_without_audience INTEGER NOT NULL,
                rejected_rows INTEGER NOT NULL,
                PRIMARY KEY (run_id, team_id)
            ) WITHOUT ROWID;
            CREATE TABLE audience_results (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                team_id TEXT NOT NULL,
                audience_id TEXT NOT NULL,
                contacts INTEGER NOT NULL,
                shared_contacts INTEGER NOT NULL,
                exclusive_contacts INTEGER NOT NULL,
                PRIMARY KEY (run_id, team_id, audience_id)
            ) WITHOUT ROWID;
            CREATE TABLE audiences_per_email (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                audiences INTEGER NOT NULL,
                emails INTEGER NOT NULL,
                PRIMARY KEY (run_id, audiences)
            ) WITHOUT ROWID;
            """),
        ("002_billing_columns", """
            ALTER TABLE team_results ADD COLUMN billing_json TEXT;
            """),
        ("003_teams_header", """
            ALTER TABLE runs ADD COLUMN teams_extra_header TEXT;
            """),
        // A run's rejects.csv, so that `show` writes it again: gzip-compressed, or only its
        // size when it is larger than `KeptRejects.limit` (csv_gzip NULL).
        ("004_run_rejects", """
            CREATE TABLE run_rejects (
                run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
                rows INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                csv_gzip BLOB
            );
            """),
        // The input paths as given, written when a run starts, so that a run that failed before
        // its results (and its `run_inputs`) were written still lists them.
        ("005_given_inputs", """
            ALTER TABLE runs ADD COLUMN given_inputs TEXT;
            """),
    ]

    /// Opens (creating when missing, unless `mustExist`) the history at `path` and applies the
    /// migrations not yet applied (only the first `upTo` when given: for tests of old schemas).
    ///
    /// The commands that read the history pass `mustExist`: a mistyped `--db` is a usage error
    /// naming the file, not an empty history left behind at the mistyped path.
    public init(path: String, upTo: Int? = nil, mustExist: Bool = false) throws {
        if mustExist && !FileManager.default.fileExists(atPath: path) {
            throw HeadcountError(.usage, "no run history here (headcount report records runs; --db chooses the file)",
                                 file: path)
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        db = try Database(path: path)
        try migrate(upTo: upTo ?? Self.migrations.count)
    }

    /// The names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try db.rows("SELECT name FROM schema_migrations ORDER BY name").compactMap { $0[0].text }
    }

    private func migrate(upTo count: Int) throws {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for (name, sql) in Self.migrations.prefix(count) {
            try db.transaction {
                let done = try db.rows("SELECT 1 FROM schema_migrations WHERE name = ?", [.text(name)])
                if !done.isEmpty { return }
                try db.execute(sql)
                try db.run("INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                           [.text(name), .text(Timestamp.iso8601(Date()))])
            }
        }
    }

    static let hostName: String = ProcessInfo.processInfo.hostName

    // MARK: - Lifecycle

    /// Records a run as `running`, with the input paths it was given (`inputs`, listed for it
    /// until its results are written). Returns the id used: `id`, or `id-2`, `id-3`… when
    /// taken (runs started in the same second with a fixed clock).
    public func begin(id: String, label: String?, startedAt: String, rulesJSON: String, optionsJSON: String,
                      asOf: String?, inputs: [String] = []) throws -> String {
        try db.transaction {
            var id = id
            var n = 1
            let base = id
            while try !db.rows("SELECT 1 FROM runs WHERE id = ?", [.text(id)]).isEmpty {
                n += 1
                id = "\(base)-\(n)"
            }
            try db.run("""
                INSERT INTO runs (id, label, started_at, status, tool_version, rules_json, options_json, as_of, pid, host,
                                  given_inputs)
                VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)
                """, [.text(id), label.map(SQLValue.text) ?? .null, .text(startedAt), .text(HeadcountVersion.current),
                      .text(rulesJSON), .text(optionsJSON), asOf.map(SQLValue.text) ?? .null,
                      .int(Int(getpid())), .text(Self.hostName),
                      inputs.isEmpty ? .null : .text(inputs.joined(separator: Self.pathSeparator))])
            return id
        }
    }

    /// Writes a run's results (and its `rejects.csv`, when it has one) and marks it complete,
    /// in one transaction.
    public func complete(_ data: ReportData, inputs: [InputRecord], summaryJSON: String,
                         rejects: KeptRejects? = nil) throws {
        try complete(data, inputs: inputs, summaryJSON: summaryJSON, keepingRejects: { rejects })
    }

    /// `complete`, with the run's `rejects.csv` asked for last, once the results are written (it
    /// may still be being read on another thread meanwhile).
    func complete(_ data: ReportData, inputs: [InputRecord], summaryJSON: String,
                  keepingRejects: () throws -> KeptRejects?) throws {
        // Every row written here references this run: checked once, inside the transaction,
        // rather than by SQLite for each row (a lookup in the runs' index a row: M's 147,000
        // rows, about 17 ms). The setting changes only outside a transaction.
        try db.execute("PRAGMA foreign_keys = OFF")
        defer { try? db.execute("PRAGMA foreign_keys = ON") }
        try db.transaction {
            guard try db.rows("SELECT 1 FROM runs WHERE id = ?", [.text(data.runID)]).count == 1 else {
                throw HeadcountError(.environment, "history database: the run \(data.runID) is no longer recorded",
                                     file: db.path)
            }
            let input = try db.prepare("""
                INSERT INTO run_inputs (run_id, ordinal, role, path, format, bytes, uncompressed_bytes, rows_read,
                    rows_counted, rows_rejected, rows_filtered, rejected_json, fingerprint)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (i, r) in inputs.enumerated() {
                try input.bind([.text(data.runID), .int(i), .text(r.role), .text(r.path), .text(r.format), .int(r.bytes),
                                .int(r.uncompressedBytes), .int(r.rowsRead), .int(r.rowsCounted), .int(r.rowsRejected),
                                .int(r.rowsFiltered), .text(r.rejectedJSON), .text(r.fingerprint)])
                while try input.step() {}
            }
            // Many rows a statement, each row's values bound one by one, the run's id once: one row
            // a statement, bound as an array of values with a `String` per id, M's 147,000 rows
            // took 250 ms, now about 90 (a run waits for its history before it ends).
            try insertRows(into: "team_results", columns: ["run_id", "team_id", "contact_rows", "audiences",
                                                            "legacy_contacts", "global_contacts", "duplicate_records",
                                                            "reduction_pct", "unsubscribed_contacts",
                                                            "contacts_without_audience", "rejected_rows", "billing_json"],
                           count: data.teams.count, runID: data.runID) { statement, row, at in
                let t = data.teams[row]
                try t.teamID.withUnsafeBytes { try statement.bind(text: $0, at: at) }
                try statement.bind(int: t.contactRows, at: at + 1)
                try statement.bind(int: t.audiences, at: at + 2)
                try statement.bind(int: t.legacyContacts, at: at + 3)
                try statement.bind(int: t.globalContacts, at: at + 4)
                try statement.bind(int: t.duplicateRecords, at: at + 5)
                var pct = t.reductionPct
                try pct.withUTF8 { try statement.bind(text: UnsafeRawBufferPointer($0), at: at + 6) }
                try statement.bind(int: t.unsubscribedContacts, at: at + 7)
                try statement.bind(int: t.contactsWithoutAudience, at: at + 8)
                try statement.bind(int: t.rejectedRows, at: at + 9)
                if t.extra.isEmpty {
                    try statement.bind(null: at + 10)
                } else {
                    var extra = Self.encode(t.extra)
                    try extra.withUTF8 { try statement.bind(text: UnsafeRawBufferPointer($0), at: at + 10) }
                }
            }
            try insertRows(into: "audience_results", columns: ["run_id", "team_id", "audience_id", "contacts",
                                                                "shared_contacts", "exclusive_contacts"],
                           count: data.audiences.count, runID: data.runID) { statement, row, at in
                let a = data.audiences[row]
                try a.teamID.withUnsafeBytes { try statement.bind(text: $0, at: at) }
                try a.audienceID.withUnsafeBytes { try statement.bind(text: $0, at: at + 1) }
                try statement.bind(int: a.contacts, at: at + 2)
                try statement.bind(int: a.sharedContacts, at: at + 3)
                try statement.bind(int: a.exclusiveContacts, at: at + 4)
            }
            let histogram = try db.prepare("INSERT INTO audiences_per_email (run_id, audiences, emails) VALUES (?, ?, ?)")
            for (k, n) in data.audiencesPerEmail.enumerated() {
                try histogram.bind([.text(data.runID), .int(k), .int(n)])
                while try histogram.step() {}
            }
            if let rejects = try keepingRejects() {
                try db.run("INSERT INTO run_rejects (run_id, rows, bytes, csv_gzip) VALUES (?, ?, ?, ?)",
                           [.text(data.runID), .int(rejects.rows), .int(rejects.bytes),
                            rejects.gzip.map(SQLValue.blob) ?? .null])
            }
            try db.run("""
                UPDATE runs SET status = 'complete', finished_at = ?, summary_json = ?, error = NULL,
                    teams_extra_header = ?
                WHERE id = ?
                """, [.text(data.finishedAt), .text(summaryJSON),
                      data.extraHeader.isEmpty ? .null : .text(Self.encode(data.extraHeader)), .text(data.runID)])
        }
    }

    /// Inserts `count` rows into `table`, whose first column is the run's id: `batch` rows a
    /// statement (`?1` the run's id in each, bound once), `bind` binding row `row`'s other values
    /// from parameter `at` on. With one row a statement, running the statement was half the cost
    /// of a row (M's 127,000 audience rows: 147 ms one a statement, 75 ms 64 a statement; its
    /// 20,000 teams 27 and 17 ms).
    private func insertRows(into table: String, columns: [String], count: Int, runID: String, batch: Int = 64,
                            bind: (Statement, Int, Int32) throws -> Void) throws {
        let perRow = columns.count - 1
        func prepared(rows: Int) throws -> Statement {
            let tuples = (0..<rows).map { r in
                "(?1, " + (0..<perRow).map { "?\(2 + r * perRow + $0)" }.joined(separator: ", ") + ")"
            }
            let statement = try db.prepare("INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
                                           + tuples.joined(separator: ", "))
            try statement.bind([.text(runID)])
            return statement
        }
        var next = 0
        var full: Statement?
        while next < count {
            let rows = min(batch, count - next)
            let statement: Statement
            if rows == batch {
                if full == nil { full = try prepared(rows: batch) }
                statement = full!
                statement.reset()
            } else {
                statement = try prepared(rows: rows)
            }
            for r in 0..<rows { try bind(statement, next + r, Int32(2 + r * perRow)) }
            while try statement.step() {}
            next += rows
        }
    }

    /// Marks a run failed with its one-line error (a complete run too when `evenIfComplete`:
    /// its reports could not be put in place).
    public func fail(id: String, error: String, finishedAt: String, evenIfComplete: Bool = false) throws {
        try db.transaction {
            try db.run("""
                UPDATE runs SET status = 'failed', finished_at = ?, error = ?
                WHERE id = ? AND (status = 'running' OR (? AND status = 'complete'))
                """, [.text(finishedAt), .text(error), .text(id), .int(evenIfComplete ? 1 : 0)])
        }
    }

    // MARK: - Queries

    /// Between the paths of a run's inputs in the listing (`char(31)` in SQL): a control
    /// character, which a path given on a command line hardly holds.
    static let pathSeparator = "\u{1F}"

    static let runColumns = """
        r.id, r.label, r.started_at, r.finished_at, r.status, r.error, r.tool_version, r.as_of, r.pid, r.host,
        coalesce((SELECT group_concat(path, char(31)) FROM (SELECT path FROM run_inputs WHERE run_id = r.id ORDER BY ordinal)),
                 r.given_inputs),
        (SELECT count(*) FROM team_results WHERE run_id = r.id),
        (SELECT sum(legacy_contacts) FROM team_results WHERE run_id = r.id),
        (SELECT sum(global_contacts) FROM team_results WHERE run_id = r.id)
        """

    static func record(_ row: [SQLValue]) -> RunRecord {
        let complete = row[4].text == "complete"
        return RunRecord(id: row[0].text ?? "", label: row[1].text, startedAt: row[2].text ?? "",
                         finishedAt: row[3].text, status: row[4].text ?? "", error: row[5].text,
                         toolVersion: row[6].text ?? "", asOf: row[7].text, pid: row[8].int, host: row[9].text,
                         inputs: row[10].text.map { $0.split(separator: pathSeparator, omittingEmptySubsequences: false)
                                                        .map(String.init) } ?? [],
                         teams: complete ? row[11].int : nil, legacyContacts: complete ? (row[12].int ?? 0) : nil,
                         globalContacts: complete ? (row[13].int ?? 0) : nil)
    }

    /// All runs, newest first.
    public func runs() throws -> [RunRecord] {
        try db.rows("SELECT \(Self.runColumns) FROM runs r ORDER BY r.started_at DESC, r.rowid DESC").map(Self.record)
    }

    /// The run named by `reference`: a run id, or the label of the newest complete run that has it.
    /// - Throws: `.usage` when no run matches.
    public func resolve(_ reference: String) throws -> RunRecord {
        if let row = try db.rows("SELECT \(Self.runColumns) FROM runs r WHERE r.id = ?", [.text(reference)]).first {
            return Self.record(row)
        }
        // The newest complete run with the label; when it has none, its newest run, to say how
        // that one ended.
        let byLabel = try db.rows("""
            SELECT \(Self.runColumns) FROM runs r WHERE r.label = ?
            ORDER BY r.status = 'complete' DESC, r.started_at DESC, r.rowid DESC LIMIT 1
            """, [.text(reference)]).first.map(Self.record)
        if let run = byLabel {
            guard run.status == "complete" else {
                throw HeadcountError(.usage, "no complete run labelled '\(reference)': the latest, \(run.id), "
                                     + "\(run.ending) (see headcount runs)")
            }
            return run
        }
        throw HeadcountError(.usage, "no recorded run with id or label '\(reference)' (see headcount runs)")
    }

    /// The rows of `teams.csv` recorded for a run, sorted by team id bytes.
    public func teams(of runID: String) throws -> [TeamRow] {
        try db.rows("""
            SELECT team_id, contact_rows, audiences, legacy_contacts, global_contacts, unsubscribed_contacts,
                   contacts_without_audience, rejected_rows, billing_json
            FROM team_results WHERE run_id = ?
            """, [.text(runID)]).map { r in
            TeamRow(teamID: Array((r[0].text ?? "").utf8), contactRows: r[1].int ?? 0, audiences: r[2].int ?? 0,
                    legacyContacts: r[3].int ?? 0, globalContacts: r[4].int ?? 0,
                    unsubscribedContacts: r[5].int ?? 0, contactsWithoutAudience: r[6].int ?? 0,
                    rejectedRows: r[7].int ?? 0, extra: r[8].text.map(Self.decode) ?? [])
        }.sorted { $0.teamID.lexicographicallyPrecedes($1.teamID) }
    }

    /// The billing columns' names of a run's `teams.csv` (empty when it had none).
    public func teamsExtraHeader(of runID: String) throws -> [String] {
        try db.rows("SELECT teams_extra_header FROM runs WHERE id = ?", [.text(runID)]).first?[0].text
            .map(Self.decode) ?? []
    }

    /// A list of strings as stored: a CSV row (the format the reports already use).
    static func encode(_ fields: [String]) -> String {
        var w = CSVWriter()
        w.row(fields)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    static func decode(_ text: String) -> [String] {
        let reader = CSVReader(source: StringSource(text), delimiter: 0x2C)
        guard (try? reader.next()) == .record else { return [] }
        return (0..<reader.fieldCount).map { String(decoding: reader.field($0), as: UTF8.self) }
    }

    /// The rows of `audiences.csv` recorded for a run, in report order.
    public func audiences(of runID: String) throws -> [AudienceRow] {
        try db.rows("""
            SELECT team_id, audience_id, contacts, shared_contacts, exclusive_contacts
            FROM audience_results WHERE run_id = ?
            """, [.text(runID)]).map { r in
            AudienceRow(teamID: Array((r[0].text ?? "").utf8), audienceID: Array((r[1].text ?? "").utf8),
                        contacts: r[2].int ?? 0, sharedContacts: r[3].int ?? 0, exclusiveContacts: r[4].int ?? 0)
        }.sorted {
            $0.teamID != $1.teamID ? $0.teamID.lexicographicallyPrecedes($1.teamID)
                                   : $0.audienceID.lexicographicallyPrecedes($1.audienceID)
        }
    }

    /// The `summary.json` written by a complete run.
    public func summaryJSON(of runID: String) throws -> String? {
        try db.rows("SELECT summary_json FROM runs WHERE id = ?", [.text(runID)]).first?[0].text
    }

    /// The `rejects.csv` kept for a run; nil when none was (no rejects, or a run recorded by a
    /// version that did not keep them).
    public func rejects(of runID: String) throws -> KeptRejects? {
        try db.rows("SELECT rows, bytes, csv_gzip FROM run_rejects WHERE run_id = ?", [.text(runID)]).first.map {
            KeptRejects(rows: $0[0].int ?? 0, bytes: $0[1].int ?? 0, gzip: $0[2].blob)
        }
    }

    /// The audiences-per-email distribution of a run.
    public func audiencesPerEmail(of runID: String) throws -> [Int] {
        try db.rows("SELECT emails FROM audiences_per_email WHERE run_id = ? ORDER BY audiences", [.text(runID)])
            .map { $0[0].int ?? 0 }
    }

    /// The inputs recorded for a run.
    public func inputs(of runID: String) throws -> [InputRecord] {
        try db.rows("""
            SELECT role, path, format, bytes, uncompressed_bytes, rows_read, rows_counted, rows_rejected,
                   rows_filtered, rejected_json, fingerprint
            FROM run_inputs WHERE run_id = ? ORDER BY ordinal
            """, [.text(runID)]).map { r in
            InputRecord(role: r[0].text ?? "", path: r[1].text ?? "", format: r[2].text ?? "", bytes: r[3].int ?? 0,
                        uncompressedBytes: r[4].int ?? 0, rowsRead: r[5].int ?? 0, rowsCounted: r[6].int ?? 0,
                        rowsRejected: r[7].int ?? 0, rowsFiltered: r[8].int ?? 0, rejectedJSON: r[9].text ?? "{}",
                        fingerprint: r[10].text ?? "")
        }
    }
}
