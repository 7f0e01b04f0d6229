import Foundation
import Testing

/// Faults a billing job must survive: a clear one-line error, the right exit status,
/// no partial report, nothing lost from the history.
@Suite struct FaultTests {
    func shell(_ h: Headcount, _ script: String) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: h.dir)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    @Test func anOutputFolderThatCannotBeWrittenFailsCleanly() throws {
        let h = Headcount(); defer { h.cleanup() }
        #expect(FileManager.default.createFile(atPath: h.dir + "/a-file", contents: Data()))
        for out in ["a-file", "/proc/headcount-cannot-write-here"] {
            let r = try h.run(["report", "--contacts", "legacy.csv.gz", "--out", out, "--quiet"])
            #expect(r.status == 1, "\(out)")
            #expect(r.stderr.contains("cannot create the output folder"), "\(out): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        let runs = try h.runs()
        #expect(runs.count == 2 && runs.allSatisfy { $0["status"] as? String == "failed" }, "recorded as failed")
    }

    @Test func aFullDiskLeavesNoPartialReport() throws {
        let h = Headcount(); defer { h.cleanup() }
        // 8 KiB per file: the HTML report (and teams.csv of the generated dump) cannot be written.
        try h.run(["generate", "--teams", "300", "--rows", "20000", "--out", "big"])
        let r = try shell(h, "ulimit -f 8; exec '\(Headcount.binary)' report --contacts big/contacts.csv.gz --out out --no-history --quiet")
        #expect(r.status == 1)
        #expect(r.stderr.contains("write failed"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/out")) ?? []).isEmpty)
    }

    /// A report file's name taken by a folder: renaming the staged files into place would stop
    /// at that file, after the ones before it had replaced the earlier run's. Nothing is moved,
    /// the earlier report stays whole, and the run, already recorded as complete, is failed.
    @Test func aFolderInTheWayOfOneReportFilePublishesNone() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.report(["legacy.csv.gz"], ["--label", "first"])
        let before = try FileManager.default.contentsOfDirectory(atPath: h.dir + "/out").sorted()
        let earlier = try Dictionary(uniqueKeysWithValues: before.map { ($0, try Data(contentsOf: URL(fileURLWithPath: h.dir + "/out/" + $0))) })
        for name in ["report.html", "teams.csv"] {
            try FileManager.default.removeItem(atPath: h.dir + "/out/" + name)
            try FileManager.default.createDirectory(atPath: h.dir + "/out/" + name + "/inside", withIntermediateDirectories: true)
            let r = try h.report(["legacy.csv.gz", "part-a.csv"], ["--label", "second"])
            #expect(r.status == 1, "\(name)")
            #expect(r.stderr.contains("out/\(name)") && r.stderr.contains("a folder"), "\(name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
            for (file, bytes) in earlier where file != name {
                #expect(try Data(contentsOf: URL(fileURLWithPath: h.dir + "/out/" + file)) == bytes, "\(file) is the first run's")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir + "/out").sorted() == before, "no staged file left")
            try FileManager.default.removeItem(atPath: h.dir + "/out/" + name)
            #expect(FileManager.default.createFile(atPath: h.dir + "/out/" + name, contents: earlier[name]))
        }
        let runs = try h.runs()
        #expect(runs.map { $0["status"] as? String } == ["failed", "failed", "complete"], "\(runs)")
    }

    /// The system refuses a hash table its memory, as it does under an address-space limit
    /// (`ulimit -v`; here `HEADCOUNT_REFUSE_MAPPINGS_FROM`, which refuses mappings of 64 KiB and
    /// more: the tables outgrow that at about 200,000 contacts). One line, exit status 1, no
    /// report, no output folder or spill file left, and the run failed in the history, whichever
    /// thread asked for the table.
    @Test(arguments: [1, 2])
    func memoryTheSystemRefusesEndsTheRunCleanly(threads: Int) throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["generate", "--teams", "300", "--rows", "250000", "--out", "big"])
        try FileManager.default.createDirectory(atPath: h.dir + "/tmp", withIntermediateDirectories: true)
        let r = try h.run(["report", "--contacts", "big/contacts.csv.gz", "--out", "out", "--quiet", "--temp-dir", "tmp",
                           "--threads", "\(threads)"], env: ["HEADCOUNT_REFUSE_MAPPINGS_FROM": "65536"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("headcount: out of memory: the system refused 65536 bytes"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/out"), "the output folder it made is gone")
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.dir + "/tmp").isEmpty, "no spill files left")
        let runs = try h.runs()
        #expect(runs.count == 1 && runs[0]["status"] as? String == "failed")
        #expect((runs[0]["error"] as? String)?.hasPrefix("out of memory") == true, "\(runs)")
        // Without the refusal the same run completes.
        #expect(try h.report(["big/contacts.csv.gz"]).status == 0)
    }

    /// A run killed outright (SIGKILL, as the kernel's out-of-memory killer kills) cannot remove
    /// its spill files; the next run that spills into the same folder does, and leaves the
    /// folder empty when it ends.
    @Test func theSpillFilesOfARunKilledOutrightAreRemovedByTheNextRun() throws {
        let h = Headcount(); defer { h.cleanup() }
        try FileManager.default.createDirectory(atPath: h.dir + "/tmp", withIntermediateDirectories: true)
        let (p, stdin, _) = try h.spawn(["report", "--contacts", "-", "--out", "out", "--no-history", "--quiet",
                                         "--memory-limit", "1MiB", "--temp-dir", "tmp"])
        var rows = "team_id,email\n"
        for i in 0..<200_000 { rows += "t\(i % 7),a\(i)@example.com\n" }
        stdin.fileHandleForWriting.write(Data(rows.utf8))
        func spillFolders() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/tmp")) ?? []).filter { $0.hasPrefix("headcount-spill-") }
        }
        func spillFiles() -> [String] {
            spillFolders().flatMap { ((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/tmp/" + $0)) ?? []) }
        }
        #expect(h.waitFor { spillFiles().contains { $0.hasPrefix("partition-") } }, "the run spills")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let left = spillFolders()
        #expect(left.count == 1, "\(left)")
        #expect(spillFiles().contains(".owner"))
        #expect(FileManager.default.createFile(atPath: h.dir + "/rows.csv", contents: Data(rows.utf8)))
        let next = try h.run(["report", "--contacts", "rows.csv", "--out", "next", "--no-history", "--quiet",
                              "--memory-limit", "1MiB", "--temp-dir", "tmp"])
        #expect(next.status == 0, "\(next.stderr)")
        let after = try FileManager.default.contentsOfDirectory(atPath: h.dir + "/tmp")
        #expect(after == [], "the killed run's folder is gone too: \(after)")
    }

    /// The system starts no more threads (a limit on processes, or on address space): here
    /// `HEADCOUNT_MAX_THREADS`, which refuses threads past a count. Work shared out among
    /// threads (growing and tallying the tables, rendering, recording the history) runs on the
    /// threads there are, with the same reports; a reading stage that cannot start ends the
    /// run with one line, at once, instead of waiting for a thread forever.
    @Test func threadsTheSystemRefusesNeverHangTheRun() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["generate", "--teams", "300", "--rows", "250000", "--out", "big"])
        let full = try h.run(["report", "--contacts", "big/contacts.csv.gz", "--out", "full", "--quiet"])
        #expect(full.status == 0)
        // A file's two reading threads (decompressing, scanning) and no other.
        let two = try h.run(["report", "--contacts", "big/contacts.csv.gz", "--out", "two", "--quiet"],
                            env: ["HEADCOUNT_MAX_THREADS": "2"])
        #expect(two.status == 0, "\(two.stderr)")
        for name in ["teams.csv", "audiences.csv", "rejects.csv"] {
            #expect(two.file(name, in: "two") == full.file(name, in: "full"), "\(name)")
        }
        // A join needs a third, for the contact index (started first).
        let join = try h.run(["report", "--contacts", "global-contacts.csv.gz", "--memberships",
                              "global-memberships.csv.gz", "--out", "join", "--quiet"],
                             env: ["HEADCOUNT_MAX_THREADS": "2"])
        #expect(join.status == 1)
        #expect(join.stderr.hasPrefix("headcount: global-contacts.csv.gz: cannot start a thread for scanning: "),
                "\(join.stderr)")
        #expect(join.stderr.split(separator: "\n").count == 1)
        let none = try h.run(["report", "--contacts", "big/contacts.csv.gz", "--out", "none", "--quiet"],
                             env: ["HEADCOUNT_MAX_THREADS": "0"])
        #expect(none.status == 1)
        #expect(none.stderr == "headcount: big/contacts.csv.gz: cannot start a thread for decompressing: the system "
                + "refused one (a limit on processes or on memory)\n", "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/none"))
        let runs = try h.runs()
        #expect(runs.map { $0["status"] as? String } == ["failed", "failed", "complete", "complete"], "\(runs)")
    }

    /// Faulting in the contact index's grown array on a thread of its own only makes the run
    /// sooner: that thread never takes the place of one the run needs. A join of two files needs
    /// five (the index, and two per file). Read from a pipe, whose size is unknown, the index's
    /// array starts at 131,072 entries, and 140,000 numbered contacts grow it (too few for the
    /// counting tables to grow).
    @Test func faultingInTheIndexTakesNoThreadTheRunNeeds() throws {
        let h = Headcount(); defer { h.cleanup() }
        var contacts = "team_id,contact_id,email\n", memberships = "contact_id,audience_id\n"
        for id in 1...140_000 {
            contacts += "t\(id % 7),\(id),p\(id)@x.io\n"
            if id % 3 == 0 { memberships += "\(id),a\(id % 5)\n" }
        }
        try Data(memberships.utf8).write(to: URL(fileURLWithPath: h.dir + "/memberships.csv"))
        let args = ["report", "--contacts", "-", "--memberships", "memberships.csv", "--no-history", "--quiet"]
        let full = try h.run(args + ["--out", "full"], stdin: Array(contacts.utf8))
        #expect(full.status == 0, "\(full.stderr)")
        let five = try h.run(args + ["--out", "five"], stdin: Array(contacts.utf8), env: ["HEADCOUNT_MAX_THREADS": "5"])
        #expect(five.status == 0, "\(five.stderr)")
        for name in ["teams.csv", "audiences.csv"] {
            #expect(five.file(name, in: "five") == full.file(name, in: "full"), "\(name)")
        }
        // Team t0: the 20,000 ids divisible by 7, of which the 6,666 divisible by 21 are in one of
        // five audiences.
        #expect(full.file("teams.csv", in: "full")?.contains("\nt0,20000,5,6666,20000,0,0.00,0,13334,0\n") == true,
                "\(full.file("teams.csv", in: "full") ?? "")")
    }

    @Test func aHistoryLockedLongerThanTheBusyTimeoutFailsTheRun() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.report(["legacy.csv.gz"], ["--label", "first"])
        // Another writer holds the database for 4 s; this run waits 0.5 s.
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect("Reports/headcount.sqlite", isolation_level=None)
            c.execute("BEGIN EXCLUSIVE"); print("locked", flush=True); time.sleep(4)
            """]
        locker.currentDirectoryURL = URL(fileURLWithPath: h.dir)
        let ready = Pipe()
        locker.standardOutput = ready
        try locker.run()
        _ = ready.fileHandleForReading.availableData   // "locked"
        let r = try h.run(["report", "--contacts", "legacy.csv.gz", "--out", "locked", "--quiet"],
                          env: ["HEADCOUNT_BUSY_TIMEOUT_MS": "500"])
        locker.waitUntilExit()
        #expect(r.status == 1)
        #expect(r.stderr.contains("history database") && r.stderr.contains("locked"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.dir + "/locked/teams.csv"))
        let runs = try h.runs()
        #expect(runs.count == 1 && runs[0]["label"] as? String == "first" && runs[0]["status"] as? String == "complete",
                "the earlier run is intact")
    }

    @Test func aFailedRunOnAnOpenPipeEndsAtOnce() throws {
        let h = Headcount(); defer { h.cleanup() }
        // --strict fails on the first reject; the pipe stays open, and the run must not wait for it.
        let (p, stdin, stderr) = try h.spawn(["report", "--contacts", "-", "--strict", "--out", "out", "--no-history"])
        var rows = "team_id,email\n"
        for i in 0..<5000 { rows += "t1,\(i % 100 == 0 ? "bad" : "a\(i)@x.io")\n" }
        stdin.fileHandleForWriting.write(Data(rows.utf8))
        #expect(h.waitFor({ !p.isRunning }, seconds: 20), "the run ended without its input ending")
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        #expect(p.terminationStatus == 1)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("more than 0 rows rejected"))
        try? stdin.fileHandleForWriting.close()
    }

    @Test func aHundredMegabyteLineIsOneRejectNotACrash() throws {
        let h = Headcount(); defer { h.cleanup() }
        let path = h.dir + "/long.csv"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("team_id,email\nt1,a@x.io\nt1,".utf8)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        let block = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<100 { try handle.write(contentsOf: block) }
        try handle.write(contentsOf: Data("@x.io\nt1,b@x.io\n".utf8))
        try handle.close()
        let r = try h.report(["long.csv"], ["--no-history"])
        #expect(r.status == 0)
        // Its team column, before the long field, is readable: t1's rejected row.
        #expect(body(r.file("teams.csv")) == ["t1,3,0,0,2,0,0.00,0,2,1"])
        let rejects = body(r.file("rejects.csv"))
        #expect(rejects.count == 1 && rejects[0].hasPrefix("long.csv,3,malformed_row,\"t1,xxx"))
        #expect(rejects[0].count < 1100, "the raw row is cut at 1 KiB")
    }

    @Test func aMillionFieldsIsOneReject() throws {
        let h = Headcount(); defer { h.cleanup() }
        let row = "t1," + String(repeating: "a,", count: 1_000_000) + "\n"
        #expect(FileManager.default.createFile(atPath: h.dir + "/wide.csv",
                                               contents: Data(("team_id,email\n" + row + "t1,b@x.io\n").utf8)))
        let r = try h.report(["wide.csv"], ["--no-history"])
        #expect(r.status == 0)
        // The wide row's first field, its team column, is readable: t1's rejected row.
        #expect(body(r.file("teams.csv")) == ["t1,2,0,0,1,0,0.00,0,1,1"])
        #expect(body(r.file("rejects.csv")).first?.hasPrefix("wide.csv,2,malformed_row,") == true)
    }

    @Test func nulBytesAndInvalidUTF8Everywhere() throws {
        let h = Headcount(); defer { h.cleanup() }
        var bytes = Array("team_id,audience_id,email\n".utf8)
        bytes += Array("t\u{0}1,a1,a@x.io\n".utf8)                  // NUL in a team id: a team of its own
        bytes += [0x74, 0xFF, 0x2C, 0x61, 0x2C, 0x62, 0x40, 0x78, 0x0A]   // invalid UTF-8 team id
        bytes += Array("t1,a\u{0},c@x.io\n".utf8)                   // NUL in an audience id
        bytes += [0x74, 0x31, 0x2C, 0xC3, 0x2C, 0x64, 0x40, 0x78, 0x0A]   // invalid UTF-8 audience id
        bytes += Array("t1,a1,e\u{0}@x.io\n".utf8)                  // NUL in an address: a control character
        bytes += [0x74, 0x31, 0x2C, 0x61, 0x31, 0x2C, 0x66, 0xFE, 0x40, 0x78, 0x0A]   // invalid UTF-8 address
        bytes += Array("\u{0}\u{0}\u{0}\n".utf8)                    // NULs alone: one field, a malformed row
        bytes += Array("t1,a1,ok@x.io\n".utf8)
        #expect(FileManager.default.createFile(atPath: h.dir + "/nul.csv", contents: Data(bytes)))
        let r = try h.report(["nul.csv"], ["--no-history"])
        #expect(r.status == 0)
        // Byte order puts "t\0" before "t1". The invalid team id has no team, so t1 has 3 rejects.
        #expect(body(r.file("teams.csv")) == ["t\u{0}1,1,1,1,1,0,0.00,0,0,0", "t1,5,2,2,2,0,0.00,0,0,3"])
        let reasons = body(r.file("rejects.csv")).map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
        #expect(reasons == ["nul.csv,3,invalid_utf8", "nul.csv,5,invalid_utf8", "nul.csv,6,invalid_email",
                            "nul.csv,7,invalid_utf8", "nul.csv,8,malformed_row"])
    }
}
