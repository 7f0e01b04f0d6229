#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An input file opened for streaming: a path, or `-` for standard input.
///
/// Reads go straight to the file descriptor into caller-owned memory; nothing
/// is buffered here. `bytesRead` counts the bytes taken from the file as
/// stored (compressed bytes for gzip), for progress and error offsets.
public final class InputFile {
    /// The path as the user gave it; used in every message about this file.
    public let path: String
    /// The file's size when it is a regular file, for progress; nil for pipes.
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
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
            size = Int(st.st_size)
        } else if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            if ownsDescriptor { close(fd) }
            throw HeadcountError(.usage, "is a folder, not a file", file: path)
        } else {
            size = nil
        }
    }

    deinit {
        if ownsDescriptor && fd >= 0 { close(fd) }
    }

    /// Reads up to `buffer.count` bytes; returns 0 at the end of the file.
    /// - Throws: `.environment` on a read error (the file vanished, an I/O error).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 {
                bytesRead += n
                return n
            }
            if errno == EINTR { continue }
            let err = errno
            throw HeadcountError(.environment, "read failed: \(String(cString: strerror(err)))",
                                 file: path, byteOffset: bytesRead)
        }
    }
}
