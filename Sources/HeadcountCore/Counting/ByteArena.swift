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
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        if used + bytes.count > capacity {
            var bigger = capacity * 2
            while used + bytes.count > bigger { bigger *= 2 }
            let next = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 16)
            next.copyMemory(from: base, byteCount: used)
            base.deallocate()
            base = next
            capacity = bigger
        }
        let offset = used
        if bytes.count > 0 { (base + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        used += bytes.count
        return offset
    }

    mutating func removeAll() { used = 0 }

    /// Bytes allocated.
    var reserved: Int { capacity }
}
