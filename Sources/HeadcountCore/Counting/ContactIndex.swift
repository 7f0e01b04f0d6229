import CIntrinsics

/// Maps contact ids to the contact they name, for joining memberships.
///
/// Keyed by a 128-bit hash of the contact id; holds the contact's key (team +
/// normalised email) and team: 40 bytes an entry, at most 3/4 full. When one
/// contact id appears on several rows, the entry kept is the counted one
/// (over one filtered by `--as-of`), then the one with the smallest key, so
/// the join does not depend on the order the files are read in.
public final class ContactIndex {
    struct Entry {
        var id: Key128
        var contact: Key128
        var team: UInt32
        /// The contact row was created after `--as-of`: its memberships are filtered too.
        var filtered: Bool
    }

    /// Seed of the contact-id hash; fixed so that runs are reproducible.
    static let seed: UInt64 = 0x636f_6e74_6163_7473
    private var slots: UnsafeMutablePointer<Entry>
    private var capacity: Int
    public private(set) var count = 0
    /// Bytes held by the slots.
    public var bytes: Int { capacity * MemoryLayout<Entry>.stride }
    /// The share of the contacts read so far; tables grow to the projected final size.
    private var progress: Double = 0

    public init(expected: Int = 1 << 16) {
        capacity = max(1024, expected * 4 / 3 + 1)
        slots = PageMemory.allocate(Entry.self, count: capacity)
    }

    deinit { PageMemory.free(slots, count: capacity) }

    @inline(__always)
    public static func key(of contactID: UnsafeRawBufferPointer) -> Key128 {
        ByteHash.hash128(contactID, seed: seed)
    }

    /// Tells the index how much of the contacts has been read (0...1).
    public func noteProgress(_ fraction: Double) { progress = fraction }

    @inline(__always)
    private func home(_ id: Key128) -> Int {
        Int(truncatingIfNeeded: id.low.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// Records that `id` names `contact` in `team`, or a contact of `team` filtered out by
    /// `--as-of`, whose `contact` is then (0, the team's stable hash): between two entries for
    /// one id, the smaller `contact` wins, a choice that needs nothing but the entries.
    public func add(id: Key128, contact: Key128, team: UInt32, filtered: Bool = false) {
        if count * 4 >= capacity * 3 { grow() }
        var i = home(id)
        while true {
            let s = slots + i
            if s.pointee.id == id {
                let replace = s.pointee.filtered != filtered
                    ? s.pointee.filtered
                    : contact < s.pointee.contact
                if replace { s.pointee = Entry(id: id, contact: contact, team: team, filtered: filtered) }
                return
            }
            if s.pointee.id.low == 0 && s.pointee.id.high == 0 {
                s.pointee = Entry(id: id, contact: contact, team: team, filtered: filtered)
                count += 1
                return
            }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    /// Asks for the cache line where `id` starts probing, a few rows before it is added or
    /// looked up: the index is far larger than the caches, and this keeps misses in flight.
    @inline(__always)
    public func prefetch(_ id: Key128) {
        headcount_prefetch(slots + home(id))
    }

    /// The contact and team that `id` names, if it was added.
    @inline(__always)
    public func lookup(_ id: Key128) -> (contact: Key128, team: UInt32, filtered: Bool)? {
        var i = home(id)
        while true {
            let s = slots[i]
            if s.id == id { return (s.contact, s.team, s.filtered) }
            if s.id.low == 0 && s.id.high == 0 { return nil }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    private func grow() {
        let old = slots, oldCapacity = capacity
        // To the projected final size, with 15% to spare (see `PartitionedCounter.growthFactor`).
        let factor = progress > 0.01 && progress < 1 ? min(max(1.15 / progress, 1.5), 16) : 2
        capacity = Int(Double(oldCapacity) * factor)
        slots = PageMemory.allocate(Entry.self, count: capacity)
        for j in 0..<oldCapacity where old[j].id.low != 0 || old[j].id.high != 0 {
            var i = home(old[j].id)
            while slots[i].id.low != 0 || slots[i].id.high != 0 {
                i += 1
                if i == capacity { i = 0 }
            }
            slots[i] = old[j]
        }
        PageMemory.free(old, count: oldCapacity)
    }
}
