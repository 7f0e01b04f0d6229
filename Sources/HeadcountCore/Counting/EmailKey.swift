import CIntrinsics

/// Why a row was rejected; the names are the SPEC's and appear in `rejects.csv` and `summary.json`.
public enum RejectReason: String, CaseIterable, Sendable, Comparable {
    case invalidEmail = "invalid_email"
    case invalidUTF8 = "invalid_utf8"
    case malformedRow = "malformed_row"
    case unknownContact = "unknown_contact"
    case invalidValue = "invalid_value"

    public static func < (a: RejectReason, b: RejectReason) -> Bool { a.rawValue < b.rawValue }
}

/// Turns an email field into the bytes that identify the contact (SPEC §2).
///
/// Trims leading and trailing whitespace (ASCII and Unicode White_Space),
/// lowercases (ASCII in place; full Unicode lowercase mapping for non-ASCII
/// addresses, which are rare) and validates: not empty, an `@` with text on
/// both sides of the last one, no whitespace or control characters inside,
/// at most 254 bytes, valid UTF-8. Plus tags and dots are kept as they are.
///
/// One instance per thread: it owns the buffer the normalised bytes are
/// written to.
public final class EmailNormalizer {
    public enum Result {
        /// The normalised address; valid until the next call.
        case valid(UnsafeRawBufferPointer)
        case invalid(RejectReason)
    }

    /// The SPEC's limit on an address, in bytes after trimming.
    public static let maxBytes = 254

    private let output: UnsafeMutableRawBufferPointer

    public init() {
        // Full Unicode lowercasing can grow a string (at most 3x for the worst code points);
        // the ASCII path stores whole words, up to 7 bytes past the address.
        output = .allocate(byteCount: Self.maxBytes * 3 + 16, alignment: 16)
    }

    deinit { output.deallocate() }

    /// Normalises `field`.
    /// - Complexity: O(n); no allocation for ASCII addresses.
    @inline(__always)
    public func normalize(_ field: UnsafeRawBufferPointer) -> Result {
        guard let p = field.baseAddress else { return .invalid(.invalidEmail) }
        var start = 0
        var end = field.count
        // Trim: ASCII whitespace, then the Unicode White_Space sequences.
        while start < end {
            let w = Self.whitespaceLength(p, at: start, limit: end)
            if w == 0 { break }
            start += w
        }
        while start < end {
            let w = Self.whitespaceLengthBefore(p, end: end, limit: start)
            if w == 0 { break }
            end -= w
        }
        let n = end - start
        if n == 0 { return .invalid(.invalidEmail) }

        // ASCII fast path: validate, find the last @, lowercase into the output.
        let out = output.baseAddress!
        var lastAt = -1
        var nonASCII = false
        var bad = false
        if n >= 16 && n <= Self.maxBytes {
            // Sixteen bytes at a time (most addresses).
            var at = -1
            let flags = headcount_email_ascii16((p + start).assumingMemoryBound(to: UInt8.self), n,
                                                out.assumingMemoryBound(to: UInt8.self), &at)
            nonASCII = flags & 1 != 0
            bad = flags & 2 != 0
            lastAt = at
        } else if n <= Self.maxBytes {
            // Eight bytes at a time (SWAR). Every byte is below 0x80 once the first test passes,
            // so the per-byte additions below never carry into the next byte.
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let src = p + start
            var badBits: UInt64 = 0
            var i = 0
            while i < n {
                let k = n - i
                let w = k >= 8 ? ByteHash.read64(src, i) : ByteHash.readPadded(src, i, k)
                if w & highs != 0 { nonASCII = true; break }
                let valid = k >= 8 ? ~0 : (UInt64(1) << UInt64(8 * k)) &- 1
                // Bytes below 0x21 (controls and space), and DEL.
                let del = w ^ (0x7F &* ones)
                badBits |= (~(w &+ 0x5F &* ones) | ~((del &+ 0x7F &* ones) | del)) & highs & valid
                let at = w ^ (0x40 &* ones)
                let atBits = ~((at &+ 0x7F &* ones) | at) & highs & valid
                if atBits != 0 { lastAt = i + (63 - atBits.leadingZeroBitCount) / 8 }
                // 'A'...'Z' get 0x20.
                let upper = (w &+ 0x3F &* ones) & ~(w &+ 0x25 &* ones) & highs
                out.storeBytes(of: (w | upper >> 2).littleEndian, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            bad = badBits != 0
        } else {
            // Too long either way; but invalid UTF-8 takes precedence as the more specific reason.
            for i in 0..<n where p.load(fromByteOffset: start + i, as: UInt8.self) >= 0x80 {
                nonASCII = true
                break
            }
            if !nonASCII { return .invalid(.invalidEmail) }
        }
        if nonASCII {
            return normalizeUnicode(UnsafeRawBufferPointer(start: p + start, count: n))
        }
        if bad || lastAt <= 0 || lastAt == n - 1 { return .invalid(.invalidEmail) }
        return .valid(UnsafeRawBufferPointer(start: out, count: n))
    }

    /// The slow path for addresses with non-ASCII bytes (about 0.5% of real rows).
    private func normalizeUnicode(_ bytes: UnsafeRawBufferPointer) -> Result {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .invalid(.invalidUTF8) }
        if bytes.count > Self.maxBytes { return .invalid(.invalidEmail) }
        for scalar in text.unicodeScalars where Self.isWhitespaceOrControl(scalar.value) {
            return .invalid(.invalidEmail)
        }
        guard let at = text.lastIndex(of: "@"), at != text.startIndex,
              text.index(after: at) != text.endIndex
        else { return .invalid(.invalidEmail) }
        var lowered = text.lowercased()
        let n = lowered.withUTF8 { utf8 -> Int in
            let n = min(utf8.count, output.count)
            output.baseAddress!.copyMemory(from: utf8.baseAddress!, byteCount: n)
            return n
        }
        return .valid(UnsafeRawBufferPointer(start: output.baseAddress, count: n))
    }

    /// Unicode White_Space or a control character (general category Cc: U+0000–U+001F,
    /// U+007F–U+009F). Spelled out rather than asked of `Unicode.Scalar.Properties`, whose
    /// table lookups cost the scanner 3% of M; both sets have been stable since Unicode 6.3.
    @inline(__always)
    static func isWhitespaceOrControl(_ v: UInt32) -> Bool {
        if v <= 0x20 || (v >= 0x7F && v <= 0xA0) { return true }   // C0, space, DEL, C1, U+0085, NBSP
        if v < 0x1680 { return false }
        return v == 0x1680 || (v >= 0x2000 && v <= 0x200A) || v == 0x2028 || v == 0x2029 || v == 0x202F
            || v == 0x205F || v == 0x3000
    }

    /// Length of the whitespace character at `i` (0 if none): ASCII TAB LF VT FF CR SPACE,
    /// U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
    @inline(__always)
    static func whitespaceLength(_ p: UnsafeRawPointer, at i: Int, limit: Int) -> Int {
        let c = p.load(fromByteOffset: i, as: UInt8.self)
        if c == 0x20 || (c >= 0x09 && c <= 0x0D) { return 1 }
        if c < 0xC2 { return 0 }
        if c == 0xC2, i + 1 < limit {
            let d = p.load(fromByteOffset: i + 1, as: UInt8.self)
            return (d == 0x85 || d == 0xA0) ? 2 : 0
        }
        if (c == 0xE1 || c == 0xE2 || c == 0xE3), i + 2 < limit {
            let d = p.load(fromByteOffset: i + 1, as: UInt8.self)
            let e = p.load(fromByteOffset: i + 2, as: UInt8.self)
            return isWhitespace3(c, d, e) ? 3 : 0
        }
        return 0
    }

    /// Length of the whitespace character that ends just before `end` (0 if none).
    @inline(__always)
    static func whitespaceLengthBefore(_ p: UnsafeRawPointer, end: Int, limit: Int) -> Int {
        let c = p.load(fromByteOffset: end - 1, as: UInt8.self)
        if c == 0x20 || (c >= 0x09 && c <= 0x0D) { return 1 }
        if c < 0x80 { return 0 }
        if end - 2 >= limit, p.load(fromByteOffset: end - 2, as: UInt8.self) == 0xC2, c == 0x85 || c == 0xA0 {
            return 2
        }
        if end - 3 >= limit {
            let a = p.load(fromByteOffset: end - 3, as: UInt8.self)
            let b = p.load(fromByteOffset: end - 2, as: UInt8.self)
            if isWhitespace3(a, b, c) { return 3 }
        }
        return 0
    }

    @inline(__always)
    static func isWhitespace3(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Bool {
        switch (a, b) {
        case (0xE1, 0x9A): return c == 0x80                                   // U+1680
        case (0xE2, 0x80): return (c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF
        case (0xE2, 0x81): return c == 0x9F                                   // U+205F
        case (0xE3, 0x80): return c == 0x80                                   // U+3000
        default: return false
        }
    }
}
