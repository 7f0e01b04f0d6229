import Foundation

/// A first-in, first-out queue between threads; `take` waits for an item.
///
/// A consumer that found the queue empty can sleep until several items are there
/// (`wakeAfter`), or one that must not wait (`isUrgent`), or until a producer that is about to
/// wait itself says so (`hurry`): it then takes them in one stretch instead of being woken for
/// each. The counting thread, woken for every batch, slept and woke 1,700-2,600 times a run on
/// M, each a pair of system calls and two context switches.
final class BlockingQueue<Item> {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var head = 0
    private let wakeAfter: Int
    private let patience: TimeInterval
    private let isUrgent: (Item) -> Bool
    /// Urgent items posted and not yet taken.
    private var urgent = 0
    private var sleeping = false
    /// A producer said the sleeping consumer should take what is here (`hurry`).
    private var hurried = false

    /// - Parameters:
    ///   - wakeAfter: how many items a consumer that found none waits for. Producers must be
    ///     able to post that many without the consumer (a scanner has `ContactScanner.depth`
    ///     batches), and every item after which nothing may follow for a while must be urgent.
    ///   - isUrgent: items that wake the consumer at once.
    ///   - patience: how long a waiting consumer lets fewer than `wakeAfter` items wait, at most.
    init(wakeAfter: Int = 1, patience: TimeInterval = 0.002, isUrgent: @escaping (Item) -> Bool = { _ in false }) {
        invariant(wakeAfter >= 1, "a queue whose consumer waits for no item")
        self.wakeAfter = wakeAfter
        self.patience = patience
        self.isUrgent = isUrgent
    }

    /// Whether the consumer is waiting (for the tests).
    var consumerIsWaiting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return sleeping
    }

    func post(_ item: Item) {
        condition.lock()
        items.append(item)
        if isUrgent(item) { urgent += 1 }
        let wake = sleeping && (items.count - head >= wakeAfter || urgent > 0)
        if wake { sleeping = false }
        condition.unlock()
        // After unlocking: signalled with the lock held, the consumer woke only to wait for the
        // lock the producer still held, two more context switches (447 a run on M).
        if wake { condition.signal() }
    }

    /// Wakes a consumer that waits for `wakeAfter` items when fewer are here: for a producer
    /// about to wait itself (a scanner whose next inflated chunk is not ready), after which
    /// nothing more comes for a while.
    func hurry() {
        condition.lock()
        let wake = sleeping && head < items.count
        if wake {
            sleeping = false
            hurried = true
        }
        condition.unlock()
        if wake { condition.signal() }
    }

    /// The oldest item, waiting for one (for `wakeAfter` of them, or an urgent one, when there
    /// is none).
    func take() -> Item {
        condition.lock()
        defer { condition.unlock() }
        if head == items.count {
            sleeping = true
            // A producer may stop for a while with fewer posted (a pipe's writer that has not
            // written more): what is here is taken after `patience` at the latest.
            while items.count - head < wakeAfter && urgent == 0 && !hurried {
                if !condition.wait(until: Date(timeIntervalSinceNow: patience)) && head < items.count { break }
            }
            sleeping = false
            hurried = false
        }
        let item = items[head]
        if isUrgent(item) { urgent -= 1 }
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return item
    }
}
