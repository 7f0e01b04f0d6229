import Foundation
import HeadcountCore

/// The progress line on standard error: bytes read of the total, rows per second and
/// an ETA, redrawn a few times a second; after reading, the step the run is on (the join on
/// disk, the merges of spilled partitions) and how far it is. Only on a terminal and without
/// --quiet.
final class ProgressLine: @unchecked Sendable {
    private let start = Date()
    private var last = Date.distantPast
    private let lock = NSLock()
    private var drawn = false
    /// Redraws per second at most.
    static let interval: TimeInterval = 0.25

    /// nil when standard error is not a terminal or the user asked for quiet.
    static func make(quiet: Bool) -> ProgressLine? {
        quiet || isatty(2) == 0 ? nil : ProgressLine()
    }

    func update(_ p: ProgressSnapshot) {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) >= Self.interval else { return }
        last = now
        if let step = p.step {
            // After reading: what the run is doing, and how far it is.
            let line = "\(NumberFormat.grouped(p.rows)) rows read · \(step.name): \(step.done) of \(step.total)"
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
            drawn = true
            return
        }
        let elapsed = max(now.timeIntervalSince(start), 0.001)
        let rate = Int(Double(p.rows) / elapsed)
        var line = "\(Self.size(p.bytesRead))"
        if p.totalBytes > 0 {
            let fraction = min(1, Double(p.bytesRead) / Double(p.totalBytes))
            line += " of \(Self.size(p.totalBytes)) (\(Int(fraction * 100))%)"
            if fraction > 0.01 {
                let eta = Int(elapsed / fraction - elapsed)
                line += " · ETA \(eta / 60):\(String(format: "%02d", eta % 60))"
            }
        }
        line += " · \(NumberFormat.grouped(p.rows)) rows · \(NumberFormat.grouped(rate)) rows/s"
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        drawn = true
    }

    /// Clears the line before the summary or an error is printed.
    func finish() {
        lock.lock(); defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        drawn = false
    }

    static func size(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(bytes), i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
    }
}
