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

    private final class Chunk {
        let memory: UnsafeMutableRawBufferPointer
        var count = 0
        /// The source's position (e.g. stored bytes read) when this chunk was filled.
        var position = 0
        init(size: Int) { memory = .allocate(byteCount: size, alignment: 64) }
        deinit { memory.deallocate() }
    }

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
    public init(_ source: ChunkSource, chunkSize: Int = defaultChunkSize, depth: Int = defaultDepth,
                position: @escaping () -> Int = { 0 }) {
        empty = (0..<depth).map { _ in Chunk(size: chunkSize) }
        self.position = position
        let thread = Thread { [self] in self.produce(from: source) }
        thread.stackSize = 1 << 20
        thread.start()
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
            let chunk = empty.removeLast()
            condition.unlock()

            var filled = 0
            var caught: Error?
            var atEnd = false
            do {
                // Fill the chunk, but hand it over after a short read: on a pipe the next
                // bytes may be a long time coming, and what is here should be counted now.
                while filled < chunk.memory.count {
                    let want = chunk.memory.count - filled
                    let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: chunk.memory[filled...]))
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
            condition.broadcast()
            let stop = finished
            condition.unlock()
            if stop { return }
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if current == nil {
            condition.lock()
            while full.isEmpty && !finished { condition.wait() }
            if full.isEmpty {
                let error = failure
                condition.unlock()
                if let error { throw error }
                return 0
            }
            current = full.removeFirst()
            currentOffset = 0
            deliveredPosition = current!.position
            condition.unlock()
        }
        let chunk = current!
        let n = min(buffer.count, chunk.count - currentOffset)
        buffer.baseAddress!.copyMemory(from: chunk.memory.baseAddress! + currentOffset, byteCount: n)
        currentOffset += n
        if currentOffset == chunk.count {
            condition.lock()
            empty.append(chunk)
            current = nil
            condition.broadcast()
            condition.unlock()
        }
        return n
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
