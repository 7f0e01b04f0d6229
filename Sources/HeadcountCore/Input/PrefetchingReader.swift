import Foundation

/// Something that fills caller memory with the next bytes of a stream; 0 means the end.
public protocol ChunkSource: AnyObject {
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteStream: ChunkSource {}

/// Decompresses on its own thread, a few chunks ahead of the reader.
///
/// Inflating is the slowest stage of a run; overlapping it with CSV scanning
/// and counting makes a run take about as long as inflating alone. Memory is
/// bounded: `depth` chunks of `chunkSize` bytes.
public final class PrefetchingReader: ChunkSource {
    /// Bytes per chunk: big enough to amortise the hand-off, small enough to stay in L2/L3.
    public static let defaultChunkSize = 1 << 20
    /// Chunks in flight between the two threads (16 MiB: see `ContactScanner.depth`).
    public static let defaultDepth = 16

    /// A chunk's bytes start `headroom` bytes into its memory, so that the unread end of the
    /// chunk before can be put in front of them (`lend`), and end at least `padding` bytes
    /// before the memory does.
    private final class Chunk {
        let memory: UnsafeMutableRawBufferPointer
        let data: UnsafeMutableRawPointer
        let capacity: Int
        var count = 0
        /// The source's position (e.g. stored bytes read) when this chunk was filled.
        var position = 0
        /// Mapped from the kernel rather than taken from malloc, so that a file's chunks go back
        /// to the system when it has been read: malloc kept them in its arenas, and a run over
        /// forty files held 165–183 MB where two files' chunks are 70 MB.
        init(size: Int, headroom: Int) {
            let bytes = headroom + size + PrefetchingReader.padding
            if let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
                memory = UnsafeMutableRawBufferPointer(start: p, count: bytes)
                mapped = true
            } else {
                memory = .allocate(byteCount: bytes, alignment: 64)
                mapped = false
            }
            data = memory.baseAddress! + headroom
            capacity = size
        }
        private let mapped: Bool
        deinit {
            if mapped { munmap(memory.baseAddress!, memory.count) } else { memory.deallocate() }
        }
    }

    /// Readable bytes after every lent region (the CSV reader's 64-byte masks look that far).
    public static let padding = 64
    /// The most bytes `lend` can carry in front of a chunk.
    public let headroom: Int

    private let condition = NSCondition()
    private var full: [Chunk] = []
    private var empty: [Chunk]
    private var finished = false
    private var failure: Error?
    private var cancelled = false
    private var current: Chunk?
    private var currentOffset = 0
    private let position: () -> Int
    /// The source's position as of the chunk being read: safe to read on the consuming thread.
    public private(set) var deliveredPosition = 0

    /// - Parameter position: read on the producing thread after each fill (e.g. the stored
    ///   bytes read), and published with the chunk as `deliveredPosition`.
    /// - Parameter headroom: bytes `lend` may carry in front of a chunk (0: `read` only).
    /// - Throws: `.environment` when the system will not start the decompressing thread.
    public init(_ source: ChunkSource, chunkSize: Int = defaultChunkSize, depth: Int = defaultDepth,
                headroom: Int = 0, position: @escaping () -> Int = { 0 }) throws {
        self.headroom = headroom
        empty = (0..<depth).map { _ in Chunk(size: chunkSize, headroom: headroom) }
        self.position = position
        try Workers.start("decompressing", name: "hc-inflate") { [self] in self.produce(from: source) }
    }

    deinit {
        cancel()
    }

    /// Tells the producer to stop; safe to call more than once. Does not wait: a producer
    /// blocked reading a pipe stops when its read returns (it keeps this object alive until then).
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    private func produce(from source: ChunkSource) {
        while true {
            condition.lock()
            while empty.isEmpty && !cancelled { condition.wait() }
            if cancelled {
                condition.unlock()
                return
            }
            // The chunk given back longest ago, never the one just given back: the reading
            // thread's core still holds that one's lines, and each store into a line another
            // core holds waits until that core's copy is gone. Where the two cores share no
            // cache (this virtual machine's two cores are now and then placed so: a cache line
            // takes 360 ns there and back instead of 55), reusing the last chunk made inflating
            // M take 1.55-1.82 s of CPU instead of 1.24-1.28; reused oldest first, with 64
            // chunks in flight, 1.27-1.33 s (BENCHMARKS.md, twenty-eighth session).
            let chunk = empty.removeFirst()
            condition.unlock()

            var filled = 0
            var caught: Error?
            var atEnd = false
            do {
                // Fill the chunk, but hand it over after a short read: on a pipe the next
                // bytes may be a long time coming, and what is here should be counted now.
                while filled < chunk.capacity {
                    let want = chunk.capacity - filled
                    let n = try source.read(into: UnsafeMutableRawBufferPointer(start: chunk.data + filled, count: want))
                    if n == 0 { atEnd = true; break }
                    filled += n
                    if n < want { break }
                }
            } catch {
                caught = error
            }
            chunk.count = filled
            chunk.position = position()

            condition.lock()
            if filled > 0 { full.append(chunk) } else { empty.append(chunk) }
            if let caught {
                failure = caught
            }
            if atEnd || failure != nil {
                finished = true
            }
            let stop = finished
            condition.unlock()
            // After unlocking: a reader woken with the lock held would wait again for it.
            condition.broadcast()
            if stop { return }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        // A chunk `lend` handed out in full is given back here (its bytes were copied out).
        if let chunk = current, currentOffset == chunk.count { release(chunk) }
        if current == nil {
            guard let chunk = try takeFull() else { return 0 }
            current = chunk
            currentOffset = 0
        }
        let chunk = current!
        let n = min(buffer.count, chunk.count - currentOffset)
        buffer.baseAddress!.copyMemory(from: chunk.data + currentOffset, byteCount: n)
        currentOffset += n
        if currentOffset == chunk.count { release(chunk) }
        return n
    }

    /// The next bytes of the stream in place, without copying them: `carry` (the unread end of
    /// the bytes lent before, or any bytes up to `headroom`) is copied in front of them, and
    /// the region holding both is returned, followed by `padding` readable bytes. The region
    /// stays valid until the next call to `lend` or `read`, which gives its chunk back to the
    /// producer. nil at the end of the stream, and then the region lent last stays valid.
    public func lend(carrying carry: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        invariant(carry.count <= headroom, "carry beyond the headroom")
        let previous = current
        if previous == nil || currentOffset == previous!.count {
            guard let chunk = try takeFull() else { return nil }
            current = chunk
            currentOffset = 0
        }
        let chunk = current!
        let start = chunk.data + currentOffset - carry.count
        if carry.count > 0 { memmove(start, carry.baseAddress!, carry.count) }
        let region = UnsafeRawBufferPointer(start: start, count: carry.count + chunk.count - currentOffset)
        currentOffset = chunk.count
        // Only now: the carried bytes may have been in it.
        if let previous, previous !== chunk { giveBack(previous) }
        return region
    }

    /// Called on the reading thread when it is about to wait for a chunk (set before reading).
    public var beforeWaiting: (() -> Void)?

    /// The oldest filled chunk, waiting for one; nil at the end of the stream.
    private func takeFull() throws -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        if full.isEmpty && !finished, let beforeWaiting {
            condition.unlock()
            beforeWaiting()
            condition.lock()
        }
        while full.isEmpty && !finished { condition.wait() }
        if full.isEmpty {
            if let failure { throw failure }
            return nil
        }
        let chunk = full.removeFirst()
        deliveredPosition = chunk.position
        return chunk
    }

    /// Gives the current chunk back to the producer.
    private func release(_ chunk: Chunk) {
        current = nil
        giveBack(chunk)
    }

    private func giveBack(_ chunk: Chunk) {
        condition.lock()
        empty.append(chunk)
        condition.unlock()
        condition.broadcast()
    }
}

/// A chunk source over a string in memory (small inputs: stored CSV rows).
final class StringSource: ChunkSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        }
        offset += n
        return n
    }
}
