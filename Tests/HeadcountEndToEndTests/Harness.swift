import Foundation
import Testing

/// Runs the built `headcount` binary in a temporary folder.
struct Headcount {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The output folder used with `--out out` (relative to `dir`).
        var dir: String

        func file(_ name: String, in folder: String = "out") -> String? {
            // Lossy on purpose: rejects.csv keeps invalid UTF-8 from the input as it was.
            (try? Data(contentsOf: URL(fileURLWithPath: dir + "/" + folder + "/" + name)))
                .map { String(decoding: $0, as: UTF8.self) }
        }

        func files(in folder: String = "out") -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/" + folder)) ?? []).sorted()
        }
    }

    /// The binary next to the test bundle (`swift test` builds it first).
    static let binary: String = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("headcount").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/headcount").path
    }()

    /// The folder of committed fixture dumps.
    static let fixtures: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    let dir: String

    init() {
        dir = NSTemporaryDirectory() + "headcount-e2e-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in try! FileManager.default.contentsOfDirectory(atPath: Self.fixtures) {
            try! FileManager.default.copyItem(atPath: Self.fixtures + "/" + name, toPath: dir + "/" + name)
        }
    }

    /// Runs `headcount args…` with `stdin` piped in, or the file `stdinFile` (in `dir`) as its
    /// standard input, as a shell's `< file` gives it; environment gets `env` added.
    @discardableResult
    func run(_ args: [String], stdin: [UInt8]? = nil, stdinFile: String? = nil,
             env: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        if let stdinFile {
            guard let file = FileHandle(forReadingAtPath: dir + "/" + stdinFile) else {
                throw HarnessError(description: "no file \(stdinFile)")
            }
            p.standardInput = file
        }
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()
        // Both pipes at once: read one after the other, a run that fills the second (a
        // sanitizer's report at exit is longer than a pipe holds) would wait on it forever.
        // On a thread of its own: from Dispatch's pool, while tests that start several runs at
        // once hold its threads, it waited seconds for one.
        let e = Collected()
        let done = DispatchSemaphore(value: 0)
        Thread {
            e.data = err.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e.data, as: UTF8.self), dir: dir)
    }

    /// Runs `headcount args…` on a pseudo-terminal (util-linux `script`), as from a user's
    /// shell: standard output and standard error are the terminal, and come back together.
    func runOnTerminal(_ args: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = ([Self.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        p.arguments = ["-qec", command.joined(separator: " "), "/dev/null"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    /// `report --contacts <contacts…> --out out --quiet` plus `extra`.
    @discardableResult
    func report(_ contacts: [String], _ extra: [String] = []) throws -> Result {
        try run(["report", "--contacts"] + contacts + ["--out", "out", "--quiet"] + extra)
    }

    /// Starts `headcount args…` with standard input left open (the run waits for it).
    func spawn(_ args: [String]) throws -> (process: Process, stdin: Pipe, stderr: Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let input = Pipe(), err = Pipe()
        p.standardInput = input
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, input, err)
    }

    /// `runs --json` parsed.
    func runs() throws -> [[String: Any]] {
        let r = try run(["runs", "--json"])
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) else {
            // Say what `runs` said: an empty answer was seen once under a full parallel test run.
            throw HarnessError(description: "runs --json exited \(r.status) with stdout "
                               + "\(r.stdout.debugDescription) and stderr \(r.stderr.debugDescription)")
        }
        return (parsed as? [[String: Any]]) ?? []
    }

    /// Waits until `path` exists (a run has reached a point), at most `seconds`.
    func waitFor(_ check: () throws -> Bool, seconds: Double = 20) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try check() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}

/// Lines of a CSV report without its header.
func body(_ csv: String?) -> [String] {
    Array((csv ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropFirst().dropLast().map(String.init))
}

extension Headcount.Result {
    /// `file,line,reason` of each row of `rejects.csv` (in `out`).
    var rejectedLines: [String] {
        body(file("rejects.csv")).map { $0.split(separator: ",").prefix(3).joined(separator: ",") }
    }

    /// `rows_read`, `rows_counted`, `rows_rejected` and `rows_filtered` of the first input in
    /// `summary.json` (in `out`).
    func accounting() throws -> [Int?] {
        let json = try JSONSerialization.jsonObject(with: Data((file("summary.json") ?? "").utf8)) as? [String: Any]
        let input = (json?["inputs"] as? [[String: Any]])?.first ?? [:]
        return ["rows_read", "rows_counted", "rows_rejected", "rows_filtered"].map { input[$0] as? Int }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

/// Bytes read on another thread, read after waiting for it.
final class Collected: @unchecked Sendable {
    var data = Data()
}
