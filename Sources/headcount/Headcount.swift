import ArgumentParser
import Foundation
import HeadcountCore
#if canImport(Glibc)
import Glibc
#endif

@main
struct Headcount: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "headcount",
        abstract: "Count unique contacts per team under the per-audience and the global billing models.",
        discussion: """
            Headcount streams gzipped (or plain) contact and membership dumps, counts \
            distinct emails per team exactly, writes CSV, JSON and HTML reports, and records \
            every run in a history that runs, show, compare and peak read.

            Exit status: 0 success; 1 the run failed on its data or environment; \
            2 usage error (bad flags, missing file or column); 130/143 interrupted.
            """,
        version: HeadcountVersion.current,
        subcommands: [Report.self, Runs.self, Show.self, Compare.self, Peak.self, Generate.self, Demo.self]
    )

    /// Parses, runs, and maps every outcome to the SPEC's exit statuses in one place.
    static func main() {
        signal(SIGXFSZ, SIG_IGN)   // a file-size limit becomes a write error, not a silent kill
        Interrupts.install()
        PageMemory.refused = { error in
            // From whichever thread asked first; any other waits here while this one exits.
            refusal.lock()
            ActiveRun.markFailed(error.message)
            exit(with: error)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as HeadcountError {
            exit(with: error)
        } catch {
            let code = exitCode(for: error)
            if code == .success || error is CleanExit {
                Self.exit(withError: error)
            }
            if let exitCode = error as? ExitCode { Glibc.exit(exitCode.rawValue) }
            // Argument errors: one line, then the SPEC's usage status.
            let message = Self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandleOutput.standardError("headcount: \(message) (see headcount --help)")
            Glibc.exit(2)
        }
    }

    /// Held by the first thread whose table the system refused memory.
    static let refusal = NSLock()

    static func exit(with error: HeadcountError) -> Never {
        FileHandleOutput.standardError(Terminal.error("headcount:") + " \(error)")
        TemporaryFiles.removeAll()
        switch error.code {
        case .usage: Glibc.exit(2)
        case .data, .environment: Glibc.exit(1)
        case .interrupted: Glibc.exit(128 + (error.signal ?? SIGINT))
        }
    }
}

/// Colour only on a terminal, and never with NO_COLOR set (no-color.org).
enum Terminal {
    static let colorOut = isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    static let colorErr = isatty(2) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func dim(_ s: String) -> String { colorOut ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    static func bold(_ s: String) -> String { colorOut ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    static func error(_ s: String) -> String { colorErr ? "\u{1B}[31;1m\(s)\u{1B}[0m" : s }
}

/// Writes a line to standard error (or out), ignoring a closed pipe (SIGPIPE is ignored,
/// so `headcount … | head` ends quietly). The bytes are written as they are: a C string would
/// end the line at a NUL byte and lose its line feed.
enum FileHandleOutput {
    static func standardError(_ text: String) { write(text, to: stderr) }

    static func standardOutput(_ text: String) { write(text, to: stdout) }

    private static func write(_ text: String, to stream: UnsafeMutablePointer<FILE>) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        var bytes = Array(line.utf8)
        _ = fwrite(&bytes, 1, bytes.count, stream)
    }
}

/// SIGINT and SIGTERM: remove temporary files, record the run as failed, exit 130 or 143.
///
/// Taken by a thread of their own (`sigwait`), started before any work, not in a signal
/// handler, so that the history can be written safely; and not by the system's thread pool,
/// which, when the system will not start a thread, would leave them waiting for one.
enum Interrupts {
    /// What the message says an interrupted command leaves (set before the command writes).
    nonisolated(unsafe) static var nothingWritten = "no report written"

    static func install() {
        signal(SIGPIPE, SIG_IGN)
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        // Blocked here, and so in every thread started from now on; the one below takes them.
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let started = Workers.start(limited: false, name: "hc-signals") {
            var wanted = signals
            var sig: Int32 = 0
            while sigwait(&wanted, &sig) != 0 {}
            let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
            TemporaryFiles.removeAll()
            ActiveRun.markInterrupted(by: name)
            TemporaryFiles.removeAll()
            FileHandleOutput.standardError("headcount: interrupted by \(name); \(nothingWritten)")
            _exit(128 + sig)
        }
        // Without that thread, a signal ends the process as it would by default.
        if !started { pthread_sigmask(SIG_UNBLOCK, &signals, nil) }
    }
}
