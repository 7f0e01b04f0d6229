import Foundation

/// Sizes for flags such as `--memory-limit`: "1GiB", "256MiB", "512MB", "64k", "1000000".
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = s.prefix { $0.isNumber }
        guard !digits.isEmpty, let n = Int(digits) else { return nil }
        let units: [String: Int] = ["": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1_000_000,
                                    "mib": 1 << 20, "g": 1 << 30, "gb": 1_000_000_000, "gib": 1 << 30,
                                    "t": 1 << 40, "tb": 1_000_000_000_000, "tib": 1 << 40]
        guard let unit = units[String(s.dropFirst(digits.count)).trimmingCharacters(in: .whitespaces)] else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: unit)
        return overflow ? nil : v
    }
}

/// The report files a run can write.
public enum ReportFormat: String, CaseIterable, Sendable {
    case csv, json, html
}

/// How far a run is: for a progress line.
public struct ProgressSnapshot: Sendable {
    /// Stored bytes read from all inputs so far.
    public var bytesRead: Int
    /// Stored bytes of all inputs (0 when unknown: standard input).
    public var totalBytes: Int
    /// Rows read from all inputs so far.
    public var rows: Int
    /// The work after reading, which can take a while past a memory limit (nil while reading).
    public var step: ProgressStep? = nil
}

/// A run's work after its inputs are read: the join on disk, one part at a time, and the merges
/// of spilled partitions.
public struct ProgressStep: Sendable, Equatable {
    /// "joining on disk", "merging spilled partitions".
    public var name: String
    public var done: Int
    public var total: Int
}

/// Everything a `report` run needs, validated before any input is read.
///
/// The executable turns flags into this once; the core never sees raw flags.
public struct ReportConfiguration: Sendable {
    public var contacts: [String]
    public var memberships: [String] = []
    public var columnOverrides: [ColumnMap.Role: String] = [:]
    /// nil: detect comma or tab from each file's header.
    public var delimiter: UInt8?
    /// The team of every row when the contacts have no team column.
    public var defaultTeam = "default"
    public var unsubscribedPolicy: UnsubscribedPolicy = .any
    /// The run fails when more rows than this are rejected; nil means no limit.
    public var maxRejects: Int?
    public var formats: [ReportFormat] = [.csv, .json, .html]
    /// nil: `Reports/<run id>/`.
    public var outputDirectory: String?
    public var label: String?
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Rows longer than this are rejected as malformed.
    public var maxRecordBytes = CSVReader.defaultMaxRecordBytes
    /// Bytes per decompressed chunk and per CSV refill; tests make it tiny to put
    /// chunk boundaries everywhere.
    public var readChunkSize = PrefetchingReader.defaultChunkSize
    /// `--quotas FILE` and `--tiers FILE`.
    public var quotasPath: String?
    public var tiersPath: String?
    /// `--as-of`: count only contacts created at or before this instant (µs since 1970, UTC).
    public var asOf: Int64?
    /// Bytes the counting structures may use before they spill to disk (`--memory-limit`).
    public var memoryLimit = defaultMemoryLimit
    /// `--memory-limit` when none is given: 1 GiB.
    public static let defaultMemoryLimit = 1 << 30
    /// Where spill files go (`--temp-dir`).
    public var temporaryDirectory = NSTemporaryDirectory()
    /// The run history database; nil: no history (`--no-history`).
    public var historyPath: String? = HistoryStore.defaultPath
    /// Called every few tens of thousands of rows (from the reading thread); nil: nothing.
    public var progress: (@Sendable (ProgressSnapshot) -> Void)?
    /// Fixed clock for reproducible output (SOURCE_DATE_EPOCH); nil: the real clock.
    public var fixedEpoch: Int?

    public init(contacts: [String]) {
        self.contacts = contacts
    }

    /// A file named twice for one role (by the same path, or by two paths to one file, as a
    /// glob and a name can) would have its rows counted twice in `contact_rows` and `rows_read`:
    /// refused before any work. Paths that cannot be looked at are left to the opening of the
    /// inputs, which names them.
    static func refuseFilesGivenTwice(_ paths: [String], flag: String) throws {
        var seen: [String: String] = [:]
        for path in paths where path != "-" {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let identity = "\(info.st_dev):\(info.st_ino)"
            if let first = seen[identity] {
                let also = first == path ? "" : " (as \(first))"
                throw HeadcountError(.usage, "given twice for \(flag)\(also): each file is read once", file: path)
            }
            seen[identity] = path
        }
    }

    /// Checks what can be checked without reading the inputs.
    /// - Throws: `.usage` with the flag at fault.
    public func validate() throws {
        if contacts.isEmpty {
            throw HeadcountError(.usage, "--contacts needs at least one file")
        }
        if let maxRejects, maxRejects < 0 {
            throw HeadcountError(.usage, "--max-rejects must be 0 or more")
        }
        if threads < 1 {
            throw HeadcountError(.usage, "--threads must be 1 or more")
        }
        if (contacts + memberships).filter({ $0 == "-" }).count > 1 {
            throw HeadcountError(.usage, "standard input (-) can be read only once")
        }
        try Self.refuseFilesGivenTwice(contacts, flag: "--contacts")
        try Self.refuseFilesGivenTwice(memberships, flag: "--memberships")
        if memoryLimit < 1 << 20 {
            throw HeadcountError(.usage, "--memory-limit must be at least 1MiB")
        }
        if formats.isEmpty {
            throw HeadcountError(.usage, "--format needs at least one of csv, json, html")
        }
        // Checked before any work: spill files and held rejects go there, perhaps an hour into
        // a run.
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: temporaryDirectory, isDirectory: &isFolder) {
            throw HeadcountError(.usage, "--temp-dir: no such folder", file: temporaryDirectory)
        }
        if !isFolder.boolValue {
            throw HeadcountError(.usage, "--temp-dir: not a folder", file: temporaryDirectory)
        }
        if access(temporaryDirectory, W_OK | X_OK) != 0 {
            throw HeadcountError(.environment, "--temp-dir: the folder is not writable", file: temporaryDirectory)
        }
    }
}
