import Foundation
import Testing
@testable import HeadcountCore

/// A malformed row's team is read from its raw text only where every field up to it is whole.
@Suite struct ContactScannerTests {
    func field(_ index: Int, _ raw: String, delimiter: Character = ",") -> String? {
        Array(raw.utf8).withUnsafeBytes { bytes in
            ContactScanner.readableField(index, of: bytes, delimiter: delimiter.asciiValue!)
                .map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// Every scanned row crosses from the scanning core to the counting core: one cache line
    /// each (96 bytes before, 1.5 lines; M: 2.9% less CPU, README), and a batch's rows on lines.
    @Test func aScannedRowIsOneCacheLine() {
        #expect(MemoryLayout<ScannedRow>.stride == 64)
        #expect(Int(bitPattern: RowBatch().rows) % 64 == 0)
    }

    @Test func fieldsBeforeTheFaultAreReadable() {
        #expect(field(0, "t1,a1,\"broken@x.io,more") == "t1")
        #expect(field(1, "a@x.io,t1,\"broken") == "t1")
        #expect(field(1, "a@x.io,\"t 1\",\"a\"x") == "t 1")          // a quoted team, closed
        #expect(field(1, "a@x.io\tt1\t\"b", delimiter: "\t") == "t1")
        #expect(field(2, "a,,") == "")                                 // an empty last field of an uncut line
        #expect(field(1, "a,t1") == "t1")                              // the last field of an uncut line
        #expect(field(1, "a,,x") == "")                                // an empty team id is a team
    }

    @Test func aFieldAtOrAfterTheFaultIsNot() {
        #expect(field(1, "\"broken@x.io,t1,a1") == nil)                // the quote before it never closes
        #expect(field(1, "a\"b@x.io,t1") == nil)                       // a quote inside an unquoted field
        #expect(field(1, "\"a\"x,t1") == nil)                          // text after a closing quote
        #expect(field(1, "a,\"t\"\"1\",x") == nil)                     // doubled quotes are not undone here
        #expect(field(2, "a,t1") == nil)                               // the row ends before it
        #expect(field(0, "t1") == nil)                                 // a line of one field
        let cut = "t1," + String(repeating: "x", count: 2000)
        #expect(field(0, String(cut.prefix(1024))) == "t1")
        #expect(field(1, String(cut.prefix(1024))) == nil)             // runs into the cut
    }

    /// Any bytes at all: no crash; a field read never holds a quote (a quoted one may hold the
    /// delimiter), and is what splitting the text at its delimiters gives where nothing is quoted.
    @Test func anyBytesGiveAWholeFieldOrNone() {
        var rng = SplitMix(state: 11)
        let alphabet: [UInt8] = [0x61, 0x62, 0x2C, 0x22, 0x0A, 0x0D, 0x09, 0xFF]
        var read = 0
        for _ in 0..<20_000 {
            let raw = (0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            let index = Int(rng.next() % 4)
            let got = raw.withUnsafeBytes { ContactScanner.readableField(index, of: $0, delimiter: 0x2C).map(Array.init) }
            guard let got else { continue }
            read += 1
            #expect(!got.contains(0x22), "\(raw) \(index)")
            if !raw.contains(0x22) {
                let parts = raw.split(separator: 0x2C, omittingEmptySubsequences: false)
                #expect(index < parts.count && Array(parts[index]) == got, "\(raw) \(index)")
            }
        }
        #expect(read > 1_000)
    }
}

/// The queue from the scanners to the counting thread wakes its consumer for several batches at
/// a time, or at once for an urgent item (a file's end).
@Suite struct BlockingQueueTests {
    /// Takes `count` items on a thread of its own; `taken` holds them as they come.
    final class Consumer: @unchecked Sendable {
        let state = NSCondition()
        var taken: [Int] = []
        init(_ queue: BlockingQueue<Int>, count: Int) {
            Thread.detachNewThread { [self] in
                for _ in 0..<count {
                    let item = queue.take()
                    state.lock()
                    taken.append(item)
                    state.broadcast()
                    state.unlock()
                }
            }
        }
        /// The items taken once there are `count` of them, or nil after 10 s.
        func wait(for count: Int) -> [Int]? {
            state.lock()
            defer { state.unlock() }
            let deadline = Date().addingTimeInterval(10)
            while taken.count < count { if !state.wait(until: deadline) { return nil } }
            return taken
        }
        var sofar: [Int] {
            state.lock()
            defer { state.unlock() }
            return taken
        }
    }

    /// Waits until the queue's consumer waits (10 s at most).
    func untilWaiting(_ queue: BlockingQueue<Int>) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !queue.consumerIsWaiting {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return true
    }

    @Test func aWaitingConsumerIsWokenForSeveralItemsOrAnUrgentOne() {
        // Patient for a minute: fewer than four items stay where they are.
        let queue = BlockingQueue<Int>(wakeAfter: 4, patience: 60) { $0 < 0 }
        let consumer = Consumer(queue, count: 9)
        #expect(untilWaiting(queue))
        queue.post(1)
        queue.post(2)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(consumer.sofar.isEmpty, "woken for fewer than four items")
        queue.post(3)
        queue.post(4)
        #expect(consumer.wait(for: 4) == [1, 2, 3, 4])
        // An urgent item brings the ones before it too, in order.
        #expect(untilWaiting(queue))
        queue.post(5)
        queue.post(-1)
        #expect(consumer.wait(for: 6) == [1, 2, 3, 4, 5, -1])
        // And again, whether or not the consumer is asleep yet.
        queue.post(6)
        queue.post(7)
        queue.post(-2)
        #expect(consumer.wait(for: 9) == [1, 2, 3, 4, 5, -1, 6, 7, -2])
    }

    @Test func aHurriedConsumerTakesWhatIsThereOnce() {
        // Patient for a minute: only `hurry` can wake it for fewer than four items.
        let queue = BlockingQueue<Int>(wakeAfter: 4, patience: 60)
        let consumer = Consumer(queue, count: 3)
        #expect(untilWaiting(queue))
        queue.hurry()   // nothing there: it sleeps on
        queue.post(1)
        queue.post(2)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(consumer.sofar.isEmpty, "woken for fewer than four items")
        queue.hurry()
        #expect(consumer.wait(for: 2) == [1, 2])
        // Hurried once, it waits for four again.
        #expect(untilWaiting(queue))
        queue.post(3)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(consumer.sofar == [1, 2], "still hurried after taking what was there")
        queue.hurry()
        #expect(consumer.wait(for: 3) == [1, 2, 3])
    }

    @Test func fewerItemsAreTakenAfterThePatience() {
        // A producer that stops (a pipe's writer that writes no more) does not hold up one item.
        let queue = BlockingQueue<Int>(wakeAfter: 4, patience: 0.01)
        let consumer = Consumer(queue, count: 1)
        #expect(untilWaiting(queue))
        queue.post(7)
        #expect(consumer.wait(for: 1) == [7])
    }
}
