import CZlib

/// Compresses a stream into one gzip member with zlib (for `generate` and tests).
public final class GzipEncoder {
    private var stream = z_stream()
    private var output = [UInt8](repeating: 0, count: 1 << 16)

    /// - Parameter level: 1 (fast) ... 9 (small); `generate` uses 1 for speed.
    public init(level: Int32 = 6) {
        let rc = headcount_deflateInit2(&stream, level, 15 + 16)
        invariant(rc == Z_OK, "deflateInit2 failed: \(rc)")
    }

    deinit { deflateEnd(&stream) }

    /// Compresses `input`, returning the compressed bytes produced so far.
    public func compress(_ input: [UInt8]) -> [UInt8] { run(input, flush: Z_NO_FLUSH) }

    /// Ends the member (writes the CRC-32 and size trailer).
    public func finish() -> [UInt8] { run([], flush: Z_FINISH) }

    private func run(_ input: [UInt8], flush: Int32) -> [UInt8] {
        var result: [UInt8] = []
        input.withUnsafeBytes { inBytes in
            stream.next_in = UnsafeMutablePointer(mutating: inBytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(inBytes.count)
            repeat {
                output.withUnsafeMutableBytes { out in
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(out.count)
                    _ = deflate(&stream, flush)
                    result.append(contentsOf: out[0..<(out.count - Int(stream.avail_out))])
                }
            } while stream.avail_out == 0 || (flush == Z_FINISH && stream.avail_in > 0)
        }
        return result
    }

    /// One complete gzip member holding `bytes`.
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        let e = GzipEncoder(level: level)
        return e.compress(bytes) + e.finish()
    }
}
