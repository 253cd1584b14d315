/// What became of one item at one stage: the `status`, `reason` and `message` columns of
/// `entries`, `sample_status` and `subjects`.
public enum Outcome: Sendable, Equatable, Codable {
    case ok
    /// Left out by a rule (no masks, too small, no nouns, …): not an error.
    case skipped(_ reason: Reason, _ message: String? = nil)
    /// Could not be processed (unreadable, missing file, …).
    case failed(_ reason: Reason, _ message: String? = nil)

    /// From the columns; nil for a status or reason this code does not know.
    public init?(status: String, reason: String?, message: String? = nil) {
        switch (status, reason.flatMap(Reason.init(rawValue:))) {
        case ("ok", _): self = .ok
        case ("skipped", let reason?): self = .skipped(reason, message)
        case ("failed", let reason?): self = .failed(reason, message)
        default: return nil
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

    public var reason: Reason? {
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

    private enum CodingKeys: String, CodingKey { case status, reason, message }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let status = try c.decode(String.self, forKey: .status)
        let reason = try c.decodeIfPresent(String.self, forKey: .reason)
        guard let outcome = Outcome(status: status, reason: reason, message: try c.decodeIfPresent(String.self, forKey: .message)) else {
            throw DecodingError.dataCorruptedError(forKey: .reason, in: c, debugDescription: "unknown outcome \(status) \(reason ?? "")")
        }
        self = outcome
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(reason?.rawValue, forKey: .reason)
        try c.encodeIfPresent(message, forKey: .message)
    }
}
