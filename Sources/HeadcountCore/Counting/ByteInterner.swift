#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Gives each distinct (owner, byte string) a dense index: team ids, and
/// audience ids within their team.
///
/// Looked up once per row, so built for that: open addressing with linear
/// probing over power-of-two slots kept at most half full; each slot packs
/// 32 bits of the hash beside the index, so a probe touches the entry's
/// bytes only when the hash matches. The strings live in one arena.
public final class ByteInterner {
    /// A slot: hash tag in the high 32 bits, index + 1 in the low 32 (0 = empty).
    private var slots: UnsafeMutablePointer<UInt64>
    private var mask: Int
    private var hashes: [UInt64] = []
    private var owners: [UInt32] = []
    private var offsets: [Int] = [0]
    private var arena: UnsafeMutableRawPointer
    private var arenaCapacity: Int
    private let seed: UInt64

    /// Initial slots; the table doubles when half full.
    static let initialSlots = 1024

    public init(seed: UInt64) {
        self.seed = seed
        slots = .allocate(capacity: Self.initialSlots)
        slots.initialize(repeating: 0, count: Self.initialSlots)
        mask = Self.initialSlots - 1
        arenaCapacity = 1 << 16
        arena = .allocate(byteCount: arenaCapacity, alignment: 16)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
    }

    public var count: Int { hashes.count }

    /// The stable hash of entry `index` (the same for the same bytes and owner on every run).
    @inline(__always)
    public func hash(of index: Int) -> UInt64 { hashes[index] }

    /// The owner given when entry `index` was added.
    @inline(__always)
    public func owner(of index: Int) -> UInt32 { owners[index] }

    /// The bytes of entry `index`.
    public func bytes(of index: Int) -> [UInt8] {
        let start = offsets[index]
        return Array(UnsafeRawBufferPointer(start: arena + start, count: offsets[index + 1] - start))
    }

    /// A cheap seeded 64-bit hash of a short id (ids are a few to a few dozen bytes).
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let n = key.count
        guard n > 0, let p = key.baseAddress else { return ByteHash.mum(seed ^ ByteHash.p0, ByteHash.p1) }
        var h = seed ^ UInt64(truncatingIfNeeded: n) &* ByteHash.p2
        var i = 0
        while i + 8 <= n {
            h = ByteHash.mum(h ^ ByteHash.read64(p, i), ByteHash.p1)
            i += 8
        }
        if i < n { h = ByteHash.mum(h ^ ByteHash.readTail(p, i, n - i), ByteHash.p3) }
        return ByteHash.mum(h, ByteHash.q0) ^ h
    }

    /// The index of (`owner`, `key`) if it was added.
    /// - Complexity: O(1) expected; no allocation.
    @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0) -> Int? {
        let h = Self.hash(key, seed: seed ^ UInt64(owner) &* ByteHash.q1)
        return find(key, owner: owner, hash: h).index
    }

    /// The index of (`owner`, `key`), adding it when new.
    public func intern(_ key: UnsafeRawBufferPointer, owner: UInt32 = 0) -> Int {
        let h = Self.hash(key, seed: seed ^ UInt64(owner) &* ByteHash.q1)
        let found = find(key, owner: owner, hash: h)
        if let index = found.index { return index }
        let index = hashes.count
        hashes.append(h)
        owners.append(owner)
        let start = offsets[index]
        if start + key.count > arenaCapacity {
            var bigger = arenaCapacity * 2
            while start + key.count > bigger { bigger *= 2 }
            let next = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 16)
            next.copyMemory(from: arena, byteCount: start)
            arena.deallocate()
            arena = next
            arenaCapacity = bigger
        }
        if key.count > 0 { (arena + start).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        offsets.append(start + key.count)
        slots[found.slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
        if hashes.count * 2 > mask + 1 { grow() }
        return index
    }

    @inline(__always)
    private func find(_ key: UnsafeRawBufferPointer, owner: UInt32, hash h: UInt64) -> (index: Int?, slot: Int) {
        let tag = h & 0xFFFF_FFFF_0000_0000
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = slots[i]
            if s == 0 { return (nil, i) }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let index = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                if owners[index] == owner && equal(index, key) { return (index, i) }
            }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    private func equal(_ index: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[index]
        let n = key.count
        guard offsets[index + 1] - start == n else { return false }
        guard n > 0, let k = key.baseAddress else { return true }
        let a = UnsafeRawPointer(arena + start)
        if n > 16 { return memcmp(a, k, n) == 0 }
        // Ids are short: compare in at most four word loads instead of calling memcmp.
        if n >= 8 {
            return a.loadUnaligned(as: UInt64.self) == k.loadUnaligned(as: UInt64.self)
                && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                    == k.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        return ByteHash.readTail(a, 0, n) == ByteHash.readTail(k, 0, n)
    }

    private func grow() {
        let capacity = (mask + 1) * 2
        slots.deallocate()
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        mask = capacity - 1
        for (index, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
        }
    }
}
