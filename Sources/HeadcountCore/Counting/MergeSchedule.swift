import Foundation

/// Shares the partitions out among the workers of `PartitionedCounter.finish`: each takes the
/// next partition when it is free, and the merge of a spilled partition starts only when the
/// memory it needs is free, or when no other merge is running (so that one always can).
final class MergeSchedule {
    enum Step: Equatable {
        /// Tally partition `index`, with `reserved` bytes set aside for its merge.
        case take(index: Int, reserved: Int)
        /// Wait for a merge to finish.
        case wait
        /// Every partition is taken.
        case finished
    }

    private let condition = NSCondition()
    private let count: Int
    private var next = 0
    /// Bytes within the limit that merges may still take.
    private var room: Int
    private var merging = 0
    private var merged = 0
    private(set) var mostAtOnce = 0

    init(count: Int, room: Int) {
        self.count = count
        self.room = room
    }

    /// The next partition and the bytes reserved for its merge (`need`), waiting for room; nil
    /// when none is left.
    func take(_ need: (Int) -> Int) -> (index: Int, reserved: Int)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch step(need) {
            case .take(let index, let reserved): return (index, reserved)
            case .wait: condition.wait()
            case .finished: return nil
            }
        }
    }

    /// What a worker does next (called with the lock held, or on one thread).
    func step(_ need: (Int) -> Int) -> Step {
        guard next < count else { return .finished }
        let bytes = need(next)
        guard bytes == 0 || bytes <= room || merging == 0 else { return .wait }
        next += 1
        if bytes > 0 {
            room -= bytes
            merging += 1
            mostAtOnce = max(mostAtOnce, merging)
        }
        return .take(index: next - 1, reserved: bytes)
    }

    /// No partition is handed out any more (a merge failed: the run fails).
    func stop() {
        condition.lock()
        next = count
        condition.broadcast()
        condition.unlock()
    }

    /// A partition is tallied: its merge's bytes and its own table's (`freed`) are free again.
    /// Returns the merges finished so far (for `onMerged`).
    @discardableResult
    func done(reserved: Int, freed: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        room += reserved + freed
        if reserved > 0 {
            merging -= 1
            merged += 1
        }
        condition.broadcast()
        return merged
    }
}
