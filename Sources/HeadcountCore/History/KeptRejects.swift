/// A run's `rejects.csv` as the history keeps it, so that `show` can write it again.
///
/// Kept gzip-compressed, byte for byte as the run wrote it, at level 1: 64 MB of reject rows
/// made from the 10M-row dump took 0.99 s and 20.2 MB with `gzip -1`, 2.11 s and 18.3 MB with
/// `-6`, on the thread that records the run while the reports are written. A file larger than `limit` is not kept,
/// only its size: a dump that is mostly rejects would otherwise grow the history by the
/// dump's own size every month.
public struct KeptRejects: Sendable, Equatable {
    /// Rejected rows in the file.
    public var rows: Int
    /// The file's size, uncompressed.
    public var bytes: Int
    /// The file gzip-compressed; nil when it was larger than `limit`.
    public var gzip: [UInt8]?

    /// The largest `rejects.csv` kept, in bytes.
    public static let limit = 64 << 20

    public init(rows: Int, bytes: Int, gzip: [UInt8]?) {
        (self.rows, self.bytes, self.gzip) = (rows, bytes, gzip)
    }

    /// Reads and compresses the rejects file at `path` (written by this run), a megabyte at a time.
    /// - Complexity: O(size); memory: the compressed bytes and one megabyte.
    /// - Throws: `.environment` when the file cannot be read.
    public static func read(path: String, rows: Int, limit: Int = limit) throws -> KeptRejects {
        let file = try InputFile.scratch(path)
        if let size = file.size, size > limit { return KeptRejects(rows: rows, bytes: size, gzip: nil) }
        let encoder = GzipEncoder(level: 1)
        var gzip: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var bytes = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            bytes += n
            if bytes > limit { return KeptRejects(rows: rows, bytes: file.size ?? bytes, gzip: nil) }
            gzip += encoder.compress(Array(chunk[0..<n]))
        }
        gzip += encoder.finish()
        return KeptRejects(rows: rows, bytes: bytes, gzip: gzip)
    }

    /// The file's bytes, as the run wrote them; nil when it was not kept.
    /// - Throws: `.data` when the kept bytes are damaged (the gzip checks fail).
    public func csv() throws -> [UInt8]? {
        guard let gzip else { return nil }
        let stream = try ByteStream(file: MemoryBytes(gzip, path: "the history's rejects.csv"))
        var out: [UInt8] = []
        out.reserveCapacity(bytes)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// The first `count` rejects of `csv` (file, line, reason), as the HTML report lists them.
    static func examples(in csv: [UInt8], count: Int) throws -> [RejectExample] {
        let reader = CSVReader(source: try ByteStream(file: MemoryBytes(csv, path: "rejects.csv")), delimiter: 0x2C)
        guard try reader.readHeader() != nil else { return [] }
        var examples: [RejectExample] = []
        while examples.count < count, case .record = try reader.next() {
            guard reader.fieldCount >= 3,
                  let line = Int(String(decoding: reader.field(1), as: UTF8.self)),
                  let reason = RejectReason(rawValue: String(decoding: reader.field(2), as: UTF8.self))
            else { continue }
            examples.append(RejectExample(file: String(decoding: reader.field(0), as: UTF8.self), line: line,
                                          reason: reason))
        }
        return examples
    }
}

/// A run's `rejects.csv` read into a `KeptRejects` on a thread of its own (nothing to read when
/// `path` is nil); `get` waits for it.
final class KeptRejectsReading: @unchecked Sendable {
    private final class Result: @unchecked Sendable {
        var kept: KeptRejects?
    }

    private let result: Result
    private let work: BackgroundWork?

    init(path: String?, rows: Int) {
        let result = Result()
        self.result = result
        work = path.map { path in
            BackgroundWork(name: "hc-keep", limited: false) { result.kept = try KeptRejects.read(path: path, rows: rows) }
        }
    }

    /// The kept rejects, once read (nil when there was nothing to read); throws what reading threw.
    func get() throws -> KeptRejects? {
        if let error = work?.wait() { throw error }
        return result.kept
    }
}
