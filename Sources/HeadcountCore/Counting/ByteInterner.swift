import CIntrinsics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gives each distinct (owner, byte string) a dense index: team ids, and
/// audience ids within their team.
///
/// Looked up once per row, so built for that: open addressing with linear
/// probing over power-of-two slots kept at most three quarters full (so the
/// 570,000 audiences of a large dump take 1M slots, not 2M). A slot is 32
/// bytes (one half cache line) and holds the hash tag, the index, the owner,
/// the length and the first 16 bytes of the key, so a lookup of a short id
/// (all team and audience ids seen in practice) touches one cache line.
/// Longer keys are compared against the arena, where every key is kept for
/// output.
public final class ByteInterner {
    struct Slot {
        /// The first 16 bytes of the key, zero-padded.
        var head0: UInt64
        var head1: UInt64
        /// Hash tag in the high 32 bits, index + 1 in the low 32 (0 = empty).
        var tagIndex: UInt64
        var owner: UInt32
        var length: UInt32
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var mask: Int
    private var hashes: [UInt64] = []
    private var owners: [UInt32] = []
    private var offsets: [Int] = [0]
    private var arena = ByteArena()
    private let seed: UInt64

    /// Initial slots; the table doubles when three quarters full.
    static let initialSlots = 1024

    public init(seed: UInt64) {
        self.seed = seed
        slots = PageMemory.allocate(Slot.self, count: Self.initialSlots)
        mask = Self.initialSlots - 1
    }

    deinit {
        PageMemory.free(slots, count: mask + 1)
        arena.deallocate()
    }

    public var count: Int { hashes.count }

    /// Bytes held: slots, keys and the per-entry arrays.
    public var bytes: Int {
        (mask + 1) * MemoryLayout<Slot>.stride + arena.reserved
            + hashes.capacity * 8 + owners.capacity * 4 + offsets.capacity * 8
    }

    /// The stable hash of entry `index` (the same for the same bytes and owner on every run).
    @inline(__always)
    public func hash(of index: Int) -> UInt64 { hashes[index] }

    /// The owner given when entry `index` was added.
    @inline(__always)
    public func owner(of index: Int) -> UInt32 { owners[index] }

    /// The bytes of entry `index`.
    public func bytes(of index: Int) -> [UInt8] {
        let start = offsets[index]
        return Array(UnsafeRawBufferPointer(start: arena.base + start, count: offsets[index + 1] - start))
    }

    /// The bytes of entry `index`, in place when they are short (`IDBytes`).
    public func idBytes(of index: Int) -> IDBytes {
        let start = offsets[index]
        return IDBytes(UnsafeRawBufferPointer(start: arena.base + start, count: offsets[index + 1] - start))
    }

    /// Whether entry `a`'s bytes come before entry `b`'s in byte order (a prefix first), read in
    /// place: sorting 127,000 audience ids as arrays retained and released them on every
    /// comparison, on the one thread that writes the reports.
    public func precedes(_ a: Int, _ b: Int) -> Bool {
        let sa = offsets[a], na = offsets[a + 1] - sa
        let sb = offsets[b], nb = offsets[b + 1] - sb
        let c = memcmp(arena.base + sa, arena.base + sb, min(na, nb))
        return c != 0 ? c < 0 : na < nb
    }

    /// Entry `index`'s first eight bytes as a big-endian number, zero-padded: where two entries'
    /// prefixes differ, they order as their bytes do (equal prefixes need `precedes`).
    public func sortPrefix(of index: Int) -> UInt64 {
        let start = offsets[index], n = min(8, offsets[index + 1] - start)
        return n == 0 ? 0 : ByteHash.readPadded(arena.base + start, 0, n).byteSwapped
    }

    /// An entry and its `sortPrefix`, for sorting many entries in byte order.
    public typealias SortKey = (prefix: UInt64, index: Int)

    public func sortKey(of index: Int) -> SortKey { (sortPrefix(of: index), index) }

    /// Whether `a`'s entry comes before `b`'s in byte order: the prefixes compared as numbers,
    /// the bytes only where those are equal. Comparing every pair in place retained the table
    /// per comparison: 127,000 audiences took 40 ms on the one thread that makes the reports.
    public func precedes(_ a: SortKey, _ b: SortKey) -> Bool {
        a.prefix != b.prefix ? a.prefix < b.prefix : precedes(a.index, b.index)
    }

    /// A cheap seeded 64-bit hash of a short id (ids are a few to a few dozen bytes). Up to 16
    /// bytes, one multiply of the two zero-padded words, the length mixed in; the scanner hashes
    /// a team and an audience id a row (M: the scanner's row work 11% fewer samples than with
    /// three or four multiplies, medians of eight alternating `perf` runs). Spread is all it
    /// needs: the id tables compare bytes, and the contact tables compare the team (README,
    /// "Exactness").
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let n = key.count
        guard n > 0, let p = key.baseAddress else { return ByteHash.mum(seed ^ ByteHash.p0, ByteHash.p1) }
        if n <= 16 {
            let (w0, w1) = head(key)
            return ByteHash.mum(w0 ^ seed ^ ByteHash.p0, w1 ^ UInt64(truncatingIfNeeded: n) &* ByteHash.p2 ^ ByteHash.p1)
        }
        var h = seed ^ UInt64(truncatingIfNeeded: n) &* ByteHash.p2
        var i = 0
        while i + 8 <= n {
            h = ByteHash.mum(h ^ ByteHash.read64(p, i), ByteHash.p1)
            i += 8
        }
        if i < n { h = ByteHash.mum(h ^ ByteHash.readTail(p, i, n - i), ByteHash.p3) }
        return ByteHash.mum(h, ByteHash.q0) ^ h
    }

    /// The first 16 bytes of a key, zero-padded, as two words.
    @inline(__always)
    static func head(_ key: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let n = key.count
        guard let p = key.baseAddress, n > 0 else { return (0, 0) }
        if n >= 16 { return (ByteHash.read64(p, 0), ByteHash.read64(p, 8)) }
        if n > 8 { return (ByteHash.read64(p, 0), ByteHash.readPadded(p, 8, n - 8)) }
        if n == 8 { return (ByteHash.read64(p, 0), 0) }
        return (ByteHash.readPadded(p, 0, n), 0)
    }

    /// The hash `hash(of:)` gives the entry for (`owner`, `key`), computable without the table
    /// (on another thread, before the key is interned).
    @inline(__always)
    public static func stableHash(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0, seed: UInt64) -> UInt64 {
        hash(key, seed: seed ^ UInt64(owner) &* ByteHash.q1)
    }

    /// The hash of `key` under an owner known by its own hash (a team's `hash(of:)`), computable
    /// on another thread before the owner has an index. A table must see one convention:
    /// either every call passes `hash:` from here, or none does (for owner 0 and owner hash 0,
    /// as in the team table, the two agree).
    @inline(__always)
    public static func hash(_ key: UnsafeRawBufferPointer, ownerHash: UInt64, seed: UInt64) -> UInt64 {
        hash(key, seed: seed ^ ownerHash)
    }

    /// The index of (`owner`, `key`) if it was added.
    /// - Complexity: O(1) expected, one cache line for ids up to 16 bytes; no allocation.
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0) -> Int? {
        find(key, owner: owner, hash: Self.hash(key, seed: seed ^ UInt64(owner) &* ByteHash.q1)).index
    }

    /// `lookup` with the hash computed by the caller (`hash(_:ownerHash:seed:)`).
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0, hash: UInt64) -> Int? {
        find(key, owner: owner, hash: hash).index
    }

    /// Asks for the cache line of the slot a hash starts probing at, so that a loop can fetch
    /// the slots of rows it reaches a few iterations later while it works on this one.
    @inline(__always)
    public func prefetch(_ hash: UInt64) {
        headcount_prefetch(slots + (Int(truncatingIfNeeded: hash) & mask))
    }

    /// The index of (`owner`, `key`), adding it when new.
    public func intern(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0) -> Int {
        intern(key, owner: owner, hash: Self.hash(key, seed: seed ^ UInt64(owner) &* ByteHash.q1))
    }

    /// `intern` with the hash computed by the caller (`hash(_:ownerHash:seed:)`).
    public func intern(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0, hash h: UInt64) -> Int {
        let found = find(key, owner: owner, hash: h)
        if let index = found.index { return index }
        let index = hashes.count
        hashes.append(h)
        owners.append(owner)
        let start = arena.append(key)
        offsets.append(start + key.count)
        let head = Self.head(key)
        slots[found.slot] = Slot(head0: head.0, head1: head.1, tagIndex: (h & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1),
                                 owner: owner, length: UInt32(key.count))
        if hashes.count * 4 > (mask + 1) * 3 { grow() }
        return index
    }

    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, owner: UInt32, hash h: UInt64) -> (index: Int?, slot: Int) {
        let tag = h & 0xFFFF_FFFF_0000_0000
        let head = Self.head(key)
        let n = key.count
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots + i
            let ti = s.pointee.tagIndex
            if ti == 0 { return (nil, i) }
            if ti & 0xFFFF_FFFF_0000_0000 == tag && s.pointee.owner == owner && Int(s.pointee.length) == n
                && s.pointee.head0 == head.0 && s.pointee.head1 == head.1 {
                let index = Int(truncatingIfNeeded: ti & 0xFFFF_FFFF) - 1
                if n <= 16 || memcmp(arena.base + offsets[index] + 16, key.baseAddress! + 16, n - 16) == 0 {
                    return (index, i)
                }
            }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let old = slots, oldCapacity = mask + 1
        let capacity = oldCapacity * 2
        slots = PageMemory.allocate(Slot.self, count: capacity)
        mask = capacity - 1
        for j in 0..<oldCapacity where old[j].tagIndex != 0 {
            let index = Int(truncatingIfNeeded: old[j].tagIndex & 0xFFFF_FFFF) - 1
            var i = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[i].tagIndex != 0 { i = (i + 1) & mask }
            slots[i] = old[j]
        }
        PageMemory.free(old, count: oldCapacity)
    }
}
