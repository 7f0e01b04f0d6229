import Foundation
import Testing
@testable import HeadcountCore

@Suite struct HistoryStoreTests {
    func team(_ id: String, legacy: Int, global: Int) -> TeamRow {
        TeamRow(teamID: Array(id.utf8), contactRows: legacy + 1, audiences: 2, legacyContacts: legacy,
                globalContacts: global, unsubscribedContacts: 0, contactsWithoutAudience: 0, rejectedRows: 1)
    }

    func data(_ id: String, teams: [TeamRow]) -> ReportData {
        ReportData(runID: id, label: nil, toolVersion: HeadcountVersion.current, startedAt: "2026-01-01T00:00:00Z",
                   finishedAt: "2026-01-01T00:00:01Z", rules: [], options: [], inputs: [], teams: teams,
                   audiences: [AudienceRow(teamID: Array("t1".utf8), audienceID: Array("a".utf8), contacts: 1,
                                           sharedContacts: 0, exclusiveContacts: 1)],
                   audiencesPerEmail: [0, 5, 2], rejectedByReason: [:], rejectedWithoutTeam: 0, rowsRead: 10,
                   rowsFiltered: 0)
    }

    /// Parameters bound one by one keep the others, and text bound as bytes is stored as `.text`
    /// stores it: UTF-8 as it is (empty too), other bytes repaired as `String(decoding:)` repairs them.
    @Test func textBoundAsBytesIsStoredAsText() throws {
        let dir = TemporaryFolder()
        let db = try Database(path: dir.path + "/bind.sqlite")
        try db.execute("CREATE TABLE t (run TEXT, id TEXT, n INTEGER)")
        let insert = try db.prepare("INSERT INTO t (run, id, n) VALUES (?, ?, ?)")
        try insert.bind([.text("run-1")])
        let ids: [[UInt8]] = [Array("t1".utf8), Array("Zoë".utf8), [], [0x61, 0xFF, 0x62], Array("日本".utf8)]
        for (k, id) in ids.enumerated() {
            insert.reset()
            try id.withUnsafeBytes { try insert.bind(text: $0, at: 2) }
            try insert.bind(int: k, at: 3)
            while try insert.step() {}
        }
        let rows = try db.rows("SELECT run, id, n FROM t ORDER BY n")
        #expect(rows.map { $0[0].text } == Array(repeating: "run-1", count: ids.count))
        #expect(rows.map { $0[1].text } == ids.map { String(decoding: $0, as: UTF8.self) })
        #expect(rows.map { $0[2].int } == Array(0..<ids.count))
        #expect(rows[3][1].text == "a\u{FFFD}b")
    }

    @Test func aDatabaseMadeByTheFirstSchemaOpensWithTheCurrentCode() throws {
        let dir = TemporaryFolder()
        let path = dir.path + "/old.sqlite"
        do {
            let old = try HistoryStore(path: path, upTo: 1)
            #expect(try old.appliedMigrations() == ["001_runs_inputs_results"])
            // Rows as the first version wrote them (no billing column then).
            try old.db.execute("""
                INSERT INTO runs (id, label, started_at, finished_at, status, tool_version, rules_json, options_json,
                                  summary_json)
                VALUES ('r1', 'jan', '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z', 'complete', '0.0.1', '{}', '{}', '{}');
                INSERT INTO team_results VALUES ('r1', 't1', 10, 2, 9, 7, 2, '22.22', 0, 0, 1);
                """)
        }
        let current = try HistoryStore(path: path)
        #expect(try current.appliedMigrations() == HistoryStore.migrations.map(\.name))
        let run = try current.resolve("jan")
        #expect(run.id == "r1" && run.status == "complete" && run.teams == 1 && run.globalContacts == 7)
        #expect(try current.teams(of: "r1") == [team("t1", legacy: 9, global: 7)])
        // Migrations are applied once: opening again changes nothing.
        #expect(try HistoryStore(path: path).appliedMigrations().count == HistoryStore.migrations.count)
    }

    /// `show` writes a run's rejects.csv again from the history: kept compressed, byte for
    /// byte; past the limit only its size; none for a run recorded before rejects were kept.
    @Test func rejectsAreKeptByteForByteUpToTheLimit() throws {
        let dir = TemporaryFolder()
        var csv = Array("file,line,reason,raw\n".utf8)
        for line in 2..<3000 {
            csv += Array("\"d,1.csv\",\(line),invalid_email,\"t1,\"\"x\"\"\n".utf8) + [0xFF, 0x22, 0x0A]
        }
        #expect(FileManager.default.createFile(atPath: dir.path + "/rejects.csv", contents: Data(csv)))
        let kept = try KeptRejects.read(path: dir.path + "/rejects.csv", rows: 2998)
        #expect(kept.rows == 2998 && kept.bytes == csv.count)
        #expect(try #require(kept.gzip).count < csv.count / 10)
        #expect(try kept.csv() == csv)
        #expect(try KeptRejects.examples(in: csv, count: 10)
                == (2..<12).map { RejectExample(file: "d,1.csv", line: $0, reason: .invalidEmail) })
        let tooLarge = try KeptRejects.read(path: dir.path + "/rejects.csv", rows: 2998, limit: csv.count - 1)
        #expect(tooLarge == KeptRejects(rows: 2998, bytes: csv.count, gzip: nil))
        #expect(try tooLarge.csv() == nil)

        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        for (id, rejects) in [("kept", kept), ("large", tooLarge)] as [(String, KeptRejects?)] + [("old", nil)] {
            _ = try store.begin(id: id, label: nil, startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                                optionsJSON: "{}", asOf: nil)
            try store.complete(data(id, teams: [team("t1", legacy: 2, global: 1)]), inputs: [],
                               summaryJSON: #"{"totals": {"rejected_by_reason": {"invalid_email": 2998}}}"#,
                               rejects: rejects)
        }
        #expect(try store.rejects(of: "kept") == kept)
        #expect(try store.rejects(of: "large") == tooLarge)
        #expect(try store.rejects(of: "old") == nil)

        let shown = try HistoryReports.show("kept", store: store, formats: [.csv], directory: dir.path + "/kept")
        #expect(shown.files == ["teams.csv", "audiences.csv", "rejects.csv"] && shown.rejectsNotKept == nil)
        #expect(FileManager.default.contents(atPath: dir.path + "/kept/rejects.csv") == Data(csv))
        let large = try HistoryReports.show("large", store: store, formats: [.csv], directory: dir.path + "/large")
        #expect(large.files == ["teams.csv", "audiences.csv"])
        #expect(large.rejectsNotKept?.hasPrefix("rejects.csv (\(csv.count) bytes) is larger than the history keeps") == true)
        let old = try HistoryReports.show("old", store: store, formats: [.csv], directory: dir.path + "/old")
        #expect(old.rejectsNotKept == "rejects.csv is not in the history: the run was recorded by an earlier version")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/old/rejects.csv"))
    }

    /// report.html lists a shown run's rules in the order its summary.json wrote them, which
    /// JSONSerialization forgets (show listed them sorted by name).
    @Test func keyOrderReadsAnObjectsKeysAsWritten() {
        let text = #"{"a": {"rules": 1}, "rules": {"z\"q": [1, {"x": 2}], "b": null, "a": {"y": "}"}}, "c": 3}"#
        #expect(HistoryReports.keyOrder(ofMember: "rules", in: text) == [#"z\"q"#, "b", "a"])
        #expect(HistoryReports.keyOrder(ofMember: "c", in: text) == [])
        #expect(HistoryReports.keyOrder(ofMember: "missing", in: text) == [])
    }

    /// SQLite does not wait on its busy timeout while it turns a new database's journal into a
    /// write-ahead log: runs that opened a new history at the same moment failed with "database
    /// is locked" (before the fix this test failed three times in four, 2 opens in 320 each).
    @Test func manyOpeningANewHistoryAtOnceAllSucceed() throws {
        let dir = TemporaryFolder()
        let rounds = 50, openers = 16
        let failures = UnsafeMutableBufferPointer<String?>.allocate(capacity: rounds * openers)
        failures.initialize(repeating: nil)
        defer { failures.deallocate() }
        for round in 0..<rounds {
            let path = dir.path + "/h\(round).sqlite"
            Workers.forEach(openers) { i in
                do {
                    let store = try HistoryStore(path: path)
                    _ = try store.begin(id: "r", label: nil, startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                                        optionsJSON: "{}", asOf: nil)
                } catch {
                    failures[round * openers + i] = "\(error)"
                }
            }
            let store = try HistoryStore(path: path)
            #expect(try store.db.rows("PRAGMA journal_mode").first?.first?.text == "wal")
            #expect(try store.db.rows("SELECT count(*) FROM runs").first?.first == .int(openers))
        }
        #expect(failures.compactMap { $0 } == [])
    }

    @Test func lifecycleRunningCompleteFailed() throws {
        let dir = TemporaryFolder()
        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        let id = try store.begin(id: "r1", label: "jan", startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                                 optionsJSON: "{}", asOf: nil, inputs: ["b.csv", "a.csv"])
        #expect(try store.runs().map(\.status) == ["running"])
        #expect(try store.runs()[0].displayStatus == "running", "this process is alive")
        // Once complete, the inputs listed are the ones read, in the order they were recorded.
        let read = ["a.csv", "b.csv"].map {
            InputRecord(role: "contacts", path: $0, format: "plain", bytes: 10, uncompressedBytes: 10, rowsRead: 1,
                        rowsCounted: 1, rowsRejected: 0, rowsFiltered: 0, rejectedJSON: "{}", fingerprint: "")
        }
        try store.complete(data(id, teams: [team("t1", legacy: 5, global: 3), team("t2", legacy: 1, global: 1)]),
                           inputs: read, summaryJSON: "{\"x\":1}\n")
        let done = try store.resolve("r1")
        #expect(done.inputs == ["a.csv", "b.csv"])
        #expect(done.status == "complete" && done.legacyContacts == 6 && done.globalContacts == 4 && done.teams == 2)
        #expect(try store.summaryJSON(of: "r1") == "{\"x\":1}\n")
        #expect(try store.audiencesPerEmail(of: "r1") == [0, 5, 2])

        let second = try store.begin(id: "r1", label: "feb", startedAt: "2026-02-01T00:00:00Z", rulesJSON: "{}",
                                     optionsJSON: "{}", asOf: nil, inputs: ["x.csv.gz", "b.csv", "-"])
        #expect(second == "r1-2", "a taken id gets a suffix")
        #expect(try store.resolve("r1-2").inputs == ["x.csv.gz", "b.csv", "-"], "the paths as given, while it runs")
        try store.fail(id: second, error: "x.csv.gz: byte 9: truncated gzip stream", finishedAt: "2026-02-01T00:00:01Z")
        let failed = try store.resolve("r1-2")
        #expect(failed.status == "failed" && failed.error == "x.csv.gz: byte 9: truncated gzip stream")
        #expect(failed.teams == nil)
        #expect(failed.inputs == ["x.csv.gz", "b.csv", "-"], "and once it failed")
        #expect(try store.runs().map(\.id) == ["r1-2", "r1"], "newest first")
    }

    /// Results are written for a recorded run only (checked once, with the per-row reference checks
    /// off while they are written), and the checks are on again afterwards, whether it was written
    /// or refused: deleting a run still takes its results with it.
    @Test func resultsNeedTheirRunAndTheReferenceChecksComeBack() throws {
        let dir = TemporaryFolder()
        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        #expect(throws: HeadcountError.self) {
            try store.complete(data("nobody", teams: [team("t1", legacy: 5, global: 3)]), inputs: [], summaryJSON: "{}")
        }
        #expect(try store.db.rows("SELECT count(*) FROM team_results")[0][0].int == 0)
        #expect(try store.db.rows("PRAGMA foreign_keys")[0][0].int == 1)
        let id = try store.begin(id: "r1", label: nil, startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                                 optionsJSON: "{}", asOf: nil)
        try store.complete(data(id, teams: [team("t1", legacy: 5, global: 3)]), inputs: [], summaryJSON: "{}")
        #expect(try store.db.rows("PRAGMA foreign_keys")[0][0].int == 1)
        #expect(try store.db.rows("SELECT count(*) FROM audience_results")[0][0].int == 1)
        try store.db.execute("DELETE FROM runs WHERE id = 'r1'")
        #expect(try store.db.rows("SELECT count(*) FROM team_results")[0][0].int == 0)
        #expect(try store.db.rows("SELECT count(*) FROM audience_results")[0][0].int == 0)
    }

    /// Rows are written many to a statement: a run's teams and audiences read back as they went in,
    /// across whole statements and the shorter last one, with billing columns or without them and
    /// ids that are empty or not ASCII.
    @Test func manyRowsReadBackAsTheyWentIn() throws {
        let dir = TemporaryFolder()
        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        let id = try store.begin(id: "r1", label: nil, startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                                 optionsJSON: "{}", asOf: nil)
        var teams = (0..<150).map { k -> TeamRow in
            var t = team(k == 0 ? "" : "t\(k)é", legacy: 10 * k + 1, global: 7 * k)
            if k % 3 == 0 { t.extra = ["pro", "\(k)"] }
            return t
        }
        teams.sort { $0.teamID.lexicographicallyPrecedes($1.teamID) }
        let audiences = teams.flatMap { t in
            (0..<((t.legacyContacts % 4) + 1)).map { a in
                AudienceRow(teamID: t.teamID, audienceID: Array("a\(a)-\(String(repeating: "x", count: a * 7))".utf8),
                            contacts: a + 1, sharedContacts: a, exclusiveContacts: 1)
            }
        }
        var d = data(id, teams: teams)
        d.audiences = audiences
        try store.complete(d, inputs: [], summaryJSON: "{}")
        #expect(audiences.count > 128 && audiences.count % 64 != 0)
        #expect(try store.teams(of: id) == teams)
        #expect(try store.audiences(of: id) == audiences)
    }

    @Test func aRunningRunWhoseProcessIsGoneIsAbandoned() throws {
        let dir = TemporaryFolder()
        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        _ = try store.begin(id: "r1", label: nil, startedAt: "2026-01-01T00:00:00Z", rulesJSON: "{}",
                            optionsJSON: "{}", asOf: nil)
        try store.db.execute("UPDATE runs SET pid = 2147483646")   // no such process
        #expect(try store.runs()[0].displayStatus == "abandoned")
    }

    @Test func labelsResolveToTheNewestCompleteRun() throws {
        let dir = TemporaryFolder()
        let store = try HistoryStore(path: dir.path + "/h.sqlite")
        for (id, started) in [("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T00:00:00Z"), ("c", "2026-01-03T00:00:00Z")] {
            _ = try store.begin(id: id, label: "monthly", startedAt: started, rulesJSON: "{}", optionsJSON: "{}", asOf: nil)
        }
        try store.complete(data("a", teams: []), inputs: [], summaryJSON: "{}")
        try store.complete(data("b", teams: []), inputs: [], summaryJSON: "{}")
        #expect(try store.resolve("monthly").id == "b", "c is still running")
        #expect(throws: HeadcountError.self) { try store.resolve("nothing") }
    }

    @Test func comparisonRowsAndPercentages() {
        let before = RunRecord(id: "b", label: nil, startedAt: "", finishedAt: nil, status: "complete", error: nil,
                               toolVersion: "", asOf: nil, pid: nil, host: nil, inputs: [], teams: nil,
                               legacyContacts: nil, globalContacts: nil)
        var after = before
        after.id = "a"
        let c = RunComparison(before: before, beforeTeams: [team("t1", legacy: 100, global: 80), team("t2", legacy: 3, global: 3)],
                              after: after, afterTeams: [team("t1", legacy: 110, global: 70), team("t3", legacy: 1, global: 1)])
        #expect(String(decoding: c.csv(), as: UTF8.self) == """
            team_id,presence,before_legacy,before_global,after_legacy,after_global,change_global,change_pct,legacy_to_global_change,legacy_to_global_pct
            t1,both,100,80,110,70,-10,-12.50,-30,-30.00
            t2,removed,3,3,0,0,-3,-100.00,-3,-100.00
            t3,added,0,0,1,1,1,,1,

            """)
        let t = c.totals
        #expect(t.added == 1 && t.removed == 1 && t.teamsBefore == 2 && t.teamsAfter == 2)
        #expect(t.beforeLegacy == 103 && t.afterGlobal == 71)
    }
}
