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

    /// Header names match after trimming blanks and lowercasing.
    static func fold(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

import Foundation
