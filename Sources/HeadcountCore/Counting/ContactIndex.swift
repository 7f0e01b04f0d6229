/// Maps contact ids to the contact they name, for joining memberships.
///
/// Keyed by a 128-bit hash of the contact id; holds the team and the
/// contact's key (team + normalised email). Only counted contacts are held.
/// When one contact id appears on several rows, the entry kept is the one
/// with the smallest (team hash, key), so the join does not depend on the
/// order the files are read in.
public final class ContactIndex {
    struct Entry {
        var id: Key128
        var contact: Key128
        var team: UInt32
        var teamHash: UInt64
        /// The contact row was created after `--as-of`: its memberships are filtered too.
        var filtered: Bool
    }

    /// Seed of the contact-id hash; fixed so that runs are reproducible.
    static let seed: UInt64 = 0x636f_6e74_6163_7473
    /// Maximum load 3/4 (see `PartitionedCounter`).
    private var slots: UnsafeMutablePointer<Entry>
    private var capacity: Int
    public private(set) var count = 0

    public init(expected: Int = 1 << 16) {
        var c = 1024
        while c * 3 < expected * 4 { c *= 2 }
        capacity = c
        slots = .allocate(capacity: c)
        slots.initialize(repeating: Self.empty, count: c)
    }

    deinit { slots.deallocate() }

    private static let empty = Entry(id: Key128(low: 0, high: 0), contact: Key128(low: 0, high: 0),
                                     team: 0, teamHash: 0, filtered: false)

    @inline(__always)
    public static func key(of contactID: UnsafeRawBufferPointer) -> Key128 {
        ByteHash.hash128(contactID, seed: seed)
    }

    /// Records that `id` names `contact` in `team` (or a contact filtered out by `--as-of`).
    /// A counted contact wins over a filtered one; between two of a kind the smallest
    /// (team hash, key) wins, whatever the order they come in.
    public func add(id: Key128, contact: Key128, team: UInt32, teamHash: UInt64, filtered: Bool = false) {
        if count * 4 >= capacity * 3 { grow() }
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: id.low) & mask
        while true {
            let s = slots + i
            if s.pointee.id == id {
                let replace = s.pointee.filtered != filtered
                    ? s.pointee.filtered
                    : (teamHash, contact) < (s.pointee.teamHash, s.pointee.contact)
                if replace {
                    s.pointee = Entry(id: id, contact: contact, team: team, teamHash: teamHash, filtered: filtered)
                }
                return
            }
            if s.pointee.id.low == 0 && s.pointee.id.high == 0 {
                s.pointee = Entry(id: id, contact: contact, team: team, teamHash: teamHash, filtered: filtered)
                count += 1
                return
            }
            i = (i + 1) & mask
        }
    }

    /// The contact and team that `id` names, if it was added.
    @inline(__always)
    public func lookup(_ id: Key128) -> (contact: Key128, team: UInt32, filtered: Bool)? {
        let mask = capacity - 1
        var i = Int(truncatingIfNeeded: id.low) & mask
        while true {
            let s = slots[i]
            if s.id == id { return (s.contact, s.team, s.filtered) }
            if s.id.low == 0 && s.id.high == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let old = slots, oldCapacity = capacity
        capacity *= 2
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Self.empty, count: capacity)
        let mask = capacity - 1
        for j in 0..<oldCapacity where old[j].id.low != 0 || old[j].id.high != 0 {
            var i = Int(truncatingIfNeeded: old[j].id.low) & mask
            while slots[i].id.low != 0 || slots[i].id.high != 0 { i = (i + 1) & mask }
            slots[i] = old[j]
        }
        old.deallocate()
    }
}
