import CIntrinsics

/// Maps contact ids to the contact they name, for joining memberships.
///
/// Two stores behind one interface. Contact ids written as plain decimal numbers (no sign,
/// no leading zero, at most 18 digits: what platforms' dumps hold) are their own key: the
/// entry for id n sits at position n of a dense array of 24-byte entries, with no hashing,
/// no probing and no possible collision, and a dump whose ids count up from 1 fills it in
/// order. Other ids are keyed by a 128-bit hash in an open-addressing table of 40-byte
/// entries, at most 3/4 full; so are numbers too large for the dense array to stay at
/// most about half empty. Each id lives in one store only: the one it was first added to.
///
/// When one contact id appears on several rows, the entry kept is the counted one (over one
/// filtered by `--as-of`), then the one with the smallest key, so the join does not depend
/// on the order the files are read in. A membership that names no team joins that entry.
/// Where the rows of one id are in different teams (ids numbered per team), each other team
/// keeps its own entry, by the same rule, in a second index (`others`, keyed by id and team),
/// so that a membership naming its team joins that team's contact.
public final class ContactIndex {
    struct Entry {
        var id: Key128
        var contact: Key128
        var team: UInt32
        /// The contact row was created after `--as-of`: its memberships are filtered too.
        var filtered: Bool
    }

    struct DenseEntry {
        var contact: Key128
        var team: UInt32
        /// 0: empty; `counted` or `filtered`.
        var state: UInt8
    }

    static let counted: UInt8 = 1
    static let filteredState: UInt8 = 2

    /// Seed of the contact-id hash; fixed so that runs are reproducible.
    static let seed: UInt64 = 0x636f_6e74_6163_7473
    /// The `high` word of the key of a decimal id, whose `low` word is the number itself.
    /// A hashed key never has it (`key(of:)`), so the two kinds of key cannot meet.
    static let decimalMark: UInt64 = 0x6465_6369_6d61_6c21

    private var slots: UnsafeMutablePointer<Entry>
    private var capacity: Int
    private var hashed = 0
    private var dense: UnsafeMutablePointer<DenseEntry>?
    private var denseCapacity = 0
    private var denseCount = 0
    /// The dense array's last growth, its new pages still being faulted in.
    private var densePrefault: BackgroundWork?
    /// Whether some decimal id went to the hashed table (its number was too large then).
    private var decimalsHashed = false
    /// The entries of ids in the teams other than their own entry's, keyed by `key(_:inTeam:)`;
    /// made when the first such id comes (never, for ids unique across teams).
    private var others: ContactIndex?

    /// Ids held.
    public var count: Int { hashed + denseCount }
    /// Bytes held by both stores (and the other teams' entries).
    public var bytes: Int {
        capacity * MemoryLayout<Entry>.stride + denseCapacity * MemoryLayout<DenseEntry>.stride + (others?.bytes ?? 0)
    }
    /// The share of the contacts read so far; tables grow to the projected final size.
    private var progress: Double = 0
    /// Bytes the index may grow to (`IndexStage`'s share of the memory limit): a growth that
    /// would pass it is cut to what is needed, and `isFull` then says that the index should
    /// move to disk before it grows again. Without it, a table grown to the projected size
    /// of the whole dump held that much at once, whatever the limit.
    public var maxBytes = Int.max
    /// A growth was cut short by `maxBytes`.
    public private(set) var isFull = false

    public init(expected: Int = 1 << 10) {
        capacity = Self.capacity(expected: expected)
        slots = PageMemory.allocate(Entry.self, count: capacity)
    }

    private static func capacity(expected: Int) -> Int { max(1024, expected * 4 / 3 + 1) }

    /// The bytes of a new index for `expected` ids.
    static func bytes(expected: Int) -> Int { capacity(expected: expected) * MemoryLayout<Entry>.stride }

    deinit {
        PageMemory.free(slots, count: capacity)
        densePrefault?.wait()
        if let dense { PageMemory.free(dense, count: denseCapacity) }
    }

    /// The key of a contact id: the number itself for a plain decimal, else a 128-bit hash.
    @inline(__always)
    public static func key(of contactID: UnsafeRawBufferPointer) -> Key128 {
        let n = contactID.count
        if n > 0 && n <= 18 && contactID[0] != 0x30 || n == 1 {
            var v: UInt64 = 0
            var decimal = true
            for c in contactID {
                let d = c &- 0x30
                if d > 9 { decimal = false; break }
                v = v &* 10 &+ UInt64(d)
            }
            if decimal { return Key128(low: v, high: decimalMark) }
        }
        var k = ByteHash.hash128(contactID, seed: seed)
        if k.high == decimalMark { k.high ^= 1 }
        return k
    }

    /// Tells the index how much of the contacts has been read (0...1).
    public func noteProgress(_ fraction: Double) { progress = fraction }

    /// The slot an id's probe starts at. A decimal id's key is the number itself, not a hash:
    /// it is mixed first (Fibonacci hashing), or every number below 2⁶⁴ / capacity (all of
    /// them, in practice) would start at slot 0 and the table would be one probe chain. Sparse
    /// numeric ids, or a part of them on disk (`JoinSpill`), come here.
    @inline(__always)
    private func home(_ id: Key128) -> Int {
        let mixed = (id.low ^ id.high) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// Slots a lookup of `id` reads before it ends (for the tests of the table's spread).
    func probeLength(of id: Key128) -> Int {
        var i = home(id)
        var n = 1
        while slots[i].id != id && (slots[i].id.low != 0 || slots[i].id.high != 0) {
            i += 1
            if i == capacity { i = 0 }
            n += 1
        }
        return n
    }

    /// Records that `id` names `contact` in `team`, or a contact of `team` filtered out by
    /// `--as-of`, whose `contact` is then (0, the team's stable hash): between two entries for
    /// one id, the smaller `contact` wins, a choice that needs nothing but the entries.
    /// Of two rows of one id in two teams, the entry that loses goes to `others` (where it
    /// competes with the other rows of its own team).
    public func add(id: Key128, contact: Key128, team: UInt32, filtered: Bool = false) {
        if id.high == Self.decimalMark, let e = denseEntry(for: id.low) {
            let state = filtered ? Self.filteredState : Self.counted
            if e.pointee.state == 0 {
                denseCount += 1
                e.pointee = DenseEntry(contact: contact, team: team, state: state)
                return
            }
            let wins = e.pointee.state != state ? e.pointee.state == Self.filteredState : contact < e.pointee.contact
            if replaces(id: id, entry: (e.pointee.contact, e.pointee.team, e.pointee.state == Self.filteredState),
                        row: (contact, team, filtered), wins: wins) {
                e.pointee = DenseEntry(contact: contact, team: team, state: state)
            }
            return
        }
        if id.high == Self.decimalMark { decimalsHashed = true }
        addHashed(id: id, contact: contact, team: team, filtered: filtered)
    }

    /// The dense entry of decimal id `n`, growing the array when that keeps it at most about
    /// half empty; nil when `n` belongs to the hashed table (too large, or already there).
    @inline(__always)
    private func denseEntry(for n: UInt64) -> UnsafeMutablePointer<DenseEntry>? {
        if n < UInt64(denseCapacity), let dense {
            let e = dense + Int(n)
            if e.pointee.state == 0 && decimalsHashed && lookupHashed(Key128(low: n, high: Self.decimalMark)) != nil {
                return nil
            }
            return e
        }
        // Ids past the array: grow it if the ids expected by the end would fill at least half
        // of it (ids in random order reach the top early, so the bound looks ahead).
        let wanted = Int(n) + 1
        let expected = progress > 0.01 && progress < 1 ? Double(count) / progress : Double(count)
        guard n < 1 << 40, Double(wanted) <= 2 * expected + 65536 else { return nil }
        if decimalsHashed && lookupHashed(Key128(low: n, high: Self.decimalMark)) != nil { return nil }
        growDense(to: wanted)
        return dense! + Int(n)
    }

    private func growDense(to wanted: Int) {
        let factor = TableGrowth.factor(progress: progress)
        var newCapacity = max(wanted, Int(Double(max(denseCapacity, 1 << 16)) * factor))
        let room = (maxBytes - capacity * MemoryLayout<Entry>.stride) / MemoryLayout<DenseEntry>.stride
        if newCapacity > room {
            newCapacity = max(wanted, room)
            isFull = true
        }
        if let dense {
            densePrefault?.wait()
            (self.dense, densePrefault) = PageMemory.grow(dense, from: denseCapacity, to: newCapacity)
        } else {
            dense = PageMemory.allocate(DenseEntry.self, count: newCapacity)
        }
        denseCapacity = newCapacity
    }

    private func addHashed(id: Key128, contact: Key128, team: UInt32, filtered: Bool) {
        if hashed * 4 >= capacity * 3 { grow() }
        var i = home(id)
        while true {
            let s = slots + i
            if s.pointee.id == id {
                let wins = s.pointee.filtered != filtered ? s.pointee.filtered : contact < s.pointee.contact
                if replaces(id: id, entry: (s.pointee.contact, s.pointee.team, s.pointee.filtered),
                            row: (contact, team, filtered), wins: wins) {
                    s.pointee = Entry(id: id, contact: contact, team: team, filtered: filtered)
                }
                return
            }
            if s.pointee.id.low == 0 && s.pointee.id.high == 0 {
                s.pointee = Entry(id: id, contact: contact, team: team, filtered: filtered)
                hashed += 1
                return
            }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    /// Asks for the cache line where `id` will be found, a few rows before it is added or
    /// looked up: the index is far larger than the caches, and this keeps misses in flight.
    @inline(__always)
    public func prefetch(_ id: Key128) {
        if id.high == Self.decimalMark && id.low < UInt64(denseCapacity) {
            headcount_prefetch(dense! + Int(id.low))
        } else {
            headcount_prefetch(slots + home(id))
        }
    }

    /// Whether a row of `id` replaces the id's entry, given that it `wins` by the rule. A row of
    /// another team does not compete with the entry for its own team: whichever of the two loses
    /// goes to `others`.
    @inline(__always)
    private func replaces(id: Key128, entry: (contact: Key128, team: UInt32, filtered: Bool),
                          row: (contact: Key128, team: UInt32, filtered: Bool), wins: Bool) -> Bool {
        if entry.team != row.team {
            let loser = wins ? entry : row
            addOther(id: id, contact: loser.contact, team: loser.team, filtered: loser.filtered)
        }
        return wins
    }

    /// A row of `id` in `team`, which the id's own entry names another team for.
    private func addOther(id: Key128, contact: Key128, team: UInt32, filtered: Bool) {
        if others == nil { others = ContactIndex() }
        others!.add(id: Self.key(id, inTeam: team), contact: contact, team: team, filtered: filtered)
    }

    /// The key of `id` within `team`, for `others`: the id's two words changed by two odd
    /// multiples of the team, so that it is (id, team) exactly (given the team, the id comes
    /// back: `id(of:inTeam:)`), and a decimal id's key no longer carries `decimalMark`.
    @inline(__always)
    static func key(_ id: Key128, inTeam team: UInt32) -> Key128 {
        Key128(low: id.low ^ UInt64(team) &* 0x9E37_79B9_7F4A_7C15,
               high: id.high ^ (UInt64(team) + 1) &* 0xC2B2_AE3D_27D4_EB4F)
    }

    static func id(of key: Key128, inTeam team: UInt32) -> Key128 { Self.key(key, inTeam: team) }

    /// The contact that `id` names in `team` (nil: in whichever team its entry names): the
    /// id's entry, or where that is in another team, that team's own entry for the id if it
    /// has one. A membership then joins the contact whose team it names, or none.
    @inline(__always)
    public func lookup(_ id: Key128, team: Int?) -> (contact: Key128, team: UInt32, filtered: Bool)? {
        guard let entry = lookup(id) else { return nil }
        if let team, team >= 0, team != Int(entry.team), let others,
           let own = others.lookup(Self.key(id, inTeam: UInt32(team))) {
            return own
        }
        return entry
    }

    /// The contact and team that `id`'s entry names, if it was added.
    @inline(__always)
    public func lookup(_ id: Key128) -> (contact: Key128, team: UInt32, filtered: Bool)? {
        if id.high == Self.decimalMark {
            if id.low < UInt64(denseCapacity) {
                let e = dense![Int(id.low)]
                if e.state != 0 { return (e.contact, e.team, e.state == Self.filteredState) }
            }
            if !decimalsHashed { return nil }
        }
        return lookupHashed(id)
    }

    @inline(__always)
    private func lookupHashed(_ id: Key128) -> (contact: Key128, team: UInt32, filtered: Bool)? {
        var i = home(id)
        while true {
            let s = slots[i]
            if s.id == id { return (s.contact, s.team, s.filtered) }
            if s.id.low == 0 && s.id.high == 0 { return nil }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    /// Calls `body` with every entry held, as `add` would take it again (for moving the index to
    /// disk when it outgrows its share of the memory limit).
    public func forEachEntry(_ body: (_ id: Key128, _ contact: Key128, _ team: UInt32, _ filtered: Bool) throws -> Void)
        rethrows {
        if let dense {
            for n in 0..<denseCapacity where dense[n].state != 0 {
                let e = dense[n]
                try body(Key128(low: UInt64(n), high: Self.decimalMark), e.contact, e.team, e.state == Self.filteredState)
            }
        }
        for j in 0..<capacity where slots[j].id.low != 0 || slots[j].id.high != 0 {
            let e = slots[j]
            try body(e.id, e.contact, e.team, e.filtered)
        }
        try others?.forEachEntry { key, contact, team, filtered in
            try body(Self.id(of: key, inTeam: team), contact, team, filtered)
        }
    }

    private func grow() {
        let old = slots, oldCapacity = capacity
        let factor = TableGrowth.factor(progress: progress)
        capacity = Int(Double(oldCapacity) * factor)
        let room = (maxBytes - denseCapacity * MemoryLayout<DenseEntry>.stride) / MemoryLayout<Entry>.stride
        if capacity > room {
            capacity = max(oldCapacity * 3 / 2, room)
            isFull = true
        }
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
