import Foundation

/// A JSON value with ordered object keys, so that `summary.json` is byte-stable.
public indirect enum JSON: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// A number already formatted (e.g. "12.34"), written as is.
    case number(String)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// Converts what `JSONSerialization` returns (keys of objects sorted).
    public init(any value: Any) {
        switch value {
        case let s as String: self = .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" || type(of: value) == Bool.self {
                self = .bool(n.boolValue)
            } else if n.doubleValue == Double(n.intValue) && !n.stringValue.contains(".") {
                self = .int(n.intValue)
            } else {
                self = .number(n.stringValue)
            }
        case let a as [Any]: self = .array(a.map { JSON(any: $0) })
        case let d as [String: Any]: self = .object(d.keys.sorted().map { ($0, JSON(any: d[$0]!)) })
        default: self = .null
        }
    }

    /// Pretty-printed with two-space indentation and a final newline.
    public func rendered() -> String {
        var out = ""
        write(to: &out, indent: 0)
        out += "\n"
        return out
    }

    /// On one line, without spaces between tokens (for the history's columns).
    public func compact() -> String {
        var out = ""
        write(to: &out, indent: nil)
        return out
    }

    /// Writes the value; `indent` nil means compact.
    private func write(to out: inout String, indent: Int?) {
        let inner = indent.map { $0 + 1 }
        let open = indent == nil ? "" : "\n"
        let separator = indent == nil ? "," : ",\n"
        let colon = indent == nil ? ":" : ": "
        func pad(_ level: Int?) -> String { level.map { String(repeating: "  ", count: $0) } ?? "" }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let s): out += s
        case .string(let s): JSON.escape(s, to: &out)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "[" + open
            for (i, item) in items.enumerated() {
                out += pad(inner)
                item.write(to: &out, indent: inner)
                out += i + 1 < items.count ? separator : open
            }
            out += pad(indent) + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            out += "{" + open
            for (i, (key, value)) in members.enumerated() {
                out += pad(inner)
                JSON.escape(key, to: &out)
                out += colon
                value.write(to: &out, indent: inner)
                out += i + 1 < members.count ? separator : open
            }
            out += pad(indent) + "}"
        }
    }

    static func escape(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"   // safe to embed in HTML
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
