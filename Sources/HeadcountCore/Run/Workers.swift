import CIntrinsics
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads of the run's own, started with `pthread_create`, instead of Foundation's `Thread`
/// and Dispatch's pool.
///
/// When the system will not start a thread (a limit on processes, `ulimit -u` or a container's
/// `pids.max`, or on address space, `ulimit -v`), `Thread.start` returns as if it had started
/// one that never runs, and Dispatch sleeps until a thread can be made: a run that hangs, and
/// one that SIGTERM no longer ends, since its handler waits for a thread too. Here the failure
/// is seen: work shared out among threads runs on the calling thread instead (`forEach`), and
/// a stage of the reading pipeline, which needs its thread, fails the run with one line
/// (`start`).
public enum Workers {
    /// Stack of a worker: the run's loops keep their data on the heap.
    public static let stackSize = 1 << 20

    private static let lock = NSLock()

    /// Threads beyond this count are refused as the system refuses them at its limit:
    /// `HEADCOUNT_MAX_THREADS`, for the tests of that failure.
    static let allowed = ProcessInfo.processInfo.environment["HEADCOUNT_MAX_THREADS"].flatMap { Int($0) } ?? Int.max
    nonisolated(unsafe) private static var started = 0

    private final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; false, running nothing, when the system refuses one.
    /// - Parameter limited: whether `HEADCOUNT_MAX_THREADS` applies (not to the thread that
    ///   takes the signals, started before any work).
    /// - Parameter name: the thread's name, as `top -H`, `ps -L` and `perf` show it (Linux keeps
    ///   15 bytes); every thread of the run used to show as `headcount`.
    public static func start(limited: Bool = true, name: String = "hc-worker", _ body: @escaping () -> Void) -> Bool {
        if limited {
            lock.lock()
            let allow = started < allowed
            if allow { started += 1 }
            lock.unlock()
            guard allow else { return false }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let job = Unmanaged.passRetained(Job {
            headcount_name_thread(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { context in
            Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, job)
        if rc != 0 {
            Unmanaged<Job>.fromOpaque(job).release()
            return false
        }
        return true
    }

    /// Starts `body` on a new thread, or fails the run when the system refuses one.
    /// - Throws: `.environment`, naming what the thread was for.
    /// - Parameter name: the thread's name (see `start(limited:name:_:)`).
    static func start(_ purpose: String, name: String, _ body: @escaping () -> Void) throws {
        guard start(name: name, body) else {
            throw HeadcountError(.environment, "cannot start a thread for \(purpose): the system refused one "
                                 + "(a limit on processes or on memory)")
        }
    }

    /// Calls `body` once with each of `0..<count`, on `threads` threads (default `count`)
    /// counting this one, and returns when all calls have. Each thread takes the next index not
    /// yet taken, so that one that is done early goes on with the others' work. The calls of a
    /// thread the system refuses run on the threads that did start (at least this one).
    public static func forEach(_ count: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        let threads = min(threads ?? count, count)
        guard threads > 1 else {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The threads reach `body` through this box, which is emptied once they are done,
            // so that no reference to it outlives the call (a started thread's closure is
            // released only after it has said it is done).
            let shared = Shared(body, count: count, threads: threads)
            for _ in 1..<threads where !start({ shared.work() }) {
                shared.finished()
            }
            shared.work()
            shared.waitForAll()
        }
    }

    /// `forEach` for calls that may fail: every call is made, and the error of the lowest index
    /// that failed is thrown once all have returned.
    static func forEach(_ count: Int, threads: Int? = nil, _ body: (Int) throws -> Void) throws {
        let failures = UnsafeMutableBufferPointer<Error?>.allocate(capacity: count)
        failures.initialize(repeating: nil)
        defer {
            _ = failures.deinitialize()
            failures.deallocate()
        }
        forEach(count, threads: threads) { i in
            do { try body(i) } catch { failures[i] = error }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    /// The state `forEach` shares with its threads.
    private final class Shared {
        private let condition = NSCondition()
        private var body: ((Int) -> Void)?
        private let count: Int
        private var next = 0
        /// Threads that will call `work` and have not finished, this one included.
        private var running: Int

        init(_ body: @escaping (Int) -> Void, count: Int, threads: Int) {
            self.body = body
            self.count = count
            running = threads
        }

        /// Calls `body` with each index not yet taken until none is left, then counts this
        /// thread out (its reference to `body` dropped first).
        func work() {
            do {
                condition.lock()
                let body = self.body
                condition.unlock()
                while let body {
                    condition.lock()
                    let i = next
                    next += 1
                    condition.unlock()
                    if i >= count { break }
                    body(i)
                }
            }
            finished()
        }

        /// A thread that will not call `work`: the system refused it.
        func finished() {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }

        /// Waits for every thread to finish, then lets go of `body`.
        func waitForAll() {
            condition.lock()
            while running > 0 { condition.wait() }
            body = nil
            condition.unlock()
        }
    }
}

/// Work on a thread of its own, started at once (or run on the caller's thread when the system
/// will not start one), that its owner waits for later: the history's recording while the report
/// files are written, the faulting-in of a grown array's pages.
final class BackgroundWork: @unchecked Sendable {
    private let condition = NSCondition()
    private var running = true
    private var failure: Error?

    /// - Parameter limited: whether `HEADCOUNT_MAX_THREADS` counts this thread (see `Workers.start`):
    ///   not for work that is only done sooner on a thread of its own, which the tests of a
    ///   refused thread would otherwise see take the place of one a run needs.
    init(name: String, limited: Bool = true, _ body: @escaping () throws -> Void) {
        let run = { [self] in
            let caught: Error?
            do { try body(); caught = nil } catch { caught = error }
            condition.lock()
            failure = caught
            running = false
            condition.broadcast()
            condition.unlock()
        }
        if !Workers.start(limited: limited, name: name, run) { run() }
    }

    /// Waits for the work to end; returns what it threw, nil when it did not.
    @discardableResult
    func wait() -> Error? {
        condition.lock()
        defer { condition.unlock() }
        while running { condition.wait() }
        return failure
    }
}
