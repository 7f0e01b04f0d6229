import CZlib

/// Decompressed bytes of one input file, read in caller-sized pieces.
///
/// The format is found from the first bytes (gzip magic `1f 8b`), never from
/// the file name. Gzip files may hold any number of members; every member is
/// read and checked, and bytes after the last member that are not another
/// member are an error, as are a truncated member and an empty file.
public final class ByteStream {
    public enum Format: String, Sendable { case gzip, plain }

    public let file: StoredBytes
    public let format: Format
    /// Gzip members completed so far.
    public private(set) var members = 0
    /// Decompressed bytes produced so far.
    public private(set) var bytesOut = 0
    /// The CRC-32 of each gzip member read (checked by the inflater), or of the plain bytes.
    public private(set) var checksums: [UInt32] = []
    private var plainCRC: UInt = 0

    private let inflater: Inflater?
    /// Raw (stored) bytes read from the file but not yet decompressed.
    private var raw: UnsafeMutableRawBufferPointer
    private var rawStart = 0
    private var rawEnd = 0
    private var rawEOF = false
    private var inMember = false

    /// Size of the stored-bytes buffer; large enough that a read is a few syscalls per megabyte.
    static let rawBufferSize = 256 * 1024

    /// Opens `file`, reads its first bytes and picks the format.
    /// - Throws: `.data` for an empty file, `.environment` on read errors.
    public init(file: StoredBytes, inflater: @autoclosure () -> Inflater = makeDefaultInflater()) throws {
        self.file = file
        raw = .allocate(byteCount: Self.rawBufferSize, alignment: 64)
        // Read until two bytes are in hand (a pipe may deliver one at a time) or the end.
        while rawEnd < 2 && !rawEOF {
            let n = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[rawEnd...]))
            if n == 0 { rawEOF = true }
            rawEnd += n
        }
        if rawEnd == 0 {
            raw.deallocate()
            throw HeadcountError(.data, "empty file (0 bytes): no header row", file: file.path, byteOffset: 0)
        }
        if rawEnd >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
            format = .gzip
            self.inflater = inflater()
        } else {
            format = .plain
            self.inflater = nil
        }
    }

    deinit { raw.deallocate() }

    /// The offset in the stored file of the next byte not yet decompressed.
    public var storedOffset: Int { file.bytesRead - (rawEnd - rawStart) }

    /// Identifies the dump: the stored size and the CRC-32 of each member (or of the plain bytes).
    /// Complete once the stream has been read to its end.
    public var fingerprint: String {
        let crcs = checksums.prefix(16).map { String($0, radix: 16) }.joined(separator: "-")
        return "\(format.rawValue):\(file.bytesRead):crc32=\(crcs)\(checksums.count > 16 ? "-…" : "")"
    }

    /// Fills `output` with up to `output.count` decompressed bytes; 0 means the end.
    /// - Throws: `.data` for corrupt, truncated or trailing-garbage gzip, naming the byte offset.
    public func read(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        let n: Int
        if let inflater {
            n = try readGzip(into: output, inflater)
        } else {
            n = try readPlain(into: output)
            if n > 0 {
                plainCRC = crc32_z(plainCRC, output.baseAddress!.assumingMemoryBound(to: UInt8.self), n)
            } else if checksums.isEmpty {
                checksums = [UInt32(truncatingIfNeeded: plainCRC)]
            }
        }
        bytesOut += n
        return n
    }

    private func readPlain(into output: UnsafeMutableRawBufferPointer) throws -> Int {
        if rawStart < rawEnd {
            let n = min(output.count, rawEnd - rawStart)
            output.baseAddress!.copyMemory(from: raw.baseAddress! + rawStart, byteCount: n)
            rawStart += n
            return n
        }
        if rawEOF { return 0 }
        let n = try file.read(into: output)
        if n == 0 { rawEOF = true }
        return n
    }

    private func refillRaw() throws {
        rawStart = 0
        rawEnd = try file.read(into: raw)
        if rawEnd == 0 { rawEOF = true }
    }

    private func readGzip(into output: UnsafeMutableRawBufferPointer, _ inflater: Inflater) throws -> Int {
        while true {
            if rawStart == rawEnd {
                if !rawEOF { try refillRaw() }
                if rawStart == rawEnd {
                    if inMember {
                        throw HeadcountError(.data, "truncated gzip stream (the last member ends early)",
                                             file: file.path, byteOffset: file.bytesRead)
                    }
                    return 0
                }
            }
            if !inMember {
                // A member starts here, or the stream has trailing bytes that are not gzip.
                if raw[rawStart] != 0x1f {
                    throw HeadcountError(.data, "trailing garbage after gzip member \(members)",
                                         file: file.path, byteOffset: storedOffset)
                }
                inMember = true
            }
            let input = UnsafeRawBufferPointer(rebasing: raw[rawStart..<rawEnd])
            let step: (consumed: Int, produced: Int, memberEnded: Bool)
            do {
                step = try inflater.inflate(input: input, output: output)
            } catch let failure as InflateFailure {
                rawStart += failure.consumed
                throw HeadcountError(.data, failure.reason, file: file.path, byteOffset: storedOffset)
            }
            rawStart += step.consumed
            if step.memberEnded {
                members += 1
                checksums.append(inflater.memberCRC)
                inMember = false
                inflater.reset()
            }
            if step.produced > 0 { return step.produced }
            if !step.memberEnded && step.consumed == 0 && rawStart < rawEnd {
                // No progress with input in hand and room for output: the inflater is stuck.
                throw HeadcountError(.data, "corrupt gzip data (no progress)", file: file.path,
                                     byteOffset: storedOffset)
            }
        }
    }
}
