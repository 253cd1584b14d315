import Formats

/// Errors of the Models module: a code, a message, and the file concerned.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case missingFile = "missing_file"
        case badCheckpoint = "bad_checkpoint"
        case badConfig = "bad_config"
        case missingWeights = "missing_weights"
        case unexpectedWeights = "unexpected_weights"
        case shapeMismatch = "shape_mismatch"
        case badInput = "bad_input"
    }

    public var code: Code
    public var message: String
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { (path.map { "\($0): " } ?? "") + message }
}

extension ModelError {
    /// A checkpoint file's format problem as the model loader reports it.
    init(_ error: FormatError) {
        let code: Code = switch error.code {
        case .missingFile: .missingFile
        case .malformed, .wrongType: .badCheckpoint
        case .missingTensor: .missingWeights
        case .shapeMismatch: .shapeMismatch
        }
        self.init(code, error.message, path: error.path)
    }
}
