import Foundation
import Testing

/// Peak memory of whole runs, as the system counts it for the child process. Not run under the
/// sanitizers (`.ci/run`), whose shadow memory multiplies it.
@Suite struct MemoryTests {
    /// Forty inputs of 150,000 rows (14 MB of CSV each) read two at a time: only the files being
    /// read hold a decompressing thread and its buffers (about 17 MB), not every file from the
    /// start (740 MB for forty such files of 200,000 rows; 118 MB now). Peak RSS as the system
    /// counts it for the child.
    @Test func manyInputFilesHoldBuffersOnlyWhileTheyAreRead() throws {
        let h = Headcount(); defer { h.cleanup() }
        try h.run(["generate", "--teams", "50", "--rows", "150000", "--seed", "7", "--out", "g"])
        let files = (1...40).map { "g/copy-\($0).csv.gz" }
        // Copies, not links: a file named twice is refused.
        for f in files { try FileManager.default.copyItem(atPath: h.dir + "/g/contacts.csv.gz", toPath: h.dir + "/" + f) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import resource, subprocess, sys
            r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
            print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            """, Headcount.binary, "report", "--contacts"] + files + ["--out", "many", "--no-history", "--quiet",
                                                                      "--threads", "2"]
        p.currentDirectoryURL = URL(fileURLWithPath: h.dir)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let fields = said.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(fields.count == 2 && fields[0] == 0, "\(said)")
        #expect(fields.count == 2 && fields[1] < 200_000, "peak RSS \(fields.last ?? 0) KB for 40 files")
        let rows = try String(contentsOfFile: h.dir + "/many/teams.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .reduce(0) { $0 + Int($1.split(separator: ",")[1])! }
        #expect(rows == 40 * 150_000)
    }
}
