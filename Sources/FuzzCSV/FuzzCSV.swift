import Foundation
import HeadcountCore

/// A chunk source over fuzzer bytes, handing out a few bytes at a time so that
/// record boundaries fall anywhere. It keeps its own copy: a `PrefetchingReader`'s thread may
/// still be reading when the fuzzer frees its input.
final class FuzzSource: ChunkSource {
    let bytes: [UInt8]
    var offset = 0
    let step: Int
    init(_ bytes: UnsafeRawBufferPointer, step: Int) {
        self.bytes = Array(bytes)
        self.step = step
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, step, bytes.count - offset)
        if n > 0 {
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        }
        offset += n
        return n
    }
}

/// What one reader made of the bytes: each record's outcome, line, fields and raw text.
struct Reading: Equatable {
    var records: [[[UInt8]]] = []
    var error: String?
}

/// The CSV scanner, the email key and the counter on arbitrary bytes: must never crash,
/// hang or leak, and must keep their invariants. The bytes are read twice, copied through a
/// chunk source and parsed in place in chunks a `PrefetchingReader` lends, and both readings
/// must be the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSV(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let step = size > 0 ? Int(bytes[0] % 64) + 1 : 1
    let chunk = size > 1 ? Int(bytes[1] % 97) + 1 : 1
    let copied = read(CSVReader(source: FuzzSource(bytes, step: step), delimiter: nil, maxRecordBytes: 300,
                                refillSize: 512))
    // At most about 64 lent chunks an input: each chunk is a hand-off between two threads (a
    // wake-up), and 1-byte chunks of a 4 KiB input held the harness to 112 runs/s. Small inputs
    // keep chunks of any size; large ones get boundaries at other places as their sizes vary.
    let spread = size / 64
    let lender = try! PrefetchingReader(FuzzSource(bytes, step: max(step, spread)), chunkSize: max(chunk, spread),
                                        depth: 2, headroom: 300)
    // A reading that stops early (no header, a header it refuses) leaves the lending thread
    // waiting for a chunk to be given back; a run does what `OpenedInput` does and cancels it.
    // Without this, every such input kept a thread and its chunks: 2 GB after 678,000 runs.
    defer { lender.cancel() }
    let lent = read(CSVReader(source: lender, delimiter: nil, maxRecordBytes: 300, refillSize: 512), check: false)
    if lent != copied {
        // The first difference, for whoever replays the input.
        let first = zip(copied.records, lent.records).first { $0 != $1 }
        FileHandle.standardError.write(Data("""
            read \(step) bytes at a time, lent in chunks of \(chunk): \(copied.records.count) records and \
            \(lent.records.count); first difference: \(first.map { "\($0.0) vs \($0.1)" } ?? "none"); \
            errors: \(copied.error ?? "none") vs \(lent.error ?? "none")

            """.utf8))
    }
    precondition(lent == copied, "chunks parsed in place read as copies")
    return 0
}

/// A key or a reject reason as bytes, to compare two results.
func describe(_ result: EmailNormalizer.Result) -> [UInt8] {
    switch result {
    case .valid(let key): return Array(key)
    case .invalid(let reason): return Array("!\(reason.rawValue)".utf8)
    }
}

func read(_ reader: CSVReader, check: Bool = true) -> Reading {
    let interner = ByteInterner(seed: 1)
    let normalizer = EmailNormalizer()
    var reading = Reading()
    do {
        guard let header = try reader.readHeader() else { return reading }
        reading.records.append(header)
        reader.limitStoredFields(to: 6)
        var lastLine = 0
        loop: while true {
            let outcome = try reader.next()
            if outcome == .end { break loop }
            precondition(reader.line > lastLine, "lines only go forward")
            lastLine = reader.line
            precondition(reader.rawRecord().count <= 1024)
            var record: [[UInt8]] = [Array(String(describing: outcome).utf8), Array(String(reader.line).utf8),
                                     Array(reader.rawRecord())]
            guard outcome == .record else {
                reading.records.append(record)
                continue
            }
            for i in 0..<min(reader.fieldCount, 6) {
                record.append(Array(reader.field(i)))
                guard check else { continue }
                let index = interner.intern(reader.field(i), owner: UInt32(i))
                precondition(interner.bytes(of: index) == Array(reader.field(i)), "ids round-trip")
                switch normalizer.normalize(reader.field(i)) {
                case .valid(let email):
                    precondition(email.count > 0 && email.contains(0x40), "a valid key holds an @")
                    precondition(!email.contains { $0 <= 0x20 || ($0 >= 0x41 && $0 <= 0x5A) }, "trimmed and lowercased")
                    _ = ByteHash.hash128(email, seed: 1)
                case .invalid:
                    break
                }
                // Where the table of two-byte characters answers, it agrees with `String`.
                if let fast = normalizer.normalizeTwoByte(reader.field(i)) {
                    let fastKey = describe(fast)
                    precondition(fastKey == describe(normalizer.normalizeThroughString(reader.field(i))),
                                 "the two-byte table and String agree")
                }
            }
            reading.records.append(record)
        }
    } catch let e as HeadcountError {
        precondition(e.code == .data, "only data errors from bytes")
        reading.error = "\(e)"
    } catch {
        preconditionFailure("unexpected error \(error)")
    }
    return reading
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<module>_main`; under libFuzzer that entry
/// hands control to libFuzzer's driver with this target's test function.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzCSV_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, { fuzzCSV($0, $1) })
}
#else
/// Without libFuzzer: replays the given files (the regression corpus) through the target.
@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try InputFile.contents(of: path) + [0]
            _ = bytes.withUnsafeBufferPointer { fuzzCSV($0.baseAddress!, $0.count - 1) }
        }
    }
}
#endif
