/// A 128-bit key: the identity of a normalised email (within a team) or a contact id.
///
/// Two keys are equal only when their 128-bit hashes are, which for distinct
/// inputs happens with probability about n² / 2¹²⁹ over n keys (see the
/// README's "Exactness" section). The value 0 is never produced, so it can
/// mark an empty hash-table slot.
public struct Key128: Hashable, Comparable, Sendable {
    public var low: UInt64
    public var high: UInt64

    @inline(__always)
    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    @inline(__always)
    public static func < (a: Key128, b: Key128) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }
}

/// A fixed, seeded 128-bit byte hash, the same on every run and machine.
///
/// Two 64-bit lanes absorb 16 bytes per round with full-width multiplies
/// (the wyhash construction) under independent constants, then cross-mix.
/// Never `Hasher`: its seed changes per process, and partitions must be
/// reproducible.
public enum ByteHash {
    // Odd constants with balanced bits (from the digits of π and e, and wyhash's primes).
    static let p0: UInt64 = 0xa076_1d64_78bd_642f
    static let p1: UInt64 = 0xe703_7ed1_a0b4_28db
    static let p2: UInt64 = 0x8ebc_6af0_9c88_c6e3
    static let p3: UInt64 = 0x5899_65cc_7537_4cc3
    static let q0: UInt64 = 0x243f_6a88_85a3_08d3
    static let q1: UInt64 = 0x1319_8a2e_0370_7345
    static let q2: UInt64 = 0xa409_3822_299f_31d1
    static let q3: UInt64 = 0x082e_fa98_ec4e_6c89

    @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let r = a.multipliedFullWidth(by: b)
        return r.high ^ r.low
    }

    @inline(__always)
    static func read64(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }

    /// The tail of 1...7 bytes as a little-endian word, with no read past the end.
    @inline(__always)
    static func readTail(_ p: UnsafeRawPointer, _ i: Int, _ n: Int) -> UInt64 {
        if n >= 4 {
            let a = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            let b = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + n - 4, as: UInt32.self)))
            return a | (b << 32)
        }
        let a = UInt64(p.load(fromByteOffset: i, as: UInt8.self))
        let b = UInt64(p.load(fromByteOffset: i + n / 2, as: UInt8.self))
        let c = UInt64(p.load(fromByteOffset: i + n - 1, as: UInt8.self))
        return a | (b << 8) | (c << 16)
    }

    /// 1...7 bytes as a little-endian word with the missing high bytes zero (for keys, not hashing).
    /// Two or three loads that may overlap, placed where their bytes belong (the overlapping
    /// bytes are the same, so or-ing them is exact): no loop whose exit depends on the length.
    @inline(__always)
    static func readPadded(_ p: UnsafeRawPointer, _ i: Int, _ n: Int) -> UInt64 {
        if n >= 4 {
            let a = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            let b = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + n - 4, as: UInt32.self)))
            return a | b << UInt64(8 * (n - 4))
        }
        if n == 0 { return 0 }
        let a = UInt64(p.load(fromByteOffset: i, as: UInt8.self))
        let b = UInt64(p.load(fromByteOffset: i + n / 2, as: UInt8.self))
        let c = UInt64(p.load(fromByteOffset: i + n - 1, as: UInt8.self))
        return a | b << UInt64(8 * (n / 2)) | c << UInt64(8 * (n - 1))
    }

    /// The 128-bit hash of `bytes` under `seed`.
    /// - Complexity: O(n), two multiplies per 16 bytes; no allocation.
    @inline(__always)
    public static func hash128(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> Key128 {
        let n = bytes.count
        var a = seed ^ p0 ^ UInt64(truncatingIfNeeded: n)
        var b = (seed &* q0) ^ q1 ^ UInt64(truncatingIfNeeded: n) &* p3
        guard let p = bytes.baseAddress, n > 0 else { return finish(a, b) }
        var i = 0
        while i + 16 <= n {
            let w0 = read64(p, i), w1 = read64(p, i + 8)
            a = mum(w0 ^ a ^ p1, w1 ^ p2)
            b = mum(w1 ^ b ^ q2, w0 ^ q3)
            i += 16
        }
        let rest = n - i
        var w0: UInt64 = 0, w1: UInt64 = 0
        if rest > 8 {
            w0 = read64(p, i)
            w1 = readTail(p, i + 8, rest - 8)
        } else if rest == 8 {
            w0 = read64(p, i)
        } else if rest > 0 {
            w0 = readTail(p, i, rest)
        }
        a = mum(w0 ^ a ^ p1, w1 ^ p2 ^ UInt64(rest))
        b = mum(w1 ^ b ^ q2, w0 ^ q3 ^ UInt64(rest))
        return finish(a, b)
    }

    @inline(__always)
    static func finish(_ a0: UInt64, _ b0: UInt64) -> Key128 {
        let a = mum(a0 ^ p3, b0 ^ q1)
        let b = mum(b0 ^ q3, a0 ^ p0)
        var low = a ^ (b >> 29)
        let high = b ^ (a >> 31) ^ a &* q2
        if low == 0 && high == 0 { low = 1 }
        return Key128(low: low, high: high)
    }

    /// A 64-bit hash for small tables (teams, audiences).
    @inline(__always)
    public static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let k = hash128(bytes, seed: seed)
        return k.low ^ k.high
    }
}
