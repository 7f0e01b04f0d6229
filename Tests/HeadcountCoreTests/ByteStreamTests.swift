import Foundation
import Testing
@testable import HeadcountCore

@Suite struct ByteStreamTests {
    let text = Array(String(repeating: "team_id,email\nt1,alice@example.com\n", count: 500).utf8)

    func readAll(_ path: String, chunk: Int = 4096) throws -> (bytes: [UInt8], stream: ByteStream) {
        let stream = try ByteStream(file: InputFile(path: path))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return (out, stream)
    }

    func failure(_ path: String) -> HeadcountError? {
        do {
            _ = try readAll(path)
            return nil
        } catch let e as HeadcountError {
            return e
        } catch {
            return nil
        }
    }

    @Test func plainTextIsDetectedByContentNotName() throws {
        let dir = TemporaryFolder()
        let r = try readAll(dir.write("looks.csv.gz", text))
        #expect(r.bytes == text)
        #expect(r.stream.format == .plain)
    }

    @Test func everyMemberIsRead() throws {
        let dir = TemporaryFolder()
        let parts = [Array(text[0..<1000]), Array(text[1000..<1001]), Array(text[1001...])]
        let path = dir.write("m.gz", parts.flatMap { GzipEncoder.gzip($0) })
        for chunk in [1, 7, 4096, 1 << 20] {
            let r = try readAll(path, chunk: chunk)
            #expect(r.bytes == text)
            #expect(r.stream.members == 3)
            #expect(r.stream.format == .gzip)
        }
    }

    @Test func anEmptyMemberIsFine() throws {
        let dir = TemporaryFolder()
        let r = try readAll(dir.write("e.gz", GzipEncoder.gzip([]) + GzipEncoder.gzip(text)))
        #expect(r.bytes == text)
        #expect(r.stream.members == 2)
    }

    @Test func truncatedStreamNamesTheOffset() throws {
        let dir = TemporaryFolder()
        let gz = GzipEncoder.gzip(text)
        let e = failure(dir.write("t.gz", Array(gz[0..<(gz.count - 5)])))
        #expect(e?.code == .data)
        #expect(e?.byteOffset == gz.count - 5)
        #expect(e?.message.contains("truncated") == true)
    }

    @Test func badCRCIsCorrupt() throws {
        let dir = TemporaryFolder()
        var gz = GzipEncoder.gzip(text)
        gz[gz.count - 8] ^= 0xFF
        let e = failure(dir.write("c.gz", gz))
        #expect(e?.code == .data)
        #expect(e?.message.contains("incorrect data check") == true)
        #expect(e?.file?.hasSuffix("c.gz") == true)
    }

    @Test func badLengthTrailerIsCorrupt() throws {
        let dir = TemporaryFolder()
        var gz = GzipEncoder.gzip(text)
        gz[gz.count - 1] ^= 0x01
        #expect(failure(dir.write("l.gz", gz))?.code == .data)
    }

    @Test func trailingGarbageIsAnError() throws {
        let dir = TemporaryFolder()
        let gz = GzipEncoder.gzip(text)
        let e = failure(dir.write("g.gz", gz + Array("junk".utf8)))
        #expect(e?.code == .data)
        #expect(e?.byteOffset == gz.count)
        #expect(e?.message.contains("trailing garbage") == true)
    }

    @Test func emptyFileIsAnError() throws {
        let dir = TemporaryFolder()
        let e = failure(dir.write("empty", []))
        #expect(e?.code == .data)
        #expect(e?.byteOffset == 0)
    }

    @Test func missingFileIsAUsageError() {
        #expect(throws: HeadcountError.self) { try InputFile(path: "/nonexistent/headcount/file") }
        do { _ = try InputFile(path: "/nonexistent/headcount/file") } catch let e as HeadcountError {
            #expect(e.code == .usage)
        } catch {}
    }

    @Test func prefetchingReaderDeliversTheSameBytes() throws {
        let dir = TemporaryFolder()
        let path = dir.write("p.gz", GzipEncoder.gzip(text) + GzipEncoder.gzip(text))
        let stream = try ByteStream(file: InputFile(path: path))
        let reader = try PrefetchingReader(stream, chunkSize: 1000, depth: 2)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 333)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        #expect(out == text + text)
    }

    /// A source whose reads wait until the test lets each one through.
    final class GatedSource: ChunkSource, @unchecked Sendable {
        let gate = DispatchSemaphore(value: 0)
        var reads = 0
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            gate.wait()
            reads += 1
            if reads > 2 { return 0 }
            buffer.storeBytes(of: UInt8(ascii: "a"), toByteOffset: 0, as: UInt8.self)
            return 1
        }
    }

    @Test func prefetchingReaderCallsItsHookBeforeWaitingForAChunk() throws {
        let source = GatedSource()
        let reader = try PrefetchingReader(source, chunkSize: 1, depth: 2)
        let waiting = DispatchSemaphore(value: 0)
        reader.beforeWaiting = { waiting.signal() }
        let got = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while (try? withUnsafeMutableBytes(of: &byte) { try reader.read(into: $0) }) ?? 0 > 0 { got.signal() }
            got.signal()
        }
        // Nothing inflated yet: the reader says it waits, then gets the chunk let through.
        #expect(waiting.wait(timeout: .now() + 10) == .success)
        source.gate.signal()
        #expect(got.wait(timeout: .now() + 10) == .success)
        // Waiting for the next one, it says so again; a chunk already there needs no wait.
        #expect(waiting.wait(timeout: .now() + 10) == .success)
        source.gate.signal()
        source.gate.signal()
        #expect(got.wait(timeout: .now() + 10) == .success)
        #expect(got.wait(timeout: .now() + 10) == .success)   // the end
    }

    /// A source of one byte a read, each read let through by the test, that notes which memory
    /// it was asked to fill.
    final class RecordingSource: ChunkSource, @unchecked Sendable {
        let gate = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var filled: [UnsafeMutableRawPointer] = []
        let reads: Int
        init(reads: Int) { self.reads = reads }
        var addresses: [UnsafeMutableRawPointer] { lock.withLock { filled } }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            gate.wait()
            return lock.withLock {
                if filled.count == reads { return 0 }
                filled.append(buffer.baseAddress!)
                buffer[0] = UInt8(ascii: "a")
                return 1
            }
        }
    }

    /// Chunks are filled again in the order they were given back, oldest first, never the one
    /// just given back while others wait: the reading thread's core may still hold its lines
    /// (see `PrefetchingReader`). The test reads each byte as soon as it is there, so several
    /// chunks are empty at once; reused last-in first-out they would go C, B, C, B, …
    @Test func prefetchingReaderReusesTheChunkGivenBackLongestAgo() throws {
        let source = RecordingSource(reads: 9)
        let reader = try PrefetchingReader(source, chunkSize: 1, depth: 3)
        var bytes = 0
        var byte: UInt8 = 0
        while true {
            source.gate.signal()
            let n = try withUnsafeMutableBytes(of: &byte) { try reader.read(into: $0) }
            if n == 0 { break }
            bytes += n
        }
        let a = source.addresses
        #expect(bytes == 9 && a.count == 9)
        #expect(Set(a[0..<3]).count == 3)
        for k in 3..<a.count { #expect(a[k] == a[k - 3], "read \(k)") }
    }

    @Test func prefetchingReaderPassesErrorsOn() throws {
        let dir = TemporaryFolder()
        let gz = GzipEncoder.gzip(text)
        let stream = try ByteStream(file: InputFile(path: dir.write("t.gz", Array(gz[0..<(gz.count / 2)]))))
        let reader = try PrefetchingReader(stream, chunkSize: 100, depth: 2)
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(throws: HeadcountError.self) {
            while try buffer.withUnsafeMutableBytes({ try reader.read(into: $0) }) > 0 {}
        }
    }
}

/// Both inflaters must behave the same on every gzip input, good or bad.
@Suite struct InflaterEquivalenceTests {
    let text = Array(String(repeating: "team_id,email\nt1,alice@example.com\n", count: 2000).utf8)

    enum Outcome: Equatable {
        case bytes([UInt8], members: Int, checksums: [UInt32])
        case failure(HeadcountError.Code, offset: Int?, message: String)
    }

    func read(_ path: String, _ inflater: @autoclosure () -> Inflater) -> Outcome {
        do {
            let stream = try ByteStream(file: InputFile(path: path), inflater: inflater())
            var out: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 5000)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
                if n == 0 { break }
                out += buffer[0..<n]
            }
            return .bytes(out, members: stream.members, checksums: stream.checksums)
        } catch let e as HeadcountError {
            return .failure(e.code, offset: e.byteOffset, message: e.message)
        } catch {
            return .failure(.environment, offset: nil, message: "\(error)")
        }
    }

    var cases: [(String, [UInt8])] {
        let one = GzipEncoder.gzip(text)
        var badCRC = one
        badCRC[badCRC.count - 8] ^= 0xFF
        var badSize = one
        badSize[badSize.count - 2] ^= 0x10
        return [
            ("single", one),
            ("members", GzipEncoder.gzip(Array(text[0..<10])) + GzipEncoder.gzip([]) + GzipEncoder.gzip(Array(text[10...]))),
            ("level1-members", GzipEncoder.gzip(text, level: 1) + GzipEncoder.gzip(text, level: 9)),
            ("truncated", Array(one[0..<(one.count - 3)])),
            ("truncated-early", Array(one[0..<20])),
            ("bad-crc", badCRC),
            ("bad-size", badSize),
            ("garbage", one + Array("tail".utf8)),
            // A reserved FLG bit: zlib refused it, ISA-L accepted it (found by FuzzGzip).
            ("reserved-flag", Array(one[0..<3]) + [one[3] | 0x20] + Array(one[4...])),
            ("reserved-flag-second-member", one + Array(one[0..<3]) + [one[3] | 0x80] + Array(one[4...])),
        ]
    }

    @Test func isalIsUsedWhenInstalled() {
        // CI installs libisal-dev, so both inflaters are exercised there.
        #expect(ISALInflater.isAvailable == FileManager.default.fileExists(atPath: "/usr/include/isa-l/igzip_lib.h"))
    }

    @Test func zlibAndISALGiveIdenticalResults() throws {
        guard ISALInflater.isAvailable else { return }
        let dir = TemporaryFolder()
        for (name, bytes) in cases {
            let path = dir.write(name + ".gz", bytes)
            let z = read(path, ZlibInflater())
            let i = read(path, ISALInflater()!)
            switch (z, i) {
            case (.bytes, .bytes):
                #expect(z == i, "\(name)")
            case let (.failure(zc, zo, zm), .failure(ic, io, im)):
                #expect(zc == ic && zc == .data, "\(name)")
                // Both name an offset inside the file; the exact byte where a corrupt
                // stream is noticed may differ between implementations.
                #expect(zo != nil && io != nil, "\(name)")
                if zm.hasPrefix("truncated") || zm.hasPrefix("trailing") || name.hasPrefix("reserved") {
                    #expect(zm == im && zo == io, "\(name)")
                }
            default:
                Issue.record("\(name): zlib \(z) vs isa-l \(i)")
            }
        }
        if case .bytes(let b, let members, _) = read(dir.path + "/members.gz", ISALInflater()!) {
            #expect(b == text && members == 3)
        } else {
            Issue.record("members.gz unreadable")
        }
    }
}

@Suite struct InputFileFaultTests {
    @Test func aFileCutWhileItIsReadIsAnError() throws {
        let dir = TemporaryFolder()
        let path = dir.write("cut.csv", Array(repeating: 0x61, count: 100_000))
        let file = try InputFile(path: path)
        var buffer = [UInt8](repeating: 0, count: 10_000)
        _ = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
        truncate(path, 20_000)
        var error: HeadcountError?
        do {
            while try buffer.withUnsafeMutableBytes({ try file.read(into: $0) }) > 0 {}
        } catch let e as HeadcountError {
            error = e
        }
        #expect(error?.code == .environment)
        #expect(error?.byteOffset == 20_000)
        #expect(error?.message.contains("shrank") == true)
    }

    @Test func aFileDeletedWhileItIsReadIsReadToItsEnd() throws {
        let dir = TemporaryFolder()
        let path = dir.write("gone.csv", Array(repeating: 0x61, count: 100_000))
        let file = try InputFile(path: path)
        unlink(path)
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 10_000)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            total += n
        }
        #expect(total == 100_000, "an open file outlives its name")
    }
}
