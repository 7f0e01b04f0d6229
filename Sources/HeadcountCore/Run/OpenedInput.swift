import Foundation

/// One input, opened, its format found and its header read.
///
/// Every input is opened before any is read, so that a missing file or column stops the run
/// at once; but only the files being read (`--threads` at a time) hold a decompressing thread
/// and its buffers (about 17 MB; up to four times that for a file read alone, `depthFactor`).
/// A regular file is closed again once its header is known and reopened when its turn comes
/// (`startReading`), its header read again and compared; before,
/// every file held its thread and buffers from the start, and 40 inputs took 740 MB. A pipe,
/// which cannot be read twice, keeps reading from the start.
final class OpenedInput {
    /// What reading a file holds: the file, its decompressor, the prefetching thread, the CSV reader.
    private final class Reading {
        let file: InputFile
        let stream: ByteStream
        let prefetch: PrefetchingReader
        let reader: CSVReader

        init(_ file: InputFile, _ config: ReportConfiguration, delimiter: UInt8?, chunks: Int) throws {
            self.file = file
            stream = try ByteStream(file: file)
            let file = self.file, stream = self.stream
            prefetch = try OpenedInput.located(file.path) {
                try PrefetchingReader(stream, chunkSize: config.readChunkSize, depth: chunks,
                                      headroom: config.maxRecordBytes, position: { file.bytesRead })
            }
            reader = CSVReader(source: prefetch, delimiter: delimiter, maxRecordBytes: config.maxRecordBytes,
                               refillSize: config.readChunkSize)
        }

        deinit { prefetch.cancel() }
    }

    let stats: InputStats
    let columns: ColumnMap
    let path: String
    /// The stored size of a regular file; nil for a pipe.
    let size: Int?
    private let config: ReportConfiguration
    /// The header as first read, to be found again when the file is reopened (and for messages).
    let header: [[UInt8]]
    private var reading: Reading?

    /// Whether this file is the only one of its role read at a time. Its three threads (inflating,
    /// scanning, counting) then share two cores with no other file's, and deeper buffers between
    /// them keep a core from idling while one stage catches up (`depthFactor`).
    var readsAlone: Bool { depthFactor > 1 }
    /// How many times the single depths (16 inflated chunks, 32 scanned batches) this file's
    /// threads keep in flight: 1 for files read at once, so that their buffers do not multiply.
    /// A file read alone gets 4 under the default memory limit or more, 2 under a smaller one
    /// (the buffers are memory the limit does not cover: the 50M-row dump under `256MiB` peaked
    /// at 350 MB with 2, 386 MB with 4).
    ///
    /// Twice the single depths, on M the time when two of the three threads waited at once fell
    /// from 0.34 to 0.18 core-seconds a run and the median run from 1.98 to 1.84 s (six
    /// alternating runs each). But the pipeline still stopped behind the counting thread when it
    /// applied its staging buffers, which fill in step, in one stretch (`perf sched`: 32-58 ms
    /// of a run with the other two threads waiting and a core idle). Twice that again (64
    /// chunks, 128 batches: 35 MB more at the peak), wall time minus half the CPU time, the
    /// share of a run a core sat idle, fell from 0.147 to 0.090 s (medians of six alternating
    /// runs).
    let depthFactor: Int
    /// The inflated chunks and the scanned batches this file's threads keep in flight.
    var chunksAhead: Int { depthFactor * PrefetchingReader.defaultDepth }
    var batchesAhead: Int { depthFactor * ContactScanner.depth }

    /// The CSV reader of a file being read (after `startReading`).
    var reader: CSVReader { reading!.reader }

    /// Sets what the reading thread calls when it is about to wait for the next inflated chunk
    /// (after `startReading`, before the reading thread starts).
    func whenReadingWaits(_ hook: @escaping () -> Void) { reading?.prefetch.beforeWaiting = hook }

    /// Stored bytes of this file consumed so far, as seen from the reading thread.
    var bytesConsumed: Int { reading?.prefetch.deliveredPosition ?? 0 }

    init(role: InputStats.Role, path: String, _ config: ReportConfiguration) throws {
        stats = InputStats(role: role, path: path)
        self.path = path
        self.config = config
        let alone = min(config.threads, role == .contacts ? config.contacts.count : config.memberships.count) <= 1
        let depthFactor = alone ? (config.memoryLimit >= ReportConfiguration.defaultMemoryLimit ? 4 : 2) : 1
        self.depthFactor = depthFactor
        let file = try InputFile(path: path)
        size = file.size
        let header: [[UInt8]]?
        let blankLines: Int
        if file.size == nil {
            let reading = try Reading(file, config, delimiter: config.delimiter,
                                      chunks: depthFactor * PrefetchingReader.defaultDepth)
            self.reading = reading
            stats.format = reading.stream.format
            header = try Self.located(path) { try reading.reader.readHeader() }
            stats.delimiter = reading.reader.delimiter
            blankLines = reading.reader.blankLines
        } else {
            // The header alone, without the prefetching thread; the file is closed again.
            let stream = try ByteStream(file: file)
            let reader = CSVReader(source: stream, delimiter: config.delimiter, maxRecordBytes: config.maxRecordBytes,
                                   refillSize: 1 << 16)
            stats.format = stream.format
            header = try Self.located(path) { try reader.readHeader() }
            stats.delimiter = reader.delimiter
            blankLines = reader.blankLines
        }
        guard let header else {
            // Not even a blank line: gzip members that hold nothing, or only a byte-order mark.
            let why = blankLines > 0 ? "the file holds only blank lines"
                : stats.format == .gzip ? "its gzip members hold no data" : "the file holds no line"
            throw HeadcountError(.data, "no header row (\(why))", file: path)
        }
        self.header = header
        columns = ColumnMap(header: header, overrides: config.columnOverrides)
        stats.columns = columns.names
        reading?.reader.limitStoredFields(to: header.count + 1)
    }

    /// Opens the file again for reading its rows, past its header, with a thread decompressing
    /// ahead; nothing to do for a pipe, read from the start.
    /// - Throws: `.data` when the file is no longer the one opened first (another size or header),
    ///   or what opening it throws.
    func startReading() throws {
        guard reading == nil else { return }
        let file = try InputFile(path: path)
        let reading = try Reading(file, config, delimiter: stats.delimiter, chunks: chunksAhead)
        let again = try Self.located(path) { try reading.reader.readHeader() }
        guard file.size == size, again == header else {
            throw HeadcountError(.data, "the file changed after the run opened it (its size or header is not the same)",
                                 file: path)
        }
        reading.reader.limitStoredFields(to: header.count + 1)
        self.reading = reading
    }

    /// Records the byte counts once the file has been read to its end, and lets go of its buffers.
    func finish() {
        guard let reading else { return }
        stats.storedBytes = reading.file.bytesRead
        stats.uncompressedBytes = reading.stream.bytesOut
        stats.gzipMembers = reading.stream.members
        stats.blankLines = reading.reader.blankLines
        stats.fingerprint = reading.stream.fingerprint
        self.reading = nil
    }

    @inline(__always)
    static func located<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as HeadcountError {
            if error.file == nil { error.file = path }
            throw error
        }
    }
}
