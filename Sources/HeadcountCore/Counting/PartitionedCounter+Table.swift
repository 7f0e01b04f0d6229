import CIntrinsics
import Foundation

extension PartitionedCounter {
    /// A contact in a table, or one record on its way there (staged, or in a spill file: its
    /// one audience is `firstAudience`).
    struct Slot {
        var low: UInt64
        var high: UInt64
        var team: UInt32
        var firstAudience: UInt32
        /// The second audience, or `noAudience`. Kept in the slot, the second audience costs no
        /// pool node: on M, walking the nodes was a third of applying the staged records (each
        /// node a cache miss), and half of the nodes were second audiences.
        var secondAudience: UInt32
        /// The record flags in the top two bits; below, index + 1 of the pool node of the third
        /// audience (0 = none).
        var tail: UInt32

        static let flagShift: UInt32 = 30
        static let moreMask: UInt32 = (1 << flagShift) - 1

        /// A record of `audience` (or `noAudience`) with `flags` (`RecordFlags`, two bits).
        @inline(__always)
        init(low: UInt64, high: UInt64, team: UInt32, audience: UInt32, flags: UInt32) {
            assert(flags <= 3, "record flags beyond the two bits a slot keeps")
            (self.low, self.high, self.team) = (low, high, team)
            (firstAudience, secondAudience, tail) = (audience, noAudience, flags << Self.flagShift)
        }

        var flags: UInt32 { tail >> Self.flagShift }
        /// Index + 1 of the first pool node; 0 = none.
        var more: UInt32 { tail & Self.moreMask }
    }

    /// The open-addressing table of one partition (or of a partition being merged).
    final class Table {
        var slots: UnsafeMutablePointer<Slot>
        var capacity: Int
        var count = 0
        /// Extra audiences: (audience, index + 1 of the next node).
        var pool: [(audience: UInt32, next: UInt32)] = []

        /// A table of `capacity` slots; of none (a tallied partition's), with no memory mapped.
        init(capacity: Int) {
            self.capacity = capacity
            slots = PageMemory.allocate(Slot.self, count: capacity)
        }

        deinit { PageMemory.free(slots, count: capacity) }

        /// Bytes held: the slots and the audience pool.
        var bytes: Int { capacity * MemoryLayout<Slot>.stride + pool.capacity * 8 }

        /// Maximum load 3/4: linear probing stays short, memory stays near 43 bytes a key.
        @inline(__always) var isFull: Bool { count * 4 >= capacity * 3 }

        /// The home slot of a key: multiply-shift maps the hash onto any capacity,
        /// so tables grow by what the data needs, not only by doubling.
        @inline(__always)
        static func home(_ low: UInt64, _ capacity: Int) -> Int {
            Int(truncatingIfNeeded: low.multipliedFullWidth(by: UInt64(capacity)).high)
        }

        /// Asks for the cache line of a key's home slot and the line after it (see
        /// `prefetchAhead`). A new contact, two records in three on M, probes from its home to
        /// the end of its run of full slots, which at a load of 1/2 to 3/4 is 2.5 to 8.5 slots on
        /// average, two to a line: with the home line alone, that probe still waited on memory.
        /// M: applying 0.249 -> 0.224 and 0.239 -> 0.226 of the inflater's samples, the whole
        /// run's 2.753 -> 2.709 and 2.802 -> 2.779 (medians of six alternating `perf` runs,
        /// twice). A prefetch never faults, so the line after the last slot may be asked for; its
        /// address is reckoned as a number, since a pointer may not point past its allocation.
        @inline(__always)
        func prefetch(_ low: UInt64) {
            let s = slots + Self.home(low, capacity)
            headcount_prefetch(s)
            headcount_prefetch(UnsafeRawPointer(bitPattern: UInt(bitPattern: s) &+ 64))
        }

        /// Adds a record; the caller makes room first (`isFull`).
        ///
        /// A contact is its key *and* its team. The key hashes the email under the team's 64-bit
        /// id hash, so two teams whose id hashes collided would give an address the same key in
        /// both; compared with the team too, they stay two contacts, and only a collision of the
        /// 128-bit keys of one team can merge two addresses (README, Exactness).
        @inline(__always)
        func insert(low: UInt64, high: UInt64, team: UInt32, audience: UInt32, flags: UInt32) {
            assert(!isFull)
            let capacity = self.capacity
            var i = Self.home(low, capacity)
            while true {
                let s = slots + i
                if s.pointee.low == low && s.pointee.high == high && s.pointee.team == team {
                    s.pointee.tail |= flags << Slot.flagShift
                    if audience != noAudience { addAudience(audience, to: s) }
                    return
                }
                if s.pointee.low == 0 && s.pointee.high == 0 {
                    s.pointee = Slot(low: low, high: high, team: team, audience: audience, flags: flags)
                    count += 1
                    return
                }
                i += 1
                if i == capacity { i = 0 }
            }
        }

        @inline(__always)
        func addAudience(_ audience: UInt32, to s: UnsafeMutablePointer<Slot>) {
            if s.pointee.firstAudience == audience { return }
            if s.pointee.firstAudience == noAudience {
                s.pointee.firstAudience = audience
                return
            }
            if s.pointee.secondAudience == audience { return }
            if s.pointee.secondAudience == noAudience {
                s.pointee.secondAudience = audience
                return
            }
            var node = s.pointee.more
            while node != 0 {
                let n = pool[Int(node) - 1]
                if n.audience == audience { return }
                node = n.next
            }
            pool.append((audience, s.pointee.more))
            // A partition's pool would hold 8 GiB before its node numbers ran out.
            invariant(pool.count <= Slot.moreMask, "more audience memberships in one partition than a slot can number")
            s.pointee.tail = s.pointee.tail & ~Slot.moreMask | UInt32(pool.count)
        }

        /// Grows to `newCapacity` slots in the table's own mapping, extended: the old slots'
        /// pages are kept, so only the added ones are new (`extend`, then `rehash`).
        func grow(to newCapacity: Int) {
            extend(to: newCapacity)
            rehash()
        }

        /// The capacity `extend` made room for, until `rehash`; 0 otherwise.
        private var extendedCapacity = 0

        /// Extends the slots' mapping to `newCapacity` (`PageMemory.extend`); the contacts stay
        /// in the first `capacity` slots until `rehash`. On the thread that maps: extending takes
        /// the process's memory map for writing.
        func extend(to newCapacity: Int) {
            invariant(extendedCapacity == 0 && newCapacity > capacity, "extending a table twice, or to fewer slots")
            slots = PageMemory.extend(slots, from: capacity, to: newCapacity)
            extendedCapacity = newCapacity
        }

        /// Places the contacts across the capacity `extend` made room for: the added pages are
        /// faulted in, the contacts copied out and their slots zeroed, then each inserted again.
        /// Any thread, one table per thread: tables grown together rehash side by side.
        ///
        /// Grown into a new mapping, a table's old pages went back to the system and the new
        /// one's were all faulted in and zeroed by the kernel: on M, the growth of the 256 tables
        /// at a third of the file faulted in 298 MB while it gave back 94 MB.
        func rehash() {
            let newCapacity = extendedCapacity
            invariant(newCapacity > capacity, "rehash without extend")
            PageMemory.populateAdded(slots, from: capacity, to: newCapacity)
            // From malloc, whose freed blocks serve the next table's growth; refused like a table
            // when the system will not give it (an address-space limit), never a trap.
            let bytes = max(count, 1) * MemoryLayout<Slot>.stride
            guard let scratch = malloc(bytes) else { PageMemory.refuse(bytes) }
            defer { free(scratch) }
            let contacts = scratch.bindMemory(to: Slot.self, capacity: max(count, 1))
            var n = 0
            for j in 0..<capacity where slots[j].low != 0 || slots[j].high != 0 {
                contacts[n] = slots[j]
                n += 1
            }
            invariant(n == count, "a table holding other than its count of contacts")
            UnsafeMutableRawPointer(slots).initializeMemory(as: UInt8.self, repeating: 0,
                                                             count: capacity * MemoryLayout<Slot>.stride)
            capacity = newCapacity
            extendedCapacity = 0
            for j in 0..<n {
                let s = contacts[j]
                var i = Self.home(s.low, capacity)
                while slots[i].low != 0 || slots[i].high != 0 {
                    i += 1
                    if i == capacity { i = 0 }
                }
                slots[i] = s
            }
        }

        /// Gives the slots' pages back to `released`, leaving a table of none.
        func release(to released: ReleasedMappings) {
            released.release(slots, count: capacity)
            (slots, capacity, count) = (PageMemory.allocate(Slot.self, count: 0), 0, 0)
            pool = []
        }

        /// Calls `body` with each contact's slot and its audiences.
        func forEachContact(_ body: (Slot, [UInt32]) -> Void) {
            var audiences: [UInt32] = []
            for j in 0..<capacity {
                let s = slots[j]
                if s.low == 0 && s.high == 0 { continue }
                audiences.removeAll(keepingCapacity: true)
                if s.firstAudience != noAudience { audiences.append(s.firstAudience) }
                if s.secondAudience != noAudience { audiences.append(s.secondAudience) }
                var node = s.more
                while node != 0 {
                    let n = pool[Int(node) - 1]
                    audiences.append(n.audience)
                    node = n.next
                }
                body(s, audiences)
            }
        }
    }

    final class Partition {
        var table: Table
        private(set) var staged: UnsafeMutablePointer<Slot>
        /// Where the next staged record goes: this partition's entry in the counter's
        /// `cursors`, which `insert` reaches without touching the partition object.
        private let cursor: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>
        /// The end of the staging buffer: this partition's entry in the counter's `limits`.
        private let limit: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>
        /// This partition's two-record line in the counter's `lines`: a record at an even
        /// position of the staging buffer waits here until the next one completes the line
        /// (`PartitionedCounter.insert`).
        let line: UnsafeMutablePointer<Slot>
        /// Records staged, the one waiting in `line` included. Set to an odd count, it puts the
        /// record before the cursor back in `line`, where the next insert expects it.
        var stagedCount: Int {
            get { cursor.pointee - staged }
            set {
                cursor.pointee = staged + newValue
                if newValue & 1 == 1 { line.pointee = staged[newValue - 1] }
            }
        }

        /// Writes a record still waiting in `line` into the staging buffer, so that the buffer
        /// holds every staged record; before they are applied or spilled.
        @inline(__always)
        func settle() {
            let count = stagedCount
            if count & 1 == 1 { staged[count - 1] = line.pointee }
        }
        /// The partition's spill file, once the counter spills.
        var spill: FileSink?
        var spillPath: String?
        var spilledRecords = 0

        init(staging: Int, cursor: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>,
             limit: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>, line: UnsafeMutablePointer<Slot>) {
            table = Table(capacity: 0)
            staged = Self.allocateStaging(staging)
            self.cursor = cursor
            self.limit = limit
            self.line = line
            cursor.pointee = staged
            limit.pointee = staged + staging
        }

        deinit { UnsafeMutableRawPointer(staged).deallocate() }

        /// A staging buffer whose records pair up into cache lines (`insert` writes it a line
        /// at a time).
        static func allocateStaging(_ records: Int) -> UnsafeMutablePointer<Slot> {
            UnsafeMutableRawPointer.allocate(byteCount: records * MemoryLayout<Slot>.stride, alignment: 64)
                .bindMemory(to: Slot.self, capacity: records)
        }

        /// Gives the staging buffer's memory back once nothing more will be staged (in `finish`:
        /// a spilled counter's before the merges, any other's once its partition is tallied);
        /// a one-record buffer stands in for it.
        func releaseStaging() {
            invariant(stagedCount == 0, "releasing a staging buffer that holds records")
            UnsafeMutableRawPointer(staged).deallocate()
            staged = Self.allocateStaging(1)
            cursor.pointee = staged
            limit.pointee = staged + 1
        }
    }
}
