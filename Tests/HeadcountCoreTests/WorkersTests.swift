import Foundation
import Testing
@testable import HeadcountCore

/// The run's threads carry names, so that `top -H`, `ps -L` and `perf` tell them apart.
@Suite struct WorkersTests {
    /// The calling thread's name as the system keeps it.
    static func ownName() -> String {
        #if os(Linux)
        let text = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return text.trimmingCharacters(in: .newlines)
        #else
        return ""
        #endif
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/thread-self/comm")))
    func aStartedThreadCarriesItsName() {
        for (given, kept) in [("hc-inflate", "hc-inflate"), ("hc-a-name-of-twenty", "hc-a-name-of-tw")] {
            let done = NSCondition()
            var seen: String?
            #expect(Workers.start(name: given) {
                let name = Self.ownName()
                done.lock()
                seen = name
                done.signal()
                done.unlock()
            })
            done.lock()
            while seen == nil { done.wait() }
            done.unlock()
            #expect(seen == kept)
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/thread-self/comm")))
    func sharedWorkIsDoneByANamedWorker() {
        // Two calls that each wait for the other to begin: they run on two threads at once,
        // this one and a started worker.
        let meet = NSCondition()
        var arrived = 0
        var names: [String] = []
        Workers.forEach(2) { _ in
            let name = Self.ownName()
            meet.lock()
            arrived += 1
            names.append(name)
            meet.broadcast()
            while arrived < 2 { meet.wait() }
            meet.unlock()
        }
        #expect(Set(names) == [Self.ownName(), "hc-worker"])
    }

    @Test func sharedWorkGoesToWhicheverThreadIsFree() {
        // Two threads for six calls, the first of which waits for the other five: a thread done
        // early takes the next call, so they all run while the first waits. (Split in fixed
        // halves, the calls after the first on its thread could not begin until it returned.)
        let state = NSCondition()
        var calls = [Int](repeating: 0, count: 6)
        var threads: Set<ObjectIdentifier> = []
        var othersBeforeFirstReturned = 0
        Workers.forEach(6, threads: 2) { i in
            state.lock()
            calls[i] += 1
            threads.insert(ObjectIdentifier(Thread.current))
            state.broadcast()
            if i == 0 {
                let deadline = Date().addingTimeInterval(10)
                while calls[1...].reduce(0, +) < 5 && state.wait(until: deadline) {}
                othersBeforeFirstReturned = calls[1...].reduce(0, +)
            }
            state.unlock()
        }
        #expect(calls == [1, 1, 1, 1, 1, 1])
        #expect(othersBeforeFirstReturned == 5)
        #expect(threads.count == 2)
        // One thread: every call, in order, on this one.
        var order: [Int] = []
        Workers.forEach(4, threads: 1) { order.append($0) }
        #expect(order == [0, 1, 2, 3])
    }

    struct Refused: Error {}

    @Test func backgroundWorkHandsBackWhatItThrew() {
        let failing = BackgroundWork(name: "hc-test") { throw Refused() }
        #expect(failing.wait() is Refused)
        // Waiting again gives the same answer.
        #expect(failing.wait() is Refused)
        let finished = NSCondition()
        var ranOn: String?
        let working = BackgroundWork(name: "hc-test") {
            finished.lock()
            ranOn = Self.ownName()
            finished.unlock()
        }
        #expect(working.wait() == nil)
        finished.lock()
        if FileManager.default.fileExists(atPath: "/proc/thread-self/comm") { #expect(ranOn == "hc-test") }
        finished.unlock()
    }
}
