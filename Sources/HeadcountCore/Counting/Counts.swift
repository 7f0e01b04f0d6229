/// A growable row of counters, written once per row by the counting thread: an `[Int]`
/// property there cost a uniqueness check, a call, before every increment.
final class Counts {
    private(set) var base: UnsafeMutablePointer<Int>
    private(set) var count = 0
    private var capacity = 1024

    init() {
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    func append(_ value: Int) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<Int>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = bigger
            capacity *= 2
        }
        base[count] = value
        count += 1
    }

    /// Counter `i`, which must have been appended.
    @inline(__always)
    subscript(i: Int) -> Int {
        get { base[i] }
        set { base[i] = newValue }
    }
}
