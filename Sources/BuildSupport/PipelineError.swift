/// The error type of the build tools (configuration, files, locks, usage); each code maps to one exit status.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    /// The error class.
    public enum Code: String, Sendable {
        case config = "config"
        case manifest = "manifest"
        case io = "io"
        case locked = "locked"
        case archive = "archive"
        case usage = "usage"
    }

    public var code: Code
    public var message: String
    /// The file involved, when there is one.
    public var file: String?
    /// The key path involved (config errors), when there is one.
    public var key: String?

    public init(_ code: Code, _ message: String, file: String? = nil, key: String? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.key = key
    }

    public var description: String {
        var text = ""
        if let file { text += "\(file): " }
        if let key { text += "\(key): " }
        return text + message
    }
}
