#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where stored (possibly compressed) bytes come from: a file, or memory in tests and fuzzing.
public protocol StoredBytes: AnyObject {
    /// The name used in messages: the path as the user gave it.
    var path: String { get }
    /// Bytes taken so far.
    var bytesRead: Int { get }
    /// Reads up to `buffer.count` bytes; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Stored bytes held in memory.
public final class MemoryBytes: StoredBytes {
    public let path: String
    private let bytes: [UInt8]
    public private(set) var bytesRead = 0

    public init(_ bytes: [UInt8], path: String = "memory") {
        self.bytes = bytes
        self.path = path
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - bytesRead)
        if n > 0 {
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + bytesRead, byteCount: n) }
        }
        bytesRead += n
        return n
    }
}

/// An input file opened for streaming: a path, or `-` for standard input.
///
/// Reads go straight to the file descriptor into caller-owned memory; nothing
/// is buffered here. `bytesRead` counts the bytes taken from the file as
/// stored (compressed bytes for gzip), for progress and error offsets.
public final class InputFile: StoredBytes {
    /// The path as the user gave it; used in every message about this file.
    public let path: String
    /// The file's size when it is a regular file named by its path, for progress; nil for pipes
    /// and for standard input.
    public let size: Int?
    public private(set) var bytesRead = 0
    private var fd: Int32
    private let ownsDescriptor: Bool

    /// Opens `path` (or standard input for `-`).
    /// - Throws: `.usage` when the file does not exist, `.environment` when it cannot be read.
    public init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = 0
            ownsDescriptor = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            ownsDescriptor = true
            if fd < 0 {
                let err = errno
                if err == ENOENT {
                    throw HeadcountError(.usage, "no such file", file: path)
                }
                throw HeadcountError(.environment, "cannot open: \(String(cString: strerror(err)))", file: path)
            }
        }
        var st = stat()
        let kind = fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0
        if kind == S_IFDIR {
            if ownsDescriptor { close(fd) }
            throw HeadcountError(.usage, "is a folder, not a file", file: path)
        }
        // Standard input is a stream even when the shell gives it a file (`< dump.csv.gz`): a
        // run reads a regular file's header, closes it and opens it again by its path, and
        // standard input, opened again, goes on from past the header (such a run failed as
        // "the file shrank"). Read once, as a pipe is; its progress shows no total.
        size = kind == S_IFREG && ownsDescriptor ? Int(st.st_size) : nil
    }

    deinit {
        if ownsDescriptor && fd >= 0 { close(fd) }
    }

    /// Opens a temporary file of the run's own (a spill file) to read it back: one that is gone
    /// is the environment's doing (something cleaned the temporary folder), not a usage error.
    static func scratch(_ path: String) throws -> InputFile {
        do {
            return try InputFile(path: path)
        } catch let error as HeadcountError where error.code == .usage {
            throw HeadcountError(.environment, "a temporary file of the run is gone (\(error.message))", file: path)
        }
    }

    /// The whole stored contents of `path` (small files: fixtures, fuzz inputs).
    public static func contents(of path: String) throws -> [UInt8] {
        let file = try InputFile(path: path)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { return bytes }
            bytes += buffer[0..<n]
        }
    }

    /// Reads up to `buffer.count` bytes; returns 0 at the end of the file.
    /// - Throws: `.environment` on a read error (the file vanished, an I/O error).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n > 0 {
                bytesRead += n
                return n
            }
            if n == 0 {
                // A regular file that ends before the size it had when opened was cut while
                // being read: counting what is left would publish wrong numbers.
                if let size, bytesRead < size {
                    throw HeadcountError(.environment, "the file shrank while it was read (from \(size) bytes)",
                                         file: path, byteOffset: bytesRead)
                }
                return 0
            }
            if errno == EINTR { continue }
            let err = errno
            throw HeadcountError(.environment, "read failed: \(String(cString: strerror(err)))",
                                 file: path, byteOffset: bytesRead)
        }
    }
}
