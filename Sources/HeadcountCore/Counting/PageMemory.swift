import CIntrinsics
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Large hash tables straight from the kernel: the pages arrive zeroed (every table here
/// marks an empty slot with zeros, so there is nothing to initialise), and freeing returns
/// them at once. Through malloc, a freed table could stay in the process and count
/// against `--memory-limit`'s promise without holding anything.
///
/// No huge pages are asked for (`MADV_HUGEPAGE`; this machine's kernel grants them on request
/// only): tables that had them cost more kernel time, zeroing 2 MiB pages, than their fewer TLB
/// misses saved. Measured with them and without: the 50M-row dump 13.8–19.0 s against 13.1 s (kernel time 3.9–7.2 s against
/// 2.1–2.3 s); the global layout 3.29–3.49 s against 3.09–3.35 s, where the contact index
/// zeroed its growing array for 0.5 s while the pipeline behind it waited.
public enum PageMemory {
    static let page = 4096

    /// `MADV_POPULATE_WRITE` (Linux 5.14): fault every page in, writable, now. A table is
    /// written all over as soon as it is filled, and its first touch is a read (a probe): that
    /// maps the shared zero page, and the write that follows must replace it and flush every
    /// core's TLB, an interrupt to the other threads each time (M: 0.4 s of CPU, 8% of a run).
    /// Older kernels answer EINVAL and the pages fault in on first use as before.
    static let populateWrite: Int32 = 23

    /// Mappings are whole pages.
    static func length(_ count: Int, _ stride: Int) -> Int { (max(1, count * stride) + page - 1) & ~(page - 1) }

    /// What happens when the system refuses a table its memory (under an address-space limit,
    /// `ulimit -v`): the run cannot go on. The executable sets this once at start-up to end the
    /// run with a one-line error, its temporary files removed and the history told; a table
    /// cannot report the failure to its caller, since its inserts sit on the per-row path.
    nonisolated(unsafe) public static var refused: (HeadcountError) -> Never = { fatalError("\($0)") }

    /// Mappings of this many bytes or more are refused as the system refuses them under an
    /// address-space limit: `HEADCOUNT_REFUSE_MAPPINGS_FROM`, for the tests of that failure.
    static let refuseFrom = ProcessInfo.processInfo.environment["HEADCOUNT_REFUSE_MAPPINGS_FROM"].flatMap { Int($0) }
        ?? Int.max

    /// Ends the run: the system would not map `bytes` more (see `refused`).
    static func refuse(_ bytes: Int) -> Never {
        refused(HeadcountError(.environment, "out of memory: the system refused \(bytes) bytes for a hash table; "
                               + "bound the run with --memory-limit, below the memory it may map (ulimit -v)"))
    }

    /// `count` zeroed elements on fresh pages; for 0, a placeholder that maps nothing (a tallied
    /// partition's table), which `free` leaves alone.
    /// - Parameter populated: whether the pages are faulted in now; false leaves that to
    ///   `populate`, on the thread that will fill them.
    static func allocate<T>(_ type: T.Type, count: Int, populated: Bool = true) -> UnsafeMutablePointer<T> {
        if count == 0 { return UnsafeMutablePointer(bitPattern: page)! }
        let bytes = length(count, MemoryLayout<T>.stride)
        guard bytes < refuseFrom,
              let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED
        else {
            refuse(bytes)
        }
        if populated { populate(p, bytes: bytes) }
        return p.bindMemory(to: T.self, capacity: count)
    }

    /// Faults in, writable, the pages of `count` elements from `allocate(populated: false)`.
    static func populate<T>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        populate(UnsafeMutableRawPointer(pointer), bytes: length(count, MemoryLayout<T>.stride))
    }

    /// Faults in, writable, `bytes` of whole pages from `start` (`MADV_POPULATE_WRITE`).
    private static func populate(_ start: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        _ = madvise(start, bytes, populateWrite)
        #endif
    }

    /// `pointer`'s `count` elements (from `allocate`, or an earlier `grow`) in a mapping of
    /// `newCount`, the added elements zeroed; the old mapping is gone. On Linux its pages move
    /// (`mremap`): none is copied or zeroed again, and the added ones are faulted in writable on a
    /// thread of their own (`prefault`), so that the caller goes on at once. An array that grows
    /// from 48 to 193 MiB (the contact index on M-global) took 0.64 s to fault in, while every
    /// other thread of the run waited on this one. Elsewhere, a new mapping and a copy.
    /// - Returns: the elements, and the fault-in still running, which the caller waits for
    ///   before it grows or frees the mapping again.
    static func grow<T>(_ pointer: UnsafeMutablePointer<T>, from count: Int,
                        to newCount: Int) -> (UnsafeMutablePointer<T>, BackgroundWork?) {
        let moved = extend(pointer, from: count, to: newCount)
        #if os(Linux)
        let added = addedPages(T.self, from: count, to: newCount)
        let faulting = added.bytes > 0 ? prefault(UnsafeMutableRawPointer(moved) + added.offset, bytes: added.bytes) : nil
        return (moved, faulting)
        #else
        return (moved, nil)
        #endif
    }

    /// `pointer`'s `count` elements (from `allocate`, or an earlier `extend`) in a mapping of
    /// `newCount`, the added elements zeroed and not yet faulted in (`populateAdded`); the old
    /// mapping is gone. On Linux its pages move (`mremap`) and none is copied or zeroed again;
    /// elsewhere, a new mapping and a copy. Takes the process's memory map for writing.
    static func extend<T>(_ pointer: UnsafeMutablePointer<T>, from count: Int,
                          to newCount: Int) -> UnsafeMutablePointer<T> {
        invariant(count > 0 && newCount > count, "growing an array that has none, or to fewer elements")
        let oldBytes = length(count, MemoryLayout<T>.stride), bytes = length(newCount, MemoryLayout<T>.stride)
        #if os(Linux)
        guard bytes < refuseFrom, let moved = headcount_remap(pointer, oldBytes, bytes), moved != MAP_FAILED else {
            refuse(bytes)
        }
        return moved.bindMemory(to: T.self, capacity: newCount)
        #else
        let bigger = allocate(T.self, count: newCount)
        bigger.update(from: pointer, count: count)
        free(pointer, count: count)
        return bigger
        #endif
    }

    /// Faults in, writable, the pages `extend` added to a mapping of `count` elements.
    static func populateAdded<T>(_ pointer: UnsafeMutablePointer<T>, from count: Int, to newCount: Int) {
        let added = addedPages(T.self, from: count, to: newCount)
        if added.bytes > 0 { populate(UnsafeMutableRawPointer(pointer) + added.offset, bytes: added.bytes) }
    }

    /// The whole pages `extend` adds to a mapping of `count` elements for `newCount`: where they
    /// start in it and how many bytes they hold.
    private static func addedPages<T>(_ type: T.Type, from count: Int, to newCount: Int) -> (offset: Int, bytes: Int) {
        let oldBytes = length(count, MemoryLayout<T>.stride)
        return (oldBytes, max(0, length(newCount, MemoryLayout<T>.stride) - oldBytes))
    }

    /// Faults `bytes` from `start` in, writable (`MADV_POPULATE_WRITE`), on a thread of its own
    /// (or the caller's when the system will not start one).
    static func prefault(_ start: UnsafeMutableRawPointer, bytes: Int) -> BackgroundWork {
        BackgroundWork(name: "hc-prefault", limited: false) { populate(start, bytes: bytes) }
    }

    static func free<T>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        guard count > 0 else { return }
        munmap(UnsafeMutableRawPointer(pointer), length(count, MemoryLayout<T>.stride))
    }
}

/// Mappings whose pages went back to the system, waiting to be unmapped: for memory freed on
/// several threads at once.
///
/// `munmap` takes the process's memory map for writing, so two threads freeing tables took
/// turns, and each waited as well for the other's faulting in of new pages: in the tally of M,
/// 50-110 ms of a worker's time asleep while the tables were freed, and a core idle (`perf
/// sched`). Giving pages back (`MADV_DONTNEED`) and faulting them in (`MADV_POPULATE_WRITE`)
/// both take it for reading, and run side by side; the emptied mappings are removed afterwards
/// (`unmapAll`), by one thread, quickly, since they hold no pages.
final class ReleasedMappings: @unchecked Sendable {
    private let lock = NSLock()
    private var ranges: [(address: UInt, bytes: Int)] = []
    private let unmap: (UnsafeMutableRawPointer, Int) -> Void

    /// - Parameter unmap: removes a mapping (the tests watch it).
    init(unmap: @escaping (UnsafeMutableRawPointer, Int) -> Void = { _ = munmap($0, $1) }) {
        self.unmap = unmap
    }

    /// Gives the pages of `count` elements (from `PageMemory.allocate`) back now and keeps
    /// their mapping for `unmapAll`. Any thread.
    func release<T>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        guard count > 0 else { return }
        let bytes = PageMemory.length(count, MemoryLayout<T>.stride)
        #if os(Linux)
        _ = madvise(UnsafeMutableRawPointer(pointer), bytes, MADV_DONTNEED)
        lock.lock()
        ranges.append((UInt(bitPattern: pointer), bytes))
        lock.unlock()
        #else
        munmap(UnsafeMutableRawPointer(pointer), bytes)
        #endif
    }

    /// Mappings released and not yet unmapped.
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return ranges.count
    }

    /// Unmaps every mapping released so far; once the threads that released them are done.
    func unmapAll() {
        lock.lock()
        let all = ranges
        ranges.removeAll()
        lock.unlock()
        for r in all { unmap(UnsafeMutableRawPointer(bitPattern: r.address)!, r.bytes) }
    }

    deinit { unmapAll() }
}

/// How much a full hash table grows: to the size the whole input is projected to need
/// (1/progress; for distinct keys, which grow more slowly than rows, an upper bound), with
/// 15% to spare, since a table that fills exactly at the end of the input would otherwise
/// grow once more for nothing; at least 1.5×, at most 16×, and 2× while progress is unknown.
enum TableGrowth {
    static func factor(progress: Double) -> Double {
        guard progress > 0.01 && progress < 1 else { return 2 }
        return min(max(1.15 / progress, 1.5), 16)
    }
}
