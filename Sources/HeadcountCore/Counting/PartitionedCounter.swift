import CIntrinsics
import Foundation

/// An exact counter: one open-addressing table of global contacts per hash
/// partition, each contact carrying its set of audiences, spilling to disk
/// past a memory limit.
///
/// A contact is identified by a 128-bit key of (team, normalised email); its
/// top 8 bits choose one of 256 partitions, its low bits the slot. One slot
/// (32 bytes) holds the key, the team, the first two audiences and the record
/// flags; further audiences of the same contact (14% of contacts on M) go to a
/// per-partition pool of 8-byte list nodes. Everything `teams.csv` and
/// `audiences.csv` need follows from one pass over the slots, and every
/// statistic of a contact lives in one partition.
///
/// Inserts are radix-batched: a record first goes to its partition's staging
/// buffer (sequential writes), and a full buffer is applied to the
/// partition's table in one go, while that table is hot in cache. One large
/// table would cost a cache and TLB miss per row.
///
/// Memory: about 43 bytes per distinct contact at the maximum load plus 8 per
/// audience membership beyond a contact's second, plus the staging buffers.
/// `memoryLimit` covers all of it, a growing table's old and new slots while it
/// moves (an upper bound: the new slots and a copy of its contacts are held), and what
/// the run's other tables hold (`noteMemoryElsewhere`). When a
/// table would grow past it, the counter stops growing them: from then on full
/// staging buffers are appended to one temporary file per partition, and
/// `finish` merges each partition's table and file one partition at a time,
/// freeing each table as it goes. The result is exact either way; only the
/// time changes.
public final class PartitionedCounter: ContactCounter {
    /// Partitions: a power of two; 256 keeps a partition's table near cache size for
    /// medium dumps and a spilled partition small enough to merge in memory.
    public static let partitionBits = 8
    public static let partitionCount = 1 << partitionBits
    /// Slots in a new partition.
    static let initialSlots = 1 << 10
    /// Records staged per partition before they are applied (32 bytes each: 128 KiB);
    /// smaller under a small memory limit.
    public static let maxStagingRecords = 4096

    private let partitions: [Partition]
    /// Per partition, where its next staged record goes and where its staging buffer ends:
    /// two flat arrays, so that an insert reads two pointers and writes one record. Through the
    /// `partitions` array, each insert retained and released a partition object (M: 0.1 s).
    private let cursors: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>
    private let limits: UnsafeMutablePointer<UnsafeMutablePointer<Slot>>
    /// Per partition, one cache line (two records) where `insert` completes a staging line
    /// before it streams it out: 16 KiB, which stays in cache.
    private let lines: UnsafeMutablePointer<Slot>
    private let stagingRecords: Int
    /// The bound on the counting structures, in bytes.
    public let memoryLimit: Int
    private let temporaryDirectory: String
    private let threads: Int
    private var spillDirectory: String?
    /// Tables grown by `growTogether` (for the tests).
    private(set) var tablesGrownTogether = 0
    /// Tables grown one at a time, as they filled (for the tests).
    private(set) var tablesGrownAlone = 0
    /// Bytes of the partitions' tables (for the tests).
    var tableBytesHeld: Int { tableBytes }
    /// How far a tally's 32-bit sums may grow before they move into 64-bit ones (`Tally`);
    /// lowered by the tests, so that a small input flushes.
    var tallyFlushLimit = Int(UInt32.max)
    /// The flushes of the last `finish`'s tallies (for the tests).
    private(set) var tallyFlushes = 0
    /// The most spilled partitions `finish` merged at once (for the tests).
    private(set) var mergesAtOnce = 0
    /// Called by `finish` after each spilled partition is merged, with the partitions merged
    /// and the partitions spilled, on the thread that merged it (for a progress line).
    public var onMerged: ((Int, Int) -> Void)?
    /// Whether nearly every record is a contact not seen before: the rows of a global layout's
    /// contacts file, one per contact. Tables then grow by the records staged for them as well as
    /// by their contacts (`growTogether`). In a legacy dump an address has a row per audience,
    /// and a table's contacts alone project its size (M: final tables at 68% load).
    ///
    /// M-global without it: the tables grew one at a time at 14% and at 28% of the contacts,
    /// each on the counting thread while the others waited, then all together by half again at
    /// 98% (678 MiB of new tables over the run, for 353 MiB at the end); with it, once, together,
    /// at the first fill.
    public var recordsAreMostlyNew = false
    /// Whether the tables stopped growing and records go to disk.
    public private(set) var isSpilling = false
    private var tableBytes = 0
    /// Tables given back while other threads fault in theirs (`ReleasedMappings`).
    private let released = ReleasedMappings()
    private var progress: Double = 0
    private var failure: Error?

    /// - Parameters:
    ///   - memoryLimit: bytes the counting structures may use (`--memory-limit`).
    ///   - temporaryDirectory: where spill files go (`--temp-dir`).
    ///   - threads: workers that grow the tables and tally the partitions (`--threads`).
    ///   - maxStaging: records staged per partition at most (tests stage fewer, so that a few
    ///     hundred thousand records reach the tables as a large dump's do).
    public init(memoryLimit: Int = 1 << 30, temporaryDirectory: String = NSTemporaryDirectory(), threads: Int = 1,
                maxStaging: Int = maxStagingRecords) {
        self.memoryLimit = memoryLimit
        self.threads = threads
        self.temporaryDirectory = temporaryDirectory
        // Staging takes at most an eighth of the budget.
        let perPartition = memoryLimit / 8 / Self.partitionCount / MemoryLayout<Slot>.stride
        let staging = min(maxStaging, max(16, perPartition))
        stagingRecords = staging
        let cursors = UnsafeMutablePointer<UnsafeMutablePointer<Slot>>.allocate(capacity: Self.partitionCount)
        let limits = UnsafeMutablePointer<UnsafeMutablePointer<Slot>>.allocate(capacity: Self.partitionCount)
        (self.cursors, self.limits) = (cursors, limits)
        let lines = UnsafeMutableRawPointer.allocate(byteCount: 64 * Self.partitionCount, alignment: 64)
            .bindMemory(to: Slot.self, capacity: 2 * Self.partitionCount)
        self.lines = lines
        partitions = (0..<Self.partitionCount).map {
            Partition(staging: staging, cursor: cursors + $0, limit: limits + $0, line: lines + 2 * $0)
        }
    }

    /// Whether the partitions have their first tables (`makeTables`).
    private var tablesMade = false

    /// Gives every partition its first table, once: when the first staging buffer fills, not
    /// when the counter is made. Until then records are only staged, and a run's counter is
    /// made before its reading threads start: the 256 tables' 8 MiB took 1.7-7.7 ms to fault in
    /// there, with a core idle and the inflating thread waiting to start. When `finish` comes
    /// first (an input too small to fill a buffer), each table is made for the records staged
    /// for it: a page or a few instead of 32 KiB, which a small run faulted in and gave back.
    /// - Parameter forStaged: size each table for its staged records (`finish`), rather than
    ///   `initialSlots` (to grow from).
    @inline(__always)
    private func makeTables(forStaged: Bool = false) {
        guard !tablesMade else { return }
        tablesMade = true
        for p in partitions {
            p.table = Table(capacity: forStaged ? max(Self.smallestSlots, p.stagedCount * 4 / 3 + 1) : Self.initialSlots)
        }
        tableBytes = partitions.reduce(0) { $0 + $1.table.bytes }
    }

    /// Slots in one page: the smallest table worth making.
    static let smallestSlots = PageMemory.page / MemoryLayout<Slot>.stride

    deinit {
        removeSpillFiles()
        cursors.deallocate()
        limits.deallocate()
        UnsafeMutableRawPointer(lines).deallocate()
    }

    /// Distinct contacts held in memory (after applying what is staged; spilled records not included).
    public var count: Int {
        if !isSpilling { for p in partitions { apply(p) } }
        return partitions.reduce(0) { $0 + $1.table.count }
    }

    public func noteProgress(_ fraction: Double) { progress = fraction }

    public func noteMemoryElsewhere(_ bytes: Int) { elsewhere = bytes }
    /// Bytes of the run's other tables (ids, the contact index), counted against the limit.
    private var elsewhere = 0

    /// How much a growing table grows (`TableGrowth`).
    private var growthFactor: Double { TableGrowth.factor(progress: progress) }

    @inline(__always)
    public func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: RecordFlags) {
        let i = Int(truncatingIfNeeded: key.high >> UInt64(64 - Self.partitionBits))
        let at = cursors[i]
        let record = Slot(low: key.low, high: key.high, team: team, audience: audience, flags: flags.rawValue)
        // Staging buffers are 256 places written a record at a time, 32 MiB together, so the
        // line a plain store lands in has left the cache since it was last written, and is read
        // from memory first. The first record of a line waits in `lines` instead; the second
        // completes it, and the whole line is streamed out without that read. (A buffer starts
        // on a line, so an even position, the first of a line, is one whose address has bit 5
        // clear: the parity `settle` and `stagedCount` read from the count.)
        let line = lines + 2 * i
        if UInt(bitPattern: at) & 32 == 0 {
            line.pointee = record
        } else {
            line[1] = record
            headcount_stream_line(at - 1, line)
        }
        cursors[i] = at + 1
        if at + 1 == limits[i] { stagingIsFull(partitions[i]) }
    }

    /// A partition's staging buffer is full: applied to its table, or spilled.
    private func stagingIsFull(_ p: Partition) {
        if isSpilling { spill(p) } else { apply(p) }
    }

    /// Applies a partition's staged records to its table, growing it or starting to spill.
    private func apply(_ p: Partition) {
        makeTables()
        // Taken once: read through `p` on every record, the table was retained and released
        // each time (25 ms of a run on M). Growing keeps the table object; only `finish`
        // replaces it.
        p.settle()
        let table = p.table
        let staged = p.staged
        let count = p.stagedCount
        var j = 0
        while j < count {
            if table.isFull && !isSpilling && growTogether(with: p, pending: count - j) { continue }
            if table.isFull {
                let wanted = Int(Double(table.capacity) * growthFactor)
                let growth = (wanted - table.capacity) * MemoryLayout<Slot>.stride
                // Counted as if its old and new slots were both held while it grows (its new
                // slots and a copy of its contacts are: `rehash`).
                if !fits(adding: wanted * MemoryLayout<Slot>.stride) {
                    startSpilling()
                    // Keep the rest of this batch: move it to the front and spill it.
                    let rest = count - j
                    if j > 0 { p.staged.update(from: p.staged + j, count: rest) }
                    p.stagedCount = rest
                    spill(p)
                    return
                }
                tableBytes += growth
                table.grow(to: wanted)
                tablesGrownAlone += 1
            }
            if j + Self.prefetchAhead < count { table.prefetch(staged[j + Self.prefetchAhead].low) }
            let r = staged[j]
            table.insert(low: r.low, high: r.high, team: r.team, audience: r.firstAudience, flags: r.flags)
            j += 1
        }
        p.stagedCount = 0
    }

    /// Grows the full table of `p` together with every table at least three fifths full, on
    /// `threads` workers; false, growing nothing, when that could pass the memory limit or
    /// there is one thread (growing one table at a time then decides, and may start spilling).
    ///
    /// Keys spread evenly over the partitions, so their tables fill at about the same time.
    /// Grown one by one as each fills, they were one long stretch of work for the counting
    /// thread alone (M: 0.2 s, rehashing 3M contacts into 300 MB of new tables) while the
    /// reading and scanning threads, their queues full, waited and a core sat idle.
    ///
    /// When every record is expected to be a new contact (`recordsAreMostlyNew`), a table counts
    /// its staged records as contacts too (`pending` of them for `p`, which is applying its
    /// own): the staging buffers fill in step, so when one table fills, every other one has a
    /// buffer's worth of records fewer applied, and counted by its contacts alone none was due.
    private func growTogether(with p: Partition, pending: Int) -> Bool {
        guard threads > 1 else { return false }
        /// A table's contacts, and for mostly new records, those still staged for it.
        func expected(_ q: Partition) -> Int {
            guard recordsAreMostlyNew else { return q.table.count }
            return q.table.count + (q === p ? pending : q.stagedCount)
        }
        let due = partitions.filter { $0 === p || expected($0) * 5 >= $0.table.capacity * 3 }
        guard due.count > 1 else { return false }
        // What the table will need by the end of the input, projected from its contacts (the
        // growth of a full table is the same), and more than it has.
        let factor = growthFactor
        let wanted = due.map { max(Int(Double(expected($0)) * 4 / 3 * factor), $0.table.capacity + 1) }
        let adding = wanted.reduce(0, +) * MemoryLayout<Slot>.stride
        // As if every old and new table were held at once (each grows in its own mapping with
        // a copy of its contacts aside, one per worker at a time: the real peak is lower).
        guard fits(adding: adding) else { return false }
        let before = due.reduce(0) { $0 + $1.table.capacity } * MemoryLayout<Slot>.stride
        let workers = min(threads, due.count)
        // Extended here, before the workers start: remapping takes the process's memory map for
        // writing, and waited on the other worker's faulting in (`ReleasedMappings`).
        for (k, q) in due.enumerated() { q.table.extend(to: wanted[k]) }
        // A table at a time to whichever thread is free: split in fixed halves, one thread
        // finished its half and waited (42 ms on M) while the other, started later and sharing
        // its core with the reading threads, was still faulting in its tables.
        Workers.forEach(due.count, threads: workers) { k in due[k].table.rehash() }
        tableBytes += adding - before
        tablesGrownTogether += due.count
        return true
    }

    /// How many records ahead `apply` prefetches the slot a record will go to: a partition's
    /// table is larger than L2, so this keeps several misses in flight instead of one at a time.
    static let prefetchAhead = 16

    private var poolBytes: Int { partitions.reduce(0) { $0 + $1.table.pool.capacity * 8 } }

    /// Whether `bytes` more (new tables, while the old ones are still held) stay within the limit.
    private func fits(adding bytes: Int) -> Bool {
        elsewhere + stagingBytes + tableBytes + poolBytes + bytes <= memoryLimit
    }
    /// The staging buffers of all partitions (inside the limit too).
    private var stagingBytes: Int { stagingRecords * MemoryLayout<Slot>.stride * Self.partitionCount }
    /// The staging buffers still held when `finish` merges (a spilled counter releases them).
    private var stagingInUse: Int { isSpilling ? 0 : stagingBytes }

    private func startSpilling() {
        guard !isSpilling else { return }
        isSpilling = true
        do {
            spillDirectory = try TemporaryFiles.makeFolder("headcount-spill", in: temporaryDirectory,
                                                           for: "a spill folder")
        } catch {
            failure = error
        }
    }

    /// Appends a partition's staged records to its spill file.
    private func spill(_ p: Partition) {
        defer { p.stagedCount = 0 }
        p.settle()
        headcount_store_fence()
        guard failure == nil, let dir = spillDirectory else { return }
        do {
            if p.spill == nil {
                let index = partitions.firstIndex { $0 === p }!
                let path = (dir as NSString).appendingPathComponent(String(format: "partition-%03d.bin", index))
                TemporaryFiles.register(path)
                // Unbuffered: the staging buffer is the write buffer (256 partitions × a
                // buffer each would sit outside the memory limit).
                p.spill = try FileSink(path: path, reportedAs: path, buffered: false, durable: false)
                p.spillPath = path
            }
            try p.spill!.writeUnbuffered(UnsafeRawBufferPointer(start: p.staged,
                                                                 count: p.stagedCount * MemoryLayout<Slot>.stride))
            p.spilledRecords += p.stagedCount
        } catch {
            failure = error
        }
    }

    /// Removes the spill files and their folder.
    private func removeSpillFiles() {
        for p in partitions {
            if let path = p.spillPath {
                unlink(path)
                TemporaryFiles.unregister(path)
            }
        }
        if let dir = spillDirectory {
            TemporaryFiles.removeFolder(dir)
            spillDirectory = nil
        }
    }

    public func finish(teams: Int, audienceTeam: [UInt32], policy: UnsubscribedPolicy) throws -> CountResult {
        defer { removeSpillFiles() }
        makeTables(forStaged: true)
        // The workers below read staging lines this thread streamed out.
        headcount_store_fence()
        // What is still staged: a partition whose table has room for all of it is applied by the
        // worker that tallies it (no growth, so nothing shared changes); the others first, here.
        var roomy = [Bool](repeating: false, count: Self.partitionCount)
        for (index, p) in partitions.enumerated() {
            if isSpilling && p.stagedCount > 0 {
                spill(p)
            } else if (p.table.count + p.stagedCount) * 4 < p.table.capacity * 3 {
                roomy[index] = true
            } else {
                apply(p)
            }
        }
        let applyInWorker = roomy
        if let failure { throw failure }
        // Partitions are disjoint, so workers tally them apart and the sums are the same for any
        // number of workers and any order. A spilled partition is merged in a table of its own,
        // and merges run at once only as far as the limit holds their tables: at first often one
        // at a time, more as the merged partitions' tables are freed.
        if isSpilling { for p in partitions { p.releaseStaging() } }
        let workers = max(1, min(threads, Self.partitionCount))
        let schedule = MergeSchedule(count: Self.partitionCount,
                                     room: memoryLimit - elsewhere - tableBytes - poolBytes - stagingInUse)
        let tallies = (0..<workers).map { _ in
            Tally(teams: teams, audiences: audienceTeam.count, policy: policy, flushLimit: tallyFlushLimit)
        }
        let errors = UnsafeMutableBufferPointer<Error?>.allocate(capacity: workers)
        errors.initialize(repeating: nil)
        defer { errors.deallocate() }
        let spilled = partitions.filter { $0.spill != nil }.count
        Workers.forEach(workers) { w in
            while let (index, reserved) = schedule.take({ i in
                let p = partitions[i]
                return p.spill == nil ? 0 : mergeBytes(table: p.table, records: p.spilledRecords)
            }) {
                let p = partitions[index]
                do {
                    if applyInWorker[index] { apply(p) }
                    if let sink = p.spill, let path = p.spillPath {
                        try sink.close()
                        let merged = try merge(p.table, spilled: path, records: p.spilledRecords)
                        unlink(path)
                        TemporaryFiles.unregister(path)
                        tallies[w].add(merged)
                    } else {
                        tallies[w].add(p.table)
                    }
                } catch {
                    if errors[w] == nil { errors[w] = error }
                    schedule.stop()
                }
                // Each partition's memory goes back once it is tallied, and makes room for
                // the merges after it; here, on every core, rather than one buffer at a time on
                // one thread after the reports (M: 512 mappings, 5-10 ms at the end of a run).
                let freed = p.table.bytes
                let wasSpilled = p.spill != nil
                // Unmapped at once when spilling: the merges after it need the room, and under an
                // address-space limit (`ulimit -v`) an emptied mapping still counts against it.
                if !isSpilling { p.table.release(to: released) }
                p.table = Table(capacity: 0)
                if !isSpilling { p.releaseStaging() }
                let mergesDone = schedule.done(reserved: reserved, freed: freed)
                if wasSpilled { onMerged?(mergesDone, spilled) }
            }
        }
        released.unmapAll()
        mergesAtOnce = schedule.mostAtOnce
        if let error = errors.lazy.compactMap({ $0 }).first { throw error }
        var r = CountResult(teams: teams, audiences: audienceTeam.count)
        for t in tallies { t.addTo(&r) }
        tallyFlushes = tallies.reduce(0) { $0 + $1.flushes }
        for (a, team) in audienceTeam.enumerated() where r.audienceContacts[a] > 0 {
            r.audiences[Int(team)] += 1
        }
        return r
    }

    /// The merged table of a spilled partition: room for all its contacts and records at
    /// the maximum load, so that it never grows.
    private func mergeCapacity(table: Table, records: Int) -> Int {
        max(Self.initialSlots, (table.count + records) * 4 / 3 + 1)
    }

    /// Bytes a partition's merge holds besides its table: the merged table and a read buffer.
    private func mergeBytes(table: Table, records: Int) -> Int {
        records == 0 ? 0 : mergeCapacity(table: table, records: records) * MemoryLayout<Slot>.stride
            + stagingRecords * MemoryLayout<Slot>.stride
    }

    /// One partition's table and its spilled records, merged into a new table.
    private func merge(_ table: Table, spilled path: String, records: Int) throws -> Table {
        let merged = Table(capacity: mergeCapacity(table: table, records: records))
        table.forEachContact { s, audiences in
            merged.insert(low: s.low, high: s.high, team: s.team, audience: audiences.first ?? noAudience, flags: s.flags)
            for a in audiences.dropFirst() {
                merged.insert(low: s.low, high: s.high, team: s.team, audience: a, flags: 0)
            }
        }
        let file = try InputFile.scratch(path)
        let batch = UnsafeMutableRawBufferPointer.allocate(byteCount: stagingRecords * MemoryLayout<Slot>.stride,
                                                           alignment: 16)
        defer { batch.deallocate() }
        var carry = 0
        while true {
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: batch[carry...]))
            if n == 0 { break }
            let available = carry + n
            let whole = available / MemoryLayout<Slot>.stride
            let slots = batch.baseAddress!.assumingMemoryBound(to: Slot.self)
            for j in 0..<whole {
                let s = slots[j]
                if merged.isFull { merged.grow(to: merged.capacity * 2) }
                merged.insert(low: s.low, high: s.high, team: s.team, audience: s.firstAudience, flags: s.flags)
            }
            carry = available - whole * MemoryLayout<Slot>.stride
            if carry > 0 { batch.baseAddress!.copyMemory(from: batch.baseAddress! + whole * MemoryLayout<Slot>.stride, byteCount: carry) }
        }
        if carry > 0 {
            throw HeadcountError(.environment, "a temporary file ends inside a record", file: path)
        }
        return merged
    }
}
