import Foundation
import Testing

@testable import HeadcountCore

/// Scratch folders of runs killed outright are removed by the next run that makes one, and
/// nothing else is (`TemporaryFiles.sweepAbandoned`).
@Suite struct TemporaryFilesTests {
    func folder(_ dir: TemporaryFolder, _ name: String, owner: Bool = true, files: [String] = ["partition-000.bin"]) -> String {
        let path = dir.path + "/" + name
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for file in files + (owner ? [TemporaryFiles.ownerFile] : []) {
            #expect(FileManager.default.createFile(atPath: path + "/" + file, contents: Data("x".utf8)))
        }
        return path
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func onlyTheFoldersOfDeadRunsAreSwept() throws {
        let dir = TemporaryFolder()
        let abandoned = folder(dir, "headcount-spill-1-1", files: ["partition-000.bin", "partition-255.bin"])
        let noOwner = folder(dir, "headcount-spill-2-2", owner: false)
        let live = folder(dir, "headcount-spill-3-3")
        let held = open(live + "/" + TemporaryFiles.ownerFile, O_RDONLY)
        #expect(held >= 0 && flock(held, LOCK_EX) == 0)
        defer { close(held) }
        let hidden = folder(dir, ".headcount-spill-4-4")
        let otherPrefix = folder(dir, "headcount-join-5-5")
        let target = folder(dir, "elsewhere")
        #expect(symlink(target, dir.path + "/headcount-spill-6-6") == 0)

        let made = try TemporaryFiles.makeFolder("headcount-spill", in: dir.path, for: "a spill folder")
        #expect(!exists(abandoned), "a folder whose lock nobody holds")
        #expect(exists(noOwner + "/partition-000.bin"), "no lock file: not known to be abandoned")
        #expect(exists(live + "/partition-000.bin"), "its lock is held: a live run's")
        #expect(exists(hidden + "/partition-000.bin"), "being made")
        #expect(exists(otherPrefix + "/partition-000.bin"), "another prefix")
        #expect(exists(target + "/partition-000.bin") && exists(target + "/" + TemporaryFiles.ownerFile),
                "a link is not followed")

        // The new folder's own lock is held: a second sweep leaves it.
        #expect(exists(made + "/" + TemporaryFiles.ownerFile))
        let other = try TemporaryFiles.makeFolder("headcount-spill", in: dir.path, for: "a spill folder")
        #expect(exists(made))
        TemporaryFiles.removeFolder(made)
        TemporaryFiles.removeFolder(other)
        #expect(!exists(made) && !exists(other))
    }

    /// A process that has ended, for a pid no process has.
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func onlyTheTemporaryReportFilesOfDeadRunsAreSwept() throws {
        let dir = TemporaryFolder()
        let dead = try deadPID()
        let abandoned = dir.write(".teams.csv.tmp-\(dead)", Array("x".utf8))
        let dump = dir.write(".contacts.csv.gz.tmp-\(dead)", Array("x".utf8))
        let notOurs = dir.write(".notes.txt.tmp-\(dead)", Array("x".utf8))
        let alive = dir.write(".rejects.csv.tmp-1", Array("x".utf8))
        let mine = dir.write(".summary.json.tmp-\(getpid())", Array("x".utf8))
        let locked = dir.write(".report.html.tmp-\(dead)", Array("x".utf8))
        let held = open(locked, O_RDONLY)
        #expect(held >= 0 && flock(held, LOCK_EX) == 0)
        defer { close(held) }
        let report = dir.write("teams.csv", Array("kept".utf8))

        let out = try OutputFolder(path: dir.path)
        #expect(!exists(abandoned) && !exists(dump), "a dead run's, unlocked")
        #expect(exists(notOurs), "not a file Headcount writes")
        #expect(exists(alive), "its process lives")
        #expect(exists(mine), "this process's")
        #expect(exists(locked), "its lock is held")
        #expect(exists(report), "reports are not temporary files")

        // A staged file is locked until it is moved into place.
        let sink = try out.open("audiences.csv")
        let probe = open(out.temporaryPath(for: "audiences.csv"), O_RDONLY)
        defer { close(probe) }
        #expect(flock(probe, LOCK_EX | LOCK_NB) != 0, "locked while staged")
        try sink.close()
        try out.commit()
        #expect(flock(probe, LOCK_EX | LOCK_NB) == 0, "let go once in place")
    }
}

