import CISAL
import CZlib
import Foundation

/// A raw gzip-member decompressor: the part of gzip reading that a faster
/// library can replace. Member boundaries, offsets and errors are handled by
/// `GzipStream`, so every implementation behaves the same at the edges.
public protocol Inflater: AnyObject {
    /// A short name for `summary.json` and benchmarks ("zlib", "isa-l").
    var name: String { get }
    /// Decompresses from `input` into `output`.
    ///
    /// Returns the bytes consumed and produced, and whether the current gzip
    /// member ended (header, data and CRC/size trailer all checked).
    /// - Throws: `InflateFailure` when the data is not valid gzip.
    func inflate(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws
        -> (consumed: Int, produced: Int, memberEnded: Bool)
    /// Prepares for the next member of a multi-member file.
    func reset()
    /// The CRC-32 of the member just ended (read before `reset()`).
    var memberCRC: UInt32 { get }
}

/// Why an inflater refused its input; `GzipStream` adds the file and offset.
public struct InflateFailure: Error {
    public var reason: String
    /// Bytes of the current `input` consumed before the failure was detected.
    public var consumed: Int
}

/// zlib's inflate in gzip mode (window bits 15 + 16): checks the header, the CRC-32 and ISIZE.
public final class ZlibInflater: Inflater {
    public let name = "zlib"
    private var stream = z_stream()

    public init() {
        let rc = headcount_inflateInit2(&stream, 15 + 16)
        invariant(rc == Z_OK, "inflateInit2 failed: \(rc)")
    }

    deinit { inflateEnd(&stream) }

    public func reset() { inflateReset(&stream) }

    public var memberCRC: UInt32 { UInt32(truncatingIfNeeded: stream.adler) }

    public func inflate(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws
        -> (consumed: Int, produced: Int, memberEnded: Bool)
    {
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
        let consumed = input.count - Int(stream.avail_in)
        let produced = output.count - Int(stream.avail_out)
        switch rc {
        case Z_STREAM_END:
            return (consumed, produced, true)
        case Z_OK, Z_BUF_ERROR:
            return (consumed, produced, false)
        case Z_NEED_DICT:
            throw InflateFailure(reason: "corrupt gzip data (a preset dictionary is required)", consumed: consumed)
        case Z_MEM_ERROR:
            throw InflateFailure(reason: "out of memory while decompressing", consumed: consumed)
        default:
            let detail = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
            throw InflateFailure(reason: "corrupt gzip data (\(detail))", consumed: consumed)
        }
    }
}

/// ISA-L's inflater (Intel's optimised deflate, 2–3× faster than zlib here), when available.
///
/// ISA-L stops at the end of each gzip member, having checked its CRC-32 and
/// length; `GzipStream` then resets it for the next member (without the
/// reset, later members would be silently lost).
public final class ISALInflater: Inflater {
    public let name = "isa-l"
    private let state: UnsafeMutableRawPointer
    public private(set) var memberCRC: UInt32 = 0
    /// Bytes of the current member's header consumed so far, up to its FLG byte (offset 3).
    private var headerBytes = 0

    /// Whether ISA-L was found when Headcount was built and loads now.
    public static var isAvailable: Bool { headcount_isal_available() != 0 }

    /// nil when ISA-L is not available.
    public init?() {
        guard Self.isAvailable, let s = headcount_isal_new() else { return nil }
        state = s
    }

    deinit { headcount_isal_free(state) }

    public func reset() {
        headcount_isal_reset(state)
        headerBytes = 0
    }

    public func inflate(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws
        -> (consumed: Int, produced: Int, memberEnded: Bool)
    {
        // RFC 1952: a header with a reserved FLG bit set must be refused. zlib does; ISA-L
        // does not, so check here (found by the differential fuzzer).
        if headerBytes <= 3 && 3 - headerBytes < input.count && input[3 - headerBytes] & 0xE0 != 0 {
            throw InflateFailure(reason: "corrupt gzip data (unknown header flags set)", consumed: 4 - headerBytes)
        }
        var consumed: UInt32 = 0, produced: UInt32 = 0, crc: UInt32 = 0
        var finished: Int32 = 0
        let rc = headcount_isal_step(state, input.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                     UInt32(input.count), output.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                     UInt32(output.count), &consumed, &produced, &finished, &crc)
        if rc < 0 {
            let reason: String
            switch rc {
            case -6: reason = "corrupt gzip data (incorrect data check)"
            case -4: reason = "corrupt gzip data (invalid gzip header)"
            case -5: reason = "corrupt gzip data (unknown compression method)"
            default: reason = "corrupt gzip data (invalid deflate data)"
            }
            throw InflateFailure(reason: reason, consumed: Int(consumed))
        }
        if finished != 0 { memberCRC = crc }
        headerBytes += Int(consumed)
        return (Int(consumed), Int(produced), finished != 0)
    }
}

/// Which inflater to use: ISA-L when available, zlib otherwise; `HEADCOUNT_INFLATER=zlib`
/// (or `isa-l`) chooses, for comparisons and tests.
public enum InflaterChoice {
    public static var preferred: String {
        if let forced = ProcessInfo.processInfo.environment["HEADCOUNT_INFLATER"] { return forced }
        return ISALInflater.isAvailable ? "isa-l" : "zlib"
    }
}

/// The inflater a run uses unless told otherwise: the fastest one built in.
public func makeDefaultInflater() -> Inflater {
    if InflaterChoice.preferred != "zlib", let isal = ISALInflater() { return isal }
    return ZlibInflater()
}
