/// Gives each distinct byte string a dense index: team ids and audience ids.
///
/// Open addressing with linear probing over power-of-two slots, kept at most
/// half full (these tables are small: thousands to a few hundred thousand
/// ids, looked up once per row). The strings live in one arena.
public struct ByteInterner {
    /// Slots hold an index + 1 (0 = empty).
    private var slots: [UInt32]
    private var hashes: [UInt64] = []
    private var offsets: [Int] = [0]
    private var arena: [UInt8] = []
    private let seed: UInt64

    /// Initial slots; the table doubles when half full.
    static let initialSlots = 1024

    public init(seed: UInt64) {
        self.seed = seed
        slots = Array(repeating: 0, count: Self.initialSlots)
    }

    public var count: Int { hashes.count }

    /// The 64-bit hash of entry `index` (a stable, seeded hash of its bytes).
    @inline(__always)
    public func hash(of index: Int) -> UInt64 { hashes[index] }

    /// The bytes of entry `index`.
    public func bytes(of index: Int) -> ArraySlice<UInt8> {
        arena[offsets[index]..<offsets[index + 1]]
    }

    /// The index of `key`, adding it when new.
    /// - Complexity: O(1) expected, plus O(n) for a new entry's copy.
    @inline(__always)
    public mutating func intern(_ key: UnsafeRawBufferPointer) -> Int {
        let h = ByteHash.hash64(key, seed: seed)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[i])
            if s == 0 { break }
            if hashes[s - 1] == h && equal(s - 1, key) { return s - 1 }
            i = (i + 1) & mask
        }
        let index = hashes.count
        hashes.append(h)
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        slots[i] = UInt32(index + 1)
        if hashes.count * 2 > slots.count { grow() }
        return index
    }

    /// The index of `key` if it was interned.
    public func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        let h = ByteHash.hash64(key, seed: seed)
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[i])
            if s == 0 { return nil }
            if hashes[s - 1] == h && equal(s - 1, key) { return s - 1 }
            i = (i + 1) & mask
        }
    }

    @inline(__always)
    private func equal(_ index: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[index], end = offsets[index + 1]
        guard end - start == key.count else { return false }
        return arena.withUnsafeBytes { a in
            key.count == 0 || memcmp(a.baseAddress! + start, key.baseAddress!, key.count) == 0
        }
    }

    private mutating func grow() {
        var bigger = [UInt32](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        for (index, h) in hashes.enumerated() {
            var i = Int(truncatingIfNeeded: h) & mask
            while bigger[i] != 0 { i = (i + 1) & mask }
            bigger[i] = UInt32(index + 1)
        }
        slots = bigger
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
