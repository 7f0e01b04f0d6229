/// An exact in-memory counter: one open-addressing table of global contacts
/// per partition, each contact carrying its set of audiences.
///
/// A contact is identified by a 128-bit key of (team, normalised email); its
/// top 8 bits choose one of 256 partitions, its low bits the slot. One slot
/// (32 bytes) holds the key, the team, the first audience and the record
/// flags; further audiences of the same contact (28% of contacts) go to a
/// per-partition pool of 8-byte list nodes. Everything `teams.csv` and
/// `audiences.csv` need follows from one pass over the slots.
///
/// Inserts are radix-batched: a record first goes to its partition's small
/// staging buffer (sequential writes), and a full buffer is applied to the
/// partition's table in one go, while that table is hot in cache. One large
/// table would cost a cache and TLB miss per row; batches cost about one per
/// cache line of the partition's table.
///
/// Memory: about 43 bytes per distinct contact at the maximum load plus 8
/// per extra audience membership, plus the staging buffers
/// (`partitions × stagingRecords × 32` bytes = 32 MiB). Partitions grow one
/// at a time, so growth never doubles the whole footprint at once.
public final class PartitionedCounter: ContactCounter {
    /// Partitions: a power of two, chosen so that a partition's table fits
    /// in cache for medium dumps and growth happens in small steps.
    public static let partitionBits = 8
    /// Slots in a new partition (a power of two).
    static let initialSlots = 1 << 10
    /// Records staged per partition before they are applied (32 bytes each: 128 KiB).
    static let stagingRecords = 4096

    struct Slot {
        var low: UInt64
        var high: UInt64
        var team: UInt32
        var firstAudience: UInt32
        /// Index + 1 of the first extra-audience node in the pool; 0 = none.
        var more: UInt32
        var flags: UInt32
    }

    final class Partition {
        var slots: UnsafeMutablePointer<Slot>
        var capacity: Int
        var count = 0
        /// Extra audiences: (audience, index + 1 of the next node).
        var pool: [(audience: UInt32, next: UInt32)] = []
        /// Records not yet applied to the table; same layout as a slot (`more` unused).
        let staged: UnsafeMutablePointer<Slot>
        var stagedCount = 0

        init(capacity: Int) {
            staged = .allocate(capacity: PartitionedCounter.stagingRecords)
            self.capacity = capacity
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: Slot(low: 0, high: 0, team: 0, firstAudience: 0, more: 0, flags: 0),
                             count: capacity)
        }

        deinit {
            slots.deallocate()
            staged.deallocate()
        }

        @inline(__always)
        func stage(_ key: Key128, team: UInt32, audience: UInt32, flags: UInt32) {
            staged[stagedCount] = Slot(low: key.low, high: key.high, team: team, firstAudience: audience,
                                       more: 0, flags: flags)
            stagedCount += 1
            if stagedCount == PartitionedCounter.stagingRecords { applyStaged() }
        }

        /// Applies the staged records to the table.
        func applyStaged() {
            for j in 0..<stagedCount {
                let r = staged[j]
                insert(Key128(low: r.low, high: r.high), team: r.team, audience: r.firstAudience, flags: r.flags)
            }
            stagedCount = 0
        }

        /// Maximum load 3/4: linear probing stays short, memory stays near 43 bytes a key.
        @inline(__always) var isFull: Bool { count * 4 >= capacity * 3 }

        /// The home slot of a key: multiply-shift maps the hash onto any capacity,
        /// so tables can grow by the amount the data needs, not only by doubling.
        @inline(__always)
        static func home(_ low: UInt64, _ capacity: Int) -> Int {
            Int(truncatingIfNeeded: low.multipliedFullWidth(by: UInt64(capacity)).high)
        }

        /// Multiplies the capacity on growth; set from the share of the input read so far,
        /// so that a partition grows once or twice to its final size, not a dozen times.
        var growth: () -> Double = { 2 }

        @inline(__always)
        func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: UInt32) {
            if isFull { grow() }
            let capacity = self.capacity
            var i = Self.home(key.low, capacity)
            while true {
                let s = slots + i
                if s.pointee.low == key.low && s.pointee.high == key.high {
                    s.pointee.flags |= flags
                    if audience != noAudience { addAudience(audience, to: s) }
                    return
                }
                if s.pointee.low == 0 && s.pointee.high == 0 {
                    s.pointee = Slot(low: key.low, high: key.high, team: team, firstAudience: audience,
                                     more: 0, flags: flags)
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
            var node = s.pointee.more
            while node != 0 {
                let n = pool[Int(node) - 1]
                if n.audience == audience { return }
                node = n.next
            }
            pool.append((audience, s.pointee.more))
            s.pointee.more = UInt32(pool.count)
        }

        func grow() {
            let old = slots, oldCapacity = capacity
            let factor = min(max(growth(), 1.25), 16)
            capacity = Int(Double(oldCapacity) * factor)
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: Slot(low: 0, high: 0, team: 0, firstAudience: 0, more: 0, flags: 0),
                             count: capacity)
            for j in 0..<oldCapacity {
                let s = old[j]
                if s.low == 0 && s.high == 0 { continue }
                var i = Self.home(s.low, capacity)
                while slots[i].low != 0 || slots[i].high != 0 {
                    i += 1
                    if i == capacity { i = 0 }
                }
                slots[i] = s
            }
            old.deallocate()
        }
    }

    private var partitions: [Partition]

    public init() {
        partitions = (0..<(1 << Self.partitionBits)).map { _ in Partition(capacity: Self.initialSlots) }
        for p in partitions { p.growth = { [unowned self] in self.growthFactor } }
    }

    /// The share of the input read so far (0...1), from the job; tables grow to the size
    /// the whole input is projected to need (with headroom), instead of doubling blindly.
    private var progress: Double = 0

    public func noteProgress(_ fraction: Double) { progress = fraction }

    private var growthFactor: Double {
        guard progress > 0.01 && progress < 1 else { return 2 }
        // Distinct contacts grow more slowly than rows, so 1/progress is an upper bound.
        return min(max(1 / progress, 1.5), 16)
    }

    /// Distinct contacts held (after applying what is staged).
    public var count: Int {
        partitions.reduce(0) { $0 + { $0.applyStaged(); return $0.count }($1) }
    }

    @inline(__always)
    public func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: RecordFlags) {
        let p = partitions[Int(truncatingIfNeeded: key.high >> UInt64(64 - Self.partitionBits))]
        p.stage(key, team: team, audience: audience, flags: flags.rawValue)
    }

    public func finish(teams: Int, audienceTeam: [UInt32], policy: UnsubscribedPolicy) throws -> CountResult {
        var r = CountResult(teams: teams, audiences: audienceTeam.count)
        var histogram = [Int](repeating: 0, count: 2)
        var audienceList: [UInt32] = []
        for p in partitions {
            p.applyStaged()
            for j in 0..<p.capacity {
                let s = p.slots[j]
                if s.low == 0 && s.high == 0 { continue }
                let team = Int(s.team)
                audienceList.removeAll(keepingCapacity: true)
                if s.firstAudience != noAudience { audienceList.append(s.firstAudience) }
                var node = s.more
                while node != 0 {
                    let n = p.pool[Int(node) - 1]
                    audienceList.append(n.audience)
                    node = n.next
                }
                let k = audienceList.count
                r.global[team] += 1
                r.legacy[team] += k
                if k == 0 { r.withoutAudience[team] += 1 }
                if k >= histogram.count { histogram += Array(repeating: 0, count: k + 1 - histogram.count) }
                histogram[k] += 1
                let flags = RecordFlags(rawValue: s.flags)
                let unsubscribed = policy == .any
                    ? flags.contains(.unsubscribed)
                    : flags.contains(.unsubscribed) && !flags.contains(.subscribed)
                if unsubscribed { r.unsubscribed[team] += 1 }
                for a in audienceList {
                    let ai = Int(a)
                    r.audienceContacts[ai] += 1
                    if k >= 2 { r.audienceShared[ai] += 1 } else { r.audienceExclusive[ai] += 1 }
                }
            }
        }
        for (a, team) in audienceTeam.enumerated() where r.audienceContacts[a] > 0 {
            r.audiences[Int(team)] += 1
        }
        r.audiencesPerEmail = histogram
        return r
    }
}
