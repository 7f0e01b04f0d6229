/// The version of Headcount, recorded in every report and history entry.
public enum HeadcountVersion {
    public static let current = "0.1.0"
}
