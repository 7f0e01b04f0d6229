import Foundation
import Testing

/// End-to-end: the run history through `report`, `runs`, `show` and `compare`.
@Suite struct HistoryTests {
    @Test func everyRunIsRecordedCompleteOrFailed() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(try h.run(["report", "--contacts", "legacy.csv.gz", "--label", "jan", "--quiet"]).status == 0)
        let failed = try h.run(["report", "--contacts", "truncated.csv.gz", "legacy.csv.gz", "--label", "bad", "--quiet"])
        #expect(failed.status == 1)
        let runs = try h.runs()
        #expect(runs.count == 2)
        #expect(runs[0]["status"] as? String == "failed")
        #expect((runs[0]["error"] as? String)?.contains("truncated gzip stream") == true)
        // A run that failed before its results were written still lists the inputs it was given,
        // and `show` says why it has nothing to show.
        #expect(runs[0]["inputs"] as? [String] == ["truncated.csv.gz", "legacy.csv.gz"])
        let failedID = try #require(runs[0]["id"] as? String)
        let shown = try h.run(["show", failedID])
        #expect(shown.status == 2)
        #expect(shown.stderr.hasPrefix("headcount: run \(failedID) failed (truncated.csv.gz: byte "), "\(shown.stderr)")
        #expect(shown.stderr.contains("truncated gzip stream"))
        #expect(shown.stderr.contains("): it has no results to show"))
        // By its label: labels name complete runs, and this one has none.
        let byLabel = try h.run(["show", "bad"])
        #expect(byLabel.status == 2)
        #expect(byLabel.stderr.hasPrefix("headcount: no complete run labelled 'bad': the latest, \(failedID), failed "
                                         + "(truncated.csv.gz: byte "), "\(byLabel.stderr)")
        #expect(byLabel.stderr.hasSuffix(") (see headcount runs)\n"))
        #expect(runs[1]["status"] as? String == "complete")
        #expect(runs[1]["label"] as? String == "jan")
        #expect(runs[1]["legacy_contacts"] as? Int == 8)
        #expect(runs[1]["global_contacts"] as? Int == 7)
        #expect(runs[1]["teams"] as? Int == 3)
        #expect(runs[1]["inputs"] as? [String] == ["legacy.csv.gz"])
        #expect(FileManager.default.fileExists(atPath: h.dir + "/Reports/headcount.sqlite"))
        let table = try h.run(["runs"])
        #expect(table.stdout.hasPrefix("ID "))
        #expect(table.stdout.contains("complete") && table.stdout.contains("failed"))
        // The failed run's error on the line under it; no line ends in blanks.
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        #expect(lines[1].hasPrefix(runs[0]["id"] as? String ?? "?") && lines[1].contains("  failed  ")
                && lines[1].hasSuffix("  truncated.csv.gz legacy.csv.gz"), "\(lines)")
        #expect(lines[2].hasPrefix("  error: truncated.csv.gz: byte ") && lines[2].contains("truncated gzip stream"))
        #expect(lines[3].hasPrefix(runs[1]["id"] as? String ?? "?")
                && lines[3].split(separator: " ").suffix(4) == ["legacy.csv.gz", "3", "8", "7"], "\(lines)")
        #expect(lines.allSatisfy { !$0.hasSuffix(" ") })
    }

    /// A file name may hold a tab or a line feed; `runs` keeps each run on one line, and `--json`
    /// gives the name as it is.
    @Test func runsPrintsEachRunOnOneLine() throws {
        let h = Headcount(); defer { h.cleanup() }
        try FileManager.default.copyItem(atPath: h.dir + "/legacy.csv.gz", toPath: h.dir + "/jan\tfeb\n.csv.gz")
        #expect(try h.report(["jan\tfeb\n.csv.gz"]).status == 0)
        let table = try h.run(["runs"]).stdout
        let lines = table.split(separator: "\n")
        #expect(lines.count == 2, "\(table)")
        #expect(lines.last?.contains("jan\\u{9}feb\\u{A}.csv.gz") == true, "\(table)")
        #expect(try h.runs().first?["inputs"] as? [String] == ["jan\tfeb\n.csv.gz"])
    }

    @Test func noHistoryAndExplicitDatabase() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.report(["legacy.csv.gz"], ["--no-history"])
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/Reports/headcount.sqlite"))
        try h.report(["legacy.csv.gz"], ["--db", "other.sqlite"])
        #expect(try h.run(["runs", "--db", "other.sqlite", "--json"]).stdout.contains("\"complete\""))
    }

    /// The commands that read the history never create one: a mistyped `--db` (or none yet) is
    /// a usage error naming the file.
    @Test func readingAHistoryThatIsNotThereIsAUsageError() throws {
        let h = Headcount(); defer { h.cleanup() }
        for args in [["runs"], ["runs", "--db", "typo.sqlite"], ["show", "jan", "--db", "typo.sqlite"],
                     ["compare", "a", "b", "--db", "typo.sqlite"],
                     ["peak", "--from", "2026-01-01", "--to", "2026-01-31", "--db", "typo.sqlite"]] {
            let r = try h.run(args)
            let file = args.contains("typo.sqlite") ? "typo.sqlite" : "Reports/headcount.sqlite"
            #expect(r.status == 2, "\(args)")
            #expect(r.stderr == "headcount: \(file): no run history here (headcount report records runs; --db chooses the file)\n",
                    "\(args)")
        }
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/typo.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/Reports"))
    }

    @Test func showWritesTheSameReportsFromTheHistoryAlone() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["report", "--contacts", "legacy.csv.gz", "--out", "original", "--label", "jan", "--quiet"])
        try FileManager.default.removeItem(atPath: h.dir + "/legacy.csv.gz")
        let shown = try h.run(["show", "jan", "--out", "again"])
        #expect(shown.status == 0)
        for name in ["teams.csv", "audiences.csv", "summary.json"] {
            #expect(FileManager.default.contentsEqual(atPath: h.dir + "/original/" + name,
                                                      andPath: h.dir + "/again/" + name), "\(name)")
        }
        #expect(try h.run(["show", "no-such-run"]).status == 2)
    }

    /// A run's rejects.csv comes back from the history too (whatever the formats, as `report`
    /// writes it), and report.html lists the same first rejects.
    @Test func showWritesTheRejectsAgain() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(try h.run(["report", "--contacts", "invalid.csv.gz", "--out", "original", "--label", "bad",
                           "--quiet"]).status == 0)
        try FileManager.default.removeItem(atPath: h.dir + "/invalid.csv.gz")
        let shown = try h.run(["show", "bad", "--out", "again"])
        #expect(shown.status == 0 && shown.stderr.isEmpty)
        #expect(shown.stdout.contains("teams.csv, audiences.csv, summary.json, report.html, rejects.csv in again/"))
        // report.html too: the same figures, first rejects, and rules in the run's order.
        for name in ["teams.csv", "audiences.csv", "summary.json", "rejects.csv", "report.html"] {
            #expect(FileManager.default.contentsEqual(atPath: h.dir + "/original/" + name,
                                                      andPath: h.dir + "/again/" + name), "\(name)")
        }
        func examples(_ folder: String) -> Int {
            (shown.file("report.html", in: folder) ?? "").components(separatedBy: "invalid.csv.gz</td><td class=\"n\">").count - 1
        }
        #expect(examples("original") == 10 && examples("again") == 10)
        let json = try h.run(["show", "bad", "--out", "json", "--format", "json"])
        #expect(json.files(in: "json") == ["rejects.csv", "summary.json"])
    }

    /// Ids are kept byte for byte: a team or audience id holding a NUL byte came back from the
    /// history cut at it ("t\0" + "1" as "t"), and `show` wrote another teams.csv.
    @Test func showKeepsIdsWithNulBytes() throws {
        let h = Headcount(); defer { h.cleanup() }
        let text = "team_id,audience_id,email\nt\u{0}1,a\u{0}b,a@x.io\nt1,a,b@x.io\nt,a,c@x.io\n"
        #expect(FileManager.default.createFile(atPath: h.dir + "/nul.csv", contents: Data(text.utf8)))
        #expect(try h.run(["report", "--contacts", "nul.csv", "--out", "original", "--label", "nul", "--quiet"]).status == 0)
        let shown = try h.run(["show", "nul", "--out", "again"])
        #expect(shown.status == 0)
        #expect(body(shown.file("teams.csv", in: "again")).map { String($0.prefix(3)) } == ["t,1", "t\u{0}1", "t1,"])
        for name in ["teams.csv", "audiences.csv", "summary.json"] {
            #expect(FileManager.default.contentsEqual(atPath: h.dir + "/original/" + name,
                                                      andPath: h.dir + "/again/" + name), "\(name)")
        }
    }

    @Test func compareAnswersTheMigrationQuestionInOneCommand() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["report", "--contacts", "legacy.csv.gz", "--label", "before", "--quiet"])
        try h.run(["report", "--contacts", "global-contacts.csv.gz", "--memberships", "global-memberships.csv.gz",
                   "--label", "after", "--quiet"])
        let r = try h.run(["compare", "before", "after", "--out", "cmp"])
        #expect(r.status == 0)
        #expect(r.file("compare.csv", in: "cmp") == """
            team_id,presence,before_legacy,before_global,after_legacy,after_global,change_global,change_pct,legacy_to_global_change,legacy_to_global_pct
            t1,both,4,3,3,3,0,0.00,-1,-25.00
            t2,both,3,2,1,1,-1,-50.00,-2,-66.67
            t3,removed,1,2,0,0,-2,-100.00,-1,-100.00

            """)
        let json = try JSONSerialization.jsonObject(with: Data(r.file("compare.json", in: "cmp")!.utf8)) as! [String: Any]
        let totals = json["totals"] as! [String: Any]
        #expect(totals["before_legacy"] as? Int == 8 && totals["after_global"] as? Int == 4)
        #expect(json["removed"] as? [String] == ["t3"])
    }

    @Test func eightConcurrentRunsAreAllRecorded() throws {
        let h = Headcount(); defer { h.cleanup() }
        /// What each run ended with, filled from the threads that wait for them.
        final class Outcomes: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var statuses: [Int32] = []
            private(set) var errors: [String] = []
            func add(_ status: Int32, _ error: String) {
                lock.lock(); statuses.append(status); errors.append(error); lock.unlock()
            }
        }
        let outcomes = Outcomes()
        let group = DispatchGroup()
        for i in 0..<8 {
            DispatchQueue.global().async(group: group) {
                let r = try? h.run(["report", "--contacts", "legacy.csv.gz", "--out", "out\(i)", "--label", "p\(i)",
                                    "--quiet"])
                outcomes.add(r?.status ?? -1, r?.stderr ?? "not started")
            }
        }
        group.wait()
        #expect(outcomes.statuses == Array(repeating: 0, count: 8), "\(outcomes.errors.filter { !$0.isEmpty })")
        let runs = try h.runs()
        #expect(runs.count == 8)
        #expect(Set(runs.compactMap { $0["label"] as? String }) == Set((0..<8).map { "p\($0)" }))
        #expect(runs.allSatisfy { $0["status"] as? String == "complete" && $0["global_contacts"] as? Int == 7 })
    }

    @Test func aKilledRunIsShownAsAbandonedAndLeavesNoReport() throws {
        let h = Headcount(); defer { h.cleanup() }
        let (p, stdin, _) = try h.spawn(["report", "--contacts", "-", "--out", "out", "--quiet"])
        stdin.fileHandleForWriting.write(Data("team_id,email\nt1,a@b.c\n".utf8))
        #expect(h.waitFor { (try? h.runs())?.first?["status"] as? String == "running" })
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(try h.runs().first?["status"] as? String == "abandoned")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/out")) ?? []
        #expect(leftovers.allSatisfy { $0.hasPrefix(".") }, "only temporary files, no report: \(leftovers)")
        #expect(leftovers.contains { $0.hasPrefix(".rejects.csv.tmp-") }, "\(leftovers)")
        // The next run into the same folder removes them.
        #expect(try h.report(["legacy.csv.gz"]).status == 0)
        let after = try FileManager.default.contentsOfDirectory(atPath: h.dir + "/out").sorted()
        #expect(after == ["audiences.csv", "rejects.csv", "report.html", "summary.json", "teams.csv"], "\(after)")
    }

    @Test(arguments: [(SIGINT, Int32(130), "SIGINT"), (SIGTERM, Int32(143), "SIGTERM")])
    func anInterruptedRunIsRecordedFailedAndCleansUp(signal: Int32, status: Int32, name: String) throws {
        let h = Headcount(); defer { h.cleanup() }
        let (p, stdin, stderr) = try h.spawn(["report", "--contacts", "-", "--out", "out", "--quiet"])
        stdin.fileHandleForWriting.write(Data("team_id,email\nt1,a@b.c\n".utf8))
        #expect(h.waitFor { (try? h.runs())?.first?["status"] as? String == "running" })
        #expect(h.waitFor { FileManager.default.fileExists(atPath: h.dir + "/out") })
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        #expect(p.terminationStatus == status)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message == "headcount: interrupted by \(name); no report written\n")
        let run = try h.runs().first
        #expect(run?["status"] as? String == "failed")
        #expect(run?["error"] as? String == "interrupted by \(name)")
        #expect(run?["inputs"] as? [String] == ["-"])
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/out")) ?? []).isEmpty,
                "temporary files removed, no report")
    }
}
