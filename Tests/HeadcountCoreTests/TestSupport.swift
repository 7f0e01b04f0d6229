import Foundation
import Testing
@testable import HeadcountCore

/// A chunk source over bytes in memory that hands out at most `step` bytes per read,
/// to put chunk boundaries anywhere.
final class MemorySource: ChunkSource {
    let bytes: [UInt8]
    let step: Int
    var offset = 0

    init(_ bytes: [UInt8], step: Int = .max) {
        self.bytes = bytes
        self.step = step
    }

    convenience init(_ text: String, step: Int = .max) { self.init(Array(text.utf8), step: step) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, step, bytes.count - offset)
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// A temporary folder removed at deinit.
final class TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "headcount-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path + "/" + name
        #expect(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
        return p
    }
}

/// All records of `text` as arrays of field strings (or "!reason" for a malformed record).
/// With `lentChunks`, the bytes come through a `PrefetchingReader` of chunks that size, which
/// the reader parses in place (carrying a cut record in front of the next chunk).
func records(_ text: String, step: Int = .max, delimiter: UInt8? = nil, maxRecordBytes: Int = 1 << 20,
             lentChunks: Int? = nil) throws
    -> (header: [String], rows: [[String]], lines: [Int], raw: [String])
{
    let memory = MemorySource(text, step: step)
    let source: ChunkSource = try lentChunks.map {
        try PrefetchingReader(memory, chunkSize: $0, depth: 3, headroom: maxRecordBytes)
    } ?? memory
    let reader = CSVReader(source: source, delimiter: delimiter, maxRecordBytes: maxRecordBytes)
    let header = try reader.readHeader()?.map { String(decoding: $0, as: UTF8.self) } ?? []
    var rows: [[String]] = []
    var lines: [Int] = []
    var raw: [String] = []
    loop: while true {
        switch try reader.next() {
        case .end: break loop
        case .malformed(let why): rows.append(["!" + why])
        case .record:
            rows.append((0..<reader.fieldCount).map { String(decoding: reader.field($0), as: UTF8.self) })
        }
        lines.append(reader.line)
        raw.append(String(decoding: reader.rawRecord(), as: UTF8.self))
    }
    return (header, rows, lines, raw)
}
