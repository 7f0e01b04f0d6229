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
/// Memory: about 43 bytes per distinct contact at the maximum load plus 8
/// per extra audience membership. Partitions grow one at a time, so growth
/// never doubles the whole footprint at once.
public final class PartitionedCounter: ContactCounter {
    /// Partitions: a power of two, chosen so that a partition's table fits
    /// in cache for medium dumps and growth happens in small steps.
    public static let partitionBits = 8
    /// Slots in a new partition (a power of two).
    static let initialSlots = 1 << 10

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

        init(capacity: Int) {
            self.capacity = capacity
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: Slot(low: 0, high: 0, team: 0, firstAudience: 0, more: 0, flags: 0),
                             count: capacity)
        }

        deinit { slots.deallocate() }

        /// Maximum load 3/4: linear probing stays short, memory stays near 43 bytes a key.
        @inline(__always) var isFull: Bool { count * 4 >= capacity * 3 }

        @inline(__always)
        func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: UInt32) {
            if isFull { grow() }
            let mask = capacity - 1
            var i = Int(truncatingIfNeeded: key.low) & mask
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
                i = (i + 1) & mask
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
            capacity *= 2
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: Slot(low: 0, high: 0, team: 0, firstAudience: 0, more: 0, flags: 0),
                             count: capacity)
            let mask = capacity - 1
            for j in 0..<oldCapacity {
                let s = old[j]
                if s.low == 0 && s.high == 0 { continue }
                var i = Int(truncatingIfNeeded: s.low) & mask
                while slots[i].low != 0 || slots[i].high != 0 { i = (i + 1) & mask }
                slots[i] = s
            }
            old.deallocate()
        }
    }

    private var partitions: [Partition]

    public init() {
        partitions = (0..<(1 << Self.partitionBits)).map { _ in Partition(capacity: Self.initialSlots) }
    }

    /// Distinct contacts held.
    public var count: Int { partitions.reduce(0) { $0 + $1.count } }

    @inline(__always)
    public func insert(_ key: Key128, team: UInt32, audience: UInt32, flags: RecordFlags) {
        let p = partitions[Int(truncatingIfNeeded: key.high >> UInt64(64 - Self.partitionBits))]
        p.insert(key, team: team, audience: audience, flags: flags.rawValue)
    }

    public func finish(teams: Int, audienceTeam: [UInt32], policy: UnsubscribedPolicy) throws -> CountResult {
        var r = CountResult(teams: teams, audiences: audienceTeam.count)
        var histogram = [Int](repeating: 0, count: 2)
        var audienceList: [UInt32] = []
        for p in partitions {
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
