import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Temporary files that must not outlive the process, removed on failure and on signals.
public enum TemporaryFiles {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: Set<String> = []

    public static func register(_ path: String) {
        lock.lock(); paths.insert(path); lock.unlock()
    }

    public static func unregister(_ path: String) {
        lock.lock(); paths.remove(path); lock.unlock()
    }

    /// Creates a scratch folder of this process's own in `directory` (`prefix-PID-random`),
    /// registered for removal, after removing the folders of this prefix that runs killed
    /// outright left there (`sweepAbandoned`).
    ///
    /// The folder holds a lock file (`ownerFile`) that this process keeps locked (`flock`) until
    /// `removeFolder`, or until it ends, however it ends: the kernel lets go of a dead process's
    /// locks. The folder is made under a hidden name and renamed once its lock is held, so that
    /// a sweep never finds one of a live run unlocked.
    /// - Throws: `.environment` naming `directory` and `what` ("a spill folder").
    public static func makeFolder(_ prefix: String, in directory: String, for what: String) throws -> String {
        sweepAbandoned(prefix, in: directory)
        let name = "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let dir = (directory as NSString).appendingPathComponent(name)
        let hidden = (directory as NSString).appendingPathComponent("." + name)
        let failed = HeadcountError(.environment, "cannot create \(what) in the temporary directory", file: directory)
        guard mkdir(hidden, 0o700) == 0 else { throw failed }
        let owner = open((hidden as NSString).appendingPathComponent(ownerFile), O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard owner >= 0, flock(owner, LOCK_EX) == 0, rename(hidden, dir) == 0 else {
            if owner >= 0 { close(owner) }
            unlink((hidden as NSString).appendingPathComponent(ownerFile))
            rmdir(hidden)
            throw failed
        }
        lock.lock(); owners[dir] = owner; lock.unlock()
        register(dir)
        register((dir as NSString).appendingPathComponent(ownerFile))
        return dir
    }

    /// The lock file in a scratch folder of `makeFolder`.
    static let ownerFile = ".owner"

    /// The open, locked lock file of each scratch folder of this process.
    nonisolated(unsafe) private static var owners: [String: Int32] = [:]

    /// Removes a scratch folder of `makeFolder` whose own files are gone: its lock file, then
    /// the folder.
    public static func removeFolder(_ dir: String) {
        let ownerPath = (dir as NSString).appendingPathComponent(ownerFile)
        unlink(ownerPath)
        lock.lock(); let owner = owners.removeValue(forKey: dir); lock.unlock()
        if let owner { close(owner) }
        rmdir(dir)
        unregister(ownerPath)
        unregister(dir)
    }

    /// Removes the folders `prefix-…` in `directory` that a run killed outright (SIGKILL, the
    /// kernel's out-of-memory killer) left behind: those whose lock file is not locked, since
    /// the process that held it is gone. The temporary files of a run that ends any other way
    /// are removed by the run itself. The 50M-row dump spills up to 1.4 GB under `--memory-limit
    /// 256MiB`.
    ///
    /// Only this user's own folders, reached without following a link, whose lock file this
    /// process can lock; only their plain files, then the folder. A folder without a lock file
    /// (an older Headcount's), still locked (a live run's, here or on another machine sharing
    /// the folder), or of another user is left alone.
    static func sweepAbandoned(_ prefix: String, in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix + "-") {
            let dir = (directory as NSString).appendingPathComponent(name)
            let folder = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard folder >= 0 else { continue }
            defer { close(folder) }
            var info = stat()
            guard fstat(folder, &info) == 0, info.st_uid == geteuid() else { continue }
            let owner = openat(folder, ownerFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard owner >= 0 else { continue }
            defer { close(owner) }
            guard flock(owner, LOCK_EX | LOCK_NB) == 0 else { continue }
            guard let listing = fdopendir(dup(folder)) else { continue }
            var files: [String] = []
            while let entry = readdir(listing) {
                let file = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if file != "." && file != ".." && file != ownerFile { files.append(file) }
            }
            closedir(listing)
            for file in files { unlinkat(folder, file, 0) }
            unlinkat(folder, ownerFile, 0)
            rmdir(dir)
        }
    }

    /// Removes every registered file; called on failure and from the signal handler.
    public static func removeAll() {
        lock.lock()
        let all = paths, locked = owners.values
        paths.removeAll()
        owners.removeAll()
        lock.unlock()
        // Files first, then the folders that held them.
        for p in all.sorted(by: { $0.count > $1.count }) where unlink(p) != 0 { rmdir(p) }
        for owner in locked { close(owner) }
    }
}

/// Writes report files atomically: each to a temporary name in the output
/// folder, then all renamed into place at `commit()`, so that a reader never
/// sees a half-written report and a failed run leaves none.
public final class OutputFolder {
    public let path: String
    private var staged: [(temporary: String, final: String)] = []
    /// Files an earlier run may have left that this one does not write (`replaces`).
    private var replaced: [String] = []
    /// Whether this run made the folder; a failed run removes it again when empty.
    private let created: Bool
    private let suffix = ".tmp-\(getpid())"

    /// Creates the folder (and its parents) when missing.
    /// - Throws: `.environment` when it cannot be created or written.
    public init(path: String) throws {
        self.path = path
        created = !FileManager.default.fileExists(atPath: path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw HeadcountError(.environment, "cannot create the output folder", file: path)
        }
        if access(path, W_OK) != 0 {
            throw HeadcountError(.environment, "the output folder is not writable", file: path)
        }
        // A run that ends where it fails (a signal, memory refused) removes the folder it made.
        if created { TemporaryFiles.register(path) } else { Self.sweepAbandoned(in: path) }
    }

    /// The files Headcount writes into an output folder: a report's (`ReportRenderer`), the
    /// other commands' reports and `generate`'s dumps.
    static let fileNames = Set(ReportRenderer.reportFiles + [
        "compare.csv", "compare.json", "compare.html", "peak.csv", "peak.json", "peak.html",
        "contacts.csv.gz", "memberships.csv.gz",
    ])

    /// Removes the temporary files (`.NAME.tmp-PID`) that a run killed outright (SIGKILL, the
    /// kernel's out-of-memory killer) left in `path`; a run that ends any other way removes its
    /// own. Only files of `fileNames`, of this user, not links, whose process is gone
    /// (`kill(PID, 0)` finds none) and whose lock is free: a run holds a lock on each of its
    /// temporary files until they are moved into place (`open`), which also keeps a live run's
    /// on another machine sharing the folder.
    static func sweepAbandoned(in path: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for name in names where name.hasPrefix(".") {
            guard let tmp = name.range(of: ".tmp-", options: .backwards),
                  fileNames.contains(String(name[name.index(after: name.startIndex)..<tmp.lowerBound])),
                  let pid = Int32(name[tmp.upperBound...]), pid > 0, pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let file = (path as NSString).appendingPathComponent(name)
            let fd = Glibc.open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
                  flock(fd, LOCK_EX | LOCK_NB) == 0
            else { continue }
            unlink(file)
        }
    }

    /// Each staged file's lock (`sweepAbandoned`), held from its creation until it is moved into
    /// place or discarded.
    private var locks: [String: Int32] = [:]

    private func unlock(_ tmp: String) {
        if let fd = locks.removeValue(forKey: tmp) { close(fd) }
    }

    deinit { for fd in locks.values { close(fd) } }

    /// The temporary path a file named `name` is written to before commit.
    public func temporaryPath(for name: String) -> String {
        (path as NSString).appendingPathComponent(".\(name)\(suffix)")
    }

    /// Opens a staged file for streaming writes (e.g. rejects); renamed at commit.
    public func open(_ name: String) throws -> FileSink {
        let tmp = temporaryPath(for: name)
        TemporaryFiles.register(tmp)
        staged.append((tmp, (path as NSString).appendingPathComponent(name)))
        let sink = try FileSink(path: tmp, reportedAs: name)
        // A descriptor of its own: the sink is closed when the file is written, and the lock
        // must last until `commit` has moved it into place.
        let fd = Glibc.open(tmp, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            if flock(fd, LOCK_EX) == 0 { locks[tmp] = fd } else { close(fd) }
        }
        return sink
    }

    /// Stages `bytes` as `name`.
    public func write(_ name: String, _ bytes: [UInt8]) throws {
        let sink = try open(name)
        try sink.write(bytes)
        try sink.close()
    }

    /// Moves every staged file into place.
    ///
    /// A rename cannot be taken back (it replaced the earlier run's file), so what would stop
    /// one part-way, a folder where a report file goes, is looked for before the first: the
    /// folder then holds the earlier report whole or this one, never a mix. (The staged files
    /// sit in the same folder, already written, so a rename has nothing else to fail on but
    /// a disappearing folder or a change of permissions during the run.)
    /// - Throws: `.environment` when a report file's name is taken by a folder or a rename fails
    ///   (the staged files are removed).
    public func commit() throws {
        for (_, final) in staged {
            var info = stat()
            if lstat(final, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
                discard()
                throw HeadcountError(.environment, "cannot move the report into place: a folder has its name; "
                                     + "nothing was replaced", file: final)
            }
        }
        let written = Set(staged.map(\.final))
        for (tmp, final) in staged {
            if rename(tmp, final) != 0 {
                let err = String(cString: strerror(errno))
                discard()
                throw HeadcountError(.environment, "cannot move the report into place: \(err)", file: final)
            }
            TemporaryFiles.unregister(tmp)
            unlock(tmp)
        }
        staged.removeAll()
        TemporaryFiles.unregister(path)
        for name in replaced {
            let file = (path as NSString).appendingPathComponent(name)
            if !written.contains(file) { unlink(file) }
        }
    }

    /// Names a report file that this run replaces even when it does not write it: removed at
    /// `commit` (only then, so that a failed run leaves an earlier report whole).
    public func replaces(_ name: String) {
        replaced.append(name)
    }

    /// Removes the staged files, and the folder when this run made it and it is empty.
    public func discard() {
        for (tmp, _) in staged {
            unlink(tmp)
            TemporaryFiles.unregister(tmp)
            unlock(tmp)
        }
        staged.removeAll()
        if created {
            rmdir(path)
            TemporaryFiles.unregister(path)
        }
    }

    /// Removes the staged file `name` without publishing it.
    public func discard(named name: String) {
        let tmp = temporaryPath(for: name)
        unlink(tmp)
        TemporaryFiles.unregister(tmp)
        unlock(tmp)
        staged.removeAll { $0.temporary == tmp }
    }

}

/// A buffered file writer that reports failures (a full disk, a file-size limit) as `.environment`.
///
/// The buffer is raw memory, not an array: the join on disk writes three pieces per membership
/// row through it, and appending to an array property cost a retain, a release and a uniqueness
/// check each time (a quarter of the thread that writes them).
public final class FileSink {
    private var fd: Int32
    private let buffer: UnsafeMutableRawPointer
    /// Bytes the buffer holds at most; 0 when unbuffered.
    private let capacity: Int
    private var count = 0
    private let path: String
    private let reportedAs: String
    private let flushSize: Int
    /// Whether `close` waits for the bytes to reach the disk (report files; not scratch files).
    private let durable: Bool
    static let defaultFlushSize = 1 << 16

    /// - Parameters:
    ///   - flushSize: bytes buffered before a write (smaller for the many files of a spill).
    ///   - durable: false for temporary files that the run reads back and removes: waiting for
    ///     the disk (`fsync`) would only slow the run.
    init(path: String, reportedAs: String, buffered: Bool = true, flushSize: Int = defaultFlushSize,
         durable: Bool = true) throws {
        self.path = path
        self.reportedAs = reportedAs
        self.flushSize = flushSize
        self.durable = durable
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw HeadcountError(.environment, "cannot write: \(String(cString: strerror(errno)))", file: reportedAs)
        }
        capacity = buffered ? flushSize * 2 : 0
        buffer = .allocate(byteCount: max(capacity, 1), alignment: 16)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        buffer.deallocate()
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        let n = bytes.count
        guard n > 0 else { return }
        if count + n > capacity {
            try flush()
            if n > capacity { return try writeAll(bytes) }
        }
        (buffer + count).copyMemory(from: bytes.baseAddress!, byteCount: n)
        count += n
        if count >= flushSize { try flush() }
    }

    /// Writes `bytes` straight to the file, without copying them into the buffer (large
    /// blocks the caller already holds, such as spilled records).
    public func writeUnbuffered(_ bytes: UnsafeRawBufferPointer) throws {
        try flush()
        try writeAll(bytes)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw HeadcountError(.environment, "write failed: \(String(cString: strerror(errno)))",
                                     file: reportedAs)
            }
            offset += n
        }
    }

    public func flush() throws {
        guard count > 0 else { return }
        let n = count
        count = 0
        try writeAll(UnsafeRawBufferPointer(start: buffer, count: n))
    }

    public func close() throws {
        try flush()
        if durable && fsync(fd) != 0 && errno != EINVAL {
            throw HeadcountError(.environment, "write failed: \(String(cString: strerror(errno)))", file: reportedAs)
        }
        let rc = Glibc.close(fd)
        fd = -1
        if rc != 0 {
            throw HeadcountError(.environment, "write failed: \(String(cString: strerror(errno)))", file: reportedAs)
        }
    }
}
