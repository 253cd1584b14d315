/// What became of one item at one stage: the `status`, `reason` and `message` columns of
/// `entries`, `sample_status` and `subjects`.
public enum Outcome: Sendable, Equatable {
    case ok
    /// Left out by a rule (no masks, too small, no nouns, …): not an error.
    case skipped(_ reason: String, _ message: String? = nil)
    /// Could not be processed (unreadable, missing file, …).
    case failed(_ reason: String, _ message: String? = nil)

    /// From the columns; a status this code does not know reads as failed.
    public init(status: String, reason: String?, message: String? = nil) {
        switch status {
        case "ok": self = .ok
        case "skipped": self = .skipped(reason ?? "unknown", message)
        default: self = .failed(reason ?? "unknown", message)
        }
    }

    /// `ok`, `skipped` or `failed`.
    public var status: String {
        switch self {
        case .ok: "ok"
        case .skipped: "skipped"
        case .failed: "failed"
        }
    }

    public var reason: String? {
        switch self {
        case .ok: nil
        case .skipped(let reason, _), .failed(let reason, _): reason
        }
    }

    public var message: String? {
        switch self {
        case .ok: nil
        case .skipped(_, let message), .failed(_, let message): message
        }
    }

    public var isOK: Bool { self == .ok }
}
