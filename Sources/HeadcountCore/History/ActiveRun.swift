import Foundation

/// The run in progress, so that a signal handler can record it as failed.
public enum ActiveRun {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: (database: String, runID: String)?

    static func register(database: String, runID: String) {
        lock.lock(); current = (database, runID); lock.unlock()
    }

    static func clear() {
        lock.lock(); current = nil; lock.unlock()
    }

    /// Records the run in progress as failed because of `signal`; for the signal-handling thread.
    public static func markInterrupted(by name: String) {
        markFailed("interrupted by \(name)")
    }

    /// Records the run in progress as failed with `error`, from any thread, for a failure that
    /// ends the process where it happens (a signal, memory the system refuses).
    public static func markFailed(_ error: String) {
        lock.lock()
        let run = current
        lock.unlock()
        guard let run, let store = try? HistoryStore(path: run.database) else { return }
        try? store.fail(id: run.runID, error: error, finishedAt: Timestamp.iso8601(Date()))
    }
}
