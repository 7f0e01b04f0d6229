import HeadcountCore

/// Reads every byte of `data` through a ByteStream with `inflater`, `chunk` bytes at a time.
func inflateAll(_ data: [UInt8], _ inflater: @autoclosure () -> Inflater, chunk: Int) -> Result<[UInt8], HeadcountError> {
    do {
        let stream = try ByteStream(file: MemoryBytes(data), inflater: inflater())
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
            if out.count > 1 << 24 { break }   // a bomb: enough to compare
        }
        return .success(out)
    } catch let e as HeadcountError {
        return .failure(e)
    } catch {
        preconditionFailure("unexpected error \(error)")
    }
}

/// The gzip reader on arbitrary bytes, and zlib against ISA-L: ISA-L must accept
/// everything zlib accepts, with the same bytes, and reject what zlib rejects
/// except corrupt deflate data whose CRC-32 and length still check out (ISA-L
/// does not verify that Huffman code sets are complete; found by this target,
/// see Fuzz/README.md).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let chunk = size > 0 ? Int(bytes[size - 1]) * 37 + 1 : 1
    let z = inflateAll(bytes, ZlibInflater(), chunk: chunk)
    if case .failure(let e) = z { precondition(e.code == .data && e.byteOffset != nil, "data errors name an offset") }
    if let isal = ISALInflater() {
        _ = isal
        let i = inflateAll(bytes, ISALInflater()!, chunk: chunk)
        switch (z, i) {
        case (.success(let a), .success(let b)): precondition(a == b, "zlib and ISA-L disagree on the bytes")
        case (.failure, .failure): break
        case (.success, .failure): preconditionFailure("ISA-L refused what zlib accepts: \(i)")
        case (.failure(let e), .success):
            precondition(e.message.contains("invalid") && e.message.contains("set"),
                         "ISA-L accepted what zlib refuses for another reason: \(e)")
        }
    }
    return 0
}

#if FUZZING
/// SwiftPM links an executable's entry point as `<module>_main`; under libFuzzer that entry
/// hands control to libFuzzer's driver with this target's test function.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("FuzzGzip_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, { fuzzGzip($0, $1) })
}
#else
/// Without libFuzzer: replays the given files (the regression corpus) through the target.
@main
struct Replay {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try InputFile.contents(of: path) + [0]
            _ = bytes.withUnsafeBufferPointer { fuzzGzip($0.baseAddress!, $0.count - 1) }
        }
    }
}
#endif
