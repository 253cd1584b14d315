/// Errors of the Formats module: a code, a message, and the file concerned.
public struct FormatError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The file cannot be opened.
        case missingFile = "missing_file"
        /// Not a well-formed safetensors file (header, dtypes, offsets, sizes).
        case malformed
        /// No tensor of that name.
        case missingTensor = "missing_tensor"
        /// The tensor's shape is not the expected one.
        case shapeMismatch = "shape_mismatch"
        /// The tensor's element type cannot be read as asked (an integer tensor as floats).
        case wrongType = "wrong_type"
    }

    public var code: Code, message: String, path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        (self.code, self.message, self.path) = (code, message, path)
    }

    public var description: String { (path.map { "\($0): " } ?? "") + message }
}
