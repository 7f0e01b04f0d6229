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

    /// Addresses with non-ASCII bytes (about 0.5% of real rows): those whose every other
    /// character takes two bytes in UTF-8 (Latin, Greek, Cyrillic, Hebrew, Arabic: nearly all
    /// of them) are lowercased here from a table; the rest go through `String`.
    private func normalizeUnicode(_ bytes: UnsafeRawBufferPointer) -> Result {
        normalizeTwoByte(bytes) ?? normalizeThroughString(bytes)
    }

    /// Per character U+0080...U+07FF: its lowercase as UTF-8, up to three bytes, in the low 24
    /// bits and the byte count in the next two; 0 where the lowercase is longer. Taken from the
    /// mapping `String.lowercased()` applies character by character, once per process.
    static let twoByteLowercase: [UInt32] = (0..<0x800).map { v in
        // Capital sigma's lowercase depends on the characters around it (`lowercased(_:)`).
        guard v >= 0x80, v != 0x3A3, let scalar = Unicode.Scalar(UInt32(v)) else { return 0 }
        let bytes = Array(scalar.properties.lowercaseMapping.utf8)
        guard bytes.count <= 3 else { return 0 }
        var entry = bytes.enumerated().reduce(UInt32(bytes.count) << 24) {
            $0 | UInt32($1.element) << (8 * UInt32($1.offset))
        }
        // Whether it joins an "@" beside it into one character (a combining mark after it, a
        // prepended sign before it), by the grapheme rules `String` applies.
        let c = String(scalar)
        if ("@" + c).count != 2 { entry |= joinsAtBeforeIt }
        if (c + "@").count != 2 { entry |= joinsAtAfterIt }
        return entry
    }

    static let joinsAtBeforeIt: UInt32 = 1 << 28
    static let joinsAtAfterIt: UInt32 = 1 << 29

    /// The key of an address of ASCII and two-byte characters, the same as `normalizeThroughString`
    /// gives (`String` spent 16,000 instructions an address lowercasing one: 2% of a run's CPU
    /// on M, for 0.5% of its rows). nil for anything else, or any doubt: a byte that starts a
    /// longer character or is not valid UTF-8, a character from U+0080 to U+00A0 (controls, and
    /// the whitespace that trimming may have left for `String` to judge), an "@" that a
    /// character beside it joins (`String` looks for the last "@" as a character, and a
    /// combining mark after it makes it another one), or an address longer than the limit;
    /// `normalizeThroughString` decides those. (Public for the fuzzer, which checks the two
    /// against each other; `normalize` is the one to call.)
    public func normalizeTwoByte(_ bytes: UnsafeRawBufferPointer) -> Result? {
        let n = bytes.count
        guard n <= Self.maxBytes else { return nil }
        let src = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let table = Self.twoByteLowercase
        var lastAt = -1
        var i = 0, o = 0
        // The table entry of the character before (0 after an ASCII one), and whether it was "@".
        var previous: UInt32 = 0
        var afterAt = false
        while i < n {
            let c = src[i]
            if c < 0x80 {
                if c <= 0x20 || c == 0x7F { return nil }
                afterAt = c == 0x40
                if afterAt {
                    if previous & Self.joinsAtAfterIt != 0 { return nil }
                    lastAt = i
                }
                previous = 0
                out[o] = (c &- 0x41) < 26 ? c | 0x20 : c
                i += 1
                o += 1
                continue
            }
            guard c >= 0xC2 && c <= 0xDF && i + 1 < n else { return nil }
            let d = src[i + 1]
            guard d & 0xC0 == 0x80 else { return nil }
            let v = Int(c & 0x1F) << 6 | Int(d & 0x3F)
            let lower = table[v]
            guard v > 0xA0, lower != 0 else { return nil }
            if afterAt && lower & Self.joinsAtBeforeIt != 0 { return nil }
            let count = Int(lower >> 24 & 3)
            out[o] = UInt8(truncatingIfNeeded: lower)
            if count > 1 { out[o + 1] = UInt8(truncatingIfNeeded: lower >> 8) }
            if count > 2 { out[o + 2] = UInt8(truncatingIfNeeded: lower >> 16) }
            previous = lower
            afterAt = false
            i += 2
            o += count
        }
        if lastAt <= 0 || lastAt == n - 1 { return .invalid(.invalidEmail) }
        return .valid(UnsafeRawBufferPointer(start: out, count: o))
    }

    /// The general path for non-ASCII addresses, through `String`.
    public func normalizeThroughString(_ bytes: UnsafeRawBufferPointer) -> Result {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .invalid(.invalidUTF8) }
        if bytes.count > Self.maxBytes { return .invalid(.invalidEmail) }
        for scalar in text.unicodeScalars where Self.isWhitespaceOrControl(scalar.value) {
            return .invalid(.invalidEmail)
        }
        guard let at = text.lastIndex(of: "@"), at != text.startIndex,
              text.index(after: at) != text.endIndex
        else { return .invalid(.invalidEmail) }
        var lowered = Self.lowercased(text)
        let n = lowered.withUTF8 { utf8 -> Int in
            let n = min(utf8.count, output.count)
            output.baseAddress!.copyMemory(from: utf8.baseAddress!, byteCount: n)
            return n
        }
        return .valid(UnsafeRawBufferPointer(start: output.baseAddress, count: n))
    }

    /// The full Unicode lowercase mapping of `text` (Unicode 3.13, toLowercase), as Python's
    /// `str.lower()` and ICU give it: each character's full lowercase mapping, and capital sigma
    /// as final sigma (ς) where it ends a word, which `String.lowercased()` does not do (it gave
    /// `ΟΔΥΣΣΕΥΣ@X.GR` the key of `οδυσσευσ@x.gr`, not of `οδυσσευς@x.gr`).
    static func lowercased(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{3A3}") else { return text.lowercased() }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            if scalar == "\u{3A3}" && isFinalSigma(at: i, in: scalars) {
                out.append("\u{3C2}")
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// The Final_Sigma condition (Unicode 3.13, table 3-17): a cased letter before it, with only
    /// case-ignorable characters between, and no cased letter after it past case-ignorable ones.
    static func isFinalSigma(at i: Int, in scalars: [Unicode.Scalar]) -> Bool {
        var j = i - 1
        while j >= 0 && scalars[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && scalars[j].properties.isCased else { return false }
        var k = i + 1
        while k < scalars.count && scalars[k].properties.isCaseIgnorable { k += 1 }
        return k == scalars.count || !scalars[k].properties.isCased
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
