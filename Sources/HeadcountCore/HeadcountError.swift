/// A failure that ends a run, with where it happened and what to do about it.
///
/// Messages name files, lines, byte offsets and column names; they never
/// include field contents, so an email address cannot reach a terminal or a
/// log by accident.
public struct HeadcountError: Error, CustomStringConvertible, Sendable {
    /// The closed set of failure kinds; the executable maps each to an exit status.
    public enum Code: String, Sendable {
        /// Bad flags, a missing file or a missing required column (exit 2).
        case usage
        /// The input data cannot be read as promised: corrupt or truncated gzip, too many rejects (exit 1).
        case data
        /// The environment failed: an unreadable file, a full disk, a read-only folder (exit 1).
        case environment
        /// The run was interrupted by a signal (exit 130 or 143).
        case interrupted
    }

    public var code: Code
    public var message: String
    /// The input path as the user gave it, when the failure concerns one file.
    public var file: String?
    /// The 1-based line in the decompressed input, when known.
    public var line: Int?
    /// The byte offset in the file as stored (compressed bytes for gzip), when known.
    public var byteOffset: Int?
    /// The signal number for `.interrupted`.
    public var signal: Int32?

    public init(_ code: Code, _ message: String, file: String? = nil, line: Int? = nil,
                byteOffset: Int? = nil, signal: Int32? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.byteOffset = byteOffset
        self.signal = signal
    }

    /// One line: `FILE: line N: message` or `FILE: byte N: message`.
    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let line { parts.append("line \(line)") }
        if let byteOffset { parts.append("byte \(byteOffset)") }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
