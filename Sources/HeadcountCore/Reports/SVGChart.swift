/// Text made safe for HTML and SVG: every character that could open markup is escaped.
public enum HTMLEscape {
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// Number formats for people: thousands separators, no binary floating point.
public enum NumberFormat {
    /// 1234567 → "1,234,567".
    public static func grouped(_ n: Int) -> String {
        var out: [UInt8] = []
        append(n, grouped: true, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `n` in decimal, after a minus sign when it is negative, with a comma between
    /// groups of three digits when `grouped` ("1,234,567"); as `String(n)` writes it otherwise.
    /// The digits are made on the stack and appended at once.
    public static func append(_ n: Int, grouped: Bool = false, to out: inout [UInt8]) {
        if n < 0 { out.append(0x2D) }
        // Room for any magnitude's 20 digits and their 6 commas.
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { d in
            let written = writeDigits(n.magnitude, grouped: grouped, endingAt: d.baseAddress! + d.count)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(d.count - written)...]))
        }
    }

    /// Writes the decimal digits of `magnitude` from the last, so that they end just before `end`
    /// (a comma between groups of three when `grouped`); returns how many bytes it wrote, at most
    /// 26. The report files' numbers are all written by it (`append`, `RowBuilder`).
    @inline(__always)
    static func writeDigits(_ magnitude: UInt, grouped: Bool = false, endingAt end: UnsafeMutableRawPointer) -> Int {
        var v = magnitude
        var at = end
        var written = 0
        repeat {
            if grouped && written > 0 && written % 3 == 0 {
                at -= 1
                at.storeBytes(of: 0x2C, as: UInt8.self)
            }
            at -= 1
            at.storeBytes(of: UInt8(truncatingIfNeeded: v % 10) + 0x30, as: UInt8.self)
            v /= 10
            written += 1
        } while v > 0
        return end - at
    }

    /// 0, 1k, 2.5k, 1M: short axis labels.
    public static func short(_ n: Int) -> String {
        switch n {
        case ..<1000: return String(n)
        case ..<1_000_000: return n % 1000 == 0 ? "\(n / 1000)k" : "\(n / 100 / 10).\(n / 100 % 10)k"
        default: return n % 1_000_000 == 0 ? "\(n / 1_000_000)M" : "\(n / 100_000 / 10).\(n / 100_000 % 10)M"
        }
    }
}

/// Small inline SVG charts for the HTML reports: axis labels, units, readable
/// numbers, and colours that stay distinct for colour-blind readers (the
/// Okabe–Ito palette). All text from the data is escaped here.
public enum SVGChart {
    /// Okabe–Ito blue and orange: distinguishable with every common colour-vision deficiency.
    public static let legacyColor = "#0072B2"
    public static let globalColor = "#E69F00"

    /// A round axis step giving about `ticks` ticks up to `maximum`.
    static func step(for maximum: Int, ticks: Int = 5) -> Int {
        guard maximum > 0 else { return 1 }
        let raw = Double(maximum) / Double(ticks)
        var magnitude = 1
        while Double(magnitude) * 10 <= raw { magnitude *= 10 }
        for m in [1, 2, 5, 10] where Double(magnitude * m) >= raw { return magnitude * m }
        return magnitude * 10
    }

    public struct Series {
        public var name: String
        public var color: String
        public var values: [Int]
        public init(name: String, color: String, values: [Int]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    /// Horizontal grouped bars: one group per category, one bar per series.
    public static func groupedBars(title: String, categories: [String], series: [Series], unit: String) -> String {
        let labelWidth = 170, plotWidth = 480, barHeight = 10, gap = 2, groupGap = 10, top = 44
        let groupHeight = series.count * (barHeight + gap) + groupGap
        let height = top + max(1, categories.count) * groupHeight + 44
        let maximum = series.flatMap(\.values).max() ?? 0
        let step = step(for: maximum)
        let axisMax = max(step, (maximum + step - 1) / step * step)
        func x(_ v: Int) -> Int { labelWidth + v * plotWidth / axisMax }
        var svg = "<svg viewBox=\"0 0 \(labelWidth + plotWidth + 30) \(height)\" "
            + "role=\"img\" aria-label=\"\(HTMLEscape.escape(title))\" class=\"chart\">"
        svg += "<title>\(HTMLEscape.escape(title))</title>"
        // Legend.
        var lx = labelWidth
        for s in series {
            svg += "<rect x=\"\(lx)\" y=\"8\" width=\"12\" height=\"12\" fill=\"\(s.color)\"/>"
            svg += "<text x=\"\(lx + 16)\" y=\"18\" class=\"legend\">\(HTMLEscape.escape(s.name))</text>"
            lx += 16 + s.name.count * 7 + 24
        }
        // Grid and axis.
        let bottom = top + categories.count * groupHeight
        var v = 0
        while v <= axisMax {
            svg += "<line x1=\"\(x(v))\" y1=\"\(top - 4)\" x2=\"\(x(v))\" y2=\"\(bottom)\" class=\"grid\"/>"
            svg += "<text x=\"\(x(v))\" y=\"\(bottom + 14)\" class=\"tick\" text-anchor=\"middle\">\(NumberFormat.short(v))</text>"
            v += step
        }
        svg += "<text x=\"\(labelWidth + plotWidth / 2)\" y=\"\(bottom + 34)\" class=\"axis\" text-anchor=\"middle\">"
            + "\(HTMLEscape.escape(unit))</text>"
        for (i, category) in categories.enumerated() {
            let y = top + i * groupHeight
            let label = category.count > 24 ? String(category.prefix(23)) + "…" : category
            svg += "<text x=\"\(labelWidth - 6)\" y=\"\(y + (groupHeight - groupGap) / 2 + 4)\" class=\"label\" "
                + "text-anchor=\"end\">\(HTMLEscape.escape(label))</text>"
            for (j, s) in series.enumerated() {
                let value = i < s.values.count ? s.values[i] : 0
                let by = y + j * (barHeight + gap)
                svg += "<rect x=\"\(labelWidth)\" y=\"\(by)\" width=\"\(max(1, x(value) - labelWidth))\" "
                    + "height=\"\(barHeight)\" fill=\"\(s.color)\"><title>\(HTMLEscape.escape(category)) · "
                    + "\(HTMLEscape.escape(s.name)): \(NumberFormat.grouped(value))</title></rect>"
            }
        }
        return svg + "</svg>"
    }

    /// Room for this many bins at least. The page scales a chart to its width (CSS
    /// `svg.chart`), so a chart of one bin (a dump without audiences: every email in none) drawn
    /// only as wide as that bin was scaled up five-fold, its numbers 60 px high; with the room of
    /// ten, as M's `none` to 9 take, every histogram has the same scale and fewer bins leave the
    /// right empty.
    static let histogramMinimumBins = 10

    /// Vertical bars: one per bin, each with its count above it.
    public static func histogram(title: String, bins: [(label: String, value: Int)], xLabel: String,
                                 yLabel: String) -> String {
        let left = 60, plotHeight = 200, top = 20, barWidth = 44, gap = 12
        let width = left + max(histogramMinimumBins, bins.count) * (barWidth + gap) + 20
        let maximum = bins.map(\.value).max() ?? 0
        let step = step(for: maximum, ticks: 4)
        let axisMax = max(step, (maximum + step - 1) / step * step)
        func y(_ v: Int) -> Int { top + plotHeight - v * plotHeight / axisMax }
        var svg = "<svg viewBox=\"0 0 \(width) \(top + plotHeight + 56)\" "
            + "role=\"img\" aria-label=\"\(HTMLEscape.escape(title))\" class=\"chart\">"
        svg += "<title>\(HTMLEscape.escape(title))</title>"
        var v = 0
        while v <= axisMax {
            svg += "<line x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(width - 10)\" y2=\"\(y(v))\" class=\"grid\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" class=\"tick\" text-anchor=\"end\">\(NumberFormat.short(v))</text>"
            v += step
        }
        for (i, bin) in bins.enumerated() {
            let bx = left + gap / 2 + i * (barWidth + gap)
            svg += "<rect x=\"\(bx)\" y=\"\(y(bin.value))\" width=\"\(barWidth)\" height=\"\(max(0, top + plotHeight - y(bin.value)))\" "
                + "fill=\"\(legacyColor)\"><title>\(HTMLEscape.escape(bin.label)): \(NumberFormat.grouped(bin.value))</title></rect>"
            svg += "<text x=\"\(bx + barWidth / 2)\" y=\"\(y(bin.value) - 4)\" class=\"value\" text-anchor=\"middle\">"
                + "\(NumberFormat.short(bin.value))</text>"
            svg += "<text x=\"\(bx + barWidth / 2)\" y=\"\(top + plotHeight + 16)\" class=\"tick\" text-anchor=\"middle\">"
                + "\(HTMLEscape.escape(bin.label))</text>"
        }
        svg += "<text x=\"\(left + (width - left) / 2)\" y=\"\(top + plotHeight + 40)\" class=\"axis\" "
            + "text-anchor=\"middle\">\(HTMLEscape.escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\(top + plotHeight / 2)\" class=\"axis\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 14 \(top + plotHeight / 2))\">\(HTMLEscape.escape(yLabel))</text>"
        return svg + "</svg>"
    }
}
