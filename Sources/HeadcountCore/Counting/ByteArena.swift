/// Bytes appended one after another into memory that grows by doubling;
/// addressed by offset, so growth never invalidates what callers hold.
struct ByteArena {
    private(set) var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var used = 0

    init(capacity: Int = 1 << 16) {
        self.capacity = capacity
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Frees the memory; the arena must not be used afterwards.
    func deallocate() { base.deallocate() }

    /// Copies `bytes` in; returns their offset.
    ///
    /// Ids of 4 to 16 bytes (every team and audience id of the dumps) are copied as two words
    /// that may overlap, not through `memmove`: the scanner keeps two ids a row, and the call
    /// cost more than the copy (M: 20M calls). The arena keeps 16 bytes of room past its end
    /// for those stores; the source is never read past its end.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let n = bytes.count
        if used + n + Self.room > capacity { grow(to: used + n + Self.room) }
        let offset = used
        let to = base + offset
        if n >= 8 && n <= 16 {
            let from = bytes.baseAddress!
            let head = from.loadUnaligned(as: UInt64.self), tail = from.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
            to.storeBytes(of: head, as: UInt64.self)
            to.storeBytes(of: tail, toByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 && n < 8 {
            let from = bytes.baseAddress!
            let head = from.loadUnaligned(as: UInt32.self), tail = from.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            to.storeBytes(of: head, as: UInt32.self)
            to.storeBytes(of: tail, toByteOffset: n - 4, as: UInt32.self)
        } else if n > 0 {
            to.copyMemory(from: bytes.baseAddress!, byteCount: n)
        }
        used += n
        return offset
    }

    /// Room kept past the end for `append`'s word stores.
    private static let room = 16

    private mutating func grow(to needed: Int) {
        var bigger = capacity * 2
        while needed > bigger { bigger *= 2 }
        let next = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 16)
        next.copyMemory(from: base, byteCount: used)
        base.deallocate()
        base = next
        capacity = bigger
    }

    mutating func removeAll() { used = 0 }

    /// Bytes allocated.
    var reserved: Int { capacity }
}
