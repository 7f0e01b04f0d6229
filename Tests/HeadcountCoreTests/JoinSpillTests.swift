import Foundation
import Testing
@testable import HeadcountCore

/// The contacts + memberships join on disk (`JoinSpill`): past its share of `--memory-limit`
/// the contact index moves to disk, and the reports stay byte for byte those of a join in
/// memory, rejects included, in file and line order.
@Suite struct JoinSpillTests {
    /// Contacts with numeric and other ids, one filtered by the as-of date and one rejected;
    /// memberships that join, and every way one can fail to, spread over two files.
    func dumps(_ dir: TemporaryFolder) -> (contacts: [String], memberships: [String]) {
        var rng = SplitMix(state: 42)
        var contacts = "team_id,contact_id,email,created_at\n"
        for id in 1...3000 {
            let team = "t\(id % 7)"
            let email = "p\(rng.below(1500))@ex\(id % 3).io"
            let created = id % 97 == 0 ? "2027-01-01" : "2026-01-0\(1 + id % 9)"
            let cid = id % 5 == 0 ? "c\(id)" : "\(id)"
            contacts += "\(team),\(cid),\(id % 211 == 0 ? "not-an-email" : email),\(created)\n"
        }
        // Ids given twice, late in the file (after the index has moved to disk): once more in
        // another team, filtered, or with another email; the join keeps the same entry either way.
        for id in stride(from: 13, to: 3000, by: 250) {
            let cid = id % 5 == 0 ? "c\(id)" : "\(id)"
            switch id % 3 {
            case 0: contacts += "t\((id + 3) % 7),\(cid),again\(id)@ex.io,2026-01-02\n"
            case 1: contacts += "t\(id % 7),\(cid),late\(id)@ex.io,2027-02-02\n"
            default: contacts += "t\(id % 7),\(cid),other\(id)@ex.io,2026-01-03\n"
            }
        }
        func membershipFile(_ seed: UInt64) -> [UInt8] {
            var rng = SplitMix(state: seed)
            var text = Array("contact_id,audience_id,team_id\n".utf8)
            for _ in 0..<4000 {
                let id = 1 + rng.below(3300)   // past 3000: unknown
                let cid = id % 5 == 0 ? "c\(id)" : "\(id)"
                // Mostly its own team; now and then another (unknown_contact).
                let team = rng.below(50) == 0 ? "t\((id + 1) % 7)" : "t\(id % 7)"
                switch rng.below(200) {
                case 0: text += Array("\(cid),,\(team)\n".utf8)                            // invalid_value
                case 1: text += Array("\(cid),".utf8) + [0xFF] + Array(",\(team)\n".utf8)  // invalid_utf8
                case 2: text += Array("\(cid),\"open\n".utf8)                              // malformed
                case 3: text += Array("\(cid),a1\n".utf8)                                  // malformed (fields)
                default: text += Array("\(cid),a\(rng.below(12)),\(team)\n".utf8)
                }
            }
            // An audience id longer than a block of the join's files (it goes to disk unbuffered).
            text += Array("7,\(String(repeating: "x", count: 20_000)),t0\n".utf8)
            return text
        }
        return ([dir.write("contacts.csv", Array(contacts.utf8))],
                [dir.write("m1.csv", membershipFile(1)), dir.write("m2.csv", membershipFile(2))])
    }

    func run(_ dir: TemporaryFolder, _ name: String, memoryLimit: Int, threads: Int,
             maxRejects: Int? = nil, progress: (@Sendable (ProgressSnapshot) -> Void)? = nil) throws -> ReportJob {
        let (contacts, memberships) = dumps(dir)
        var config = ReportConfiguration(contacts: contacts)
        config.progress = progress
        config.memberships = memberships
        config.historyPath = nil
        config.outputDirectory = dir.path + "/" + name
        config.formats = [.csv, .json]
        config.fixedEpoch = 1_767_225_600
        config.asOf = InstantParser.parseAsOf("2026-06-30")
        config.memoryLimit = memoryLimit
        config.threads = threads
        config.temporaryDirectory = dir.path
        config.maxRejects = maxRejects
        let job = ReportJob(configuration: config)
        _ = try job.run()
        return job
    }

    @Test func aJoinOnDiskGivesTheSameReportsAsOneInMemory() throws {
        let dir = TemporaryFolder()
        let memory = try run(dir, "memory", memoryLimit: 1 << 30, threads: 2)
        let disk = try run(dir, "disk", memoryLimit: 1 << 20, threads: 2)
        let oneThread = try run(dir, "disk1", memoryLimit: 1 << 20, threads: 1)
        let fiveThreads = try run(dir, "disk5", memoryLimit: 1 << 20, threads: 5)
        #expect(!memory.joinedOnDisk && disk.joinedOnDisk && oneThread.joinedOnDisk && fiveThreads.joinedOnDisk)
        // The largest part holds the smallest index (1,024 entries of 40 bytes), a few
        // kilobytes of rows and the two 20,000-byte audience ids, about 84 KB: a quarter of
        // 1 MiB holds three parts in flight: three threads, no part more.
        #expect(disk.joinThreads == 2 && oneThread.joinThreads == 1)
        #expect(fiveThreads.joinThreads == 3)
        for name in ["teams.csv", "audiences.csv", "rejects.csv", "summary.json"] {
            let expected = try InputFile.contents(of: dir.path + "/memory/" + name)
            #expect(try InputFile.contents(of: dir.path + "/disk/" + name) == expected, "\(name)")
            #expect(try InputFile.contents(of: dir.path + "/disk1/" + name) == expected, "\(name), one thread")
            #expect(try InputFile.contents(of: dir.path + "/disk5/" + name) == expected, "\(name), five threads")
        }
        // Every kind of membership reject is there, in file and line order.
        let rejects = String(decoding: try InputFile.contents(of: dir.path + "/disk/rejects.csv"), as: UTF8.self)
        for reason in ["unknown_contact", "invalid_value", "invalid_utf8", "malformed_row", "invalid_email"] {
            #expect(rejects.contains(",\(reason),"), "\(reason)")
        }
        // Nothing is left in the temporary directory but the reports.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("headcount-") } == [])
    }

    /// Contact ids numbered per team (1...3000 in each of five teams) and memberships that
    /// name their team: every membership joins its own team's contact, in memory and on disk.
    @Test func idsNumberedPerTeamJoinTheirOwnTeamsContacts() throws {
        let dir = TemporaryFolder()
        var contacts = "team_id,contact_id,email\n", memberships = "contact_id,audience_id,team_id\n"
        for team in 0..<5 {
            for id in 1...3000 {
                contacts += "t\(team),\(id),u\(id)@t\(team).io\n"
                memberships += "\(id),a\(id % 3),t\(team)\n"
                if id % 2 == 0 { memberships += "\(id),b,t\(team)\n" }
            }
        }
        memberships += "1,a0,t9\n"   // a team without contacts: unknown_contact
        let c = dir.write("contacts.csv", Array(contacts.utf8)), m = dir.write("memberships.csv", Array(memberships.utf8))
        var teams: [String: String] = [:]
        for (name, limit) in [("memory", 1 << 30), ("disk", 1 << 20)] {
            var config = ReportConfiguration(contacts: [c])
            config.memberships = [m]
            config.historyPath = nil
            config.outputDirectory = dir.path + "/" + name
            config.formats = [.csv]
            config.memoryLimit = limit
            config.temporaryDirectory = dir.path
            let job = ReportJob(configuration: config)
            _ = try job.run()
            #expect(job.joinedOnDisk == (name == "disk"))
            teams[name] = String(decoding: try InputFile.contents(of: dir.path + "/\(name)/teams.csv"), as: UTF8.self)
            let rejects = String(decoding: try InputFile.contents(of: dir.path + "/\(name)/rejects.csv"), as: UTF8.self)
            #expect(rejects.split(separator: "\n").count == 2, "\(name): only the membership of team t9")
        }
        #expect(teams["disk"] == teams["memory"])
        // Per team: 3,000 contacts, each in one of a0...a2 and every second one in b as well.
        let rows = teams["memory"]!.split(separator: "\n").dropFirst()
        #expect(rows.map { $0.split(separator: ",").prefix(6).joined(separator: ",") }
                == (0..<5).map { "t\($0),3000,4,4500,3000,1500" })
    }

    /// After reading, the progress line hears of every part joined on disk, in order (the
    /// merges of spilled partitions: `CounterTests.everyMergeIsReported`).
    @Test(arguments: [1, 2])
    func progressFollowsTheJoinAndTheMerges(threads: Int) throws {
        let dir = TemporaryFolder()
        final class Steps: @unchecked Sendable {
            let lock = NSLock()
            var all: [ProgressStep] = []
        }
        let steps = Steps()
        _ = try run(dir, "out", memoryLimit: 1 << 20, threads: threads) { snapshot in
            guard let step = snapshot.step else { return }
            steps.lock.lock()
            steps.all.append(step)
            steps.lock.unlock()
        }
        #expect(steps.all.map(\.name) == Array(repeating: "joining on disk", count: JoinSpill.parts))
        #expect(steps.all.map(\.done) == Array(1...JoinSpill.parts))
        #expect(steps.all.allSatisfy { $0.total == JoinSpill.parts })
    }

    /// Rejects found by the join on disk count against `--max-rejects` like any other: the run
    /// fails, writes no report and leaves no temporary file.
    @Test func tooManyRejectsFromAJoinOnDiskFailTheRun() throws {
        let dir = TemporaryFolder()
        _ = try run(dir, "all", memoryLimit: 1 << 20, threads: 2)
        let lines = String(decoding: try InputFile.contents(of: dir.path + "/all/rejects.csv"), as: UTF8.self)
            .split(separator: "\n").dropFirst()
        let fromContacts = lines.filter { $0.contains("contacts.csv,") }.count
        #expect(fromContacts > 0 && lines.count > fromContacts + 10)
        // As many as the contacts have: the limit is passed by a membership joined on disk.
        do {
            _ = try run(dir, "out", memoryLimit: 1 << 20, threads: 2, maxRejects: fromContacts)
            Issue.record("the run did not fail")
        } catch let error as HeadcountError {
            #expect(error.code == .data && error.message.hasPrefix("more than \(fromContacts) rows rejected"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("headcount-") } == [])
    }

    /// Parts decided on several threads are counted in part order, each decided once, and
    /// fewer than `ahead` ahead of the one counted.
    @Test(arguments: [(1, 1), (1, 2), (2, 2), (2, 3), (3, 4), (8, 8), (8, 9)])
    func partsAreCountedInOrderWhateverTheThreads(threads: Int, ahead: Int) throws {
        let dir = TemporaryFolder()
        let spill = try JoinSpill(temporaryDirectory: dir.path)
        let lock = NSLock()
        var decided = [Int](repeating: 0, count: JoinSpill.parts)
        var counted: [Int] = []
        var furthestAhead = 0
        try spill.joinParts(threads: threads, ahead: ahead, decide: { part in
            lock.lock()
            decided[part] += 1
            furthestAhead = max(furthestAhead, part - counted.count)
            lock.unlock()
            usleep(UInt32(part % 3) * 200)
            var p = JoinedPart(lanes: 1, run: JoinSpill.RejectRun(path: dir.path + "/r\(part)"))
            p.indexBytes = part
            return p
        }, consume: { part in
            lock.lock()
            counted.append(part.indexBytes)
            lock.unlock()
        })
        #expect(counted == Array(0..<JoinSpill.parts))
        #expect(decided == Array(repeating: 1, count: JoinSpill.parts))
        #expect(furthestAhead < ahead)
    }

    /// A part that cannot be decided (its file unreadable, say) fails the join with its error,
    /// and every thread has stopped deciding when the join returns.
    @Test(arguments: [1, 2, 4])
    func aPartThatFailsFailsTheJoin(threads: Int) throws {
        let dir = TemporaryFolder()
        let spill = try JoinSpill(temporaryDirectory: dir.path)
        let lock = NSLock()
        var deciding = 0
        var counted = 0
        do {
            try spill.joinParts(threads: threads, ahead: threads + 1, decide: { part in
                lock.lock(); deciding += 1; lock.unlock()
                defer { lock.lock(); deciding -= 1; lock.unlock() }
                usleep(300)
                if part == 37 { throw HeadcountError(.environment, "part 37 is unreadable") }
                return JoinedPart(lanes: 1, run: JoinSpill.RejectRun(path: dir.path + "/r\(part)"))
            }, consume: { _ in counted += 1 })
            Issue.record("the join did not fail")
        } catch let error as HeadcountError {
            #expect(error.message == "part 37 is unreadable")
        }
        lock.lock()
        #expect(deciding == 0)
        lock.unlock()
        #expect(counted <= 37)
        spill.removeAll()
    }

    /// Many runs of random rejects, some empty: the merge gives every reject once, in order.
    @Test func manyRejectRunsMergeInOrder() throws {
        let dir = TemporaryFolder()
        var rng = SplitMix(state: 9)
        var all: [String] = []
        var runs: [JoinSpill.RejectRun] = []
        for k in 0..<40 {
            let run = JoinSpill.RejectRun(path: dir.path + "/run\(k)")
            var rejects: [(lane: Int, line: Int, reason: RejectReason, raw: [UInt8])] = []
            for _ in 0..<(k % 7 == 0 ? 0 : rng.below(300)) {
                let lane = rng.below(3), line = 2 + rng.below(1_000_000)
                rejects.append((lane, line, .unknownContact, Array("\(lane):\(line)".utf8)))
                all.append("\(lane):\(line)")
            }
            if !rejects.isEmpty { try run.write(rejects) }
            runs.append(run)
        }
        var merged: [String] = []
        var last = (lane: -1, line: -1)
        try JoinSpill.mergeRejects(runs) { lane, line, _, raw in
            #expect((last.lane, last.line) <= (lane, line))
            last = (lane, line)
            merged.append(String(decoding: raw, as: UTF8.self))
        }
        #expect(merged.count == all.count && merged.sorted() == all.sorted())
    }

    @Test func partsCoverTheIdsEvenly() {
        var counts = [Int](repeating: 0, count: JoinSpill.parts)
        for n in 1...128_000 {
            counts[JoinSpill.part(of: Array(String(n).utf8).withUnsafeBytes { ContactIndex.key(of: $0) })] += 1
        }
        #expect(counts.min()! > 800 && counts.max()! < 1200, "\(counts.min()!)...\(counts.max()!)")
    }

    @Test func rejectRunsMergeInFileAndLineOrder() throws {
        let dir = TemporaryFolder()
        let a = JoinSpill.RejectRun(path: dir.path + "/a"), b = JoinSpill.RejectRun(path: dir.path + "/b")
        try a.write([(1, 5, .unknownContact, Array("x".utf8)), (0, 9, .invalidValue, []), (0, 2, .malformedRow, [1, 2])])
        try b.write([(0, 3, .invalidUTF8, Array(repeating: 0x41, count: 2000)), (1, 1, .unknownContact, [])])
        var merged: [String] = []
        try JoinSpill.mergeRejects([a, b, JoinSpill.RejectRun(path: dir.path + "/empty")]) { lane, line, reason, raw in
            merged.append("\(lane):\(line):\(reason.rawValue):\(raw.count)")
        }
        #expect(merged == ["0:2:malformed_row:2", "0:3:invalid_utf8:2000", "0:9:invalid_value:0",
                           "1:1:unknown_contact:0", "1:5:unknown_contact:1"])
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/a"))
    }
}
