/// Where each meaningful column sits in one input file's header.
public struct ColumnMap: Sendable {
    public enum Role: String, CaseIterable, Sendable {
        case team, email, contactID = "contact_id", audience, unsubscribed, created
    }

    /// Header names accepted for each role, compared case-insensitively (SPEC §3.1).
    public static let aliases: [Role: [String]] = [
        .team: ["team_id", "account_id", "workspace_id"],
        .email: ["email", "email_address", "Email Address"],
        .contactID: ["contact_id", "id"],
        .audience: ["audience_id", "segment_id", "list_id"],
        .unsubscribed: ["unsubscribed"],
        .created: ["created_at"],
    ]

    /// The column index of each role found.
    public var index: [Role: Int] = [:]
    /// The header as read, for messages and `summary.json`.
    public var header: [String]
    /// The header name used for each role found.
    public var names: [Role: String] = [:]

    /// Finds the roles in `header`. `overrides` replace the alias list of a role.
    public init(header: [[UInt8]], overrides: [Role: String]) {
        self.header = header.map { String(decoding: $0, as: UTF8.self) }
        let folded = self.header.map { Self.fold($0) }
        for role in Role.allCases {
            let wanted = overrides[role].map { [$0] } ?? Self.aliases[role]!
            for name in wanted {
                if let i = folded.firstIndex(of: Self.fold(name)) {
                    index[role] = i
                    names[role] = self.header[i]
                    break
                }
            }
        }
    }

    /// What a role is looked for as, for messages: the override or the aliases.
    public static func describe(_ role: Role, overrides: [Role: String]) -> String {
        (overrides[role].map { [$0] } ?? aliases[role]!).joined(separator: ", ")
    }

    /// The header as a message shows it, after "…; " (`ReportJob`'s and the billing files'
    /// missing-column errors): the names, escaped and cut short, or why they are not shown.
    ///
    /// A file without a header row has a data row in its place, and messages never show field
    /// values: a first line that holds an `@` is not shown. A first line with NUL bytes is UTF-16
    /// text (a spreadsheet's "Unicode text"), which a message would garble and cut short. A
    /// single name holding `;` or `|` is a file separated by another character.
    public static func describeHeader(_ header: [[UInt8]]) -> String {
        if header.contains(where: { $0.contains(0) }) {
            return "the header holds NUL bytes, as UTF-16 text does: Headcount reads UTF-8 "
                + "(iconv -f UTF-16 -t UTF-8 converts a file)"
        }
        if header.contains(where: { $0.contains(UInt8(ascii: "@")) }) {
            return "the first line holds an @, as a row of data would (not shown): the file needs a header row"
        }
        let shown = header.prefix(maxNamesShown).map { printable(String(decoding: $0, as: UTF8.self)) }
        var text = "the header has: " + shown.joined(separator: ", ")
        if header.count > maxNamesShown { text += ", … (\(header.count) names)" }
        if header.count == 1, let other = [";", "|"].first(where: { header[0].contains(UInt8(ascii: $0)) }) {
            text += " (one column: for a file separated by '\(other)', use --delimiter '\(other)')"
        }
        return text
    }

    static let maxNamesShown = 40
    public static let maxNameLength = 60

    /// A header name for a message (or any text for one line of a terminal): control characters
    /// as `\u{…}` escapes, at most `maxLength` characters.
    public static func printable(_ name: String, maxLength: Int = maxNameLength) -> String {
        var out = ""
        var length = 0
        for scalar in name.unicodeScalars {
            if length == maxLength {
                out += "…"
                break
            }
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            length += 1
        }
        return out
    }

    /// C0 controls (tab and line feed among them), DEL and C1 controls.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Header names match after trimming blanks and lowercasing.
    static func fold(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

import Foundation
